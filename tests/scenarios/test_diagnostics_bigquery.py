"""Diagnostics through Slack against the local BigQuery (the sandbox warehouse, real google-cloud-bigquery client):
each built-in diagnostic finds the seeded problem, results land in the thread, PII is redacted, hostile input is
refused or bound harmlessly, long results come as CSV, and the cost cap refuses before anything runs."""
import json
import re

import pytest

from tests.conftest import FAST_DELIVERY, parents, replies, settle, wait_for
from tests.slack_requests import SlackSender

DIAG_CONFIG = FAST_DELIVERY + '\n[diagnostics]\nallowed = ["dre-sandbox.analytics", "dre-sandbox.crm"]\n' \
    'timeout = "20s"\n[permissions]\ndiagnostics = ["channel"]\n'


@pytest.fixture
def diag_bot(make_bot, warehouse, workspace):
    return make_bot(DIAG_CONFIG, BIGQUERY_API_URL=warehouse.api_endpoint, GOOGLE_CLOUD_PROJECT="dre-sandbox")


@pytest.fixture
def sender(diag_bot, workspace):
    return SlackSender(diag_bot.url, workspace)


def _open(bot, slack, table, kind="custom", title=None):
    title = title or f"{kind} problem on {table}"
    assert bot.post("generic", {"title": title, "dedup_key": title, "kind": kind,
                                "labels": {"table": table}}).status_code == 202
    settle(bot)
    return next(m for m in parents(slack) if title in m["text"])


def _results(bot, slack, card, count=1, timeout=30):
    def found():
        settle(bot)
        got = [r["text"] for r in replies(slack, card["ts"]) if r["text"].startswith((":mag:", ":warning: Diagnostic"))]
        return got if len(got) >= count else None
    return wait_for(found, timeout, f"{count} diagnostic result(s) in the thread")


def _diag(sender, slack, text):
    _, token = sender.command(text)
    return wait_for(lambda: slack.responses(token), 10, "the answer")[-1]["body"]["text"]


def test_freshness_runs_automatically_when_the_incident_opens(diag_bot, workspace):
    card = _open(diag_bot, workspace, "dre-sandbox.analytics.orders", kind="freshness")
    thread = [r["text"] for r in replies(workspace, card["ts"])]
    results = _results(diag_bot, workspace, card, count=2)
    assert thread[0].startswith(":book: *Runbook: Table freshness breach*")
    first = next(r for r in results if "`freshness`" in r)
    minutes = re.search(r"\s(1[78]\d\d)\s", first)                   # about 30 hours since the last write
    assert minutes and 1790 <= int(minutes.group(1)) <= 1815 and "true" in first.lower(), first
    entries = diag_bot.query("SELECT text FROM timeline WHERE kind = 'diagnostic'")
    assert any(e["text"].startswith("Diagnostic freshness on dre-sandbox.analytics.orders: 1 rows") for e in entries)


@pytest.mark.parametrize("command,table,expect", [
    ("volume", "dre-sandbox.analytics.events", "-40"),
    ("schema", "dre-sandbox.analytics.customers", "loyalty_tier"),
    ("nulls", "dre-sandbox.analytics.customers", "loyalty_tier"),
    ("distribution {table} column=payment_method timestamp_column=paid_at", "dre-sandbox.analytics.payments",
     "credit_card"),
    ("partitions", "dre-sandbox.analytics.events", "60"),
])
def test_each_diagnostic_finds_the_seeded_problem(diag_bot, workspace, sender, command, table, expect):
    card = _open(diag_bot, workspace, table)
    text = command.format(table=table) if "{table}" in command else f"{command} {table}"
    name = command.split()[0]
    answer = _diag(sender, workspace, f"diag {text}")
    assert answer.startswith(f":hourglass_flowing_sand: Running `{name}`") and "INC-1's thread" in answer
    result = _results(diag_bot, workspace, card)[-1]
    assert f"`{name}`" in result and expect in result, result


