"""Interactivity: the card's buttons, the resolve and silence modals, and the message shortcut.

Every path acks at once, then runs through the same verbs as /dre, so permissions and the audit log are
checked and written the same way whatever the door. https://docs.slack.dev/interactivity/handling-user-interaction
"""
from __future__ import annotations

import json
import logging
import re

from slack_bolt import App

from bot import service, store
from bot.incident import name
from bot.service import Actor
from bot.slack import blocks
from bot.slack.commands import Call, Deps, Refused, Reply, UsageError, require, run
from bot.incident import CAUSES
from bot.silences import BadSilence, parse as parse_silence, scope as silence_scope
from bot.slack.mrkdwn import mention

log = logging.getLogger("dre-bot.slack")
SHORTCUT = "open_incident_from_message"


def _tell(deps: Deps, body: dict, reply: Reply) -> None:
    """An ephemeral answer to whoever pressed; only when something did not happen or there is news."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    if channel:
        deps.client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=reply.text)


def _incident_id(body: dict) -> int:
    return int(body["actions"][0]["value"])


def register(app: App, deps: Deps) -> None:
    def button_verb(verb: str):
        def handler(ack, body):
            ack()
            call = Call(body["user"]["id"], (body.get("channel") or {}).get("id"), verb,
                        [name(_incident_id(body))], via="button")
            reply = run(deps, call)
            if not reply.ok or verb in ("diag", "postmortem", "show"):   # these say where their results will be
                _tell(deps, body, reply)
        return handler

    app.action(blocks.ACTION_ACK)(button_verb("ack"))
    app.action(blocks.ACTION_DIAG)(button_verb("diag"))
    app.action(blocks.ACTION_POSTMORTEM)(button_verb("postmortem"))
    app.action(blocks.ACTION_SHOW)(button_verb("show"))     # on a storm summary's line

    def modal_button(verb: str, build):
        """A button that opens a modal: checked and audited like the verb, through the same `run`."""
        def handler(ack, body, client):
            ack()
            incident_id, channel = _incident_id(body), (body.get("channel") or {}).get("id")

            def open_modal(deps_: Deps, call: Call) -> Reply:
                inc = store.incident(deps_.conn(), incident_id)
                if inc is None:
                    raise UsageError(service.unknown_incident(incident_id))
                require(deps_, call, verb, inc["slack_channel"])
                meta = json.dumps({"i": incident_id, "c": channel})
                client.views_open(trigger_id=body["trigger_id"], view=build(inc, meta))
                return Reply(f"Opened the {verb} dialog for {name(incident_id)}.")

            reply = run(deps, Call(body["user"]["id"], channel, verb, [name(incident_id)], via="button"), open_modal)
            if not reply.ok:
                _tell(deps, body, reply)
        return handler

    app.action(blocks.ACTION_RESOLVE)(modal_button(
        "resolve", lambda inc, meta: blocks.resolve_modal(inc["id"], CAUSES, meta)))
    app.action(blocks.ACTION_SILENCE)(modal_button(
        "silence", lambda inc, meta: blocks.silence_modal(inc["id"], silence_scope(inc), meta)))

    @app.view(blocks.RESOLVE_MODAL)
    def resolve_submitted(ack, body, view):
        meta = json.loads(view["private_metadata"])
        values = view["state"]["values"]
        cause = values["cause"]["value"]["selected_option"]["value"]
        note = (values["note"]["value"].get("value") or "").strip()
        ack()
        reply = run(deps, Call(body["user"]["id"], meta["c"], "resolve",
                               [name(meta["i"]), f"cause={cause}", *note.split()], via="modal"))
        if not reply.ok and meta.get("c"):
            deps.client.chat_postEphemeral(channel=meta["c"], user=body["user"]["id"], text=reply.text)

    @app.view(blocks.SILENCE_MODAL)
    def silence_submitted(ack, body, view):
        meta = json.loads(view["private_metadata"])
        values = view["state"]["values"]
        matchers = (values["matchers"]["value"].get("value") or "").split()
        duration = (values["duration"]["value"].get("value") or "").strip()
        reason = (values["reason"]["value"].get("value") or "").strip()
        try:
            parse_silence([*matchers, duration])
        except BadSilence as exc:  # say it next to the field, the modal stays open
            block = "duration" if "long" in str(exc) or "duration" in str(exc).lower() else "matchers"
            ack(response_action="errors", errors={block: str(exc)[:150]})
            return
        decision = deps.permissions.check("silence", body["user"]["id"], meta.get("c"))
        if not decision.allowed:
            ack(response_action="errors", errors={"matchers": decision.reason[:150]})

            def refused(deps_: Deps, call: Call) -> Reply:   # audited as refused; never run the verb itself
                raise Refused(decision.reason)
            run(deps, Call(body["user"]["id"], meta.get("c"), "silence", [*matchers, duration], via="modal"), refused)
            return
        ack()
        reply = run(deps, Call(body["user"]["id"], meta.get("c"), "silence", [*matchers, duration, *reason.split()],
                               via="modal", thread_incident=meta["i"]))   # set on this incident: may snooze it
        inc = store.incident(deps.conn(), meta["i"])
        if reply.ok and inc is not None:
            conn = deps.conn()
            with store.transaction(conn):
                service.add_note(conn, meta["i"], f"Silenced: {' '.join(matchers)} for {duration}"
                                 + (f" ({reason})" if reason else ""), Actor(body["user"]["id"]))
            deps.wake_deliverer()

    @app.shortcut(SHORTCUT)
    def open_from_message(ack, body, client, respond):
        ack()
        message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id")
        text = (message.get("text") or "").strip()

        def open_it(deps_: Deps, call: Call) -> Reply:
            require(deps_, call, "create")
            first = re.sub(r"<[^>]*\|([^>]*)>|<([^>]*)>", r"\1\2", text.splitlines()[0] if text else "")
            title = (first or "Incident from a Slack message")[:150]
            links = ()
            try:
                link = client.chat_getPermalink(channel=channel, message_ts=message.get("ts")).get("permalink")
                links = (("Original message", link),) if link else ()
            except Exception:  # the incident matters more than the link
                log.warning("request %s: no permalink for the shortcut's message", call.request_id)
            conn = deps_.conn()
            with store.transaction(conn):
                change = service.open_manual(conn, deps_.settings, deps_.runbooks, title, "sev3",
                                             deps_.settings.channel, Actor(call.user), summary=text[:3000],
                                             links=links)
            return Reply(change.text(mention), ok=change.ok)

        reply = run(deps, Call(body["user"]["id"], channel, "new", [text[:200]], via="shortcut"), open_it)
        respond(text=reply.text, response_type="ephemeral")

