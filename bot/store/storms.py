"""Storms in one channel: when more new incidents wait for a channel's pace than `[delivery] storm_threshold`,
one summary message lists them (bot/slack/storm.py). A storm, its summary message and the incidents it lists."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.store.records import Record


@dataclass(frozen=True)
class Storm(Record):
    id: int
    channel: str                    # the routed channel, as the outbox items' pacing key
    slack_channel: str | None       # where the summary is, once posted
    slack_ts: str | None
    started_at: float
    quiet_since: float | None       # when its last waiting card went out (None while cards wait)
    last_sent_at: float | None      # the summary's last post or edit
    ended_at: float | None


@dataclass(frozen=True)
class StormLine(Record):
    """An incident a storm lists, as its summary line shows it."""
    id: int
    severity: str
    title: str
    labels: str | None
    slack_channel: str | None
    slack_ts: str | None


def open_storm(conn: sqlite3.Connection, channel: str) -> Storm | None:
    """The storm going on in `channel`, if one is."""
    return Storm.maybe(conn.execute("SELECT * FROM storms WHERE channel = ? AND ended_at IS NULL ORDER BY id DESC "
                                    "LIMIT 1", (channel,)).fetchone())


def storm(conn: sqlite3.Connection, storm_id: int) -> Storm | None:
    return Storm.maybe(conn.execute("SELECT * FROM storms WHERE id = ?", (storm_id,)).fetchone())


def open_storms_of_incident(conn: sqlite3.Connection, incident_id: int) -> list[Storm]:
    return Storm.all(conn.execute("SELECT s.* FROM storms s JOIN storm_incidents si ON si.storm_id = s.id WHERE "
                                  "si.incident_id = ? AND s.ended_at IS NULL", (incident_id,)))


def add_storm(conn: sqlite3.Connection, channel: str, now: float) -> int:
    return conn.execute("INSERT INTO storms (channel, started_at) VALUES (?, ?)", (channel, now)).lastrowid


def add_storm_incidents(conn: sqlite3.Connection, storm_id: int, incident_ids: list[int]) -> None:
    """List incidents in the storm (again is harmless); the storm is no longer quiet."""
    conn.executemany("INSERT OR IGNORE INTO storm_incidents (storm_id, incident_id) VALUES (?, ?)",
                     [(storm_id, i) for i in incident_ids])
    conn.execute("UPDATE storms SET quiet_since = NULL WHERE id = ?", (storm_id,))


def storm_lines(conn: sqlite3.Connection, storm_id: int) -> list[StormLine]:
    """The incidents a storm lists, in the order they opened."""
    return StormLine.all(conn.execute(
        "SELECT i.id, i.severity, i.title, i.labels, i.slack_channel, i.slack_ts FROM storm_incidents si "
        "JOIN incidents i ON i.id = si.incident_id WHERE si.storm_id = ? ORDER BY i.id", (storm_id,)))


def waiting_first_posts(conn: sqlite3.Connection, channel: str, kind: str) -> list[int]:
    """Incidents routed to `channel` whose card (outbox kind `kind`) waits to be posted for the first time."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT o.incident_id FROM outbox o JOIN incidents i ON i.id = o.incident_id WHERE o.channel = ? "
        "AND o.kind = ? AND o.status IN ('pending', 'inflight') AND i.slack_ts IS NULL ORDER BY o.incident_id",
        (channel, kind))]


def storm_posted(conn: sqlite3.Connection, storm_id: int, slack_channel: str, ts: str) -> None:
    """Where the summary is; kept from the first post (a second post never replaces it)."""
    conn.execute("UPDATE storms SET slack_channel = ?, slack_ts = ? WHERE id = ? AND slack_ts IS NULL",
                 (slack_channel, ts, storm_id))


def storm_sent(conn: sqlite3.Connection, storm_id: int, at: float) -> None:
    conn.execute("UPDATE storms SET last_sent_at = ? WHERE id = ?", (at, storm_id))


def storm_quiet(conn: sqlite3.Connection, storm_id: int, at: float) -> None:
    """No card of the storm's channel waits any more (from `at`, unless already quiet)."""
    conn.execute("UPDATE storms SET quiet_since = coalesce(quiet_since, ?) WHERE id = ?", (at, storm_id))


def end_storm(conn: sqlite3.Connection, storm_id: int, at: float) -> None:
    conn.execute("UPDATE storms SET ended_at = ? WHERE id = ? AND ended_at IS NULL", (at, storm_id))
