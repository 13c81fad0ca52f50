"""PagerDuty in step, both ways: paging once, Slack changes reaching PagerDuty as the right person, PagerDuty's
webhooks updating Slack once, no loops, reconciliation, outages, on-call and paging on demand."""
import json
import threading

import httpx

from tests.conftest import ALICE, BOB, PD_SECRET, parents, replies, settle, wait_for
from tests.slack_requests import SlackSender


def _alert(bot, table="analytics.orders", severity="error", status="firing", title="orders is stale"):
    assert bot.post("generic", {"title": title, "dedup_key": f"{table}:{title}", "severity": severity,
                                "kind": "freshness", "status": status, "labels": {"table": table}}).status_code == 202


def _in_step(bot, pd):
    pd.flush_webhooks()
    settle(bot)
    pd.flush_webhooks()
    settle(bot)


def _answer(slack, token):
    return wait_for(lambda: slack.responses(token), 10, "the answer")[-1]["body"]["text"]


def test_a_paging_incident_pages_once_with_its_dedup_key_even_across_a_restart(pd_bot, pd, workspace):
    _alert(pd_bot)
    wait_for(lambda: pd.incidents(), what="a PagerDuty incident")
    _in_step(pd_bot, pd)
    triggers = [e for e in pd.events() if e["body"]["event_action"] == "trigger"]
    assert len(triggers) == 1
    event = triggers[0]["body"]
    assert event["dedup_key"] == "dre-bot:INC-1" and event["routing_key"] == "R0UT1NGKEY0DATAPLATFORM000000001"
    payload = event["payload"]
    assert payload["summary"] == "INC-1 [sev2] orders is stale" and payload["severity"] == "error"
    assert (payload["source"], payload["component"], payload["group"], payload["class"]) == \
        ("analytics.orders", "analytics.orders", "analytics", "freshness")
    assert payload["custom_details"]["table"] == "analytics.orders"
    assert "slack_thread" in payload["custom_details"] and "/archives/" in event["links"][0]["href"]
    pd_bot.stop()
    pd_bot.start()
    pd.subscribe(f"{pd_bot.url}/webhooks/pagerduty", secret=PD_SECRET)
    _alert(pd_bot)                                                    # the same alert again, after a restart
    _in_step(pd_bot, pd)
    assert len(pd.incidents()) == 1
    assert len([e for e in pd.events() if e["body"]["event_action"] == "trigger"]) == 1
    card = parents(workspace)[0]
    assert "PagerDuty incident" in json.dumps(card["blocks"])            # the card links it, from the webhook


def test_a_warning_does_not_page(pd_bot, pd):
    _alert(pd_bot, severity="warning")
    settle(pd_bot)
    assert pd.events() == [] and pd.incidents() == []


def test_slack_ack_and_resolve_reach_pagerduty_as_the_acting_person(pd_bot, pd, workspace):
    sender = SlackSender(pd_bot.url, workspace)
    _alert(pd_bot)
    wait_for(lambda: pd.incidents(), what="the page")
    _in_step(pd_bot, pd)
    _, token = sender.command("ack INC-1", user=BOB)
    assert _answer(workspace, token) == "INC-1 acknowledged."
    wait_for(lambda: pd.incidents()[0]["status"] == "acknowledged", what="PagerDuty acknowledged")
    _, token = sender.command("resolve INC-1 reran the load", user=ALICE)
    wait_for(lambda: pd.incidents()[0]["status"] == "resolved", what="PagerDuty resolved")
    puts = pd.requests(method="PUT")
    assert [(r["headers"].get("from"), r["json"]["incident"]["status"]) for r in puts] == \
        [("bob@acme.example", "acknowledged"), ("alice@acme.example", "resolved")]
    _in_step(pd_bot, pd)
    card = parents(workspace)[0]
    thread = [r["text"] for r in replies(workspace, card["ts"])]
    # PagerDuty echoes both changes back; neither is posted a second time
    assert sum("Acknowledged" in t for t in thread) == 1 and sum("Resolved" in t for t in thread) == 1
    assert len(pd.requests(method="PUT")) == 2


