"""The outbox: external calls enqueued in the same transaction as the state change, and the deliverer that
makes them.

The deliverer is the one place that knows about retries (exponential backoff with jitter), rate limits
(Slack's 429 Retry-After, PagerDuty's ratelimit-reset), pacing, order within an incident, and dead letters.
What to send and how to read the answer belongs to each destination's handler (bot/slack/delivery.py,
bot/pagerduty/delivery.py), registered by kind on the registry (bot/registry.py). Each round starts by turning
newly committed incident events into outbox items (bot/notify.py).
"""
from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Protocol

from bot import notify, store
from bot.metrics import Metrics
from bot.config import Settings
from bot.pacing import Pacer
from bot.registry import Registry

log = logging.getLogger("dre-bot.outbox")


class DeliveryError(Exception):
    """A call that did not succeed, as its handler read the answer."""

    def __init__(self, reason: str, *, retry_after: float | None = None, permanent: bool = False):
        super().__init__(reason)
        self.reason, self.retry_after, self.permanent = reason, retry_after, permanent


class Handler(Protocol):
    """What a destination implements for one outbox kind. It may also define `gave_up(d, row, reason)`, called
    when the item goes to dead letters, to say so where people look."""
    lane: str                         # items of one incident go in order within a lane (slack, pagerduty)

    def pace_key(self, row: sqlite3.Row) -> str: ...

    def prepare(self, d: "Deliverer", row: sqlite3.Row) -> Callable[[], dict] | None:
        """What to send, rendered from the state as it is now; None when the handler has settled the row."""

    def succeeded(self, d: "Deliverer", row: sqlite3.Row, result: dict) -> None:
        """Record what the call returned (in the deliverer's transaction)."""


def enqueue(conn: sqlite3.Connection, incident_id: int | None, kind: str, lane: str, channel: str,
            payload: dict) -> None:
    """Add an item in the caller's transaction. `channel` is the pacing key (a Slack channel, "pagerduty")."""
    now = time.time()
    store.add_outbox(conn, incident_id, kind, lane, channel, store.dumps(payload), now)


