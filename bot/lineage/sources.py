"""The lineage the bot holds: static edges from config, dbt's manifest (read again when the file changes) and
BigQuery's job history (refreshed on a schedule), merged into one Graph for the pipeline."""
from __future__ import annotations

import logging
import os
import threading

from bot.config import LineageConfig
from bot.lineage import dbt
from bot.lineage.graph import EMPTY, Graph

log = logging.getLogger("dre-bot.lineage")


def static(config: LineageConfig) -> Graph:
    return Graph.of(((e.upstream, e.downstream) for e in config.edges), "[[lineage.edges]]") if config.edges \
        else EMPTY


class Lineage:
    """`graph()` is cheap: it stats the manifest and rebuilds only when its mtime or size changed."""

    def __init__(self, config: LineageConfig):
        self.config = config
        self._static = static(config)
        self._bigquery = EMPTY
        self._manifest: Graph = EMPTY
        self._stamp: tuple[float, int] | None = None
        self._merged: Graph = self._static
        self._lock = threading.Lock()

    def graph(self) -> Graph:
        path = self.config.dbt_manifest
        if path:
            try:
                st = os.stat(path)
                stamp = (st.st_mtime, st.st_size)
            except OSError:
                stamp = None
            if stamp != self._stamp:
                self._reload(path, stamp)
        return self._merged

    def _reload(self, path: str, stamp: tuple[float, int] | None) -> None:
        with self._lock:
            self._stamp = stamp
            try:
                self._manifest = dbt.load(path)
                log.info("lineage: %d edges from %s", len(self._manifest.edges), path)
            except dbt.ManifestError as exc:
                # Keep grouping with what we had: a half-written manifest during `dbt run` is normal.
                log.warning("lineage: %s", exc)
            self._merge()

    def set_bigquery(self, graph: Graph) -> None:
        with self._lock:
            self._bigquery = graph
            self._merge()

    def _merge(self) -> None:
        self._merged = self._static.merged(self._manifest).merged(self._bigquery)
