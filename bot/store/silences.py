"""Silences and the alerts they held."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from bot import clock
from bot.alert import Alert
from bot.store.db import dumps
from bot.store.records import Record


@dataclass(frozen=True)
class Silence(Record):
    """A silence; `matchers` is the JSON of the labels it matches, `snooze` the Cloud Monitoring snooze made for
    it (projects/P/snoozes/ID)."""
    id: int
    matchers: str
    starts_at: float
    ends_at: float
    reason: str | None
    created_by: str | None
    created_at: float
    ended_notified: int
    incident_id: int | None
    snooze: str | None

    @property
    def labels(self) -> dict[str, str]:
        return json.loads(self.matchers)


@dataclass(frozen=True)
class PolicySilence(Silence):
    """A silence with the Cloud Monitoring policy of the incident it was set on (None when there is none)."""
    gcp_policy: str | None


def active_silences(conn: sqlite3.Connection, now: float) -> list[Silence]:
    return Silence.all(conn.execute("SELECT * FROM silences WHERE starts_at <= ? AND ends_at > ? ORDER BY id",
                                    (now, now)))


def add_silence(conn: sqlite3.Connection, matchers: dict[str, str], seconds: float, reason: str,
                created_by: str) -> int:
    now = clock.now()
    cur = conn.execute("INSERT INTO silences (matchers, starts_at, ends_at, reason, created_by, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (dumps(matchers), now, now + seconds, reason, created_by, now))
    return int(cur.lastrowid)


def end_silence(conn: sqlite3.Connection, silence_id: int, now: float) -> bool:
    """End an active silence now; False when there is no such active silence."""
    cur = conn.execute("UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?", (now, silence_id, now))
    return cur.rowcount == 1


def record_suppressed(conn: sqlite3.Connection, silence_id: int, inbox_id: int | None, alert: Alert) -> None:
    conn.execute("INSERT INTO suppressed (silence_id, inbox_id, at, fingerprint, alert) VALUES (?, ?, ?, ?, ?)",
                 (silence_id, inbox_id, clock.now(), alert.fingerprint,
                  dumps({k: v for k, v in alert.to_dict().items() if k != "raw"})))


@dataclass(frozen=True)
class HeldSilence(Silence):
    """A silence with the number of alerts it has held."""
    held: int


def silences_active_at(conn: sqlite3.Connection, at: float) -> list[HeldSilence]:
    """Silences active at `at`, the soonest to end first."""
    return HeldSilence.all(conn.execute(
        "SELECT s.*, (SELECT count(*) FROM suppressed x WHERE x.silence_id = s.id) AS held "
        "FROM silences s WHERE starts_at <= ? AND ends_at > ? ORDER BY ends_at", (at, at)))


def suppressed_alerts(conn: sqlite3.Connection, start: float, end: float) -> list[dict]:
    """The alerts silences held in [start, end), as recorded (the alert's dict without its raw payload)."""
    return [json.loads(r["alert"]) for r in conn.execute("SELECT alert FROM suppressed WHERE at >= ? AND at < ?",
                                                         (start, end))]


def silence(conn: sqlite3.Connection, silence_id: int) -> Silence | None:
    return Silence.maybe(conn.execute("SELECT * FROM silences WHERE id = ?", (silence_id,)).fetchone())


def set_snooze(conn: sqlite3.Connection, silence_id: int, snooze: str) -> None:
    """The Cloud Monitoring snooze (projects/P/snoozes/ID) made for the silence."""
    conn.execute("UPDATE silences SET snooze = ? WHERE id = ?", (snooze, silence_id))


def set_silence_incident(conn: sqlite3.Connection, silence_id: int, incident_id: int) -> None:
    conn.execute("UPDATE silences SET incident_id = ? WHERE id = ?", (incident_id, silence_id))


def silence_with_policy(conn: sqlite3.Connection, silence_id: int) -> PolicySilence | None:
    """A silence, with the Cloud Monitoring policy of the incident it was set on."""
    return PolicySilence.maybe(conn.execute("SELECT s.*, i.gcp_policy FROM silences s LEFT JOIN incidents i ON "
                                            "i.id = s.incident_id WHERE s.id = ?", (silence_id,)).fetchone())


def ended_untold(conn: sqlite3.Connection, now: float) -> list[Silence]:
    """Silences that have ended and not been said to have."""
    return Silence.all(conn.execute("SELECT * FROM silences WHERE ends_at <= ? AND ended_notified = 0", (now,)))


def mark_ended_told(conn: sqlite3.Connection, silence_id: int) -> None:
    conn.execute("UPDATE silences SET ended_notified = 1 WHERE id = ?", (silence_id,))
