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


def test_kill_9_twice_during_a_storm_loses_no_accepted_alert_and_posts_no_card_twice(make_bot, slack):
    """Three senders post 150 alerts on 30 tables while the bot is killed twice mid-storm; every webhook answered
    202 is processed after the restarts, and each table has exactly one card."""
    import threading
    import time

    import httpx

    bot = make_bot(FAST_DELIVERY.replace("max_attempts = 6", "max_attempts = 1000"))
    accepted: list[str] = []
    lock = threading.Lock()

    def sender(worker: int) -> None:
        for n in range(50):
            table = f"analytics.t{(worker * 50 + n) % 30}"
            body = {"title": f"{table} is stale", "dedup_key": f"{table}:{worker}:{n}", "kind": "freshness",
                    "labels": {"table": table}}
            for _ in range(400):      # as monitors do: retry until the bot answers (it is restarting)
                try:
                    if bot.post("generic", body).status_code == 202:
                        with lock:
                            accepted.append(body["dedup_key"])
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for enough in (40, 100):
        wait_for(lambda: len(accepted) >= enough, timeout=60, what=f"{enough} alerts accepted")
        bot.kill()
        bot.start()
    for t in threads:
        t.join(timeout=60)
    settle(bot, timeout=60)
    assert len(accepted) == 150
    # A request cut off by the kill may have been committed without its 202 arriving: more may be processed,
    # never fewer, and every accepted alert is on its incident.
    assert bot.query("SELECT count(*) AS n FROM inbox WHERE status = 'done'")[0]["n"] >= len(accepted)
    assert bot.query("SELECT count(*) AS n FROM inbox WHERE status != 'done'")[0]["n"] == 0
    keys = {r["fingerprint"] for r in bot.query("SELECT fingerprint FROM incident_alerts")}
    assert {f"generic:{k}" for k in accepted} <= keys
    cards = parents(slack)
    tables = [c["text"] for c in cards]
    assert len(cards) == len(set(tables)) == len(bot.query("SELECT id FROM incidents"))
