"""The Bolt App factory: one App per process, built from settings; no module-global App.

Listeners run after Bolt has answered Slack (process_before_response=False): `ack()` goes back at once and
the work happens on Bolt's worker threads. https://docs.slack.dev/tools/bolt-python/
"""
from __future__ import annotations

import json
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import store
from bot.config import MISSING_SIGNING_SECRET, ConfigError, Settings
from bot.slack import actions, events
from bot.alert import web_url
from bot.slack.payloads import ACKED_AT_ONCE, SORRY, is_text, payload_problem
from bot.slack.commands import Call, Deps, run, split_args

SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"
log = logging.getLogger("dre-bot.slack")

def create_bolt_app(settings: Settings, client: WebClient, deps: Deps) -> App:
    # Fail closed: a built-in secret only stands in for Slack's own in sandbox mode, never beside a real token.
    signing_secret = settings.slack_signing_secret or (SANDBOX_SIGNING_SECRET if settings.sandbox else None)
    if not signing_secret and settings.slack_app_token:
        # Socket Mode alone: a secret nobody knows, so that no request over HTTP /slack/events ever verifies.
        signing_secret = secrets.token_hex(32)
    if not signing_secret:
        raise ConfigError(MISSING_SIGNING_SECRET)
    # Listeners wait on the database under an alert storm; enough threads that acks never queue behind them.
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="slack-listener")
    app = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,   # no auth.test call on the start path
        request_verification_enabled=True,  # every request: signature and a 5-minute timestamp window
        process_before_response=False,
        ignoring_self_events_enabled=True,
        logger=log,
        listener_executor=executor,
    )

    @app.middleware
    def well_formed(body, ack, respond, next):
        # A validly signed payload the listeners cannot read is answered at once, said to the person in an
        # ephemeral message, and never reaches a listener (where it would raise and leave Slack waiting 3 s).
        problem = payload_problem(body, deps.registry)
        if problem is None:
            return next()
        log.warning("refused a signed Slack %s payload: %s", body.get("type") if isinstance(body, dict) else "",
                    problem)
        if isinstance(body, dict) and body.get("command") is not None:
            ack(text=SORRY.format(problem=problem))      # the ack's text is shown to the person alone
        else:
            ack()
            if respond is not None and isinstance(body, dict) and is_text(body.get("response_url")):
                executor.submit(_respond_quietly, respond, SORRY.format(problem=problem))
        return BoltResponse(status=200, body="")

    @app.middleware
    def ack_commands_at_once(body, ack, next):
        # Slack's 3 seconds are for the ack alone: answer a slash command or a button before its listener is even
        # scheduled. (bench/ack_latency.py: p99 under a storm from 1.2-3 s down to about 0.1 s.) Modals are not
        # acked here: their listeners may answer with field errors.
        if body.get("command") or body.get("type") in ACKED_AT_ONCE:
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
    def on_error(error, body, respond):
        if isinstance(error, SlackApiError):   # Slack refused a call (a channel we are not in): not a bug of ours
            log.warning("a Slack listener's call to Slack failed: %s", error)
        else:
            log.exception("unhandled error in a Slack listener: %s", error)
        if respond is not None and isinstance(body, dict) and is_text(body.get("response_url")):
            _respond_quietly(respond, "Something went wrong in dre-bot and nothing may have been done. Try again; "
                                      "if it fails again, tell the bot's admins (the log has the details).")

    return app



def _respond_quietly(respond: Any, text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:   # the person already got the ack; a lost apology is only logged
        log.warning("could not answer through response_url: %s", exc)


def answer_unreadable(raw: bytes, problem: str) -> bool:
    """For a signed payload Bolt itself cannot build a request from: tell the person through its response_url,
    off the request path. False when the payload names no response_url (nobody to tell)."""
    import threading
    import urllib.parse

    from slack_sdk.webhook import WebhookClient
    try:
        fields = dict(urllib.parse.parse_qsl(raw.decode("utf-8")))
        payload = json.loads(fields.get("payload") or "{}")
        url = (payload.get("response_url") if isinstance(payload, dict) else None) or fields.get("response_url")
    except (ValueError, RecursionError, UnicodeDecodeError):
        return False
    if not web_url(url):
        return False

    def send() -> None:
        try:
            WebhookClient(url, timeout=5).send(text=SORRY.format(problem=problem), response_type="ephemeral",
                                               replace_original=False)
        except Exception as exc:
            log.warning("could not answer through response_url: %s", exc)
    threading.Thread(target=send, name="slack-sorry", daemon=True).start()
    return True
