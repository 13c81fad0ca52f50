"""Silences: matching firing alerts are recorded but open no thread. One service for `/dre silence`, the card's
Silence modal and `dre-bot silence add`, so all of them do the same thing (a Cloud Monitoring snooze included:
the monitoring notifier acts on the `silenced` event)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from bot import clock, events, store
from bot.durations import parse_duration
from bot.pipeline.matchers import matches, parse_matcher
from bot.service import Actor

MAX_SECONDS = 30 * 86400


class BadSilence(ValueError):
    """What was typed is not a silence; the message says what to type instead."""


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: dict[str, str]
    ends_at: float
    reason: str
    incident_id: int | None      # the incident it was set on, when it covers that incident's alerts
    gcp_policy: str | None       # that incident's Cloud Monitoring policy, which is snoozed for as long


def parse(tokens: list[str]) -> tuple[dict[str, str], float, str]:
    """Matchers, then a duration, then an optional reason."""
    matchers: dict[str, str] = {}
    rest = list(tokens)
    while rest and "=" in rest[0]:
        try:
            key, value = parse_matcher(rest.pop(0))
        except ValueError as exc:
            raise BadSilence(str(exc)) from None
        matchers[key] = value
    if not matchers:
        raise BadSilence("Say what to silence with label=glob matchers, like "
                         "`table=analytics.orders* 2h backfill running`.")
    if not rest:
        raise BadSilence("For how long? Add a duration like 90m, 2h or 1d after the matchers.")
    try:
        seconds = parse_duration(rest.pop(0))
    except ValueError as exc:
        raise BadSilence(str(exc)) from None
    if not 0 < seconds <= MAX_SECONDS:
        raise BadSilence("A silence lasts between 1 second and 30 days.")
    return matchers, seconds, " ".join(rest)


def incident_labels(inc: sqlite3.Row) -> dict[str, str]:
    """The labels a silence set on an incident is matched against: its alerts' labels and its facts."""
    return {**json.loads(inc["labels"] or "{}"), "source": inc["source"] or "", "kind": inc["kind"] or "",
            "severity": inc["severity"], "title": inc["title"]}


def scope(inc: sqlite3.Row) -> str:
    """Matchers for alerts like this incident's: its table, else its source and policy."""
    labels = json.loads(inc["labels"] or "{}")
    if labels.get("table"):
        return f"table={labels['table']}"
    found = {"source": inc["source"]}
    if labels.get("policy"):
        found["policy"] = labels["policy"]
    return " ".join(f"{k}={v.replace(' ', '?')}" for k, v in found.items())


def add(conn: sqlite3.Connection, matchers: dict[str, str], seconds: float, reason: str, actor: Actor,
        incident_id: int | None = None) -> Silence:
    """Record a silence (in the caller's transaction) and its event."""
    sid = store.add_silence(conn, matchers, seconds, reason, actor.id)
    inc = store.incident(conn, incident_id) if incident_id else None
    covers = inc is not None and matches(matchers, incident_labels(inc))
    if covers:
        store.set_silence_incident(conn, sid, inc["id"])
    ends_at = clock.now() + seconds
    events.record(conn, events.SILENCED, inc["id"] if covers else None, actor.origin, actor.id, silence_id=sid,
                  matchers=matchers, until=ends_at, reason=reason)
    return Silence(sid, matchers, ends_at, reason, inc["id"] if covers else None,
                   inc["gcp_policy"] if covers else None)


def end(conn: sqlite3.Connection, silence_id: int, actor: Actor) -> Silence | None:
    """End an active silence now; None when there is no such active silence."""
    if not store.end_silence(conn, silence_id, clock.now()):
        return None
    row = store.silence_with_policy(conn, silence_id)
    events.record(conn, events.UNSILENCED, row["incident_id"], actor.origin, actor.id, silence_id=silence_id)
    return Silence(silence_id, json.loads(row["matchers"]), row["ends_at"], row["reason"] or "", row["incident_id"],
                   row["gcp_policy"])


def end_due(conn: sqlite3.Connection, now: float | None = None) -> int:
    """Silences that ran out and were not told yet: an event for each, so the channel hears of it."""
    now = clock.now() if now is None else now
    ended = store.ended_untold(conn, now)
    for s in ended:
        events.record(conn, events.SILENCE_ENDED, None, "dre-bot", "dre-bot", silence_id=s["id"],
                      matchers=json.loads(s["matchers"]), created_by=s["created_by"], reason=s["reason"] or "")
        store.mark_ended_told(conn, s["id"])
    return len(ended)
