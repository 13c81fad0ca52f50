"""Block Kit builders for incident cards and thread replies. Pure: a mapping in, blocks out.

Built with slack_sdk.models.blocks so Block Kit's limits are checked here, not by a failed post.
https://docs.slack.dev/reference/block-kit/blocks
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from slack_sdk.models.blocks import (ActionsBlock, ButtonElement, ContextBlock, HeaderBlock, MarkdownTextObject,
                                     SectionBlock)

from bot.alert import SEVERITY_NAMES
from bot.incident import ACKNOWLEDGED, REOPENED, RESOLVED, TRIGGERED, name
from bot.slack.mrkdwn import escape, link, mention, slack_date, truncate

SEVERITY_ICONS = {"sev1": ":red_circle:", "sev2": ":large_orange_circle:", "sev3": ":large_yellow_circle:",
                  "sev4": ":large_blue_circle:"}
STATUS_LABELS = {TRIGGERED: ":rotating_light: Triggered", ACKNOWLEDGED: ":eyes: Acknowledged",
                 RESOLVED: ":white_check_mark: Resolved", REOPENED: ":repeat: Reopened"}

# action_ids the interactivity handlers listen for; each button's value is the incident number.
ACTION_ACK, ACTION_RESOLVE = "incident_ack", "incident_resolve"
ACTION_DIAG, ACTION_SILENCE = "incident_diagnostics", "incident_silence_1h"
ACTION_POSTMORTEM = "incident_postmortem"
ACTION_SHOW = "storm_show_card"          # on a storm summary's line: post that incident's card now


def card_text(inc: Mapping[str, Any]) -> str:
    """The notification text of a card (what a phone or a screen reader shows)."""
    return escape(f"{name(inc['id'])} [{inc['severity']}] {inc['title']} ({inc['status']})")


def incident_card(inc: Mapping[str, Any], runbook_url: str | None = None) -> list[dict]:
    """The parent message of an incident's thread, edited in place as the incident changes."""
    labels = json.loads(inc["labels"] or "{}")
    links = json.loads(inc["links"] or "[]")
    title = truncate(f"{name(inc['id'])} · {inc['title']}", 150)
    severity = inc["severity"]
    resource = labels.get("table") or labels.get("pipeline") or labels.get("resource_type") or labels.get("policy")
    owner = mention(inc["owner"]) if inc["owner"] else \
        (f"_paging_ {escape(inc['paged'])}" if inc["paged"] else "_unassigned_")
    fields = [
        MarkdownTextObject(text=f"*Status*\n{STATUS_LABELS.get(inc['status'], inc['status'])}"),
        MarkdownTextObject(text=f"*Severity*\n{SEVERITY_ICONS.get(severity, '')} {severity} "
                                f"({SEVERITY_NAMES.get(severity, '')})"),
        MarkdownTextObject(text=f"*Source*\n{escape(inc['source'])}"),
        MarkdownTextObject(text=f"*{'Table' if labels.get('table') else 'Resource'}*\n"
                                f"{'`' + escape(truncate(resource, 200)) + '`' if resource else '_unknown_'}"),
        MarkdownTextObject(text=f"*First seen*\n{slack_date(inc['opened_at'])}"),
        MarkdownTextObject(text=f"*Alerts*\n{inc['alert_count']}"),
        MarkdownTextObject(text=f"*Owner*\n{owner}"),
    ]
    if inc["pd_incident_url"] or inc["pd_dedup_key"]:
        pd = link(inc["pd_incident_url"], "PagerDuty incident") if inc["pd_incident_url"] else \
            (":warning: page failed: page by hand" if inc["pd_status"] == "page failed" else "paging…")
        who = f" · {escape(inc['pd_assignee'])}" if inc["pd_assignee"] else ""
        fields.append(MarkdownTextObject(text=f"*PagerDuty*\n{pd}{who}"))
    blocks: list[Any] = [HeaderBlock(text=title)]
    if inc["finding"]:   # the first five minutes of triage in one line: what is wrong, in numbers
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f":mag: *Finding:* {escape(truncate(inc['finding'], 300))}")))
    blocks.append(SectionBlock(fields=fields))
    lineage = lineage_text(inc)
    if lineage:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=lineage)))
    if inc["summary"]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(escape(inc["summary"]), 1500))))
    context = [link(l["url"], l["text"]) for l in links[:5] if isinstance(l, dict) and l.get("url")]
    if runbook_url:
        context.append(f":book: {link(runbook_url, 'Runbook')}")
    if context:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate("  ·  ".join(context), 2000))]))
    if inc["status"] != RESOLVED:
        value = str(inc["id"])
        buttons = []
        if inc["status"] != ACKNOWLEDGED:
            buttons.append(ButtonElement(text="Acknowledge", action_id=ACTION_ACK, value=value))
        buttons += [
            ButtonElement(text="Resolve", action_id=ACTION_RESOLVE, value=value, style="primary"),
            ButtonElement(text="Run diagnostics", action_id=ACTION_DIAG, value=value),
            ButtonElement(text="Silence 1h", action_id=ACTION_SILENCE, value=value),
        ]
        blocks.append(ActionsBlock(block_id=f"incident-{inc['id']}", elements=buttons))
    else:
        blocks.append(ActionsBlock(block_id=f"incident-{inc['id']}", elements=[
            ButtonElement(text="Draft postmortem", action_id=ACTION_POSTMORTEM, value=str(inc["id"]))]))
    return [b.to_dict() for b in blocks]


