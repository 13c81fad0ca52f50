"""The team's numbers for Prometheus (GET /metrics), read from the database at each scrape, so they survive
restarts and agree with /dre stats (docs/METRICS.md).

Counters only ever grow (incidents opened, resolutions, alerts silenced, handoffs: rows that are never deleted
or changed back); what can go down (open incidents, resolved incidents by cause, MTTA and MTTR over the last
7 days) is a gauge."""
from __future__ import annotations

import sqlite3

from bot import timings
from bot.reports import stats

WINDOW = 7 * 86400.0


def number(value: float) -> str:
    """Exposition text for a value: integers in full (never 1.23457e+06), other values exactly."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {number(value)}" if text else f"{name} {number(value)}")
    return lines


def render(conn: sqlite3.Connection, now: float) -> str:
    lines: list[str] = []
    opened = conn.execute("SELECT source, count(*) AS n FROM incidents GROUP BY source ORDER BY source").fetchall()
    lines += _family("dre_incidents_opened_total", "counter", "Incidents opened, by source.",
                     [({"source": r["source"] or "unknown"}, r["n"]) for r in opened])
    resolutions = conn.execute("SELECT count(*) FROM timeline WHERE kind = 'status' AND text LIKE 'Resolved%'"
                               ).fetchone()[0]
    lines += _family("dre_incident_resolutions_total", "counter", "Times an incident was resolved (a reopened "
                     "incident resolved again counts twice).", [({}, resolutions)])
    resolved = conn.execute("SELECT COALESCE(resolution_cause, 'none') AS cause, count(*) AS n FROM incidents "
                            "WHERE status = 'resolved' GROUP BY 1 ORDER BY 1").fetchall()
    lines += _family("dre_incidents_resolved", "gauge", "Resolved incidents, by cause category (none: resolved "
                     "without one).", [({"cause": r["cause"]}, r["n"]) for r in resolved])
    open_now = conn.execute("SELECT status, count(*) AS n FROM incidents WHERE status != 'resolved' "
                            "GROUP BY status ORDER BY status").fetchall()
    lines += _family("dre_incidents_open", "gauge", "Incidents open now, by status.",
                     [({"status": r["status"]}, r["n"]) for r in open_now])
    silenced = conn.execute("SELECT count(*) FROM suppressed").fetchone()[0]
    lines += _family("dre_alerts_silenced_total", "counter", "Alerts held by silences.", [({}, silenced)])
    rows = conn.execute("SELECT * FROM incidents WHERE opened_at >= ?", (now - WINDOW,)).fetchall()
    for metric, what, attr in (("dre_mtta_seconds", "acknowledge", "tta"), ("dre_mttr_seconds", "resolve", "ttr")):
        values = [v for v in (getattr(timings.of(r), attr) for r in rows) if v is not None]
        samples = [({"quantile": "0.5"}, timings.median(values)), ({"quantile": "0.9"}, timings.percentile(values, 90))]
        lines += _family(metric, "gauge", f"Time to {what}, median and p90, of the incidents opened in the last "
                         "7 days (absent when there were none).", [(k, v) for k, v in samples if v is not None])
    fp = stats.compute(conn, now - WINDOW, now).false_positive_share
    if fp is not None:
        lines += _family("dre_false_positive_ratio", "gauge", "False positives among incidents resolved with a "
                         "cause, opened in the last 7 days.", [({}, fp)])
    handoffs = conn.execute("SELECT count(*) AS n FROM handoffs").fetchone()["n"]
    waiting = conn.execute("SELECT count(*) FROM handoffs WHERE acked_at IS NULL AND id = (SELECT max(id) FROM "
                           "handoffs)").fetchone()[0]
    lines += _family("dre_handoffs_total", "counter", "Handoffs posted.", [({}, handoffs)])
    lines += _family("dre_handoffs_unacknowledged", "gauge", "1 while the newest handoff waits for the incoming "
                     "on-call to acknowledge it.", [({}, waiting)])
    return "\n".join(lines) + "\n"
