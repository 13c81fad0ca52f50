"""Verbs on incidents: status, ack, resolve, reopen, assign, note, timeline, new."""
from __future__ import annotations

import time

from bot import clock, service, store
from bot.alert import SEVERITIES
from bot.durations import format_duration
from bot.incident import CAUSES, ACKNOWLEDGED, OPEN_STATES, REOPENED, RESOLVED, name, parse_name
from bot.service import Actor
from bot.slack.commands import (Call, Deps, Reply, UsageError, channel_ref, incident_arg, require, user_id,
                                verb)
from bot.slack.mrkdwn import escape, mention, truncate


def _incident(deps: Deps, incident_id: int):
    inc = store.incident(deps.conn(), incident_id)
    if inc is None:
        raise UsageError(service.unknown_incident(incident_id))
    return inc


def _line(deps: Deps, inc, now: float) -> str:
    owner = mention(inc["owner"]) if inc["owner"] else "unassigned"
    age = format_duration(now - inc["opened_at"])
    link = deps.thread_link(inc["slack_channel"], inc["slack_ts"], name(inc["id"]))
    return (f"• {link} {inc['severity']} · {escape(truncate(inc['title'], 80))} · {inc['status']} · {age} old · "
            f"{owner} · {inc['alert_count']} alert{'s' if inc['alert_count'] != 1 else ''}")


@verb("status", "/dre status [all|mine|INC-n]")
def status(deps: Deps, call: Call) -> Reply:
    """Open incidents, newest first, with age, severity, owner, alert count and a link to each thread.

    `all` includes the last resolved ones, `mine` only yours, `INC-n` one incident and its latest timeline."""
    conn, now = deps.conn(), clock.now()
    arg = call.args[0].lower() if call.args else ""
    if arg and parse_name(arg) is not None:
        inc = _incident(deps, parse_name(arg))  # type: ignore[arg-type]
        entries = store.timeline(conn, inc["id"])[-5:]
        lines = [_line(deps, inc, now)] + [f"   {time.strftime('%H:%M', time.gmtime(e['at']))}Z "
                                           f"{escape(truncate(e['text'], 200))}" for e in entries]
        return Reply("\n".join(lines))
    if arg not in ("", "all", "mine"):
        raise UsageError(f"`{escape(arg)}` is not something status can show.")
    if arg == "all":
        rows = store.recent_incidents(conn, include_resolved=True, limit=20)
    elif arg == "mine":
        rows = store.open_incidents_owned_by(conn, call.user, limit=20)
    else:
        rows = store.recent_incidents(conn, limit=20)
    if not rows:
        return Reply({"mine": "You own no open incidents.", "all": "No incidents yet."}.get(
            arg, ":white_check_mark: No open incidents."))
    total = store.open_incident_count(conn)
    head = f"*{total} open incident{'s' if total != 1 else ''}*" if arg != "all" else "*Latest incidents*"
    return Reply(head + "\n" + "\n".join(_line(deps, r, now) for r in rows))


def _status_change(deps: Deps, call: Call, target: str, action: str, note: str = "",
                   cause: str | None = None) -> Reply:
    incident_id = incident_arg(call)
    inc = _incident(deps, incident_id)
    require(deps, call, action, deps.incident_channel(inc))
    if target == ACKNOWLEDGED and inc["status"] == ACKNOWLEDGED:
        return Reply(f":information_source: {name(incident_id)} is already acknowledged.", ok=False)
    if target == ACKNOWLEDGED and inc["status"] not in OPEN_STATES:
        raise UsageError(f"{name(incident_id)} is {inc['status']}. `/dre reopen {name(incident_id)}` first.")
    words = [a for a in call.args if not a.startswith("cause=")]
    cause = next((a.split("=", 1)[1] for a in call.args if a.startswith("cause=")), cause)
    if cause is not None and cause not in CAUSES:
        raise UsageError(f"`{escape(cause)}` is not a cause. Use one of: {', '.join(CAUSES)}.")
    conn = deps.conn()
    with store.transaction(conn):
        change = service.change_status(conn, incident_id, target, Actor(call.user), note=note or " ".join(words),
                                       cause=cause)
    return Reply(("" if change.ok else ":information_source: ") + change.text(mention), ok=change.ok)


@verb("ack", "/dre ack INC-n", permission="ack")
def ack(deps: Deps, call: Call) -> Reply:
    """Acknowledge an incident: you are on it. You become its owner if it has none."""
    return _status_change(deps, call, ACKNOWLEDGED, "ack")




