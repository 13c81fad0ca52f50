"""Escaping for Slack mrkdwn: text from alerts is untrusted and must never ping anyone or forge a link.

https://docs.slack.dev/messaging/formatting-message-text#escaping
"""
from __future__ import annotations

import re
import time

_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_MD_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def escape(text: object) -> str:
    """&, < and > as Slack's entities: `<!channel>` shows as text and pings no one."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, text: str) -> str:
    """A mrkdwn link whose text and URL come from outside: both escaped, `|` removed from the URL."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(text).replace('|', '/')}>"


def mention(who: str) -> str:
    """<@U123> for a Slack user id; anyone else (a monitor, "Name (PagerDuty)", the CLI) escaped, as a name."""
    is_user = who[:1] in "UW" and who.isalnum() and who.isupper()
    return f"<@{who}>" if is_user else escape(who)


def slack_date(epoch: float | None, missing: str = "unknown") -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback for clients without dates;
    `missing` when there is no time."""
    if not epoch:
        return missing
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))
    return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time}}|{fallback}>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def from_markdown(source: str) -> str:
    """Our own runbook Markdown as Slack mrkdwn: headings and **bold** as *bold*, [text](url) as <url|text>.

    Only for trusted text (runbook sources), before untrusted values are rendered into it.
    """
    out = _MD_HEADING.sub(lambda m: f"*{m.group(1)}*", source)
    out = _MD_BOLD.sub(lambda m: f"*{m.group(1)}*", out)
    return _MD_LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", out)
