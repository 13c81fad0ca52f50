"""Group commit for incoming webhooks: requests hand their rows to one writer thread, which commits a batch per
fsync and then answers all of them. Never one fsync per request under load."""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from bot import store

log = logging.getLogger("dre-bot.inbox")
MAX_BATCH = 512


@dataclass
class _Item:
    kind: str            # "inbox" or "rejected"
    source: str
    body: bytes
    content_type: str
    http_status: int
    reason: str
    future: Future
    meta: dict | None = None


class InboxWriter:
    def __init__(self, db_path: str, on_commit: threading.Event | None = None):
        self.conn = store.connect(db_path)
        self.queue: queue.Queue[_Item | None] = queue.Queue()
        self.on_commit = on_commit
        self.thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)
        self.conn.close()

    async def accept(self, source: str, body: bytes, content_type: str, meta: dict | None = None) -> int:
        """Commit the raw body to the inbox; its id once it is on disk."""
        return await asyncio.wrap_future(self._submit(_Item("inbox", source, body, content_type, 0, "", Future(),
                                                            meta)))

    async def reject(self, source: str, body: bytes, http_status: int, reason: str) -> None:
        """Keep a rejected body for inspection (`dre-bot inbox --rejected`)."""
        await asyncio.wrap_future(self._submit(_Item("rejected", source, body, "", http_status, reason, Future())))

    def _submit(self, item: _Item) -> Future:
        self.queue.put(item)
        return item.future

    def _run(self) -> None:
        while True:
            first = self.queue.get()
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
            log.exception("inbox commit failed for %d requests", len(batch))
            for item in batch:
                item.future.set_exception(exc)
            return
        for item, inbox_id in zip(accepted, ids):
            item.future.set_result(inbox_id)
        for item in batch:
            if item.kind == "rejected":
                item.future.set_result(0)
        if accepted and self.on_commit is not None:
            self.on_commit.set()