@verb("resolve", "/dre resolve INC-n [cause=<category>] [note]", permission="resolve")
def resolve(deps: Deps, call: Call) -> Reply:
    """Resolve an incident, with an optional note on what fixed it and its cause.

    Causes: upstream_delay, code_change, schema_change, data_quality, infrastructure, false_positive, other."""
    return _status_change(deps, call, RESOLVED, "resolve")


@verb("reopen", "/dre reopen INC-n", permission="reopen")
def reopen(deps: Deps, call: Call) -> Reply:
    """Reopen a resolved incident in its same thread."""
    return _status_change(deps, call, REOPENED, "reopen")


@verb("assign", "/dre assign INC-n @user", permission="assign")
def assign(deps: Deps, call: Call) -> Reply:
    """Make someone the incident's owner."""
    incident_id = incident_arg(call)
    owner = user_id(call.args[0]) if call.args else None
    if owner is None:
        raise UsageError("Whom to assign? Mention them: `/dre assign INC-42 @alice`.")
    inc = _incident(deps, incident_id)
    require(deps, call, "assign", deps.incident_channel(inc))
    conn = deps.conn()
    with store.transaction(conn):
        change = service.assign(conn, incident_id, owner, Actor(call.user))
    return Reply(change.text(mention))


@verb("note", "/dre note INC-n text", permission="note")
def note(deps: Deps, call: Call) -> Reply:
    """Add a note to the incident's timeline (and its thread)."""
    incident_id = incident_arg(call)
    if not call.args:
        raise UsageError("What should the note say? `/dre note INC-42 upstream job rerun at 10:40`.")
    inc = _incident(deps, incident_id)
    require(deps, call, "note", deps.incident_channel(inc))
    conn = deps.conn()
    with store.transaction(conn):
        change = service.add_note(conn, incident_id, call.text, Actor(call.user))
    return Reply(change.text(mention))


@verb("timeline", "/dre timeline INC-n")
def timeline(deps: Deps, call: Call) -> Reply:
    """Everything that happened to an incident, in order: alerts, status changes, notes, messages."""
    inc = _incident(deps, incident_arg(call))
    entries = store.timeline(deps.conn(), inc["id"])
    lines = [f"`{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(e['at']))}Z` {escape(e['origin'])} · "
             f"{escape(truncate(e['text'], 300))}" for e in entries]
    shown = lines[-40:]
    more = f"\n…and {len(lines) - len(shown)} earlier entries." if len(lines) > len(shown) else ""
    return Reply(f"*Timeline of {name(inc['id'])}*: {escape(inc['title'])}\n" + "\n".join(shown) + more)


@verb("new", '/dre new "title" [sev1..sev4] [#channel]', permission="create")
def new(deps: Deps, call: Call) -> Reply:
    """Open an incident by hand, with its own thread (default sev3, in the incident channel)."""
    if not call.args:
        raise UsageError('What is it called? `/dre new "orders table empty since 06:00" sev2`.')
    title, severity, channel = call.args[0], "sev3", deps.settings.channel
    for token in call.args[1:]:
        if token.lower() in SEVERITIES:
            severity = token.lower()
        elif channel_ref(token):
            channel = channel_ref(token)  # type: ignore[assignment]
        else:
            raise UsageError(f"`{escape(token)}` is neither a severity (sev1..sev4) nor a #channel. "
                             "Put a title of several words in quotes.")
    require(deps, call, "create")
    conn = deps.conn()
    with store.transaction(conn):
        change = service.open_manual(conn, deps.settings, deps.runbooks, title, severity, channel, Actor(call.user))
    return Reply(change.text(mention))


@verb("split", "/dre split INC-n <table>", permission="assign")
def split(deps: Deps, call: Call) -> Reply:
    """Move an incident's alerts on one table to a new incident of their own, when lineage grouped them wrongly.

    Both timelines record the split, and the new incident gets its own thread."""
    incident_id = incident_arg(call)
    if not call.args:
        raise UsageError(f"Which table? `/dre split {name(incident_id)} analytics.orders` moves that table's alerts "
                         "to a new incident.")
    inc = _incident(deps, incident_id)
    require(deps, call, "assign", deps.incident_channel(inc))
    conn = deps.conn()
    with store.transaction(conn):
        change = service.split(conn, deps.settings, deps.runbooks, incident_id, call.args[0].strip("`"),
                               Actor(call.user))
    return Reply(("" if change.ok else ":information_source: ") + escape(change.text(mention)), ok=change.ok)
