"""The Bolt App factory: one App per process, built from settings; no module-global App.

https://docs.slack.dev/tools/bolt-python/
"""
from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings

SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"
log = logging.getLogger("dre-bot.slack")


def create_bolt_app(settings: Settings, client: WebClient) -> App:
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or SANDBOX_SIGNING_SECRET,
        token_verification_enabled=False,   # no auth.test call on the start path
        request_verification_enabled=True,  # every request is checked: signature and a 5-minute timestamp window
        process_before_response=False,
        logger=log,
    )

    @app.event("app_mention")
    def _mention(ack, event, say):  # the verbs arrive with the Slack commands capability
        ack()

    @app.event("message")
    def _message(ack):
        ack()

    return app
