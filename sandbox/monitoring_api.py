"""A local Cloud Monitoring (snoozes kept in SQLite, the rest in memory) that the real google-cloud-monitoring clients talk to.

google-cloud-monitoring has no REST transport: its clients speak gRPC (HTTP/2). So this emulator is a gRPC server
on loopback serving the two services the bot uses, with the library's own messages on the wire:

* `google.monitoring.v3.MetricService/ListTimeSeries`: series made from registered metrics (value functions of
  time), filtered on metric and resource type and labels, aligned to the request's alignment period, newest
  point first, and reduced across series when a cross-series reducer is asked for;
* `google.monitoring.v3.SnoozeService/{Create,Get,List,Update}Snooze`, with the API's rules on what may change
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.snoozes).

Clients reach it with a plaintext channel: `MONITORING_API_URL=http://127.0.0.1:PORT` (see bot/monitoring/client.py).
`app()` is a read-only JSON view for people (mounted at /sandbox/monitoring in sandbox mode). Tests read
`requests()` and `snoozes()`, and `inject_fault()` makes calls fail with a gRPC status.

>>> gcm = MonitoringEmulator()
>>> gcm.seed_examples()
>>> url = gcm.start()            # "http://127.0.0.1:54321"
"""
from __future__ import annotations

import copy
import fnmatch
import math
import re
import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import grpc
from google.cloud import monitoring_v3
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SKEW = 15.0              # seconds of clock skew the API allows on a snooze's start time
MAX_POINTS = 100_000     # the API's effective page size cap for FULL views
SNOOZE_FIELDS = {"display_name", "interval.start_time", "interval.end_time"}


@dataclass
class Metric:
    type: str
    value: Callable[[float], float]
    metric_labels: dict[str, str] = field(default_factory=dict)
    resource_type: str = "global"
    resource_labels: dict[str, str] = field(default_factory=dict)
    project: str | None = None          # None: found in every project


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _json(message) -> dict:
    """A message as the REST API writes it (camelCase, RFC 3339 times, enum names)."""
    return type(message).to_dict(message, preserving_proto_field_name=False, use_integers_for_enums=False)


def _epoch(ts) -> float:
    """Seconds from a Timestamp field as proto-plus gives it (a datetime), 0 when unset."""
    return ts.timestamp() if isinstance(ts, datetime) else 0.0


def _ts(epoch: float) -> dict:
    return {"seconds": int(epoch), "nanos": int((epoch % 1) * 1e9)}


# --- filters --------------------------------------------------------------------------------------------------

_TERM = re.compile(r'([A-Za-z_][\w.]*(?:\."[^"]+")?)\s*(!=|=)\s*"((?:[^"\\]|\\.)*)"')


def _filter_terms(text: str) -> list[tuple[str, str, str]]:
    """(field, op, value) for each `field = "value"` term; terms are ANDed, as in the alert conditions' filters."""
    if re.search(r"\bOR\b", text):
        raise _Abort(grpc.StatusCode.UNIMPLEMENTED, "the emulator handles AND-ed filters only")
    terms = [(f.replace('"', ""), op, v.replace('\\"', '"')) for f, op, v in _TERM.findall(text)]
    if not any(f == "metric.type" for f, _, _ in terms):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Field filter had an invalid value of \"{text}\": "
                                                       "it must name a metric.type.")
    return terms


def _field_value(metric: Metric, name: str) -> str | None:
    if name == "metric.type":
        return metric.type
    if name == "resource.type":
        return metric.resource_type
    for prefix, labels in (("metric.label", metric.metric_labels), ("resource.label", metric.resource_labels)):
        for p in (prefix + "s.", prefix + "."):
            if name.startswith(p):
                return labels.get(name[len(p):], "")
    return None          # metadata.* and other fields this emulator does not model: they match


def _matches(metric: Metric, terms: list[tuple[str, str, str]]) -> bool:
    for name, op, value in terms:
        actual = _field_value(metric, name)
        if actual is None:
            continue
        if (actual == value) != (op == "="):
            return False
    return True


