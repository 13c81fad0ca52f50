"""`/dre postmortem INC-n`: a Markdown postmortem draft, made from the incident's record, uploaded to its thread."""
from __future__ import annotations

from bot import service, store
from bot.incident import RESOLVED, name
from bot.reports import postmortem_delivery
from bot.slack import delivery as slack
from bot.slack.commands import Call, Deps, Reply, UsageError, incident_arg, require, verb


def _card_on_its_way(conn, incident_id: int) -> bool:
    return store.incident_item_waiting(conn, incident_id, slack.CARD)


@verb("postmortem", "/dre postmortem INC-n", permission="postmortem")
def postmortem(deps: Deps, call: Call) -> Reply:
    """Draft a postmortem from the incident's record, as a Markdown file in its thread.

    Summary, impact (tables, duration, alerts), every timeline entry in order, diagnostics evidence, resolution and
    cause, and action-item questions. An open incident gets a draft marked as such. Teams replace the template
    with a postmortem.md.j2 of their own in `[templates] dir`."""
    incident_id = incident_arg(call)
    conn = deps.conn()
    inc = store.incident(conn, incident_id)
    if inc is None:
        raise UsageError(service.unknown_incident(incident_id))
    require(deps, call, "postmortem", deps.incident_channel(inc))
    if not inc["slack_ts"] and not _card_on_its_way(conn, incident_id):
        return Reply(f"{name(incident_id)} has no Slack thread to put the draft in: its card was never posted "
                     "(`dre-bot outbox --dead` shows why). `/dre timeline " + name(incident_id) + "` prints its "
                     "timeline meanwhile.", ok=False)
    with store.transaction(conn):
        postmortem_delivery.enqueue_draft(conn, incident_id, inc["channel"], call.user)
    where = deps.thread_link(inc["slack_channel"], inc["slack_ts"], "the thread")
    status = "" if inc["status"] == RESOLVED else \
        f" It is still {inc['status']}, so the draft is marked as a draft of an open incident."
    return Reply(f":memo: Drafting the postmortem for {name(incident_id)}; it will appear in {where}.{status}")
