"""Who is on call now and next, from GET /oncalls for the configured schedules or escalation policies.

Times are shown with Slack's date formatting, so every reader sees them in their own time zone.
https://developer.pagerduty.com/api-reference/3a6b910f11050-list-all-of-the-on-calls
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from bot import clock
from bot.alert import parse_time
from bot.slack.mrkdwn import escape, slack_date

if TYPE_CHECKING:
    import pagerduty   # annotations only: the client is made in bot.pagerduty.client


@dataclass(frozen=True)
class Shift:
    where: str            # schedule (or escalation policy) name
    who: str
    start: float | None
    end: float | None


def lookup(rest: pagerduty.RestApiV2Client, schedules: list[str], policies: list[str],
           now: float | None = None) -> list[tuple[Shift, Shift | None]]:
    """(current, next) per schedule or policy."""
    now = clock.now() if now is None else now
    since = datetime.fromtimestamp(now, tz=timezone.utc)
    # PagerDuty allows at most 90 days between since and until; a long window finds the next shift too.
    params: dict = {"since": since.isoformat(), "until": (since + timedelta(days=89)).isoformat(), "limit": 100}
    if schedules:
        params["schedule_ids[]"] = schedules
    if policies:
        params["escalation_policy_ids[]"] = policies
    response = rest.get("/oncalls", params=params)
    if not response.is_success:
        raise RuntimeError(f"PagerDuty answered {response.status_code} to GET /oncalls")
    by_place: dict[str, list[Shift]] = {}
    for entry in response.json().get("oncalls", []):
        place = (entry.get("schedule") or {}).get("summary") or (entry.get("escalation_policy") or {}).get(
            "summary", "on call")
        if entry.get("escalation_level", 1) not in (1, None) and not entry.get("schedule"):
            continue
        by_place.setdefault(place, []).append(Shift(place, (entry.get("user") or {}).get("summary", "?"),
                                                    parse_time(entry.get("start")), parse_time(entry.get("end"))))
    out = []
    for place, shifts in by_place.items():
        shifts.sort(key=lambda s: s.start or 0)
        current = next((s for s in shifts if (s.start or 0) <= now and (s.end is None or s.end > now)), shifts[0])
        upcoming = next((s for s in shifts if s.start and s.start >= (current.end or now) and s is not current), None)
        out.append((current, upcoming))
    return out


def _when(epoch: float | None) -> str:
    return slack_date(epoch, missing="until further notice")


def render(shifts: list[tuple[Shift, Shift | None]]) -> str:
    if not shifts:
        return "No one is on call in the configured schedules."
    lines = []
    for current, upcoming in shifts:
        line = f"*{escape(current.where)}*: {escape(current.who)} until {_when(current.end)}"
        if upcoming:
            line += f"; next {escape(upcoming.who)} from {_when(upcoming.start)}"
        lines.append(line)
    return "\n".join(lines)


def home_section(deps) -> str | None:
    """Who is on call, for App Home; None when PagerDuty is not configured."""
    pd = deps.settings.pagerduty
    if deps.pd_rest is None or not (pd.schedules or pd.escalation_policies):
        return None
    try:
        return render(lookup(deps.pd_rest, list(pd.schedules), list(pd.escalation_policies)))
    except Exception:
        return "_PagerDuty did not answer; try again in a minute._"


def oncall_emails(d, inc) -> list[str]:
    """The emails of whoever is on call first for the PagerDuty service incidents page ([pagerduty]
    default_service): its escalation policy's level-1 on-calls now. Network: called at delivery time."""
    rest, service = d.clients.get("pagerduty_rest"), d.settings.pagerduty.default_service
    if rest is None or not service:
        return []
    policy = (rest.rget(f"/services/{service}").get("escalation_policy") or {}).get("id")
    if not policy:
        return []
    oncalls = rest.rget("/oncalls", params={"escalation_policy_ids[]": [policy], "earliest": True})
    users = [o["user"]["id"] for o in oncalls if o.get("escalation_level") == 1 and (o.get("user") or {}).get("id")]
    return [e for e in (rest.rget(f"/users/{u}").get("email") for u in dict.fromkeys(users)) if e]