_REDUCERS: dict[str, Callable[[list[float]], float]] = {
    "REDUCE_MEAN": lambda xs: sum(xs) / len(xs), "REDUCE_MAX": max, "REDUCE_MIN": min, "REDUCE_SUM": sum,
    "REDUCE_COUNT": lambda xs: float(len(xs)),
}


class MonitoringEmulator:
    def __init__(self, db_path: str = ":memory:") -> None:
        """`db_path`: the SQLite file keeping the snoozes, so a restarted sandbox still has the snoozes its
        silences made (`:memory:`: forgotten with the object)."""
        self._lock = threading.Lock()
        self._metrics: list[Metric] = []
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS monitoring_snoozes (name TEXT PRIMARY KEY, snooze BLOB NOT NULL)")
        self._snoozes: dict[str, monitoring_v3.Snooze] = {
            name: monitoring_v3.Snooze.deserialize(blob)
            for name, blob in self._db.execute("SELECT name, snooze FROM monitoring_snoozes ORDER BY rowid")}
        self._requests: list[dict[str, Any]] = []
        self._faults: list[dict[str, Any]] = []
        self._server: grpc.Server | None = None
        self.url: str | None = None

    # --- what a test or the sandbox sets up -------------------------------------------------------------------
    def add_metric(self, metric_type: str, value: Callable[[float], float], *, project: str | None = None,
                   metric_labels: dict[str, str] | None = None, resource_type: str = "global",
                   resource_labels: dict[str, str] | None = None) -> None:
        with self._lock:
            self._metrics.append(Metric(metric_type, value, dict(metric_labels or {}), resource_type,
                                        dict(resource_labels or {}), project))

    def seed_examples(self) -> None:
        """Series for the Cloud Monitoring alerts in examples/alerts and ../shared/vendor-samples: each crosses its
        threshold at its incident's start."""
        # gcp_monitoring_freshness: hourly loads keep staleness under 60 minutes, until they stop 180 minutes
        # before the incident, when staleness passes the 180-minute threshold.
        stopped = 1764140400 - 180 * 60
        self.add_metric("logging.googleapis.com/user/table_staleness_minutes",
                        lambda t: (t - stopped) / 60 if t >= stopped else (t % 3600) / 60,
                        metric_labels={"table_id": "orders"}, resource_type="bigquery_dataset",
                        resource_labels={"project_id": "dre-sandbox", "dataset_id": "analytics"})
        # The vendor's open 1.2 sample: a VM's CPU climbs past 0.5 to about 0.79 at the incident's start.
        self.add_metric("compute.googleapis.com/instance/cpu/utilization", ramp(1675315787, 0.25, 0.79),
                        metric_labels={"instance_name": "choonho-test"}, resource_type="gce_instance",
                        resource_labels={"project_id": "xxxxxxxxxxxxxxxxxxxxxxxx", "zone": "us-central1-a"})

    def inject_fault(self, method: str, code: str = "UNAVAILABLE", count: int = 1, message: str = "") -> None:
        """Answer the next `count` calls whose method matches the glob (e.g. "ListTimeSeries", "*Snooze") with the
        gRPC status `code` (UNAVAILABLE is what HTTP 503 becomes, PERMISSION_DENIED 403)."""
        with self._lock:
            self._faults.append({"method": method, "code": grpc.StatusCode[code], "remaining": count,
                                 "message": message or f"injected {code}"})

    def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every call in order (faulted ones too): method, request (REST JSON form), status."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._requests if method is None or r["method"] == method]

    def snoozes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [_json(s) for s in self._snoozes.values()]

    # --- serving ----------------------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve gRPC on loopback; the MONITORING_API_URL that reaches it."""
        server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="monitoring-emulator"))
        server.add_generic_rpc_handlers([self._handlers()])
        bound = server.add_insecure_port(f"{host}:{port}")
        server.start()
        self._server, self.url = server, f"http://{host}:{bound}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=1).wait()
            self._server = None

    def __enter__(self) -> "MonitoringEmulator":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _handlers(self) -> grpc.GenericRpcHandler:
        m = monitoring_v3
        methods = {
            ("MetricService", "ListTimeSeries"): (m.ListTimeSeriesRequest, m.ListTimeSeriesResponse,
                                                  self._list_time_series),
            ("SnoozeService", "CreateSnooze"): (m.CreateSnoozeRequest, m.Snooze, self._create_snooze),
            ("SnoozeService", "GetSnooze"): (m.GetSnoozeRequest, m.Snooze, self._get_snooze),
            ("SnoozeService", "ListSnoozes"): (m.ListSnoozesRequest, m.ListSnoozesResponse, self._list_snoozes),
            ("SnoozeService", "UpdateSnooze"): (m.UpdateSnoozeRequest, m.Snooze, self._update_snooze),
        }
        by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
        for (service, method), (req_cls, resp_cls, func) in methods.items():
            by_service.setdefault(service, {})[method] = grpc.unary_unary_rpc_method_handler(
                self._wrap(method, func), request_deserializer=req_cls.deserialize,
                response_serializer=resp_cls.serialize)
        return _Many([grpc.method_handlers_generic_handler(f"google.monitoring.v3.{s}", h)
                      for s, h in by_service.items()])

    def _wrap(self, method: str, func):
        def handle(request, context: grpc.ServicerContext):
            entry = {"method": method, "request": _json(request), "status": "OK",
                     "metadata": {k: v for k, v in context.invocation_metadata() if k == "x-goog-request-params"}}
            with self._lock:
                self._requests.append(entry)
                fault = next((f for f in self._faults if f["remaining"] > 0
                              and fnmatch.fnmatchcase(method, f["method"])), None)
                if fault is not None:
                    fault["remaining"] -= 1
                    entry["status"] = fault["code"].name
            if fault is not None:
                context.abort(fault["code"], fault["message"])
            try:
                with self._lock:
                    return func(request)
            except _Abort as exc:
                entry["status"] = exc.code.name
                context.abort(exc.code, exc.message)
        return handle

    # --- MetricService ----------------------------------------------------------------------------------------
    def _list_time_series(self, req: monitoring_v3.ListTimeSeriesRequest) -> monitoring_v3.ListTimeSeriesResponse:
        project = _project_of(req.name, "name")
        terms = _filter_terms(req.filter)
        start, end = _epoch(req.interval.start_time), _epoch(req.interval.end_time)
        if not end:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "interval.end_time is required")
        start = start or end
        if start > end:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "interval.start_time must not be after end_time")
        aggs = [a for a in (req.aggregation, req.secondary_aggregation) if a is not None]
        step, reducer, group_by = 60, None, []
        for agg in aggs:
            aligned = agg.per_series_aligner != monitoring_v3.Aggregation.Aligner.ALIGN_NONE
            period = agg.alignment_period.total_seconds() if agg.alignment_period else 0
            if (aligned or agg.cross_series_reducer) and period < 60:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "The alignment period must be at least 60 seconds "
                                                               "when an aligner or reducer is set.")
            step = max(step, int(period) if period else step)
            if agg.cross_series_reducer:
                reducer, group_by = agg.cross_series_reducer.name, list(agg.group_by_fields)
        found = [mt for mt in self._metrics if (mt.project in (None, project)) and _matches(mt, terms)]
        times = [t for t in range(int(end // step * step), int(start), -step)][: MAX_POINTS]
        if reducer and found:
            found = _reduce(found, reducer, group_by)
        series = []
        for mt in found:
            points = [] if req.view == monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.HEADERS else [
                {"interval": {"start_time": _ts(t), "end_time": _ts(t)}, "value": {"double_value": mt.value(t)}}
                for t in times]
            series.append({"metric": {"type": mt.type, "labels": mt.metric_labels},
                           "resource": {"type": mt.resource_type, "labels": mt.resource_labels},
                           "metric_kind": "GAUGE", "value_type": "DOUBLE", "points": points})
        return monitoring_v3.ListTimeSeriesResponse(time_series=series)

    # --- SnoozeService ----------------------------------------------------------------------------------------
    def _create_snooze(self, req: monitoring_v3.CreateSnoozeRequest) -> monitoring_v3.Snooze:
        project = _project_of(req.parent, "parent")
        snooze = monitoring_v3.Snooze(req.snooze)
        if not snooze.display_name:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "snooze.display_name is required")
        policies = list(snooze.criteria.policies)
        if not policies:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "snooze.criteria.policies must name at least one policy")
        for policy in policies:
            if not re.fullmatch(rf"projects/{re.escape(project)}/alertPolicies/[^/]+", policy):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{policy} is not an alert policy of {req.parent}")
        now = time.time()
        start = _epoch(snooze.interval.start_time) or now
        end = _epoch(snooze.interval.end_time)
        if start < now - SKEW:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "interval.start_time cannot be in the past")
        if not end or end <= start:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "interval.end_time must be after interval.start_time")
        snooze.name = f"projects/{project}/snoozes/{secrets.randbelow(10 ** 19)}"
        snooze.interval = {"start_time": _ts(start), "end_time": _ts(end)}
        self._keep(snooze)
        return snooze

    def _keep(self, snooze: monitoring_v3.Snooze) -> None:
        self._snoozes[snooze.name] = snooze
        self._db.execute("INSERT OR REPLACE INTO monitoring_snoozes (name, snooze) VALUES (?, ?)",
                         (snooze.name, monitoring_v3.Snooze.serialize(snooze)))

    def _find(self, name: str) -> monitoring_v3.Snooze:
        if name not in self._snoozes:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Requested entity was not found: {name}")
        return self._snoozes[name]

    def _get_snooze(self, req: monitoring_v3.GetSnoozeRequest) -> monitoring_v3.Snooze:
        return self._find(req.name)

    def _list_snoozes(self, req: monitoring_v3.ListSnoozesRequest) -> monitoring_v3.ListSnoozesResponse:
        project = _project_of(req.parent, "parent")
        keep = _interval_filter(req.filter)
        found = [s for n, s in self._snoozes.items() if n.startswith(f"projects/{project}/") and keep(s)]
        offset = int(req.page_token or 0)
        size = req.page_size if 0 < req.page_size <= 1000 else 1000
        page = found[offset:offset + size]
        token = str(offset + size) if offset + size < len(found) else ""
        return monitoring_v3.ListSnoozesResponse(snoozes=page, next_page_token=token)

    def _update_snooze(self, req: monitoring_v3.UpdateSnoozeRequest) -> monitoring_v3.Snooze:
        paths = set(req.update_mask.paths) if req.update_mask else set()
        if not paths or paths - SNOOZE_FIELDS:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "update_mask must list some of: "
                                                           + ", ".join(sorted(SNOOZE_FIELDS)))
        current = self._find(req.snooze.name)
        now = time.time()
        start, end = _epoch(current.interval.start_time), _epoch(current.interval.end_time)
        if end <= now:
            raise _Abort(grpc.StatusCode.FAILED_PRECONDITION, "A snooze whose end time is in the past is read-only.")
        if start <= now and "interval.start_time" in paths:
            raise _Abort(grpc.StatusCode.FAILED_PRECONDITION, "The start time of a snooze that has started cannot "
                                                              "change.")
        new_start = _epoch(req.snooze.interval.start_time) if "interval.start_time" in paths else start
        new_end = _epoch(req.snooze.interval.end_time) if "interval.end_time" in paths else end
        if "interval.end_time" in paths and (new_end < now - SKEW or new_end <= new_start):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "interval.end_time must be after now and the start time")
        updated = monitoring_v3.Snooze(current)
        if "display_name" in paths:
            updated.display_name = req.snooze.display_name
        updated.interval = {"start_time": _ts(new_start), "end_time": _ts(new_end)}
        self._keep(updated)
        return updated

    # --- a JSON view for people -------------------------------------------------------------------------------
    def app(self) -> Starlette:
        """GET /v3/projects/{project}/snoozes and /requests: what the bot did in the sandbox's Cloud Monitoring."""
        async def snoozes(request: Request) -> JSONResponse:
            prefix = f"projects/{request.path_params['project']}/"
            return JSONResponse({"snoozes": [s for s in self.snoozes() if s["name"].startswith(prefix)]})

        async def requests(request: Request) -> JSONResponse:
            return JSONResponse({"requests": self.requests()})
        return Starlette(routes=[Route("/v3/projects/{project}/snoozes", snoozes),
                                 Route("/requests", requests)])


