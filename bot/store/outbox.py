"""The outbox: items waiting to be delivered, the deliverer's bookkeeping of each try, and the views people and
handlers take of what is still on its way."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.store.records import Record


@dataclass(frozen=True)
class OutboxItem(Record):
    id: int
    incident_id: int | None
    kind: str
    channel: str | None
    status: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class OutboxRow(Record):
    """A whole outbox row, as the deliverer and the handlers read it."""
    id: int
    incident_id: int | None
    kind: str
    channel: str | None
    payload: str
    status: str
    attempts: int
    next_at: float
    created_at: float
    delivered_at: float | None
    last_error: str | None
    result: str | None
    lane: str
    urgency: int = 0


def add_outbox(conn: sqlite3.Connection, incident_id: int | None, kind: str, lane: str, channel: str,
               payload: str, now: float, urgency: int = 0, due: float | None = None) -> None:
    """A new item, due now (or at `due`); `payload` is the JSON text. Of the items waiting for the same pace, the
    more urgent go first (see due_outbox)."""
    conn.execute("INSERT INTO outbox (incident_id, kind, lane, channel, payload, status, attempts, next_at, "
                 "created_at, urgency) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                 (incident_id, kind, lane, channel, payload, now if due is None else due, now, urgency))


def requeue_inflight(conn: sqlite3.Connection) -> None:
    """Items a crash left in flight go back in line."""
    conn.execute("UPDATE outbox SET status = 'pending' WHERE status = 'inflight'")


def due_outbox(conn: sqlite3.Connection, now: float, skip_lanes: list[str], limit: int = 200) -> list[OutboxRow]:
    """Items due by `now`, outside `skip_lanes`: of an incident's items in a lane only the first still waiting, so
    replies stay behind their card. Each lane and pacing key (a channel, "pagerduty") has its own queue, the most
    urgent first, then the oldest: urgency decides who takes a channel's next turn (a storm summary, then new
    incidents' cards, then the rest). The queues are taken turn by turn (every queue's first item, then every
    queue's second...), so a storm of cards waiting in one channel never hides a page or another channel's reply
    behind the limit."""
    excluded = ",".join("?" * len(skip_lanes)) or "''"
    return OutboxRow.all(conn.execute(
        "SELECT * FROM (SELECT o.*, ROW_NUMBER() OVER (PARTITION BY o.lane, o.channel ORDER BY o.urgency DESC, o.id) "
        "AS turn FROM outbox o WHERE o.status = 'pending' AND o.next_at <= ? AND o.lane NOT IN "
        f"({excluded}) AND (o.incident_id IS NULL "
        "OR o.id = (SELECT min(p.id) FROM outbox p WHERE p.incident_id = o.incident_id AND p.lane = o.lane "
        "AND p.status IN ('pending', 'inflight')))) ORDER BY turn, urgency DESC, id LIMIT ?",
        (now, *skip_lanes, limit)))


def mark_inflight(conn: sqlite3.Connection, outbox_id: int) -> None:
    """A try is about to start: it counts as an attempt."""
    conn.execute("UPDATE outbox SET status = 'inflight', attempts = attempts + 1 WHERE id = ?", (outbox_id,))


def next_due_after(conn: sqlite3.Connection, now: float) -> float | None:
    """When the next item waiting for a later time is due."""
    return conn.execute("SELECT min(next_at) FROM outbox WHERE status = 'pending' AND next_at > ?",
                        (now,)).fetchone()[0]


def rate_limited(conn: sqlite3.Connection, outbox_id: int, next_at: float, reason: str) -> None:
    """Back in line for `next_at`, giving back the attempt: a rate limit is not a failure."""
    conn.execute("UPDATE outbox SET status = 'pending', attempts = attempts - 1, next_at = ?, last_error = ? "
                 "WHERE id = ?", (next_at, reason, outbox_id))


def retry_later(conn: sqlite3.Connection, outbox_id: int, next_at: float, reason: str) -> None:
    conn.execute("UPDATE outbox SET status = 'pending', next_at = ?, last_error = ? WHERE id = ?",
                 (next_at, reason, outbox_id))


def defer_outbox(conn: sqlite3.Connection, outbox_id: int, next_at: float, why: str) -> None:
    """Not yet, and not a failure: due again at `next_at`, its status and attempts unchanged."""
    conn.execute("UPDATE outbox SET next_at = ?, last_error = ? WHERE id = ?", (next_at, why, outbox_id))


def mark_delivered(conn: sqlite3.Connection, outbox_id: int, at: float, note: str | None, result: str) -> None:
    """`result` is the JSON text of what the call returned."""
    conn.execute("UPDATE outbox SET status = 'done', delivered_at = ?, last_error = ?, result = ? WHERE id = ?",
                 (at, note, result, outbox_id))


def mark_dead(conn: sqlite3.Connection, outbox_id: int, reason: str) -> None:
    conn.execute("UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (reason, outbox_id))


def revive_dead(conn: sqlite3.Connection, now: float, outbox_id: int | None = None) -> int:
    """Dead letters (one, or all) back in line with their attempts reset; the number moved."""
    if outbox_id is None:
        cur = conn.execute("UPDATE outbox SET status = 'pending', attempts = 0, next_at = ? WHERE status = 'dead'",
                           (now,))
    else:
        cur = conn.execute("UPDATE outbox SET status = 'pending', attempts = 0, next_at = ? "
                           "WHERE status = 'dead' AND id = ?", (now, outbox_id))
    return cur.rowcount


def outbox_items(conn: sqlite3.Connection, dead_only: bool = False, limit: int = 50) -> list[OutboxItem]:
    """Dead letters, or everything not delivered yet, newest first."""
    where = "status = 'dead'" if dead_only else "status != 'done'"
    return OutboxItem.all(conn.execute(f"SELECT * FROM outbox WHERE {where} ORDER BY id DESC LIMIT ?", (limit,)))


def handoff_waiting(conn: sqlite3.Connection, kind: str, handoff_id: int) -> bool:
    """True while an item of `kind` for this handoff is still to be delivered."""
    return conn.execute("SELECT 1 FROM outbox WHERE kind = ? AND status IN ('pending', 'inflight') AND "
                        "json_extract(payload, '$.handoff') = ?", (kind, handoff_id)).fetchone() is not None


def incident_item_waiting(conn: sqlite3.Connection, incident_id: int, kind: str) -> bool:
    """True while an item of `kind` for the incident is still to be delivered (pending or in flight)."""
    return conn.execute("SELECT 1 FROM outbox WHERE incident_id = ? AND kind = ? AND status IN ('pending', "
                        "'inflight')", (incident_id, kind)).fetchone() is not None


def untried_last_in_lane(conn: sqlite3.Connection, incident_id: int, kind: str, lane: str) -> bool:
    """True when the incident's newest item in `lane` is of `kind`, pending and not tried yet: a refresh that
    will render the latest state anyway, so another is not needed."""
    return conn.execute("SELECT 1 FROM outbox WHERE incident_id = ? AND kind = ? AND status = 'pending' "
                        "AND attempts = 0 AND id = (SELECT max(id) FROM outbox WHERE incident_id = ? AND lane = ?)",
                        (incident_id, kind, incident_id, lane)).fetchone() is not None


def earlier_waiting_in_channel(conn: sqlite3.Connection, outbox_id: int, channel: str, kind: str) -> bool:
    """True while an item of `kind` enqueued before `outbox_id` for `channel` is still to be delivered."""
    return conn.execute("SELECT 1 FROM outbox WHERE id < ? AND channel = ? AND kind = ? AND "
                        "status IN ('pending', 'inflight')", (outbox_id, channel, kind)).fetchone() is not None


def hurry_incident(conn: sqlite3.Connection, incident_id: int, lane: str, urgency: int) -> int:
    """Raise the urgency of the incident's items waiting in `lane` (its card, then its thread: their order within
    the incident stays); the number of items."""
    return conn.execute("UPDATE outbox SET urgency = max(urgency, ?) WHERE incident_id = ? AND lane = ? AND "
                        "status = 'pending'", (urgency, incident_id, lane)).rowcount


def waiting_item(conn: sqlite3.Connection, channel: str, kind: str, key: str, value: int) -> OutboxRow | None:
    """The item of `kind` for `channel` whose payload's `key` is `value`, waiting and not in flight (it will
    render the latest state when it goes, so another is not needed)."""
    return OutboxRow.maybe(conn.execute(
        "SELECT * FROM outbox WHERE channel = ? AND kind = ? AND status IN ('pending', 'inflight') AND "
        "status = 'pending' AND json_extract(payload, '$.' || ?) = ? ORDER BY id LIMIT 1",   # the partial index
        (channel, kind, key, value)).fetchone())


def waiting_digest(conn: sqlite3.Connection, incident_id: int, lane: str, kind: str, card_kind: str) -> OutboxRow | None:
    """The incident's newest item of `kind` whose payload is a digest (`$.joins`), not tried yet, with nothing but
    card refreshes enqueued after it in `lane`: lines added to it still read in the order things happened."""
    return OutboxRow.maybe(conn.execute(
        "SELECT o.* FROM outbox o WHERE o.incident_id = ? AND o.lane = ? AND o.kind = ? AND o.status = 'pending' "
        "AND o.attempts = 0 AND json_extract(o.payload, '$.joins') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM outbox p "
        "WHERE p.incident_id = o.incident_id AND p.lane = o.lane AND p.id > o.id AND p.kind != ? "
        "AND p.status IN ('pending', 'inflight')) ORDER BY o.id DESC LIMIT 1",
        (incident_id, lane, kind, card_kind)).fetchone())


def set_payload(conn: sqlite3.Connection, outbox_id: int, payload: str) -> None:
    """Replace a waiting item's payload (the JSON text)."""
    conn.execute("UPDATE outbox SET payload = ? WHERE id = ? AND status = 'pending'", (payload, outbox_id))


