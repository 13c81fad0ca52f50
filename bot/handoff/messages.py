"""Block Kit for handoffs: the handoff itself (with its Acknowledge button), the note prompt and its modal.
Pure: values in, blocks out, built with slack_sdk.models so Block Kit's limits are checked here."""
from __future__ import annotations

from slack_sdk.models.blocks import (ActionsBlock, ButtonElement, ContextBlock, InputBlock, MarkdownTextObject,
                                     PlainTextInputElement, SectionBlock)
from slack_sdk.models.views import View

from bot.handoff.content import mention, slack_time

ACTION_ACK, ACTION_NOTE, NOTE_MODAL = "handoff_ack", "handoff_note", "handoff_note_modal"
_SECTION = 2900   # Block Kit allows 3000 characters in a section's text


def _sections(text: str, most: int = 45) -> list[SectionBlock]:
    """The text in sections, split at line ends (a line too long for one section is cut in pieces), in order;
    past `most` sections, one last section says how much was left out."""
    out, chunk = [], ""
    for line in text.strip().splitlines():
        pieces = [line[i:i + _SECTION] for i in range(0, len(line), _SECTION)] or [""]
        for piece in pieces:
            if chunk and len(chunk) + len(piece) + 1 > _SECTION:
                out.append(chunk)
                chunk = ""
            chunk = f"{chunk}\n{piece}" if chunk else piece
    if chunk:
        out.append(chunk)
    if len(out) > most:
        left = len(out) - most + 1
        out = out[:most - 1] + [f"… {left} more section{'s' if left > 1 else ''} left out: `dre-bot handoffs` "
                                f"prints the whole handoff."]
    return [SectionBlock(text=MarkdownTextObject(text=c)) for c in out if c.strip()]


def handoff(row) -> list[dict]:
    """The handoff as posted, and as edited once acknowledged."""
    body: list = _sections(row["text"])
    if row["acked_at"]:
        body.append(ContextBlock(elements=[MarkdownTextObject(
            text=f":white_check_mark: Acknowledged by {mention(row['acked_by'])} {slack_time(row['acked_at'])}")]))
    else:
        body.append(ActionsBlock(block_id="handoff", elements=[ButtonElement(
            text="Acknowledge handoff", action_id=ACTION_ACK, value=str(row["id"]), style="primary")]))
    return [b.to_dict() for b in body]


def fallback(row) -> str:
    """The notification text (what a phone shows)."""
    return "On-call handoff" + (" (acknowledged)" if row["acked_at"] else ": please acknowledge")


def prompt(at: float) -> list[dict]:
    return [b.to_dict() for b in (
        SectionBlock(text=MarkdownTextObject(
            text=f":memo: Your on-call shift ends {slack_time(at)}. Anything the next on-call must know? "
                 "Your note goes into the handoff.")),
        ActionsBlock(block_id="handoff_note", elements=[ButtonElement(
            text="Write handoff note", action_id=ACTION_NOTE, value=str(int(at)))]))]


def note_modal(metadata: str) -> dict:
    return View(type="modal", callback_id=NOTE_MODAL, title="Handoff note", submit="Save", close="Cancel",
                private_metadata=metadata, blocks=[
                    InputBlock(block_id="note", label="What must the next on-call know?",
                               element=PlainTextInputElement(action_id="value", multiline=True, max_length=2500,
                                                             placeholder="Open questions, things to watch, "
                                                                         "next steps"))]).to_dict()