class _Many(grpc.GenericRpcHandler):
    """Several services' handlers as one (grpc's own helper serves one service)."""

    def __init__(self, handlers: list[grpc.GenericRpcHandler]):
        self.handlers = handlers

    def service(self, handler_call_details):
        for h in self.handlers:
            found = h.service(handler_call_details)
            if found is not None:
                return found
        return None


def _project_of(name: str, what: str) -> str:
    m = re.fullmatch(r"projects/([^/]+)", name or "")
    if not m:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} must be projects/[PROJECT_ID_OR_NUMBER], not {name!r}")
    return m.group(1)


def _interval_filter(text: str) -> Callable[[monitoring_v3.Snooze], bool]:
    """ListSnoozes' filter: `interval.start_time > "RFC3339"` terms joined by AND."""
    checks = []
    for part in filter(None, (p.strip() for p in re.split(r"\bAND\b", text or ""))):
        m = re.fullmatch(r'interval\.(start_time|end_time)\s*(<=|>=|<|>|=)\s*"([^"]+)"', part)
        if not m:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported snooze filter term: {part}")
        when = datetime.fromisoformat(m.group(3).replace("Z", "+00:00")).timestamp()
        checks.append((m.group(1), m.group(2), when))
    ops = {"<": float.__lt__, ">": float.__gt__, "<=": float.__le__, ">=": float.__ge__, "=": float.__eq__}

    def keep(s: monitoring_v3.Snooze) -> bool:
        return all(ops[op](_epoch(getattr(s.interval, f)), when) for f, op, when in checks)
    return keep


