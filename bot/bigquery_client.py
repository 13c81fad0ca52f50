"""The BigQuery client, built one way for diagnostics, lineage and `dre-bot doctor`: Google's endpoint with
Application Default Credentials, or BIGQUERY_API_URL (the sandbox's local warehouse) with no credentials.

google-cloud-bigquery is imported here, on first use, not with the module: it takes about a quarter of a second
and 90 MB, and a bot without BigQuery never needs it (`tests/unit/test_lazy_imports.py`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import bigquery


def client_for(project: str | None, api_url: str | None) -> bigquery.Client:
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery
    if api_url:   # the sandbox warehouse, or another endpoint: no Google credentials needed there
        from google.auth.credentials import AnonymousCredentials
        return bigquery.Client(project=project or "dre-sandbox", credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=api_url))
    return bigquery.Client(project=project)
