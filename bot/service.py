"""The incident service: the only writer of incident state. It records each change and its event together.

Everything here runs inside the caller's transaction, so a state change and the events that tell the notifiers
about it (bot/events.py) are committed together or not at all. It renders nothing and calls no one: the Slack card
and thread, PagerDuty, Cloud Monitoring and diagnostics are notifiers that act on the events (bot/notify.py).
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field

from bot import clock, events, store
from bot.alert import Alert, Link, parse_time
from bot.config import Settings
from bot.incident import ACKNOWLEDGED, OPEN_STATES, REOPENED, RESOLVED, TRIGGERED, can_move, group_key, name, \
    should_resolve, worse
from bot.lineage.decide import SAME, Join
from bot.lineage.graph import EMPTY, Graph, norm
from bot.pipeline import Context, Plan, plan_for
from bot.runbook import Runbook, find


@dataclass(frozen=True)
class Outcome:
    """What one alert did, for logs and tests."""
    action: str                 # opened, repeated, joined, reopened, resolved, updated, silenced, ignored
    incident_id: int | None = None


@dataclass(frozen=True)
class Actor:
    """Who made a change: a Slack user id, or a system such as "Name (PagerDuty)"; and where it came from."""
    id: str
    origin: str = "slack"


@dataclass(frozen=True)
class Change:
    """The result of a change asked for by a person: done, or why not. `template` names people as {placeholders}
    (`people` maps them to ids), so each front end shows them its own way: `text(mention)` in Slack."""
    ok: bool
    template: str
    incident: sqlite3.Row | None = None
    people: dict[str, str] = field(default_factory=dict)

    def text(self, person=lambda who: who) -> str:
        return self.template.format(**{k: person(v) for k, v in self.people.items()})

    @property
    def message(self) -> str:
        return self.text()


# A reopened incident is not resolved: its resolution (and cause) go, and come again with the next one.
_UNRESOLVED = {"resolved_at": None, "resolved_by": None, "resolution_cause": None, "resolution_note": None}


def unknown_incident(incident_id: int) -> str:
    return f"Unknown incident {name(incident_id)}. `/dre status` lists open incidents."


def handle_alert(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], alert: Alert,
                 inbox_id: int | None = None, now: float | None = None, lineage: Graph = EMPTY) -> Outcome:
    now = clock.now() if now is None else now
    plan = plan_for(alert, Context(conn=conn, settings=settings, now=now, lineage=lineage))
    if plan.silenced_by is not None:
        store.record_suppressed(conn, plan.silenced_by, inbox_id, alert)
        return Outcome("silenced")
    if plan.stop:
        return Outcome("ignored", plan.incident_id)
    if plan.incident_id is None:
        outcome = _open(conn, runbooks, plan, now)
        table = alert.labels.get("table")
        if settings.group_by_lineage and table and (lineage.upstream(table) or lineage.downstream(table)):
            _set(conn, outcome.incident_id, {"lineage_root": lineage.resolve(table),
                                             "lineage_tables": store.dumps([lineage.resolve(table)])})
        return outcome
    if plan.lineage is not None:
        _record_lineage(conn, plan.incident_id, plan.lineage)
    return _update(conn, settings, plan, now)


def _record_lineage(conn: sqlite3.Connection, incident_id: int, join: Join) -> None:
    """The card's suspected root and affected tables, after a join by lineage."""
    inc = store.incident(conn, incident_id)
    assert inc is not None
    tables = json.loads(inc["lineage_tables"] or "[]") or ([norm(inc["table_name"])] if inc["table_name"] else [])
    if join.table not in tables:
        tables.append(join.table)
    _set(conn, incident_id, {"lineage_root": join.root, "lineage_tables": store.dumps(tables)})


def _alert_facts(alert: Alert) -> dict:
    return {"title": alert.title, "source": alert.source}


