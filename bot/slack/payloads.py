"""The shape of a signed Slack payload, checked before Bolt routes it and before any listener reads it: what is
wrong, in a few words, or None. https://docs.slack.dev/reference/interaction-payloads"""
from __future__ import annotations

import json
from typing import Any

from bot.alert import web_url
from bot.registry import Registry
from bot.slack import blocks

# Interactive payloads acked before their listener is scheduled (modals are not: theirs may answer with errors).
ACKED_AT_ONCE = ("block_actions", "shortcut", "message_action")
SORRY = ("Slack sent dre-bot a request it could not read ({problem}), so nothing was done. Try again; "
         "if it keeps happening, use `/dre help` for the same verbs as commands.")


def is_text(value: Any) -> bool:
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


def payload_problem(body: Any, registry: Registry) -> str | None:
    """What is wrong with a signed Slack payload's shape, in a few words; None when the listeners can read it.

    One check here instead of one in every listener: what a listener reads is checked before it runs. Which
    buttons carry a number and which modal inputs come back are registered by the features that draw them.
    https://docs.slack.dev/reference/interaction-payloads
    """
    if not isinstance(body, dict):
        return "the body is not an object"
    odd = _odd_value(body)
    if odd:
        return odd
    for key in ("type", "event_id", "team_id", "api_app_id", "token", "trigger_id", "callback_id"):
        if body.get(key) is not None and not is_text(body[key]):
            return f"{key} is not text"
    # Bolt itself reads these as objects while it routes, before any listener: so must we.
    for key in ("event", "user", "team", "channel", "container", "message", "view", "enterprise"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"{key} is not an object"
    for key in ("user", "team", "channel"):
        if isinstance(body.get(key), dict) and body[key].get("id") is not None and not is_text(body[key]["id"]):
            return f"{key}.id is not text"
    if isinstance(body.get("container"), dict):
        for key in ("channel_id", "message_ts", "type"):
            if body["container"].get(key) is not None and not is_text(body["container"][key]):
                return f"container.{key} is not text"
    if body.get("actions") is not None and not isinstance(body["actions"], list):
        return "actions is not a list"
    if "event" in body and not isinstance(body["event"], dict):     # Bolt reads body["event"] without a None check
        return "event is not an object"
    if body.get("response_url") is not None and not web_url(body["response_url"]):
        return "response_url is not a web address"
    if body.get("command") is not None:
        for key in ("command", "user_id"):
            if not is_text(body.get(key)):
                return f"{key} is missing"
        for key in ("text", "channel_id", "trigger_id"):
            if body.get(key) is not None and not is_text(body[key]):
                return f"{key} is not text"
        return None
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not is_text(event.get("type")):
            return "event is missing"
        for key in ("user", "text", "channel", "thread_ts", "ts", "subtype", "tab", "bot_id"):
            if event.get(key) is not None and not is_text(event[key]):
                return f"event.{key} is not text"
        if event["type"] in ("app_mention", "app_home_opened") and not is_text(event.get("user")):
            return "event.user is missing"
        return None
    if kind in ("block_actions", "view_submission", "shortcut", "message_action", "view_closed"):
        user = body.get("user")
        if not isinstance(user, dict) or not is_text(user.get("id")):
            return "user.id is missing"
        for key in ("channel", "container", "message"):
            if body.get(key) is not None and not isinstance(body[key], dict):
                return f"{key} is not an object"
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
            return "actions is empty"
        first = actions[0]
        if not is_text(first.get("action_id")) or not is_text(first.get("type", "button")):
            return "actions[0].action_id is missing"
        value = first.get("value")
        if first["action_id"] in registry.numeric_actions and not (is_text(value) and value.isascii() and value.isdigit()
                                                          and len(value) < 16):
            return "the button's value is not a number"
    if kind == "view_submission":
        view = body.get("view")
        if not isinstance(view, dict) or not is_text(view.get("callback_id")) or not is_text(view.get("type")):
            return "view is missing"
        modal = registry.modals.get(view["callback_id"])
        if modal is not None:
            inputs, per_incident = modal
            try:
                meta = json.loads(view.get("private_metadata") or "{}")
            except (ValueError, TypeError, RecursionError):
                return "view.private_metadata is not JSON"
            if not isinstance(meta, dict) or (meta.get("c") is not None and not is_text(meta["c"])) or \
                    (meta.get("i") is not None and not (isinstance(meta["i"], int) and 0 < meta["i"] < 2**62)):
                return "view.private_metadata is not ours"
            if per_incident and "i" not in meta:
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
                if field.get("value") is not None and not is_text(field["value"]):
                    return f"the {block_id} field is not text"
                option = field.get("selected_option")
                if option is not None and not (isinstance(option, dict) and is_text(option.get("value"))):
                    return f"the {block_id} choice is not text"
            if view["callback_id"] == blocks.RESOLVE_MODAL and \
                    not isinstance(values["cause"]["value"].get("selected_option"), dict):
                return "no cause was chosen"
    return None
