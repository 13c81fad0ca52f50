"""The postmortem draft's content: an incident, its alerts and its timeline in, the template's context out. Pure.

What people and senders wrote (alert titles, summaries, notes, thread messages) is untrusted. In a Markdown file it
cannot ping anyone, but it could still break the document: a newline in a title ends the heading, a `|` splits a
table cell, a `<!--` hides everything after it. So every such value comes out Markdown-safe: `inline()` for one
line (a heading, a table cell, a list item), `quoted()` for text kept in its lines, inside a blockquote.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, Mapping, Sequence

from bot.alert import SEVERITY_NAMES
from bot.incident import RESOLVED, name
from bot import timings

CELL_LIMIT = 2000
# Slack's own markup in people's messages: <@U123|alice>, <#C123|name>, <!channel>, <https://x|label>, <https://x>.
_SLACK_MARKUP = re.compile(r"<([@#!])([^<>|\s]+)(?:\|([^<>]*))?>|<((?:https?://|mailto:)[^<>|\s]+)(?:\|([^<>]*))?>")


def iso(epoch: float | None) -> str:
    """UTC, ISO 8601, to the second: 2030-03-17T17:46:40Z."""
    if epoch is None:
        return ""
    return _dt.datetime.fromtimestamp(epoch, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(text: object) -> str:
    """Slack markup as readable text: @alice, #channel, @channel, label (url)."""
    def one(m: re.Match) -> str:
        sigil, target, label, url, url_label = m.groups()
        if url:
            return f"{url_label} ({url})" if url_label else url
        if sigil == "!":                  # <!channel>, <!subteam^S1|@data-eng>, <!date^...|fallback>
            return label or "@" + target.split("^")[0]
        return sigil + (label.lstrip(sigil) if label else target)
    return _SLACK_MARKUP.sub(one, "" if text is None else str(text))


def _neutral(text: str) -> str:
    # `<` opens HTML (and `<!--` a comment that would swallow the rest); as an entity it still reads as `<`.
    return text.replace("<", "&lt;")