def _open(conn: sqlite3.Connection, runbooks: list[Runbook], plan: Plan, now: float) -> Outcome:
    alert = plan.alert
    match = find(runbooks, alert)
    runbook = match.runbook if match else None
    # An incident starts when its first alert started, as the sender saw it, not when it reached us.
    started = parse_time(alert.started_at)
    opened_at = started if started is not None and now - 7 * 86400 < started <= now else now
    incident_id = store.add_incident(
        conn, group_key=plan.group_key, status=TRIGGERED, title=alert.title, severity=alert.severity,
        kind=alert.kind, source=alert.source, table_name=alert.labels.get("table"),
        labels=store.dumps(dict(alert.labels)), links=store.dumps([{"text": l.text, "url": l.url} for l in alert.links]),
        summary=alert.summary[:4000], channel=plan.channel, runbook=runbook.path if runbook else None, alert_count=1,
        opened_at=opened_at, updated_at=now, finding=alert.finding[:300] or None)
    store.upsert_incident_alert(conn, incident_id, alert, now)
    store.add_timeline(conn, incident_id, alert.source, alert.source, "opened",
                       f"Opened by {alert.source} alert: {alert.title}", at=now)
    events.record(conn, events.OPENED, incident_id, alert.source, alert.source, at=now, alert=alert.to_dict(),
                  runbook=runbook.path if runbook else None, reason=match.reason if match else None)
    return Outcome("opened", incident_id)


def _update(conn: sqlite3.Connection, settings: Settings, plan: Plan, now: float) -> Outcome:
    alert = plan.alert
    inc = store.incident(conn, plan.incident_id)
    assert inc is not None
    incident_id = inc["id"]
    is_new = store.upsert_incident_alert(conn, incident_id, alert, now)
    changes: dict[str, object] = {"updated_at": now}
    action, kind = "updated", events.ALERT_RESOLVED
    data: dict[str, object] = _alert_facts(alert)
    if alert.firing:
        changes["alert_count"] = inc["alert_count"] + 1
        severity = worse(inc["severity"], alert.severity)
        action, kind = "repeated", events.REPEATED
        if is_new:
            action, kind = "joined", events.ALERT_JOINED
            join = plan.lineage
            by = f" (lineage: {join.line()})" if join is not None and join.evidence != SAME else ""
            store.add_timeline(conn, incident_id, alert.source, alert.source, "alert",
                               f"Alert joined: {alert.title}{by}", at=now)
            if by:
                data["lineage"] = {"table": join.table, "upstream": join.upstream, "via": list(join.via),
                                   "evidence": join.evidence, "root": join.root, "reader": join.reader,
                                   "line": join.line()}
        if severity != inc["severity"]:
            changes["severity"] = severity
            store.add_timeline(conn, incident_id, alert.source, alert.source, "severity",
                               f"Severity raised from {inc['severity']} to {severity} by {alert.title}", at=now)
        _set(conn, incident_id, changes)
        events.record(conn, kind, incident_id, alert.source, alert.source, at=now, **data)
        if severity != inc["severity"]:
            events.record(conn, events.SEVERITY_RAISED, incident_id, alert.source, alert.source, at=now,
                          **{"from": inc["severity"], "to": severity, "title": alert.title})
        if inc["status"] == RESOLVED and can_move(RESOLVED, REOPENED):
            action = "reopened"
            _set(conn, incident_id, {"status": REOPENED, **_UNRESOLVED})
            store.add_timeline(conn, incident_id, alert.source, alert.source, "status",
                               f"Reopened: {alert.title} fired again", at=now)
            events.record(conn, events.STATUS_CHANGED, incident_id, alert.source, alert.source, at=now,
                          **{"from": RESOLVED, "to": REOPENED, "title": alert.title,
                             "after": now - (inc["resolved_at"] or now)})
        return Outcome(action, incident_id)
    statuses = [a["status"] for a in store.incident_alerts(conn, incident_id)]
    if inc["status"] in OPEN_STATES and should_resolve(settings.resolve_when, statuses, True):
        changes.update(status=RESOLVED, resolved_at=now)
        _set(conn, incident_id, changes)
        store.add_timeline(conn, incident_id, alert.source, alert.source, "status",
                           "Resolved: all alerts resolved" if settings.resolve_when == "all_alerts_resolved"
                           else f"Resolved: {alert.title} resolved", at=now)
        events.record(conn, events.STATUS_CHANGED, incident_id, alert.source, alert.source, at=now,
                      **{"from": inc["status"], "to": RESOLVED, "title": alert.title,
                         "after": now - inc["opened_at"]})
        return Outcome("resolved", incident_id)
    _set(conn, incident_id, changes)
    store.add_timeline(conn, incident_id, alert.source, alert.source, "alert", f"Alert resolved: {alert.title}",
                       at=now)
    events.record(conn, kind, incident_id, alert.source, alert.source, at=now, **data)
    return Outcome(action, incident_id)


