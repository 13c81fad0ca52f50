"""Each sender's own payloads become the one Alert type (pure parsing, no I/O)."""
import json

import pytest

from bot.sources import alertmanager, gcp_monitoring, generic, montecarlo
from bot.sources.base import ShapeError
from tests.conftest import sample


def test_gcp_open_and_closed_schema_1_2():
    opened = gcp_monitoring.parse(json.loads(sample("gcp_monitoring_open_v1.2.json")))[0]
    assert (opened.source, opened.status, opened.fingerprint) == ("gcp-monitoring", "firing", "gcp:0.mtdi83m6w8ao")
    assert opened.title == "choonho-server-cpu-alert-policy-test: VM Instance - CPU utilization"
    assert opened.labels["project"] == "xxxxxxxxxxxxxxxxxxxxxxxx"
    assert opened.links[0].url.startswith("https://console.cloud.google.com/monitoring/alerting/incidents/")
    assert opened.started_at == "2023-02-02T05:29:47+00:00" and opened.ended_at is None
    closed = gcp_monitoring.parse(json.loads(sample("gcp_monitoring_closed_v1.2.json")))[0]
    assert closed.status == "resolved" and closed.ended_at == "2020-01-01T11:11:11+00:00"
    assert closed.labels["user-label-1"] == "important label"  # policy user labels are kept


def test_gcp_console_test_notification_has_upper_case_state_and_string_documentation():
    alert = gcp_monitoring.parse(json.loads(sample("gcp_monitoring_test.json")))[0]
    assert alert.status == "firing"
    assert "Test documentation" in alert.summary


def test_gcp_bigquery_labels_fill_table_dataset_project_pipeline():
    alert = gcp_monitoring.parse(json.loads(sample("gcp_monitoring_freshness.json")))[0]
    assert alert.labels["table"] == "dre-sandbox.analytics.orders"
    assert (alert.labels["dataset"], alert.labels["project"], alert.labels["pipeline"]) == \
        ("analytics", "dre-sandbox", "orders_daily")
    assert alert.kind == "freshness" and alert.severity == "sev2"


def test_alertmanager_v4_one_request_many_alerts_mixed_status():
    alerts = alertmanager.parse(json.loads(sample("alertmanager_volume.json")))
    assert [a.status for a in alerts] == ["firing", "resolved"]
    assert alerts[0].fingerprint == "am:8f1d2a3b4c5d6e7f"   # the sender's own fingerprint when it sends one
    assert alerts[0].labels["dataset"] == "analytics" and alerts[0].kind == "volume"
    assert alerts[0].severity == "sev3" and alerts[0].ended_at is None
    assert any(l.text == "Runbook" for l in alerts[0].links)


def test_alertmanager_old_sender_without_fingerprint_hashes_labels():
    fired = alertmanager.parse(json.loads(sample("alertmanager_webhook_firing.json")))[0]
    resolved = alertmanager.parse(json.loads(sample("alertmanager_webhook_resolved.json")))[0]
    assert fired.fingerprint == resolved.fingerprint and fired.severity == "sev1"
    assert (fired.status, resolved.status) == ("firing", "resolved")


def test_montecarlo_documented_rule_breach_with_null_table():
    alert = montecarlo.parse(json.loads(sample("montecarlo_custom_rule_incident.json")))[0]
    assert alert.fingerprint == "mc:f83867b6-8f25-428b-807c-08518f63384c"
    assert alert.kind == "custom" and "table" not in alert.labels
    assert "test rule" in alert.summary


def test_montecarlo_table_name_in_project_colon_form():
    alert = montecarlo.parse(json.loads(sample("montecarlo_freshness.json")))[0]
    assert alert.labels["table"] == "dre-sandbox.analytics.orders" and alert.kind == "freshness"


def test_montecarlo_unknown_type_still_becomes_an_alert():
    doc = json.loads(sample("montecarlo_custom_rule_incident.json"))
    doc["type"] = "open_brand_new_kind_of_incident"
    alert = montecarlo.parse(doc)[0]
    assert alert.status == "firing" and alert.kind == "custom"


def test_montecarlo_signature_matches_the_reference_verifier():
    body = sample("montecarlo_custom_rule_incident.json")
    import hashlib
    import hmac
    import urllib.parse
    expected = hmac.new(b"s3cret", urllib.parse.urlencode(json.loads(body)).encode("utf8"),
                        hashlib.sha512).hexdigest()
    assert montecarlo.signature("s3cret", body) == expected


@pytest.mark.parametrize("module,doc,field", [
    (gcp_monitoring, {"version": "1.2"}, "incident"),
    (alertmanager, {"version": "4", "alerts": {}}, "alerts"),
    (montecarlo, {"type": "x", "payload": {}}, "payload.incident_id"),
    (generic, {"status": "firing"}, "title"),
    (generic, {"title": "x", "links": "http://x"}, "links"),
])
def test_wrong_shape_names_the_field(module, doc, field):
    with pytest.raises(ShapeError) as err:
        module.check(doc)
    assert err.value.field == field
