"""What each source reads for triage: the vendor's finding, the table as project.dataset.table, the kind and the
links. Vendor fixtures as they are; where a case needs a field the fixtures lack, the fixture is changed in that one
field, named in the test (pure parsing, no I/O)."""
import copy
import json

import pytest

from bot.monitoring.payload import facts
from bot.sources import alertmanager, gcp_monitoring, montecarlo
from tests.conftest import sample


def _doc(name: str) -> dict:
    return json.loads(sample(name))


def test_montecarlo_v0_1_anomaly_carries_its_finding_table_and_link():
    alert = montecarlo.parse(_doc("montecarlo_anomaly_incident_v0.1.json"))[0]
    assert alert.finding == "Has 42 rows vs. 101 expected"
    assert alert.kind == "volume"                         # a bare anomaly takes the kind its finding names
    assert alert.labels["table"] == "zeus.ares.artemis"   # group_id `project:dataset` + the bare table_name
    assert alert.labels["mc_table_name"] == "artemis"
    assert [link.text for link in alert.links] == ["Monte Carlo incident"]


def test_montecarlo_custom_rule_finding_is_the_value_against_the_threshold():
    alert = montecarlo.parse(_doc("montecarlo_custom_rule_incident.json"))[0]
    assert alert.kind == "custom"
    assert alert.finding == "custom_metric_1234 = 50.0, breaching > 49.0 at Jan 15, 06:10PM"
    assert "table" not in alert.labels                    # the vendor names no table


@pytest.mark.parametrize("incident_type, kind", [
    ("open_freshness_anomaly_incident", "freshness"), ("open_size_diff_anomaly_incident", "volume"),
    ("open_volume_anomaly_incident", "volume"), ("open_schema_change_incident", "schema"),
    ("open_deleted_table_incident", "schema"), ("open_field_health_anomaly_incident", "distribution"),
    ("open_dimension_anomaly_incident", "distribution"), ("open_custom_rule_anomaly_incident", "custom"),
    ("open_dbt_run_failure_incident", "job_failure"), ("open_airflow_job_failure_incident", "job_failure"),
])
def test_montecarlo_incident_types_map_to_kinds(incident_type, kind):
    assert montecarlo.kind_of(incident_type) == kind


def test_montecarlo_full_table_id_becomes_project_dataset_table():
    doc = _doc("montecarlo_anomaly_incident_v0.1.json")
    doc["payload"]["event_list"][0]["table_name"] = "zeus-prod:ares.artemis"   # the full id form
    assert montecarlo.parse(doc)[0].labels["table"] == "zeus-prod.ares.artemis"


def _gcp(resource: dict, metric: dict, **incident) -> dict:
    doc = _doc("gcp_monitoring_open_v1.2.json")
    doc["incident"].update(resource=resource, metric=metric, **incident)
    return doc


def test_gcp_bigquery_table_from_resource_and_metric_labels():
    doc = _gcp({"type": "bigquery_dataset", "labels": {"project_id": "acme-dw", "dataset_id": "sales"}},
               {"type": "bigquery.googleapis.com/storage/uploaded_row_count", "labels": {"table": "orders"},
                "displayName": "Uploaded rows"})
    alert = gcp_monitoring.parse(doc)[0]
    assert (alert.labels["project"], alert.labels["dataset"]) == ("acme-dw", "sales")
    assert alert.labels["table"] == "acme-dw.sales.orders"
    assert alert.kind == "volume"


def test_gcp_table_id_joins_dataset_and_project():
    doc = _gcp({"type": "bigquery_dataset", "labels": {"project_id": "acme-dw", "dataset_id": "sales"}},
               {"type": "bigquery.googleapis.com/storage/stored_bytes", "labels": {"table_id": "orders"}})
    assert gcp_monitoring.parse(doc)[0].labels["table"] == "acme-dw.sales.orders"


def test_gcp_log_based_metric_is_judged_by_its_name():
    doc = _gcp({"type": "bigquery_project", "labels": {"project_id": "acme-dw"}},
               {"type": "logging.googleapis.com/user/dataflow_job_failed", "labels": {}})
    alert = gcp_monitoring.parse(doc)[0]
    assert alert.labels["log_metric"] == "dataflow_job_failed"
    assert alert.kind == "job_failure"


@pytest.mark.parametrize("metric_type, kind", [
    ("bigquery.googleapis.com/slots/allocated", "quota"), ("bigquery.googleapis.com/query/count", "quota"),
    ("dataflow.googleapis.com/job/is_failed", "job_failure"),
    ("dataflow.googleapis.com/job/data_watermark_age", "freshness"),
    ("monitoring.googleapis.com/uptime_check/check_passed", "infrastructure"),
])
def test_gcp_kind_from_the_metric_type(metric_type, kind):
    assert gcp_monitoring.kind_of(metric_type, "", "policy") == kind


def test_gcp_finding_is_the_vendor_summary_and_documentation_is_the_summary_and_subject_the_title():
    doc = _doc("gcp_monitoring_open_v1.2.json")
    doc["incident"]["documentation"]["subject"] = "orders load is slow"        # schema 1.2's optional subject
    alert = gcp_monitoring.parse(doc)[0]
    assert alert.finding.endswith("is above the threshold of 0.500 with a value of 0.790.")
    assert alert.summary == "Server High CPU Usage"
    assert alert.title == "orders load is slow"


def test_gcp_uptime_check_and_test_notification_say_why_there_is_no_chart():
    assert "uptime check" in facts(_doc("gcp_monitoring_uptime_check_open_v1.2.json")).why_no_chart
    assert "test notification" in facts(_doc("gcp_monitoring_test.json")).why_no_chart


def test_grafana_links_and_finding_from_values():
    alert = alertmanager.parse(_doc("grafana_webhook_firing.json"))[0]
    assert alert.finding == "The system has high memory usage (B=44.24, C=1)"
    assert {link.text: link.url for link in alert.links} == {
        "Runbook": "https://myrunbook.com/runbook/1234",
        "Alert rule": "https://play.grafana.org/alerting/1afz29v7z/edit",
        "Silence": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam"
                   "%3Dblue%2Czone%3Dus-1",
        "Grafana": "https://play.grafana.org/"}


def test_grafana_older_value_string_and_a_runbook_that_is_not_a_web_link():
    doc = _doc("grafana_webhook_firing.json")
    item = doc["alerts"][0]
    del item["values"]
    item["valueString"] = "[ metric='' labels={} value=14151.331895396988 ]"   # Grafana 9's form
    item["annotations"]["runbook_url"] = "javascript:alert(1)"
    alert = alertmanager.parse(doc)[0]
    assert alert.finding.endswith("([ metric='' labels={} value=14151.331895396988 ])")
    assert "Runbook" not in [link.text for link in alert.links]


def test_alertmanager_description_is_the_finding():
    doc = copy.deepcopy(_doc("alertmanager_webhook_firing.json"))
    doc["alerts"][0]["annotations"]["description"] = "orders has 0 rows since 02:00"
    assert alertmanager.parse(doc)[0].finding == "orders has 0 rows since 02:00"
