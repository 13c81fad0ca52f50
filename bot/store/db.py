"""Connections to the SQLite databases and their transactions: every other store module works through them."""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from typing import Any, Iterator

# One write lock per database file in this process. SQLite lets one writer in at a time and makes the others
# wait in its busy handler, which sleeps (1, 2, 5, 10 ... 100 ms) between tries instead of being woken: with the
# inbox processor, the deliverer and Slack's listeners all writing, a storm spent most of its time asleep there
# (docs/PERFORMANCE.md). Threads of this process queue on this lock instead and are woken the moment the writer
# before them commits; other processes (the CLI) still meet SQLite's busy handler.
_FILE_LOCKS: dict[str, threading.RLock] = {}
LOCK_TIMEOUT = 30.0   # seconds, as SQLite's own busy timeout below
_GUARD = threading.Lock()


def _lock_for(path: str) -> threading.RLock | None:
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    key = os.path.realpath(path)
    with _GUARD:
        return _FILE_LOCKS.setdefault(key, threading.RLock())


def connect(path: str, *, fsync: bool = True) -> sqlite3.Connection:
    """A connection in WAL mode with full fsync: a committed row survives a crash or power loss.

    `fsync=False` (synchronous=NORMAL) is for a writer whose every change can be made again from what is already on
    disk, and that nobody outside hears of before a full commit: the inbox processor. Its commits survive a crash of
    the process as they are; after a power loss its latest ones may roll back, and since each inbox row's status
    rolls back with them, it processes those rows again. Nothing it did was told: the deliverer's commit that
    precedes every call out is a full one, and it syncs the WAL with every commit before it."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False, factory=Connection)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.write_lock = _lock_for(str(path))
    return conn


class Connection(sqlite3.Connection):
    """A connection that knows its database file's write lock in this process (None for :memory:)."""
    write_lock: threading.RLock | None = None


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error, a failed COMMIT included: SQLite leaves the
    transaction open when COMMIT fails (a full disk), and every later BEGIN on the connection would fail with it.
    Writers in this process take turns on the file's lock first (above)."""
    lock = getattr(conn, "write_lock", None)
    if lock is not None and not lock.acquire(timeout=LOCK_TIMEOUT):
        raise sqlite3.OperationalError(f"database is locked: another writer in this process held it for "
                                       f"{LOCK_TIMEOUT:.0f} s")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise
    finally:
        if lock is not None:
            lock.release()


def rollback(conn: sqlite3.Connection) -> None:
    """End an open transaction, if any; a rollback that fails too leaves the error being raised to speak."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def checkpoint(conn: sqlite3.Connection, truncate: bool = True) -> bool:
    """Copy the WAL into the database now, without waiting on a busy database; False when it was busy (try again
    later). `truncate` also empties the file, but blocks the database's writers while it runs; without it (PASSIVE)
    writers go on, and the WAL is reused from its start instead of growing."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        busy, _, _ = conn.execute(f"PRAGMA wal_checkpoint({'TRUNCATE' if truncate else 'PASSIVE'})").fetchone()
        return not busy
    finally:
        conn.execute("PRAGMA busy_timeout=30000")


@contextlib.contextmanager
def savepoint(conn: sqlite3.Connection, name: str = "step") -> Iterator[sqlite3.Connection]:
    """A nested transaction: on any error, only what happened inside it is rolled back, then the error goes on."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield conn
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


def connect_for_reading(path: str, inbox_path: str) -> sqlite3.Connection:
    """The state database with the inbox attached, and a view `inbox` of every row with what became of it.

    For the CLI and for inspection only: a connection with the inbox attached would take its write lock too."""
    conn = connect(path)
    conn.execute("ATTACH DATABASE ? AS ib", (inbox_path,))
    conn.execute("CREATE TEMP VIEW inbox AS SELECT i.id, i.source, i.received_at, i.content_type, i.body, "
                 "COALESCE(s.status, 'new') AS status, COALESCE(s.alerts, 0) AS alerts, s.error, s.processed_at "
                 "FROM ib.inbox i LEFT JOIN main.inbox_status s ON s.inbox_id = i.id")
    conn.execute("CREATE TEMP VIEW rejected AS SELECT * FROM ib.rejected")
    return conn


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
