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


# Monte Carlo's incident types (the webhook's `type` is `open_<type>_incident`, and the like), mapped onto our kinds.
# Checked in order: the first word found in the type decides. A bare `anomaly` says nothing, so the finding decides.
_TYPE_KINDS = (
    ("custom", ("custom_rule", "sql_rule", "custom_sql")),
    ("job_failure", ("dbt", "job", "pipeline", "airflow", "databricks", "run_failure", "task")),
    ("schema", ("schema", "deleted_table", "json_schema")),
    ("distribution", ("field_health", "field_quality", "field_metric", "metric_anomal", "dimension",
                      "distribution", "nullness", "unique")),
    ("freshness", ("freshness", "last_update", "unchanged_size", "stale")),
    ("volume", ("volume", "size_diff", "size_anomal", "row_count")),
)


def kind_of(incident_type: str, *finding: str) -> str:
    """Our kind for a Monte Carlo incident type; a generic anomaly takes the kind its finding's words say."""
    lowered = incident_type.lower()
    for kind, words in _TYPE_KINDS:
        if any(w in lowered for w in words):
            return kind
    return kind_from_text(*finding)


def _table_names(payload: dict, events: list[dict]) -> list[str]:
    """Full table ids first (`project:dataset.table`), then the v0.1 `table_name`, which may be bare."""
    full, bare = [], []
    for node in (payload, *events):
        for key in ("full_table_id", "mcon_full_table_id"):
            if isinstance(node.get(key), str) and node[key]:
                full.append(node[key])
        rule = node.get("rule") if isinstance(node.get("rule"), dict) else {}
        for comparison in _items(rule.get("comparisons")):
            if isinstance(comparison, dict) and isinstance(comparison.get("full_table_id"), str):
                full.append(comparison["full_table_id"])
        for key in ("table_name", "table"):
            if isinstance(node.get(key), str) and node[key]:
                (full if ":" in node[key] else bare).append(node[key])
    return full + bare


def _table_labels(payload: dict, tables: list[str]) -> dict[str, str]:
    name = tables[0]
    group = payload.get("group_id")
    # A v0.1 anomaly names its table bare ("artemis") and its group as `project:dataset` ("zeus:ares"), the same
    # prefix a full table id has; joined, they make the id the warehouse knows.
    if "." not in name and ":" not in name and isinstance(group, str) and group.count(":") == 1 and "." not in group:
        name = f"{group}.{name}"
    labels = split_table(name)
    if tables[0] != name:
        labels["mc_table_name"] = tables[0]
    return labels


def _items(value: Any) -> list:
    """A list the sender sent, or nothing: a mangled field (a number where a list goes) is skipped, not fatal."""
    return value if isinstance(value, list) else []


def _finding(events: list[dict]) -> str:
    """The vendor's own words for what is wrong: `event_details` ("Has 42 rows vs. 101 expected"), else a custom
    rule's breach as a value against its threshold."""
    for event in events:
        if isinstance(event.get("event_details"), str) and event["event_details"].strip():
            return event["event_details"].strip()
    for event in events:
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        hits = [h for h in _items(data.get("hits")) if isinstance(h, dict) and h.get("value") is not None]
        rules = [r for r in _items(data.get("rule_comparisons")) if isinstance(r, dict)]
        if hits:
            metric = data.get("metric_display_name") or "value"
            text = f"{metric} = {hits[0]['value']}"
            if rules and rules[0].get("operator") and rules[0].get("threshold") is not None:
                text += f", breaching {rules[0]['operator']} {rules[0]['threshold']}"
            if hits[0].get("measurement_timestamp"):
                text += f" at {hits[0]['measurement_timestamp']}"
            return text
    return ""


def parse(doc: Any) -> list[Alert]:
    check(doc)
    payload = doc["payload"]
    kind_name = doc["type"]
    events = [e for e in _items(payload.get("event_list")) if isinstance(e, dict)]
    tables = _table_names(payload, events)
    labels: dict[str, str] = {"mc_type": kind_name, "policy": kind_name}
    if tables:
        labels.update(_table_labels(payload, tables))
        if len(set(tables)) > 1:
            labels["tables"] = ", ".join(sorted(set(tables)))
    if isinstance(payload.get("group_id"), str) and payload["group_id"]:
        labels["mc_group"] = payload["group_id"]
    descriptions, metrics = [], []
    for node in (payload, *events):
        rule = node.get("rule") if isinstance(node.get("rule"), dict) else {}
        data = node.get("data") if isinstance(node.get("data"), dict) else {}
        if rule.get("description"):
            descriptions.append(str(rule["description"]))
        if data.get("metric_display_name"):
            metrics.append(str(data["metric_display_name"]))
    finding = _finding(events)
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
        kind=kind_of(kind_name, finding, *metrics),
        summary="\n".join(dict.fromkeys(descriptions)),
        labels=labels,
        links=links,
        finding=finding[:500],
        raw=doc,
    )]
