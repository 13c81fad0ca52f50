"""Shift changes: from a PagerDuty schedule's final schedule, or from a cron expression.

https://developer.pagerduty.com/api-reference/3f03afb2c84a4-get-a-schedule (with `since`/`until`, the final
schedule's `rendered_schedule_entries`, clipped to the range)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.alert import parse_time


@dataclass(frozen=True)
class Person:
    """Someone on call, as PagerDuty knows them (id, name, email); Slack's id is looked up by email."""
    pd_id: str
    name: str
    email: str | None = None


@dataclass(frozen=True)
class Change:
    """The moment `outgoing` hands over to `incoming`; the outgoing shift began at `shift_start`."""
    key: str
    at: float
    shift_start: float
    outgoing: Person | None
    incoming: Person | None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_schedule(rest, schedule_id: str, since: float, until: float, emails: dict[str, str | None]) -> list[Change]:
    """The shift changes strictly inside (since, until). `emails` caches PagerDuty user id -> email."""
    response = rest.get(f"/schedules/{schedule_id}", params={"since": _iso(since), "until": _iso(until)})
    if not response.is_success:
        raise RuntimeError(f"PagerDuty answered {response.status_code} to GET /schedules/{schedule_id}: "
                           f"{response.text[:200]}")
    entries = (response.json().get("schedule", {}).get("final_schedule") or {}).get("rendered_schedule_entries") or []
    spans: list[tuple[float, float, Person | None]] = []
    for entry in sorted(entries, key=lambda e: parse_time(e["start"]) or 0):
        user = entry.get("user") or {}
        person = None
        if user.get("id"):
            if emails.get(user["id"]) is None:
                emails[user["id"]] = _email(rest, user["id"])   # None (not known yet) is asked again next time
            person = Person(user["id"], user.get("summary") or user["id"], emails[user["id"]])
        start, end = parse_time(entry["start"]), parse_time(entry["end"])
        if spans and _who(spans[-1][2]) == _who(person) and abs(spans[-1][1] - start) < 1:   # one shift, two entries
            spans[-1] = (spans[-1][0], end, spans[-1][2])
        else:
            spans.append((start, end, person))
    changes = []
    for (start, _, before), (nstart, _, after) in zip(spans, spans[1:]):
        # A change is someone else starting: right after the last shift, or after a time nobody was on call
        # (then the handoff covers the gap too). The edges of the asked range are not changes.
        if _who(before) != _who(after) and since < nstart < until:
            changes.append(Change(f"pagerduty:{schedule_id}:{int(nstart)}", nstart, start, before, after))
    return changes


def _who(person: Person | None) -> str | None:
    return person.pd_id if person else None


def _email(rest, user_id: str) -> str | None:
    """The user's email; None when PagerDuty did not say (the caller does not cache that)."""
    try:
        response = rest.get(f"/users/{user_id}")
    except Exception:
        return None
    return (response.json().get("user") or {}).get("email") if response.is_success else None


def from_cron(expression: str, zone: str, since: float, until: float) -> list[Change]:
    """Each time the expression fires inside (since, until], in the zone's local time."""
    from croniter import croniter   # here, not at start: only cron-based handoffs need it
    tz = ZoneInfo(zone)
    it = croniter(expression, datetime.fromtimestamp(since, tz=tz))
    fires = []
    while len(fires) < 1000:
        at = it.get_next(datetime).timestamp()
        if at > until:
            break
        fires.append(at)
    previous = croniter(expression, datetime.fromtimestamp(fires[0], tz=tz)).get_prev(datetime).timestamp() \
        if fires else since
    changes, last_wall = [], None
    for at in fires:
        wall = datetime.fromtimestamp(at, tz=tz).replace(tzinfo=None)
        if wall == last_wall:     # the hour repeated when clocks go back: one handoff, not two
            continue
        changes.append(Change(f"cron:{expression}:{int(at)}", at, previous, None, None))
        previous, last_wall = at, wall
    return changes
