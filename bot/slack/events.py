"""Events: `@dre-bot <verb>` in an incident thread, people's thread messages kept on the timeline, App Home.

https://docs.slack.dev/apis/events-api/
"""
from __future__ import annotations

import logging
import re

from slack_bolt import App

from bot import service, store
from bot.service import Actor
from bot.slack import home
from bot.slack.commands import Call, Deps, run, split_args

log = logging.getLogger("dre-bot.slack")
_LEADING_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>\s*")


def register(app: App, deps: Deps) -> None:
    @app.event("app_mention")
    def mention(event, client):
        channel, thread = event.get("channel"), event.get("thread_ts")
        inc = store.incident_by_thread(deps.conn(), channel, thread) if thread else None
        words = split_args(_LEADING_MENTION.sub("", event.get("text") or ""))
        if inc is None:
            text = ("Mention me inside an incident's thread to act on it (`@dre-bot ack`), "
                    "or use `/dre help` anywhere.")
        else:
            call = Call(event["user"], channel, words[0].lower() if words else "help", words[1:], via="mention",
                        thread_incident=inc["id"])
            text = run(deps, call).text
        client.chat_postEphemeral(channel=channel, user=event["user"], text=text, thread_ts=thread)

    @app.event("message")
    def thread_message(event):
        # People's words in an incident thread go on its timeline for the postmortem; bots and edits don't.
        if event.get("subtype") or event.get("bot_id") or not event.get("thread_ts"):
            return
        if event.get("thread_ts") == event.get("ts") or _LEADING_MENTION.match(event.get("text") or ""):
            return
        inc = store.incident_by_thread(deps.conn(), event.get("channel"), event["thread_ts"])
        if inc is None:
            return
        conn = deps.conn()
        with store.transaction(conn):
            service.add_note(conn, inc["id"], event.get("text") or "", Actor(event.get("user", "someone")),
                             kind="message", post=False)

    @app.event("app_home_opened")
    def home_opened(event):
        if event.get("tab", "home") == "home":
            home.publish(deps, event["user"])
