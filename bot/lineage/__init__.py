"""Lineage: which tables feed which, from dbt's manifest, BigQuery's job history and config, for grouping alerts.

`graph` is pure (the pipeline's group stage reads it); `dbt`, `bigquery` and `sources` are the readers."""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("dre-bot.lineage")


def register(registry, settings, runbooks) -> None:
    """The lineage the worker's group stage reads, and with [lineage] bigquery = true the job refreshing it."""
    from bot.lineage.sources import Lineage
    registry.lineage = lineage = Lineage(settings.lineage)
    if settings.lineage.bigquery:
        registry.job("lineage from BigQuery jobs", BigQueryRefresh(settings, lineage))


class BigQueryRefresh:
    """Reads INFORMATION_SCHEMA.JOBS every [lineage] bigquery_refresh; a refusal or failure keeps the last graph
    and is tried again at the next refresh, not at every tick. The read (a BigQuery job, seconds long) runs on a
    thread of its own: the job is called by the inbox processor, inside its transaction, and alerts must not wait
    for it."""

    def __init__(self, settings, lineage):
        self.settings, self.lineage, self.next_at = settings, lineage, 0.0
        self.thread: threading.Thread | None = None

    def __call__(self, conn, now: float) -> int:
        if now < self.next_at or (self.thread is not None and self.thread.is_alive()):
            return 0
        self.next_at = now + self.settings.lineage.bigquery_refresh
        self.thread = threading.Thread(target=self.refresh, name="lineage-refresh", daemon=True)
        self.thread.start()
        return 0

    def wait(self, timeout: float = 60.0) -> None:
        """Until the refresh under way (if any) is done."""
        if self.thread is not None:
            self.thread.join(timeout)

    def refresh(self) -> None:
        from bot.lineage import bigquery as bq
        cfg = self.settings.lineage
        try:
            client = bq.client_for(self.settings.google_cloud_project, self.settings.bigquery_api_url)
            graph = bq.fetch(client, self.settings.diagnostics.region, cfg.bigquery_days,
                             self.settings.diagnostics.max_bytes, self.settings.diagnostics.timeout)
        except Exception as exc:   # the warehouse is down or refuses: group with what we had
            log.warning("lineage from BigQuery jobs not refreshed: %s", exc)
            return
        self.lineage.set_bigquery(graph)
        log.info("lineage: %d edges from BigQuery jobs", len(graph.edges))
