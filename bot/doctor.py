"""`dre-bot doctor`: the configuration and every connection the bot can reach, checked one line at a time."""
from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import yaml

from bot import config, store

OK, FAIL, WARN = "✓", "✗", "!"
# The checkout's manifest, or the one the image copies beside the runbooks (the package itself lives elsewhere).
MANIFEST = Path(__file__).resolve().parent.parent / "slack-app-manifest.yaml"
ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")   # an Events API v2 integration key: 32 characters
LOW_DISK = 1 << 30      # below this much free space: a warning
FULL_DISK = 100 << 20   # below this: a failure, the bot is about to stop writing
PUBLIC_HOSTS = ("0.0.0.0", "::", "[::]")


@dataclass(frozen=True)
class Check:
    mark: str      # OK, FAIL or WARN
    name: str
    detail: str    # on FAIL and WARN, what to do

    def line(self) -> str:
        return f"{self.mark} {self.name}: {self.detail}"


def manifest_scopes(path: Path | None = None) -> set[str]:
    """The bot scopes the features need: the ones slack-app-manifest.yaml asks for."""
    path = path or (MANIFEST if MANIFEST.exists() else Path("slack-app-manifest.yaml"))
    doc = yaml.safe_load(path.read_text())
    return set(doc["oauth_config"]["scopes"]["bot"])


def run(settings: config.Settings, host: str = "127.0.0.1") -> list[Check]:
    """Every check, in the order a person fixes things: Slack, PagerDuty, Google, the database, the runbooks, then
    the risky settings."""
    checks: list[Check] = []
    for family in (_slack, _pagerduty, _bigquery, _monitoring, _database, _runbooks):
        checks.extend(family(settings))
    checks.extend(_risks(settings, host))
    return checks


def _guard(name: str, check: Callable[[], Iterator[Check]]) -> Iterator[Check]:
    """A check that crashes is a failure line with the reason, never a traceback that hides the other lines."""
    try:
        yield from check()
    except Exception as exc:  # noqa: BLE001 - one line per check, whatever went wrong
        yield Check(FAIL, name, f"{type(exc).__name__}: {exc}")


# --- Slack -------------------------------------------------------------------------------------------------------
SLACK_ERRORS = {
    "invalid_auth": "SLACK_BOT_TOKEN is not a valid token: copy the Bot User OAuth Token (xoxb-...) from the app's "
                    "OAuth & Permissions page.",
    "not_authed": "SLACK_BOT_TOKEN is empty: copy the Bot User OAuth Token from the app's OAuth & Permissions page.",
    "account_inactive": "the token's app or workspace is deactivated: reinstall the app and copy the new token.",
    "token_revoked": "the token was revoked: reinstall the app and copy the new Bot User OAuth Token.",
}


def _slack(settings: config.Settings) -> Iterator[Check]:
    if settings.sandbox:
        yield Check(WARN, "Slack", "no SLACK_BOT_TOKEN: sandbox mode, Slack is the built-in emulator. Set "
                                   "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to use a real workspace.")
        return
    yield Check(OK, "Slack signing secret", "SLACK_SIGNING_SECRET is set.")
    yield from _guard("Slack auth.test", lambda: _slack_auth(settings))


