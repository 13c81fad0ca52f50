"""PagerDuty webhooks v3 at /webhooks/pagerduty: verified, deduplicated on X-Webhook-Id, answered at once.

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


def check(doc: Any) -> None:
    doc = require_mapping(doc, "body")
    event = doc.get("event")
    if not isinstance(event, dict):
        raise ShapeError("event", "is required: a PagerDuty webhook v3 envelope")
    if not isinstance(event.get("event_type"), str):
        raise ShapeError("event.event_type", "is required")
    if not isinstance(event.get("data"), dict):
        raise ShapeError("event.data", "is required and must be an object")


def meta(req: WebhookRequest) -> dict:
    return {"webhook_id": req.headers.get("x-webhook-id")}
