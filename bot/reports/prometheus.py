"""The team's numbers for Prometheus (GET /metrics), read from the database at each scrape, so they survive
restarts and agree with /dre stats: counters since the bot's first incident, and MTTA/MTTR quantiles over the
last 7 days as summaries (docs/METRICS.md)."""
from __future__ import annotations

import sqlite3

from bot.reports import stats, timings

WINDOW = 7 * 86400.0


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")
    return lines


def render(conn: sqlite3.Connection, now: float) -> str:
    lines: list[str] = []
    opened = conn.execute("SELECT source, severity, count(*) AS n FROM incidents GROUP BY source, severity "
                          "ORDER BY source, severity").fetchall()
    lines += _family("dre_incidents_opened_total", "counter", "Incidents opened, by source and severity.",
                     [({"source": r["source"] or "unknown", "severity": r["severity"]}, r["n"]) for r in opened])
    resolved = conn.execute("SELECT COALESCE(resolution_cause, 'none') AS cause, count(*) AS n FROM incidents "
                            "WHERE status = 'resolved' GROUP BY 1 ORDER BY 1").fetchall()
    lines += _family("dre_incidents_resolved_total", "counter", "Incidents resolved, by cause category "
                     "(none: resolved without one).", [({"cause": r["cause"]}, r["n"]) for r in resolved])
    open_now = conn.execute("SELECT status, count(*) AS n FROM incidents WHERE status != 'resolved' "
                            "GROUP BY status ORDER BY status").fetchall()
    lines += _family("dre_incidents_open", "gauge", "Incidents open now, by status.",
                     [({"status": r["status"]}, r["n"]) for r in open_now])
    silenced = conn.execute("SELECT count(*) FROM suppressed").fetchone()[0]
    lines += _family("dre_alerts_silenced_total", "counter", "Alerts held by silences.", [({}, silenced)])
    rows = conn.execute("SELECT * FROM incidents WHERE opened_at >= ?", (now - WINDOW,)).fetchall()
    for metric, what, attr in (("dre_time_to_acknowledge_seconds", "acknowledge", "tta"),
                               ("dre_time_to_resolve_seconds", "resolve", "ttr")):
        values = [v for v in (getattr(timings.of(r), attr) for r in rows) if v is not None]
        samples = [({"quantile": q}, timings.percentile(values, p) if p != 50 else timings.median(values))
                   for q, p in (("0.5", 50), ("0.9", 90))]
        samples = [(labels, v) for labels, v in samples if v is not None]
        samples += [({"__suffix": "_sum"}, sum(values)), ({"__suffix": "_count"}, len(values))]
        family = [f"# HELP {metric} Time to {what} of incidents opened in the last 7 days.",
                  f"# TYPE {metric} summary"]
        for labels, value in samples:
            suffix = labels.pop("__suffix", "")
            text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            family.append(f"{metric}{suffix}{{{text}}} {value:g}" if text else f"{metric}{suffix} {value:g}")
        lines += family
    fp = stats.compute(conn, now - WINDOW, now).false_positive_share
    if fp is not None:
        lines += _family("dre_false_positive_ratio", "gauge", "False positives among incidents resolved with a "
                         "cause, last 7 days.", [({}, fp)])
    handoffs = conn.execute("SELECT count(*) AS n, sum(acked_at IS NULL) AS waiting FROM handoffs").fetchone()
    lines += _family("dre_handoffs_total", "counter", "Handoffs posted.", [({}, handoffs["n"] or 0)])
    lines += _family("dre_handoffs_unacknowledged", "gauge", "Handoffs nobody has acknowledged yet.",
                     [({}, handoffs["waiting"] or 0)])
    return "\n".join(lines) + "\n"
