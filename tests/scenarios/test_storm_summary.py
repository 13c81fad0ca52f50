"""A storm in one channel stays readable: past `[delivery] storm_threshold` new cards waiting for the channel's
pace, ONE summary message lists the new incidents ahead of their cards, is edited in place as cards go out (each
line becomes a link to its card) and says when the storm is over; cards go before thread replies; the summary's
button (or `/dre show INC-n`) brings one card forward; a restart keeps it all.

Real webhooks into the in-process bot, the real Slack client against the emulator. Slack answering the first post
with 429 Retry-After holds the channel while the storm is taken in, so the order afterwards is the bot's choice."""
import re

from tests.conftest import ALICE, FAST_DELIVERY, parents, replies, settle, wait_for
from tests.slack_requests import SlackSender

STORM = FAST_DELIVERY.replace("channel_rate = 50", "channel_rate = 3").replace("channel_burst = 50",
                                                                             "channel_burst = 1") + \
    "storm_threshold = 3\n"
SUMMARY_EVENT = "dre_storm_summary"


def _post_tables(bot, n, prefix="t"):
    for i in range(n):
        assert bot.post("generic", {"title": f"load failed {prefix}{i}", "dedup_key": f"{prefix}{i}",
                                    "severity": "sev2", "labels": {"table": f"analytics.{prefix}{i}"}}
                        ).status_code == 202


def _summaries(slack):
    return [m for m in parents(slack) if (m.get("metadata") or {}).get("event_type") == SUMMARY_EVENT]


def _cards(slack):
    return [m for m in parents(slack) if (m.get("metadata") or {}).get("event_type") == "dre_incident"]


def _number(card) -> int:
    return int(re.match(r"INC-(\d+)", card["text"]).group(1))


def _storm_held(bot, slack, n, prefix="t"):
    """n new incidents taken in while Slack holds the channel (429, Retry-After: 2)."""
    slack.inject_fault("chat.postMessage", 429, count=1, retry_after=2)
    _post_tables(bot, n, prefix)
    wait_for(lambda: bot.query("SELECT count(*) AS n FROM incidents")[0]["n"] >= n, 5, "the incidents")


def _assert_over_and_linked(slack, summary, cards):
    assert "over" in summary["text"].lower() and summary["edits"] >= 1
    shown = "\n".join(b["text"]["text"] for b in summary["blocks"] if b["type"] == "section")
    for card in cards:
        link = f"https://slack.com/archives/{card['channel']}/p{card['ts'].replace('.', '')}"
        assert f"<{link}|INC-{_number(card)}> · :large_orange_circle: sev2 · load failed" in shown
    assert not [b for b in summary["blocks"] if b["type"] == "actions"]    # no button once every card is out


def test_storm_summary_goes_first_lists_every_incident_and_is_edited_in_place(make_bot, slack):
    bot = make_bot(STORM)
    _storm_held(bot, slack, 8)
    settle(bot, timeout=30)
    summary, cards = _summaries(slack), _cards(slack)
    assert len(summary) == 1, "one summary for the storm"
    summary = summary[0]
    order = parents(slack)
    assert order[0]["ts"] == summary["ts"], [m["text"][:30] for m in order]   # ahead of every queued card
    assert [_number(c) for c in cards] == list(range(1, 9))                   # cards follow, oldest first
    for n in range(1, 9):
        assert f"INC-{n}" in summary["text"]
    assert summary["metadata"]["event_type"] == SUMMARY_EVENT
    last_card = max(float(c["ts"]) for c in cards)
    thread_lines = [r for c in cards for r in replies(slack, c["ts"])]
    assert thread_lines and all(float(r["ts"]) > last_card for r in thread_lines)   # cards before replies
    _assert_over_and_linked(slack, summary, cards)
    updates = slack.calls("chat.update")
    assert all(c["status"] == 200 for c in updates)
    assert len([c for c in updates if c["params"].get("ts") == summary["ts"]]) <= 8   # coalesced, not one per card
    storms = bot.query("SELECT ended_at, slack_ts FROM storms")
    assert len(storms) == 1 and storms[0]["ended_at"] and storms[0]["slack_ts"] == summary["ts"]


def _buttons(slack):
    return {e["value"]: e for m in _summaries(slack) for b in m["blocks"] if b["type"] == "actions"
            for e in b["elements"]}


