"""Failures people rely on are told where they look, and nothing is done twice or by the wrong person
(issue 11: a failed page, dead letters, replies exactly once, the routed channel's permission, PagerDuty notes)."""
import json

import httpx

from tests.conftest import ALICE, BOB, CAROL, FAST_DELIVERY, PD_CONFIG, PD_ROUTING_KEY, PD_SECRET, parents, \
    replies, settle, wait_for


def _page_worthy(bot, table="analytics.orders", title="orders is stale"):
    assert bot.post("generic", {"title": title, "dedup_key": f"{table}:{title}", "severity": "error",
                                "kind": "freshness", "labels": {"table": table}}).status_code == 202


def _answer(slack, token):
    return wait_for(lambda: slack.responses(token), 10, "the answer")[-1]["body"]["text"]


def test_a_page_that_gives_up_is_told_in_the_thread_on_the_card_and_in_the_channel(make_bot, workspace, pd):
    bot = make_bot(PD_CONFIG.replace("max_attempts = 6", "max_attempts = 2"), PAGERDUTY_API_TOKEN="pd-token",
                   PAGERDUTY_ROUTING_KEY=PD_ROUTING_KEY, PAGERDUTY_API_URL=pd.url, PAGERDUTY_EVENTS_URL=pd.url,
                   PAGERDUTY_WEBHOOK_SECRET=PD_SECRET, PAGERDUTY_FROM_EMAIL="dre-bot@acme.example")
    pd.inject_fault("/v2/enqueue", 500, count=100)                      # PagerDuty's Events API is down
    _page_worthy(bot)
    wait_for(lambda: bot.query("SELECT * FROM outbox WHERE status = 'dead' AND kind = 'pd.trigger'"),
             what="the page in dead letters")
    settle(bot)
    card = parents(workspace, "#data-incidents")[0]
    told = [r["text"] for r in replies(workspace, card["ts"]) if "failed for good" in r["text"]]
    assert len(told) == 1 and "Nobody was paged: page the on-call by hand" in told[0], told
    assert "page failed: page by hand" in json.dumps(card["blocks"])       # the card no longer says "paging…"
    notices = wait_for(lambda: [m["text"] for m in parents(workspace, "#data-incidents")
                                if "dre-bot outbox --dead" in m["text"]], what="the dead letters notice")
    settle(bot)
    assert len(notices) == 1 and "1 delivery failed for good" in notices[0]
    assert pd.incidents() == []


def test_a_reply_whose_answer_was_lost_is_posted_once(bot, slack):
    assert bot.post("generic", {"title": "orders is stale", "dedup_key": "a", "labels": {"table": "t1"}}).status_code == 202
    settle(bot)
    card = parents(slack)[0]
    slack.inject_fault("chat.postMessage", 500, count=1, lost_answer=True)   # posted, but the bot hears 500
    assert bot.post("generic", {"title": "orders is short", "dedup_key": "b", "labels": {"table": "t1"}}).status_code == 202
    settle(bot)
    joined = [r for r in replies(slack, card["ts"]) if "Another alert joined" in r["text"]]
    assert len(joined) == 1
    assert slack.calls("conversations.replies"), "the bot should look in the thread before posting again"


def test_before_its_card_exists_an_incident_is_guarded_by_its_routed_channel(bot, sender, workspace):
    workspace.inject_fault("chat.postMessage", 500, count=10_000)     # the card cannot be posted yet
    assert bot.post("generic", {"title": "orders is stale", "dedup_key": "a", "labels": {"table": "t1"}}).status_code == 202
    wait_for(lambda: bot.query("SELECT id FROM incidents"), what="the incident")
    _, token = sender.command("ack INC-1", user=CAROL, channel="D0CAROL01")    # not in #data-incidents, from a DM
    assert "members of the incident's channel" in _answer(workspace, token)
    assert bot.query("SELECT status FROM incidents") == [{"status": "triggered"}]
    _, token = sender.command("ack INC-1", user=BOB, channel="D0BOB0001")      # a member of the routed channel
    assert _answer(workspace, token) == "INC-1 acknowledged."


def test_a_pagerduty_note_cannot_ping_anyone(pd_bot, pd, workspace):
    _page_worthy(pd_bot)
    wait_for(lambda: pd.incidents(), what="the PagerDuty incident")
    pd.flush_webhooks()
    settle(pd_bot)
    from sandbox.pagerduty import rest_client
    rest = rest_client(pd.url, "pd-token", default_from="bob@acme.example")
    pd_id = pd.incidents()[0]["id"]
    try:
        rest.rpost(f"/incidents/{pd_id}/notes", json={"note": {"content": f"<@{ALICE}> <!channel> see the dashboard"}})
    finally:
        rest.close()
    pd.flush_webhooks()
    settle(pd_bot)
    card = parents(workspace, "#data-incidents")[0]
    notes = [r["text"] for r in replies(workspace, card["ts"]) if "Note from" in r["text"]]
    assert len(notes) == 1, notes
    assert f"<@{ALICE}>" not in notes[0] and "<!channel>" not in notes[0]
    assert f"&lt;@{ALICE}&gt;" in notes[0]