def backoff(attempts: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next try: exponential from `base`, capped, with full jitter in [50%, 100%]."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * (0.5 + rand() / 2)


class Deliverer:
    """One thread decides and records (all database writes); a small pool makes the HTTP calls."""

    def __init__(self, settings: Settings, registry: Registry, clients: dict[str, Any],
                 wake: threading.Event | None = None, metrics: Metrics | None = None):
        self.settings, self.registry = settings, registry
        self.metrics = metrics or Metrics()
        self.handlers = registry.handlers
        # Lanes whose calls are slow (a BigQuery job holds its thread for seconds) get threads of their own, so a
        # burst of them never keeps cards and replies waiting. Other lanes share [delivery] threads.
        self.own_threads = registry.own_threads()
        self.clients = clients            # what handlers call: {"slack": WebClient, "pagerduty": ...}
        self.wake = wake or threading.Event()
        self.pacers: dict[str, Pacer] = {}
        self.conn = store.connect(settings.db_path)
        self.pool = ThreadPoolExecutor(settings.delivery.threads, thread_name_prefix="deliver")
        self.lane_pools = {lane: ThreadPoolExecutor(n, thread_name_prefix=f"deliver-{lane}")
                           for lane, n in self.own_threads.items()}
        self.inflight: dict[int, Future] = {}
        self.inflight_lane: dict[int, str] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="deliverer", daemon=True)

    def pacer(self, lane: str) -> Pacer:
        if lane not in self.pacers:
            own = self.registry.lanes.get(lane)
            rate = own.rate if own and own.rate is not None else self.settings.delivery.channel_rate
            burst = own.burst if own and own.burst is not None else self.settings.delivery.channel_burst
            self.pacers[lane] = Pacer(rate, burst)
        return self.pacers[lane]

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        # Items a crash left in flight go again; handlers whose calls are not idempotent check first.
        store.requeue_inflight(self.conn)
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self.thread.join(timeout=10)
        self.pool.shutdown(wait=True, cancel_futures=True)
        for pool in self.lane_pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
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
        """Record finished calls, turn new events into items, start the due ones; return how long to sleep.

        All in one transaction, so one fsync per round however much it did: the finished calls' outcomes, the
        new items, and every call about to start marked `inflight` (committed before any of them goes out, so a
        crash leaves them `inflight` and they go again, looked for first by handlers that must not repeat)."""
        finished = [(i, f) for i, f in self.inflight.items() if f.done()]
        done_ids = {outbox_id for outbox_id, _ in finished}
        busy: dict[str, int] = {}
        for outbox_id, lane in self.inflight_lane.items():
            if outbox_id not in done_ids:
                busy[lane] = busy.get(lane, 0) + 1
        wait = 1.0
        starting = []
        with store.transaction(self.conn):
            for outbox_id, fut in finished:
                self._guarded(outbox_id, "recording the outcome", lambda: self._record(outbox_id, fut))
            notify.dispatch(self.conn, self.registry)
            # Read the time after dispatch: the items it just made are due now and go in this round. Read before,
            # they looked due later, and a new incident's card waited a whole wake-up cycle (5-8 ms) for nothing.
            now = time.time()
            # Lanes with all their threads busy are left out of the query, so they cannot crowd out the others.
            full = [lane for lane, n in self.own_threads.items() if busy.get(lane, 0) >= n * 2]
            # The first waiting item of each incident and lane, so replies stay behind their card.
            rows = store.due_outbox(self.conn, now, full)
            for row in rows:
                handler = self.handlers.get(row["kind"])
                if handler is None:
                    self.dead(row["id"], f"no handler for outbox kind {row['kind']}")
                    continue
                lane = handler.lane
                shared = sum(n for name_, n in busy.items() if name_ not in self.own_threads)
                if lane in self.own_threads and busy.get(lane, 0) >= self.own_threads[lane] * 2:
                    continue
                if lane not in self.own_threads and shared >= self.settings.delivery.threads * 4:
                    continue
                delay = self.pacer(handler.lane).take(handler.pace_key(row), now)
                if delay > 0:
                    wait = min(wait, delay)
                    continue
                try:
                    with store.savepoint(self.conn, "prepare"):
                        call = handler.prepare(self, row)
                except Exception as exc:   # a bug rendering one item must not hold up the round's other writes
                    log.exception("outbox %s (%s): preparing the call failed", row["id"], row["kind"])
                    reason = f"{type(exc).__name__}: {exc}"
                    self._guarded(row["id"], "giving up on it", lambda: self._not_prepared(row, reason))
                    continue
                if call is None:
                    continue
                store.mark_inflight(self.conn, row["id"])
                starting.append((row["id"], call, lane))
                busy[lane] = busy.get(lane, 0) + 1
        # Forgotten only once their outcomes are committed: when the transaction rolls back (a full disk), they are
        # recorded next round instead of staying `inflight` in the table and blocking their incident.
        for outbox_id, _ in finished:
            del self.inflight[outbox_id]
            self.inflight_lane.pop(outbox_id, None)
        for outbox_id, call, lane in starting:
            fut = self.lane_pools.get(lane, self.pool).submit(call)
            fut.add_done_callback(lambda _f: self.wake.set())
            self.inflight[outbox_id] = fut
            self.inflight_lane[outbox_id] = lane
        # Items due later set the wake-up; due items skipped for pacing set it above, and items waiting for a busy
        # lane are woken by the calls that finish.
        nxt = store.next_due_after(self.conn, now)
        if nxt is not None:
            wait = min(wait, max(0.0, nxt - time.time()))
        return 0.0 if any(f.done() for f in self.inflight.values()) else max(wait, 0.005)

    # --- outcomes ----------------------------------------------------------------------------------------------
    def _record(self, outbox_id: int, fut: Future) -> None:
        """Write one call's outcome, inside the caller's transaction."""
        row = store.outbox_row(self.conn, outbox_id)
        if row is None:
            return
        handler = self.handlers[row["kind"]]
        exc = fut.exception()
        if exc is None:
            result: dict[str, Any] = fut.result() or {}
            handler.succeeded(self, row, result)
            self.done(outbox_id, result)
            return
        now = time.time()
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            self.pacer(handler.lane).pause(handler.pace_key(row), now + exc.retry_after)
            # A rate limit is the other side saying when, not a failure: it does not use up an attempt.
            store.rate_limited(self.conn, outbox_id, now + exc.retry_after, exc.reason)
            self.metrics.outbox_ratelimited.labels(lane=handler.lane).inc()
            return
        if isinstance(exc, DeliveryError) and exc.permanent:
            self.dead(outbox_id, exc.reason)
            return
        reason = exc.reason if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        if row["attempts"] >= self.settings.delivery.max_attempts:
            self.dead(outbox_id, f"gave up after {row['attempts']} attempts; last: {reason}")
            return
        delay = backoff(row["attempts"], self.settings.delivery.backoff_base, self.settings.delivery.backoff_max)
        store.retry_later(self.conn, outbox_id, now + delay, reason)
        self.metrics.outbox_retried.labels(lane=handler.lane).inc()
        log.warning("outbox %s (%s): %s; next try in %.1fs", outbox_id, row["kind"], reason, delay)

    def _guarded(self, outbox_id: int, what: str, write: Callable[[], None]) -> None:
        """One item's bookkeeping in a savepoint of the round's transaction: if it fails (a bug in a handler's
        `succeeded` or `gave_up`), the item goes to dead letters as it is, and the round's other writes stand. A
        database error is not a bug of the item's: it rolls the round back, to be written again next round."""
        try:
            with store.savepoint(self.conn, "item"):
                write()
        except sqlite3.Error:
            raise   # the database itself (a full disk): the whole round rolls back and is written next round
        except Exception as exc:
            log.exception("outbox %s: %s failed; moved to dead letters", outbox_id, what)
            store.mark_dead(self.conn, outbox_id, f"{what} failed: {type(exc).__name__}: {exc}")
            self.metrics.outbox_dead.inc()

    def _not_prepared(self, row, reason: str) -> None:
        """A failed try like any other: retried with backoff, dead letters after the last attempt."""
        attempts = row["attempts"] + 1
        if attempts >= self.settings.delivery.max_attempts:
            self.dead(row["id"], f"gave up after {attempts} attempts; last: {reason}")
            return
        store.mark_inflight(self.conn, row["id"])   # counts the attempt
        delay = backoff(attempts, self.settings.delivery.backoff_base, self.settings.delivery.backoff_max)
        store.retry_later(self.conn, row["id"], time.time() + delay, reason)

    def last_try(self, row: sqlite3.Row) -> bool:
        """Whether the try about to start is the item's last before dead letters (handlers may then tell people)."""
        return row["attempts"] + 1 >= self.settings.delivery.max_attempts

    def defer(self, outbox_id: int, seconds: float, why: str) -> None:
        """Not yet, and not a failure: try again in `seconds` without using up an attempt."""
        store.defer_outbox(self.conn, outbox_id, time.time() + seconds, why)

    def done(self, outbox_id: int, result: dict | None = None, note: str | None = None) -> None:
        store.mark_delivered(self.conn, outbox_id, time.time(), note, store.dumps(result or {}))
        self.metrics.outbox_delivered.inc()

    def dead(self, outbox_id: int, reason: str) -> None:
        """Give up on an item. Its handler's `gave_up`, when it has one, tells people what did not happen and what
        to do instead (a page that did not go out), in the same transaction."""
        store.mark_dead(self.conn, outbox_id, reason)
        self.metrics.outbox_dead.inc()
        log.error("outbox %s moved to dead letters: %s", outbox_id, reason)
        row = store.outbox_row(self.conn, outbox_id)
        gave_up = getattr(self.handlers.get(row["kind"]) if row else None, "gave_up", None)
        if gave_up is not None:
            gave_up(self, row, reason)


def retry_dead(conn: sqlite3.Connection, outbox_id: int | None = None) -> int:
    """Put dead letters (one, or all) back in line; the number moved."""
    return store.revive_dead(conn, time.time(), outbox_id)
