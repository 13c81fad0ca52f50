"""PagerDuty webhooks v3 applied to incidents, and the loop guard.

How nothing bounces back and forth, and nothing is posted twice:
1. Origin. Every change is made by an Actor with an origin. Changes whose origin is "pagerduty" (these webhooks,
   reconciliation) are never enqueued for PagerDuty (bot/service.py sends only non-PagerDuty changes out).
2. State comparison. A webhook is applied only when it moves the incident somewhere it is not: our own
   acknowledge or resolve, echoed back by PagerDuty, finds the incident already in that state and is recorded
   silently (the PagerDuty fields are refreshed, nothing is posted). A status older than ours never moves an
   incident backwards: a late `acknowledged` cannot undo a `resolved`.
3. Notes. Notes we wrote in PagerDuty are remembered by digest (pd_sent_notes); their `incident.annotated` echo
   is not posted as news.
4. Duplicates. A webhook id (X-Webhook-Id) is applied once, whatever PagerDuty retries; and so is the event's own
   id (`event.id`), which unlike the header is covered by the signature: a captured body replayed with a new
   X-Webhook-Id is recognised.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from bot import service, store
from bot.config import Settings
from bot.incident import ACKNOWLEDGED, OPEN_STATES, REOPENED, RESOLVED, TRIGGERED
from bot.pagerduty.delivery import note_digest
from bot.runbook import Runbook
from bot.service import Actor
from bot.slack import delivery as slack
from bot.slack.mrkdwn import escape

# What each status event asks of our incident, and from which states it may.
STATUS_EVENTS = {
    "incident.acknowledged": (ACKNOWLEDGED, {TRIGGERED, REOPENED}),
    "incident.unacknowledged": (TRIGGERED, {ACKNOWLEDGED}),
    "incident.resolved": (RESOLVED, set(OPEN_STATES)),
    "incident.reopened": (REOPENED, {RESOLVED}),
}
NEWS = {
    "incident.reassigned": ":arrows_counterclockwise: Reassigned in PagerDuty to {assignees} by {agent}",
    "incident.escalated": ":arrow_double_up: Escalated in PagerDuty to {assignees} by {agent}",
    "incident.priority_updated": ":label: Priority set to {priority} in PagerDuty by {agent}",
    "incident.responder.added": ":raising_hand: {agent} asked {responder} to help in PagerDuty: {message}",
    "incident.responder.replied": ":speech_balloon: A responder replied in PagerDuty",
    "incident.delegated": ":arrows_counterclockwise: Delegated in PagerDuty to {assignees} by {agent}",
}


def _agent(event: dict) -> str:
    agent = event.get("agent") or {}
    return str(agent.get("summary") or "PagerDuty")


def _assignees(data: dict) -> str:
    names = [a.get("summary") for a in data.get("assignees") or () if isinstance(a, dict) and a.get("summary")]
    return ", ".join(names)


def _find(conn: sqlite3.Connection, data: dict):
    if data.get("id"):
        inc = conn.execute("SELECT * FROM incidents WHERE pd_incident_id = ? ORDER BY id DESC LIMIT 1",
                           (data["id"],)).fetchone()
        if inc is not None:
            return inc
    key = data.get("incident_key")
    if key:
        return conn.execute("SELECT * FROM incidents WHERE pd_dedup_key = ? ORDER BY id DESC LIMIT 1",
                            (key,)).fetchone()
    return None


def apply(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], doc: dict,
          webhook_id: str | None) -> str:
    """Apply one webhook inside the caller's transaction; a word on what happened, for the log."""
    event = doc["event"]
    # Both ids are recorded in one table; the event id with a prefix so it never collides with a header value.
    seen = [key for key in (webhook_id, f"event:{event['id']}" if event.get("id") else None) if key]
    fresh = [conn.execute("INSERT OR IGNORE INTO pd_webhooks_seen (webhook_id, at) VALUES (?, ?)",
                          (key, time.time())).rowcount for key in seen]
    if seen and not all(fresh):
        return "duplicate webhook"
    etype, about = event["event_type"], event["data"]
    if event.get("resource_type", "incident") != "incident":
        return f"ignored {etype}"
    # Most events carry the incident itself; notes and responders carry it under "incident".
    data = about if about.get("type") in (None, "incident") else (about.get("incident") or {})
    if etype == "incident.annotated":
        inc = _find(conn, data)
        if inc is None:
            return "note on an incident we do not know"
        content = str(about.get("content") or "")
        seen = conn.execute("SELECT 1 FROM pd_sent_notes WHERE incident_id = ? AND digest = ?",
                            (inc["id"], note_digest(content))).fetchone()
        if seen:
            return "echo of our own note"
        service.add_note(conn, inc["id"], content, Actor(f"{_agent(event)} (PagerDuty)", origin="pagerduty"))
        return "note"
    inc = _find(conn, data)
    if inc is None:
        svc = (data.get("service") or {}).get("id")
        if etype == "incident.triggered" and svc in settings.pagerduty.mirror_services:
            return _mirror(conn, settings, runbooks, event)
        return f"ignored {etype}: not one of ours"
    if data is about:
        _link(conn, inc, data)
    if data.get("html_url") and data.get("html_url") != inc["pd_incident_url"]:
        slack.enqueue_card(conn, inc["id"], inc["channel"])   # the card now links the PagerDuty incident
    actor = Actor(f"{_agent(event)} (PagerDuty)", origin="pagerduty")
    if etype in STATUS_EVENTS:
        target, from_states = STATUS_EVENTS[etype]
        if inc["status"] in from_states:
            if etype == "incident.reopened":
                conn.execute("UPDATE incidents SET pd_incident_id = ? WHERE id = ?", (data.get("id"), inc["id"]))
            change = service.change_status(conn, inc["id"], target, actor)
            return f"{target}" if change.ok else change.message
        slack.enqueue_card(conn, inc["id"], inc["channel"])   # fields may have changed; the card shows them
        return f"in step already ({inc['status']})"
    template = NEWS.get(etype)
    if template:
        text = template.format(assignees=escape(_assignees(data) or "nobody"), agent=escape(_agent(event)),
                               priority=escape((data.get("priority") or {}).get("summary") or "none"),
                               responder=escape((about.get("user") or {}).get("summary") or "someone"),
                               message=escape(about.get("message") or ""))
        store.add_timeline(conn, inc["id"], actor.id, "pagerduty", "pagerduty", text)
        slack.enqueue_reply(conn, inc["id"], inc["channel"], text)
        slack.enqueue_card(conn, inc["id"], inc["channel"])
        return etype
    store.add_timeline(conn, inc["id"], actor.id, "pagerduty", "pagerduty", f"PagerDuty: {etype}")
    return f"recorded {etype}"


