"""Delivering handoffs to Slack: the channel post and the direct message to the incoming on-call (both with the
Acknowledge button), their edit once acknowledged, the note prompt, the reminder and the escalation.

A handoff rendered once, when it is created, is what every message shows: the shift as it was at its end."""
from __future__ import annotations

import json
import sqlite3
from typing import Callable

from bot import store
from bot.handoff import messages, service
from bot.handoff.content import mention
from bot.outbox import Deliverer
from bot.slack.delivery import SlackHandler, channel_id_by_name, looks_like_id, posted, call_slack


METADATA_EVENT = "dre_handoff"


class _Handoff(SlackHandler):
    def row(self, d: Deliverer, item: sqlite3.Row) -> store.Handoff | None:
        row = service.get(d.conn, json.loads(item["payload"])["handoff"])
        if row is None:
            d.dead(item["id"], "the handoff no longer exists")
        return row


class SendHandler(_Handoff):
    """The handoff to the channel, or to the incoming on-call (posting to a user id lands in the app's direct
    messages with them); where it landed is kept for the edit once acknowledged.

    Like the incident card, it is posted once: it carries message metadata naming the handoff, and a retry after
    an answer that was lost first looks for it in the channel."""

    def __init__(self, to: str, channel_column: str, ts_column: str):
        self.to, self.channel_column, self.ts_column = to, channel_column, ts_column

    def prepare(self, d: Deliverer, item: sqlite3.Row) -> Callable[[], dict] | None:
        row = self.row(d, item)
        if row is None:
            return None
        if row[self.ts_column]:
            d.done(item["id"], note="posted already")
            return None
        client, blocks, text, to = self.client(d), messages.handoff(row), messages.fallback(row), row[self.to]
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"handoff": row["id"]}}
        look_first = item["attempts"] > 0 and self.to == "channel"

        def send() -> dict:
            if look_first:
                found = _find_posted(client, to, row["id"], row["created_at"])
                if found:
                    return found
            return posted(client.chat_postMessage(channel=to, text=text, blocks=blocks, metadata=metadata,
                                                   unfurl_links=False).data)
        return call_slack(send)

    def succeeded(self, d: Deliverer, item: sqlite3.Row, result: dict) -> None:
        store.mark_posted(d.conn, json.loads(item["payload"])["handoff"], self.to, result.get("channel"),
                          result.get("ts"))


def _find_posted(client, channel: str, handoff_id: int, created_at: float) -> dict | None:
    """The handoff's message in the channel, when an earlier try posted it but its answer was lost."""
    channel_id = channel if looks_like_id(channel) else channel_id_by_name(client, channel)
    if channel_id is None:
        return None
    page = client.conversations_history(channel=channel_id, limit=200, include_all_metadata=True).data
    for msg in page.get("messages", []):
        meta = msg.get("metadata") or {}
        if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("handoff") == handoff_id:
            return {"channel": channel_id, "ts": msg["ts"], "found": True}
    return None


def _posted_yet(d: Deliverer, item: sqlite3.Row, row: store.Handoff) -> bool:
    """Messages about a handoff wait for the handoff itself to be posted (they are not ordered by incident)."""
    if row["slack_ts"]:
        return True
    if store.handoff_waiting(d.conn, service.POST, row["id"]):
        d.defer(item["id"], 1.0, "waiting for the handoff to be posted")
        return False
    return True


class UpdateHandler(_Handoff):
    def prepare(self, d: Deliverer, item: sqlite3.Row) -> Callable[[], dict] | None:
        row = self.row(d, item)
        if row is None or not _posted_yet(d, item, row):
            return None
        client, blocks, text = self.client(d), messages.handoff(row), messages.fallback(row)
        targets = [(c, t) for c, t in ((row["slack_channel"], row["slack_ts"]), (row["dm_channel"], row["dm_ts"]))
                   if c and t]

        def update() -> dict:
            for channel, ts in targets:
                client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            return {"updated": len(targets)}
        return call_slack(update)


class _Chase(_Handoff):
    """A reminder or an escalation: after the handoff is posted, and only while nobody has acknowledged it."""

    def waiting(self, d: Deliverer, item: sqlite3.Row) -> sqlite3.Row | None:
        row = self.row(d, item)
        if row is None or not _posted_yet(d, item, row):
            return None
        if row["acked_at"]:
            d.done(item["id"], note=f"acknowledged before the {item['kind']} went out")
            return None
        return row


class RemindHandler(_Chase):
    def prepare(self, d: Deliverer, item: sqlite3.Row) -> Callable[[], dict] | None:
        row = self.waiting(d, item)
        if row is None:
            return None
        client = self.client(d)
        text = (f":wave: {mention(row['incoming']) if row['incoming'] else 'Next on-call'}, the on-call handoff "
                f"from {mention(row['outgoing'] or row['outgoing_name'] or 'the last shift')} "
                "is waiting for you to acknowledge it.")
        if row["incoming"]:
            return call_slack(lambda: posted(client.chat_postMessage(channel=row["incoming"], text=text).data))
        return call_slack(lambda: posted(client.chat_postMessage(channel=row["slack_channel"] or row["channel"],
                                                              thread_ts=row["slack_ts"], text=text).data))


class EscalateHandler(_Chase):
    def prepare(self, d: Deliverer, item: sqlite3.Row) -> Callable[[], dict] | None:
        row = self.waiting(d, item)
        if row is None:
            return None
        client = self.client(d)
        who = mention(row["incoming"]) if row["incoming"] else "Nobody"
        text = (f":rotating_light: {who} has not acknowledged the on-call handoff, even after a reminder. "
                f"Can someone make sure the shift is covered? "
                f"{mention(row['outgoing']) if row['outgoing'] else ''}".strip())
        return call_slack(lambda: posted(client.chat_postMessage(
            channel=row["slack_channel"] or row["channel"], thread_ts=row["slack_ts"], reply_broadcast=True,
            text=text).data))


class PromptHandler(SlackHandler):
    def prepare(self, d: Deliverer, item: sqlite3.Row) -> Callable[[], dict] | None:
        payload, client = json.loads(item["payload"]), self.client(d)
        return call_slack(lambda: posted(client.chat_postMessage(
            channel=payload["to"], text="Your on-call shift ends soon: write a handoff note?",
            blocks=messages.prompt(payload["at"])).data))


def register(registry, settings, runbooks) -> None:
    for kind, handler in ((service.POST, SendHandler("channel", "slack_channel", "slack_ts")),
                          (service.DM, SendHandler("incoming", "dm_channel", "dm_ts")),
                          (service.UPDATE, UpdateHandler()), (service.REMIND, RemindHandler()),
                          (service.ESCALATE, EscalateHandler()), (service.PROMPT, PromptHandler())):
        registry.handler(kind, handler)