def inline(text: object, limit: int = CELL_LIMIT) -> str:
    """One line, safe in a heading, a list item or a table cell."""
    flat = " ".join(_plain(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return _neutral(flat).replace("|", "\\|")


def quoted(text: object) -> str:
    """Text kept in its lines, as a Markdown blockquote: whatever it holds stays inside the quote."""
    lines = _neutral(_plain(text)).strip().splitlines() or [""]
    return "\n".join(f"> {line}".rstrip() for line in lines)


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "at": iso(row["at"]), "epoch": row["at"], "origin": inline(row["origin"]),
            "actor": inline(row["actor"]), "kind": inline(row["kind"]), "text": inline(row["text"])}


def _alert(row: Mapping[str, Any]) -> dict[str, Any]:
    snapshot = json.loads(row["alert"] or "{}")
    return {"title": inline(snapshot.get("title") or row["fingerprint"], 300),
            "source": inline(snapshot.get("source") or ""), "status": inline(row["status"]), "fired": row["count"],
            "first_seen": iso(row["first_seen"]), "last_seen": iso(row["last_seen"]),
            "table": (snapshot.get("labels") or {}).get("table")}


def prompts(incident: Mapping[str, Any], t: timings.Timings, entries: Sequence[Mapping[str, Any]],
            is_open: bool) -> list[str]:
    """Questions for the action items, the general ones and those this incident's record raises."""
    cause = incident["resolution_cause"]
    kinds = {e["kind"] for e in entries}
    out = ["What was the root cause, beyond its category? Ask why until you reach something you can change.",
           "Which downstream consumers (dashboards, reports, models, other teams) got late or wrong data, and were "
           "they told?",
           "Did the alert fire early enough, and reach the right people?"]
    if t.unattended:
        out.append("Nobody acknowledged this incident before it cleared: should this alert page someone, or go?")
    elif t.tta is not None:
        out.append("What slowed the first response, if anything?")
    out.append({
        "upstream_delay": "Can the upstream owner give us an SLA, or an earlier signal when they run late?",
        "code_change": "Which test, review or deploy check would have caught the change before it shipped?",
        "schema_change": "How will upstream schema changes be announced or caught before they break loads "
                         "(a data contract, a CI check)?",
        "data_quality": "Which data quality check should guard this table from now on?",
        "infrastructure": "Which capacity, quota or dependency limit did we hit, and how do we see it coming?",
        "false_positive": "This was a false positive: tune the check that fired, or remove it?",
    }.get(cause or "", "What category of cause was it? Record it so the stats see it."))
    if "diagnostic" not in kinds:
        out.append("No diagnostic ran: which query would have confirmed the cause fastest? Add it to the runbook.")
    if not incident["runbook"]:
        out.append("No runbook matched this incident: write one in runbooks/.")
    if any(e["kind"] == "status" and str(e["text"]).startswith("Reopened") for e in entries):
        out.append("It reopened after it resolved: what did the first fix miss?")
    if is_open:
        out.append("This incident is still open: draft the postmortem again once it is resolved.")
    return out


def context(incident: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]],
            entries: Sequence[Mapping[str, Any]], causes: Mapping[str, str], now: float) -> dict[str, Any]:
    """Everything templates/postmortem.md.j2 shows. Rows are the incidents, incident_alerts and timeline tables'
    (timeline entries in their order); `causes` names the cause categories (CAUSES of /dre resolve)."""
    t = timings.of(incident)
    is_open = incident["status"] != RESOLVED
    labels = json.loads(incident["labels"] or "{}")
    links = [ln for ln in json.loads(incident["links"] or "[]") if isinstance(ln, dict) and ln.get("url")]
    alert_rows = [_alert(a) for a in alerts]
    tables = sorted({tb for tb in [incident["table_name"], *(a["table"] for a in alert_rows)] if tb})
    cause = incident["resolution_cause"]
    timeline = [_entry(e) for e in entries]
    return {
        "incident": {
            "name": name(incident["id"]), "title": inline(incident["title"], 300), "status": incident["status"],
            "severity": incident["severity"], "severity_name": SEVERITY_NAMES.get(incident["severity"], ""),
            "source": inline(incident["source"] or ""), "kind": inline(incident["kind"] or ""),
            "channel": inline(incident["channel"]), "owner": inline(incident["owner"] or ""),
            "runbook": inline(incident["runbook"] or ""), "opened_at": iso(incident["opened_at"]),
            "acknowledged_at": iso(incident["ack_at"]), "acknowledged_by": inline(incident["ack_by"] or ""),
            "resolved_at": iso(incident["resolved_at"]) if not is_open else "",
            "resolved_by": inline(incident["resolved_by"] or "") if not is_open else "",
            "summary": quoted(incident["summary"]) if incident["summary"] else "",
            "labels": {inline(k, 100): inline(v, 300) for k, v in labels.items()},
            "links": [{"text": inline(ln.get("text") or ln["url"], 200), "url": inline(ln["url"], 500)}
                      for ln in links],
            "pagerduty_url": inline(incident["pd_incident_url"] or ""),
            "pagerduty_assignee": inline(incident["pd_assignee"] or ""),
        },
        "is_open": is_open,
        "tta": t.tta, "ttr": t.ttr, "unattended": t.unattended,
        "duration": (t.ttr if t.ttr is not None else max(0.0, now - incident["opened_at"])),
        "impact": {"tables": [inline(tb, 300) for tb in tables], "alerts": alert_rows,
                   "alert_count": incident["alert_count"]},
        "timeline": timeline,
        "diagnostics": [e for e in timeline if e["kind"] == "diagnostic"],
        "pagerduty": [e for e in timeline if e["kind"] in ("page", "pagerduty", "reconcile")],
        "resolution": {
            "cause": cause or "", "cause_label": causes.get(cause, inline(cause)) if cause else "",
            "note": quoted(incident["resolution_note"]) if incident["resolution_note"] and not is_open else "",
            "causes": dict(causes),
        },
        "prompts": prompts(incident, t, entries, is_open),
        "generated_at": iso(now),
    }
