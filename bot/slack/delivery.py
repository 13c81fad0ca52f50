"""Delivering to Slack: incident cards (posted once, then edited in place), thread replies, channel messages.

Enqueue with the functions here, in the transaction of the change; the outbox's deliverer calls the handlers.
https://docs.slack.dev/reference/methods/chat.postMessage
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from typing import Any, Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import outbox, store
from bot.incident import name
from bot.outbox import Deliverer, DeliveryError
from bot.slack import blocks

log = logging.getLogger("dre-bot.slack")
CARD, REPLY, MESSAGE, FILE = "slack.card", "slack.reply", "slack.message", "slack.file"
LANE = "slack"
METADATA_EVENT = "dre_incident"
# Who takes a channel's next turn when several items wait for its pace (higher first; bot/store/outbox.due_outbox):
# a card someone asked for, the storm summary, new incidents' cards, then card edits, replies and the rest.
ASKED, SUMMARY, FIRST_CARD = 3, 2, 1
REPLY_METADATA_EVENT = "dre_reply"
# Slack errors that retrying cannot fix: the item goes straight to dead letters, with the error.
PERMANENT_ERRORS = {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
    "token_revoked", "missing_scope", "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text",
    "too_many_attachments", "message_not_found", "cant_update_message", "edit_window_closed", "thread_not_found",
    "restricted_action", "invalid_arguments", "channel_is_archived",
}


def enqueue_card(conn: sqlite3.Connection, incident_id: int, channel: str, first: bool = False) -> None:
    """Post or refresh the incident's card. Coalesced: one waiting refresh renders the latest state. A `first`
    post (the incident just opened) goes ahead of the channel's edits and replies."""
    if first:
        store.add_outbox(conn, incident_id, CARD, LANE, channel, "{}", time.time(), urgency=FIRST_CARD)
    elif not store.untried_last_in_lane(conn, incident_id, CARD, LANE):
        outbox.enqueue(conn, incident_id, CARD, LANE, channel, {})


def enqueue_reply(conn: sqlite3.Connection, incident_id: int, channel: str, text: str) -> None:
    """A reply in the incident's thread, delivered after every earlier Slack item of the incident."""
    outbox.enqueue(conn, incident_id, REPLY, LANE, channel, {"text": text})


# A digest of "joined" lines shows this many, then a count: a storm joining hundreds of alerts to an incident is
# one reply per turn of the channel's pace, not hundreds.
DIGEST_LINES = 10


def enqueue_join(conn: sqlite3.Connection, incident_id: int, channel: str, line: str) -> None:
    """An "another alert joined" line in the thread. While the incident's previous such reply still waits for its
    turn (nothing else said after it), the line is added to it: one reply lists all that joined meanwhile."""
    waiting = store.waiting_digest(conn, incident_id, LANE, REPLY, CARD)
    if waiting is None:
        outbox.enqueue(conn, incident_id, REPLY, LANE, channel, {"text": line, "joins": [line]})
        return
    payload = json.loads(waiting["payload"])
    joins = payload["joins"]
    if len(joins) < DIGEST_LINES:
        joins.append(line)
    else:
        payload["more"] = payload.get("more", 0) + 1
    payload["text"] = digest_text(joins, payload.get("more", 0))
    store.set_payload(conn, waiting["id"], store.dumps(payload))


def digest_text(joins: list[str], more: int) -> str:
    if len(joins) == 1 and not more:
        return joins[0]
    head = f":heavy_plus_sign: *{len(joins) + more} more alerts joined this incident:*"
    lines = [line.replace(":heavy_plus_sign: Another alert joined this incident: ", "• ", 1) for line in joins]
    tail = [f"… and {more} more (the card counts every alert)."] if more else []
    return "\n".join([head, *lines, *tail])


def enqueue_message(conn: sqlite3.Connection, channel: str, text: str) -> None:
    """A message in a channel that belongs to no incident (a silence ending, a handoff)."""
    outbox.enqueue(conn, None, MESSAGE, LANE, channel, {"text": text})


