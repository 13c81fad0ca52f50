"""Postmortem drafts through the outbox: rendered from the database when the item is delivered (so the draft holds
everything up to then), uploaded as INC-n-postmortem.md into the incident's thread with files upload v2.

The item waits in the incident's Slack lane, so a draft asked for before the card is posted follows the card.
https://docs.slack.dev/messaging/working-with-files#upload
"""
from __future__ import annotations

import json
import sqlite3
from typing import Callable

from bot import clock, outbox, store, templating
from bot.incident import name
from bot.outbox import Deliverer
from bot.reports import postmortem
from bot.slack.mrkdwn import mention
from bot.slack import delivery as slack
from bot.slack.delivery import SlackHandler, call_slack
from bot.slack.mrkdwn import escape

DRAFT = "postmortem.draft"
TEMPLATE = "postmortem.md.j2"


def enqueue_draft(conn: sqlite3.Connection, incident_id: int, channel: str, user: str) -> None:
    """Ask for a draft in the caller's transaction; `channel` is the incident's (the pacing key)."""
    outbox.enqueue(conn, incident_id, DRAFT, slack.LANE, channel, {"user": user})


def filename(incident_id: int) -> str:
    return f"{name(incident_id)}-postmortem.md"


def render(conn: sqlite3.Connection, incident_id: int, team_dir: str = "") -> str:
    """The draft as it would be delivered now (also for `dre-bot` tooling and tests of the template)."""
    from bot.incident import CAUSES
    inc = store.incident(conn, incident_id)
    if inc is None:
        raise KeyError(name(incident_id))
    ctx = postmortem.context(inc, store.incident_alerts(conn, incident_id), store.timeline(conn, incident_id),
                             CAUSES, clock.now())
    return templating.render(TEMPLATE, ctx, team_dir)


class DraftHandler(SlackHandler):
    def prepare(self, d: Deliverer, row: sqlite3.Row) -> Callable[[], dict] | None:
        inc = self.thread_of(d, row)
        if inc is None:
            return None
        who = json.loads(row["payload"]).get("user")
        try:
            content = render(d.conn, inc["id"], d.settings.templates_dir)
        except templating.TemplateProblem as exc:
            # A team's broken template: say so in the thread, where the draft was expected, and settle the item.
            slack.enqueue_reply(d.conn, inc["id"], inc["channel"],
                                f":warning: No postmortem draft for {name(inc['id'])}: {escape(exc)}. Fix "
                                f"postmortem.md.j2 in `[templates] dir`, then ask again with `/dre postmortem "
                                f"{name(inc['id'])}`.")
            d.done(row["id"], note=str(exc))
            return None
        client, ch, ts = self.client(d), inc["slack_channel"], inc["slack_ts"]
        by = f", asked for by {mention(who)}" if who else ""
        comment = (f":memo: Postmortem draft of *{name(inc['id'])}*{by}. Edit it, answer the action-item "
                   f"questions, then share it.")

        def upload() -> dict:
            data = client.files_upload_v2(channel=ch, thread_ts=ts, content=content, filename=filename(inc["id"]),
                                          title=f"{name(inc['id'])} postmortem draft", initial_comment=comment).data
            return {"file": (data.get("file") or {}).get("id")}
        return call_slack(upload)


def register(registry, settings, runbooks) -> None:
    registry.handler(DRAFT, DraftHandler())
