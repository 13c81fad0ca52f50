"""The deliverer on a real SQLite file: an outcome it could not record (the disk was full, so its transaction
rolled back) is recorded on a later round, instead of the item staying `inflight` and blocking its incident."""
import sqlite3
import time

from bot import config, outbox, store
from bot.registry import Registry


class Flaky:
    """A destination whose first outcome cannot be written, as when the disk is full."""
    lane = "test"

    def __init__(self):
        self.failures = 1
        self.sent: list[int] = []

    def pace_key(self, row):
        return "test"

    def prepare(self, d, row):
        return lambda: self.sent.append(row["id"]) or {"ok": True}

    def succeeded(self, d, row, result):
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")


def _deliverer(tmp_path, handler) -> outbox.Deliverer:
    """A deliverer on a fresh database, with `handler` for the kind "test.call"."""
    (tmp_path / "dre-bot.toml").write_text("")
    settings = config.load(environ={"DRE_DB": str(tmp_path / "dre-bot.db")}, path=tmp_path / "dre-bot.toml")
    store.migrate(settings.db_path, settings.inbox_db_path)
    registry = Registry()
    registry.handler("test.call", handler)
    return outbox.Deliverer(settings, registry, {})


def _until_idle(d, rounds=200):
    for _ in range(rounds):
        try:
            d.step()
        except sqlite3.OperationalError:
            pass
        if not d.inflight and d.conn.execute("SELECT count(*) FROM outbox WHERE status != 'done'").fetchone()[0] == 0:
            return
        time.sleep(0.01)


def test_an_outcome_that_could_not_be_written_is_written_next_round(tmp_path):
    handler = Flaky()
    d = _deliverer(tmp_path, handler)
    try:
        with store.transaction(d.conn):
            outbox.enqueue(d.conn, 7, "test.call", "test", "test", {})
            outbox.enqueue(d.conn, 7, "test.call", "test", "test", {})   # waits behind the first
        d.step()                                                        # the first goes out
        while not all(f.done() for f in d.inflight.values()):
            time.sleep(0.01)
        try:
            d.step()                                                    # its outcome cannot be written
        except sqlite3.OperationalError:
            pass
        assert d.conn.execute("SELECT status FROM outbox ORDER BY id").fetchall()[0][0] == "inflight"
        assert d.inflight, "the deliverer must still know the call it could not record"
        _until_idle(d)
        statuses = [r[0] for r in d.conn.execute("SELECT status FROM outbox ORDER BY id")]
        assert statuses == ["done", "done"]
        assert len(handler.sent) == 2     # recorded, not sent again
    finally:
        d.pool.shutdown(wait=True)
        d.conn.close()


class Buggy(Flaky):
    """A destination whose `succeeded` has a bug (not a database error)."""

    def succeeded(self, d, row, result):
        if row["id"] == 1:
            raise KeyError("ts")


def test_a_bug_recording_one_outcome_sends_that_item_to_dead_letters_and_the_others_go_on(tmp_path):
    d = _deliverer(tmp_path, Buggy())
    try:
        with store.transaction(d.conn):
            outbox.enqueue(d.conn, 7, "test.call", "test", "test", {})
            outbox.enqueue(d.conn, 8, "test.call", "test", "test", {})
        _until_idle(d)
        rows = d.conn.execute("SELECT status, last_error FROM outbox ORDER BY id").fetchall()
        assert rows[0][0] == "dead" and "KeyError" in rows[0][1]
        assert rows[1][0] == "done"
    finally:
        d.pool.shutdown(wait=True)
        d.conn.close()
