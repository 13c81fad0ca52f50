"""Prometheus Alertmanager and Grafana webhooks (payload version 4): one request may carry many alerts.

https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
"""
from __future__ import annotations

import logging
from typing import Any

from bot.alert import FIRING, RESOLVED, Alert, Link, kind_from_text, label_fingerprint, severity_from, split_table
from bot.sources.base import (Secrets, ShapeError, WebhookRequest, check_token, clean_text, iso_time,
                              require_mapping, str_labels)

NAME = "alertmanager"
log = logging.getLogger("dre-bot.sources.alertmanager")

# Alertmanager sends the zero time for "no end" on firing alerts.
_ZERO_TIMES = ("0001-01-01T00:00:00Z",)


def verify(req: WebhookRequest, secrets: Secrets) -> None:
    check_token(req, secrets, allow_basic=True, allow_bearer=True)


def check(doc: Any) -> None:
    """The envelope, on the request path; each alert is checked by parse() in the worker."""
    doc = require_mapping(doc, "body")
    if not isinstance(doc.get("alerts"), list):
        raise ShapeError("alerts", "is required and must be a list (Alertmanager webhook version 4)")


def _check_alert(i: int, alert: Any) -> None:
    if not isinstance(alert, dict):
        raise ShapeError(f"alerts[{i}]", "must be an object")
    if alert.get("status") not in (FIRING, RESOLVED):
        raise ShapeError(f"alerts[{i}].status", "must be firing or resolved")
    if not isinstance(alert.get("labels"), dict):
        raise ShapeError(f"alerts[{i}].labels", "is required and must be an object")


def _time(value: Any) -> str | None:
    return iso_time(value) if isinstance(value, str) and value not in _ZERO_TIMES else None


def parse(doc: Any) -> list[Alert]:
    """One Alert per good alert: a bad one is skipped with a warning and never sinks the rest of its batch;
    only a body with no good alert at all fails (and is kept as failed)."""
    check(doc)
    out, errors = [], []
    for i, item in enumerate(doc["alerts"]):
        try:
            _check_alert(i, item)
            out.append(_alert(doc, item))
        except (ShapeError, ValueError, TypeError) as exc:
            log.warning("skipped alerts[%d] of an Alertmanager webhook: %s", i, exc)
            errors.append(exc)
    if errors and not out:
        raise errors[0]
    return out


def _alert(doc: dict, item: dict) -> Alert:
    common = str_labels(doc.get("commonAnnotations"))
    labels = str_labels(item["labels"])
    annotations = {**common, **str_labels(item.get("annotations"))}
    # Newer Alertmanagers send the fingerprint; older ones (and Grafana) may not: hash the labels as AM does.
    fingerprint = clean_text(str(item.get("fingerprint") or label_fingerprint(labels)))[:200]
    name = labels.get("alertname", "Alertmanager alert")
    if "table" in labels:
        for key, value in split_table(labels["table"]).items():
            labels.setdefault(key, value)
    for key in ("job_name", "dag_id", "pipeline_name"):
        if key in labels:
            labels.setdefault("pipeline", labels[key])
    labels.setdefault("policy", name)
    summary = annotations.get("summary") or annotations.get("description") or annotations.get("message") or ""
    if annotations.get("description") and annotations["description"] not in summary:
        summary = f"{summary}\n{annotations['description']}"
    links = []
    if item.get("generatorURL"):
        links.append(Link("Source", str(item["generatorURL"])))
    for key, text in (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard")):
        if annotations.get(key):
            links.append(Link(text, annotations[key]))
    if doc.get("externalURL"):
        links.append(Link("Alertmanager", str(doc["externalURL"])))
    title = annotations.get("title") or annotations.get("summary") or name
    return Alert(
        source=NAME,
        fingerprint=f"am:{fingerprint}",
        status=item["status"],
        title=title.splitlines()[0][:200] if title else name,
        severity=severity_from(labels.get("severity") or labels.get("priority")),
        kind=kind_from_text(name, labels.get("metric"), explicit=labels.get("kind")),
        summary=summary.strip(),
        labels=labels,
        links=tuple(links),
        started_at=_time(item.get("startsAt")),
        ended_at=_time(item.get("endsAt")) if item["status"] == RESOLVED else None,
        raw=item,
    )
