"""The card's buttons, the modals, the message shortcut, thread mentions, thread messages and App Home."""
import json

from tests.conftest import ALICE, BOB, open_incident, parents, replies, settle, wait_for


def test_acknowledge_button_updates_the_card_in_place(bot, sender, slack):
    card = open_incident(bot, slack)
    assert sender.button("incident_ack", "1", user=BOB, channel=card["channel"], message_ts=card["ts"]).status_code == 200
    settle(bot)
    card = parents(slack)[0]
    assert "acknowledged" in card["text"] and card["edits"] >= 1
    assert replies(slack, card["ts"])[-1]["text"].startswith(f":eyes: *Acknowledged* by <@{BOB}>")
    assert slack.ephemerals() == []          # success speaks in the thread, not in a private note


def test_resolve_button_opens_a_modal_and_its_submission_resolves(bot, sender, slack):
    card = open_incident(bot, slack)
    sender.button("incident_resolve", "1", channel=card["channel"], message_ts=card["ts"])
    view = wait_for(lambda: slack.views(), what="the resolve modal")[0]["view"]
    assert view["callback_id"] == "resolve_modal" and view["title"]["text"] == "Resolve INC-1"
    resp = sender.submit_view(view, {"cause": {"selected_option": {"value": "schema_change"}},
                                     "note": "reverted the upstream column rename"})
    assert resp.status_code == 200
    settle(bot)
    row = bot.query("SELECT status, resolution_cause, resolution_note FROM incidents")[0]
    assert row == {"status": "resolved", "resolution_cause": "schema_change",
                   "resolution_note": "reverted the upstream column rename"}
    assert "*Resolved* by" in replies(slack, card["ts"])[-1]["text"]


def test_silence_button_prefills_the_scope_and_validates_the_duration(bot, sender, slack):
    card = open_incident(bot, slack, table="analytics.orders")
    sender.button("incident_silence_1h", "1", channel=card["channel"], message_ts=card["ts"])
    view = wait_for(lambda: slack.views(), what="the silence modal")[0]["view"]
    prefilled = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]}
    assert prefilled["matchers"] == "table=analytics.orders" and prefilled["duration"] == "1h"
    bad = sender.submit_view(view, {"matchers": "table=analytics.orders", "duration": "soon", "reason": ""})
    assert bad.status_code == 200 and bad.json()["response_action"] == "errors"
    assert "90m" in bad.json()["errors"]["duration"]
    ok = sender.submit_view(view, {"matchers": "table=analytics.orders", "duration": "2h", "reason": "backfill"})
    assert ok.status_code == 200 and not ok.content
    wait_for(lambda: bot.query("SELECT * FROM silences"), what="the silence")
    settle(bot)
    assert any("Silenced: table=analytics.orders for 2h (backfill)" in r["text"]
               for r in replies(slack, card["ts"]))


def test_run_diagnostics_button_says_what_to_configure(bot, sender, slack):
    card = open_incident(bot, slack)
    sender.button("incident_diagnostics", "1", channel=card["channel"], message_ts=card["ts"])
    note = wait_for(lambda: slack.ephemerals(), what="the answer")[0]
    assert "Diagnostics are not configured here: set GOOGLE_CLOUD_PROJECT" in note["text"]


def test_mention_in_a_thread_acts_on_its_incident(bot, sender, slack):
    card = open_incident(bot, slack)
    event = {"type": "app_mention", "user": BOB, "text": "<@U0DREBOT> note upstream job rerun",
             "ts": "1795600000.000200", "channel": card["channel"], "thread_ts": card["ts"],
             "event_ts": "1795600000.000200"}
    assert sender.event(event, event_id="Ev0MENTION1").status_code == 200
    assert sender.event(event, event_id="Ev0MENTION1", retry_num=1).status_code == 200   # Slack's retry
    wait_for(lambda: slack.ephemerals(), what="the answer")
    sender.event({**event, "text": "<@U0DREBOT> ack", "ts": "1795600000.000300"}, event_id="Ev0MENTION2")
    wait_for(lambda: bot.query("SELECT * FROM incidents WHERE status = 'acknowledged'"), what="the ack")
    settle(bot)
    notes = bot.query("SELECT text FROM timeline WHERE kind = 'note'")
    assert notes == [{"text": "upstream job rerun"}]                                  # once, despite the retry
    outside = {**event, "thread_ts": None, "text": "<@U0DREBOT> ack", "ts": "1795600000.000400"}
    sender.event(outside, event_id="Ev0MENTION3")
    wait_for(lambda: any("inside an incident's thread" in e["text"] for e in slack.ephemerals()), what="hint")


def test_people_s_thread_messages_are_kept_on_the_timeline(bot, sender, slack):
    card = open_incident(bot, slack)
    msg = {"type": "message", "user": ALICE, "text": "looks like the 06:00 load never started",
           "ts": "1795600001.000100", "channel": card["channel"], "thread_ts": card["ts"], "channel_type": "channel"}
    sender.event(msg, event_id="Ev0MSG1")
    sender.event(msg, event_id="Ev0MSG1", retry_num=2)
    sender.event({**msg, "bot_id": "B0OTHER", "ts": "1795600001.000200", "text": "a bot"}, event_id="Ev0MSG2")
    sender.event({**msg, "thread_ts": None, "ts": "1795600001.000300", "text": "not in a thread"},
                 event_id="Ev0MSG3")
    wait_for(lambda: bot.query("SELECT * FROM timeline WHERE kind = 'message'"), what="the message")
    settle(bot)
    rows = bot.query("SELECT actor, text FROM timeline WHERE kind = 'message'")
    assert rows == [{"actor": ALICE, "text": "looks like the 06:00 load never started"}]


def test_app_home_shows_mine_open_and_silences(bot, sender, slack):
    open_incident(bot, slack)
    sender.command("ack INC-1", user=ALICE)
    wait_for(lambda: bot.query("SELECT * FROM incidents WHERE owner = ?", ALICE), what="the ack")
    sender.command("silence source=montecarlo 1h")
    wait_for(lambda: bot.query("SELECT * FROM silences"), what="the silence")
    sender.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE01", "tab": "home",
                  "event_ts": "1795600002.000100"})
    view = wait_for(lambda: [v for v in slack.views() if v["view"]["type"] == "home"], what="App Home")[0]["view"]
    text = json.dumps(view["blocks"])
    assert "Your incidents" in text and "Open incidents" in text and "Active silences" in text
    assert text.count("INC-1") == 2 and "source=montecarlo" in text and "On call" in text


def test_message_shortcut_opens_an_incident_from_any_message(bot, sender, slack):
    from slack_sdk import WebClient
    text = "finance says invoices for yesterday are missing\nsee dashboard"
    posted = WebClient("xoxp-bob", base_url=slack.url).chat_postMessage(channel="#random", text=text)
    resp, token = sender.shortcut({"type": "message", "ts": posted["ts"], "user": BOB, "text": text},
                                  posted["channel"], user=ALICE)
    assert resp.status_code == 200
    answer = wait_for(lambda: slack.responses(token), what="the answer")[-1]["body"]["text"]
    assert answer == "Opened INC-1 in #data-incidents."
    settle(bot)
    card = parents(slack, "#data-incidents")[0]
    assert "finance says invoices for yesterday are missing" in card["text"]
    assert "Original message" in json.dumps(card["blocks"])
