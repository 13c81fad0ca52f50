"""The incident service: turn a planned alert into incident state, timeline entries and outbox rows.

Everything here runs inside the caller's transaction, so a state change and the Slack calls it needs
are committed together or not at all (transactional outbox).
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from bot import clock, monitoring, store
from bot.pagerduty import delivery as pd_delivery, paging
from bot.slack import delivery
from bot.alert import Alert, parse_time
from bot.config import Settings
from bot.durations import format_duration
from bot.incident import ACKNOWLEDGED, OPEN_STATES, REOPENED, RESOLVED, TRIGGERED, can_move, name, \
    should_resolve, worse
from bot.pipeline import Context, Plan, plan_for
from bot.runbook import Runbook, best_match, generic_snippet, render_snippet
from bot.slack.mrkdwn import escape, mention


@dataclass(frozen=True)
class Outcome:
    """What one alert did, for logs and tests."""
    action: str                 # opened, repeated, joined, reopened, resolved, updated, silenced, ignored
    incident_id: int | None = None


def handle_alert(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], alert: Alert,
                 inbox_id: int | None = None, now: float | None = None) -> Outcome:
    now = clock.now() if now is None else now
    plan = plan_for(alert, Context(conn=conn, settings=settings, now=now))
    if plan.silenced_by is not None:
        store.record_suppressed(conn, plan.silenced_by, inbox_id, alert)
        return Outcome("silenced")
    if plan.stop:
        return Outcome("ignored", plan.incident_id)
    if plan.incident_id is None:
        return _open(conn, settings, runbooks, plan, now)
    return _update(conn, settings, plan, now)


def _open(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], plan: Plan,
          now: float) -> Outcome:
    alert = plan.alert
    runbook = best_match(runbooks, alert)
    # An incident starts when its first alert started, as the sender saw it, not when it reached us.
    started = parse_time(alert.started_at)
    opened_at = started if started is not None and now - 7 * 86400 < started <= now else now
    cur = conn.execute(
        "INSERT INTO incidents (group_key, status, title, severity, kind, source, table_name, labels, links, summary,"
        " channel, runbook, alert_count, opened_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (plan.group_key, TRIGGERED, alert.title, alert.severity, alert.kind, alert.source, alert.labels.get("table"),
         store.dumps(dict(alert.labels)), store.dumps([{"text": l.text, "url": l.url} for l in alert.links]),
         alert.summary[:4000], plan.channel, runbook.path if runbook else None, 1, opened_at, now))
    incident_id = int(cur.lastrowid)
    store.upsert_incident_alert(conn, incident_id, alert, now)
    store.add_timeline(conn, incident_id, alert.source, alert.source, "opened",
                       f"Opened by {alert.source} alert: {alert.title}", at=now)
    if alert.source != "pagerduty":
        _maybe_page(conn, settings, incident_id, alert.labels, alert.severity)
    delivery.enqueue_card(conn, incident_id, plan.channel)
    snippet = render_snippet(runbook, alert, settings.runbook_base_url) if runbook else generic_snippet(alert)
    delivery.enqueue_reply(conn, incident_id, plan.channel, snippet)
    monitoring.on_open(conn, incident_id, alert)   # Cloud Monitoring alerts: the metric's chart, the policy
    if runbook and runbook.auto_diagnostics and alert.labels.get("table"):
        _auto_diagnostics(conn, settings, incident_id, runbook, alert.labels["table"])
    return Outcome("opened", incident_id)


def _update(conn: sqlite3.Connection, settings: Settings, plan: Plan, now: float) -> Outcome:
    alert = plan.alert
    inc = store.incident(conn, plan.incident_id)
    assert inc is not None
    incident_id, channel = inc["id"], inc["channel"]
    is_new = store.upsert_incident_alert(conn, incident_id, alert, now)
    changes: dict[str, object] = {"updated_at": now}
    action = "updated"
    if alert.firing:
        changes["alert_count"] = inc["alert_count"] + 1
        severity = worse(inc["severity"], alert.severity)
        if severity != inc["severity"]:
            changes["severity"] = severity
            store.add_timeline(conn, incident_id, alert.source, alert.source, "severity",
                               f"Severity raised from {inc['severity']} to {severity} by {alert.title}", at=now)
            if not inc["pd_dedup_key"]:
                _maybe_page(conn, settings, incident_id, json.loads(inc["labels"] or "{}"), severity)
        action = "repeated"
        if is_new:
            action = "joined"
            store.add_timeline(conn, incident_id, alert.source, alert.source, "alert",
                               f"Alert joined: {alert.title}", at=now)
            delivery.enqueue_reply(conn, incident_id, channel,
                                 f":heavy_plus_sign: Another alert joined this incident: *{escape(alert.title)}* "
                                 f"({escape(alert.source)})")
        if inc["status"] == RESOLVED and can_move(RESOLVED, REOPENED):
            action = "reopened"
            changes.update(status=REOPENED, **_UNRESOLVED)
            store.add_timeline(conn, incident_id, alert.source, alert.source, "status",
                               f"Reopened: {alert.title} fired again", at=now)
            delivery.enqueue_reply(conn, incident_id, channel,
                                 f":repeat: *Reopened*: {escape(alert.title)} fired again "
                                 f"{format_duration(now - (inc['resolved_at'] or now))} after it resolved.")
            _sync_out(conn, inc, REOPENED, None)
    else:
        statuses = [a["status"] for a in store.incident_alerts(conn, incident_id)]
        if inc["status"] in OPEN_STATES and should_resolve(settings.resolve_when, statuses, True):
            action = "resolved"
            changes.update(status=RESOLVED, resolved_at=now)
            store.add_timeline(conn, incident_id, alert.source, alert.source, "status",
                               "Resolved: all alerts resolved" if settings.resolve_when == "all_alerts_resolved"
                               else f"Resolved: {alert.title} resolved", at=now)
            delivery.enqueue_reply(conn, incident_id, channel,
                                 f":white_check_mark: *Resolved* by {escape(alert.source)}: all alerts cleared "
                                 f"after {format_duration(now - inc['opened_at'])}.")
            _sync_out(conn, inc, RESOLVED, None)
        else:
            store.add_timeline(conn, incident_id, alert.source, alert.source, "alert",
                               f"Alert resolved: {alert.title}", at=now)
    _set(conn, incident_id, changes)
    delivery.enqueue_card(conn, incident_id, channel)
    return Outcome(action, incident_id)


@dataclass(frozen=True)
class Actor:
    """Who made a change: a Slack user id, or a system such as "pagerduty"; and where it came from."""
    id: str
    origin: str = "slack"

    @property
    def mention(self) -> str:
        return mention(self.id)


@dataclass(frozen=True)
class Change:
    """The result of a change asked for by a person: done, or a sentence saying why not."""
    ok: bool
    message: str
    incident: sqlite3.Row | None = None


# A reopened incident is not resolved: its resolution (and cause) go, and come again with the next one.
_UNRESOLVED = {"resolved_at": None, "resolved_by": None, "resolution_cause": None, "resolution_note": None}
_ICONS = {ACKNOWLEDGED: ":eyes:", RESOLVED: ":white_check_mark:", REOPENED: ":repeat:"}


def unknown_incident(incident_id: int) -> str:
    return f"Unknown incident {name(incident_id)}. `/dre status` lists open incidents."


def change_status(conn: sqlite3.Connection, incident_id: int, target: str, actor: Actor, note: str = "",
                  cause: str | None = None) -> Change:
    """Move an incident to `target`. Call inside a transaction: two people pressing Resolve at once are
    serialized by it, and the second hears who was first."""
    inc = store.incident(conn, incident_id)
    if inc is None:
        return Change(False, unknown_incident(incident_id))
    if inc["status"] == target or (target == ACKNOWLEDGED and inc["status"] == RESOLVED):
        who = inc["resolved_by"] if inc["status"] == RESOLVED else inc["ack_by"]
        by = f" by {Actor(who).mention}" if who else ""
        return Change(False, f"{name(incident_id)} is already {inc['status']}{by}.", inc)
    if not can_move(inc["status"], target):
        return Change(False, f"{name(incident_id)} is {inc['status']}; it cannot become {target}. "
                             "`/dre help` lists what you can do.", inc)
    now = clock.now()
    changes: dict[str, object] = {"status": target, "updated_at": now}
    if target == RESOLVED:
        changes.update(resolved_at=now, resolved_by=actor.id, resolution_note=note or None, resolution_cause=cause)
    if target == ACKNOWLEDGED:
        changes.update(ack_at=inc["ack_at"] or now, ack_by=actor.id)
        if not inc["owner"] and actor.origin == "slack":
            changes["owner"] = actor.id
    if target in (ACKNOWLEDGED, RESOLVED) and inc["first_response_at"] is None:
        changes["first_response_at"] = now    # a person (in Slack or PagerDuty) responded: TTA ends here
    if target == REOPENED:
        changes.update(_UNRESOLVED)
    _set(conn, incident_id, changes)
    words = f"{target.capitalize()} by {actor.id}"
    details = "".join([f" ({cause})" if cause else "", f": {note}" if note else ""])
    store.add_timeline(conn, incident_id, actor.id, actor.origin, "status", words + details, at=now)
    delivery.enqueue_reply(conn, incident_id, inc["channel"],
                         f"{_ICONS.get(target, '')} *{target.capitalize()}* by {actor.mention}"
                         f"{escape(details)}")
    delivery.enqueue_card(conn, incident_id, inc["channel"])
    if actor.origin != "pagerduty":   # the loop guard: what came from PagerDuty is not sent back to it
        _sync_out(conn, inc, target, actor.id)
    return Change(True, f"{name(incident_id)} {target}.", store.incident(conn, incident_id))


def assign(conn: sqlite3.Connection, incident_id: int, owner: str, actor: Actor) -> Change:
    inc = store.incident(conn, incident_id)
    if inc is None:
        return Change(False, unknown_incident(incident_id))
    _set(conn, incident_id, {"owner": owner, "updated_at": clock.now()})
    store.add_timeline(conn, incident_id, actor.id, actor.origin, "owner", f"Assigned to {owner} by {actor.id}")
    delivery.enqueue_reply(conn, incident_id, inc["channel"],
                         f":bust_in_silhouette: Assigned to {Actor(owner).mention} by {actor.mention}")
    delivery.enqueue_card(conn, incident_id, inc["channel"])
    return Change(True, f"{name(incident_id)} is now owned by {Actor(owner).mention}.", inc)


def add_note(conn: sqlite3.Connection, incident_id: int, text: str, actor: Actor, kind: str = "note",
             post: bool = True) -> Change:
    """A note on the timeline; `kind="message"` keeps a person's thread message for the postmortem."""
    inc = store.incident(conn, incident_id)
    if inc is None:
        return Change(False, unknown_incident(incident_id))
    store.add_timeline(conn, incident_id, actor.id, actor.origin, kind, text)
    if post:
        delivery.enqueue_reply(conn, incident_id, inc["channel"],
                             f":memo: Note from {actor.mention}: {keep_user_mentions(escape(text))}")
    if kind == "note" and actor.origin != "pagerduty" and (inc["pd_dedup_key"] or inc["pd_incident_id"]):
        pd_delivery.enqueue(conn, incident_id, pd_delivery.NOTE, text=text, actor=actor.id)
    return Change(True, f"Noted on {name(incident_id)}.", inc)


