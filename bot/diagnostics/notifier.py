"""The diagnostics notifier: when an incident opens on a known table, run the default diagnostics for its kind and
the runbook's automatic ones, so the first reply after the snippet is evidence."""
from __future__ import annotations

import sqlite3

from bot import events, store
from bot.config import Settings
from bot.diagnostics import delivery
from bot.diagnostics.identifiers import BadTable, parse_table
from bot.events import Event
from bot.runbook import Runbook

# Evidence worth having for each kind whatever the runbook lists (runbooks/queries/*.sql). `distribution` needs a
# column, so it runs only when the alert names one (a `column` or `field` label).
DEFAULTS = {"freshness": ("freshness", "volume"), "volume": ("freshness", "volume"), "schema": ("schema",),
            "distribution": ("nulls", "distribution")}


class DiagnosticsNotifier:
    def __init__(self, settings: Settings, runbooks: list[Runbook]):
        self.settings = settings
        self.runbooks = {rb.path: rb for rb in runbooks}

    def __call__(self, conn: sqlite3.Connection, event: Event) -> None:
        if event.kind != events.OPENED or not self.settings.diagnostics.allowed:
            return
        runbook = self.runbooks.get(event.data.get("runbook") or "")
        alert = event.data["alert"]
        labels = alert.get("labels") or {}
        table, column = labels.get("table"), labels.get("column") or labels.get("field")
        defaults = [q for q in DEFAULTS.get(alert.get("kind"), ()) if q != "distribution" or column]
        queries = list(dict.fromkeys(defaults + list(runbook.auto_diagnostics if runbook else ())))
        if not queries or not table:
            return
        diag = self.settings.diagnostics
        try:
            ref = parse_table(table, self.settings.google_cloud_project, diag.allowed, diag.region)
        except BadTable as exc:
            store.add_timeline(conn, event.incident_id, "dre-bot", "dre-bot", "diagnostic",
                               f"Automatic diagnostics not run: {exc}")
            return
        # The card's finding comes from the evidence only when the sender gave none.
        finds = not alert.get("finding")
        for query in queries:
            params = {"column": column} if query == "distribution" else {}
            why = "automatic, from the runbook" if query not in defaults else f"automatic for a {alert['kind']} alert"
            delivery.enqueue_run(conn, event.incident_id, query, str(ref), params, "auto", why=why, finding=finds)
