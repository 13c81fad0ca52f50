"""The weekly reliability report: on `[reports] weekly_day` at `weekly_time` (in `timezone`), the past seven
days against the seven before, posted with its chart to `[reports] channel`."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import templating
from bot.config import WEEKDAYS, Settings
from bot.schedule import once
from bot.reports import delivery, stats
from bot.slack import delivery as slack_delivery
from bot.slack.mrkdwn import escape

WEEK = 7 * 86400.0
LATE = 86400.0     # a report missed while the bot was down is still posted within a day


def last_due(settings: Settings, now: float) -> float | None:
    """The latest scheduled moment at or before `now`; None when no weekly report is configured."""
    cfg = settings.reports
    if not cfg.weekly_day:
        return None
    tz = ZoneInfo(cfg.timezone)
    hour, minute = (int(x) for x in cfg.weekly_time.split(":"))
    local = datetime.fromtimestamp(now, tz=tz)
    day = local.date() - timedelta(days=(local.weekday() - WEEKDAYS.index(cfg.weekly_day)) % 7)
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    if moment.timestamp() > now:
        moment = datetime.combine(day - timedelta(days=7), moment.timetz())
    return moment.timestamp()


def previous(settings: Settings, moment: float) -> float:
    """The scheduled moment a week before `moment`: seven local days, so 167 or 169 hours across a DST change."""
    return last_due(settings, moment - 1) or moment - WEEK


def render(conn: sqlite3.Connection, settings: Settings, end: float) -> str:
    zone = settings.reports.timezone
    start = previous(settings, end)
    this = stats.compute(conn, start, end, zone=zone)
    before = stats.compute(conn, previous(settings, start), start, zone=zone)
    return templating.render_or_built_in("stats.md.j2", {
        **stats.context(this), "title": "Weekly reliability report: the last 7 days",
        "previous": stats.context(before)}, settings.templates_dir, escape=escape)


def tick(conn: sqlite3.Connection, settings: Settings, now: float, first_look: float) -> bool:
    """Post the report when one is due and not posted yet (in the caller's transaction)."""
    at = last_due(settings, now)
    if at is None or at < first_look or now - at > LATE or not once(conn, f"weekly:{int(at)}", now):
        return False
    channel = settings.reports.channel or settings.channel
    slack_delivery.enqueue_message(conn, channel, render(conn, settings, at))
    delivery.enqueue_chart(conn, channel, "Incidents and MTTR, last 7 days", previous(settings, at), at,
                           zone=settings.reports.timezone)
    return True
