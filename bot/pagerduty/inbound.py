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

import sqlite3
import time

from bot import service, store
from bot.config import Settings
from bot.incident import ACKNOWLEDGED, OPEN_STATES, REOPENED, RESOLVED, TRIGGERED
from bot.pagerduty.delivery import note_digest
from bot.runbook import Runbook
from bot.service import Actor

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
        inc = store.incident_by_pd_incident(conn, data["id"])
        if inc is not None:
            return inc
    key = data.get("incident_key")
    if key:
        return store.incident_by_pd_dedup_key(conn, key)
    return None


def apply(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], doc: dict,
          webhook_id: str | None) -> str:
    """Apply one webhook inside the caller's transaction; a word on what happened, for the log."""
    event = doc["event"]
    # Both ids are recorded in one table; the event id with a prefix so it never collides with a header value.
    seen = [key for key in (webhook_id, f"event:{event['id']}" if event.get("id") else None) if key]
    fresh = [store.first_sight_of_webhook(conn, key, time.time()) for key in seen]
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
        if store.note_sent(conn, inc["id"], note_digest(content)):
            return "echo of our own note"
        service.add_note(conn, inc["id"], content, Actor(f"{_agent(event)} (PagerDuty)", origin="pagerduty"))
        return "note"
    inc = _find(conn, data)
    if inc is None:
        svc = (data.get("service") or {}).get("id")
        if etype == "incident.triggered" and svc in settings.pagerduty.mirror_services:
            return _mirror(conn, settings, runbooks, event)
        return f"ignored {etype}: not one of ours"
    actor = Actor(f"{_agent(event)} (PagerDuty)", origin="pagerduty")
    if data is about:
        _link(conn, inc, data)
    if data.get("html_url") and data.get("html_url") != inc["pd_incident_url"]:
        service.record_news(conn, inc["id"], actor, "")   # the card now links the PagerDuty incident
    if etype in STATUS_EVENTS:
        target, from_states = STATUS_EVENTS[etype]
        if inc["status"] in from_states:
            if etype == "incident.reopened":
                store.set_pd_incident_id(conn, inc["id"], data.get("id"))
            change = service.change_status(conn, inc["id"], target, actor)
            return f"{target}" if change.ok else change.message
        service.record_news(conn, inc["id"], actor, "")   # fields may have changed; the card shows them
        return f"in step already ({inc['status']})"
    template = NEWS.get(etype)
    if template:
        text = template.format(assignees=_assignees(data) or "nobody", agent=_agent(event),
                               priority=(data.get("priority") or {}).get("summary") or "none",
                               responder=(about.get("user") or {}).get("summary") or "someone",
                               message=about.get("message") or "")
        service.record_news(conn, inc["id"], actor, text)   # values as PagerDuty sent them: Slack escapes them
        return etype
    store.add_timeline(conn, inc["id"], actor.id, "pagerduty", "pagerduty", f"PagerDuty: {etype}")
    return f"recorded {etype}"


def _link(conn: sqlite3.Connection, inc, data: dict) -> None:
    store.update_pagerduty(conn, inc["id"], pd_incident_id=data.get("id"), url=data.get("html_url"),
                           status=data.get("status"), assignee=_assignees(data) or inc["pd_assignee"],
                           service=(data.get("service") or {}).get("summary"))


def _mirror(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], event: dict) -> str:
    """A thread for a PagerDuty incident on a mirrored service that did not start here."""
    data = event["data"]
    severity = "sev1" if data.get("urgency") == "high" else "sev3"
    links = (("PagerDuty incident", data["html_url"]),) if data.get("html_url") else ()
    change = service.open_manual(conn, settings, runbooks, str(data.get("title") or "PagerDuty incident"),
                                 severity, settings.channel, Actor(f"{_agent(event)} (PagerDuty)", "pagerduty"),
                                 summary=f"Triggered in PagerDuty on {(data.get('service') or {}).get('summary')}",
                                 links=links, source="pagerduty")
    store.set_pagerduty(conn, change.incident["id"], pd_incident_id=data.get("id"), url=data.get("html_url"),
                        dedup_key=data.get("incident_key"), status=data.get("status"), assignee=_assignees(data),
                        service=(data.get("service") or {}).get("summary"))
    return f"mirrored as INC-{change.incident['id']}"
