"""The diagnostics notifier: when an incident opens on a table and its runbook lists automatic diagnostics, run
them, so the first reply after the snippet is evidence."""
from __future__ import annotations

import sqlite3

from bot import events, store
from bot.config import Settings
from bot.diagnostics import delivery
from bot.diagnostics.identifiers import BadTable, parse_table
from bot.events import Event
from bot.runbook import Runbook


class DiagnosticsNotifier:
    def __init__(self, settings: Settings, runbooks: list[Runbook]):
        self.settings = settings
        self.runbooks = {rb.path: rb for rb in runbooks}

    def __call__(self, conn: sqlite3.Connection, event: Event) -> None:
        if event.kind != events.OPENED or not self.settings.diagnostics.allowed:
            return
        runbook = self.runbooks.get(event.data.get("runbook") or "")
        table = (event.data["alert"].get("labels") or {}).get("table")
        if runbook is None or not runbook.auto_diagnostics or not table:
            return
        diag = self.settings.diagnostics
        try:
            ref = parse_table(table, self.settings.google_cloud_project, diag.allowed, diag.region)
        except BadTable as exc:
            store.add_timeline(conn, event.incident_id, "dre-bot", "dre-bot", "diagnostic",
                               f"Automatic diagnostics not run: {exc}")
            return
        for query in runbook.auto_diagnostics:
            delivery.enqueue_run(conn, event.incident_id, query, str(ref), {}, "auto", why="automatic, from the runbook")
