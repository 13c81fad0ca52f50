"""PagerDuty webhooks v3 at /webhooks/pagerduty: verified, envelope checked, answered at once; deduplicated on
X-Webhook-Id and on the signed event's own id (bot/pagerduty/inbound.py).

Signature: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 of the raw body with the subscription's
secret; any match passes, so a rotation (PagerDuty signs with old and new) works, and PAGERDUTY_WEBHOOK_SECRET
may itself list several secrets separated by commas while you rotate on our side.
https://developer.pagerduty.com/docs/webhooks/webhook-signatures
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

from bot.sources.base import AuthError, ShapeError, WebhookRequest, no_secret_configured, require_mapping, same

NAME = "pagerduty"


def signature(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secrets: list[str], header: str, body: bytes) -> bool:
    offered = [s.strip() for s in header.split(",") if s.strip().startswith("v1=")]
    results = [same(signature(secret, body), o) for secret in secrets for o in offered]
    return any(results)


def verify(req: WebhookRequest, secrets: Any) -> None:
    configured = [s.strip() for s in (getattr(secrets, "pagerduty_secret", None) or "").split(",") if s.strip()]
    if not configured:
        no_secret_configured(req, secrets, "PAGERDUTY_WEBHOOK_SECRET",
                             "on the bot, to the secret PagerDuty showed when the webhook subscription was created")
        return
    header = req.headers.get("x-pagerduty-signature", "")
    if not header:
        raise AuthError("Missing X-PagerDuty-Signature header.")
    if not req.body:
        raise AuthError("Empty body.")
    if not verify_signature(configured, header, req.body):
        raise AuthError("No X-PagerDuty-Signature value matches.")


# The fields inbound.apply reads, and what each must be when present (PagerDuty sends strings for ids and
# references as objects); anything else is refused with a 422 naming the field, before it reaches the worker.
_TEXT = ("id", "type", "html_url", "status", "incident_key", "title", "urgency", "content", "message", "summary")
_OBJECTS = ("service", "priority", "user", "incident", "agent")
MAX_TEXT = 10_000


def _text(value: Any, limit: int) -> bool:
    """A string the worker can store: at most `limit` characters, and real Unicode (no lone surrogates, which
    JSON can carry and SQLite cannot)."""
    if not isinstance(value, str) or len(value) > limit:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_fields(node: dict, where: str) -> None:
    for key in _TEXT:
        value = node.get(key)
        if value is not None and not _text(value, MAX_TEXT):
            raise ShapeError(f"{where}.{key}", f"must be text of at most {MAX_TEXT} characters")
    for key in _OBJECTS:
        value = node.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ShapeError(f"{where}.{key}", "must be an object")
        _check_fields(value, f"{where}.{key}")
    assignees = node.get("assignees")
    if assignees is not None:
        if not isinstance(assignees, list) or not all(isinstance(a, dict) for a in assignees):
            raise ShapeError(f"{where}.assignees", "must be a list of objects")
        for i, assignee in enumerate(assignees):
            _check_fields(assignee, f"{where}.assignees[{i}]")


def check(doc: Any) -> None:
    doc = require_mapping(doc, "body")
    event = doc.get("event")
    if not isinstance(event, dict):
        raise ShapeError("event", "is required: a PagerDuty webhook v3 envelope")
    if not _text(event.get("event_type"), 200) or not event["event_type"]:
        raise ShapeError("event.event_type", "is required and must be a string")
    for key in ("id", "resource_type"):
        value = event.get(key)
        if value is not None and not _text(value, 200):
            raise ShapeError(f"event.{key}", "must be text of at most 200 characters")
    if event.get("agent") is not None:
        if not isinstance(event["agent"], dict):
            raise ShapeError("event.agent", "must be an object")
        _check_fields(event["agent"], "event.agent")
    if not isinstance(event.get("data"), dict):
        raise ShapeError("event.data", "is required and must be an object")
    _check_fields(event["data"], "event.data")


def meta(req: WebhookRequest) -> dict:
    return {"webhook_id": req.headers.get("x-webhook-id")}