def change_status(conn: sqlite3.Connection, incident_id: int, target: str, actor: Actor, note: str = "",
                  cause: str | None = None) -> Change:
    """Move an incident to `target`. Call inside a transaction: two people pressing Resolve at once are
    serialized by it, and the second hears who was first."""
    inc = store.incident(conn, incident_id)
    if inc is None:
        return Change(False, unknown_incident(incident_id))
    if inc["status"] == target or (target == ACKNOWLEDGED and inc["status"] == RESOLVED):
        who = inc["resolved_by"] if inc["status"] == RESOLVED else inc["ack_by"]
        return Change(False, f"{name(incident_id)} is already {inc['status']}" + (" by {by}." if who else "."),
                      inc, {"by": who} if who else {})
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
    details = "".join([f" ({cause})" if cause else "", f": {note}" if note else ""])
    store.add_timeline(conn, incident_id, actor.id, actor.origin, "status",
                       f"{target.capitalize()} by {actor.id}{details}", at=now)
    events.record(conn, events.STATUS_CHANGED, incident_id, actor.origin, actor.id, at=now,
                  **{"from": inc["status"], "to": target, "cause": cause, "note": note})
    return Change(True, f"{name(incident_id)} {target}.", store.incident(conn, incident_id))


def assign(conn: sqlite3.Connection, incident_id: int, owner: str, actor: Actor) -> Change:
    inc = store.incident(conn, incident_id)
    if inc is None:
        return Change(False, unknown_incident(incident_id))
    _set(conn, incident_id, {"owner": owner, "updated_at": clock.now()})
    store.add_timeline(conn, incident_id, actor.id, actor.origin, "owner", f"Assigned to {owner} by {actor.id}")
    events.record(conn, events.OWNER_CHANGED, incident_id, actor.origin, actor.id, owner=owner)
    return Change(True, f"{name(incident_id)} is now owned by {{owner}}.", inc, {"owner": owner})


def add_note(conn: sqlite3.Connection, incident_id: int, text: str, actor: Actor, kind: str = "note",
             post: bool = True) -> Change:
    """A note on the timeline; `kind="message"` keeps a person's thread message for the postmortem (it is in
    the thread already, so nothing is posted or sent on)."""
    inc = store.incident(conn, incident_id)
    if inc is None:
        return Change(False, unknown_incident(incident_id))
    store.add_timeline(conn, incident_id, actor.id, actor.origin, kind, text)
    if kind == "note":
        events.record(conn, events.NOTE, incident_id, actor.origin, actor.id, text=text, post=post)
    return Change(True, f"Noted on {name(incident_id)}.", inc)


def record_news(conn: sqlite3.Connection, incident_id: int, actor: Actor, text: str, fields: dict | None = None,
                post: bool = True) -> None:
    """Something another system says about the incident (PagerDuty reassigned it, a snooze was made): its fields
    (pd_*, gcp_*) updated, a timeline line, and an event so the card and thread show it. `text` is plain words."""
    if fields:
        _set(conn, incident_id, fields)
    if text:
        store.add_timeline(conn, incident_id, actor.id, actor.origin, actor.origin, text)
    events.record(conn, events.NEWS, incident_id, actor.origin, actor.id, text=text if post else "")


