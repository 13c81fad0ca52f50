"""Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/overview/): POST /v2/enqueue."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.pagerduty.core import iso, parse_time
from sandbox.pagerduty.incidents import IncidentsApi

SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024  # Events API v2: payload.summary
MAX_DEDUP_KEY = 255  # Events API v2: dedup_key
MAX_EVENT_BYTES = 512 * 1024  # Events API v2: "payloads are limited to 512 KB"


class _InvalidEvent(Exception):
    def __init__(self, *errors: str, status: str = "invalid event", message: str = "Event object is invalid"):
        super().__init__("; ".join(errors))
        self.body = {"status": status, "message": message, "errors": list(errors)}


class EventsApi(IncidentsApi):
    """An event opens an incident, folds into the open one with its dedup_key, or moves it on."""

    def _routes(self) -> list[Route]:
        return [*super()._routes(), Route("/v2/enqueue", self._enqueue, methods=["POST"])]

    def events(self) -> list[dict[str, Any]]:
        """Every Events API call in order: body (as sent), status, response, incident_id (None if dropped)."""
        with self._lock:
            return copy.deepcopy(self._events)

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
        if status < 400:
            self._save()
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