def _link(conn: sqlite3.Connection, inc, data: dict) -> None:
    conn.execute("UPDATE incidents SET pd_incident_id = COALESCE(?, pd_incident_id), pd_incident_url = "
                 "COALESCE(?, pd_incident_url), pd_status = COALESCE(?, pd_status), pd_assignee = ?, pd_service = "
                 "COALESCE(?, pd_service) WHERE id = ?",
                 (data.get("id"), data.get("html_url"), data.get("status"), _assignees(data) or inc["pd_assignee"],
                  (data.get("service") or {}).get("summary"), inc["id"]))


def _mirror(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], event: dict) -> str:
    """A thread for a PagerDuty incident on a mirrored service that did not start here."""
    data = event["data"]
    severity = "sev1" if data.get("urgency") == "high" else "sev3"
    links = (("PagerDuty incident", data["html_url"]),) if data.get("html_url") else ()
    change = service.open_manual(conn, settings, runbooks, str(data.get("title") or "PagerDuty incident"),
                                 severity, settings.channel, Actor(f"{_agent(event)} (PagerDuty)", "pagerduty"),
                                 summary=f"Triggered in PagerDuty on {(data.get('service') or {}).get('summary')}",
                                 links=links, source="pagerduty")
    conn.execute("UPDATE incidents SET pd_incident_id = ?, pd_incident_url = ?, pd_dedup_key = ?, pd_status = ?, "
                 "pd_assignee = ?, pd_service = ? WHERE id = ?",
                 (data.get("id"), data.get("html_url"), data.get("incident_key"), data.get("status"),
                  _assignees(data), (data.get("service") or {}).get("summary"), change.incident["id"]))
    return f"mirrored as INC-{change.incident['id']}"


def parse_meta(raw: Any) -> dict:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}
