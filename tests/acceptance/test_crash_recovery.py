"""A crash (kill -9) mid-delivery or before processing loses nothing: what was accepted is processed and delivered
once the bot starts again. These need a real process to kill."""
from tests.conftest import FAST_DELIVERY, parents, settle, wait_for
from tests.scenarios.test_delivery_faults import (
    _every_incident_has_one_card_and_its_snippet,
    _post_tables,
)


def test_a_crash_mid_delivery_loses_nothing(make_bot, slack):
    # Enough attempts that the outage outlasts none of them, however slowly a loaded machine processes the 8: the
    # cards must still be retrying, not dead letters, when the bot is killed.
    bot = make_bot(FAST_DELIVERY.replace("max_attempts = 6", "max_attempts = 1000"))
    slack.inject_fault("*", 500, count=10_000)          # Slack is down: everything waits in the outbox
    _post_tables(bot, 8)
    wait_for(lambda: bot.query("SELECT count(*) AS n FROM incidents")[0]["n"] == 8, what="8 incidents")
    bot.kill()                                          # SIGKILL mid-retry
    slack.clear_faults()
    bot.start()
    settle(bot, timeout=20)
    _every_incident_has_one_card_and_its_snippet(slack, 8)


def test_accepted_alerts_survive_a_crash_before_processing(make_bot, slack):
    bot = make_bot()
    bot.kill()
    # The bot is gone; commit rows the way the web process would have (the raw bodies), then start it.
    from bot import store
    conn = store.connect(bot.db_path.replace(".db", ".inbox.db"))
    with store.transaction(conn):
        store.insert_inbox(conn, [("generic", b'{"title": "queued before the crash", "dedup_key": "q"}',
                                   "application/json")])
    conn.close()
    bot.start()
    settle(bot)
    assert "queued before the crash" in parents(slack)[0]["text"]