def bring_forward(conn: sqlite3.Connection, outbox_id: int, due: float) -> None:
    """Make a waiting item due no later than `due`."""
    conn.execute("UPDATE outbox SET next_at = min(next_at, ?) WHERE id = ?", (due, outbox_id))


def outbox_row(conn: sqlite3.Connection, outbox_id: int) -> OutboxRow | None:
    return OutboxRow.maybe(conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone())


def dead_letters_after(conn: sqlite3.Connection, after_id: int, not_kind: str, not_containing: str) -> tuple[int, int]:
    """How many dead letters came after `after_id`, and the newest id; items of kind `not_kind` whose payload
    holds `not_containing` are left out."""
    row = conn.execute("SELECT count(*), max(id) FROM outbox WHERE status = 'dead' AND id > ? AND NOT "
                       "(kind = ? AND instr(payload, ?) > 0)", (after_id, not_kind, not_containing)).fetchone()
    return row[0], row[1] or 0


def on_its_way(conn: sqlite3.Connection, incident_id: int, lane: str) -> bool:
    """Whether a change to the incident is still on its way out in `lane`: an item waiting or in flight, or an
    event not yet turned into items."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM outbox WHERE incident_id = ? AND lane = ? AND status IN "
                        "('pending', 'inflight')) OR EXISTS (SELECT 1 FROM events WHERE incident_id = ? AND "
                        "dispatched_at IS NULL)", (incident_id, lane, incident_id)).fetchone()[0] == 1
