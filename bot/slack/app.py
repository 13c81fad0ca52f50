"""The Bolt App factory: one App per process, built from settings; no module-global App.

Listeners run after Bolt has answered Slack (process_before_response=False): `ack()` goes back at once and
the work happens on Bolt's worker threads. https://docs.slack.dev/tools/bolt-python/
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot import store
from bot.config import MISSING_SIGNING_SECRET, ConfigError, Settings
from bot.slack import actions, events
from bot.slack.commands import Call, Deps, run, split_args

SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"
log = logging.getLogger("dre-bot.slack")


def create_bolt_app(settings: Settings, client: WebClient, deps: Deps) -> App:
    # Fail closed: a built-in secret only stands in for Slack's own in sandbox mode, never beside a real token.
    signing_secret = settings.slack_signing_secret or (SANDBOX_SIGNING_SECRET if settings.sandbox else None)
    if not signing_secret:
        raise ConfigError(MISSING_SIGNING_SECRET)
    app = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,   # no auth.test call on the start path
        request_verification_enabled=True,  # every request: signature and a 5-minute timestamp window
        process_before_response=False,
        ignoring_self_events_enabled=True,
        logger=log,
        # Listeners wait on the database under an alert storm; enough threads that acks never queue behind them.
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="slack-listener"),
    )

    @app.middleware
    def ack_commands_at_once(body, ack, next):
        # Slack's 3 seconds are for the ack alone: answer a slash command before its listener is even scheduled.
        # (bench/ack_latency.py: p99 under a storm from 1.2-3 s down to about 0.1 s.)
        if body.get("command"):
            ack()
        return next()

    @app.middleware
    def once_per_event(body, next):
        # Slack retries events it thinks we missed (X-Slack-Retry-Num); the same event_id is acted on once.
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            conn = deps.conn()
            with store.transaction(conn):
                first = store.first_seen_event(conn, event_id)
            if not first:
                return BoltResponse(status=200, body="")
        return next()

    @app.command("/dre")
    def dre(ack, command, respond):
        ack()
        words = split_args(command.get("text") or "")
        call = Call(command["user_id"], command.get("channel_id"), words[0].lower() if words else "help",
                    words[1:], via="command")
        run(deps, call, answer=lambda reply: respond(
            text=reply.text, response_type="in_channel" if reply.public else "ephemeral", replace_original=False))

    actions.register(app, deps)
    for register in deps.registry.listeners:   # the features' own buttons and modals
        register(app, deps)
    events.register(app, deps)

    @app.error
    def on_error(error, body):
        log.exception("unhandled error in a Slack listener: %s", error)

    return app

