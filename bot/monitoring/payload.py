"""What a Cloud Monitoring incident (webhook schema 1.2) says about its alert policy and its metric. Pure: no I/O.

https://cloud.google.com/monitoring/support/notification-options#schema-webhook
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

# A project id (6-30 lowercase letters, digits, hyphens) or number; anything else (a console placeholder such as
# "<My Project ID>") is not one.
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]|\d+")
_CONDITION = re.compile(r"projects/([^/]+)/alertPolicies/([^/]+)(?:/conditions/[^/]+)?")

BEFORE = 6 * 3600          # the chart starts this long before the incident...
AFTER_END = 1800           # ...and ends this long after it closed (or now),
LONGEST = 12 * 3600        # but shows at most this long after the incident started.
MAX_POINTS = 720           # points per series a chart can show legibly; the alignment widens to stay under it


@dataclass(frozen=True)
class ChartSpec:
    """One ListTimeSeries request and what to draw with its answer."""
    project: str
    filter: str
    started_at: float
    ended_at: float | None
    aggregations: tuple[dict, ...] = ()
    threshold: float | None = None
    comparison: str = ""
    metric: str = ""
    policy: str = ""
    condition: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["aggregations"] = list(self.aggregations)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ChartSpec":
        return cls(**{**d, "aggregations": tuple(d.get("aggregations") or ())})

    def interval(self, now: float) -> tuple[float, float]:
        """From BEFORE the start to the end (plus a little) or now, at most LONGEST after the start."""
        end = now if self.ended_at is None else min(now, self.ended_at + AFTER_END)
        end = min(end, self.started_at + LONGEST)
        return self.started_at - BEFORE, max(end, self.started_at + 60)

    def aggregation(self, now: float) -> tuple[dict, dict | None]:
        """The condition's own aggregations (primary, secondary), their alignment widened when the window would
        hold more than MAX_POINTS; ALIGN_MEAN when the condition has none."""
        start, end = self.interval(now)
        floor = max(60, -(-int(end - start) // MAX_POINTS // 60) * 60)
        aggs = [dict(a) for a in self.aggregations[:2]] or [{"perSeriesAligner": "ALIGN_MEAN"}]
        for agg in aggs:
            period = _seconds(agg.get("alignmentPeriod"))
            if agg.get("perSeriesAligner", "ALIGN_NONE") != "ALIGN_NONE" or agg.get("crossSeriesReducer"):
                agg["alignmentPeriod"] = f"{max(period or 0, floor)}s"
        return aggs[0], (aggs[1] if len(aggs) > 1 else None)


@dataclass(frozen=True)
class Facts:
    """The policy behind the alert (for snoozes) and the chart of its metric (None when there is nothing to chart)."""
    policy: str | None = None          # projects/P/alertPolicies/ID
    chart: ChartSpec | None = None
    why_no_chart: str = ""


def _seconds(value: Any) -> int | None:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return int(float(value[:-1]))
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _project(*candidates: Any) -> str | None:
    for c in candidates:
        if c is not None and _PROJECT.fullmatch(str(c)):
            return str(c)
    return None


def policy_name(incident: dict) -> str | None:
    """`projects/P/alertPolicies/ID`: from the condition's resource name (policy_name is the display name in 1.2,
    but the resource name in the console's test notification). A placeholder project falls back to the scoping
    project, which is where alert policies live."""
    for raw in ((incident.get("condition") or {}).get("name") if isinstance(incident.get("condition"), dict) else None,
                incident.get("condition_name"), incident.get("policy_name")):
        m = _CONDITION.fullmatch(str(raw or "").strip())
        if m:
            project = _project(m.group(1), incident.get("scoping_project_id"), incident.get("scoping_project_number"))
            return f"projects/{project}/alertPolicies/{m.group(2)}" if project else None
    return None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _filter_from_metric(incident: dict) -> str | None:
    """A filter for the incident's own time series when the condition carries none: its metric and resource."""
    metric = incident.get("metric") if isinstance(incident.get("metric"), dict) else {}
    resource = incident.get("resource") if isinstance(incident.get("resource"), dict) else {}
    if not metric.get("type"):
        return None
    parts = [f"metric.type = {_quote(str(metric['type']))}"]
    if resource.get("type"):
        parts.append(f"resource.type = {_quote(str(resource['type']))}")
    for key, value in sorted((metric.get("labels") or {}).items()):
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key)):
            parts.append(f"metric.labels.{key} = {_quote(str(value))}")
    return " AND ".join(parts)


def facts(doc: Any) -> Facts:
    """Everything the bot needs from a gcp-monitoring body, or Facts() when it is not an incident it can use."""
    if not isinstance(doc, dict) or not isinstance(doc.get("incident"), dict):
        return Facts()
    if doc.get("version") == "test":
        return Facts(None, None, "this is Cloud Monitoring's test notification, which names no real policy or metric")
    incident = doc["incident"]
    resource = incident.get("resource") if isinstance(incident.get("resource"), dict) else {}
    if resource.get("type") in ("uptime_url", "uptime_check") or "uptime" in str(incident.get("condition_name") or
                                                                               "").lower():
        return Facts(policy_name(incident), None, "it is an uptime check, which has no metric series to chart; "
                                                  "the incident link shows the check's results")
    policy = policy_name(incident)
    condition = incident.get("condition") if isinstance(incident.get("condition"), dict) else {}
    threshold_cond = condition.get("conditionThreshold") or condition.get("conditionAbsent") or {}
    metric = incident.get("metric") if isinstance(incident.get("metric"), dict) else {}
    labels = (incident.get("resource") or {}).get("labels") if isinstance(incident.get("resource"), dict) else {}
    project = _project(incident.get("scoping_project_id"), policy.split("/")[1] if policy else None,
                       (labels or {}).get("project_id"), incident.get("scoping_project_number"))
    started = _number(incident.get("started_at"))
    filter_ = threshold_cond.get("filter") if isinstance(threshold_cond.get("filter"), str) else None
    if not filter_ and not condition.get("conditionThreshold") and any(
            k.startswith("condition") and k not in ("conditionThreshold", "conditionAbsent") for k in condition):
        kind = next(k for k in condition if k.startswith("condition"))
        return Facts(policy, None, f"its condition is a {kind.removeprefix('condition')} condition, not a metric "
                                   "filter; Cloud Monitoring's console charts it")
    filter_ = filter_ or _filter_from_metric(incident)
    if not filter_:
        return Facts(policy, None, "the alert names no metric, so there is nothing to chart")
    if project is None:
        return Facts(policy, None, "the alert names no project")
    if not started:
        return Facts(policy, None, "the alert has no start time")
    aggregations = tuple(a for a in threshold_cond.get("aggregations") or () if isinstance(a, dict))
    threshold = _number(threshold_cond.get("thresholdValue"))
    if threshold is None:
        threshold = _number(incident.get("threshold_value"))
    return Facts(policy, ChartSpec(
        project=project, filter=filter_, started_at=started, ended_at=_number(incident.get("ended_at")) or None,
        aggregations=aggregations, threshold=threshold, comparison=str(threshold_cond.get("comparison") or ""),
        metric=str(metric.get("displayName") or metric.get("type") or ""),
        policy=str(incident.get("policy_name") or ""),
        condition=str(condition.get("displayName") or incident.get("condition_name") or "")))
