"""Verbs on silences: silence, silences, unsilence."""
from __future__ import annotations

import json

from bot import clock, store
from bot import silences as silences_service
from bot.durations import format_duration
from bot.incident import parse_name
from bot.pipeline.matchers import describe
from bot.slack.commands import Call, Deps, Reply, UsageError, require, verb
from bot.service import Actor, unknown_incident
from bot.slack.mrkdwn import escape

def _incident_for(deps: Deps, call: Call) -> int | None:
    """The incident a silence is set on: `INC-n` first (its alerts' scope when no matchers follow), else the
    thread or card it was asked from."""
    if call.args and call.args[0].upper().startswith("INC-") and parse_name(call.args[0]) is not None:
        incident_id = parse_name(call.args.pop(0))
        inc = store.incident(deps.conn(), incident_id)
        if inc is None:
            raise UsageError(unknown_incident(incident_id))
        if not call.args or "=" not in call.args[0]:
            call.args[:0] = silences_service.scope(inc).split()
        return incident_id
    return call.thread_incident


@verb("silence", "/dre silence [INC-n] <label=glob ...> <duration> [reason]", permission="silence")
def silence(deps: Deps, call: Call) -> Reply:
    """Silence matching alerts for a while: they are recorded, but open no thread and ping no one.

    Matchers are label=glob, e.g. `table=analytics.orders*`, `source=montecarlo`, `kind=freshness`;
    `!glob` negates. Durations like 90m, 2h, 1d. When the silence ends, the channel hears of it.
    `INC-n` (or saying it in the incident's thread) sets it on that incident, scoped to its alerts when no matchers
    follow; on a Cloud Monitoring incident it also snoozes the alert policy there for as long."""
    incident_id = _incident_for(deps, call)
    try:
        matchers, seconds, reason = silences_service.parse(call.args)
    except silences_service.BadSilence as exc:
        raise UsageError(str(exc)) from None
    require(deps, call, "silence")
    conn = deps.conn()
    with store.transaction(conn):
        made = silences_service.add(conn, matchers, seconds, reason, Actor(call.user), incident_id)
    sid, policy = made.id, made.gcp_policy
    snoozed = f" Snoozing Cloud Monitoring policy `{escape(policy)}` for as long." if policy else ""
    return Reply(f":shushing_face: Silence {sid} on `{escape(describe(matchers))}` for {format_duration(seconds)}"
                 + (f" ({escape(reason)})" if reason else "") + f". `/dre unsilence {sid}` ends it early."
                 + snoozed, public=True)


@verb("silences", "/dre silences")
def silences(deps: Deps, call: Call) -> Reply:
    """Active silences, with who set them, why, and when they end."""
    now = clock.now()
    rows = store.active_silences(deps.conn(), now)
    if not rows:
        return Reply("No active silences.")
    lines = [f"• {r['id']}: `{escape(describe(json.loads(r['matchers'])))}` for {format_duration(r['ends_at'] - now)}"
             f" more, by <@{r['created_by']}>" + (f": {escape(r['reason'])}" if r["reason"] else "") for r in rows]
    return Reply("*Active silences*\n" + "\n".join(lines))


@verb("unsilence", "/dre unsilence <id>", permission="silence")
def unsilence(deps: Deps, call: Call) -> Reply:
    """End a silence now."""
    if not call.args or not call.args[0].isdigit():
        raise UsageError("Which silence? `/dre silences` lists them with their ids: `/dre unsilence 3`.")
    require(deps, call, "silence")
    conn = deps.conn()
    with store.transaction(conn):
        ended = silences_service.end(conn, int(call.args[0]), Actor(call.user))
    snoozed = ended is not None and ended.gcp_policy is not None
    if ended is None:
        raise UsageError(f"No active silence {call.args[0]}. `/dre silences` lists them.")
    return Reply(f"Silence {call.args[0]} ended." + (" Ending its Cloud Monitoring snooze." if snoozed else ""),
                 public=True)