def test_each_pagerduty_event_updates_slack_once(pd_bot, pd, workspace):
    _alert(pd_bot)
    wait_for(lambda: pd.incidents(), what="the page")
    _in_step(pd_bot, pd)
    pd_id = pd.incidents()[0]["id"]
    steps = [("acknowledge", {}, "*Acknowledged* by Bob Ruiz (PagerDuty)"),
             ("unacknowledge", {}, "*Triggered* by"),
             ("reassign", {"user_ids": ["PALICE1"]}, "Reassigned in PagerDuty to Alice Lee"),
             ("escalate", {"level": 2}, "Escalated in PagerDuty"),
             ("priority", {"name": "P1"}, "Priority set to P1"),
             ("annotate", {"content": "Upstream vendor confirmed an outage"}, "Upstream vendor confirmed an outage"),
             ("add_responder", {"responder_id": "PALICE1", "message": "please help"}, "asked Alice Lee to help"),
             ("resolve", {}, "*Resolved* by Bob Ruiz (PagerDuty)"),
             ("reopen", {}, "*Reopened* by Bob Ruiz (PagerDuty)")]
    card = parents(workspace)[0]
    for action, kw, line in steps:
        pd.act(pd_id, action, "PBOB001", **kw)
        _in_step(pd_bot, pd)
        thread = [r["text"] for r in replies(workspace, card["ts"])]
        assert sum(line in t for t in thread) == 1, (action, thread[-3:])
    statuses = [r["status"] for r in pd_bot.query("SELECT status FROM incidents")]
    assert statuses == ["reopened"]
    # none of it went back to PagerDuty
    assert pd.requests(method="PUT") == [] and pd.requests(method="POST") == []


def test_webhook_signatures_forged_missing_rotated_and_replayed(pd_bot, pd):
    body = json.dumps({"event": {"id": "E1", "event_type": "incident.acknowledged", "resource_type": "incident",
                                 "occurred_at": "2026-11-26T06:00:00Z", "agent": None, "client": None,
                                 "data": {"id": "PNOPE01", "type": "incident", "status": "acknowledged"}}}).encode()
    from bot.sources.pagerduty import signature
    url = f"{pd_bot.url}/webhooks/pagerduty"
    base = {"Content-Type": "application/json", "X-Webhook-Id": "wh-1"}
    assert httpx.post(url, content=body, headers=base).status_code == 401
    forged = {**base, "X-PagerDuty-Signature": signature("wrong", body)}
    assert httpx.post(url, content=body, headers=forged).status_code == 401
    rotated = {**base, "X-PagerDuty-Signature": f"{signature('old-secret', body)},{signature(PD_SECRET, body)}"}
    assert httpx.post(url, content=body, headers=rotated).status_code == 202
    assert httpx.post(url, content=body, headers=rotated).status_code == 202     # a replay of wh-1
    settle(pd_bot)
    # Seen once: by its X-Webhook-Id and by the signed event.id (a replay with a new header is a duplicate too)
    assert [r["webhook_id"] for r in pd_bot.query("SELECT webhook_id FROM pd_webhooks_seen ORDER BY 1")] == \
        ["event:E1", "wh-1"]
    assert "duplicate webhook" in pd_bot.log()


def test_the_loop_guard_holds_when_both_sides_change_at_once(pd_bot, pd, workspace):
    sender = SlackSender(pd_bot.url, workspace)
    _alert(pd_bot)
    wait_for(lambda: pd.incidents(), what="the page")
    _in_step(pd_bot, pd)
    pd_id = pd.incidents()[0]["id"]
    both = [threading.Thread(target=lambda: sender.command("resolve INC-1", user=ALICE)),
            threading.Thread(target=lambda: pd.act(pd_id, "acknowledge", "PBOB001"))]
    [t.start() for t in both]
    [t.join() for t in both]
    wait_for(lambda: pd.incidents()[0]["status"] == "resolved", what="PagerDuty resolved")
    _in_step(pd_bot, pd)
    assert pd_bot.query("SELECT status FROM incidents") == [{"status": "resolved"}]
    assert len(pd.requests(method="PUT")) == 1                   # one resolve went out; nothing bounced
    thread = [r["text"] for r in replies(workspace, parents(workspace)[0]["ts"])]
    assert sum("*Resolved*" in t for t in thread) == 1


def test_reconciliation_repairs_a_lost_webhook(pd_bot, pd, workspace):
    _alert(pd_bot)
    wait_for(lambda: pd.incidents(), what="the page")
    _in_step(pd_bot, pd)
    pd.drop_next_webhooks(1)
    pd.act(pd.incidents()[0]["id"], "resolve", "PBOB001")
    entry = wait_for(lambda: pd_bot.query("SELECT text FROM timeline WHERE actor LIKE 'reconciliation%'"),
                     timeout=15, what="the repair")
    assert "a webhook was lost" in entry[0]["text"]
    assert pd_bot.query("SELECT status FROM incidents") == [{"status": "resolved"}]
    wait_for(lambda: "repaired INC-1" in pd_bot.log(), what="the repair in the log")   # logged after it commits


