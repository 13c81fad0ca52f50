"""Socket Mode: Slack's commands, buttons and events over a websocket the bot opens with SLACK_APP_TOKEN, for teams
without a public URL (https://docs.slack.dev/apis/events-api/using-socket-mode). Bolt's adapter runs the same
listeners as /slack/events; webhooks from the alert sources still come over HTTP."""
from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError

log = logging.getLogger("dre-bot.slack")


class SocketMode:
    """Bolt's Socket Mode handler on slack_sdk's built-in websocket client, opened and closed with the web app."""

    def __init__(self, app: App, app_token: str):
        self.handler = SocketModeHandler(app, app_token)

    def connect(self) -> None:
        try:
            self.handler.connect()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else exc
            raise ConfigError(
                f"Socket Mode could not connect: Slack answered apps.connections.open with {error!r}. Check "
                "SLACK_APP_TOKEN: an app-level token (xapp-...) with the connections:write scope, from your app's "
                "page (api.slack.com/apps, Basic Information, App-Level Tokens), and Socket Mode turned on "
                "(Settings, Socket Mode).") from None
        log.info("Socket Mode connected: Slack's commands, buttons and events come over the websocket.")

    def close(self) -> None:
        self.handler.close()
