"""The time series behind a Cloud Monitoring alert: fetched with ListTimeSeries, drawn as a PNG with matplotlib.

https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone

from bot.monitoring.payload import ChartSpec

MAX_SERIES = 8              # lines a chart can tell apart; the rest are counted in the legend
MAX_POINTS_READ = 20_000    # stop paging after this many points: a filter that matches too much


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]     # (epoch seconds, value), oldest first


@dataclass(frozen=True)
class Fetched:
    series: list[Series]
    start: float
    end: float
    more: int = 0                          # series left out of the chart


def _timestamp(seconds: float) -> dict:
    return {"seconds": int(seconds), "nanos": int((seconds % 1) * 1e9)}


def _aggregation(agg: dict) -> dict:
    """The condition's aggregation (JSON names, as in the webhook) as the client's field names."""
    out: dict = {}
    if agg.get("alignmentPeriod"):
        out["alignment_period"] = {"seconds": int(float(str(agg["alignmentPeriod"]).rstrip("s")))}
    for json_name, name in (("perSeriesAligner", "per_series_aligner"), ("crossSeriesReducer", "cross_series_reducer")):
        if agg.get(json_name):
            out[name] = agg[json_name]
    if agg.get("groupByFields"):
        out["group_by_fields"] = list(agg["groupByFields"])
    return out


def request(spec: ChartSpec, now: float) -> dict:
    """The ListTimeSeriesRequest for a chart, as a dict the client takes."""
    start, end = spec.interval(now)
    primary, secondary = spec.aggregation(now)
    req = {"name": f"projects/{spec.project}", "filter": spec.filter,
           "interval": {"start_time": _timestamp(start), "end_time": _timestamp(end)},
           "aggregation": _aggregation(primary), "view": "FULL"}
    if secondary:
        req["secondary_aggregation"] = _aggregation(secondary)
    return req


def _value(point) -> float | None:
    v = point.value
    kind = type(v).pb(v).WhichOneof("value")
    if kind in ("double_value", "int64_value"):
        return float(getattr(v, kind))
    if kind == "bool_value":
        return 1.0 if v.bool_value else 0.0
    if kind == "distribution_value":
        return float(v.distribution_value.mean)
    return None


def _label(ts) -> str:
    labels = {**dict(ts.resource.labels), **dict(ts.metric.labels)}
    shown = [f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("project_id",)]
    return ", ".join(shown)[:60] or ts.metric.type


def fetch(client, spec: ChartSpec, now: float, timeout: float) -> Fetched:
    """Every series the filter matches in the window (the first MAX_SERIES drawn). Raises the client's errors."""
    req = request(spec, now)
    series: list[Series] = []
    more, read = 0, 0
    for ts in client.list_time_series(request=req, retry=None, timeout=timeout):
        points = []
        for p in ts.points:
            value = _value(p)
            if value is not None:
                points.append((p.interval.end_time.timestamp(), value))
        read += len(points)
        if not points:
            continue
        if len(series) >= MAX_SERIES:
            more += 1
        else:
            series.append(Series(_label(ts), sorted(points)))
        if read >= MAX_POINTS_READ:
            break
    start, end = spec.interval(now)
    return Fetched(series, start, end, more)


_COMPARISON = {"COMPARISON_GT": ">", "COMPARISON_GE": "≥", "COMPARISON_LT": "<", "COMPARISON_LE": "≤",
               "COMPARISON_EQ": "=", "COMPARISON_NE": "≠"}


def describe_threshold(spec: ChartSpec) -> str:
    if spec.threshold is None:
        return ""
    return f"threshold {_COMPARISON.get(spec.comparison, '')} {spec.threshold:g}".replace("  ", " ")


def render(spec: ChartSpec, data: Fetched) -> bytes:
    """A PNG: each series, the threshold as a dashed line, the incident's start (and end) marked.

    Uses matplotlib's object API on the Agg canvas, never pyplot: no global figure state, so the outbox's threads
    can draw at once."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    def when(epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, tz=timezone.utc)

    fig = Figure(figsize=(9, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for s in data.series:
        ax.plot([when(t) for t, _ in s.points], [v for _, v in s.points], linewidth=1.4, label=s.label)
    if spec.threshold is not None:
        ax.axhline(spec.threshold, color="#d62728", linestyle="--", linewidth=1.2, label=describe_threshold(spec))
    ax.axvline(when(spec.started_at), color="#ff7f0e", linewidth=1.2, label="incident start")
    if spec.ended_at:
        ax.axvline(when(spec.ended_at), color="#2ca02c", linewidth=1.2, label="incident end")
    ax.set_xlim(when(data.start), when(data.end))
    locator = AutoDateLocator(tz=timezone.utc)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=timezone.utc))
    ax.set_xlabel("UTC")
    ax.grid(True, alpha=0.3)
    title = spec.metric or "metric"
    if spec.policy:
        title = f"{title} — {spec.policy}"
    ax.set_title(title[:100], fontsize=11)
    handles, labels = ax.get_legend_handles_labels()
    if data.more:
        handles.append(ax.plot([], [], alpha=0)[0])
        labels.append(f"+{data.more} more series")
    ax.legend(handles, labels, loc="best", fontsize=8, framealpha=0.8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