def test_pagerduty_down_or_rate_limiting_delays_the_page_without_loss(pd_bot, pd):
    pd.inject_fault("/v2/enqueue", 500, count=3)
    pd.inject_fault("/v2/enqueue", 429, count=2)
    _alert(pd_bot)
    wait_for(lambda: pd.incidents(), timeout=20, what="the page, after the outage")
    _in_step(pd_bot, pd)
    assert len(pd.incidents()) == 1
    ok = [e for e in pd.events() if e.get("status", 202) == 202]
    assert len(ok) == 1
    assert pd_bot.query("SELECT count(*) AS n FROM outbox WHERE status = 'dead'") == [{"n": 0}]


def test_oncall_now_and_next(pd_bot, pd, workspace):
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc).replace(microsecond=0)
    handover = now + timedelta(hours=5)
    pd.add_schedule("PSCHED01", "Data Platform primary", shifts=[
        ("PALICE1", (now - timedelta(days=1)).isoformat(), handover.isoformat()),
        ("PBOB001", handover.isoformat(), (handover + timedelta(days=7)).isoformat())], escalation_policy_id="PEP0001")
    sender = SlackSender(pd_bot.url, workspace)
    _, token = sender.command("oncall")
    text = _answer(workspace, token)
    assert text.startswith(f"*Data Platform primary*: Alice Lee until <!date^{int(handover.timestamp())}^")
    assert f"next Bob Ruiz from <!date^{int(handover.timestamp())}^" in text


def test_page_on_demand_to_a_person(pd_bot, pd, workspace):
    sender = SlackSender(pd_bot.url, workspace)
    _alert(pd_bot, severity="warning")                       # a warning: not paged by itself
    settle(pd_bot)
    _, token = sender.command(f"page INC-1 <@{BOB}|bob>", user=ALICE)
    assert _answer(workspace, token) == f":rotating_light: Paging <@{BOB}> about INC-1."
    created = wait_for(lambda: pd.requests(method="POST", path="/incidents"), what="the page")
    body = created[0]["json"]["incident"]
    assert body["assignments"][0]["assignee"]["id"] == "PBOB001" and body["incident_key"] == "dre-bot:INC-1"
    assert created[0]["headers"]["from"] == "alice@acme.example"
    _in_step(pd_bot, pd)
    assert "PagerDuty incident" in json.dumps(parents(workspace)[0]["blocks"])


def test_paging_an_incident_already_in_pagerduty_reassigns_it(pd_bot, pd, workspace):
    sender = SlackSender(pd_bot.url, workspace)
    _alert(pd_bot)                                          # sev2: paged through the routing key
    wait_for(lambda: pd.incidents(), what="the page")
    _in_step(pd_bot, pd)
    _, token = sender.command(f"page INC-1 <@{BOB}|bob>", user=ALICE)
    _answer(workspace, token)
    wait_for(lambda: pd.requests(method="PUT"), what="the reassignment")
    _in_step(pd_bot, pd)
    assert len(pd.incidents()) == 1 and pd.requests(method="POST", path="/incidents") == []
    change = pd.requests(method="PUT")[0]["json"]["incident"]
    assert change["assignments"][0]["assignee"]["id"] == "PBOB001"
    assert "PBOB001" in json.dumps(pd.incidents()[0]["assignments"])     # PagerDuty has Bob on it now
    assert pd_bot.query("SELECT count(*) AS n FROM outbox WHERE status = 'dead'") == [{"n": 0}]


def test_an_incident_triggered_in_pagerduty_on_a_mirrored_service_gets_a_thread(pd_bot, pd, workspace):
    from sandbox.pagerduty import events_client
    with events_client(pd.url, "R0UT1NGKEY0WAREHOUSE000000000002") as client:
        client.trigger("Warehouse slots exhausted", "bq")
    _in_step(pd_bot, pd)
    cards = parents(workspace)
    assert len(cards) == 1 and "Warehouse slots exhausted" in cards[0]["text"]
    assert pd_bot.query("SELECT source FROM incidents") == [{"source": "pagerduty"}]
    assert pd.events()[-1]["body"]["event_action"] == "trigger" and len(pd.events()) == 1   # no page back
