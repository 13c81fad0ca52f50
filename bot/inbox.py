"""Group commit for incoming webhooks: requests hand their rows to one writer thread, which commits a batch per
fsync and then answers all of them. Never one fsync per request under load."""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass

from bot import store

log = logging.getLogger("dre-bot.inbox")
MAX_BATCH = 512
# A WAL file grows until a checkpoint can reset it; SQLite's automatic checkpoint never truncates the file, and
# readers holding old snapshots keep it large (the state database's measured 4.1 MB after 30 alerts, 0 after
# this). The writer truncates both databases' WALs once no webhook has come for CHECKPOINT_IDLE seconds, and
# every CHECKPOINT_IDLE seconds while none come, since the worker and deliverer keep writing. A truncating
# checkpoint blocks every writer while it runs, so during a storm it never runs: every CHECKPOINT_BUSY seconds
# a passive one copies the WAL back instead, and writers go on.
CHECKPOINT_IDLE, CHECKPOINT_BUSY, CHECKPOINT_FORCE = 1.0, 10.0, 60.0   # seconds


@dataclass
class _Item:
    kind: str            # "inbox" or "rejected"
    source: str
    body: bytes
    content_type: str
    http_status: int
    reason: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    meta: dict | None = None


class InboxWriter:
    def __init__(self, db_path: str, on_commit: threading.Event | None = None, checkpoint_also: tuple[str, ...] = ()):
        self.conn = store.connect(db_path)
        self.others = [store.connect(path) for path in checkpoint_also]   # checkpointed only, never written
        self.queue: queue.Queue[_Item | None] = queue.Queue()
        self.on_commit = on_commit
        self.thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        # (since when, why) while commits fail, else None: /healthz reports it; the next good commit clears it.
        self.failing: tuple[float, str] | None = None
        self._last_checkpoint = time.monotonic()
        self.last_commit = float("-inf")   # monotonic time of the last batch committed
        self._last_truncate = time.monotonic()

    def busy(self, within: float = 0.05) -> bool:
        """Whether webhooks are coming in now (a batch committed in the last `within` seconds)."""
        return time.monotonic() - self.last_commit < within

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)
        self.conn.close()
        for conn in self.others:
            conn.close()

    async def accept(self, source: str, body: bytes, content_type: str, meta: dict | None = None) -> int:
        """Commit the raw body to the inbox; its id once it is on disk."""
        loop = asyncio.get_running_loop()
        return await self._submit(_Item("inbox", source, body, content_type, 0, "", loop, loop.create_future(), meta))

    async def reject(self, source: str, body: bytes, http_status: int, reason: str) -> None:
        """Keep a rejected body for inspection (`dre-bot inbox --rejected`)."""
        loop = asyncio.get_running_loop()
        await self._submit(_Item("rejected", source, body, "", http_status, reason, loop, loop.create_future()))

    def _submit(self, item: _Item) -> asyncio.Future:
        self.queue.put(item)
        return item.future

    def _run(self) -> None:
        while True:
            try:
                first = self.queue.get(timeout=CHECKPOINT_IDLE)
            except queue.Empty:   # quiet for a while: a good time to empty the WALs
                self._checkpoint(truncate=True)
                continue
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        try:
            with store.transaction(self.conn):
                accepted = [i for i in batch if i.kind == "inbox"]
                ids = store.insert_inbox(self.conn, [(i.source, i.body, i.content_type, i.meta) for i in accepted])
                for item in batch:
                    if item.kind == "rejected":
                        store.reject(self.conn, item.source, item.http_status, item.reason, item.body)
        except Exception as exc:  # the disk is full or the database is broken: every waiter hears it
            log.error("inbox commit failed for %d requests: %s", len(batch), exc)
            # A failed COMMIT leaves the transaction open, and every later BEGIN would fail with it: roll back
            # so the next batch starts clean once space returns, without a restart.
            store.rollback(self.conn)
            if self.failing is None:
                self.failing = (time.time(), str(exc))
            _settle([(item, None, exc) for item in batch])
            return
        if self.failing is not None:
            log.warning("inbox commits work again after failing since %s", time.ctime(self.failing[0]))
            self.failing = None
        answers = dict(zip((id(item) for item in accepted), ids))
        _settle([(item, answers.get(id(item), 0), None) for item in batch])
        self.last_commit = time.monotonic()
        if accepted and self.on_commit is not None:
            self.on_commit.set()
        if time.monotonic() - self._last_checkpoint >= CHECKPOINT_BUSY:
            # Readers holding old snapshots can keep a passive checkpoint from resetting the WAL: a truncating one
            # at least every CHECKPOINT_FORCE seconds, even in a storm, keeps the files from growing for good.
            self._checkpoint(truncate=time.monotonic() - self._last_truncate >= CHECKPOINT_FORCE)

    def _checkpoint(self, truncate: bool) -> None:
        self._last_checkpoint = time.monotonic()
        if truncate:
            self._last_truncate = self._last_checkpoint
        for conn in (self.conn, *self.others):
            # No busy wait: a reader on an old snapshot or a writer defers the checkpoint to the next round.
            try:
                if not store.checkpoint(conn, truncate):
                    log.debug("WAL checkpoint deferred: the database is busy")
            except Exception as exc:
                log.warning("WAL checkpoint failed: %s", exc)


def _settle(outcomes: list[tuple[_Item, int | None, BaseException | None]]) -> None:
    """Answer the waiting requests: one hand-over to each event loop for the whole batch, not one per request
    (each is a write to the loop's wake-up pipe and a turn of the loop)."""
    by_loop: dict[asyncio.AbstractEventLoop, list] = {}
    for item, result, exc in outcomes:
        by_loop.setdefault(item.loop, []).append((item.future, result, exc))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_answer, answers)
        except RuntimeError:   # the loop has closed (shutting down): nobody is waiting any more
            pass


def _answer(answers: list) -> None:
    for future, result, exc in answers:
        if future.done():      # the request was cancelled (its client went away)
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
