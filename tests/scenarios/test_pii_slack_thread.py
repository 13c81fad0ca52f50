"""The reported bypass, end to end: `/dre diag` with a trailing space or a quoted key on crm.users, through Slack,
the outbox and the sandbox warehouse; no full name reaches the thread or the CSV upload."""
import json

import pytest

from tests.conftest import FAST_DELIVERY, parents, replies, settle, wait_for
from tests.slack_requests import SlackSender

CONFIG = FAST_DELIVERY + '\n[diagnostics]\nallowed = ["dre-sandbox.crm"]\ntimeout = "20s"\n' \
    '[permissions]\ndiagnostics = ["channel"]\n'


@pytest.fixture
def diag_bot(make_bot, warehouse, workspace):
    return make_bot(CONFIG, BIGQUERY_API_URL=warehouse.api_endpoint, GOOGLE_CLOUD_PROJECT="dre-sandbox")


def test_a_respelled_personal_column_is_withheld_in_the_thread_and_the_csv(diag_bot, workspace, warehouse):
    names = {r["full_name"] for r in warehouse.client().query(
        "SELECT DISTINCT full_name FROM `dre-sandbox.crm.users`").result()}
    assert len(names) > 20
    title = "users look odd"
    diag_bot.post("generic", {"title": title, "dedup_key": title, "labels": {"table": "dre-sandbox.crm.users"}})
    settle(diag_bot)
    card = next(m for m in parents(workspace) if title in m["text"])
    sender = SlackSender(diag_bot.url, workspace)
    for text in ('diag distribution dre-sandbox.crm.users column="full_name " top_n=50',
                 "diag distribution dre-sandbox.crm.users column='\"FULL_NAME\"' top_n=50",
                 "diag duplicates dre-sandbox.crm.users key='user_id, `full_name`' show_keys=true top_n=50",
                 "diag distribution dre-sandbox.crm.users column=country top_n=50"):
        _, token = sender.command(text)
        wait_for(lambda: workspace.responses(token), 10, "the answer")

    def results():
        settle(diag_bot)
        got = [r["text"] for r in replies(workspace, card["ts"]) if r["text"].startswith(":mag:")]
        return got if len(got) >= 4 else None
    texts = wait_for(results, 60, "four diagnostic results")
    # Fifty names per distribution: more than the thread shows, so each also comes as a CSV file.
    files = wait_for(lambda: workspace.files() if len(workspace.files()) >= 2 else None, 20, "the CSV uploads")
    everything = json.dumps(workspace.messages()) + json.dumps(files, default=str)
    assert not [n for n in names if n in everything]
    assert sum("PII withheld: value" in t for t in texts) == 2
    assert sum("PII withheld: key_fingerprint, key_value" in t for t in texts) == 1
    # The same path shows what is not personal data, so the checks above can fail.
    assert any("`distribution`" in t and "FR" in t and "withheld" not in t for t in texts)
