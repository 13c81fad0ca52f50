"""Google Cloud Monitoring webhooks: schema 1.2 incidents and the console's `version: "test"` notification.

https://cloud.google.com/monitoring/support/notification-options#webhooks
"""
from __future__ import annotations

import logging
import math
from typing import Any

from bot.alert import FIRING, KINDS, RESOLVED, Alert, Link, kind_from_text, severity_from, split_table
from bot.sources.base import (Secrets, ShapeError, WebhookRequest, check_token, epoch_to_iso, require_mapping,
                              str_labels)

NAME = "gcp-monitoring"
log = logging.getLogger("dre-bot.sources.gcp_monitoring")

_OPEN, _CLOSED = {"open", "acknowledged"}, {"closed"}


def verify(req: WebhookRequest, secrets: Secrets) -> None:
    check_token(req, secrets, allow_query=True, allow_basic=True, allow_bearer=True)


def check(doc: Any) -> None:
    """The envelope, on the request path; the incident's fields are checked by parse() in the worker."""
    doc = require_mapping(doc, "body")
    if not isinstance(doc.get("incident"), dict):
        raise ShapeError("incident", "is required and must be an object (Cloud Monitoring schema 1.2)")


def _check_incident(incident: dict) -> None:
    state = incident.get("state")
    if not isinstance(state, str) or state.lower() not in _OPEN | _CLOSED:
        raise ShapeError("incident.state", "must be one of open, acknowledged, closed")
    if not isinstance(incident.get("incident_id"), (str, int)):
        raise ShapeError("incident.incident_id", "is required")


# Where schema 1.2 has an object, and the objects inside those, as later readers of the raw body (the chart in
# bot/monitoring) expect them: a field of another type is dropped with a warning rather than losing the alert.
_OBJECTS = {"resource": ("labels",), "metric": ("labels",), "metadata": ("system_labels", "user_labels"),
            "condition": ("conditionThreshold", "conditionAbsent"), "policy_user_labels": ()}
_TEXTS = ("policy_name", "condition_name", "summary", "url", "scoping_project_id", "scoping_project_number",
          "severity", "resource_name", "resource_id", "resource_display_name")


def _clean_incident(incident: dict) -> dict:
    cleaned = dict(incident)
    for key, inner in _OBJECTS.items():
        value = cleaned.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            log.warning("dropped incident.%s of a Cloud Monitoring webhook: not an object", key)
            del cleaned[key]
            continue
        value = cleaned[key] = dict(value)
        for name in inner:
            if value.get(name) is not None and not isinstance(value[name], dict):
                log.warning("dropped incident.%s.%s of a Cloud Monitoring webhook: not an object", key, name)
                del value[name]
        for name in ("conditionThreshold", "conditionAbsent"):
            cond = value.get(name)
            if isinstance(cond, dict):
                cond = value[name] = dict(cond)
                if cond.get("aggregations") is not None and not isinstance(cond["aggregations"], list):
                    del cond["aggregations"]
                if cond.get("filter") is not None and not isinstance(cond["filter"], str):
                    del cond["filter"]
    for key in _TEXTS:
        value = cleaned.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            log.warning("dropped incident.%s of a Cloud Monitoring webhook: not text", key)
            del cleaned[key]
    for key in ("started_at", "ended_at", "threshold_value", "observed_value"):
        value = cleaned.get(key)
        if value is not None and not _finite_number(value):
            log.warning("dropped incident.%s of a Cloud Monitoring webhook: not a number", key)
            del cleaned[key]
    return cleaned


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return isinstance(value, (int, float)) and math.isfinite(value) and abs(value) < 1e15


def _documentation(incident: dict) -> tuple[str, str]:
    """The policy's documentation: (content, subject). Schema 1.2 sends {"content", "mime_type", "subject"}; the
    console's test notification sends a plain string."""
    doc = incident.get("documentation")
    if isinstance(doc, dict):
        return str(doc.get("content") or "").strip(), str(doc.get("subject") or "").strip()
    if isinstance(doc, str):
        return doc.strip(), ""
    return "", ""


# Metric types mapped onto our kinds, checked in order; a log-based metric (logging.googleapis.com/user/NAME) is
# judged by its name, as is anything not listed here.
# https://cloud.google.com/monitoring/api/metrics_gcp (bigquery, dataflow, composer, bigquerydatatransfer)
_METRIC_KINDS = (
    ("bigquery.googleapis.com/storage/", "volume"),          # stored_bytes, table_count, uploaded_row_count ...
    ("bigquery.googleapis.com/slots/", "quota"),
    ("bigquery.googleapis.com/reservation/", "quota"),
    ("bigquery.googleapis.com/job/num_in_flight", "quota"),
    ("bigquery.googleapis.com/query/", "quota"),             # query count and execution times against capacity
    ("bigquerydatatransfer.googleapis.com/", "job_failure"),
    ("dataflow.googleapis.com/job/data_watermark_age", "freshness"),
    ("dataflow.googleapis.com/job/system_lag", "freshness"),
    ("dataflow.googleapis.com/job/", "job_failure"),         # is_failed, failed ...
    ("composer.googleapis.com/", "job_failure"),
    ("dataproc.googleapis.com/", "job_failure"),
    ("datastream.googleapis.com/", "replication_lag"),
    ("monitoring.googleapis.com/uptime_check/", "infrastructure"),
    ("compute.googleapis.com/", "infrastructure"),
)


