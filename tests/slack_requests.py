"""Requests as Slack sends them to /slack/events: slash commands form-encoded, interactivity as a `payload` form
field, events as JSON; each signed with the signing secret (v0 HMAC-SHA256 over v0:timestamp:body)."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.parse
import uuid
from pathlib import Path

import httpx

SAMPLES = Path(__file__).resolve().parent / "fixtures"
SIGNING_SECRET = "test-signing-secret"
TEAM = "T0DRESBOX"
BOT_USER = "U0DREBOT"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def as_slack_sends(text: str) -> str:
    """Command text as Slack sends it: &, < and > as entities, except in <@U..|name> and <#C..|name> mentions."""
    parts = re.split(r"(<[@#][A-Z0-9]+(?:\|[^>]*)?>)", text)
    return "".join(p if re.fullmatch(r"<[@#][A-Z0-9]+(?:\|[^>]*)?>", p) else
                   p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for p in parts)


class SlackSender:
    def __init__(self, bot_url: str, emulator, secret: str = SIGNING_SECRET):
        self.url, self.emulator, self.secret = f"{bot_url}/slack/events", emulator, secret

    def post(self, body: bytes, content_type: str, *, timestamp: str | None = None, secret: str | None = None,
             headers: dict | None = None) -> httpx.Response:
        ts = timestamp or str(int(time.time()))
        h = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
             "X-Slack-Signature": sign(secret or self.secret, ts, body), **(headers or {})}
        return httpx.post(self.url, content=body, headers=h, timeout=10)

    def response_url(self) -> tuple[str, str]:
        token = uuid.uuid4().hex
        return f"{self.emulator.url.removesuffix('/api/')}/response/{token}", token

    # --- slash commands ----------------------------------------------------------------------------------------
    def command(self, text: str, user: str = "U0ALICE01", channel: str = "C0OTHER001") -> tuple[httpx.Response, str]:
        """`/dre text`, built on the vendor's own slash-command body; returns the response and its response_url
        token (what the bot posts back shows in `emulator.responses(token)`)."""
        fields = dict(urllib.parse.parse_qsl((SAMPLES / "slack_slash_command.txt").read_text()))
        url, token = self.response_url()
        # Slack sends &, < and > in the text as entities, and mentions as <@U..|name>.
        fields.update(team_id=TEAM, channel_id=channel, user_id=user, user_name=user.lower(), command="/dre",
                      text=as_slack_sends(text),
                      response_url=url, trigger_id=f"{uuid.uuid4().hex[:6]}.{uuid.uuid4().hex[:6]}")
        body = urllib.parse.urlencode(fields).encode()
        return self.post(body, "application/x-www-form-urlencoded"), token

    # --- interactivity -----------------------------------------------------------------------------------------
    def interactive(self, payload: dict) -> httpx.Response:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")

    def button(self, action_id: str, value: str, *, user: str = "U0ALICE01", channel: str,
               message_ts: str) -> httpx.Response:
        """A block_actions payload, built on the vendor's own sample."""
        payload = json.loads((SAMPLES / "slack_block_actions.json").read_text())
        payload["user"].update(id=user, username=user.lower(), name=user.lower(), team_id=TEAM)
        payload["team"]["id"] = TEAM
        payload["container"].update(message_ts=message_ts, channel_id=channel, is_ephemeral=False)
        payload["channel"] = {"id": channel, "name": "data-incidents"}
        payload["trigger_id"] = f"{uuid.uuid4().hex[:6]}.{uuid.uuid4().hex[:6]}"
        payload["response_url"] = self.response_url()[0]
        payload["message"] = {"type": "message", "ts": message_ts, "text": "card"}
        payload["actions"][0].update(action_id=action_id, value=value, block_id=f"incident-{value}",
                                     action_ts=str(time.time()))
        return self.interactive(payload)

    def submit_view(self, view: dict, values: dict, *, user: str = "U0ALICE01") -> httpx.Response:
        """A view_submission of a modal the bot opened, with `values` as {block_id: value}."""
        state = {}
        for block_id, value in values.items():
            if isinstance(value, dict):      # a select: {"selected_option": {...}}
                state[block_id] = {"value": {"type": "static_select", **value}}
            else:
                state[block_id] = {"value": {"type": "plain_text_input", "value": value}}
        submitted = {**view, "state": {"values": state}, "id": view.get("id", "V0TEST"), "team_id": TEAM}
        return self.interactive({"type": "view_submission", "team": {"id": TEAM, "domain": "sandbox"},
                                 "user": {"id": user, "username": user.lower(), "team_id": TEAM},
                                 "api_app_id": "A0DREBOT", "token": "verification_token",
                                 "trigger_id": "1.2.3", "view": submitted})

    def shortcut(self, message: dict, channel: str, *, user: str = "U0ALICE01") -> tuple[httpx.Response, str]:
        url, token = self.response_url()
        return self.interactive({
            "type": "message_action", "callback_id": "open_incident_from_message", "trigger_id": "1.2.3",
            "team": {"id": TEAM, "domain": "sandbox"}, "user": {"id": user, "name": user.lower()},
            "channel": {"id": channel, "name": "random"}, "message": message, "response_url": url,
            "message_ts": message["ts"], "action_ts": str(time.time()), "token": "verification_token",
        }), token

    # --- events ------------------------------------------------------------------------------------------------
    def event(self, event: dict, *, event_id: str | None = None, retry_num: int | None = None) -> httpx.Response:
        body = json.dumps({
            "token": "verification_token", "team_id": TEAM, "api_app_id": "A0DREBOT", "event": event,
            "type": "event_callback", "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }).encode()
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        return self.post(body, "application/json", headers=headers)
