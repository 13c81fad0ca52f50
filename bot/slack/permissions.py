"""Who may do what, from `[permissions]` in dre-bot.toml, checked on every path (command, button, mention,
shortcut), never only in the UI.

Each action takes a list of rules; any rule that holds allows it:
  "anyone"      every member of the workspace
  "channel"     members of the incident's channel (or whoever acts from inside it)
  "@handle"     members of that Slack user group
  "U0123ABCD"   that user
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Mapping

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.permission_actions import ACTIONS

DEFAULTS: dict[str, tuple[str, ...]] = {
    "ack": ("channel",), "resolve": ("channel",), "reopen": ("channel",), "assign": ("channel",),
    "note": ("channel",), "silence": ("@dre-oncall",), "page": ("@dre-oncall",),
    "diagnostics": ("@dre-oncall",), "create": ("@dre-oncall",),
    "handoff": ("@dre-oncall",), "postmortem": ("channel",),
}
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Directory:
    """User group and channel membership from Slack, cached for a minute."""

    def __init__(self, client: WebClient):
        self.client = client
        self._lock = threading.Lock()
        self._groups: tuple[float, dict[str, set[str]]] = (0.0, {})
        self._members: dict[str, tuple[float, set[str]]] = {}

    def group_members(self, handle: str) -> set[str]:
        with self._lock:
            at, groups = self._groups
            if time.time() - at > CACHE_SECONDS:
                data = self.client.usergroups_list(include_users=True).data
                groups = {g["handle"]: set(g.get("users") or ()) for g in data.get("usergroups", [])}
                self._groups = (time.time(), groups)
            return groups.get(handle.lstrip("@"), set())

    def channel_members(self, channel_id: str) -> set[str]:
        with self._lock:
            at, members = self._members.get(channel_id, (0.0, set()))
            if time.time() - at > CACHE_SECONDS:
                members, cursor = set(), None
                for _ in range(20):
                    page = self.client.conversations_members(channel=channel_id, limit=1000, cursor=cursor).data
                    members |= set(page.get("members", []))
                    cursor = (page.get("response_metadata") or {}).get("next_cursor")
                    if not cursor:
                        break
                self._members[channel_id] = (time.time(), members)
            return members


class Permissions:
    def __init__(self, rules: Mapping[str, tuple[str, ...]], directory: Directory):
        self.rules = {**DEFAULTS, **rules}
        self.directory = directory

    def check(self, action: str, user: str, from_channel: str | None = None,
              incident_channel: str | None = None) -> Decision:
        rules = self.rules.get(action, ())
        for rule in rules:
            try:
                if rule == "anyone" or rule == user:
                    return Decision(True)
                if rule == "channel" and incident_channel and (
                        from_channel == incident_channel or user in self.directory.channel_members(incident_channel)):
                    return Decision(True)
                if rule == "channel" and not incident_channel and from_channel:
                    return Decision(True)   # no incident yet: acting from a channel they are in
                if rule.startswith("@") and user in self.directory.group_members(rule):
                    return Decision(True)
            except SlackApiError:
                continue   # a lookup Slack refused cannot grant access
        return Decision(False, refusal(action, rules))


def refusal(action: str, rules: tuple[str, ...]) -> str:
    who = []
    for rule in rules:
        if rule == "channel":
            who.append("members of the incident's channel")
        elif rule.startswith("@"):
            who.append(f"members of {rule}")
        elif rule != "anyone":
            who.append(f"<@{rule}>")
    allowed = ", ".join(who) if who else "no one yet"
    groups = [r for r in rules if r.startswith("@")]
    ask = f"Ask to join {groups[0]}, or ask" if groups else "Ask"
    return (f"Only {allowed} may {ACTIONS.get(action, action)}. {ask} a dre-bot admin to add you under "
            f"`[permissions] {action}` in dre-bot.toml.")
