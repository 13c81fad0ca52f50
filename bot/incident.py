"""Incident states, their legal transitions, and the decisions about them. Pure: no I/O."""
from __future__ import annotations

from typing import Iterable

from bot.alert import SEVERITIES, Alert

TRIGGERED, ACKNOWLEDGED, RESOLVED, REOPENED = "triggered", "acknowledged", "resolved", "reopened"
STATES = (TRIGGERED, ACKNOWLEDGED, RESOLVED, REOPENED)
OPEN_STATES = (TRIGGERED, ACKNOWLEDGED, REOPENED)

# Why an incident was resolved, asked for by the Resolve modal and `/dre resolve ... cause=`; the stats count them.
CAUSES = {"upstream_delay": "Upstream delay", "code_change": "Code change", "schema_change": "Schema change",
          "data_quality": "Data quality", "infrastructure": "Infrastructure", "false_positive": "False positive",
          "other": "Other"}

TRANSITIONS = {
    TRIGGERED: {ACKNOWLEDGED, RESOLVED},
    ACKNOWLEDGED: {RESOLVED, TRIGGERED},   # back to triggered only when PagerDuty unacknowledges (ack timeout)
    REOPENED: {ACKNOWLEDGED, RESOLVED},
    RESOLVED: {REOPENED},
}


def name(incident_id: int) -> str:
    """The name people use in Slack: INC-42."""
    return f"INC-{incident_id}"


def parse_name(text: str) -> int | None:
    """42 from INC-42, inc-42 or 42; None when it is not an incident name."""
    cleaned = text.strip().upper().removeprefix("INC-")
    # ASCII digits only ("²".isdigit() is true but int() refuses it), and few enough for an SQLite integer.
    return int(cleaned) if cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 18 else None


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, set())


def group_key(alert: Alert, keys: Iterable[str]) -> str:
    """The first configured label the alert has, else its source and policy: alerts sharing it join one incident."""
    for key in keys:
        value = alert.labels.get(key)
        if value:
            return f"{key}={value}"
    return f"source={alert.source};policy={alert.labels.get('policy') or alert.title}"


def should_resolve(policy: str, statuses: Iterable[str], this_alert_resolved: bool) -> bool:
    """Does the incident resolve now? all_alerts_resolved (default), any_alert_resolved, or manual."""
    if policy == "manual":
        return False
    if policy == "any_alert_resolved":
        return this_alert_resolved
    statuses = list(statuses)
    return bool(statuses) and all(s == "resolved" for s in statuses)


def worse(a: str, b: str) -> str:
    """The more severe of two severities."""
    return a if SEVERITIES.index(a) <= SEVERITIES.index(b) else b
