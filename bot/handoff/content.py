"""What a handoff says, gathered from the incident database for one shift: [start, end).

Everything bound for Slack is escaped here (alert text is untrusted); the template only arranges it."""
from __future__ import annotations

import re
import sqlite3
from collections import Counter
from typing import Any

from bot import store
from bot.incident import name
from bot.pipeline.matchers import describe
from bot import timings
from bot.slack.mrkdwn import escape, mention as slack_mention, slack_date, truncate

_NEXT = re.compile(r"^\s*(next( step)?|todo)\s*[:\-]\s*", re.IGNORECASE)


def mention(who: str | None) -> str:
    """<@U123> for a Slack user id, the escaped name for anyone else; "nobody" for no one."""
    return slack_mention(who) if who else "nobody"


def slack_time(epoch: float | None) -> str:
    return slack_date(epoch, missing="–")


def next_step(entries: list[sqlite3.Row]) -> str | None:
    """The newest note that says what comes next ("next: ..."), else the newest note or thread message."""
    notes = [e for e in entries if e["kind"] in ("note", "message")]
    for entry in reversed(notes):
        if _NEXT.match(entry["text"]):
            return _NEXT.sub("", entry["text"], count=1)
    return notes[-1]["text"] if notes else None


def _incident(conn: sqlite3.Connection, inc: sqlite3.Row, now: float, workspace: str) -> dict[str, Any]:
    entries = store.timeline_until(conn, inc["id"], now)
    last = entries[-1] if entries else None
    step = next_step(entries)
    t = timings.of(inc)
    return {
        "name": name(inc["id"]), "title": escape(truncate(inc["title"], 150)), "status": inc["status"],
        "severity": inc["severity"], "owner": mention(inc["owner"]), "has_owner": bool(inc["owner"]),
        "age": now - inc["opened_at"], "opened": slack_time(inc["opened_at"]),
        "last_update": escape(truncate(last["text"], 200)) if last else "",
        "last_update_at": slack_time(last["at"]) if last else "–",
        "next_step": escape(truncate(step, 300)) if step else None,
        "table": escape(inc["table_name"]) if inc["table_name"] else None, "source": escape(inc["source"] or ""),
        "tta": t.tta, "ttr": t.ttr, "unattended": t.unattended,
        "cause": inc["resolution_cause"], "link": thread_link(inc, workspace),
    }


def thread_link(inc: sqlite3.Row, workspace: str) -> str:
    """The incident's name, linked to its thread when the card is posted and the workspace URL is known."""
    if workspace and inc["slack_channel"] and inc["slack_ts"]:
        return f"<{workspace}archives/{inc['slack_channel']}/p{inc['slack_ts'].replace('.', '')}|{name(inc['id'])}>"
    return name(inc["id"])


def gather(conn: sqlite3.Connection, start: float, end: float, workspace: str = "",
           noisy_min: int = 2) -> dict[str, Any]:
    """The shift [start, end): what is still open at `end`, what opened and resolved in it, silences active at
    `end`, and the tables and sources that alerted repeatedly."""
    open_rows = store.incidents_open_at(conn, end)
    opened = store.incidents_opened_between(conn, start, end)
    resolved = store.incidents_resolved_between(conn, start, end)
    silences = store.silences_active_at(conn, end)
    opened_items = [_incident(conn, i, end, workspace) for i in opened]
    resolved_items = [_incident(conn, i, end, workspace) for i in resolved]
    # Each incident counts once in the figures, even when it both opened and resolved in the shift.
    seen: dict[str, dict] = {i["name"]: i for i in opened_items + resolved_items}
    ttas = [i["tta"] for i in seen.values() if i["tta"] is not None]
    ttrs = [i["ttr"] for i in seen.values() if i["ttr"] is not None]
    return {
        "start": start, "end": end, "start_text": slack_time(start), "end_text": slack_time(end),
        "open": [_incident(conn, i, end, workspace) for i in open_rows],
        "opened": opened_items, "resolved": resolved_items,
        "mtta": timings.median(ttas), "mttr": timings.median(ttrs),
        "silences": [{"id": s.id, "scope": escape(describe(s.labels)), "ends": slack_time(s.ends_at),
                      "by": mention(s.created_by), "reason": escape(s.reason or ""), "held": s.held}
                     for s in silences],
        "noisy": noisy(conn, start, end, noisy_min),
    }


def noisy(conn: sqlite3.Connection, start: float, end: float, at_least: int = 2, top: int = 5) -> list[dict]:
    """Tables (or, without a table, sources) by alerts that fired in the shift: new incidents, alerts joining
    one, incidents reopened by an alert firing again, and alerts silences held."""
    counts: Counter[tuple[str, str]] = Counter()
    for table, source in store.alerting_places(conn, start, end):
        counts[_place(table, source)] += 1
    for alert in store.suppressed_alerts(conn, start, end):
        counts[_place((alert.get("labels") or {}).get("table"), alert.get("source"))] += 1
    return [{"kind": kind, "what": escape(what), "alerts": n}
            for (kind, what), n in counts.most_common(top) if n >= at_least]


def _place(table: str | None, source: str | None) -> tuple[str, str]:
    return ("table", table) if table else ("source", source or "unknown")
