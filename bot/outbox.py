"""The outbox: Slack calls enqueued in the same transaction as the state change, and the deliverer that makes them.

The deliverer is the one place that knows about retries (exponential backoff with jitter), Slack's 429
Retry-After, per-channel pacing, reply order behind the parent post, and dead letters.
https://docs.slack.dev/apis/web-api/rate-limits
"""
from __future__ import annotations

import json
import logging
import random
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import metrics, store
from bot.config import Settings
from bot.incident import name
from bot.pacing import Pacer
from bot.slack import blocks

log = logging.getLogger("dre-bot.outbox")

CARD, REPLY, MESSAGE = "slack.card", "slack.reply", "slack.message"
# Slack errors that retrying cannot fix: the item goes straight to dead letters, with the error.
PERMANENT_ERRORS = {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
    "token_revoked", "missing_scope", "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text",
    "too_many_attachments", "message_not_found", "cant_update_message", "edit_window_closed", "thread_not_found",
    "restricted_action", "invalid_arguments", "channel_is_archived",
}
METADATA_EVENT = "dre_incident"


def enqueue_card(conn: sqlite3.Connection, incident_id: int, channel: str) -> None:
    """Post or refresh the incident's card. Coalesced: one waiting refresh renders the latest state."""
    waiting = conn.execute("SELECT 1 FROM outbox WHERE incident_id = ? AND kind = ? AND status = 'pending' "
                           "AND attempts = 0 AND id = (SELECT max(id) FROM outbox WHERE incident_id = ?)",
                           (incident_id, CARD, incident_id)).fetchone()
    if waiting is None:
        _insert(conn, incident_id, CARD, channel, {})


def enqueue_reply(conn: sqlite3.Connection, incident_id: int, channel: str, text: str) -> None:
    """A reply in the incident's thread, delivered after every earlier item of the incident."""
    _insert(conn, incident_id, REPLY, channel, {"text": text})


def enqueue_message(conn: sqlite3.Connection, channel: str, text: str) -> None:
    """A message in a channel that belongs to no incident (a silence ending, a handoff)."""
    _insert(conn, None, MESSAGE, channel, {"text": text})


def _insert(conn: sqlite3.Connection, incident_id: int | None, kind: str, channel: str, payload: dict) -> None:
    now = time.time()
    conn.execute("INSERT INTO outbox (incident_id, kind, channel, payload, status, attempts, next_at, created_at)"
                 " VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)", (incident_id, kind, channel, store.dumps(payload),
                                                              now, now))


def _looks_like_id(channel: str) -> bool:
    return bool(channel) and channel[0] in "CGD" and channel.isalnum() and channel.isupper()


