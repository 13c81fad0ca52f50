"""A storm joining many alerts to one incident is one reply per turn of the channel, not one per alert: while the
incident's last "joined" reply still waits for its turn, new lines are added to it (the first DIGEST_LINES shown,
then a count). Anything else said in the thread after it starts a new reply, so the thread reads in order.

Real webhooks into the in-process bot, the real Slack client against the emulator; Slack answering the card's
first post with 429 Retry-After holds the channel while the alerts come in."""
from bot.slack.delivery import DIGEST_LINES
from tests.conftest import FAST_DELIVERY, parents, replies, settle, wait_for


def _post(bot, key, title=None):
    assert bot.post("generic", {"title": title or f"row count anomaly {key}", "dedup_key": key, "severity": "sev2",
                                "labels": {"table": "analytics.orders"}}).status_code == 202


def _joined(slack, card):
    return [r["text"] for r in replies(slack, card["ts"]) if "joined this incident" in r["text"]]


def test_alerts_joining_while_the_thread_waits_are_one_reply(make_bot, slack):
    bot = make_bot(FAST_DELIVERY)
    slack.inject_fault("chat.postMessage", 429, count=1, retry_after=2)   # holds the card, and the thread
    _post(bot, "first")
    count = DIGEST_LINES + 5
    for i in range(count):
        _post(bot, f"k{i}")
    wait_for(lambda: bot.query("SELECT alert_count AS n FROM incidents")[0]["n"] == count + 1, 5, "the alerts")
    settle(bot, timeout=30)
    card, = parents(slack)
    joined = _joined(slack, card)
    assert len(joined) == 1, joined
    digest = joined[0]
    assert f"{count} more alerts joined this incident" in digest
    assert all(f"row count anomaly k{i}" in digest for i in range(DIGEST_LINES))
    assert f"row count anomaly k{DIGEST_LINES}" not in digest and "and 5 more" in digest


def test_a_line_said_after_a_digest_starts_a_new_reply(make_bot, slack):
    bot = make_bot(FAST_DELIVERY)
    slack.inject_fault("chat.postMessage", 429, count=1, retry_after=2)
    _post(bot, "first")
    _post(bot, "a1")
    wait_for(lambda: bot.query("SELECT alert_count AS n FROM incidents")[0]["n"] == 2, 5, "the first join")
    # a sev1 alert raises the severity: the owners are mentioned in the thread, after a1's line
    assert bot.post("generic", {"title": "row count anomaly esc", "dedup_key": "esc", "severity": "sev1",
                                "labels": {"table": "analytics.orders"}}).status_code == 202
    _post(bot, "a3")
    wait_for(lambda: bot.query("SELECT alert_count AS n FROM incidents")[0]["n"] == 4, 5, "the other joins")
    settle(bot, timeout=30)
    card, = parents(slack)
    thread = [r["text"] for r in replies(slack, card["ts"])]
    with_a1 = [i for i, text in enumerate(thread) if "anomaly a1" in text]
    with_a3 = [i for i, text in enumerate(thread) if "anomaly a3" in text]
    escalated = [i for i, text in enumerate(thread) if "Severity raised" in text]
    assert len(with_a1) == 1 and len(with_a3) == 1 and escalated, thread
    assert with_a1[0] < escalated[0] < with_a3[0], thread   # the thread reads in the order things happened
