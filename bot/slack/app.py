"""The Bolt App factory: one App per process, built from settings; no module-global App.

Listeners run after Bolt has answered Slack (process_before_response=False): `ack()` goes back at once and
the work happens on Bolt's worker threads. https://docs.slack.dev/tools/bolt-python/
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import store
from bot.alert import web_url
from bot.config import Settings
from bot.handoff import actions as handoff_actions
from bot.handoff import messages as handoff_messages
from bot.slack import blocks
from bot.slack import actions, events
from bot.slack.commands import Call, Deps, run, split_args

SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"
log = logging.getLogger("dre-bot.slack")

# Buttons whose value is a number (an incident or handoff id); anything else in it is not from our own card.
NUMERIC_ACTIONS = {blocks.ACTION_ACK, blocks.ACTION_RESOLVE, blocks.ACTION_DIAG, blocks.ACTION_SILENCE,
                   blocks.ACTION_POSTMORTEM, handoff_messages.ACTION_ACK}
# The input blocks each of our modals must hand back, as {block_id: action_id}.
MODAL_INPUTS = {blocks.RESOLVE_MODAL: ("cause", "note"), blocks.SILENCE_MODAL: ("matchers", "duration", "reason"),
                handoff_messages.NOTE_MODAL: ("note",)}
# Interactive payloads acked before their listener is scheduled (modals are not: theirs may answer with errors).
ACKED_AT_ONCE = ("block_actions", "shortcut", "message_action")
SORRY = ("Slack sent dre-bot a request it could not read ({problem}), so nothing was done. Try again; "
         "if it keeps happening, use `/dre help` for the same verbs as commands.")


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _odd_value(body: Any) -> str | None:
    """Values no Slack payload carries and our storage cannot hold: lone surrogates, integers past 64 bits."""
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if any("\ud800" <= c <= "\udfff" for c in node):
                return "it carries text that is not Unicode"
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int):
            if abs(node) >= 2 ** 63:
                return "it carries a number too large"
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def payload_problem(body: Any) -> str | None:
    """What is wrong with a signed Slack payload's shape, in a few words; None when the listeners can read it.

    One check here instead of one in every listener: what a listener reads is checked before it runs.
    https://docs.slack.dev/reference/interaction-payloads
    """
    if not isinstance(body, dict):
        return "the body is not an object"
    odd = _odd_value(body)
    if odd:
        return odd
    for key in ("type", "event_id", "team_id", "api_app_id", "token", "trigger_id", "callback_id"):
        if body.get(key) is not None and not _text(body[key]):
            return f"{key} is not text"
    # Bolt itself reads these as objects while it routes, before any listener: so must we.
    for key in ("event", "user", "team", "channel", "container", "message", "view", "enterprise"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"{key} is not an object"
    for key in ("user", "team", "channel"):
        if isinstance(body.get(key), dict) and body[key].get("id") is not None and not _text(body[key]["id"]):
            return f"{key}.id is not text"
    if isinstance(body.get("container"), dict):
        for key in ("channel_id", "message_ts", "type"):
            if body["container"].get(key) is not None and not _text(body["container"][key]):
                return f"container.{key} is not text"
    if body.get("actions") is not None and not isinstance(body["actions"], list):
        return "actions is not a list"
    if "event" in body and not isinstance(body["event"], dict):     # Bolt reads body["event"] without a None check
        return "event is not an object"
    if body.get("response_url") is not None and not web_url(body["response_url"]):
        return "response_url is not a web address"
    if body.get("command") is not None:
        for key in ("command", "user_id"):
            if not _text(body.get(key)):
                return f"{key} is missing"
        for key in ("text", "channel_id", "trigger_id"):
            if body.get(key) is not None and not _text(body[key]):
                return f"{key} is not text"
        return None
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not _text(event.get("type")):
            return "event is missing"
        for key in ("user", "text", "channel", "thread_ts", "ts", "subtype", "tab", "bot_id"):
            if event.get(key) is not None and not _text(event[key]):
                return f"event.{key} is not text"
        if event["type"] in ("app_mention", "app_home_opened") and not _text(event.get("user")):
            return "event.user is missing"
        return None
    if kind in ("block_actions", "view_submission", "shortcut", "message_action", "view_closed"):
        user = body.get("user")
        if not isinstance(user, dict) or not _text(user.get("id")):
            return "user.id is missing"
        for key in ("channel", "container", "message"):
            if body.get(key) is not None and not isinstance(body[key], dict):
                return f"{key} is not an object"
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
            return "actions is empty"
        first = actions[0]
        if not _text(first.get("action_id")) or not _text(first.get("type", "button")):
            return "actions[0].action_id is missing"
        value = first.get("value")
        if first["action_id"] in NUMERIC_ACTIONS and not (_text(value) and value.isascii() and value.isdigit()
                                                          and len(value) < 16):
            return "the button's value is not a number"
    if kind == "view_submission":
        view = body.get("view")
        if not isinstance(view, dict) or not _text(view.get("callback_id")) or not _text(view.get("type")):
            return "view is missing"
        inputs = MODAL_INPUTS.get(view["callback_id"])
        if inputs is not None:
            try:
                meta = json.loads(view.get("private_metadata") or "{}")
            except (ValueError, TypeError, RecursionError):
                return "view.private_metadata is not JSON"
            if not isinstance(meta, dict) or (meta.get("c") is not None and not _text(meta["c"])) or \
                    (meta.get("i") is not None and not (isinstance(meta["i"], int) and 0 < meta["i"] < 2**62)):
                return "view.private_metadata is not ours"
            if view["callback_id"] != handoff_messages.NOTE_MODAL and "i" not in meta:
                return "view.private_metadata names no incident"
            if view["callback_id"] == blocks.RESOLVE_MODAL and "c" not in meta:
                return "view.private_metadata names no channel"
            values = (view.get("state") or {}).get("values") if isinstance(view.get("state"), dict) else None
            if not isinstance(values, dict):
                return "view.state.values is missing"
            for block_id in inputs:
                block = values.get(block_id)
                if not isinstance(block, dict) or not isinstance(block.get("value"), dict):
                    return f"the {block_id} field is missing"
                field = block["value"]
                if field.get("value") is not None and not _text(field["value"]):
                    return f"the {block_id} field is not text"
                option = field.get("selected_option")
                if option is not None and not (isinstance(option, dict) and _text(option.get("value"))):
                    return f"the {block_id} choice is not text"
            if view["callback_id"] == blocks.RESOLVE_MODAL and \
                    not isinstance(values["cause"]["value"].get("selected_option"), dict):
                return "no cause was chosen"
    return None


def create_bolt_app(settings: Settings, client: WebClient, deps: Deps) -> App:
    # Listeners wait on the database under an alert storm; enough threads that acks never queue behind them.
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="slack-listener")
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or SANDBOX_SIGNING_SECRET,
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
        problem = payload_problem(body)
        if problem is None:
            return next()
        log.warning("refused a signed Slack %s payload: %s", body.get("type") if isinstance(body, dict) else "",
                    problem)
        if isinstance(body, dict) and body.get("command") is not None:
            ack(text=SORRY.format(problem=problem))      # the ack's text is shown to the person alone
        else:
            ack()
            if respond is not None and isinstance(body, dict) and _text(body.get("response_url")):
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
    handoff_actions.register(app, deps)
    events.register(app, deps)

    @app.error
    def on_error(error, body, respond):
        if isinstance(error, SlackApiError):   # Slack refused a call (a channel we are not in): not a bug of ours
            log.warning("a Slack listener's call to Slack failed: %s", error)
        else:
            log.exception("unhandled error in a Slack listener: %s", error)
        if respond is not None and isinstance(body, dict) and _text(body.get("response_url")):
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
