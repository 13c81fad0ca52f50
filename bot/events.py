"""Incident events: the core's record of what happened, written in the same transaction as the change.

The core (service, pipeline, silences) records events and knows nothing of Slack, PagerDuty or Google. Each
destination is a notifier that turns events into its own outbox items (bot/notify.py dispatches them), so
"when is the card edited?" is answered by the Slack notifier alone, and the loop guard is a filter on `origin`.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from bot import clock, store

# The kinds of event, and what `data` carries for each.
OPENED = "opened"                  # {alert: Alert.to_dict(), runbook: path or None, reason: why it matched}
ALERT_JOINED = "alert_joined"      # {title, source, lineage?: {table, upstream, via, evidence, root, reader, line}}
REPEATED = "repeated"              # {title, source}: the same alert again; only the card's count changes
ALERT_RESOLVED = "alert_resolved"  # {title, source}: one alert cleared, the incident stays open
SEVERITY_RAISED = "severity_raised"  # {from, to, title}
STATUS_CHANGED = "status_changed"  # {from, to, cause, note} from people; {from, to, title, after} from alerts
OWNER_CHANGED = "owner_changed"    # {owner}
NOTE = "note"                      # {text, post}: a person's note (post: False when it is already in the thread)
SILENCED = "silenced"              # {silence_id, matchers, until, reason}
UNSILENCED = "unsilenced"          # {silence_id}
SILENCE_ENDED = "silence_ended"    # {silence_id, matchers, created_by, reason}: it ran out
NEWS = "news"                      # {text}: another system changed something shown on the card (PagerDuty's link,
                                   # assignee, a reassignment); text, when set, is a line for the thread
KINDS = (OPENED, ALERT_JOINED, REPEATED, ALERT_RESOLVED, SEVERITY_RAISED, STATUS_CHANGED, OWNER_CHANGED, NOTE,
         SILENCED, UNSILENCED, SILENCE_ENDED, NEWS)


@dataclass(frozen=True)
class Event:
    kind: str
    incident_id: int | None
    origin: str            # where the change came from: an alert source, "slack", "pagerduty", "cli", "dre-bot"
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    id: int = 0


def record(conn: sqlite3.Connection, kind: str, incident_id: int | None, origin: str, actor: str | None = None,
           at: float | None = None, **data: Any) -> None:
    """Record an event in the caller's transaction; the notifiers act on it once that commits."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    store.add_event(conn, kind, incident_id, origin, actor, json.dumps(data, separators=(",", ":"), default=str),
                    clock.now() if at is None else at)


def undispatched(conn: sqlite3.Connection, limit: int = 500) -> list[Event]:
    rows = store.undispatched_events(conn, limit)
    return [Event(r["kind"], r["incident_id"], r["origin"], r["actor"], json.loads(r["data"]), r["at"], r["id"])
            for r in rows]