def test_post_card_now_button_brings_one_card_forward(make_bot, slack, workspace):
    bot = make_bot(STORM)
    sender = SlackSender(bot.url, workspace)
    _storm_held(bot, slack, 14)
    last = wait_for(lambda: _buttons(slack).get("14"), 15, "the summary listing INC-14 with its button")
    assert last["action_id"] == "storm_show_card" and last["text"]["text"] == "Post INC-14 now"
    summary = _summaries(slack)[0]
    assert sender.button("storm_show_card", "14", user=ALICE, channel=summary["channel"],
                         message_ts=summary["ts"]).status_code == 200
    note = wait_for(lambda: slack.ephemerals(), 5, "the answer to the press")[0]
    assert "INC-14's card goes out next" in note["text"]
    settle(bot, timeout=30)
    order = [_number(c) for c in _cards(slack)]
    assert order.index(14) < order.index(13), order                      # ahead of the queue
    assert [n for n in order if n != 14] == list(range(1, 14))           # the rest in order
    audit = bot.query("SELECT action, via, allowed FROM audit WHERE action = 'show'")
    assert audit == [{"action": "show", "via": "button", "allowed": 1}]
    resp, token = sender.command("show INC-14", user=ALICE)   # asked again, once posted: a link to it
    assert resp.status_code == 200
    answer = wait_for(lambda: slack.responses(token), 5, "the answer to /dre show")[-1]["body"]
    assert "INC-14" in answer["text"] and "already posted" in answer["text"]


def test_a_restart_mid_storm_keeps_the_summary_and_a_later_storm_gets_its_own(make_bot, slack):
    bot = make_bot(STORM)
    _storm_held(bot, slack, 8)
    summary = wait_for(lambda: _summaries(slack), 10, "the storm summary")[0]
    bot.stop()
    waiting = bot.query("SELECT count(*) AS n FROM outbox WHERE kind = 'slack.card' AND status != 'done'")[0]["n"]
    assert waiting > 0, "the restart happens mid-storm"
    bot = make_bot(STORM)
    settle(bot, timeout=30)
    summaries, cards = _summaries(slack), _cards(slack)
    assert [s["ts"] for s in summaries] == [summary["ts"]]            # edited in place, never posted again
    assert [_number(c) for c in cards] == list(range(1, 9))           # each card once
    _assert_over_and_linked(slack, summaries[0], cards)

    _storm_held(bot, slack, 12, prefix="u")                            # a later storm: a summary of its own
    settle(bot, timeout=30)
    summaries = _summaries(slack)
    assert len(summaries) == 2 and all(f"INC-{n}" in summaries[1]["text"] for n in range(9, 13))
    assert "INC-8" not in summaries[1]["text"]


def test_storm_threshold_zero_turns_summaries_off(make_bot, slack):
    bot = make_bot(STORM.replace("storm_threshold = 3", "storm_threshold = 0"))
    _storm_held(bot, slack, 6)
    settle(bot, timeout=30)
    assert _summaries(slack) == [] and len(_cards(slack)) == 6


def test_a_sev1_pages_its_owners_in_the_thread_ahead_of_the_storms_other_cards(make_bot, slack):
    bot = make_bot(STORM + '\n[incidents]\ndefault_owner = "@dre-oncall"\n')
    slack.inject_fault("chat.postMessage", 429, count=1, retry_after=2)
    _post_tables(bot, 3)
    assert bot.post("generic", {"title": "orders stopped loading", "dedup_key": "urgent", "severity": "sev1",
                                "labels": {"table": "analytics.urgent"}}).status_code == 202
    _post_tables(bot, 6, prefix="later")
    wait_for(lambda: bot.query("SELECT count(*) AS n FROM incidents")[0]["n"] >= 10, 5, "the incidents")
    settle(bot, timeout=40)
    cards = {_number(c): c for c in _cards(slack)}
    assert sorted(cards) == list(range(1, 11))
    urgent = cards[4]
    paging = [r for r in replies(slack, urgent["ts"]) if "Paging the owners" in r["text"]]
    assert len(paging) == 1
    later_cards = [float(cards[n]["ts"]) for n in range(5, 11)]
    assert float(paging[0]["ts"]) < max(later_cards), "the sev1's owners wait for one or two turns, not the storm"
    sev2_paging = [r for n in range(1, 4) for r in replies(slack, cards[n]["ts"]) if "Paging the owners" in r["text"]]
    assert sev2_paging and min(float(r["ts"]) for r in sev2_paging) > max(later_cards)   # sev2s: after the cards


def test_a_summary_that_can_no_longer_be_edited_ends_its_storm(make_bot, slack):
    bot = make_bot(STORM)
    _storm_held(bot, slack, 8)
    wait_for(lambda: _summaries(slack), 10, "the storm summary")
    slack.inject_fault("chat.update", 200, count=1000, error="message_not_found")   # someone deleted it
    settle(bot, timeout=40)
    assert len(_cards(slack)) == 8
    storms = bot.query("SELECT ended_at FROM storms")
    assert len(storms) == 1 and storms[0]["ended_at"], "over, not waiting for an edit that can never be made"
    slack.clear_faults()
    _storm_held(bot, slack, 8, prefix="u")                 # the next storm: a summary of its own
    settle(bot, timeout=40)
    assert len(_summaries(slack)) == 2
