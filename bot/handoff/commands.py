"""`/dre handoff [note]`: the on-call handoff, now."""
from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot import clock, store
from bot.handoff import service, shifts
from bot.handoff.service import Side
from bot.slack.commands import Call, Deps, Reply, require, verb

log = logging.getLogger("dre-bot.handoff")
RECENT = 7 * 86400.0


def _incoming(deps: Deps, caller: str, now: float) -> Side:
    """Who takes over from the caller: the next on-call of the handoff schedule when the caller is on call now;
    whoever is on call now when the caller's shift has already ended; nobody in particular without a schedule."""
    schedule = deps.settings.handoff.schedule
    if not schedule or deps.pd_rest is None:
        return Side()
    try:
        changes = shifts.from_schedule(deps.pd_rest, schedule, now - 15 * 86400, now + RECENT, {})
    except Exception as exc:   # the handoff matters more than the name in it
        log.warning("handoff: no on-call from PagerDuty: %s", exc)
        return Side()
    past = [c for c in changes if c.at <= now]
    upcoming = [c for c in changes if c.at > now]
    current = past[-1].incoming if past else (upcoming[0].outgoing if upcoming else None)
    following = upcoming[0].incoming if upcoming else None
    on_call_now = _slack_id(deps, current)
    person = following if on_call_now in (None, caller) else current
    return Side(_slack_id(deps, person), person.name if person else None) if person else Side()


def _slack_id(deps: Deps, person: shifts.Person | None) -> str | None:
    if person is None or not person.email:
        return None
    try:
        return deps.client.users_lookupByEmail(email=person.email)["user"]["id"]
    except SlackApiError:
        return None


@verb("handoff", "/dre handoff [note]", permission="handoff")
def handoff(deps: Deps, call: Call) -> Reply:
    """Post the on-call handoff now: what is open, what happened this shift, what the next person must know.

    The shift is the time since the last handoff (or the last `[handoff] shift`, 12h by default). Your note, if
    you write one, goes in it with any note written with the "Write handoff note" button. It is posted to the
    handoff channel, and sent to the next on-call when the PagerDuty schedule names them; they acknowledge it
    with its button."""
    require(deps, call, "handoff")
    now, conn = clock.now(), deps.conn()
    previous = service.last(conn)
    start = previous["shift_end"] if previous and 0 < now - previous["shift_end"] < RECENT \
        else now - deps.settings.handoff.shift
    incoming = _incoming(deps, call.user, now)
    with store.transaction(conn):
        made = service.create(conn, deps.settings, f"manual:{call.request_id}", start, now, Side(call.user),
                              incoming, note=call.text.strip(), created_by=call.user)
    to = f" and sent to {incoming.shown}" if incoming.slack_id else ""
    return Reply(f"Handoff {made} posted in {service.channel_of(deps.settings)}{to}.")
