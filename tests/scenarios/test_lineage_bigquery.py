"""Lineage from BigQuery's job history, through the real google-cloud-bigquery client against the sandbox warehouse.

The emulator has no INFORMATION_SCHEMA.JOBS (the edge building is tested on rows in tests/unit/test_lineage.py):
here the warehouse refuses the read, and the refresh must keep the lineage it had and wait for its next turn."""
import logging

import pytest

from bot import config
from bot.lineage import BigQueryRefresh
from bot.lineage.sources import Lineage


@pytest.fixture
def settings(tmp_path, warehouse):
    path = tmp_path / "dre-bot.toml"
    path.write_text('[lineage]\nbigquery = true\nbigquery_refresh = "1h"\n\n'
                    '[[lineage.edges]]\nupstream = "raw.orders"\ndownstream = "analytics.orders"\n')
    return config.load({"BIGQUERY_API_URL": warehouse.api_endpoint, "GOOGLE_CLOUD_PROJECT": "dre-sandbox",
                        "DRE_DB": str(tmp_path / "x.db")}, path=path)


def test_a_refused_read_keeps_the_lineage_and_waits_for_the_next_refresh(settings, caplog):
    lineage = Lineage(settings.lineage)
    job = BigQueryRefresh(settings, lineage)
    with caplog.at_level(logging.WARNING, "dre-bot.lineage"):
        assert job(None, 1000.0) == 0   # the read runs on its own thread: alerts never wait for it
        job.wait()
    assert "not refreshed" in caplog.text and "400" in caplog.text   # the warehouse's own refusal, logged
    assert lineage.graph().upstream("analytics.orders") == {"raw.orders"}   # [[lineage.edges]] still hold
    caplog.clear()
    first = job.thread
    assert job(None, 1000.0 + 60) == 0 and job.thread is first     # not again at every tick
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING, "dre-bot.lineage"):
        assert job(None, 1000.0 + 3601) == 0
        job.wait()
    assert "not refreshed" in caplog.text