def lineage_text(inc: Mapping[str, Any], top: int = 5) -> str | None:
    """Grouped by lineage: the suspected root and the affected tables (a count, then the first few)."""
    try:
        tables, root = json.loads(inc["lineage_tables"] or "[]"), inc["lineage_root"]
    except KeyError:   # a card built from a mapping without the lineage columns
        return None
    if not root or len(tables) < 2:
        return None
    affected = [t for t in tables if t != root]
    shown = ", ".join(f"`{escape(truncate(t, 120))}`" for t in affected[:top])
    more = f" and {len(affected) - top} more" if len(affected) > top else ""
    return truncate(f":deciduous_tree: *Suspected root:* `{escape(truncate(root, 200))}`\n"
                    f"*Affected:* {len(affected)} table{'s' if len(affected) != 1 else ''}: {shown}{more}", 2900)


# A storm summary lists this many incidents, a line each, packed into sections (3,000 characters each), and has
# "Post card now" buttons for this many waiting ones (one actions block holds 25): at most 34 blocks of the 50 a
# message may have. https://docs.slack.dev/reference/block-kit/blocks
STORM_LIST_CAP, STORM_BUTTONS = 300, 20


def storm_line(line: Mapping[str, Any]) -> str:
    """One incident in a storm summary: its name (a link to its card once posted), severity, title, table."""
    labels = json.loads(line["labels"] or "{}")
    resource = labels.get("table") or labels.get("pipeline") or labels.get("resource_type")
    ref = name(line["id"])
    if line["slack_ts"]:
        ref = link(f"https://slack.com/archives/{line['slack_channel']}/p{line['slack_ts'].replace('.', '')}", ref)
    return (f"{ref} · {SEVERITY_ICONS.get(line['severity'], '')} {line['severity']} · "
            f"{escape(truncate(line['title'], 80))}" + (f" · `{escape(truncate(resource, 60))}`" if resource else ""))


def storm_summary(lines: list[Mapping[str, Any]], waiting: int, over: bool, rate: float) -> tuple[str, list[dict]]:
    """A storm summary: (notification text, blocks). A line per incident, in the order they opened; a posted
    card's name links to it; buttons bring a waiting card forward (the most severe first). The text names every
    listed incident (INC-n), which other code relies on."""
    shown, more = lines[:STORM_LIST_CAP], max(0, len(lines) - STORM_LIST_CAP)
    count = f"{len(lines)} new incident{'s' if len(lines) != 1 else ''}"
    if over:
        head, intro = f":white_check_mark: Alert storm over: {count}", \
            "The storm is over: every card is posted. Each name links to its card and thread."
    elif waiting:
        head, intro = f":thunder_cloud_and_rain: Alert storm: {count}", (
            f"More new incidents than this channel can show at once. Their cards follow at Slack's pace (about "
            f"{rate:g} a second): *{waiting}* still to come. A name links to its card once it is posted; "
            f"*Post … now* (or `/dre show INC-n`) brings one forward.")
    else:
        head, intro = f":thunder_cloud_and_rain: Alert storm: {count}", \
            "Every card is posted; each name links to its card and thread. Watching for more."
    blocks: list[Any] = [HeaderBlock(text=truncate(head, 150)), SectionBlock(text=MarkdownTextObject(text=intro))]
    chunk: list[str] = []
    for text in [storm_line(line) for line in shown] + ([f"…and {more} more: `/dre status` lists them all."]
                                                         if more else []):
        if chunk and sum(len(t) + 1 for t in chunk) + len(text) > 2900:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(text)
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    severity_first = sorted((line for line in lines if not line["slack_ts"]),
                            key=lambda line: (line["severity"], line["id"]))[:STORM_BUTTONS]
    for start in range(0, len(severity_first), 25):
        blocks.append(ActionsBlock(block_id=f"storm-show-{start}", elements=[
            ButtonElement(text=f"Post {name(line['id'])} now", action_id=ACTION_SHOW, value=str(line["id"]))
            for line in severity_first[start:start + 25]]))
    names = ", ".join(name(line["id"]) for line in shown) + (f" and {more} more" if more else "")
    return truncate(f"{head.split(' ', 1)[1]}: {names}", 3900), [b.to_dict() for b in blocks]