def open_manual(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], title: str, severity: str,
                channel: str, actor: Actor, summary: str = "", links: tuple = (), source: str = "manual") -> Change:
    """An incident a person opened (`/dre new`, the message shortcut), or one mirrored from PagerDuty."""
    from bot.alert import Link
    alert = Alert(source=source, fingerprint=f"{source}:{time.time_ns()}", status="firing", title=title,
                  severity=severity, summary=summary, labels={"opened_by": actor.id},
                  links=tuple(Link(t, u) for t, u in links))
    plan = Plan(alert=alert, group_key=alert.fingerprint, channel=channel)
    outcome = _open(conn, settings, runbooks, plan, clock.now())
    store.add_timeline(conn, outcome.incident_id, actor.id, actor.origin, "owner", f"Opened by {actor.id}")
    _set(conn, outcome.incident_id, {"owner": actor.id})
    return Change(True, f"Opened {name(outcome.incident_id)} in {channel}.", store.incident(conn, outcome.incident_id))


def _auto_diagnostics(conn: sqlite3.Connection, settings: Settings, incident_id: int, runbook: Runbook,
                      table: str) -> None:
    """The runbook's automatic diagnostics, so the first reply after the snippet is evidence."""
    from bot.diagnostics import delivery as diag_delivery
    from bot.diagnostics.identifiers import BadTable, parse_table
    if not settings.diagnostics.allowed:
        return
    try:
        ref = parse_table(table, settings.google_cloud_project, settings.diagnostics.allowed,
                          settings.diagnostics.region)
    except BadTable as exc:
        store.add_timeline(conn, incident_id, "dre-bot", "dre-bot", "diagnostic", f"Automatic diagnostics not run: {exc}")
        return
    for query in runbook.auto_diagnostics:
        diag_delivery.enqueue_run(conn, incident_id, query, str(ref), {}, "auto", why="automatic, from the runbook")