def kind_of(metric_type: str, resource_type: str, *names: object, explicit: object = None) -> str:
    """The alert kind: an explicit `kind` label, else the metric type, else the words of the names."""
    if isinstance(explicit, str) and explicit.strip().lower() in KINDS:
        return explicit.strip().lower()
    if metric_type.startswith("logging.googleapis.com/user/"):
        return kind_from_text(metric_type.removeprefix("logging.googleapis.com/user/"), *names)
    for prefix, kind in _METRIC_KINDS:
        if metric_type.startswith(prefix):
            return kind
    if resource_type == "uptime_url":
        return "infrastructure"
    return kind_from_text(*names, metric_type)


def _labels(incident: dict) -> dict[str, str]:
    resource = incident.get("resource") if isinstance(incident.get("resource"), dict) else {}
    metric = incident.get("metric") if isinstance(incident.get("metric"), dict) else {}
    metadata = incident.get("metadata") if isinstance(incident.get("metadata"), dict) else {}
    labels: dict[str, str] = {}
    labels.update(str_labels(metric.get("labels")))
    labels.update(str_labels(metadata.get("system_labels")))
    labels.update(str_labels(resource.get("labels")))
    labels.update(str_labels(metadata.get("user_labels")))
    labels.update(str_labels(incident.get("policy_user_labels")))
    if resource.get("type"):
        labels["resource_type"] = str(resource["type"])
    if metric.get("type"):
        labels["metric_type"] = str(metric["type"])
        if labels["metric_type"].startswith("logging.googleapis.com/user/"):
            labels["log_metric"] = labels["metric_type"].removeprefix("logging.googleapis.com/user/")
    if "project_id" in labels and "project" not in labels:
        labels["project"] = labels["project_id"]
    if "dataset_id" in labels and "dataset" not in labels:
        labels["dataset"] = labels["dataset_id"]
    if "table" not in labels and "table_id" in labels:
        labels["table"] = labels["table_id"]
    if "table" in labels and "." not in labels["table"] and ":" not in labels["table"]:
        # A bare table from a metric label lives in the resource's dataset and project: name it in full.
        name = labels["table"]
        if "dataset" in labels and "." not in name:
            name = f"{labels['dataset']}.{name}"
            if "project" in labels:
                name = f"{labels['project']}.{name}"
        labels["table"] = name
    if "table" in labels:
        for key, value in split_table(labels["table"]).items():
            labels.setdefault(key, value)
    for key in ("pipeline", "job_name", "job_id", "dataflow_job_name"):
        if key in labels:
            labels.setdefault("pipeline", labels[key])
    labels["policy"] = str(incident.get("policy_name") or "")
    return labels


def parse(doc: Any) -> list[Alert]:
    check(doc)
    _check_incident(doc["incident"])
    incident = _clean_incident(doc["incident"])
    doc = {**doc, "incident": incident}
    state = incident["state"].lower()
    labels = _labels(incident)
    policy = str(incident.get("policy_name") or "Cloud Monitoring alert")
    condition = str(incident.get("condition_name") or "")
    content, subject = _documentation(incident)
    # Cloud Monitoring's own sentence ("CPU utilization ... is above the threshold of 0.500 with a value of 0.790")
    # is the finding; the policy's documentation, written by the team for whoever is paged, is the summary.
    finding = str(incident.get("summary") or "").strip()
    summary = content or finding
    metric = incident.get("metric") if isinstance(incident.get("metric"), dict) else {}
    resource = incident.get("resource") if isinstance(incident.get("resource"), dict) else {}
    links = (Link("Cloud Monitoring incident", str(incident["url"])),) if incident.get("url") else ()
    title = subject or (f"{policy}: {condition}" if condition and condition not in policy else policy)
    return [Alert(
        source=NAME,
        fingerprint=f"gcp:{incident['incident_id']}",
        status=RESOLVED if state in _CLOSED else FIRING,
        title=title[:200],
        severity=severity_from(incident.get("severity") or labels.get("severity")),
        kind=kind_of(str(metric.get("type") or ""), str(resource.get("type") or ""), policy, condition,
                     metric.get("displayName"), explicit=labels.get("kind")),
        summary=summary,
        labels=labels,
        links=links,
        finding=finding[:500],
        started_at=epoch_to_iso(incident.get("started_at")),
        ended_at=epoch_to_iso(incident.get("ended_at")),
        raw=doc,
    )]
