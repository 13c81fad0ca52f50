"""The handoff's buttons: Acknowledge handoff, and Write handoff note with its modal. Acked at once; the work
goes through `run()`, so permissions and the audit log apply as for /dre."""
from __future__ import annotations

import json

from slack_bolt import App

from bot import store
from bot.handoff import messages, service
from bot.slack.commands import Call, Deps, Refused, Reply, UsageError, require, run


def register(app: App, deps: Deps) -> None:
    @app.action(messages.ACTION_ACK)
    def acknowledge(ack, body):
        ack()
        handoff_id = int(body["actions"][0]["value"])
        channel = (body.get("channel") or {}).get("id")

        def take_over(deps_: Deps, call: Call) -> Reply:
            conn = deps_.conn()
            with store.transaction(conn):
                refusal = service.acknowledge(conn, handoff_id, call.user)
            if refusal:
                raise UsageError(refusal)
            return Reply(f"Handoff {handoff_id} acknowledged: the shift is yours.")

        reply = run(deps, Call(body["user"]["id"], channel, "handoff-ack", [str(handoff_id)], via="button"),
                    take_over)
        if not reply.ok and channel:
            deps.client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=reply.text)

    @app.action(messages.ACTION_NOTE)
    def write_note(ack, body, client):
        ack()
        channel = (body.get("channel") or {}).get("id")

        def open_modal(deps_: Deps, call: Call) -> Reply:
            require(deps_, call, "handoff")
            client.views_open(trigger_id=body["trigger_id"],
                              view=messages.note_modal(json.dumps({"c": channel})))
            return Reply("Opened the handoff note dialog.")

        reply = run(deps, Call(body["user"]["id"], channel, "handoff-note", [], via="button"), open_modal)
        if not reply.ok and channel:
            deps.client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=reply.text)

    @app.view(messages.NOTE_MODAL)
    def note_submitted(ack, body, view):
        text = (view["state"]["values"]["note"]["value"].get("value") or "").strip()
        if not text:
            ack(response_action="errors", errors={"note": "Write something, or press Cancel."})
            return
        meta = json.loads(view.get("private_metadata") or "{}")
        decision = deps.permissions.check("handoff", body["user"]["id"], meta.get("c"))
        if not decision.allowed:   # said in the modal, which stays open, and audited as refused
            ack(response_action="errors", errors={"note": decision.reason[:150]})

            def refused(deps_: Deps, call: Call) -> Reply:
                raise Refused(decision.reason)
            run(deps, Call(body["user"]["id"], meta.get("c"), "handoff-note", [text[:200]], via="modal"), refused)
            return
        ack()

        def keep(deps_: Deps, call: Call) -> Reply:
            conn = deps_.conn()
            with store.transaction(conn):
                service.save_note(conn, call.user, text)
            return Reply("Saved: your note goes into the next handoff.")

        run(deps, Call(body["user"]["id"], meta.get("c"), "handoff-note", [text[:200]], via="modal"), keep)