def enqueue_file(conn: sqlite3.Connection, incident_id: int, channel: str, filename: str, content: str) -> None:
    """A file in the incident's thread (files upload v2), after every earlier Slack item of the incident."""
    outbox.enqueue(conn, incident_id, FILE, LANE, channel, {"filename": filename, "content": content})


def call_slack(call: Callable[[], dict]) -> Callable[[], dict]:
    """Run a Slack call; read a failure as the deliverer needs it."""
    def run() -> dict:
        try:
            return call()
        except SlackApiError as exc:
            status = exc.response.status_code
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if status == 429:
                headers = {k.lower(): v for k, v in exc.response.headers.items()}
                raw = headers.get("retry-after", "1")
                raw = raw[0] if isinstance(raw, list) else raw
                raise DeliveryError("Slack answered 429 ratelimited", retry_after=float(raw or 1)) from None
            if error in PERMANENT_ERRORS:
                raise DeliveryError(f"Slack answered {error}", permanent=True) from None
            raise DeliveryError(f"Slack answered HTTP {status}" + (f" {error}" if error else "")) from None
    return run


def looks_like_id(channel: str) -> bool:
    return bool(channel) and channel[0] in "CGD" and channel.isalnum() and channel.isupper()


class SlackHandler:
    lane = LANE

    def pace_key(self, row: sqlite3.Row) -> str:
        return row["channel"] or ""

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        pass

    @staticmethod
    def client(d: Deliverer) -> WebClient:
        return d.clients["slack"]

    @staticmethod
    def thread_of(d: Deliverer, row: sqlite3.Row) -> sqlite3.Row | None:
        """The item's incident, when its card is posted (so it has a thread); else the item goes to dead letters."""
        inc = store.incident(d.conn, row["incident_id"])
        if inc is None or not inc["slack_ts"]:
            d.dead(row["id"], f"the card of {name(row['incident_id'])} was never posted, so there is no thread")
            return None
        return inc


class CardHandler(SlackHandler):
    def prepare(self, d: Deliverer, row: sqlite3.Row) -> Callable[[], dict] | None:
        inc = store.incident(d.conn, row["incident_id"])
        if inc is None:
            d.dead(row["id"], "incident no longer exists")
            return None
        base = d.settings.runbook_base_url
        runbook_url = f"{base.rstrip('/')}/{inc['runbook']}" if inc["runbook"] and base else None
        card, text, client = blocks.incident_card(inc, runbook_url), blocks.card_text(inc), self.client(d)
        if inc["slack_ts"]:
            ch, ts = inc["slack_channel"], inc["slack_ts"]
            return call_slack(lambda: client.chat_update(channel=ch, ts=ts, text=text, blocks=card).data)
        first_try = row["attempts"] == 0
        known = store.slack_channel_id(d.conn, inc["channel"])
        channel_id = known if known else (inc["channel"] if looks_like_id(inc["channel"]) else None)
        return call_slack(lambda: self._post_card(client, inc["id"], inc["channel"], channel_id, text, card,
                                              inc["opened_at"], first_try))

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        if result.get("ts"):
            # Store the parent ts first thing: replies and updates need it, and it prevents a second card.
            store.update_incident(d.conn, row["incident_id"], {"slack_channel": result.get("channel"),
                                                               "slack_ts": result["ts"]}, only_if_null="slack_ts")

    def _post_card(self, client: WebClient, incident_id: int, channel: str, channel_id: str | None, text: str,
                   card: list, opened_at: float, first_try: bool) -> dict:
        """Post the parent message once. After a try whose outcome is unknown (a crash or a lost answer),
        look for the card in the channel by its metadata before posting again."""
        meta = {"event_type": METADATA_EVENT, "event_payload": {"incident": name(incident_id)}}
        if not first_try:
            channel_id = channel_id or channel_id_by_name(client, channel)
            found = find_in_channel(client, channel_id, opened_at, METADATA_EVENT, "incident", name(incident_id)) \
                if channel_id else None
            if found:
                log.info("found the card of %s already in Slack (%s); not posting it again",
                         name(incident_id), found["ts"])
                return found
        return posted(client.chat_postMessage(channel=channel, text=text, blocks=card, metadata=meta,
                                              unfurl_links=False, unfurl_media=False).data)


