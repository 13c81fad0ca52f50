"""App Home: the viewer's own incidents, all open incidents, active silences, who is on call."""
from __future__ import annotations

import json
import time

from bot import clock, store
from bot.durations import format_duration
from bot.incident import name
from bot.pipeline.matchers import describe
from bot.slack import blocks
from bot.slack.commands import Deps
from bot.slack.mrkdwn import escape, truncate


def publish(deps: Deps, user: str) -> None:
    conn, now = deps.conn(), clock.now()
    rows = store.open_incidents(conn)

    def line(r) -> str:
        link = deps.thread_link(r["slack_channel"], r["slack_ts"], name(r["id"]))
        return (f"• {link} {r['severity']} · {escape(truncate(r['title'], 80))} · {r['status']} · "
                f"{format_duration(now - r['opened_at'])} old")

    mine = [line(r) for r in rows if r["owner"] == user]
    silences = [f"• {s['id']}: `{escape(describe(json.loads(s['matchers'])))}` until "
                f"<!date^{int(s['ends_at'])}^{{time}}|{time.strftime('%H:%M', time.gmtime(s['ends_at']))}Z>"
                for s in store.active_silences(conn, now)]
    sections = [s for s in (section(deps) for section in deps.registry.home_sections) if s]
    oncall = "\n\n".join(sections) or "_PagerDuty is not configured, so on-call is not shown._"
    deps.client.views_publish(user_id=user, view=blocks.home_view(mine, [line(r) for r in rows], silences, oncall))