def reply(text: str) -> dict[str, Any]:
    """A thread reply: mrkdwn text (already escaped by the caller), also as a section so long text wraps."""
    text = truncate(text, 2900)
    return {"text": text, "blocks": [SectionBlock(text=MarkdownTextObject(text=text)).to_dict()]}


# --- modals ------------------------------------------------------------------------------------------------
RESOLVE_MODAL, SILENCE_MODAL = "resolve_modal", "silence_modal"


def _modal(callback_id: str, title: str, submit: str, blocks: list, metadata: str) -> dict:
    from slack_sdk.models.views import View
    return View(type="modal", callback_id=callback_id, title=title, submit=submit, close="Cancel",
                blocks=blocks, private_metadata=metadata).to_dict()


def resolve_modal(incident_id: int, causes: Mapping[str, str], metadata: str) -> dict:
    """Resolve INC-n: a resolution note and a cause category."""
    from slack_sdk.models.blocks import InputBlock, Option, PlainTextInputElement, StaticSelectElement
    return _modal(RESOLVE_MODAL, truncate(f"Resolve {name(incident_id)}", 24), "Resolve", [
        InputBlock(block_id="cause", label="Cause", element=StaticSelectElement(
            action_id="value", placeholder="What caused it?",
            options=[Option(value=k, label=v) for k, v in causes.items()])),
        InputBlock(block_id="note", label="Resolution note", optional=True, element=PlainTextInputElement(
            action_id="value", multiline=True, placeholder="What fixed it? How was it verified?")),
    ], metadata)


def silence_modal(incident_id: int, matchers: str, metadata: str, duration: str = "1h") -> dict:
    """Silence alerts like INC-n's: matchers prefilled from its labels, a duration and a reason."""
    from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
    return _modal(SILENCE_MODAL, truncate(f"Silence {name(incident_id)}", 24), "Silence", [
        InputBlock(block_id="matchers", label="Alerts to silence (label=glob, space separated)",
                   element=PlainTextInputElement(action_id="value", initial_value=matchers)),
        InputBlock(block_id="duration", label="For how long (90m, 2h, 1d)",
                   element=PlainTextInputElement(action_id="value", initial_value=duration)),
        InputBlock(block_id="reason", label="Reason", optional=True,
                   element=PlainTextInputElement(action_id="value", placeholder="backfill running until 14:00")),
    ], metadata)


# --- App Home ------------------------------------------------------------------------------------------------

def home_view(mine: list[str], open_lines: list[str], silence_lines: list[str], oncall: str) -> dict:
    """The App Home tab: your incidents, all open ones, active silences, who is on call."""
    from slack_sdk.models.blocks import DividerBlock
    from slack_sdk.models.views import View

    def section(title: str, lines: list[str], empty: str) -> list:
        text = "\n".join(lines[:25]) if lines else empty
        more = f"\n…and {len(lines) - 25} more" if len(lines) > 25 else ""
        return [HeaderBlock(text=title), SectionBlock(text=MarkdownTextObject(text=truncate(text + more, 2900)))]

    blocks = [*section("Your incidents", mine, "_None assigned to you._"), DividerBlock(),
              *section("Open incidents", open_lines, ":white_check_mark: _No open incidents._"), DividerBlock(),
              *section("Active silences", silence_lines, "_No active silences._"), DividerBlock(),
              *section("On call", [oncall], "")]
    return View(type="home", blocks=blocks).to_dict()
