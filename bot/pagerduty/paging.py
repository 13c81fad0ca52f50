"""Which incidents page, through which integration, and what the PagerDuty event says. Pure: no I/O.

https://developer.pagerduty.com/docs/events-api-v2/trigger-events
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from bot.alert import SEVERITY_NAMES
from bot.config import Settings
from bot.incident import name
from bot.pipeline.matchers import matches

SUMMARY_LIMIT, DEDUP_LIMIT = 1024, 255


def routing_key_env(settings: Settings, labels: Mapping[str, str], severity: str) -> str | None:
    """The environment variable holding the routing key to page with, or None when this incident does not page."""
    seen = {**labels, "severity": severity}
    for route in settings.pagerduty.routes:
        if matches(route.match, seen) and severity in route.severities:
            return route.routing_key_env if route.page else None
    if severity in settings.pagerduty.page_severities and settings.pagerduty_routing_key:
        return "PAGERDUTY_ROUTING_KEY"
    return None


def dedup_key(settings: Settings, incident_id: int) -> str:
    """Stable for the incident's life, so retries and restarts never open a second PagerDuty incident."""
    return f"{settings.pagerduty.dedup_prefix}:{name(incident_id)}"[:DEDUP_LIMIT]


def trigger_event(inc: Mapping[str, Any], thread_url: str | None, runbook_url: str | None) -> dict[str, Any]:
    """The Events API v2 trigger for an incident: summary, source, severity, component, group, class,
    custom_details and links."""
    labels = json.loads(inc["labels"] or "{}")
    details = {k: v for k, v in {
        "incident": name(inc["id"]), "table": labels.get("table"), "pipeline": labels.get("pipeline"),
        "alert_count": inc["alert_count"], "status": inc["status"], "source": inc["source"],
        "runbook": runbook_url, "slack_thread": thread_url, "summary": (inc["summary"] or "")[:2000] or None,
    }.items() if v is not None}
    links = [{"href": l["url"], "text": l["text"]} for l in json.loads(inc["links"] or "[]") if l.get("url")]
    if thread_url:
        links.insert(0, {"href": thread_url, "text": f"Slack thread of {name(inc['id'])}"})
    if runbook_url:
        links.append({"href": runbook_url, "text": "Runbook"})
    summary = f"{name(inc['id'])} [{inc['severity']}] {inc['title']}"
    return {
        "summary": summary[:SUMMARY_LIMIT],
        "source": labels.get("table") or labels.get("pipeline") or labels.get("project") or inc["source"],
        "severity": SEVERITY_NAMES.get(inc["severity"], "warning"),
        "component": labels.get("table") or labels.get("pipeline"),
        "group": labels.get("dataset") or labels.get("project"),
        "class": inc["kind"],
        "custom_details": details,
        "links": links[:10],
    }
