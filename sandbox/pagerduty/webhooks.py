"""v3 webhooks (https://developer.pagerduty.com/docs/webhooks-overview): subscriptions, signed deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
import time
import uuid
from typing import Any, Iterable

import httpx

from sandbox.pagerduty.core import PagerDutyCore, iso, new_id

log = logging.getLogger(__name__)

INCIDENT_EVENT_TYPES = (
    "incident.triggered", "incident.acknowledged", "incident.unacknowledged", "incident.resolved",
    "incident.reopened", "incident.reassigned", "incident.escalated", "incident.delegated",
    "incident.priority_updated", "incident.annotated", "incident.responder.added",
)


def sign(secret: str, body: bytes) -> str:
    """One v1 signature: "v1=" + hex(HMAC-SHA256(secret as UTF-8 bytes, raw body))."""
    return "v1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class Webhooks(PagerDutyCore):
    """Each incident change is signed and queued for every matching subscription; one worker thread delivers them
    in order."""

    _PERSISTED = (*PagerDutyCore._PERSISTED, "_subscriptions")

    def __init__(self, tokens: Iterable[str] | None = None, *,
                 webhook_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4), webhook_timeout: float = 5.0,
                 **kw: Any):
        """`webhook_retry_delays`: the waits between the (up to 5) attempts of one webhook delivery."""
        super().__init__(tokens, **kw)
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._closed = False

    def _clear(self) -> None:
        super()._clear()
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self._deliveries: list[dict[str, Any]] = []
        self._drop_next = 0

    def reset(self) -> None:
        """Forget everything; waits for deliveries under way first."""
        self.flush_webhooks(timeout=10)
        super().reset()

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

    def subscribe(self, url: str, secret: str | None = None, events: Iterable[str] | None = None,
                  service_id: str | None = None) -> dict[str, Any]:
        """A v3 webhook subscription (http_delivery_method). Returns {"id", "secret", ...}; the secret is
        generated as PagerDuty does when not given. `service_id`: a service_reference filter."""
        with self._lock:
            # A restarted sandbox subscribes its bot again: the remembered subscription to that URL is reused.
            same = [s for s in self._subscriptions.values() if s["url"] == url and s["service_id"] == service_id]
            sub_id = same[0]["id"] if same else new_id()
            sub = {"id": sub_id, "url": url, "secrets": [secret or secrets.token_urlsafe(48)],
                   "events": set(events) if events else set(INCIDENT_EVENT_TYPES), "service_id": service_id,
                   "active": True}
            self._subscriptions[sub_id] = sub
            self._save()
            self._start_worker()
            return {"id": sub_id, "url": url, "secret": sub["secrets"][0], "events": sorted(sub["events"])}

    def unsubscribe(self, subscription_id: str) -> None:
        with self._lock:
            self._subscriptions.pop(subscription_id, None)
            self._save()

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
