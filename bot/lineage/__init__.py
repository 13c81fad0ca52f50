"""Lineage: which tables feed which, from dbt's manifest, BigQuery's job history and config, for grouping alerts.

`graph` is pure (the pipeline's group stage reads it); `dbt`, `bigquery` and `sources` are the readers."""
from __future__ import annotations

import logging

log = logging.getLogger("dre-bot.lineage")


def register(registry, settings, runbooks) -> None:
    """The lineage the worker's group stage reads, and with [lineage] bigquery = true the job refreshing it."""
    from bot.lineage.sources import Lineage
    registry.lineage = lineage = Lineage(settings.lineage)
    if settings.lineage.bigquery:
        registry.job("lineage from BigQuery jobs", BigQueryRefresh(settings, lineage))


class BigQueryRefresh:
    """Reads INFORMATION_SCHEMA.JOBS every [lineage] bigquery_refresh; a refusal or failure keeps the last graph
    and is tried again at the next refresh, not at every tick."""

    def __init__(self, settings, lineage):
        self.settings, self.lineage, self.next_at = settings, lineage, 0.0

    def __call__(self, conn, now: float) -> int:
        if now < self.next_at:
            return 0
        self.next_at = now + self.settings.lineage.bigquery_refresh
        from bot.lineage import bigquery as bq
        cfg = self.settings.lineage
        try:
            client = bq.client_for(self.settings.google_cloud_project, self.settings.bigquery_api_url)
            graph = bq.fetch(client, self.settings.diagnostics.region, cfg.bigquery_days,
                             self.settings.diagnostics.max_bytes, self.settings.diagnostics.timeout)
        except Exception as exc:   # the warehouse is down or refuses: group with what we had
            log.warning("lineage from BigQuery jobs not refreshed: %s", exc)
            return 0
        self.lineage.set_bigquery(graph)
        log.info("lineage: %d edges from BigQuery jobs", len(graph.edges))
        return 1
