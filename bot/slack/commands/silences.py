"""Verbs on silences: silence, silences, unsilence."""
from __future__ import annotations

import json

from bot import clock, store
from bot.monitoring import snoozes
from bot.durations import format_duration, parse_duration
from bot.pipeline.matchers import describe, parse_matcher
from bot.slack.commands import Call, Deps, Reply, UsageError, require, verb
from bot.service import unknown_incident
from bot.slack.mrkdwn import escape

MAX_SILENCE = 30 * 86400


def create_silence(deps: Deps, user: str, matchers: dict[str, str], seconds: float, reason: str,
                   incident_id: int | None = None) -> tuple[int, str | None]:
    """The silence's id, and the Cloud Monitoring policy it snoozes too when set on such an incident."""
    conn = deps.conn()
    with store.transaction(conn):
        sid = store.add_silence(conn, matchers, seconds, reason, user)
        return sid, snoozes.on_silence(conn, sid, incident_id, matchers)


def _incident_for(deps: Deps, call: Call) -> int | None:
    """The incident a silence is set on: `INC-n` first (its alerts' scope when no matchers follow), else the
    thread or card it was asked from."""
    from bot.incident import parse_name
    if call.args and call.args[0].upper().startswith("INC-") and parse_name(call.args[0]) is not None:
        incident_id = parse_name(call.args.pop(0))
        inc = store.incident(deps.conn(), incident_id)
        if inc is None:
            raise UsageError(unknown_incident(incident_id))
        if not call.args or "=" not in call.args[0]:
            from bot.slack.actions import silence_scope
            call.args[:0] = silence_scope(inc).split()
        return incident_id
    return call.thread_incident


def parse_silence(tokens: list[str]) -> tuple[dict[str, str], float, str]:
    """Matchers, then a duration, then an optional reason; UsageError saying what is wrong."""
    matchers: dict[str, str] = {}
    rest = list(tokens)
    while rest and "=" in rest[0]:
        try:
            key, value = parse_matcher(rest.pop(0))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        matchers[key] = value
    if not matchers:
        raise UsageError("Say what to silence with label=glob matchers, like "
                         "`/dre silence table=analytics.orders* 2h backfill running`.")
    if not rest:
        raise UsageError("For how long? Add a duration like 90m, 2h or 1d after the matchers.")
    try:
        seconds = parse_duration(rest.pop(0))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not 0 < seconds <= MAX_SILENCE:
        raise UsageError("A silence lasts between 1 second and 30 days.")
    return matchers, seconds, " ".join(rest)


@verb("silence", "/dre silence [INC-n] <label=glob ...> <duration> [reason]", permission="silence")
def silence(deps: Deps, call: Call) -> Reply:
    """Silence matching alerts for a while: they are recorded, but open no thread and ping no one.

    Matchers are label=glob, e.g. `table=analytics.orders*`, `source=montecarlo`, `kind=freshness`;
    `!glob` negates. Durations like 90m, 2h, 1d. When the silence ends, the channel hears of it.
    `INC-n` (or saying it in the incident's thread) sets it on that incident, scoped to its alerts when no matchers
    follow; on a Cloud Monitoring incident it also snoozes the alert policy there for as long."""
    incident_id = _incident_for(deps, call)
    matchers, seconds, reason = parse_silence(call.args)
    require(deps, call, "silence")
    sid, policy = create_silence(deps, call.user, matchers, seconds, reason, incident_id)
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
        ended = store.end_silence(conn, int(call.args[0]), clock.now())
        snoozed = ended and snoozes.on_unsilence(conn, int(call.args[0]))
    if not ended:
        raise UsageError(f"No active silence {call.args[0]}. `/dre silences` lists them.")
    return Reply(f"Silence {call.args[0]} ended." + (" Ending its Cloud Monitoring snooze." if snoozed else ""),
                 public=True)
