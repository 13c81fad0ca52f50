"""Socket Mode: with SLACK_APP_TOKEN the bot opens a websocket (apps.connections.open on the Slack emulator, whose
stand-in speaks Slack's envelopes: hello, then slash_commands / interactive / events_api, each acked with its
envelope_id), and runs commands and buttons through the same listeners as /slack/events. Wire format:
https://docs.slack.dev/apis/events-api/using-socket-mode."""
import json
import time
import urllib.parse
import uuid

import httpx

from tests.conftest import parents, settle, wait_for
from tests.slack_requests import SAMPLES, SIGNING_SECRET, TEAM, SlackSender

APP_TOKEN = "xapp-1-A0DREBOT-1-sandbox"


def _socket_bot(make_bot, slack):
    bot = make_bot(SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="")
    base = slack.url.removesuffix("/api/")
    wait_for(lambda: httpx.get(f"{base}/_sandbox/socket-mode", timeout=2).json()["connected"] == 1, 10,
             "the bot to open its Socket Mode connection")
    return bot, base


def _envelope(base: str, kind: str, payload: dict) -> dict:
    out = httpx.post(f"{base}/_sandbox/socket-mode", json={"type": kind, "payload": payload}, timeout=15)
    assert out.status_code == 200, out.text
    return out.json()["ack"]


def test_a_slash_command_over_socket_mode_is_acked_and_answered(make_bot, slack):
    bot, base = _socket_bot(make_bot, slack)
    assert slack.calls("apps.connections.open")[0]["ok"] is True
    # A slash command's payload over the socket is the form Slack would POST, as a JSON object.
    payload = dict(urllib.parse.parse_qsl((SAMPLES / "slack_slash_command.txt").read_text()))
    token = uuid.uuid4().hex
    payload.update(team_id=TEAM, channel_id="C0OTHER001", user_id="U0ALICE01", user_name="alice", command="/dre",
                   text="status", response_url=f"{base}/response/{token}", trigger_id="1.2.3")
    ack = _envelope(base, "slash_commands", payload)
    assert set(ack) <= {"envelope_id", "payload"} and len(ack["envelope_id"]) == 32
    answer = wait_for(lambda: slack.responses(token), 10, "the /dre status answer at its response_url")
    assert "open incident" in answer[0]["body"]["text"].lower() or "no open" in answer[0]["body"]["text"].lower()

    # Without a signing secret, nothing that comes over HTTP /slack/events is believed, however it is signed.
    refused, _ = SlackSender(bot.url, slack, secret=SIGNING_SECRET).command("status")
    assert refused.status_code == 401


def test_a_button_over_socket_mode_acknowledges_the_incident(make_bot, slack):
    bot, base = _socket_bot(make_bot, slack)
    assert bot.post("generic", {"title": "orders late", "labels": {"table": "analytics.orders"}}).status_code == 202
    settle(bot)
    card = parents(slack)[0]
    payload = json.loads((SAMPLES / "slack_block_actions.json").read_text())
    payload["user"].update(id="U0ALICE01", username="alice", name="alice", team_id=TEAM)
    payload["team"]["id"] = TEAM
    payload["container"].update(message_ts=card["ts"], channel_id=card["channel"], is_ephemeral=False)
    payload["channel"] = {"id": card["channel"], "name": "data-incidents"}
    payload["response_url"] = f"{base}/response/{uuid.uuid4().hex}"
    payload["message"] = {"type": "message", "ts": card["ts"], "text": card["text"]}
    payload["actions"][0].update(action_id="incident_ack", value="1", block_id="incident-1",
                                 action_ts=str(time.time()))
    ack = _envelope(base, "interactive", payload)
    assert "envelope_id" in ack
    wait_for(lambda: bot.query("SELECT status FROM incidents") == [{"status": "acknowledged"}], 10,
             "the incident to be acknowledged")
    settle(bot)
    assert "Acknowledged" in json.dumps(parents(slack)[0]["blocks"])


def test_a_mention_over_socket_mode_is_acked_and_answered_in_its_thread(make_bot, slack):
    bot, base = _socket_bot(make_bot, slack)
    assert bot.post("generic", {"title": "orders late", "labels": {"table": "analytics.orders"}}).status_code == 202
    settle(bot)
    card = parents(slack)[0]
    event = {"type": "app_mention", "user": "U0ALICE01", "text": "<@U0DREBOT> ack", "ts": f"{time.time():.6f}",
             "channel": card["channel"], "thread_ts": card["ts"], "event_ts": f"{time.time():.6f}", "team": TEAM}
    # An events_api envelope carries the same event_callback body Slack would POST.
    ack = _envelope(base, "events_api", {
        "token": "verification_token", "team_id": TEAM, "api_app_id": "A0DREBOT", "event": event,
        "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": "U0DREBOT", "is_bot": True}]})
    assert set(ack) == {"envelope_id"}
    wait_for(lambda: bot.query("SELECT status FROM incidents") == [{"status": "acknowledged"}], 10,
             "the mention to acknowledge the incident")
