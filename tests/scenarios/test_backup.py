"""`dre-bot backup PATH`: a consistent copy of the state database and its inbox while the bot runs."""
import sqlite3

from tests.conftest import settle


def test_a_backup_while_the_bot_runs_holds_its_incidents_and_its_inbox(bot, tmp_path):
    assert bot.post("generic", {"title": "orders is stale", "dedup_key": "a", "labels": {"table": "t1"}}).status_code == 202
    settle(bot)
    out = bot.cli("backup", str(tmp_path / "copy.db"))
    assert out.returncode == 0, out.stderr
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT title FROM incidents").fetchall() == [("orders is stale",)]
    inbox = sqlite3.connect(tmp_path / "copy.inbox.db")
    assert inbox.execute("SELECT count(*) FROM inbox").fetchone()[0] == 1


def test_backing_up_onto_the_database_itself_is_refused(bot):
    out = bot.cli("backup", bot.db_path)
    assert out.returncode == 1 and "is the database itself" in out.stderr
