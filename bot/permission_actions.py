"""The actions `[permissions]` in dre-bot.toml can grant, with what each lets a person do (core: config reads it)."""
from __future__ import annotations

ACTIONS = {
    "ack": "acknowledge incidents", "resolve": "resolve incidents", "reopen": "reopen incidents",
    "assign": "assign incidents", "note": "add notes to incidents", "silence": "silence alerts",
    "page": "page through PagerDuty", "diagnostics": "run diagnostics", "create": "open incidents",
    "handoff": "post handoffs", "postmortem": "draft postmortems",
}