def _reduce(metrics: list[Metric], reducer: str, group_by: list[str]) -> list[Metric]:
    """One series per group of `group_by` label values, each point reduced across the group's series."""
    groups: dict[tuple, list[Metric]] = {}
    for mt in metrics:
        key = tuple(_field_value(mt, g) or "" for g in group_by)
        groups.setdefault(key, []).append(mt)
    out = []
    for key, members in groups.items():
        fns = [m.value for m in members]
        reduce = _REDUCERS.get(reducer, _REDUCERS["REDUCE_MEAN"])
        labels = {g.rsplit(".", 1)[-1]: v for g, v in zip(group_by, key) if g.startswith("metric.")}
        resource = {g.rsplit(".", 1)[-1]: v for g, v in zip(group_by, key) if g.startswith("resource.")}
        out.append(Metric(members[0].type, lambda t, fns=fns, reduce=reduce: reduce([f(t) for f in fns]),
                          labels, members[0].resource_type, resource))
    return out


def ramp(start: float, base: float, peak: float, rise: float = 1200.0) -> Callable[[float], float]:
    """A metric that idles around `base`, climbs over `rise` seconds to reach `peak` at `start`, and stays there."""
    def value(t: float) -> float:
        wobble = 0.04 * math.sin(t / 900.0) + 0.015 * math.sin(t / 97.0)
        if t < start - rise:
            return base + wobble
        if t < start:
            return base + (peak - base) * (t - (start - rise)) / rise + wobble / 2
        return peak + wobble / 2
    return value
