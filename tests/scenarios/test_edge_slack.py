"""/slack/events verifies before it reads, caps the size, and a signed payload the listeners cannot read is
acked at once and answered with an ephemeral message: 401, 413 or 400, never a 5xx, never Bolt's 3 s wait."""
import json
import time
import urllib.parse

import httpx

from tests.conftest import open_incident, wait_for


def test_unsigned_garbage_is_401_and_a_huge_body_413(bot, sender):
    url = f"{bot.url}/slack/events"
    assert httpx.post(url, content=b"{{{ garbage", timeout=10).status_code == 401
    assert httpx.post(url, content=b"\xff\xfe{{{", timeout=10).status_code == 400   # not UTF-8: not Slack
    stale = sender.post(b'{"type": "event_callback"}', "application/json", timestamp=str(int(time.time()) - 3600))
    assert stale.status_code == 401
    huge = httpx.post(url, content=b"x" * (4 * 1024 * 1024), headers={"Content-Type": "application/json"},
                      timeout=30)
    assert huge.status_code == 413
    assert "Traceback" not in bot.log()


def test_signed_bodies_it_cannot_read_are_400_or_200_never_5xx(bot, sender):
    bodies = [
        (b"\xff\xfe not utf-8", "application/x-www-form-urlencoded"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"{" * 5 + b"}" * 5, "application/json"),
        (b'{"type": "event_callback", "event": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "application/json"),
        (b"payload=" + urllib.parse.quote("[" * 5000 + "]" * 5000).encode(), "application/x-www-form-urlencoded"),
        (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
        (b'{"type": "event_callback", "event": {"type": "app_mention", "user": 5, "text": []}}',
         "application/json"),
    ]
    for body, ctype in bodies:
        resp = sender.post(body, ctype)
        assert resp.status_code < 500, (body[:60], resp.status_code, resp.text)
        assert resp.status_code in (200, 400), (body[:60], resp.status_code)
    assert "Traceback" not in bot.log()


def test_malformed_buttons_are_acked_at_once_and_answered(bot, slack, sender):
    card = open_incident(bot, slack)
    for value in ("not-a-number", "", "1e9", "٣"):
        url, token = sender.response_url()
        started = time.monotonic()
        payload = _button(sender, "incident_ack", value, card, url)
        resp = sender.interactive(payload)
        assert resp.status_code == 200 and time.monotonic() - started < 1.5, (value, resp.status_code)
        said = wait_for(lambda: slack.responses(token), 5, f"an ephemeral answer for value {value!r}")
        assert said[0]["body"]["response_type"] == "ephemeral" and "Try again" in said[0]["body"]["text"]
    url, token = sender.response_url()
    payload = _button(sender, "incident_ack", "1", card, url)
    payload["actions"] = []
    started = time.monotonic()
    assert sender.interactive(payload).status_code == 200 and time.monotonic() - started < 1.5
    wait_for(lambda: slack.responses(token), 5, "an ephemeral answer for empty actions")
    assert bot.query("SELECT status FROM incidents") == [{"status": "triggered"}]
    assert "Traceback" not in bot.log()


def test_malformed_modal_submissions_never_raise(bot, slack, sender):
    for meta, values in [("not json", {}), (json.dumps({"i": "x"}), {}), (json.dumps([1]), {}),
                         (json.dumps({"i": 1, "c": "C1"}), {"cause": {"selected_option": "nope"}, "note": "x"})]:
        started = time.monotonic()
        resp = sender.submit_view({"type": "modal", "callback_id": "resolve_modal", "private_metadata": meta}, values)
        # No response_url to answer through: Slack shows its own error in the modal, at once.
        assert resp.status_code == 400 and time.monotonic() - started < 1.5, (meta, resp.status_code)
    assert "Traceback" not in bot.log()


def _button(sender, action_id: str, value: str, card: dict, response_url: str) -> dict:
    from tests.slack_requests import SAMPLES, TEAM
    payload = json.loads((SAMPLES / "slack_block_actions.json").read_text())
    payload["user"].update(id="U0ALICE01", team_id=TEAM)
    payload["team"]["id"] = TEAM
    payload["container"].update(message_ts=card["ts"], channel_id=card["channel"])
    payload["channel"] = {"id": card["channel"], "name": "data-incidents"}
    payload["response_url"] = response_url
    payload["actions"][0].update(action_id=action_id, value=value)
    return payload