def open_manual(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], title: str, severity: str,
                channel: str, actor: Actor, summary: str = "", links: tuple = (), source: str = "manual") -> Change:
    """An incident a person opened (`/dre new`, the message shortcut), or one mirrored from PagerDuty."""
    alert = Alert(source=source, fingerprint=f"{source}:{time.time_ns()}", status="firing", title=title,
                  severity=severity, summary=summary, labels={"opened_by": actor.id},
                  links=tuple(Link(t, u) for t, u in links))
    plan = Plan(alert=alert, group_key=alert.fingerprint, channel=channel)
    outcome = _open(conn, runbooks, plan, clock.now())
    store.add_timeline(conn, outcome.incident_id, actor.id, actor.origin, "owner", f"Opened by {actor.id}")
    _set(conn, outcome.incident_id, {"owner": actor.id})
    return Change(True, f"Opened {name(outcome.incident_id)} in {channel}.", store.incident(conn, outcome.incident_id))


def _same_table(a: str, b: str) -> bool:
    """`proj.ds.t` and `ds.t` name the same table."""
    a, b = norm(a), norm(b)
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def split(conn: sqlite3.Connection, settings: Settings, runbooks: list[Runbook], incident_id: int, table: str,
          actor: Actor) -> Change:
    """Move an incident's alerts on `table` to a new incident of their own (lineage grouped them wrongly);
    recorded on both timelines."""
    inc = store.incident(conn, incident_id)
    if inc is None:
        return Change(False, unknown_incident(incident_id))
    alerts = store.incident_alerts(conn, incident_id)
    moving = [a for a in alerts if _same_table(json.loads(a["alert"] or "{}").get("labels", {}).get("table") or "",
                                               table)]
    if not moving:
        held = sorted({t for a in alerts if (t := json.loads(a["alert"] or "{}").get("labels", {}).get("table"))})
        return Change(False, f"{name(incident_id)} holds no alert on `{table}`. Its tables: "
                             f"{', '.join(held) or 'none'}.", inc)
    if len(moving) == len(alerts):
        return Change(False, f"Every alert of {name(incident_id)} is on `{table}`: there is nothing to split off.",
                      inc)
    now = clock.now()
    first = Alert.from_dict(json.loads(moving[0]["alert"]))
    plan = Plan(alert=first, group_key=group_key(first, settings.group_keys), channel=inc["channel"])
    new_id = _open(conn, runbooks, plan, now).incident_id
    assert new_id is not None
    store.move_alerts(conn, incident_id, new_id, [a["fingerprint"] for a in moving])
    count = sum(a["count"] for a in moving)
    _set(conn, new_id, {"alert_count": max(1, count), "severity": inc["severity"]})
    tables = [t for t in json.loads(inc["lineage_tables"] or "[]") if not _same_table(t, table)]
    _set(conn, incident_id, {
        "alert_count": max(1, (inc["alert_count"] or 0) - count), "updated_at": now,
        "lineage_tables": store.dumps(tables) if inc["lineage_tables"] else None,
        "lineage_root": None if inc["lineage_root"] and _same_table(inc["lineage_root"], table) else inc["lineage_root"]})
    moved = f"{len(moving)} alert{'s' if len(moving) != 1 else ''} on `{table}`"
    store.add_timeline(conn, incident_id, actor.id, actor.origin, "split",
                       f"Split by {actor.id}: {moved} moved to {name(new_id)}", at=now)
    store.add_timeline(conn, new_id, actor.id, actor.origin, "split",
                       f"Split from {name(incident_id)} by {actor.id}: {moved}", at=now)
    events.record(conn, events.NEWS, incident_id, actor.origin, actor.id, at=now,
                  text=f"Split: {moved} moved to {name(new_id)} by {actor.id}.")
    events.record(conn, events.NEWS, new_id, actor.origin, actor.id, at=now,
                  text=f"Split from {name(incident_id)} by {actor.id}: {moved}.")
    return Change(True, f"Moved {moved} from {name(incident_id)} to {name(new_id)}.", store.incident(conn, new_id))


_set = store.update_incident
