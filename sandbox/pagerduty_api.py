"""A local PagerDuty emulator (Starlette, state in memory) that the real `pagerduty` clients can talk to.

One app serves both of PagerDuty's APIs:

* Events API v2: `POST /v2/enqueue` (trigger / acknowledge / resolve, by `routing_key` and `dedup_key`);
* REST API v2 at the root: incidents, notes, log entries, users, services, escalation policies, schedules,
  priorities and on-calls, with PagerDuty's entity wrappers, classic pagination and error objects;

and it sends v3 webhooks (signed `X-PagerDuty-Signature: v1=...`) to subscribers whenever an incident changes,
whether through the REST API, the Events API or `act()` (a person working the incident in PagerDuty's UI).

The `pagerduty` clients refuse a base URL that is not https:// (their `url` setter raises UrlError), so they keep
their real base URLs and are carried to the emulator by an httpx2 transport: see `rest_client()`,
`events_client()` and `client_transport()`. Links in answers (`self`, `html_url`) use PagerDuty's real hosts, so
the clients' own URL checks (e.g. `rget(incident_dict)`) work unchanged.

>>> pd = PagerDutyEmulator()
>>> pd.add_user("PUSER01", "Ada Lovelace", "ada@example.com")
>>> pd.add_escalation_policy("PEP0001", "Data on-call", levels=[["PUSER01"]])
>>> pd.add_service("PSVC001", "Warehouse", "PEP0001", routing_key="R" * 32)
>>> base = ThreadedServer(pd.app()).start()
>>> rest = rest_client(base, "pd-token", default_from="ada@example.com")
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import hmac
import json
import logging
import queue
import re
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

API_BASE = "https://api.pagerduty.com"
EVENTS_BASE = "https://events.pagerduty.com"
WEB_BASE = "https://dre-sandbox.pagerduty.com"

SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024  # Events API v2: payload.summary
MAX_DEDUP_KEY = 255  # Events API v2: dedup_key
MAX_EVENT_BYTES = 512 * 1024  # Events API v2: "payloads are limited to 512 KB"
MAX_LIMIT = 100  # REST classic pagination
DEFAULT_LIMIT = 25
RATE_LIMIT = 960  # REST API: requests per minute per key (the value of ratelimit-limit)

INCIDENT_EVENT_TYPES = (
    "incident.triggered", "incident.acknowledged", "incident.unacknowledged", "incident.resolved",
    "incident.reopened", "incident.reassigned", "incident.escalated", "incident.delegated",
    "incident.priority_updated", "incident.annotated", "incident.responder.added",
)
ACT_ACTIONS = ("acknowledge", "unacknowledge", "resolve", "reopen", "reassign", "escalate", "delegate",
               "priority", "annotate", "add_responder")
DEFAULT_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")

# PagerDuty's error objects ({"error": {"message", "code", "errors"}}), as its REST API sends them.
ERR_AUTH = ("Authentication failed", 2006)
ERR_INVALID = ("Invalid Input Provided", 2001)
ERR_NOT_FOUND = ("Not Found", 2100)
ERR_RATE = ("Rate Limit Exceeded", 2020)
ERR_FROM_MISSING = ('You must specify a user\'s email address in the "From" header to perform this action', 2016)
ERR_FROM_MALFORMED = ('Malformed "From" header', 1028)
ERR_REQUESTER = ("Requester User Not Found", 1008)
ERR_ALREADY_RESOLVED = ("Incident Already Resolved", 1001)
ERR_ASSIGNEE = ("Assigned To User Not Found", 1007)
ERR_ESCALATE = ("Cannot Escalate", 1006)
ERR_EP_NOT_FOUND = ("Escalation Policy Not Found", 1014)
ERR_PRIORITY = ("Invalid Priority", 1020)
ERR_TIME = ("Invalid time values in 'since' and/or 'until' parameters", 2004)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class PagerDutyError(Exception):
    """A REST API error answer: HTTP status plus PagerDuty's error object."""

    def __init__(self, status: int, message: str, code: int, errors: list[str] | None = None):
        super().__init__(f"{status} {message} ({code}): {errors or []}")
        self.status, self.message, self.code, self.errors = status, message, code, errors

    @classmethod
    def of(cls, status: int, err: tuple[str, int], *errors: str) -> "PagerDutyError":
        return cls(status, err[0], err[1], list(errors) or None)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            error["errors"] = self.errors
        return {"error": error}


class _InvalidEvent(Exception):
    def __init__(self, *errors: str, status: str = "invalid event", message: str = "Event object is invalid"):
        super().__init__("; ".join(errors))
        self.body = {"status": status, "message": message, "errors": list(errors)}


# --------------------------------------------------------------------------- time helpers


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_time(value: Any) -> datetime:
    """ISO 8601 (with Z, +00:00 or +0000 offsets, or a bare date) or a datetime -> aware UTC datetime."""
    if isinstance(value, datetime):
        return _utc(value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty time")
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text.replace("Z", "+00:00").replace("z", "+00:00"))
    return _utc(datetime.fromisoformat(text))


def iso(value: datetime | None, ms: bool = False) -> str | None:
    """PagerDuty's UTC form: 2020-04-09T15:16:27Z (or .169Z with ms=True)."""
    if value is None:
        return None
    value = _utc(value)
    if ms:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id(prefix: str = "P", length: int = 7) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length - len(prefix)))


def sign(secret: str, body: bytes) -> str:
    """One v1 signature: "v1=" + hex(HMAC-SHA256(secret as UTF-8 bytes, raw body))."""
    return "v1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- clients


def client_transport(base_url: str):
    """An httpx2 transport that carries every request of a `pagerduty` client to the emulator at `base_url`
    (the clients accept only https:// base URLs; see bot.pagerduty.client.transport_to)."""
    from bot.pagerduty.client import transport_to
    return transport_to(base_url)


def rest_client(base_url: str, api_key: str, default_from: str | None = None, **kw: Any):
    """A real `pagerduty.RestApiV2Client` talking to the emulator at `base_url`."""
    import pagerduty

    kw.setdefault("trust_env", False)
    return pagerduty.RestApiV2Client(api_key, default_from=default_from, transport=client_transport(base_url), **kw)


def events_client(base_url: str, routing_key: str, **kw: Any):
    """A real `pagerduty.EventsApiV2Client` talking to the emulator at `base_url`."""
    import pagerduty

    kw.setdefault("trust_env", False)
    return pagerduty.EventsApiV2Client(routing_key, transport=client_transport(base_url), **kw)


# --------------------------------------------------------------------------- the emulator