def _maybe_page(conn: sqlite3.Connection, settings: Settings, incident_id: int, labels, severity: str) -> None:
    """Page through PagerDuty when the routing rules say this incident pages."""
    if not settings.pagerduty_enabled:
        return
    env = paging.routing_key_env(settings, labels, severity)
    if env is None:
        return
    _set(conn, incident_id, {"pd_routing_key_env": env, "pd_dedup_key": paging.dedup_key(settings, incident_id)})
    pd_delivery.enqueue(conn, incident_id, pd_delivery.TRIGGER)
    store.add_timeline(conn, incident_id, "dre-bot", "dre-bot", "page", f"Paging through PagerDuty ({severity})")


def _sync_out(conn: sqlite3.Connection, inc: sqlite3.Row, target: str, actor_id: str | None) -> None:
    """Tell PagerDuty about a change made here, when the incident is in PagerDuty at all."""
    if not (inc["pd_dedup_key"] or inc["pd_incident_id"]):
        return
    kind = {ACKNOWLEDGED: pd_delivery.ACK, RESOLVED: pd_delivery.RESOLVE, REOPENED: pd_delivery.TRIGGER}.get(target)
    if target == REOPENED:   # a trigger after a resolve opens a new PagerDuty incident under the same key
        _set(conn, inc["id"], {"pd_incident_id": None, "pd_incident_url": None, "pd_status": None})
    if kind:
        pd_delivery.enqueue(conn, inc["id"], kind, actor=actor_id)


def keep_user_mentions(escaped: str) -> str:
    """A person's own text, escaped, with the user mentions they typed (<@U123|name>) working again."""
    import re
    return re.sub(r"&lt;@([UW][A-Z0-9]+)(?:\|[^&]*)?&gt;", r"<@\1>", escaped)


def _set(conn: sqlite3.Connection, incident_id: int, changes: dict[str, object]) -> None:
    sets = ", ".join(f"{k} = ?" for k in changes)
    conn.execute(f"UPDATE incidents SET {sets} WHERE id = ?", (*changes.values(), incident_id))
