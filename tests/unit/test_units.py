"""Small pure pieces: durations, backoff, pacing, config validation, incident transitions, grouping keys, cron shifts."""
from datetime import datetime, timezone

import pytest

from bot import config
from bot.alert import Alert, kind_from_text, severity_from, split_table
from bot.durations import format_duration, parse_duration
from bot.incident import can_move, group_key, parse_name, should_resolve
from bot.outbox import backoff
from bot.pacing import Pacer


def test_durations():
    assert parse_duration("90m") == 5400 and parse_duration("1h30m") == 5400 and parse_duration("1d") == 86400
    with pytest.raises(ValueError, match="like 90m"):
        parse_duration("soon")
    assert format_duration(7500) == "2h 5m" and format_duration(3) == "3s"


def test_backoff_grows_caps_and_jitters():
    assert backoff(1, 1.0, 300, rand=lambda: 1.0) == 1.0
    assert backoff(4, 1.0, 300, rand=lambda: 1.0) == 8.0
    assert backoff(20, 1.0, 300, rand=lambda: 1.0) == 300
    assert backoff(4, 1.0, 300, rand=lambda: 0.0) == 4.0


def test_pacer_allows_a_burst_then_one_per_second_and_pauses():
    p = Pacer(rate=1.0, burst=2)
    assert p.take("c", 100.0) == 0 and p.take("c", 100.0) == 0
    assert p.take("c", 100.0) == pytest.approx(1.0)
    assert p.take("c", 101.0) == 0
    assert p.take("other", 101.0) == 0
    p.pause("other", 105.0)
    assert p.take("other", 102.0) == pytest.approx(3.0)


def test_config_errors_name_the_setting(tmp_path):
    bad = tmp_path / "dre-bot.toml"
    bad.write_text('[incidents]\nreopen_window = "soon"\n')
    with pytest.raises(config.ConfigError, match="reopen_window"):
        config.load({"DRE_CONFIG": str(bad)})
    bad.write_text('[grouping]\nkeys = "table"\n')
    with pytest.raises(config.ConfigError, match="list of label names"):
        config.load({"DRE_CONFIG": str(bad)})
    bad.write_text('[colour]\nx = 1\n')
    with pytest.raises(config.ConfigError, match="unknown section"):
        config.load({"DRE_CONFIG": str(bad)})
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load({"DRE_CONFIG": str(tmp_path / "nope.toml")})


def test_sandbox_is_the_default_and_the_example_config_loads():
    assert config.load({}).sandbox
    settings = config.load({"DRE_CONFIG": "dre-bot.example.toml", "SLACK_BOT_TOKEN": "xoxb-1",
                            "SLACK_SIGNING_SECRET": "s"})
    assert not settings.sandbox and settings.routes[0].channel == "#finance-data-incidents"


def test_transitions():
    assert can_move("triggered", "acknowledged") and can_move("resolved", "reopened")
    assert not can_move("resolved", "acknowledged") and not can_move("triggered", "reopened")
    assert parse_name("INC-42") == 42 and parse_name("inc-7") == 7 and parse_name("x") is None
    assert should_resolve("all_alerts_resolved", ["resolved", "firing"], True) is False
    assert should_resolve("all_alerts_resolved", ["resolved", "resolved"], True) is True
    assert should_resolve("manual", ["resolved"], True) is False


def test_grouping_key_falls_back_to_source_and_policy():
    a = Alert(source="alertmanager", fingerprint="f", status="firing", title="T", labels={"policy": "P"})
    assert group_key(a, ["table"]) == "source=alertmanager;policy=P"
    b = Alert(source="alertmanager", fingerprint="f", status="firing", title="T", labels={"table": "d.t"})
    assert group_key(b, ["table"]) == "table=d.t"


def test_severity_kind_and_table_names():
    assert severity_from("CRITICAL") == "sev1" and severity_from("SEV-2") == "sev2"
    assert severity_from("No severity") == "sev3" and severity_from(None) == "sev3"
    assert kind_from_text("orders freshness SLA") == "freshness"
    assert kind_from_text("anything", explicit="schema") == "schema"
    assert split_table("proj:ds.tbl") == {"table": "proj.ds.tbl", "project": "proj", "dataset": "ds"}


def test_a_cron_hour_repeated_when_clocks_go_back_hands_over_once():
    from bot.handoff import shifts
    ny_fall_back = datetime(2025, 11, 2, tzinfo=timezone.utc).timestamp()
    changes = shifts.from_cron("30 1 * * *", "America/New_York", ny_fall_back, ny_fall_back + 86400)
    assert len(changes) == 1
    assert datetime.fromtimestamp(changes[0].at, tz=timezone.utc).strftime("%H:%M") == "05:30"   # 01:30 EDT


def test_config_rejects_unknown_actions(tmp_path):
    import pytest

    from bot import config
    f = tmp_path / "dre-bot.toml"
    f.write_text('[permissions]\nfly = ["anyone"]\n')
    with pytest.raises(config.ConfigError, match="unknown action 'fly'"):
        config.load({"DRE_CONFIG": str(f)})
