"""The Slack notifier: what an incident's card and thread show, from the core's events. This is the one place
that answers "when is the card edited?" and "what does the thread say?".

The card is edited (coalesced: one waiting refresh renders the latest state) on every event about an incident; a
repeat of the same alert only edits the card. Thread lines are written here, with every outside value escaped.
The owners are mentioned (so Slack notifies them) when the incident opens, when its severity is raised and when it
is reassigned; never on a card edit.
"""
from __future__ import annotations

import json
import re
import sqlite3

from bot import events, store
from bot.alert import SEVERITIES, Alert
from bot.config import Settings
from bot.durations import format_duration
from bot.events import Event
from bot.incident import ACKNOWLEDGED, REOPENED, RESOLVED
from bot.pipeline.matchers import describe
from bot.runbook import Runbook, closest
from bot.slack import delivery, storm
from bot.slack.mrkdwn import escape, mention
from bot.slack.owners import enqueue_mention, owners_for, shown
from bot.slack.snippets import generic_snippet, render_snippet

_ICONS = {ACKNOWLEDGED: ":eyes:", RESOLVED: ":white_check_mark:", REOPENED: ":repeat:"}


def keep_user_mentions(escaped: str) -> str:
    """A person's own text, escaped, with the user mentions they typed (<@U123|name>) working again."""
    return re.sub(r"&lt;@([UW][A-Z0-9]+)(?:\|[^&]*)?&gt;", r"<@\1>", escaped)


URGENT = SEVERITIES[0]   # whose owners are paged ahead of a storm's other cards (docs/STORMS.md)


class SlackNotifier:
    def __init__(self, settings: Settings, runbooks: list[Runbook]):
        self.settings = settings
        self.runbooks = {rb.path: rb for rb in runbooks}
        self.ordered = list(runbooks)

    def __call__(self, conn: sqlite3.Connection, event: Event) -> None:
        if event.incident_id is None:
            self._channel_event(conn, event)
            return
        inc = store.incident(conn, event.incident_id)
        if inc is None:
            return
        line = self.thread_line(event)
        if event.kind == events.OPENED:
            owners = self.owners(inc)
            store.update_incident(conn, inc["id"], {"paged": shown(owners)})   # the card shows who is paged
            delivery.enqueue_card(conn, inc["id"], inc["channel"], first=True)
            storm.note_new_card(conn, self.settings, inc["id"], inc["channel"])
            enqueue_mention(conn, inc["id"], inc["channel"], owners, "opened", self.snippet(event),
                            urgent=inc["severity"] == URGENT)
            return
        if event.kind == events.SEVERITY_RAISED:
            enqueue_mention(conn, inc["id"], inc["channel"], self.owners(inc), "escalated",
                            urgent=event.data.get("to") == URGENT)
        if event.kind == events.OWNER_CHANGED and not mention(event.data["owner"]).startswith("<@"):
            # A user id is mentioned by the "Assigned to" line itself; a group or an email is resolved first.
            enqueue_mention(conn, inc["id"], inc["channel"], [event.data["owner"]], "reassigned")
        if line and event.kind == events.ALERT_JOINED:
            delivery.enqueue_join(conn, inc["id"], inc["channel"], line)
        elif line:
            delivery.enqueue_reply(conn, inc["id"], inc["channel"], line)
        delivery.enqueue_card(conn, inc["id"], inc["channel"])

    def snippet(self, event: Event) -> str:
        alert = Alert.from_dict(event.data["alert"])
        runbook = self.runbooks.get(event.data.get("runbook") or "")
        base = self.settings.runbook_base_url
        if runbook:
            return render_snippet(runbook, alert, base, event.data.get("reason") or "")
        return generic_snippet(alert, closest(self.ordered, alert), base)

    def owners(self, inc) -> list[str]:
        """Who to page for the incident: its runbook's owners and the matching [[owners]], else the default."""
        return owners_for(self.settings, self.runbooks.get(inc["runbook"] or ""), json.loads(inc["labels"] or "{}"))

    @staticmethod
    def thread_line(event: Event) -> str | None:
        """The line an event adds to the incident's thread; None when it only changes the card."""
        d, who = event.data, mention(event.actor or event.origin)
        if event.kind == events.ALERT_JOINED:
            line = (f":heavy_plus_sign: Another alert joined this incident: *{escape(d['title'])}* "
                    f"({escape(d['source'])})")
            if d.get("lineage"):   # grouped by lineage: say by which path, so a wrong join is easy to spot
                line += f"\n:link: joined: {escape(d['lineage']['line'])}"
            return line
        if event.kind == events.STATUS_CHANGED:
            target = d["to"]
            if "title" in d:   # the alerts moved it
                if target == REOPENED:
                    return (f":repeat: *Reopened*: {escape(d['title'])} fired again "
                            f"{format_duration(d.get('after') or 0)} after it resolved.")
                return (f":white_check_mark: *Resolved* by {escape(event.origin)}: all alerts cleared "
                        f"after {format_duration(d.get('after') or 0)}.")
            details = "".join([f" ({d['cause']})" if d.get("cause") else "", f": {d['note']}" if d.get("note") else ""])
            return f"{_ICONS.get(target, '')} *{target.capitalize()}* by {who}{escape(details)}"
        if event.kind == events.OWNER_CHANGED:
            return f":bust_in_silhouette: Assigned to {mention(d['owner'])} by {who}"
        if event.kind == events.NOTE:
            if not d.get("post", True):
                return None
            # A person's own mentions keep working; text from elsewhere (a PagerDuty note) is escaped like alert
            # text, so it cannot ping anyone.
            text = keep_user_mentions(escape(d["text"])) if event.origin == "slack" else escape(d["text"])
            return f":memo: Note from {who}: {text}"
        if event.kind == events.NEWS:
            return escape(d["text"]) if d.get("text") else None
        return None   # repeated, alert resolved, severity raised, silenced: the card shows it

    def _channel_event(self, conn: sqlite3.Connection, event: Event) -> None:
        if event.kind == events.SILENCE_ENDED:
            d = event.data
            by = f" (set by {mention(d['created_by'])}" + (f": {escape(d['reason'])}" if d.get("reason") else "") + ")"
            delivery.enqueue_message(conn, self.settings.channel,
                                     f":bell: Silence {d['silence_id']} on `{escape(describe(d['matchers']))}` "
                                     f"has ended{by}. Matching alerts open threads again.")
