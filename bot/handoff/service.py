"""Handoffs in the database: create one (with its outbox items, in the caller's transaction), acknowledge it,
keep the notes written for it, and find the ones due a reminder or an escalation."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot import clock, outbox, store, templating
from bot.config import Settings
from bot.schedule import once
from bot.handoff import content

POST, DM, UPDATE, PROMPT, REMIND, ESCALATE = ("handoff.post", "handoff.dm", "handoff.update", "handoff.prompt",
                                              "handoff.remind", "handoff.escalate")


@dataclass(frozen=True)
class Side:
    """One person of a handoff: their Slack id when known, and a name to show."""
    slack_id: str | None = None
    name: str | None = None

    @property
    def shown(self) -> str:
        if self.slack_id:
            return content.mention(self.slack_id)
        return content.escape(self.name) if self.name else "the next on-call"


def channel_of(settings: Settings) -> str:
    return settings.handoff.channel or settings.channel


def create(conn: sqlite3.Connection, settings: Settings, key: str, start: float, end: float, outgoing: Side,
           incoming: Side, note: str = "", created_by: str = "dre-bot", workspace: str = "") -> int | None:
    """A handoff for the shift [start, end), posted to the channel and sent to the incoming on-call; None when
    the handoff with this key exists already (a scheduled shift change is handed over exactly once)."""
    if store.handoff_exists(conn, key):
        return None
    now = clock.now()
    notes = store.unattached_notes(conn, start)
    written = [content.escape(note)] if note else []
    written += [f"{content.mention(n.user)}: {content.escape(n.text)}" for n in notes]
    context = content.gather(conn, start, end, workspace)
    context.update(outgoing=outgoing.shown, incoming=incoming.shown, note="\n".join(written))
    text = templating.render_or_built_in("handoff.md.j2", context, settings.templates_dir, escape=content.escape)
    channel = channel_of(settings)
    handoff_id = store.add_handoff(
        conn, key=key, channel=channel, shift_start=start, shift_end=end, outgoing=outgoing.slack_id,
        outgoing_name=outgoing.name, incoming=incoming.slack_id, incoming_name=incoming.name,
        note="\n".join(written) or None, created_by=created_by, created_at=now, text=text, notes=notes)
    outbox.enqueue(conn, None, POST, "slack", channel, {"handoff": handoff_id})
    if incoming.slack_id:
        outbox.enqueue(conn, None, DM, "slack", incoming.slack_id, {"handoff": handoff_id})
    return handoff_id


def get(conn: sqlite3.Connection, handoff_id: int) -> store.Handoff | None:
    return store.handoff(conn, handoff_id)


def last(conn: sqlite3.Connection) -> store.Handoff | None:
    return store.last_handoff(conn)


def manual_near(conn: sqlite3.Connection, since: float, until: float) -> store.Handoff | None:
    """The newest handoff posted by hand (`/dre handoff`) between `since` and `until`."""
    return store.manual_handoff_near(conn, since, until)


def acknowledge(conn: sqlite3.Connection, handoff_id: int, user: str) -> str:
    """Mark the handoff taken over by `user`; the sentence to tell them. Only the incoming on-call may, when
    the bot knows who that is."""
    row = get(conn, handoff_id)
    if row is None:
        return "That handoff is not known to this dre-bot (its database may have been reset)."
    if row.acked_at:
        return f"This handoff was already acknowledged by {content.mention(row.acked_by)}."
    if row.incoming and row.incoming != user:
        return (f"This handoff is for {content.mention(row.incoming)}; only they can acknowledge it. "
                "If you are taking over instead, post your own with `/dre handoff`.")
    store.acknowledge_handoff(conn, handoff_id, user, clock.now())
    outbox.enqueue(conn, None, UPDATE, "slack", row.channel, {"handoff": handoff_id})
    return ""


def save_note(conn: sqlite3.Connection, user: str, text: str) -> None:
    """A note for the next handoff (from the "Write handoff note" modal)."""
    store.add_handoff_note(conn, user, text, clock.now())


def chase(conn: sqlite3.Connection, settings: Settings, now: float) -> int:
    """Remind once, then escalate, the newest handoff if nobody acknowledged it (an older one that a newer
    handoff replaced is left alone); the number of messages enqueued."""
    cfg = settings.handoff
    row = store.newest_handoff(conn)
    if row is None or row.acked_at:
        return 0
    if row.reminded_at is None and row.created_at <= now - cfg.remind_after:
        store.mark_reminded(conn, row.id, now)
        outbox.enqueue(conn, None, REMIND, "slack", row.incoming or row.channel, {"handoff": row.id})
        return 1
    # The escalation keeps its distance from the reminder, even when both fell due while the bot was down.
    if row.reminded_at is not None and row.escalated_at is None and \
            row.created_at <= now - cfg.escalate_after and \
            row.reminded_at <= now - (cfg.escalate_after - cfg.remind_after):
        store.mark_escalated(conn, row.id, now)
        outbox.enqueue(conn, None, ESCALATE, "slack", row.channel, {"handoff": row.id})
        return 1
    return 0


def prompt(conn: sqlite3.Connection, settings: Settings, key: str, at: float, outgoing: Side, now: float) -> bool:
    """The "Write handoff note" button, shortly before the shift ends: to the outgoing on-call, else the channel."""
    if not once(conn, f"prompt:{key}", now):
        return False
    outbox.enqueue(conn, None, PROMPT, "slack", outgoing.slack_id or channel_of(settings),
                   {"at": at, "to": outgoing.slack_id or channel_of(settings)})
    return True