def _slack_auth(settings: config.Settings) -> Iterator[Check]:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url or WebClient.BASE_URL,
                       timeout=10)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown")
        yield Check(FAIL, "Slack auth.test", f"{error}: " + SLACK_ERRORS.get(error, "see Slack's auth.test errors."))
        return
    except OSError as exc:
        yield Check(FAIL, "Slack auth.test", f"Slack did not answer at {client.base_url} ({exc}): check the network, "
                                             "or SLACK_API_URL if you set it.")
        return
    yield Check(OK, "Slack auth.test", f"the bot is @{answer.get('user')} in {answer.get('team')} "
                                       f"({answer.get('url')}).")
    # Slack lists a token's scopes in the x-oauth-scopes header of every Web API answer.
    header = next((v for k, v in answer.headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        yield Check(WARN, "Slack scopes", "Slack did not say which scopes the token has (no x-oauth-scopes "
                                          "header); compare them with slack-app-manifest.yaml by hand.")
        return
    granted = {s.strip() for s in header.split(",") if s.strip()}
    missing = sorted(manifest_scopes() - granted)
    if missing:
        yield Check(FAIL, "Slack scopes", f"the token lacks {', '.join(missing)}: add them under OAuth & "
                                          "Permissions, Bot Token Scopes (or paste slack-app-manifest.yaml), then "
                                          "reinstall the app and copy the new token.")
    else:
        yield Check(OK, "Slack scopes", f"all {len(manifest_scopes())} scopes of slack-app-manifest.yaml granted.")


# --- PagerDuty ---------------------------------------------------------------------------------------------------
def _pagerduty(settings: config.Settings) -> Iterator[Check]:
    if settings.sandbox and not settings.pagerduty_enabled:
        yield Check(WARN, "PagerDuty", "sandbox mode: PagerDuty is the built-in emulator.")
        return
    if not settings.pagerduty_enabled:
        yield Check(WARN, "PagerDuty", "off: no PAGERDUTY_ROUTING_KEY or PAGERDUTY_API_TOKEN, so nobody is paged. "
                                       "Set them to page the on-call (README, PagerDuty).")
        return
    if settings.pagerduty_api_token:
        yield from _guard("PagerDuty token", lambda: _pagerduty_token(settings))
        if not settings.pagerduty_from_email:
            yield Check(WARN, "PagerDuty from", "PAGERDUTY_FROM_EMAIL is not set: PagerDuty refuses acknowledge and "
                                                "resolve without it; set it to a PagerDuty user's email.")
    else:
        yield Check(WARN, "PagerDuty token", "no PAGERDUTY_API_TOKEN: pages go out, but Acknowledge and Resolve in "
                                             "Slack do not reach PagerDuty. Create a REST API key (Integrations, API "
                                             "Access Keys).")
    keys = {"PAGERDUTY_ROUTING_KEY": settings.pagerduty_routing_key} if settings.pagerduty_routing_key else {}
    keys.update({r.routing_key_env: settings.env.get(r.routing_key_env) for r in settings.pagerduty.routes
                 if r.page})
    for var, key in keys.items():
        if not key:
            yield Check(FAIL, "PagerDuty routing key", f"{var} (named in dre-bot.toml) is not set: copy the "
                                                       "Integration Key of the service's Events API v2 integration.")
        elif not ROUTING_KEY.match(key):
            yield Check(FAIL, "PagerDuty routing key", f"{var} is {len(key)} characters, not the 32 letters and "
                                                       "digits of an Events API v2 Integration Key: copy it from the "
                                                       "service's Integrations tab.")
        else:
            yield Check(OK, "PagerDuty routing key", f"{var} looks like an Events API v2 Integration Key.")
    if settings.pagerduty_webhook_secret:
        yield Check(OK, "PagerDuty webhook secret", "PAGERDUTY_WEBHOOK_SECRET is set.")
    else:
        yield Check(WARN, "PagerDuty webhook secret", "PAGERDUTY_WEBHOOK_SECRET is not set, so acknowledgements made "
                                                      "in PagerDuty do not reach Slack: add a v3 webhook subscription "
                                                      "to /webhooks/pagerduty and copy its secret.")


def _pagerduty_token(settings: config.Settings) -> Iterator[Check]:
    import pagerduty

    from bot.pagerduty.client import rest
    client = rest(settings)
    assert client is not None
    with client:
        try:
            response = client.get("/users", params={"limit": 1})   # the cheapest read every REST API key may make
        except pagerduty.HttpError as exc:   # the client raises on 401 itself
            response = exc.response
    if response.status_code == 401:
        yield Check(FAIL, "PagerDuty token", "PagerDuty refused PAGERDUTY_API_TOKEN (401): create a REST API key "
                                             "(Integrations, API Access Keys) and set it.")
    elif response.status_code == 403:
        yield Check(FAIL, "PagerDuty token", "PAGERDUTY_API_TOKEN may not read the account (403): use a general "
                                             "access REST API key, not a read-restricted one.")
    elif response.status_code >= 400:
        yield Check(FAIL, "PagerDuty token", f"PagerDuty answered {response.status_code} at "
                                             f"{settings.pagerduty_api_url}: try again, or check PAGERDUTY_API_URL.")
    else:
        yield Check(OK, "PagerDuty token", "the REST API accepts PAGERDUTY_API_TOKEN.")


# --- Google ------------------------------------------------------------------------------------------------------
def _bigquery(settings: config.Settings) -> Iterator[Check]:
    if settings.sandbox and not settings.google_cloud_project and not settings.bigquery_api_url:
        yield Check(WARN, "BigQuery", "sandbox mode: diagnostics run on the built-in warehouse.")
        return
    if not settings.google_cloud_project and not settings.bigquery_api_url:
        yield Check(WARN, "BigQuery", "no GOOGLE_CLOUD_PROJECT: diagnostics are off. Set it, with credentials "
                                      "(README, Diagnostics).")
        return
    yield from _guard("BigQuery", lambda: _bigquery_dry_run(settings))


def _bigquery_dry_run(settings: config.Settings) -> Iterator[Check]:
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import bigquery

    from bot.diagnostics.runner import client_for
    try:
        client = client_for(settings.google_cloud_project, settings.bigquery_api_url)
        client.query("SELECT 1", job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False))
    except DefaultCredentialsError:
        yield Check(FAIL, "BigQuery", "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service "
                                      "account key, or run with a service account.")
        return
    except gexc.Forbidden as exc:
        yield Check(FAIL, "BigQuery", f"a dry-run query was refused ({exc.message}): give the bot's service "
                                      "account BigQuery Job User (roles/bigquery.jobUser) on project "
                                      f"{settings.google_cloud_project}, and Data Viewer on the datasets.")
        return
    yield Check(OK, "BigQuery", f"a dry-run query runs in project {settings.google_cloud_project}.")


def _monitoring(settings: config.Settings) -> Iterator[Check]:
    if settings.sandbox and not settings.google_cloud_project and not settings.monitoring_api_url:
        yield Check(WARN, "Cloud Monitoring", "sandbox mode: charts and snoozes use the built-in emulator.")
        return
    if not settings.google_cloud_project and not settings.monitoring_api_url:
        yield Check(WARN, "Cloud Monitoring", "no GOOGLE_CLOUD_PROJECT: no charts or snoozes. Set it, with "
                                              "credentials (README, Cloud Monitoring).")
        return
    yield from _guard("Cloud Monitoring", lambda: _monitoring_read(settings))


def _monitoring_read(settings: config.Settings) -> Iterator[Check]:
    from google.api_core import exceptions as gexc
    from google.cloud import monitoring_v3

    from bot.monitoring.client import Clients, NoCredentials
    project = settings.google_cloud_project or "dre-sandbox"
    now = time.time()
    interval = monitoring_v3.TimeInterval(start_time={"seconds": int(now) - 60}, end_time={"seconds": int(now)})
    try:
        client = Clients(settings.monitoring_api_url).metrics()
        client.list_time_series(request={
            "name": f"projects/{project}", "interval": interval,
            "filter": 'metric.type = "monitoring.googleapis.com/uptime_check/check_passed"',
            "view": monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.HEADERS}, timeout=10)
    except NoCredentials as exc:
        yield Check(FAIL, "Cloud Monitoring", f"{exc}.")
        return
    except (gexc.PermissionDenied, gexc.Unauthenticated) as exc:
        yield Check(FAIL, "Cloud Monitoring", f"ListTimeSeries was refused ({exc.message}): give the bot's service "
                                              "account Monitoring Viewer (roles/monitoring.viewer) on project "
                                              f"{project}; snoozes need Monitoring Snooze Editor "
                                              "(roles/monitoring.snoozeEditor) too.")
        return
    yield Check(OK, "Cloud Monitoring", f"time series can be read in project {project} (snoozes need Monitoring "
                                        "Snooze Editor, which only a snooze shows).")


# --- Local -------------------------------------------------------------------------------------------------------
def _database(settings: config.Settings) -> Iterator[Check]:
    yield from _guard("Database", lambda: _database_checks(settings))


def _database_checks(settings: config.Settings) -> Iterator[Check]:
    folder = Path(settings.db_path).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        yield Check(FAIL, "Database", f"cannot write in {folder}: create it, or point DRE_DB at a writable place "
                                      "(a persistent volume in production).")
        return
    store.migrate(settings.db_path, settings.inbox_db_path)
    conn = store.connect(settings.db_path)
    try:
        with store.transaction(conn):   # takes the write lock, as the bot must, then gives it back
            pass
    finally:
        conn.close()
    yield Check(OK, "Database", f"{settings.db_path} is migrated and writable.")
    free = shutil.disk_usage(folder).free
    where = f"{free / (1 << 20):.0f} MB free in {folder}"
    if free < FULL_DISK:
        yield Check(FAIL, "Disk space", f"{where}: free some space or grow the volume; the bot stops taking webhooks "
                                        "when the disk is full.")
    elif free < LOW_DISK:
        yield Check(WARN, "Disk space", f"{where}: less than 1 GB, grow the volume before it fills.")
    else:
        yield Check(OK, "Disk space", f"{where}.")


def runbook_problems(settings: config.Settings) -> tuple[list[str], int, int]:
    """What `runbooks check` finds: (problems, runbooks, diagnostic queries)."""
    from bot.diagnostics.catalog import CatalogError, load as load_queries
    from bot.slack.snippets import check
    problems: list[str] = []
    try:
        names = set(load_queries(Path(settings.runbooks_dir) / "queries"))
    except CatalogError as exc:
        problems.append(str(exc))
        names = set()
    problems += check(settings.runbooks_dir, names)
    count = len([p for p in Path(settings.runbooks_dir).glob("*.md") if p.name.lower() != "readme.md"])
    return problems, count, len(names)


def _runbooks(settings: config.Settings) -> Iterator[Check]:
    def checks() -> Iterator[Check]:
        problems, count, queries = runbook_problems(settings)
        for p in problems:
            yield Check(FAIL, "Runbooks", f"{p} (`dre-bot runbooks check` lists them all)")
        if not problems:
            yield Check(OK, "Runbooks", f"{count} runbooks and {queries} diagnostic queries are valid.")
    yield from _guard("Runbooks", checks)


def _risks(settings: config.Settings, host: str) -> Iterator[Check]:
    if not settings.webhook_token:
        yield Check(WARN, "Webhook token", "DRE_WEBHOOK_TOKEN is not set: " + (
            "webhooks are taken from loopback only." if settings.sandbox else
            "anyone who can reach /webhooks can open incidents. Set it, and send it from each sender "
            "(docs/DEPLOY.md)."))
    else:
        yield Check(OK, "Webhook token", "DRE_WEBHOOK_TOKEN is set.")
    if host in PUBLIC_HOSTS:
        yield Check(WARN, "Listen address", f"--host {host} listens on every interface, over plain HTTP: put a "
                                            "TLS-terminating proxy or load balancer in front, and let only it "
                                            "reach the port.")
