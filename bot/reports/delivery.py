"""Delivering reports to Slack: the stats chart (a PNG, files upload v2) in the channel that asked, or under the
weekly report. The chart is drawn at delivery time from the same window and filters as its text."""
from __future__ import annotations

import json
import sqlite3
from typing import Callable

from bot import outbox, store
from bot.outbox import Deliverer
from bot.reports import chart, stats
from bot.slack.delivery import SlackHandler, channel_id_by_name, looks_like_id, call_slack

CHART = "report.chart"


def enqueue_chart(conn: sqlite3.Connection, channel: str, title: str, start: float, end: float,
                  source: str | None = None, table: str | None = None, zone: str = "UTC") -> None:
    outbox.enqueue(conn, None, CHART, "slack", channel, {"title": title, "start": start, "end": end,
                                                        "source": source, "table": table, "zone": zone})


class ChartHandler(SlackHandler):
    def prepare(self, d: Deliverer, item: sqlite3.Row) -> Callable[[], dict] | None:
        p, client, channel = json.loads(item["payload"]), self.client(d), item["channel"]
        if store.earlier_waiting_in_channel(d.conn, item["id"], channel, "slack.message"):
            d.defer(item["id"], 1.0, "waiting for the report's text to be posted first")
            return None
        figures = stats.compute(d.conn, p["start"], p["end"], p["source"], p["table"], p["zone"])

        def upload() -> dict:
            channel_id = channel if looks_like_id(channel) else channel_id_by_name(client, channel)
            if channel_id is None:
                from bot.outbox import DeliveryError
                raise DeliveryError(f"no channel {channel} that the bot can see", permanent=True)
            image = chart.png(figures, p["title"])
            data = client.files_upload_v2(channel=channel_id, file=image, filename="incident-stats.png",
                                          title=p["title"], alt_txt=f"{p['title']}: incidents per day and MTTR").data
            return {"file": (data.get("file") or {}).get("id")}
        return call_slack(upload)


def register(registry, settings, runbooks) -> None:
    registry.handler(CHART, ChartHandler())