class PagerDutyEmulator:
    """PagerDuty's Events API v2, REST API v2 and v3 webhooks, in memory and thread-safe.

    `tokens`: the REST API keys accepted (None: any non-empty `Token token=...` or `Bearer ...`).
    `webhook_retry_delays`: the waits between the (up to 5) attempts of one webhook delivery."""

    def __init__(self, tokens: Iterable[str] | None = None, *, api_base: str = API_BASE, web_base: str = WEB_BASE,
                 webhook_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4), webhook_timeout: float = 5.0):
        self.tokens = set(tokens) if tokens is not None else None
        self.api_base = api_base.rstrip("/")
        self.web_base = web_base.rstrip("/")
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self._lock = threading.RLock()
        self._now: datetime | None = None
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._closed = False
        self._clear()

    def _clear(self) -> None:
        self._users: dict[str, dict[str, Any]] = {}
        self._services: dict[str, dict[str, Any]] = {}
        self._policies: dict[str, dict[str, Any]] = {}
        self._schedules: dict[str, dict[str, Any]] = {}
        self._priorities: dict[str, dict[str, Any]] = {}
        self._incidents: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self._number = 0
        self._events: list[dict[str, Any]] = []
        self._requests: list[dict[str, Any]] = []
        self._faults: list[dict[str, Any]] = []
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self._deliveries: list[dict[str, Any]] = []
        self._drop_next = 0
        for order, name in enumerate(DEFAULT_PRIORITIES, start=1):
            pid = f"PPRI{order:03d}"
            self._priorities[pid] = {"id": pid, "name": name, "order": order}

    def reset(self) -> None:
        """Forget everything (seeds, incidents, records, subscriptions); waits for deliveries under way first."""
        self.flush_webhooks(timeout=10)
        with self._lock:
            self._now = None
            self._clear()

    def close(self) -> None:
        """Stop the webhook worker (idempotent)."""
        with self._lock:
            self._closed = True
            worker = self._worker
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout=5)
        if self._http is not None:
            self._http.close()
            self._http = None

    # ------------------------------------------------------------------ clock

    @property
    def now(self) -> datetime:
        """The emulator's clock: the wall clock (UTC) unless set; `emulator.now = "2025-01-06T09:00:00Z"` fixes it,
        `emulator.now = None` gives it back to the wall clock."""
        return self._now if self._now is not None else datetime.now(timezone.utc)

    @now.setter
    def now(self, value: datetime | str | None) -> None:
        self._now = None if value is None else parse_time(value)

    def advance(self, **delta: float) -> datetime:
        """Move a fixed clock forward (e.g. `advance(hours=8)`); fixes it at the wall clock first if needed."""
        self._now = self.now + timedelta(**delta)
        return self._now

    # ------------------------------------------------------------------ seeding

    def add_user(self, id: str, name: str, email: str, time_zone: str = "UTC") -> dict[str, Any]:
        with self._lock:
            self._users[id] = {"id": id, "name": name, "email": email, "time_zone": time_zone}
            return self._user_object(id)

    def add_escalation_policy(self, id: str, name: str, levels: list[list[str]] | None = None,
                              num_loops: int = 0) -> dict[str, Any]:
        """`levels`: one list per escalation rule, of user IDs and/or schedule IDs (targets)."""
        with self._lock:
            self._policies[id] = {"id": id, "name": name, "levels": [list(level) for level in (levels or [])],
                                  "num_loops": num_loops}
            return self._policy_object(id)

    def add_service(self, id: str, name: str, escalation_policy_id: str, routing_key: str) -> dict[str, Any]:
        with self._lock:
            if escalation_policy_id not in self._policies:
                raise KeyError(f"unknown escalation policy {escalation_policy_id}")
            self._services[id] = {"id": id, "name": name, "escalation_policy_id": escalation_policy_id,
                                  "routing_key": routing_key}
            return self._service_object(id)

    def add_schedule(self, id: str, name: str, shifts: list[tuple[str, Any, Any]] | None = None,
                     escalation_policy_id: str | None = None, escalation_level: int = 1,
                     time_zone: str = "UTC") -> dict[str, Any]:
        """`shifts`: (user_id, start, end) with ISO strings or datetimes. With `escalation_policy_id`, the schedule
        becomes a target of that policy's rule `escalation_level` (1-based; the rule is added if missing)."""
        with self._lock:
            parsed = sorted(((u, parse_time(s), parse_time(e)) for u, s, e in (shifts or [])), key=lambda t: t[1])
            for user_id, start, end in parsed:
                if user_id not in self._users:
                    raise KeyError(f"unknown user {user_id}")
                if end <= start:
                    raise ValueError(f"shift of {user_id} ends before it starts")
            self._schedules[id] = {"id": id, "name": name, "shifts": parsed, "time_zone": time_zone}
            if escalation_policy_id is not None:
                levels = self._policies[escalation_policy_id]["levels"]
                while len(levels) < escalation_level:
                    levels.append([])
                if id not in levels[escalation_level - 1]:
                    levels[escalation_level - 1].append(id)
            return self._schedule_object(id)

    def add_priority(self, name: str, id: str | None = None) -> str:
        with self._lock:
            pid = id or _new_id()
            self._priorities[pid] = {"id": pid, "name": name, "order": len(self._priorities) + 1}
            return pid

    def priority_id(self, name: str) -> str:
        with self._lock:
            for p in self._priorities.values():
                if p["name"] == name:
                    return p["id"]
        raise KeyError(name)

    # ------------------------------------------------------------------ references and objects

    def _ref(self, kind: str, id: str, summary: str | None, web_path: str | None = None) -> dict[str, Any]:
        plural = {"user": "users", "service": "services", "escalation_policy": "escalation_policies",
                  "schedule": "schedules", "incident": "incidents", "priority": "priorities"}[kind]
        ref = {"id": id, "type": f"{kind}_reference", "summary": summary, "self": f"{self.api_base}/{plural}/{id}",
               "html_url": f"{self.web_base}/{web_path or plural}/{id}"}
        if kind == "priority":
            ref["html_url"] = f"{self.web_base}/account/incident_priorities"
        return ref

    def _user_ref(self, uid: str) -> dict[str, Any]:
        return self._ref("user", uid, self._users[uid]["name"] if uid in self._users else None)

    def _service_ref(self, sid: str) -> dict[str, Any]:
        return self._ref("service", sid, self._services[sid]["name"])

    def _policy_ref(self, pid: str) -> dict[str, Any]:
        return self._ref("escalation_policy", pid, self._policies[pid]["name"])

    def _schedule_ref(self, sid: str) -> dict[str, Any]:
        return self._ref("schedule", sid, self._schedules[sid]["name"])

    def _priority_ref(self, pid: str | None) -> dict[str, Any] | None:
        return None if pid is None else self._ref("priority", pid, self._priorities[pid]["name"])

    def _incident_ref(self, inc: dict[str, Any]) -> dict[str, Any]:
        return self._ref("incident", inc["id"], inc["title"])

    def _user_object(self, uid: str) -> dict[str, Any]:
        u = self._users[uid]
        return {**self._user_ref(uid), "type": "user", "name": u["name"], "email": u["email"],
                "time_zone": u["time_zone"], "color": "green", "role": "user", "avatar_url": None,
                "description": None, "invitation_sent": False, "job_title": None, "teams": [],
                "contact_methods": [], "notification_rules": []}

    def _service_object(self, sid: str) -> dict[str, Any]:
        s = self._services[sid]
        return {**self._service_ref(sid), "type": "service", "name": s["name"], "description": None,
                "status": "active", "escalation_policy": self._policy_ref(s["escalation_policy_id"]),
                "teams": [], "alert_creation": "create_alerts_and_incidents", "acknowledgement_timeout": None,
                "auto_resolve_timeout": None, "incident_urgency_rule": {"type": "constant", "urgency": "high"}}

    def _policy_object(self, pid: str) -> dict[str, Any]:
        p = self._policies[pid]
        rules = []
        for n, level in enumerate(p["levels"], start=1):
            targets = [self._schedule_ref(t) if t in self._schedules else self._user_ref(t) for t in level]
            rules.append({"id": f"{pid}R{n}", "escalation_delay_in_minutes": 30, "targets": targets})
        services = [self._service_ref(s) for s, v in self._services.items() if v["escalation_policy_id"] == pid]
        return {**self._policy_ref(pid), "type": "escalation_policy", "name": p["name"], "description": None,
                "escalation_rules": rules, "services": services, "num_loops": p["num_loops"], "teams": [],
                "on_call_handoff_notifications": "if_has_services"}

    def _schedule_object(self, sid: str) -> dict[str, Any]:
        s = self._schedules[sid]
        users = list(dict.fromkeys(u for u, _, _ in s["shifts"]))
        policies = [p for p, v in self._policies.items() if any(sid in level for level in v["levels"])]
        return {**self._schedule_ref(sid), "type": "schedule", "name": s["name"], "description": None,
                "time_zone": s["time_zone"], "users": [self._user_ref(u) for u in users],
                "escalation_policies": [self._policy_ref(p) for p in policies], "teams": []}

    def _priority_object(self, pid: str) -> dict[str, Any]:
        p = self._priorities[pid]
        return {"id": pid, "type": "priority", "summary": p["name"], "name": p["name"], "description": "",
                "order": p["order"], "color": "a8171c", "self": f"{self.api_base}/priorities/{pid}"}

    def _incident_object(self, inc: dict[str, Any]) -> dict[str, Any]:
        """The REST API's incident (GET /incidents, /incidents/{id})."""
        alerts = inc["alerts"]
        resolved_alerts = sum(1 for a in alerts if a["status"] == "resolved")
        return {
            **self._incident_ref(inc), "type": "incident", "summary": f"[#{inc['number']}] {inc['title']}",
            "incident_number": inc["number"], "title": inc["title"], "description": inc["title"],
            "created_at": iso(inc["created_at"]), "updated_at": iso(inc["updated_at"]), "status": inc["status"],
            "incident_key": inc["incident_key"], "service": self._service_ref(inc["service_id"]),
            "assignments": [{"at": iso(at), "assignee": self._user_ref(u)} for u, at in inc["assignments"]],
            "assigned_via": inc["assigned_via"],
            "acknowledgements": [{"at": iso(at), "acknowledger": self._user_ref(u)} for u, at in inc["acks"]],
            "last_status_change_at": iso(inc["last_status_change_at"]),
            "last_status_change_by": inc["last_status_change_by"],
            "first_trigger_log_entry": {"id": inc["log"][0]["id"], "type": "trigger_log_entry_reference",
                                        "summary": inc["log"][0]["summary"],
                                        "self": f"{self.api_base}/log_entries/{inc['log'][0]['id']}"},
            "alert_counts": {"all": len(alerts), "triggered": len(alerts) - resolved_alerts,
                             "resolved": resolved_alerts},
            "pending_actions": [], "is_mergeable": True, "incident_type": {"name": "incident_default"},
            "escalation_policy": self._policy_ref(inc["policy_id"]), "escalation_level": inc["level"],
            "teams": [], "priority": self._priority_ref(inc["priority_id"]), "urgency": inc["urgency"],
            "resolve_reason": None, "conference_bridge": None,
            "body": {"type": "incident_body", "details": inc["details"]},
        }

    def _incident_v3(self, inc: dict[str, Any]) -> dict[str, Any]:
        """The v3 webhook's `event.data` for incident.* events (as in PagerDuty's webhooks overview)."""
        return {
            "id": inc["id"], "type": "incident", "self": f"{self.api_base}/incidents/{inc['id']}",
            "html_url": f"{self.web_base}/incidents/{inc['id']}", "number": inc["number"], "status": inc["status"],
            "incident_key": inc["incident_key"], "created_at": iso(inc["created_at"]), "title": inc["title"],
            "service": self._service_ref(inc["service_id"]),
            "assignees": [self._user_ref(u) for u, _ in inc["assignments"]],
            "escalation_policy": self._policy_ref(inc["policy_id"]), "teams": [],
            "priority": self._priority_ref(inc["priority_id"]), "urgency": inc["urgency"],
            "conference_bridge": None, "resolve_reason": None,
        }

    # ------------------------------------------------------------------ on-call

    def _shift_users(self, sid: str, since: datetime, until: datetime) -> list[tuple[str, datetime, datetime]]:
        out = []
        for user_id, start, end in self._schedules[sid]["shifts"]:
            if since == until and start <= since < end:
                out.append((user_id, start, end))
            elif since != until and start < until and end > since:
                out.append((user_id, start, end))
        return out

    def _level_users(self, policy_id: str, level: int, at: datetime | None = None) -> list[str]:
        """Who is on call for rule `level` (1-based) of a policy at `at` (now)."""
        at = at or self.now
        levels = self._policies[policy_id]["levels"]
        if not 1 <= level <= len(levels):
            return []
        users: list[str] = []
        for target in levels[level - 1]:
            if target in self._schedules:
                users += [u for u, _, _ in self._shift_users(target, at, at)]
            else:
                users.append(target)
        return list(dict.fromkeys(users))

    def oncalls(self, since: Any = None, until: Any = None, schedule_ids: list[str] | None = None,
                escalation_policy_ids: list[str] | None = None, user_ids: list[str] | None = None,
                earliest: bool = False) -> list[dict[str, Any]]:
        """GET /oncalls as data: who is on call for which policy rule, through which schedule, from when to when."""
        with self._lock:
            since_t = parse_time(since) if since is not None else self.now
            until_t = parse_time(until) if until is not None else since_t
            entries = []
            for pid in sorted(self._policies):
                if escalation_policy_ids and pid not in escalation_policy_ids:
                    continue
                for n, level in enumerate(self._policies[pid]["levels"], start=1):
                    for target in level:
                        if target in self._schedules:
                            if schedule_ids and target not in schedule_ids:
                                continue
                            for user_id, start, end in self._shift_users(target, since_t, until_t):
                                entries.append((pid, n, user_id, target, start, end))
                        elif target in self._users:
                            if schedule_ids and "null" not in schedule_ids and "" not in schedule_ids:
                                continue
                            entries.append((pid, n, target, None, None, None))
            if user_ids:
                entries = [e for e in entries if e[2] in user_ids]
            entries.sort(key=lambda e: (e[0], e[1], e[4] or datetime.min.replace(tzinfo=timezone.utc), e[2]))
            if earliest:
                seen: set[tuple[str, int, str]] = set()
                kept = []
                for e in entries:
                    if (e[0], e[1], e[2]) not in seen:
                        seen.add((e[0], e[1], e[2]))
                        kept.append(e)
                entries = kept
            return [{"escalation_policy": self._policy_ref(pid), "escalation_level": n, "user": self._user_ref(u),
                     "schedule": self._schedule_ref(s) if s else None, "start": iso(start), "end": iso(end)}
                    for pid, n, u, s, start, end in entries]

    # ------------------------------------------------------------------ incident life

    def _log(self, inc: dict[str, Any], kind: str, summary: str, agent: dict[str, Any] | None,
             channel: str = "api", **extra: Any) -> None:
        entry_id = _new_id("R", 26)
        inc["log"].append({"id": entry_id, "type": f"{kind}_log_entry", "summary": summary,
                           "created_at": self.now, "agent": agent, "channel": {"type": channel}, **extra})

    def _create_incident(self, service_id: str, title: str, incident_key: str | None, details: Any,
                         agent: dict[str, Any] | None, client: dict[str, Any] | None, *,
                         urgency: str = "high", priority_id: str | None = None, policy_id: str | None = None,
                         assignees: list[str] | None = None, channel: str = "api") -> dict[str, Any]:
        now = self.now
        self._number += 1
        policy_id = policy_id or self._services[service_id]["escalation_policy_id"]
        users = assignees if assignees is not None else self._level_users(policy_id, 1, now)
        inc = {
            "id": _new_id("Q", 14), "number": self._number, "title": title, "status": "triggered",
            "incident_key": incident_key or uuid.uuid4().hex, "service_id": service_id, "policy_id": policy_id,
            "level": 1, "assignments": [(u, now) for u in users],
            "assigned_via": "direct_assignment" if assignees is not None else "escalation_policy",
            "acks": [], "priority_id": priority_id, "urgency": urgency, "details": details, "created_at": now,
            "updated_at": now, "last_status_change_at": now, "last_status_change_by": agent, "alerts": [],
            "log": [], "notes": [], "responders": [],
        }
        self._incidents[inc["id"]] = inc
        self._order.append(inc["id"])
        self._log(inc, "trigger", "Triggered through the API" if channel == "api" else "Triggered", agent, channel)
        self._emit(inc, "incident.triggered", agent, client)
        return inc

    def _set_status(self, inc: dict[str, Any], status: str, agent: dict[str, Any] | None,
                    client: dict[str, Any] | None, user_id: str | None = None, channel: str = "api",
                    resolution: str | None = None) -> None:
        now = self.now
        if status == "acknowledged":
            if inc["status"] == "resolved":
                raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
            if user_id is not None and all(u != user_id for u, _ in inc["acks"]):
                inc["acks"].append((user_id, now))
                if all(u != user_id for u, _ in inc["assignments"]):
                    inc["assignments"] = [(user_id, now)]  # acknowledging takes the incident
            elif inc["status"] == "acknowledged":
                return
            inc["status"] = "acknowledged"
            self._log(inc, "acknowledge", "Acknowledged", agent, channel)
            event = "incident.acknowledged"
        elif status == "resolved":
            if inc["status"] == "resolved":
                raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
            inc["status"] = "resolved"
            inc["assignments"] = []
            for alert in inc["alerts"]:
                alert["status"] = "resolved"
            self._log(inc, "resolve", "Resolved", agent, channel, resolution=resolution)
            event = "incident.resolved"
        elif status == "triggered":  # unacknowledge (ack timeout or UI) and reopen
            reopen = inc["status"] == "resolved"
            inc["status"] = "triggered"
            inc["acks"] = []
            if reopen:
                inc["level"] = 1
                inc["assignments"] = [(u, now) for u in self._level_users(inc["policy_id"], 1, now)]
                inc["assigned_via"] = "escalation_policy"
            self._log(inc, "reopen" if reopen else "unacknowledge", "Reopened" if reopen else "Unacknowledged",
                      agent, channel)
            event = "incident.reopened" if reopen else "incident.unacknowledged"
        else:
            raise ValueError(status)
        inc["last_status_change_at"] = inc["updated_at"] = now
        inc["last_status_change_by"] = agent
        self._emit(inc, event, agent, client)

    def _reassign(self, inc: dict[str, Any], user_ids: list[str], agent, client, channel: str = "api") -> None:
        if inc["status"] == "resolved":
            raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
        missing = [u for u in user_ids if u not in self._users]
        if missing:
            raise PagerDutyError.of(400, ERR_ASSIGNEE, *[f"User {u} not found" for u in missing])
        now = self.now
        inc["assignments"] = [(u, now) for u in dict.fromkeys(user_ids)]
        inc["assigned_via"] = "direct_assignment"
        inc["updated_at"] = now
        self._log(inc, "assign", "Reassigned", agent, channel)
        self._emit(inc, "incident.reassigned", agent, client)

    def _escalate(self, inc: dict[str, Any], level: int | None, agent, client, channel: str = "api") -> None:
        if inc["status"] == "resolved":
            raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
        levels = self._policies[inc["policy_id"]]["levels"]
        level = inc["level"] + 1 if level is None else level
        if not isinstance(level, int) or not 1 <= level <= len(levels):
            raise PagerDutyError.of(400, ERR_ESCALATE, f"Escalation level {level} does not exist on the policy")
        now = self.now
        inc["level"] = level
        inc["assignments"] = [(u, now) for u in self._level_users(inc["policy_id"], level, now)]
        inc["assigned_via"] = "escalation_policy"
        inc["updated_at"] = now
        self._log(inc, "escalate", f"Escalated to level {level}", agent, channel)
        self._emit(inc, "incident.escalated", agent, client)

    def _delegate(self, inc: dict[str, Any], policy_id: str, agent, client, channel: str = "api") -> None:
        if inc["status"] == "resolved":
            raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
        if policy_id not in self._policies:
            raise PagerDutyError.of(400, ERR_EP_NOT_FOUND)
        now = self.now
        inc["policy_id"], inc["level"] = policy_id, 1
        inc["assignments"] = [(u, now) for u in self._level_users(policy_id, 1, now)]
        inc["assigned_via"] = "escalation_policy"
        inc["updated_at"] = now
        self._log(inc, "assign", f"Reassigned to {self._policies[policy_id]['name']}", agent, channel)
        self._emit(inc, "incident.delegated", agent, client)

    def _set_priority(self, inc: dict[str, Any], priority_id: str | None, agent, client,
                      channel: str = "api") -> None:
        if priority_id is not None and priority_id not in self._priorities:
            raise PagerDutyError.of(400, ERR_PRIORITY)
        if inc["priority_id"] == priority_id:
            return
        inc["priority_id"] = priority_id
        inc["updated_at"] = self.now
        self._log(inc, "priority_change", "Priority changed", agent, channel)
        self._emit(inc, "incident.priority_updated", agent, client)

    def _annotate(self, inc: dict[str, Any], content: str, user_id: str, agent, client,
                  channel: str = "api") -> dict[str, Any]:
        note = {"id": _new_id(), "user": self._user_ref(user_id), "content": content, "created_at": iso(self.now),
                "channel": {"summary": "The PagerDuty website or APIs" if channel == "api" else "Website"}}
        inc["notes"].append(note)
        inc["updated_at"] = self.now
        self._log(inc, "annotate", content, agent, channel)
        data = {"incident": self._incident_ref(inc), "id": note["id"], "content": content, "trimmed": False,
                "type": "incident_note"}
        self._emit(inc, "incident.annotated", agent, client, data=data)
        return note

    def _add_responder(self, inc: dict[str, Any], user_id: str, message: str, agent, client) -> None:
        if user_id not in self._users:
            raise PagerDutyError.of(400, ERR_ASSIGNEE)
        inc["responders"].append({"user_id": user_id, "message": message, "state": "pending"})
        data = {"incident": self._incident_ref(inc), "user": self._user_ref(user_id), "escalation_policy": None,
                "message": message, "state": "pending", "type": "incident_responder"}
        self._emit(inc, "incident.responder.added", agent, client, data=data)

    def act(self, incident_id: str, action: str, user_id: str | None, **kw: Any) -> dict[str, Any]:
        """A person working the incident in PagerDuty's web UI (agent: that user, client: PagerDuty).

        acknowledge, unacknowledge (back to triggered), resolve, reopen (resolved -> triggered; PagerDuty's REST
        API cannot do this: its status enum is acknowledged/resolved), reassign(user_ids=[...]),
        escalate(level=None: next), delegate(escalation_policy_id=...), priority(name="P1" or None),
        annotate(content=...), add_responder(responder_id=..., message=...).
        Returns the REST representation of the incident afterwards; raises ValueError on a move PagerDuty refuses."""
        if action not in ACT_ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {ACT_ACTIONS}")
        with self._lock:
            inc = self._find_incident(incident_id)
            if inc is None:
                raise KeyError(incident_id)
            if user_id is not None and user_id not in self._users:
                raise KeyError(f"unknown user {user_id}")
            agent = self._user_ref(user_id) if user_id else None
            client = {"name": "PagerDuty"}
            try:
                if action == "acknowledge":
                    self._set_status(inc, "acknowledged", agent, client, user_id, "website")
                elif action == "unacknowledge":
                    if inc["status"] != "acknowledged":
                        raise ValueError(f"incident is {inc['status']}, not acknowledged")
                    self._set_status(inc, "triggered", agent, client, channel="website")
                elif action == "resolve":
                    self._set_status(inc, "resolved", agent, client, channel="website")
                elif action == "reopen":
                    if inc["status"] != "resolved":
                        raise ValueError(f"incident is {inc['status']}, not resolved")
                    self._set_status(inc, "triggered", agent, client, channel="website")
                elif action == "reassign":
                    ids = kw.get("user_ids") or ([kw["to"]] if "to" in kw else None)
                    if not ids:
                        raise ValueError("reassign needs user_ids=[...]")
                    self._reassign(inc, list(ids), agent, client, "website")
                elif action == "escalate":
                    self._escalate(inc, kw.get("level"), agent, client, "website")
                elif action == "delegate":
                    self._delegate(inc, kw["escalation_policy_id"], agent, client, "website")
                elif action == "priority":
                    name = kw.get("name", kw.get("priority"))
                    self._set_priority(inc, None if name is None else self.priority_id(name), agent, client,
                                       "website")
                elif action == "annotate":
                    if not user_id:
                        raise ValueError("annotate needs a user")
                    self._annotate(inc, str(kw["content"]), user_id, agent, client, "website")
                elif action == "add_responder":
                    self._add_responder(inc, kw.get("responder_id") or kw["user_id"], kw.get("message", ""),
                                        agent, client)
            except PagerDutyError as exc:
                raise ValueError(str(exc)) from exc
            return self._incident_object(inc)

    def _find_incident(self, ident: str) -> dict[str, Any] | None:
        inc = self._incidents.get(ident)
        if inc is None and str(ident).isdigit():
            inc = next((i for i in self._incidents.values() if i["number"] == int(ident)), None)
        return inc

    def _open_incident(self, service_id: str, key: str) -> dict[str, Any] | None:
        for iid in reversed(self._order):
            inc = self._incidents[iid]
            if inc["service_id"] == service_id and inc["incident_key"] == key and inc["status"] != "resolved":
                return inc
        return None

    # ------------------------------------------------------------------ webhooks out

    def subscribe(self, url: str, secret: str | None = None, events: Iterable[str] | None = None,
                  service_id: str | None = None) -> dict[str, Any]:
        """A v3 webhook subscription (http_delivery_method). Returns {"id", "secret", ...}; the secret is
        generated as PagerDuty does when not given. `service_id`: a service_reference filter."""
        with self._lock:
            sub_id = _new_id()
            sub = {"id": sub_id, "url": url, "secrets": [secret or secrets.token_urlsafe(48)],
                   "events": set(events) if events else set(INCIDENT_EVENT_TYPES), "service_id": service_id,
                   "active": True}
            self._subscriptions[sub_id] = sub
            self._start_worker()
            return {"id": sub_id, "url": url, "secret": sub["secrets"][0], "events": sorted(sub["events"])}

    def unsubscribe(self, subscription_id: str) -> None:
        with self._lock:
            self._subscriptions.pop(subscription_id, None)

    def rotate_secret(self, new_secret: str, subscription_id: str | None = None, keep_old: bool = True) -> None:
        """Start a secret rotation: the next deliveries carry "v1=<new>,v1=<old>" until `finish_rotation()`."""
        with self._lock:
            for sub in self._subs(subscription_id):
                sub["secrets"] = [new_secret] + (sub["secrets"] if keep_old else [])

    def finish_rotation(self, subscription_id: str | None = None) -> None:
        with self._lock:
            for sub in self._subs(subscription_id):
                sub["secrets"] = sub["secrets"][:1]

    def _subs(self, subscription_id: str | None) -> list[dict[str, Any]]:
        if subscription_id is None:
            return list(self._subscriptions.values())
        return [self._subscriptions[subscription_id]]

    def drop_next_webhooks(self, n: int = 1) -> None:
        """Lose the next `n` webhook deliveries (recorded with state "dropped", never sent)."""
        with self._lock:
            self._drop_next += n

    def _emit(self, inc: dict[str, Any], event_type: str, agent: dict[str, Any] | None,
              client: dict[str, Any] | None, data: dict[str, Any] | None = None) -> None:
        """Queue the v3 webhook of one incident change for every matching subscription (caller holds the lock)."""
        if not self._subscriptions:
            return
        event = {"event": {"id": str(uuid.uuid4()), "event_type": event_type, "resource_type": "incident",
                           "occurred_at": iso(self.now, ms=True), "agent": agent, "client": client,
                           "data": data if data is not None else self._incident_v3(inc)}}
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        for sub in self._subscriptions.values():
            if not sub["active"] or event_type not in sub["events"]:
                continue
            if sub["service_id"] and sub["service_id"] != inc["service_id"]:
                continue
            headers = {"Content-Type": "application/json", "User-Agent": "PagerDuty-Webhook/V3.0",
                       "X-Webhook-Id": str(uuid.uuid4()), "X-Webhook-Subscription": sub["id"],
                       "X-PagerDuty-Signature": ",".join(sign(s, body) for s in sub["secrets"])}
            delivery = {"id": headers["X-Webhook-Id"], "subscription_id": sub["id"], "url": sub["url"],
                        "event_type": event_type, "incident_id": inc["id"], "event_id": event["event"]["id"],
                        "headers": headers, "body": body, "attempts": [], "status_code": None, "state": "queued"}
            self._deliveries.append(delivery)
            if self._drop_next > 0:
                self._drop_next -= 1
                delivery["state"] = "dropped"
                continue
            self._pending += 1
            self._queue.put(delivery)

    def _start_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._closed = False
            self._worker = threading.Thread(target=self._deliver_loop, name="pagerduty-webhooks", daemon=True)
            self._worker.start()

    def _deliver_loop(self) -> None:
        self._http = httpx.Client(timeout=self.webhook_timeout, follow_redirects=False, trust_env=False)
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self._deliver(delivery)
            except Exception:  # noqa: BLE001 - the worker must outlive any one delivery
                log.exception("webhook delivery %s failed", delivery["id"])
                delivery["state"] = "failed"
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, delivery: dict[str, Any]) -> None:
        """Up to 5 attempts: retried on no answer, 5xx and 429; dropped at once on any other 4xx (PagerDuty's
        documented behaviour). Later webhooks wait behind a retrying one, so order is kept."""
        attempts = 1 + len(self.webhook_retry_delays)
        for attempt in range(attempts):
            if self._closed:
                delivery["state"] = "failed"
                return
            try:
                answer = self._http.post(delivery["url"], content=delivery["body"], headers=delivery["headers"])
                status: int | str = answer.status_code
            except httpx.HTTPError as exc:
                status = f"{type(exc).__name__}"
            delivery["attempts"].append(status)
            if isinstance(status, int):
                delivery["status_code"] = status
                if 200 <= status < 300:
                    delivery["state"] = "delivered"
                    return
                if 400 <= status < 500 and status != 429:
                    delivery["state"] = "failed"
                    return
            if attempt < attempts - 1:
                time.sleep(self.webhook_retry_delays[attempt])
        delivery["state"] = "failed"

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook has been delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def deliveries(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Every webhook generated, in order: id, subscription_id, url, event_type, incident_id, headers, body
        (raw bytes), payload (parsed), attempts (status codes or error names), status_code, state
        (queued / delivered / failed / dropped)."""
        with self._lock:
            out = []
            for d in self._deliveries:
                if event_type is None or d["event_type"] == event_type:
                    out.append({**d, "headers": dict(d["headers"]), "attempts": list(d["attempts"]),
                                "payload": json.loads(d["body"])})
            return out

    # ------------------------------------------------------------------ faults

    def inject_fault(self, target: str, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """Answer the next `count` matching requests with `status` instead of handling them.

        `target`: an HTTP method ("PUT"), a path glob ("/incidents/*", "/v2/enqueue", "*") or both
        ("PUT /incidents/*"). 429 carries PagerDuty's ratelimit-limit / -remaining / -reset headers (reset:
        `retry_after`, default 1 s) and its error body; 5xx answers are plain text."""
        method, _, glob = target.partition(" ") if " " in target else (None, "", target)
        if method is None and target.upper() in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            method, glob = target.upper(), "*"
        with self._lock:
            self._faults.append({"method": method.upper() if method else None, "glob": glob or "*",
                                 "status": int(status), "remaining": int(count), "retry_after": retry_after})

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        with self._lock:
            for fault in self._faults:
                if fault["remaining"] > 0 and (fault["method"] in (None, method)) and \
                        fnmatch.fnmatchcase(path, fault["glob"]):
                    fault["remaining"] -= 1
                    self._faults = [f for f in self._faults if f["remaining"] > 0]
                    return fault
        return None

    @staticmethod
    def _fault_response(fault: dict[str, Any], events_api: bool) -> Response:
        status = fault["status"]
        if status == 429:
            reset = fault["retry_after"] if fault["retry_after"] is not None else 1
            headers = {"ratelimit-limit": str(RATE_LIMIT), "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
            if events_api:
                body = {"status": "throttle event",
                        "message": "Requests for this service are arriving too quickly.  Please retry later."}
            else:
                body = PagerDutyError.of(429, ERR_RATE).body()
            return JSONResponse(body, status_code=429, headers=headers)
        phrases = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        return PlainTextResponse(phrases.get(status, "Error"), status_code=status)

    # ------------------------------------------------------------------ inspection

    def incidents(self) -> list[dict[str, Any]]:
        """Every incident (REST representation) in creation order, with `alerts` (the Events API events folded
        into it) and `log_entries` types added for tests."""
        with self._lock:
            out = []
            for iid in self._order:
                inc = self._incidents[iid]
                obj = self._incident_object(inc)
                obj["alerts"] = copy.deepcopy(inc["alerts"])
                obj["log_entry_types"] = [e["type"] for e in inc["log"]]
                out.append(obj)
            return out

    def incident(self, ident: str) -> dict[str, Any]:
        with self._lock:
            inc = self._find_incident(ident)
            if inc is None:
                raise KeyError(ident)
            return self._incident_object(inc)

    def incident_by_key(self, incident_key: str) -> dict[str, Any] | None:
        with self._lock:
            for iid in reversed(self._order):
                if self._incidents[iid]["incident_key"] == incident_key:
                    return self._incident_object(self._incidents[iid])
            return None

    def events(self) -> list[dict[str, Any]]:
        """Every Events API call in order: body (as sent), status, response, incident_id (None if dropped)."""
        with self._lock:
            return copy.deepcopy(self._events)

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Every REST call in order (faulted and refused ones too): method, path, query, headers (lower-case
        names), from, json, status, response."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._requests
                    if (method is None or r["method"] == method.upper())
                    and (path is None or fnmatch.fnmatchcase(r["path"], path))]

    def notes(self, incident_id: str) -> list[dict[str, Any]]:
        with self._lock:
            inc = self._find_incident(incident_id)
            return copy.deepcopy(inc["notes"]) if inc else []

    # ------------------------------------------------------------------ HTTP: Events API v2

    async def _enqueue(self, request: Request) -> Response:
        raw = await request.body()
        fault = self._take_fault("POST", "/v2/enqueue")
        record: dict[str, Any] = {"at": iso(self.now, ms=True), "body": None, "status": None, "response": None,
                                  "incident_id": None, "headers": {k.lower(): v for k, v in request.headers.items()}}
        try:
            record["body"] = json.loads(raw) if raw else None
        except ValueError:
            record["body"] = raw.decode("utf-8", "replace")
        if fault is not None:
            response = self._fault_response(fault, events_api=True)
            record.update(status=response.status_code, response=None)
            with self._lock:
                self._events.append(record)
            return response
        try:
            if len(raw) > MAX_EVENT_BYTES:
                raise _InvalidEvent("Event object is larger than 512 KB")
            body = record["body"]
            if not isinstance(body, dict):
                raise _InvalidEvent("JSON parse error", status="Unrecognized object",
                                    message="Event object format is unrecognized")
            with self._lock:
                status, answer, incident_id = self._handle_event(body)
        except _InvalidEvent as exc:
            status, answer, incident_id = 400, exc.body, None
        record.update(status=status, response=answer, incident_id=incident_id)
        with self._lock:
            self._events.append(record)
        return JSONResponse(answer, status_code=status)

    def _check_event(self, body: dict[str, Any]) -> None:
        errors = []
        key = body.get("routing_key")
        action = body.get("event_action")
        if not isinstance(key, str) or not key.strip():
            errors.append("'routing_key' is missing or blank")
        elif not any(s["routing_key"] == key for s in self._services.values()):
            errors.append("Invalid routing key" if len(key) == 32 else
                          "Length of 'routing_key' is incorrect (should be 32 characters)")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is missing or invalid (must be one of: trigger, acknowledge, resolve)")
        dedup = body.get("dedup_key")
        if dedup is not None and not isinstance(dedup, str):
            errors.append("'dedup_key' must be a string")
        elif isinstance(dedup, str) and len(dedup) > MAX_DEDUP_KEY:
            errors.append(f"'dedup_key' is too long (maximum is {MAX_DEDUP_KEY} characters)")
        if action in ("acknowledge", "resolve") and not (isinstance(dedup, str) and dedup.strip()):
            errors.append("'dedup_key' is missing or blank")
        if action == "trigger":
            payload = body.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or not an object")
            else:
                summary = payload.get("summary")
                if not isinstance(summary, str) or not summary.strip():
                    errors.append("'payload.summary' is missing or blank")
                elif len(summary) > MAX_SUMMARY:
                    errors.append(f"'payload.summary' is too long (maximum is {MAX_SUMMARY} characters)")
                source = payload.get("source")
                if not isinstance(source, str) or not source.strip():
                    errors.append("'payload.source' is missing or blank")
                if payload.get("severity") not in SEVERITIES:
                    errors.append("'payload.severity' is missing or invalid "
                                  "(must be one of: critical, error, warning, info)")
                if payload.get("timestamp") is not None:
                    try:
                        parse_time(payload["timestamp"])
                    except (ValueError, TypeError):
                        errors.append("'payload.timestamp' is not a valid ISO 8601 timestamp")
                details = payload.get("custom_details")
                if details is not None and not isinstance(details, (dict, str)):
                    errors.append("'payload.custom_details' must be an object")
            for name, required in (("links", "href"), ("images", "src")):
                items = body.get(name)
                if items is None:
                    continue
                if not isinstance(items, list) or not all(isinstance(i, dict) and i.get(required) for i in items):
                    errors.append(f"'{name}' must be an array of objects each with '{required}'")
        if errors:
            raise _InvalidEvent(*errors)

    def _handle_event(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        self._check_event(body)
        action = body["event_action"]
        service = next(s for s in self._services.values() if s["routing_key"] == body["routing_key"])
        agent = self._service_ref(service["id"])
        client = {"name": body["client"]} if isinstance(body.get("client"), str) else None
        dedup = body.get("dedup_key") or uuid.uuid4().hex
        inc = self._open_incident(service["id"], dedup)
        incident_id = None
        if action == "trigger":
            payload = body["payload"]
            alert = {"status": "triggered", "summary": payload["summary"], "severity": payload["severity"],
                     "source": payload["source"], "component": payload.get("component"),
                     "group": payload.get("group"), "class": payload.get("class"),
                     "custom_details": payload.get("custom_details"), "timestamp": payload.get("timestamp"),
                     "links": body.get("links") or [], "images": body.get("images") or [],
                     "client": body.get("client"), "client_url": body.get("client_url"), "at": iso(self.now)}
            if inc is None:
                inc = self._create_incident(service["id"], payload["summary"], dedup, payload.get("custom_details"),
                                            agent, client, channel="api")
            else:
                self._log(inc, "trigger", "Triggered through the API (grouped)", agent)
                inc["updated_at"] = self.now
            inc["alerts"].append(alert)
            incident_id = inc["id"]
        elif inc is not None:  # acknowledge / resolve an open alert; otherwise dropped, as PagerDuty does
            incident_id = inc["id"]
            if action == "acknowledge" and inc["status"] == "triggered":
                self._set_status(inc, "acknowledged", agent, client)
            elif action == "resolve":
                self._set_status(inc, "resolved", agent, client)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup}, incident_id

    # ------------------------------------------------------------------ HTTP: REST API v2

    _ROUTES: list[tuple[str, re.Pattern, str]] = [
        (m, re.compile(p), h) for m, p, h in (
            ("GET", r"^/incidents$", "_list_incidents"),
            ("POST", r"^/incidents$", "_create_incident_rest"),
            ("PUT", r"^/incidents$", "_bulk_update_incidents"),
            ("GET", r"^/incidents/(?P<id>[^/]+)$", "_get_incident"),
            ("PUT", r"^/incidents/(?P<id>[^/]+)$", "_update_incident"),
            ("GET", r"^/incidents/(?P<id>[^/]+)/notes$", "_list_notes"),
            ("POST", r"^/incidents/(?P<id>[^/]+)/notes$", "_create_note"),
            ("GET", r"^/incidents/(?P<id>[^/]+)/log_entries$", "_list_log_entries"),
            ("GET", r"^/users$", "_list_users"),
            ("GET", r"^/users/(?P<id>[^/]+)$", "_get_user"),
            ("GET", r"^/services$", "_list_services"),
            ("GET", r"^/services/(?P<id>[^/]+)$", "_get_service"),
            ("GET", r"^/escalation_policies$", "_list_policies"),
            ("GET", r"^/escalation_policies/(?P<id>[^/]+)$", "_get_policy"),
            ("GET", r"^/schedules$", "_list_schedules"),
            ("GET", r"^/schedules/(?P<id>[^/]+)$", "_get_schedule"),
            ("GET", r"^/priorities$", "_list_priorities"),
            ("GET", r"^/oncalls$", "_list_oncalls"),
        )
    ]
    # Writes that PagerDuty documents with the required `From` header (from_header).
    _NEEDS_FROM = {"_create_incident_rest", "_bulk_update_incidents", "_update_incident", "_create_note"}

    async def _rest(self, request: Request) -> Response:
        method, path = request.method.upper(), "/" + request.path_params.get("path", "").strip("/")
        headers = {k.lower(): v for k, v in request.headers.items()}
        query: dict[str, Any] = {}
        for k, v in request.query_params.multi_items():
            if k.endswith("[]"):
                query.setdefault(k, []).append(v)
            else:
                query[k] = v
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = {"at": iso(self.now, ms=True), "method": method, "path": path, "query": query, "headers": headers,
                  "from": headers.get("from"), "json": body, "status": None, "response": None}
        status, answer, extra_headers = self._serve(method, path, query, headers, body, raw)
        record.update(status=status, response=answer if isinstance(answer, (dict, list)) else None)
        with self._lock:
            self._requests.append(record)
        if isinstance(answer, Response):
            return answer
        return JSONResponse(answer, status_code=status, headers=extra_headers)

    def _serve(self, method: str, path: str, query: dict[str, Any], headers: dict[str, str], body: Any,
               raw: bytes) -> tuple[int, Any, dict[str, str] | None]:
        fault = self._take_fault(method, path)
        if fault is not None:
            response = self._fault_response(fault, events_api=False)
            return response.status_code, response, None
        try:
            self._authenticate(headers.get("authorization"))
            handler, params = self._route(method, path)
            with self._lock:
                requester = self._requester(headers) if handler in self._NEEDS_FROM else None
                if method in ("POST", "PUT") and raw and not isinstance(body, (dict, list)):
                    raise PagerDutyError.of(400, ERR_INVALID, "The request body is not valid JSON")
                self._check_body(handler, body)
                status, answer = getattr(self, handler)(params, query, body, requester)
            return status, answer, None
        except PagerDutyError as exc:
            return exc.status, exc.body(), None

    def _authenticate(self, authorization: str | None) -> None:
        m = re.match(r"^(?:Token token=|Bearer )(\S+)$", (authorization or "").strip())
        if not m or (self.tokens is not None and m.group(1) not in self.tokens):
            raise PagerDutyError.of(401, ERR_AUTH)

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        for m, pattern, handler in self._ROUTES:
            match = pattern.match(path)
            if match and m == method:
                return handler, match.groupdict()
        raise PagerDutyError.of(404, ERR_NOT_FOUND)

    def _requester(self, headers: dict[str, str]) -> str:
        """check_request: the From header PagerDuty requires on these writes, naming a user of the account."""
        value = (headers.get("from") or "").strip()
        if not value:
            raise PagerDutyError.of(400, ERR_FROM_MISSING)
        if not _EMAIL_RE.match(value):
            raise PagerDutyError.of(400, ERR_FROM_MALFORMED)
        for uid, u in self._users.items():
            if u["email"].lower() == value.lower():
                return uid
        raise PagerDutyError.of(400, ERR_REQUESTER)

    @staticmethod
    def _invalid(*errors: str) -> PagerDutyError:
        return PagerDutyError.of(400, ERR_INVALID, *errors)

    def _page(self, items: list[Any], query: dict[str, Any], wrapper: str) -> tuple[int, dict[str, Any]]:
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
            offset = int(query.get("offset", 0))
        except ValueError:
            raise self._invalid("limit and offset must be integers") from None
        if limit < 1 or offset < 0:
            raise self._invalid("limit must be positive and offset not negative")
        limit = min(limit, MAX_LIMIT)
        page = items[offset:offset + limit]
        total = len(items) if str(query.get("total", "false")).lower() == "true" else None
        return 200, {wrapper: page, "limit": limit, "offset": offset, "more": offset + len(page) < len(items),
                     "total": total}

    def _get_or_404(self, table: dict[str, Any], ident: str) -> None:
        if ident not in table:
            raise PagerDutyError.of(404, ERR_NOT_FOUND)

    def _incident_or_404(self, ident: str) -> dict[str, Any]:
        inc = self._find_incident(ident)
        if inc is None:
            raise PagerDutyError.of(404, ERR_NOT_FOUND)
        return inc

    @staticmethod
    def _query_match(query: dict[str, Any], *texts: str) -> bool:
        q = str(query.get("query") or "").lower()
        return not q or any(q in (t or "").lower() for t in texts)

    def _time_param(self, query: dict[str, Any], name: str) -> datetime | None:
        if name not in query or query[name] in ("", None):
            return None
        try:
            return parse_time(query[name])
        except ValueError:
            raise PagerDutyError.of(400, ERR_TIME) from None

    # incidents

    def _list_incidents(self, params, query, body, requester):
        statuses = query.get("statuses[]")
        if statuses and any(s not in ("triggered", "acknowledged", "resolved") for s in statuses):
            raise self._invalid("Status must be a list of triggered, acknowledged, or resolved.")
        since, until = self._time_param(query, "since"), self._time_param(query, "until")
        if since and until and until < since:
            raise PagerDutyError.of(400, ERR_TIME)
        services, users = query.get("service_ids[]"), query.get("user_ids[]")
        urgencies, key = query.get("urgencies[]"), query.get("incident_key")
        out = []
        for iid in self._order:
            inc = self._incidents[iid]
            if statuses and inc["status"] not in statuses:
                continue
            if services and inc["service_id"] not in services:
                continue
            if users and not any(u in users for u, _ in inc["assignments"]):
                continue
            if urgencies and inc["urgency"] not in urgencies:
                continue
            if key and inc["incident_key"] != key:
                continue
            if query.get("date_range") != "all":
                if since and inc["created_at"] < since:
                    continue
                if until and inc["created_at"] >= until:
                    continue
            out.append(self._incident_object(inc))
        if str(query.get("sort_by", "")).endswith(":desc"):
            out.reverse()
        return self._page(out, query, "incidents")

    def _get_incident(self, params, query, body, requester):
        return 200, {"incident": self._incident_object(self._incident_or_404(params["id"]))}

    def _check_wrapper(self, body: Any, wrapper: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
            raise self._invalid(f"'{wrapper}' is required and must be an object")
        return body[wrapper]

    def _check_update(self, entity: dict[str, Any]) -> None:
        """check_request for one incident update (PUT /incidents/{id}, or an item of PUT /incidents)."""
        errors = []
        if entity.get("type") not in ("incident", "incident_reference"):
            errors.append("Incident type must be one of: incident, incident_reference")
        if "status" in entity and entity["status"] not in ("acknowledged", "resolved"):
            errors.append("Status must be one of: acknowledged, resolved")
        if "escalation_level" in entity and (not isinstance(entity["escalation_level"], int)
                                             or isinstance(entity["escalation_level"], bool)):
            errors.append("Escalation level must be an integer")
        if "assignments" in entity:
            items = entity["assignments"]
            if not isinstance(items, list) or not all(
                    isinstance(a, dict) and isinstance(a.get("assignee"), dict) and a["assignee"].get("id")
                    and a["assignee"].get("type") == "user_reference" for a in items):
                errors.append("Assignments must be an array of {\"assignee\": {\"id\", \"type\": \"user_reference\"}}")
        for name, kind in (("priority", "priority_reference"), ("escalation_policy", "escalation_policy_reference")):
            if name in entity and entity[name] is not None and not (
                    isinstance(entity[name], dict) and entity[name].get("id") and entity[name].get("type") == kind):
                errors.append(f"'{name}' must be a {kind} with an id")
        if "urgency" in entity and entity["urgency"] not in ("high", "low"):
            errors.append("Urgency must be one of: high, low")
        if "assignments" in entity and "escalation_policy" in entity:
            errors.append("Cannot specify both assignments and an escalation policy")
        if errors:
            raise self._invalid(*errors)

    def _check_body(self, handler: str, body: Any) -> None:
        """check_request: the request body against the fields PagerDuty's API reference marks required."""
        if handler == "_update_incident":
            self._check_update(self._check_wrapper(body, "incident"))
        elif handler == "_bulk_update_incidents":
            if not isinstance(body, dict) or not isinstance(body.get("incidents"), list) or not body["incidents"]:
                raise self._invalid("'incidents' is required and must be a non-empty array")
            if len(body["incidents"]) > 250:
                raise self._invalid("Cannot update more than 250 incidents at once")
            for entity in body["incidents"]:
                if not isinstance(entity, dict) or not entity.get("id"):
                    raise self._invalid("Each incident needs an id")
                self._check_update(entity)
        elif handler == "_create_incident_rest":
            entity = self._check_wrapper(body, "incident")
            errors = []
            if entity.get("type") != "incident":
                errors.append("Incident type must be 'incident'")
            if not isinstance(entity.get("title"), str) or not entity["title"].strip():
                errors.append("Title is required")
            service = entity.get("service")
            if not (isinstance(service, dict) and service.get("id") and service.get("type") == "service_reference"):
                errors.append("Service is required and must be a service_reference")
            bodyobj = entity.get("body")
            if bodyobj is not None and not (isinstance(bodyobj, dict) and bodyobj.get("type") == "incident_body"):
                errors.append("Body must be an incident_body")
            if errors:
                raise self._invalid(*errors)
            self._check_update({**entity, "type": "incident"})
        elif handler == "_create_note":
            content = self._check_wrapper(body, "note").get("content")
            if not isinstance(content, str) or not content.strip():
                raise self._invalid("Note content is required")

    def check_request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: Any = None) -> dict[str, Any] | None:
        """Validate a REST request the way the emulator does before acting on it (route, `From` header naming a
        known user, and the body's required fields), without acting: None if it passes, else
        {"status": 400|404, "error": {...}} with PagerDuty's error object."""
        try:
            handler, _ = self._route(method.upper(), "/" + path.strip("/"))
            with self._lock:
                if handler in self._NEEDS_FROM:
                    self._requester({k.lower(): v for k, v in (headers or {}).items()})
                self._check_body(handler, body)
        except PagerDutyError as exc:
            return {"status": exc.status, **exc.body()}
        return None

    def _apply_update(self, inc: dict[str, Any], entity: dict[str, Any], requester: str) -> None:
        agent = self._user_ref(requester)
        if "title" in entity and isinstance(entity["title"], str) and entity["title"].strip():
            inc["title"] = entity["title"]
        if "urgency" in entity:
            inc["urgency"] = entity["urgency"]
        if "priority" in entity:
            self._set_priority(inc, entity["priority"]["id"] if entity["priority"] else None, agent, None)
        if "escalation_policy" in entity:
            self._delegate(inc, entity["escalation_policy"]["id"], agent, None)
        if "assignments" in entity:
            self._reassign(inc, [a["assignee"]["id"] for a in entity["assignments"]], agent, None)
        if "escalation_level" in entity:
            self._escalate(inc, entity["escalation_level"], agent, None)
        if entity.get("status") == "acknowledged":
            self._set_status(inc, "acknowledged", agent, None, requester)
        elif entity.get("status") == "resolved":
            self._set_status(inc, "resolved", agent, None, resolution=entity.get("resolution"))

    def _update_incident(self, params, query, body, requester):
        entity = body["incident"]
        inc = self._incident_or_404(params["id"])
        self._apply_update(inc, entity, requester)
        return 200, {"incident": self._incident_object(inc)}

    def _bulk_update_incidents(self, params, query, body, requester):
        for entity in body["incidents"]:
            self._incident_or_404(entity["id"])
        out = []
        for entity in body["incidents"]:
            inc = self._incident_or_404(entity["id"])
            self._apply_update(inc, entity, requester)
            out.append(self._incident_object(inc))
        return 200, {"incidents": out}

    def _create_incident_rest(self, params, query, body, requester):
        entity = body["incident"]
        service, bodyobj = entity["service"], entity.get("body")
        if service["id"] not in self._services:
            raise PagerDutyError.of(404, ("Service Not Found", 5002))
        key = entity.get("incident_key")
        if key and self._open_incident(service["id"], key) is not None:
            raise self._invalid(f"Open incident with key '{key}' already exists")
        assignees = None
        if "assignments" in entity:
            assignees = [a["assignee"]["id"] for a in entity["assignments"]]
            if any(u not in self._users for u in assignees):
                raise PagerDutyError.of(400, ERR_ASSIGNEE)
        policy_id = entity["escalation_policy"]["id"] if entity.get("escalation_policy") else None
        if policy_id is not None and policy_id not in self._policies:
            raise PagerDutyError.of(400, ERR_EP_NOT_FOUND)
        priority_id = entity["priority"]["id"] if entity.get("priority") else None
        if priority_id is not None and priority_id not in self._priorities:
            raise PagerDutyError.of(400, ERR_PRIORITY)
        details = bodyobj.get("details") if bodyobj else None
        inc = self._create_incident(service["id"], entity["title"], key, details, self._user_ref(requester), None,
                                    urgency=entity.get("urgency", "high"), priority_id=priority_id,
                                    policy_id=policy_id, assignees=assignees)
        return 201, {"incident": self._incident_object(inc)}

    def _list_notes(self, params, query, body, requester):
        return 200, {"notes": copy.deepcopy(self._incident_or_404(params["id"])["notes"])}

    def _create_note(self, params, query, body, requester):
        inc = self._incident_or_404(params["id"])
        created = self._annotate(inc, body["note"]["content"], requester, self._user_ref(requester), None)
        return 200, {"note": copy.deepcopy(created)}

    def _list_log_entries(self, params, query, body, requester):
        inc = self._incident_or_404(params["id"])
        entries = [{"id": e["id"], "type": e["type"], "summary": e["summary"],
                    "self": f"{self.api_base}/log_entries/{e['id']}?incident_id={inc['id']}",
                    "html_url": f"{self.web_base}/incidents/{inc['id']}/log_entries/{e['id']}",
                    "created_at": iso(e["created_at"]), "agent": e["agent"], "channel": e["channel"],
                    "incident": self._incident_ref(inc), "teams": [], "contexts": []} for e in inc["log"]]
        if str(query.get("is_overview", "false")).lower() == "true":
            entries = [e for e in entries if e["type"] not in ("annotate_log_entry",)]
        entries.reverse()  # newest first, as PagerDuty lists them
        return self._page(entries, query, "log_entries")

    # directory

    def _list_users(self, params, query, body, requester):
        users = [self._user_object(u) for u in sorted(self._users, key=lambda u: self._users[u]["name"])
                 if self._query_match(query, self._users[u]["name"], self._users[u]["email"])]
        return self._page(users, query, "users")

    def _get_user(self, params, query, body, requester):
        self._get_or_404(self._users, params["id"])
        return 200, {"user": self._user_object(params["id"])}

    def _list_services(self, params, query, body, requester):
        items = [self._service_object(s) for s in sorted(self._services)
                 if self._query_match(query, self._services[s]["name"])]
        return self._page(items, query, "services")

    def _get_service(self, params, query, body, requester):
        self._get_or_404(self._services, params["id"])
        return 200, {"service": self._service_object(params["id"])}

    def _list_policies(self, params, query, body, requester):
        items = [self._policy_object(p) for p in sorted(self._policies)
                 if self._query_match(query, self._policies[p]["name"])]
        return self._page(items, query, "escalation_policies")

    def _get_policy(self, params, query, body, requester):
        self._get_or_404(self._policies, params["id"])
        return 200, {"escalation_policy": self._policy_object(params["id"])}

    def _list_schedules(self, params, query, body, requester):
        items = [self._schedule_object(s) for s in sorted(self._schedules)
                 if self._query_match(query, self._schedules[s]["name"])]
        return self._page(items, query, "schedules")

    def _get_schedule(self, params, query, body, requester):
        """With `since` and `until`, the final schedule is rendered for that range, entries clipped to it, as
        PagerDuty does; without them its entries are empty."""
        self._get_or_404(self._schedules, params["id"])
        since, until = self._time_param(query, "since"), self._time_param(query, "until")
        if since and until and until < since:
            raise PagerDutyError.of(400, ERR_TIME)
        entries = []
        if since and until:
            for user_id, start, end in self._shift_users(params["id"], since, until):
                entries.append({"start": iso(max(start, since)), "end": iso(min(end, until)),
                                "user": self._user_ref(user_id)})
        covered = sum((parse_time(e["end"]) - parse_time(e["start"])).total_seconds() for e in entries)
        total = (until - since).total_seconds() if since and until else 0
        final = {"name": "Final Schedule", "rendered_schedule_entries": entries,
                 "rendered_coverage_percentage": round(100 * covered / total, 2) if total else None}
        return 200, {"schedule": {**self._schedule_object(params["id"]), "final_schedule": final}}

    def _list_priorities(self, params, query, body, requester):
        items = [self._priority_object(p) for p in sorted(self._priorities, key=lambda p: self._priorities[p]["order"])]
        return self._page(items, query, "priorities")

    def _list_oncalls(self, params, query, body, requester):
        since, until = self._time_param(query, "since"), self._time_param(query, "until")
        if since and until and until < since:
            raise PagerDutyError.of(400, ERR_TIME)
        if since and until and until - since > timedelta(days=90):
            raise PagerDutyError.of(400, ("Invalid Query Date Range", 2005), "The range cannot exceed 90 days")
        if since and not until:
            until = since
        if until and not since:
            since = self.now
        entries = self.oncalls(since, until, schedule_ids=query.get("schedule_ids[]"),
                               escalation_policy_ids=query.get("escalation_policy_ids[]"),
                               user_ids=query.get("user_ids[]"),
                               earliest=str(query.get("earliest", "false")).lower() == "true")
        return self._page(entries, query, "oncalls")

    # ------------------------------------------------------------------ app

    def app(self) -> Starlette:
        """One Starlette app for both APIs: POST /v2/enqueue (Events API v2) and the REST API v2 at the root."""
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        return Starlette(routes=[
            Route("/v2/enqueue", self._enqueue, methods=["POST"]),
            Route("/{path:path}", self._rest, methods=methods),
        ])
