"""Grouping by lineage: a storm over a small dbt project opens one thread per root cause, says by which path each
table joined, names the suspected root on the card, and `/dre split` undoes a wrong join."""
import json
from pathlib import Path

from tests.conftest import ALICE, FAST_DELIVERY, parents, replies, settle
from tests.scenarios.test_slack_commands import answer
from tests.slack_requests import SlackSender

MANIFEST = Path(__file__).parent.parent / "fixtures" / "dbt_manifest_v12.json"
LINEAGE = FAST_DELIVERY + f'\n[grouping]\nlineage = true\n\n[lineage]\ndbt_manifest = "{MANIFEST}"\n'


def _alert(table, name="RowCountDrop", fingerprint=None):
    """An Alertmanager webhook (v4) with one alert on `table`, and no pipeline label: real monitors have none."""
    item = {"status": "firing", "labels": {"alertname": name, "severity": "warning", "table": table},
            "annotations": {"summary": f"{name} on {table}"}, "startsAt": "2026-11-26T06:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": fingerprint or table}
    return {"version": "4", "status": "firing", "receiver": "dre-bot", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am:9093", "groupKey": "{}:{}", "alerts": [item]}


ORDERS = ["staging.stg_orders", "raw.orders_v2", "marts.fct_orders", "reports.rpt_revenue"]
EVENTS = ["staging.stg_events", "marts.fct_sessions", "reports.rpt_engagement"]


def _storm(bot, repeats=3):
    for _ in range(repeats):
        for table in ORDERS[:1] + EVENTS[:1]:
            assert bot.post("alertmanager", _alert(table)).status_code == 202
    settle(bot)   # the first two cards exist before the rest of the storm arrives
    for _ in range(repeats):
        for table in ORDERS[1:] + EVENTS[1:]:
            assert bot.post("alertmanager", _alert(table)).status_code == 202
    settle(bot)


def _card(slack, word):
    return next(c for c in parents(slack) if word in json.dumps(c["blocks"]))


def test_a_storm_opens_one_thread_per_root_cause(make_bot, slack):
    bot = make_bot(LINEAGE)
    _storm(bot)
    cards = parents(slack)
    # Both chains read the date dimension, which every model reads: that is no reason to merge them.
    assert len(cards) == 2
    orders = _card(slack, "stg_orders")
    text = json.dumps(orders["blocks"])
    assert "*Suspected root:* `acme-prod.raw.orders_v2`" in text
    assert "*Affected:* 3 tables: `acme-prod.staging.stg_orders`, `acme-prod.marts.fct_orders`, " \
           "`acme-prod.reports.rpt_revenue`" in text
    assert "*Alerts*\\n12" in text
    lines = [m["text"] for m in replies(slack, orders["ts"])]
    joined = [line for line in lines if "joined:" in line]
    assert len(joined) == 3                      # one line per table that joined, none per repeat
    assert ":link: joined: `acme-prod.staging.stg_orders` reads `acme-prod.raw.orders_v2`" in joined[0]
    assert ":link: joined: `acme-prod.marts.fct_orders` reads `acme-prod.raw.orders_v2` via " \
           "`acme-prod.staging.stg_orders`" in joined[1]
    events = _card(slack, "stg_events")
    assert "*Suspected root:* `acme-prod.staging.stg_events`" in json.dumps(events["blocks"])
    rows = bot.query("SELECT incident_id, count(*) AS n FROM incident_alerts GROUP BY incident_id "
                     "ORDER BY incident_id")
    assert [r["n"] for r in rows] == [4, 3]


def test_without_lineage_each_table_is_its_own_thread(make_bot, slack):
    bot = make_bot(FAST_DELIVERY)
    _storm(bot, repeats=1)
    assert len(parents(slack)) == 7


def test_split_moves_a_table_to_its_own_incident_on_both_timelines(make_bot, slack, workspace):
    bot = make_bot(LINEAGE)
    sender = SlackSender(bot.url, workspace)
    _storm(bot, repeats=1)
    _, token = sender.command("split INC-1 reports.rpt_revenue", user=ALICE)
    assert answer(slack, token) == "Moved 1 alert on `reports.rpt_revenue` from INC-1 to INC-3."
    settle(bot)
    assert len(parents(slack)) == 3
    assert bot.query("SELECT incident_id FROM incident_alerts WHERE fingerprint = 'am:reports.rpt_revenue'") == \
        [{"incident_id": 3}]
    card = _card(slack, "stg_orders")
    assert "rpt_revenue" not in json.dumps(card["blocks"])
    assert any("Split: 1 alert on `reports.rpt_revenue` moved to INC-3" in m["text"]
               for m in replies(slack, card["ts"]))
    timeline = bot.query("SELECT incident_id, text FROM timeline WHERE kind = 'split' ORDER BY incident_id")
    assert [t["incident_id"] for t in timeline] == [1, 3]
    assert "Split from INC-1" in timeline[1]["text"]


def test_split_of_a_table_the_incident_does_not_hold_says_which_it_holds(make_bot, slack, workspace):
    bot = make_bot(LINEAGE)
    sender = SlackSender(bot.url, workspace)
    _storm(bot, repeats=1)
    _, token = sender.command("split INC-1 marts.nope", user=ALICE)
    text = answer(slack, token)
    assert "INC-1 holds no alert on `marts.nope`" in text and "marts.fct_orders" in text


def test_the_lineage_command_prints_upstream_and_downstream(make_bot):
    bot = make_bot(LINEAGE)
    out = bot.cli("lineage", "marts.fct_orders")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "acme-prod.marts.fct_orders", "upstream (3):", "  acme-prod.marts.dim_date (reads directly)",
        "  acme-prod.raw.orders_v2", "  acme-prod.staging.stg_orders (reads directly)", "downstream (1):",
        "  acme-prod.reports.rpt_revenue"]
    out = bot.cli("lineage", "marts.nope")
    assert out.returncode != 0 and "is not in the lineage" in out.stderr