def backoff(attempts: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next try: exponential from `base`, capped, with full jitter in [50%, 100%]."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * (0.5 + rand() / 2)


class Deliverer:
    """One thread decides and records (all database writes); a small pool makes the HTTP calls."""

    def __init__(self, settings: Settings, client: WebClient, wake: threading.Event | None = None):
        self.settings = settings
        self.client = client
        self.wake = wake or threading.Event()
        self.pacer = Pacer(settings.delivery.channel_rate, settings.delivery.channel_burst)
        self.conn = store.connect(settings.db_path)
        self.pool = ThreadPoolExecutor(settings.delivery.threads, thread_name_prefix="deliver")
        self.inflight: dict[int, Future] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="deliverer", daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        # Items a crash left in flight go again; a card post checks Slack first (see _post_card).
        self.conn.execute("UPDATE outbox SET status = 'pending' WHERE status = 'inflight'")
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self.thread.join(timeout=10)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.conn.close()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.step()
            except Exception:  # a bug here must not stop delivery for good
                log.exception("deliverer step failed")
                wait = 1.0
            self.wake.wait(timeout=wait)
            self.wake.clear()

    # --- one round ---------------------------------------------------------------------------------------------
    def step(self) -> float:
        """Record finished calls, start the due ones; return how long to sleep.

        Writes are batched: one transaction records every finished call, one marks every call about to start
        (committed before any of them goes out, so a crash leaves them `inflight` and they go again)."""
        finished = [(i, f) for i, f in self.inflight.items() if f.done()]
        if finished:
            with store.transaction(self.conn):
                for outbox_id, fut in finished:
                    del self.inflight[outbox_id]
                    self._record(outbox_id, fut)
        now = time.time()
        rows = self.conn.execute(
            "SELECT o.* FROM outbox o WHERE o.status = 'pending' AND o.next_at <= ? AND (o.incident_id IS NULL "
            "OR o.id = (SELECT min(p.id) FROM outbox p WHERE p.incident_id = o.incident_id AND p.status IN "
            "('pending', 'inflight'))) ORDER BY o.id LIMIT 200", (now,)).fetchall()
        wait = 1.0
        starting = []
        with store.transaction(self.conn):
            for row in rows:
                if len(self.inflight) + len(starting) >= self.settings.delivery.threads * 4:
                    break
                delay = self.pacer.take(row["channel"] or "", now)
                if delay > 0:
                    wait = min(wait, delay)
                    continue
                call = self._prepare(row)
                if call is None:
                    continue
                self.conn.execute("UPDATE outbox SET status = 'inflight', attempts = attempts + 1 WHERE id = ?",
                                  (row["id"],))
                starting.append((row["id"], call))
        for outbox_id, call in starting:
            fut = self.pool.submit(call)
            fut.add_done_callback(lambda _f: self.wake.set())
            self.inflight[outbox_id] = fut
        nxt = self.conn.execute("SELECT min(next_at) FROM outbox WHERE status = 'pending'").fetchone()[0]
        if nxt is not None:
            wait = min(wait, max(0.0, nxt - time.time()))
        return 0.0 if any(f.done() for f in self.inflight.values()) else max(wait, 0.005)

    def _prepare(self, row: sqlite3.Row) -> Callable[[], dict] | None:
        """Render what to send from the incident as it is now; None when the item cannot go yet."""
        if row["kind"] == MESSAGE:
            body = blocks.reply(json.loads(row["payload"])["text"])
            return lambda: self.client.chat_postMessage(channel=row["channel"], **body).data
        inc = store.incident(self.conn, row["incident_id"])
        if inc is None:
            self._dead(row["id"], "incident no longer exists")
            return None
        if row["kind"] == CARD:
            runbook_url = None
            if inc["runbook"]:
                base = self.settings.runbook_base_url
                runbook_url = f"{base.rstrip('/')}/{inc['runbook']}" if base else None
            card = blocks.incident_card(inc, runbook_url)
            text = blocks.card_text(inc)
            if inc["slack_ts"]:
                ch, ts = inc["slack_channel"], inc["slack_ts"]
                return lambda: self.client.chat_update(channel=ch, ts=ts, text=text, blocks=card).data
            first_try = row["attempts"] == 0
            known = self.conn.execute("SELECT slack_channel FROM incidents WHERE channel = ? AND slack_channel "
                                      "IS NOT NULL LIMIT 1", (inc["channel"],)).fetchone()
            channel_id = known[0] if known else (inc["channel"] if _looks_like_id(inc["channel"]) else None)
            return lambda: self._post_card(inc["id"], inc["channel"], channel_id, text, card, inc["opened_at"],
                                           first_try)
        if row["kind"] == REPLY:
            if not inc["slack_ts"]:
                self._dead(row["id"], f"the card of {name(inc['id'])} was never posted, so there is no thread")
                return None
            body = blocks.reply(json.loads(row["payload"])["text"])
            ch, ts = inc["slack_channel"], inc["slack_ts"]
            return lambda: self.client.chat_postMessage(channel=ch, thread_ts=ts, **body).data
        self._dead(row["id"], f"unknown outbox kind {row['kind']}")
        return None

    def _post_card(self, incident_id: int, channel: str, channel_id: str | None, text: str, card: list,
                   opened_at: float, first_try: bool) -> dict:
        """Post the parent message once. After a try whose outcome is unknown (a crash or a lost answer),
        look for the card in the channel by its metadata before posting again."""
        meta = {"event_type": METADATA_EVENT, "event_payload": {"incident": name(incident_id)}}
        if not first_try:
            channel_id = channel_id or self._channel_id_by_name(channel)
            found = self._find_card(channel_id, incident_id, opened_at) if channel_id else None
            if found:
                log.info("found the card of %s already in Slack (%s); not posting it again",
                         name(incident_id), found["ts"])
                return found
        return self.client.chat_postMessage(channel=channel, text=text, blocks=card, metadata=meta,
                                            unfurl_links=False, unfurl_media=False).data

    def _channel_id_by_name(self, channel: str) -> str | None:
        """A channel's id from its name (conversations.info takes ids only); None when Slack has no such channel."""
        wanted = channel.lstrip("#")
        cursor = None
        for _ in range(50):
            page = self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                                  limit=1000, cursor=cursor).data
            for ch in page.get("channels", []):
                if ch.get("name") == wanted:
                    return ch["id"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def _find_card(self, channel_id: str, incident_id: int, opened_at: float) -> dict | None:
        cursor = None
        for _ in range(10):
            page = self.client.conversations_history(channel=channel_id, oldest=f"{opened_at - 60:.6f}", limit=200,
                                                     include_all_metadata=True, cursor=cursor).data
            for msg in page.get("messages", []):
                payload = (msg.get("metadata") or {}).get("event_payload") or {}
                if (msg.get("metadata") or {}).get("event_type") == METADATA_EVENT \
                        and payload.get("incident") == name(incident_id):
                    return {"ok": True, "channel": channel_id, "ts": msg["ts"], "found": True}
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    # --- outcomes ----------------------------------------------------------------------------------------------
    def _record(self, outbox_id: int, fut: Future) -> None:
        """Write one call's outcome, inside the caller's transaction."""
        row = self.conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        if row is None:
            return
        exc = fut.exception()
        if exc is None:
            result: dict[str, Any] = fut.result()
            if row["kind"] == CARD and result.get("ts"):
                # Store the parent ts first thing: replies and updates need it, and it prevents a second card.
                self.conn.execute("UPDATE incidents SET slack_channel = ?, slack_ts = ? WHERE id = ? "
                                  "AND slack_ts IS NULL", (result.get("channel"), result["ts"],
                                                           row["incident_id"]))
            self.conn.execute("UPDATE outbox SET status = 'done', delivered_at = ?, last_error = NULL, "
                              "result = ? WHERE id = ?", (time.time(), store.dumps(
                                  {"ts": result.get("ts"), "channel": result.get("channel")}), outbox_id))
            metrics.inc("dre_outbox_delivered_total", "Outbox items delivered.", kind=row["kind"])
            return
        now = time.time()
        if isinstance(exc, SlackApiError):
            status = exc.response.status_code
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if status == 429:
                retry_after = float(exc.response.headers.get("Retry-After", exc.response.headers.get(
                    "retry-after", 1)) or 1)
                self.pacer.pause(row["channel"] or "", now + retry_after)
                # Rate limiting is Slack saying when, not a failure: it does not use up an attempt.
                self.conn.execute("UPDATE outbox SET status = 'pending', attempts = attempts - 1, next_at = ?, "
                                  "last_error = ? WHERE id = ?", (now + retry_after, "ratelimited", outbox_id))
                metrics.inc("dre_outbox_ratelimited_total", "Slack answers of 429 Too Many Requests.")
                return
            if error in PERMANENT_ERRORS:
                self._dead(outbox_id, f"Slack answered {error}")
                return
            reason = f"Slack answered HTTP {status}" + (f" {error}" if error else "")
        else:
            reason = f"{type(exc).__name__}: {exc}"
        if row["attempts"] >= self.settings.delivery.max_attempts:
            self._dead(outbox_id, f"gave up after {row['attempts']} attempts; last: {reason}")
            return
        delay = backoff(row["attempts"], self.settings.delivery.backoff_base, self.settings.delivery.backoff_max)
        self.conn.execute("UPDATE outbox SET status = 'pending', next_at = ?, last_error = ? WHERE id = ?",
                          (now + delay, reason, outbox_id))
        metrics.inc("dre_outbox_retried_total", "Outbox items scheduled for another try.")
        log.warning("outbox %s: %s; next try in %.1fs", outbox_id, reason, delay)

    def _dead(self, outbox_id: int, reason: str) -> None:
        self.conn.execute("UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (reason, outbox_id))
        metrics.inc("dre_outbox_dead_total", "Outbox items moved to dead letters.")
        log.error("outbox %s moved to dead letters: %s", outbox_id, reason)


def retry_dead(conn: sqlite3.Connection, outbox_id: int | None = None) -> int:
    """Put dead letters (one, or all) back in line; the number moved."""
    now = time.time()
    if outbox_id is None:
        cur = conn.execute("UPDATE outbox SET status = 'pending', attempts = 0, next_at = ? WHERE status = 'dead'",
                           (now,))
    else:
        cur = conn.execute("UPDATE outbox SET status = 'pending', attempts = 0, next_at = ? "
                           "WHERE status = 'dead' AND id = ?", (now, outbox_id))
    return cur.rowcount
