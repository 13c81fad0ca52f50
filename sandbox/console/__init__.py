"""The sandbox console: a web page at / showing the sandbox's Slack and PagerDuty as a person would see them, and
turning what that person does into the signed requests Slack would send to the bot's own /slack/events and
/webhooks/*, so every click runs through the production code. Mounted by sandbox/wiring.py; the bot never imports it."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.slack import SlackEmulator, SlackError
from sandbox.slack.core import BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, APP_ID

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples" / "alerts"
SOURCES = ("gcp-monitoring", "alertmanager", "montecarlo", "generic")

# The people one can act as: ids from sandbox/seed.py (alice is on call in the sandbox PagerDuty schedule).
PEOPLE = [
    {"id": "U0SBXALCE", "name": "alice", "role": "on-call"},
    {"id": "U0SBXBOB1", "name": "bob", "role": "teammate"},
    {"id": "U0SBXEVE1", "name": "eve", "role": "outsider"},
]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature: HMAC-SHA256 over v0:timestamp:body (https://docs.slack.dev/authentication/verifying-requests-from-slack)."""
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


class Console:
    """The page, what it reads (the emulators' state) and what it sends (signed requests to the bot)."""

    def __init__(self, slack: SlackEmulator, bot_url: str, signing_secret: str, webhook_token: str | None = None,
                 pagerduty_token: str | None = None):
        self.slack, self.bot_url, self.secret = slack, bot_url.rstrip("/"), signing_secret
        self.webhook_token, self.pagerduty_token = webhook_token, pagerduty_token
        self.response_owner: dict[str, str] = {}   # response_url token -> the person it answers (ephemeral)
        self.trigger_owner: dict[str, str] = {}    # trigger_id -> the person whose click may open a modal

    # --- what the page reads ------------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        html = resources.files("sandbox.console").joinpath("console.html").read_text(encoding="utf-8")
        return HTMLResponse(html)

    async def state(self, request: Request) -> Response:
        channels = {c["id"]: c["name"] for c in self.slack.channels()}
        files = [{k: v for k, v in f.items() if k != "content"} for f in self.slack.files()]
        responses = [{**r, "user": self.response_owner.get(r["token"])} for r in self.slack.responses()]
        return JSONResponse({
            "people": [{**p, "dm": self.slack.channel_id(p["id"])} for p in PEOPLE], "bot_user": BOT_USER_ID,
            "examples": sorted(p.stem for p in EXAMPLES.glob("*.json")),
            "channels": [{"id": cid, "name": name or cid} for cid, name in channels.items()],
            "messages": self.slack.messages(), "ephemerals": self.slack.ephemerals(), "responses": responses,
            "views": [{**v, "opened_for": self.trigger_owner.get(v["trigger_id"] or "", v["user_id"])}
                      for v in self.slack.views()],
            "files": files, "reactions": self.slack.reactions(),
            "pagerduty": await self._pagerduty(),
        })

    async def _pagerduty(self) -> list[dict[str, Any]] | str:
        if not self.pagerduty_token:
            return "PagerDuty is not emulated here (PAGERDUTY_API_TOKEN or a routing key is set)."
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                resp = await client.get(f"{self.bot_url}/sandbox/pagerduty/incidents",
                                        params={"limit": 50},
                                        headers={"Authorization": f"Token token={self.pagerduty_token}",
                                                 "Accept": "application/vnd.pagerduty+json;version=2"})
            return resp.json().get("incidents", [])
        except (httpx.HTTPError, ValueError) as exc:
            return f"The sandbox PagerDuty did not answer: {exc}"

    async def file(self, request: Request) -> Response:
        for f in self.slack.files():
            if f["id"] == request.path_params["file_id"]:
                name = (f["filename"] or "").lower()
                kind = "image/png" if name.endswith(".png") else "text/plain; charset=utf-8"
                return Response(f["content"] or b"", media_type=kind)
        return JSONResponse({"error": "no such file"}, status_code=404)

    # --- what the page sends ------------------------------------------------------------------------------------
    async def _to_bot(self, body: bytes, content_type: str) -> dict[str, Any]:
        ts = str(int(time.time()))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": sign(self.secret, ts, body)}
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.post(f"{self.bot_url}/slack/events", content=body, headers=headers)
        return {"status": resp.status_code, "body": resp.text}

    def _response_url(self, user: str) -> str:
        token = uuid.uuid4().hex
        self.response_owner[token] = user
        return f"{self.bot_url}/sandbox/slack/response/{token}"

    @staticmethod
    def _person(data: dict[str, Any]) -> dict[str, Any]:
        user = str(data.get("user") or PEOPLE[0]["id"])
        name = next((p["name"] for p in PEOPLE if p["id"] == user), user.lower())
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    def _trigger(self, user: str) -> str:
        trigger = f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}"
        self.trigger_owner[trigger] = user
        return trigger

    async def command(self, request: Request) -> Response:
        """A slash command as Slack posts it: form-encoded (https://docs.slack.dev/interactivity/implementing-slash-commands)."""
        data = await request.json()
        person = self._person(data)
        text = str(data.get("text", "")).strip()
        if text.startswith("/dre"):
            text = text[4:].strip()
        channel = self.slack.channel_id(str(data.get("channel") or "data-incidents"))
        # Slack sends &, < and > as entities.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        fields = {"token": "verification_token", "team_id": TEAM_ID, "team_domain": TEAM_DOMAIN,
                  "channel_id": channel, "channel_name": self._channel_name(channel), "user_id": person["id"],
                  "user_name": person["name"], "command": "/dre", "text": text, "api_app_id": APP_ID,
                  "is_enterprise_install": "false", "response_url": self._response_url(person["id"]),
                  "trigger_id": self._trigger(person["id"])}
        out = await self._to_bot(urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded")
        return JSONResponse(out)

    def _channel_name(self, cid: str) -> str:
        return next((c["name"] for c in self.slack.channels() if c["id"] == cid and c["name"]), "directmessage")

    async def _interactive(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return await self._to_bot(body, "application/x-www-form-urlencoded")

    async def action(self, request: Request) -> Response:
        """A button press: a block_actions payload (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload)."""
        data = await request.json()
        person = self._person(data)
        channel, ts = str(data.get("channel", "")), str(data.get("message_ts", ""))
        message = next((m for m in self.slack.messages() if m["channel"] == channel and m["ts"] == ts), None)
        container: dict[str, Any] = {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False}
        payload: dict[str, Any] = {
            "type": "block_actions", "user": person, "api_app_id": APP_ID, "token": "verification_token",
            "container": container, "trigger_id": self._trigger(person["id"]),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "enterprise": None, "is_enterprise_install": False,
            "channel": {"id": channel, "name": self._channel_name(channel)},
            "response_url": self._response_url(person["id"]),
            "actions": [{"action_id": str(data.get("action_id", "")), "block_id": str(data.get("block_id", "")),
                         "text": {"type": "plain_text", "text": str(data.get("text", "")), "emoji": True},
                         "value": str(data.get("value", "")), "type": "button", "action_ts": str(time.time())}],
        }
        if message is not None:
            payload["message"] = {"type": "message", "user": message["user"], "ts": ts, "text": message["text"],
                                  "blocks": message["blocks"] or []}
            if message.get("thread_ts"):
                container["thread_ts"] = message["thread_ts"]
        elif data.get("view_id"):   # a button in App Home
            view = next((v for v in self.slack.views() if v["id"] == data["view_id"]), None)
            payload["container"] = {"type": "view", "view_id": data["view_id"]}
            payload.pop("channel")
            payload.pop("response_url")
            if view is not None:
                payload["view"] = {**view["view"], "id": view["id"], "hash": view["hash"]}
        return JSONResponse(await self._interactive(payload))

    async def submit(self, request: Request) -> Response:
        """A modal's submit: a view_submission payload with the inputs in view.state.values
        (https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload)."""
        data = await request.json()
        person = self._person(data)
        view = next((v for v in self.slack.views() if v["id"] == data.get("view_id")), None)
        if view is None:
            return JSONResponse({"status": 404, "body": "No such modal: it may have been closed."}, status_code=404)
        values: dict[str, Any] = {}
        for block in view["view"].get("blocks", []):
            if block.get("type") != "input":
                continue
            element, block_id = block.get("element", {}), block.get("block_id", "")
            entered = (data.get("values") or {}).get(block_id)
            action_id, etype = element.get("action_id", ""), element.get("type")
            if etype == "static_select":
                option = next((o for o in element.get("options", []) if o.get("value") == entered), None)
                values[block_id] = {action_id: {"type": etype, "selected_option": option}}
            else:
                values[block_id] = {action_id: {"type": etype, "value": entered or None}}
        submitted = {**view["view"], "id": view["id"], "team_id": TEAM_ID, "hash": view["hash"],
                     "state": {"values": values}, "app_id": APP_ID, "bot_id": "B0DREBOT",
                     "root_view_id": view["id"], "previous_view_id": None}
        payload = {"type": "view_submission", "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "user": person,
                   "api_app_id": APP_ID, "token": "verification_token", "trigger_id": self._trigger(person["id"]),
                   "view": submitted, "response_urls": [], "is_enterprise_install": False, "enterprise": None}
        return JSONResponse(await self._interactive(payload))

    async def _event(self, event: dict[str, Any]) -> dict[str, Any]:
        """An Events API callback as Slack posts it (https://docs.slack.dev/apis/events-api/)."""
        body = json.dumps({
            "token": "verification_token", "team_id": TEAM_ID, "api_app_id": APP_ID, "event": event,
            "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True,
                                "enterprise_id": None, "is_enterprise_install": False}],
        }).encode()
        return await self._to_bot(body, "application/json")

    async def mention(self, request: Request) -> Response:
        """`@dre-bot ...` in a thread: the message lands in the channel, then the app_mention event goes out."""
        data = await request.json()
        person = self._person(data)
        channel = self.slack.channel_id(str(data.get("channel") or "data-incidents"))
        text = str(data.get("text", "")).replace("@dre-bot", f"<@{BOT_USER_ID}>")
        if f"<@{BOT_USER_ID}>" not in text:
            text = f"<@{BOT_USER_ID}> {text}"
        thread_ts = data.get("thread_ts") or None
        try:
            row = self.slack.post_as_user(channel, text, person["id"], thread_ts)
        except SlackError as exc:
            return JSONResponse({"status": 400, "body": f"Could not post there ({exc.error}): pick a channel or "
                                                         "thread that exists."}, status_code=400)
        event = {"type": "app_mention", "user": person["id"], "text": text, "ts": row["ts"], "channel": channel,
                 "event_ts": row["ts"], "team": TEAM_ID}
        if row["thread_ts"]:
            event["thread_ts"] = row["thread_ts"]
        return JSONResponse(await self._event(event))

    async def home(self, request: Request) -> Response:
        """Opening the App Home tab: an app_home_opened event, as Slack sends when a person clicks the app."""
        data = await request.json()
        person = self._person(data)
        event = {"type": "app_home_opened", "user": person["id"], "channel": self.slack.channel_id(person["id"]),
                 "tab": "home", "event_ts": f"{time.time():.6f}"}
        return JSONResponse(await self._event(event))

    async def alert(self, request: Request) -> Response:
        """Fire a bundled example alert at /webhooks/<source>, as `dre-bot send-example` does."""
        data = await request.json()
        name = str(data.get("name", ""))
        path = EXAMPLES / f"{name}.json"
        if not name or "/" in name or not path.exists():
            known = ", ".join(sorted(p.stem for p in EXAMPLES.glob("*.json")))
            return JSONResponse({"status": 404, "body": f"No example {name!r}. Known: {known}."}, status_code=404)
        source = next(s for s in SOURCES if name.startswith(s.replace("-", "_")))
        headers = {"Content-Type": "application/json"}
        if self.webhook_token:
            headers["Authorization"] = f"Bearer {self.webhook_token}"
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.post(f"{self.bot_url}/webhooks/{source}", content=path.read_bytes(), headers=headers)
        return JSONResponse({"status": resp.status_code, "body": resp.text})

    def routes(self) -> list[BaseRoute]:
        pages = [("/", self.page, "GET"), ("/sandbox/console/state", self.state, "GET"),
                 ("/sandbox/console/file/{file_id}", self.file, "GET"), ("/sandbox/console/command", self.command, "POST"),
                 ("/sandbox/console/action", self.action, "POST"), ("/sandbox/console/submit", self.submit, "POST"),
                 ("/sandbox/console/mention", self.mention, "POST"), ("/sandbox/console/home", self.home, "POST"),
                 ("/sandbox/console/alert", self.alert, "POST")]
        return [Route(path, loopback_only(handler), methods=[method]) for path, handler, method in pages]


def loopback_only(handler):
    """The console signs requests as the seeded users: it answers this machine only, even when the sandbox bot
    listens on every address (`--host 0.0.0.0`)."""
    async def guarded(request: Request) -> Response:
        if not request.client or request.client.host not in ("127.0.0.1", "::1", "localhost"):
            return JSONResponse({"ok": False, "message": "The sandbox console answers loopback only: open it on the "
                                                          "machine that runs the bot."}, status_code=403)
        return await handler(request)
    return guarded
