"""Slack answering 429 and 500 for a while delays delivery but loses nothing; a restart mid-delivery loses
nothing; a card is never posted twice, even when Slack's answer to the post is lost."""

from tests.conftest import FAST_DELIVERY, parents, replies, settle, wait_for


def _post_tables(bot, n, prefix="t"):
    for i in range(n):
        assert bot.post("generic", {"title": f"load failed {prefix}{i}", "dedup_key": f"{prefix}{i}",
                                    "labels": {"table": f"analytics.{prefix}{i}"}}).status_code == 202


def _every_incident_has_one_card_and_its_snippet(slack, n):
    cards = parents(slack)
    assert len(cards) == n, [c["text"] for c in cards]
    assert len({c["text"].split(" ")[0] for c in cards}) == n     # INC-1..n, each once
    for card in cards:
        thread = replies(slack, card["ts"])
        assert len(thread) == 1 and "runbook" in thread[0]["text"].lower(), thread


def test_429_with_retry_after_delays_but_loses_nothing(bot, slack):
    slack.inject_fault("chat.postMessage", 429, count=3, retry_after=1)
    _post_tables(bot, 3)
    settle(bot, timeout=20)
    _every_incident_has_one_card_and_its_snippet(slack, 3)
    calls = slack.calls("chat.postMessage")
    limited = [c for c in calls if c["status"] == 429]
    assert len(limited) == 3
    after = [c for c in calls if c["status"] == 200 and c["at"] > limited[0]["at"]]
    assert after[0]["at"] - limited[0]["at"] >= 0.9          # Retry-After: 1 was honoured
    assert bot.query("SELECT count(*) AS n FROM outbox WHERE status = 'dead'") == [{"n": 0}]


def test_500s_for_a_while_are_retried_with_backoff(bot, slack):
    slack.inject_fault("chat.postMessage", 500, count=4)
    slack.inject_fault("chat.update", 503, count=2)
    _post_tables(bot, 2)
    settle(bot, timeout=20)
    _every_incident_has_one_card_and_its_snippet(slack, 2)
    assert [c["status"] for c in slack.calls("chat.postMessage")][:4] == [500] * 4


def test_a_permanent_error_goes_to_dead_letters_and_can_be_retried(make_bot, slack):
    bot = make_bot(DRE_CHANNEL="#does-not-exist")
    _post_tables(bot, 1)
    wait_for(lambda: bot.query("SELECT * FROM outbox WHERE status = 'dead'"), what="a dead letter")
    listing = bot.cli("outbox", "--dead").stdout
    assert "channel_not_found" in listing and "--retry" in listing
    assert parents(slack) == []


def test_too_many_failures_end_in_dead_letters_not_a_loop(make_bot, slack):
    bot = make_bot(FAST_DELIVERY.replace("max_attempts = 6", "max_attempts = 2"))
    slack.inject_fault("chat.postMessage", 500, count=100)
    _post_tables(bot, 1)
    dead = wait_for(lambda: len(rows := bot.query("SELECT * FROM outbox WHERE status = 'dead' ORDER BY id")) == 2
                    and rows, what="the card and its reply in dead letters")
    assert dead[0]["kind"] == "slack.card" and "gave up after 2 attempts" in dead[0]["last_error"]
    assert "never posted" in dead[1]["last_error"]
    slack.clear_faults()
    assert "2 dead letter(s) back in line" in bot.cli("outbox", "--retry-all").stdout
    settle(bot)
    _every_incident_has_one_card_and_its_snippet(slack, 1)


def test_a_lost_answer_to_the_card_post_does_not_post_a_second_card(bot, slack):
    slack.inject_fault("chat.postMessage", 500, count=1, lost_answer=True)   # posted, but the bot hears 500
    _post_tables(bot, 1)
    settle(bot)
    _every_incident_has_one_card_and_its_snippet(slack, 1)
    history = slack.calls("conversations.history")
    assert history, "the bot should look for its card before posting again"


def test_replies_wait_behind_their_parent_post(bot, slack):
    slack.inject_fault("chat.postMessage", 500, count=2)
    _post_tables(bot, 1)
    settle(bot)
    ok = [c for c in slack.calls("chat.postMessage") if c["status"] == 200]
    assert "thread_ts" not in ok[0]["params"] and ok[1]["params"]["thread_ts"]