def channel_id_by_name(client: WebClient, channel: str) -> str | None:
    """A channel's id from its name (conversations.info takes ids only); None when Slack has no such channel."""
    wanted, cursor = channel.lstrip("#"), None
    for _ in range(50):
        page = client.conversations_list(types="public_channel,private_channel", exclude_archived=True, limit=1000,
                                         cursor=cursor).data
        for ch in page.get("channels", []):
            if ch.get("name") == wanted:
                return ch["id"]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def find_in_channel(client: WebClient, channel_id: str, since: float, event_type: str, key: str,
                    value: Any) -> dict | None:
    """The message posted in the channel after `since` (a minute's slack for clocks) whose metadata is
    `event_type` with `key` = `value`: how a try whose answer was lost finds what it already posted."""
    cursor = None
    for _ in range(10):
        page = client.conversations_history(channel=channel_id, oldest=f"{since - 60:.6f}", limit=200,
                                            include_all_metadata=True, cursor=cursor).data
        for msg in page.get("messages", []):
            meta = msg.get("metadata") or {}
            if meta.get("event_type") == event_type and (meta.get("event_payload") or {}).get(key) == value:
                return {"channel": channel_id, "ts": msg["ts"], "found": True}
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return None


class ReplyHandler(SlackHandler):
    """A thread reply, posted exactly once: it carries metadata naming its outbox item, and after a try whose
    answer was lost (or a crash), the thread is searched for it before posting again, as cards are."""

    def prepare(self, d: Deliverer, row: sqlite3.Row) -> Callable[[], dict] | None:
        inc = self.thread_of(d, row)
        if inc is None:
            return None
        body, client = blocks.reply(json.loads(row["payload"])["text"]), self.client(d)
        ch, ts, item, first_try = inc["slack_channel"], inc["slack_ts"], row["id"], row["attempts"] == 0
        meta = {"event_type": REPLY_METADATA_EVENT, "event_payload": {"item": item}}

        def post() -> dict:
            if not first_try:
                found = _find_reply(client, ch, ts, item)
                if found:
                    log.info("found reply %s already in the thread (%s); not posting it again", item, found["ts"])
                    return found
            return posted(client.chat_postMessage(channel=ch, thread_ts=ts, metadata=meta, **body).data)
        return call_slack(post)


def _find_reply(client: WebClient, channel: str, thread_ts: str, item: int) -> dict | None:
    cursor = None
    for _ in range(10):
        page = client.conversations_replies(channel=channel, ts=thread_ts, limit=200, include_all_metadata=True,
                                            cursor=cursor).data
        for msg in page.get("messages", []):
            meta = msg.get("metadata") or {}
            if meta.get("event_type") == REPLY_METADATA_EVENT and (meta.get("event_payload") or {}).get("item") == item:
                return {"channel": channel, "ts": msg["ts"], "found": True}
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return None


class MessageHandler(SlackHandler):
    def prepare(self, d: Deliverer, row: sqlite3.Row) -> Callable[[], dict] | None:
        body, client, channel = blocks.reply(json.loads(row["payload"])["text"]), self.client(d), row["channel"]
        return call_slack(lambda: posted(client.chat_postMessage(channel=channel, **body).data))


class FileHandler(SlackHandler):
    def prepare(self, d: Deliverer, row: sqlite3.Row) -> Callable[[], dict] | None:
        inc = self.thread_of(d, row)
        if inc is None:
            return None
        payload, client = json.loads(row["payload"]), self.client(d)
        ch, ts = inc["slack_channel"], inc["slack_ts"]

        def upload() -> dict:
            data = client.files_upload_v2(channel=ch, thread_ts=ts, content=payload["content"],
                                          filename=payload["filename"], title=payload["filename"]).data
            return {"file": (data.get("file") or {}).get("id")}
        return call_slack(upload)


def posted(data: dict) -> dict:
    return {"ts": data.get("ts"), "channel": data.get("channel")}