def test_schema_shows_what_changed_since_the_bot_last_looked(diag_bot, workspace, sender):
    from bot import store
    from sandbox.warehouse_seed import PREVIOUS_SCHEMAS
    table = "dre-sandbox.analytics.customers"
    conn = store.connect(diag_bot.db_path)
    with store.transaction(conn):
        store.save_schema(conn, table, {r["column_name"]: r["data_type"] for r in PREVIOUS_SCHEMAS[table]})
    conn.close()
    card = _open(diag_bot, workspace, table)
    _diag(sender, workspace, f"diag schema {table}")
    result = _results(diag_bot, workspace, card)[-1]
    assert "*added* `loyalty_tier` STRING" in result and "removed" not in result
    _diag(sender, workspace, f"diag schema {table}")
    assert "No column changes since dre-bot last looked." in _results(diag_bot, workspace, card, count=2)[-1]


def test_pii_is_redacted_before_it_reaches_slack(diag_bot, workspace, sender):
    card = _open(diag_bot, workspace, "dre-sandbox.crm.users")
    _diag(sender, workspace, "diag distribution dre-sandbox.crm.users column=email")
    _diag(sender, workspace, "diag duplicates dre-sandbox.crm.users key=email show_keys=true")
    results = _results(diag_bot, workspace, card, count=2)
    everything = json.dumps([m for m in workspace.messages()]) + json.dumps(workspace.files(), default=str)
    assert "@" not in "".join(results).replace("<@", "")
    assert "example.com" not in everything and "[redacted]" in "".join(results)


def test_hostile_input_is_refused_or_bound_harmlessly(diag_bot, workspace, sender):
    _open(diag_bot, workspace, "dre-sandbox.analytics.payments")
    for table in ("dre-sandbox.analytics.payments`; DROP TABLE x; --", "dre-sandbox.analytics.pаyments",
                  "dre-sandbox.secret.keys"):
        answer = _diag(sender, workspace, f"diag schema {table}")
        assert "not a table name" in answer or "may not read" in answer or "not a BigQuery" in answer, answer
    answer = _diag(sender, workspace, "diag distribution dre-sandbox.analytics.payments "
                                      "column=\"payment_method') OR 1=1 --\" days=7")
    assert "must name a column" in answer                               # refused before anything runs
    answer = _diag(sender, workspace, "diag volume dre-sandbox.analytics.events days=7;DROP")
    assert "must be INT64" in answer


def test_the_button_runs_the_runbook_list_and_long_results_come_as_csv(diag_bot, workspace, sender):
    card = _open(diag_bot, workspace, "dre-sandbox.analytics.events", kind="volume")
    sender.button("incident_diagnostics", "1", channel=card["channel"], message_ts=card["ts"])
    wait_for(lambda: workspace.ephemerals(), what="where the results go")
    settle(diag_bot)
    results = _results(diag_bot, workspace, card, count=4, timeout=40)
    assert any("`partitions`" in r for r in results) and any("`volume`" in r for r in results)
    files = wait_for(lambda: workspace.files(), 20, "the CSV of a long result")
    assert any(f["filename"].endswith(".csv") for f in files)


def test_the_cost_cap_refuses_before_anything_runs():
    """Against a double of BigQuery's jobs API whose dry run estimates 5 TB: the real client, a refusal, no job."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from bot.diagnostics.catalog import load
    from bot.diagnostics.guard import TableRef
    from bot.diagnostics.runner import Caps, Refused, client_for, run
    from sandbox.threaded_server import ThreadedServer
    jobs = []

    async def insert(request):
        body = json.loads(await request.body())
        jobs.append(body)
        return JSONResponse({"kind": "bigquery#job", "jobReference": body.get("jobReference", {}),
                             "configuration": body["configuration"], "status": {"state": "DONE"},
                             "statistics": {"totalBytesProcessed": str(5 * 1000 ** 4),
                                            "query": {"totalBytesProcessed": str(5 * 1000 ** 4)}}})
    app = Starlette(routes=[Route("/bigquery/v2/projects/{project}/jobs", insert, methods=["POST"])])
    with ThreadedServer(app) as server:
        client = client_for("dre-sandbox", server.base_url)
        query = load("runbooks/queries")["freshness"]
        with pytest.raises(Refused, match="would scan 5.0 TB, over the cap of 1.0 GB"):
            run(client, query, TableRef("dre-sandbox", "analytics", "orders"), {}, Caps(max_bytes=1000 ** 3), {})
    assert len(jobs) == 1 and jobs[0]["configuration"]["dryRun"] is True
