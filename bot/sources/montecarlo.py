"""Monte Carlo webhooks: incidents of every type, signed with HMAC-SHA512 in `x-mcd-signature`.

https://docs.getmontecarlo.com/docs/webhooks. Monte Carlo's reference verifier signs
`urllib.parse.urlencode(json.loads(body))`, not the raw body, so that is what is checked here.
Unknown incident types still become alerts (kind `custom`).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from typing import Any

from bot.alert import FIRING, RESOLVED, Alert, Link, kind_from_text, severity_from, split_table
from bot.sources.base import (AuthError, Secrets, ShapeError, WebhookRequest, no_secret_configured, require_mapping,
                              same)

NAME = "montecarlo"

# Feedback and status words Monte Carlo uses when an alert is closed.
_CLOSED_WORDS = {"fixed", "expected", "no_action_needed", "false_positive", "resolved", "closed"}


def signature(secret: str, body: bytes) -> str:
    """What Monte Carlo sends: hex HMAC-SHA512 over the urlencoded top-level JSON object."""
    signed = urllib.parse.urlencode(json.loads(body)).encode("utf8")
    return hmac.new(secret.encode(), signed, hashlib.sha512).hexdigest()


def verify(req: WebhookRequest, secrets: Secrets) -> None:
    if not secrets.montecarlo_secret:
        no_secret_configured(req, secrets, "MONTECARLO_WEBHOOK_SECRET",
                             "on the bot, to the secret set in Monte Carlo's webhook settings")
        return
    offered = req.headers.get("x-mcd-signature", "")
    if not offered:
        raise AuthError("Missing x-mcd-signature header.")
    try:
        expected = signature(secrets.montecarlo_secret, req.body)
    except (ValueError, TypeError, RecursionError):
        # Checked before anything else reads the body: an unauthenticated sender never reaches the parser.
        raise AuthError("Cannot compute the signature of a body that is not a JSON object.") from None
    if not same(expected, offered.strip().lower()):
        raise AuthError("x-mcd-signature does not match.")


def _incident_id(payload: dict) -> Any:
    return payload.get("incident_id") or payload.get("alert_id") or payload.get("id")


def check(doc: Any) -> None:
    doc = require_mapping(doc, "body")
    if not isinstance(doc.get("type"), str) or not doc["type"]:
        raise ShapeError("type", "is required: the Monte Carlo incident type")
    payload = doc.get("payload")
    if not isinstance(payload, dict):
        raise ShapeError("payload", "is required and must be an object")
    if not isinstance(_incident_id(payload), (str, int)):
        raise ShapeError("payload.incident_id", "is required")
    events = payload.get("event_list")
    if events is not None and not isinstance(events, list):
        raise ShapeError("payload.event_list", "must be a list")


def _closed(doc: dict, payload: dict) -> bool:
    words = {str(payload.get(k) or "").lower() for k in ("alert_feedback", "feedback", "status", "state")}
    return bool(words & _CLOSED_WORDS) or doc["type"].lower().startswith(("close", "resolve"))


def parse(doc: Any) -> list[Alert]:
    check(doc)
    payload = doc["payload"]
    kind_name = doc["type"]
    events = [e for e in payload.get("event_list") or () if isinstance(e, dict)]
    tables = [str(e["table_name"]) for e in events if e.get("table_name")]
    for event in events:
        rule = event.get("rule") if isinstance(event.get("rule"), dict) else {}
        for comparison in rule.get("comparisons") or ():
            if isinstance(comparison, dict) and comparison.get("full_table_id"):
                tables.append(str(comparison["full_table_id"]))
    labels: dict[str, str] = {"mc_type": kind_name, "policy": kind_name}
    if tables:
        labels.update(split_table(tables[0]))
        if len(set(tables)) > 1:
            labels["tables"] = ", ".join(sorted(set(tables)))
    descriptions, metrics = [], []
    for event in events:
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        rule = event.get("rule") if isinstance(event.get("rule"), dict) else {}
        if rule.get("description"):
            descriptions.append(str(rule["description"]))
        if data.get("metric_display_name"):
            metrics.append(str(data["metric_display_name"]))
        for hit in data.get("hits") or ():
            if isinstance(hit, dict) and hit.get("value") is not None:
                descriptions.append(f"{data.get('metric_display_name') or 'value'} = {hit['value']}"
                                    f" at {hit.get('measurement_timestamp') or hit.get('timestamp') or '?'}")
    readable = kind_name.removeprefix("open_").removesuffix("_incident").replace("_", " ")
    title = f"Monte Carlo: {readable}"
    if labels.get("table"):
        title += f" on {labels['table']}"
    links = (Link("Monte Carlo incident", str(payload["url"])),) if payload.get("url") else ()
    return [Alert(
        source=NAME,
        fingerprint=f"mc:{_incident_id(payload)}",
        status=RESOLVED if _closed(doc, payload) else FIRING,
        title=title,
        severity=severity_from(payload.get("severity") or payload.get("declared_alert_severity") or
                               payload.get("priority")),
        kind=kind_from_text(kind_name.replace("custom_rule", "custom"), *metrics),
        summary="\n".join(dict.fromkeys(descriptions)),
        labels=labels,
        links=links,
        raw=doc,
    )]
