"""Render emulator messages as plain text, the way a person reads the channel in Slack: cards, then indented thread replies."""

from __future__ import annotations

import re
from typing import Any

REPLY_MARK = "  ↳ "
REPLY_CONT = "    "


def _unescape(text: str) -> str:
    """Slack escapes only &, < and >; show them as the characters a person sees (links and mentions stay literal)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any) -> str:
    """The string inside a text object ({"type": "mrkdwn"|"plain_text", "text": ...}) or a bare string."""
    if isinstance(obj, dict):
        return _unescape(str(obj.get("text", "")))
    if isinstance(obj, str):
        return _unescape(obj)
    return ""


def _strip_emphasis(label: str) -> str:
    label = label.strip()
    for mark in ("*", "_", "~"):
        if len(label) >= 2 and label.startswith(mark) and label.endswith(mark):
            label = label[1:-1].strip()
    return label.rstrip(":").strip()


def _field(obj: Any) -> str:
    """A section field as `Label: value` ("*Severity*\\nSEV2" and "*Severity:* SEV2" both give "Severity: SEV2")."""
    raw = _text(obj).strip()
    if "\n" in raw:
        label, value = raw.split("\n", 1)
        label = _strip_emphasis(label)
        value = " ".join(v.strip() for v in value.splitlines() if v.strip())
        return f"{label}: {value}" if label else value
    if raw.startswith("*"):
        end = raw.find("*", 1)
        if end > 1:
            label = _strip_emphasis(raw[: end + 1])
            value = raw[end + 1 :].strip().lstrip(":").strip()
            return f"{label}: {value}" if value else label
    return raw


def _element(el: Any) -> str:
    """An interactive element as the person sees it: buttons as [Label], menus as [Placeholder ▾]."""
    if not isinstance(el, dict):
        return ""
    kind = el.get("type", "")
    if kind == "button":
        return f"[{_text(el.get('text'))}]"
    if kind == "overflow":
        return "[…]"
    if kind.endswith("_select") or kind.startswith("multi_") or kind in ("datepicker", "timepicker", "datetimepicker"):
        shown = el.get("initial_option", {}).get("text") if isinstance(el.get("initial_option"), dict) else None
        label = _text(shown) if shown else _text(el.get("placeholder")) or kind.replace("_", " ")
        return f"[{label} ▾]"
    if kind == "image":
        return f"[image: {el.get('alt_text', '')}]"
    if "text" in el:
        return f"[{_text(el.get('text'))}]"
    return ""


def _rich_text(elements: Any) -> str:
    out: list[str] = []
    for el in elements or []:
        if not isinstance(el, dict):
            continue
        kind = el.get("type")
        if kind in ("text",):
            out.append(str(el.get("text", "")))
        elif kind == "link":
            out.append(str(el.get("text") or el.get("url", "")))
        elif kind == "user":
            out.append(f"<@{el.get('user_id', '')}>")
        elif kind == "channel":
            out.append(f"<#{el.get('channel_id', '')}>")
        elif kind == "emoji":
            out.append(f":{el.get('name', '')}:")
        elif "elements" in el:
            text = _rich_text(el["elements"])
            if kind == "rich_text_list":
                text = "\n".join(f"• {line}" for line in text.splitlines() if line)
            elif kind == "rich_text_preformatted":
                text = f"```{text}```"
            elif kind == "rich_text_quote":
                text = "\n".join(f"> {line}" for line in text.splitlines())
            out.append(text + ("\n" if kind in ("rich_text_list", "rich_text_preformatted", "rich_text_quote") else ""))
        elif "text" in el:
            out.append(str(el["text"]))
    return "".join(out)


def render_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """Block Kit blocks -> plain text lines."""
    lines: list[str] = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {_text(block.get('text'))} ==")
        elif kind == "section":
            text = _text(block.get("text")) if block.get("text") else ""
            accessory = _element(block.get("accessory")) if block.get("accessory") else ""
            if text:
                text_lines = text.splitlines() or [""]
                if accessory:
                    text_lines[-1] = f"{text_lines[-1]}  {accessory}"
                lines.extend(text_lines)
            elif accessory:
                lines.append(accessory)
            for field in block.get("fields") or []:
                lines.append(_field(field))
        elif kind == "context":
            parts = []
            for el in block.get("elements") or []:
                if isinstance(el, dict) and el.get("type") == "image":
                    continue  # small icons next to context text
                parts.append(_text(el))
            if parts:
                lines.append(" · ".join(p for p in parts if p))
        elif kind == "actions":
            shown = [s for s in (_element(el) for el in block.get("elements") or []) if s]
            if shown:
                lines.append(" ".join(shown))
        elif kind == "divider":
            lines.append("---")
        elif kind == "image":
            title = _text(block.get("title")) if block.get("title") else block.get("alt_text", "")
            lines.append(f"[image: {title}]")
        elif kind == "rich_text":
            lines.extend(_unescape(_rich_text(block.get("elements"))).rstrip("\n").splitlines())
        elif kind == "markdown":
            lines.extend(_unescape(str(block.get("text", ""))).splitlines())
        elif kind == "input":
            lines.append(f"{_text(block.get('label'))}: {_element(block.get('element'))}".rstrip())
        elif kind == "file":
            lines.append(f"[file: {block.get('external_id', '')}]")
        elif kind == "video":
            lines.append(f"[video: {_text(block.get('title'))}]")
        elif "text" in block:
            lines.extend(_text(block.get("text")).splitlines())
    return lines


def _attachment_lines(attachment: dict[str, Any]) -> list[str]:
    if attachment.get("blocks"):
        return render_blocks(attachment["blocks"])
    lines: list[str] = []
    for key in ("pretext", "title", "text"):
        if attachment.get(key):
            lines.extend(_unescape(str(attachment[key])).splitlines())
    for field in attachment.get("fields") or []:
        if isinstance(field, dict):
            lines.append(f"{_unescape(str(field.get('title', '')))}: {_unescape(str(field.get('value', '')))}")
    if not lines and attachment.get("fallback"):
        lines.append(_unescape(str(attachment["fallback"])))
    return lines


def render_message(message: dict[str, Any]) -> list[str]:
    """One message -> its lines (blocks if any, else its text), then attachments, files and an edit note."""
    lines = render_blocks(message["blocks"]) if message.get("blocks") else _unescape(message.get("text") or "").splitlines()
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            lines.extend(f"| {line}" for line in _attachment_lines(attachment))
    for f in message.get("files") or []:
        if isinstance(f, dict):
            lines.append(f"[file: {f.get('title') or f.get('name') or f.get('id')}]")
    if not lines:
        lines = [""]
    edits = int(message.get("edits") or 0)
    if edits:
        lines.append(f"(edited {edits} time{'s' if edits != 1 else ''})")
    return lines


def transcript(messages: list[dict[str, Any]], channel: str | None = None) -> str:
    """A channel as a person reads it: each parent, its replies under it (`  ↳ `), a blank line between threads.

    `messages` is SlackEmulator.messages() (post order); with several channels, each gets a `# <id>` heading.
    `channel` may be an ID or a name ("#data-incidents").
    """
    if channel is not None:
        wanted = channel.strip()
        if not re.fullmatch(r"[CGD][A-Z0-9]{8,}", wanted):
            from sandbox.slack import channel_id_for_name

            wanted = channel_id_for_name(wanted)
        messages = [m for m in messages if m.get("channel") == wanted]
    channels: list[str] = list(dict.fromkeys(str(m.get("channel")) for m in messages))
    out: list[str] = []
    for cid in channels:
        in_channel = [m for m in messages if str(m.get("channel")) == cid]
        parents = [m for m in in_channel if not m.get("thread_ts") or m.get("thread_ts") == m.get("ts")]
        parent_ts = {m["ts"] for m in parents}
        replies: dict[str, list[dict[str, Any]]] = {}
        orphans: list[dict[str, Any]] = []
        for m in in_channel:
            if m in parents:
                continue
            if m.get("thread_ts") in parent_ts:
                replies.setdefault(m["thread_ts"], []).append(m)
            else:
                orphans.append(m)
        if len(channels) > 1:
            out.append(f"# {cid}")
            out.append("")
        for parent in parents:
            out.extend(render_message(parent))
            for reply in replies.get(parent["ts"], []):
                reply_lines = render_message(reply)
                out.append(REPLY_MARK + reply_lines[0])
                out.extend(REPLY_CONT + line if line else "" for line in reply_lines[1:])
            out.append("")
        for orphan in orphans:  # replies whose parent is not in the list
            reply_lines = render_message(orphan)
            out.append(REPLY_MARK + reply_lines[0])
            out.extend(REPLY_CONT + line if line else "" for line in reply_lines[1:])
            out.append("")
    return "\n".join(out)
