"""When neither a runbook nor [[owners]] names anyone, the on-call of the PagerDuty service is paged: found in
PagerDuty when the mention is delivered, mentioned by their Slack user, and shown on the card (without a ping)."""
import json

from tests.conftest import ALICE, parents, replies, settle, wait_for


def test_with_no_owner_named_the_pagerduty_on_call_is_paged_and_shown(pd_bot, pd, workspace):
    assert pd_bot.post("generic", {"title": "something odd", "dedup_key": "odd", "severity": "warning",
                                   "labels": {"table": "raw.unowned"}}).status_code == 202   # no runbook matches
    settle(pd_bot)
    card = wait_for(lambda: next((c for c in parents(workspace, "#data-incidents")
                                  if "alice@acme.example" in json.dumps(c["blocks"])), None),
                    what="the card naming who was paged")
    assert "<@" not in json.dumps(card["blocks"]).split("Owner")[1].split("}")[0]   # shown, not pinged
    paging = [r["text"] for r in replies(workspace, card["ts"]) if "Paging the owners" in r["text"]]
    assert len(paging) == 1 and f"<@{ALICE}>" in paging[0]


def test_when_pagerduty_cannot_say_who_is_on_call_the_default_owner_is_paged(pd_bot, pd, workspace):
    pd.inject_fault("GET /services/*", 500, count=100)
    assert pd_bot.post("generic", {"title": "something odd", "dedup_key": "odd", "severity": "warning",
                                   "labels": {"table": "raw.unowned"}}).status_code == 202
    settle(pd_bot)
    card = parents(workspace, "#data-incidents")[0]
    paging = [r["text"] for r in replies(workspace, card["ts"]) if "Paging the owners" in r["text"]]
    assert len(paging) == 1 and "<!subteam^" in paging[0]     # @dre-oncall, the default owner
