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
    summary = annotations.get("summary") or annotations.get("message") or ""
    description = annotations.get("description") or ""
    if description and description not in summary:
        summary = f"{summary}\n{description}"
    return _build(doc, item, labels, annotations, fingerprint, name, summary.strip())


# Grafana's unified alerting adds these to each alert (Alertmanager sends only generatorURL); empty means none.
# https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/
_GRAFANA_LINKS = (("panelURL", "Panel"), ("dashboardURL", "Dashboard"), ("imageURL", "Screenshot"),
                  ("silenceURL", "Silence"))


def _values(item: dict) -> str:
    """What Grafana evaluated: `values` ({"B": 44.239, "C": 1}), else the older `valueString`."""
    values = item.get("values")
    if isinstance(values, dict) and values:
        shown = []
        for ref, value in list(values.items())[:6]:
            shown.append(f"{ref}={value:.4g}" if isinstance(value, float) else f"{ref}={value}")
        return ", ".join(shown)
    if isinstance(item.get("valueString"), str):
        return item["valueString"].strip()[:300]
    return ""


def finding(annotations: dict[str, str], item: dict) -> str:
    """The sender's words for what is wrong (the description, else the summary), with the values Grafana saw."""
    words = (annotations.get("description") or annotations.get("summary") or annotations.get("message") or "")
    words = words.strip().splitlines()[0] if words.strip() else ""
    values = _values(item)
    if words and values:
        return f"{words} ({values})"
    return words or values


def _build(doc: dict, item: dict, labels: dict[str, str], annotations: dict[str, str], fingerprint: str,
           name: str, summary: str) -> Alert:
    links = []
    if annotations.get("runbook_url"):
        links.append(Link("Runbook", annotations["runbook_url"]))
    if item.get("generatorURL"):
        links.append(Link("Alert rule" if "silenceURL" in item else "Source", str(item["generatorURL"])))
    if annotations.get("dashboard_url"):
        links.append(Link("Dashboard", annotations["dashboard_url"]))
    for key, text in _GRAFANA_LINKS:
        if isinstance(item.get(key), str) and item[key]:
            links.append(Link(text, item[key]))
    if doc.get("externalURL"):
        links.append(Link("Grafana" if "silenceURL" in item else "Alertmanager", str(doc["externalURL"])))
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
        finding=finding(annotations, item)[:500],
        started_at=_time(item.get("startsAt")),
        ended_at=_time(item.get("endsAt")) if item["status"] == RESOLVED else None,
        raw=item,
    )
