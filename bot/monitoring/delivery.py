"""The chart of an alert's metric, through the outbox: fetched and drawn on the monitoring lane's own thread (never
on a request path or the inbox worker), then uploaded into the incident's thread on the Slack lane, behind the
card. When there is no chart, the thread hears why.
"""
from __future__ import annotations

import base64
import json
import logging
import sqlite3
import time

from bot import outbox, store
from bot.incident import name
from bot.monitoring import chart
from bot.monitoring.client import NOT_CONFIGURED, TIMEOUT, attempt
from bot.monitoring.payload import ChartSpec
from bot.outbox import Deliverer
from bot.slack import delivery as slack
from bot.slack.mrkdwn import escape

log = logging.getLogger("dre-bot.monitoring")
LANE = "monitoring"
CHART, CHART_FILE = "monitoring.chart", "monitoring.chart_file"
VIEWER = "roles/monitoring.viewer"


def enqueue_chart(conn: sqlite3.Connection, incident_id: int, spec: ChartSpec) -> None:
    outbox.enqueue(conn, incident_id, CHART, LANE, LANE, {"spec": spec.to_dict()})


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


class ChartHandler:
    lane = LANE

    def pace_key(self, row: sqlite3.Row) -> str:
        return LANE

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        spec = ChartSpec.from_dict(json.loads(row["payload"])["spec"])
        clients = d.clients.get("monitoring")
        last_try = d.last_try(row)

        def draw() -> dict:
            now = time.time()
            data = chart.fetch(clients.metrics(), spec, now, TIMEOUT)
            if not data.series:
                return {"error": f"Cloud Monitoring has no data for `{spec.filter}` in project `{spec.project}` "
                                 f"between {_utc(data.start)} and {_utc(data.end)}."}
            png = chart.render(spec, data)
            return {"png": base64.b64encode(png).decode(), "series": len(data.series) + data.more,
                    "start": data.start, "end": data.end}

        def go() -> dict:
            if clients is None:
                return {"error": NOT_CONFIGURED}
            return attempt(draw, last_try=last_try, project=spec.project, role=VIEWER)
        return go

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        spec = ChartSpec.from_dict(json.loads(row["payload"])["spec"])
        png = result.pop("png", None)        # the image travels in the Slack item, not kept twice in the outbox
        inc = store.incident(d.conn, row["incident_id"])
        if inc is None:
            return
        metric = spec.metric or "the alert's metric"
        # The chart is evidence in the thread, not an event in the incident's story: nothing on the timeline.
        if png is None:
            log.info("%s: no chart of %s: %s", name(inc["id"]), metric, result.get("error"))
            slack.enqueue_reply(d.conn, inc["id"], inc["channel"],
                                f":warning: No chart of *{escape(metric)}*: {escape(str(result.get('error')))}")
            return
        threshold = chart.describe_threshold(spec)
        comment = (f":chart_with_upwards_trend: *{escape(metric)}* from {_utc(result['start'])} to "
                   f"{_utc(result['end'])}" + (f", {escape(threshold)}" if threshold else "")
                   + "; the incident's start is marked.")
        outbox.enqueue(d.conn, inc["id"], CHART_FILE, slack.LANE, inc["channel"],
                       {"png": png, "filename": f"{name(inc['id'])}-metric.png", "comment": comment,
                        "alt": f"{metric} around the start of {name(inc['id'])}"})


class ChartFileHandler(slack.SlackHandler):
    """Files upload v2 of the PNG into the incident's thread, on the Slack lane so it stays behind the card."""

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        inc = self.thread_of(d, row)
        if inc is None:
            return None
        payload, client = json.loads(row["payload"]), self.client(d)
        ch, ts = inc["slack_channel"], inc["slack_ts"]

        def upload() -> dict:
            data = client.files_upload_v2(channel=ch, thread_ts=ts, file=base64.b64decode(payload["png"]),
                                          filename=payload["filename"], title=payload["filename"],
                                          alt_txt=payload["alt"][:1000], initial_comment=payload["comment"]).data
            return {"file": (data.get("file") or {}).get("id")}
        return slack.call_slack(upload)   # reads Slack failures (429, permanent errors) as the deliverer needs them
