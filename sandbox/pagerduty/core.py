"""The PagerDuty emulator's account (state, clock, references, faults), kept in SQLite, and its REST API's plumbing."""

from __future__ import annotations

import copy
import fnmatch
import json
import pickle
import re
import secrets
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

API_BASE = "https://api.pagerduty.com"
EVENTS_BASE = "https://events.pagerduty.com"
WEB_BASE = "https://dre-sandbox.pagerduty.com"

MAX_LIMIT = 100  # REST classic pagination
DEFAULT_LIMIT = 25
RATE_LIMIT = 960  # REST API: requests per minute per key (the value of ratelimit-limit)

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

# (HTTP method, path pattern, handler name): one REST API route.
RestRoute = tuple[str, str, str]


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


def new_id(prefix: str = "P", length: int = 7) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length - len(prefix)))


class PagerDutyCore:
    """The account's state and the REST API's plumbing; each API family (a subclass) adds its handlers and routes.

    `tokens`: the REST API keys accepted (None: any non-empty `Token token=...` or `Bearer ...`)."""

    # The state that survives a restart; the records of calls, deliveries and faults are for tests and do not.
    _PERSISTED: tuple[str, ...] = ("_users", "_services", "_policies", "_schedules", "_priorities", "_incidents",
                                   "_order", "_number")

    def __init__(self, tokens: Iterable[str] | None = None, *, api_base: str = API_BASE, web_base: str = WEB_BASE,
                 db_path: str = ":memory:"):
        """`db_path`: the SQLite file holding the account, so a restarted sandbox still has the incidents its
        Slack cards link to (`:memory:`: forgotten with the object)."""
        self.tokens = set(tokens) if tokens is not None else None
        self.api_base = api_base.rstrip("/")
        self.web_base = web_base.rstrip("/")
        self._lock = threading.RLock()
        self._now: datetime | None = None
        self._rest_table = [(m, re.compile(p), h) for m, p, h in self._rest_routes()]
        self._clear()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS pagerduty_state (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
        self._load()

    def _load(self) -> None:
        # Pickle, not JSON: the state holds datetimes, tuples and sets, and the file is the sandbox's own.
        for name, value in self._db.execute("SELECT name, value FROM pagerduty_state"):
            if name in self._PERSISTED:
                setattr(self, name, pickle.loads(value))

    def _save(self) -> None:
        """Write the account to the database; called after every change (an API call, `act()`, a seed)."""
        with self._lock:
            rows = [(name, pickle.dumps(getattr(self, name))) for name in self._PERSISTED]
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO pagerduty_state (name, value) VALUES (?, ?)", rows)
            self._db.execute("COMMIT")

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
        for order, name in enumerate(DEFAULT_PRIORITIES, start=1):
            pid = f"PPRI{order:03d}"
            self._priorities[pid] = {"id": pid, "name": name, "order": order}

    def reset(self) -> None:
        """Forget everything (seeds, incidents, records, subscriptions)."""
        with self._lock:
            self._now = None
            self._clear()
            self._save()

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

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Every REST call in order (faulted and refused ones too): method, path, query, headers (lower-case
        names), from, json, status, response."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._requests
                    if (method is None or r["method"] == method.upper())
                    and (path is None or fnmatch.fnmatchcase(r["path"], path))]

    def _rest_routes(self) -> list[RestRoute]:
        """(HTTP method, path pattern, handler name) of the REST API; each family adds its own."""
        return []

    def _routes(self) -> list[Route]:
        """HTTP routes besides the REST API (served at the root, so they come first); each family adds its own."""
        return []

    # Writes that PagerDuty documents with the required `From` header (from_header); families name theirs.
    _NEEDS_FROM: frozenset[str] = frozenset()

    def app(self) -> Starlette:
        """One Starlette app for both APIs: POST /v2/enqueue (Events API v2) and the REST API v2 at the root."""
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        return Starlette(routes=[
            *self._routes(),
            Route("/{path:path}", self._rest, methods=methods),
        ])

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
        if method != "GET" and status < 400:
            self._save()
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
        for m, pattern, handler in self._rest_table:
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

    def _check_body(self, handler: str, body: Any) -> None:
        """check_request: the request body against the fields PagerDuty's API reference marks required."""

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
