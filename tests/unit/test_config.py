"""dre-bot.toml and the environment, read by config.load: every wrong value is a ConfigError that names the key,
repeats the value and says what is allowed; nothing is silently ignored."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from bot import config
from tests.conftest import ROOT


def load_toml(tmp_path, text: str, **env: str) -> config.Settings:
    path = tmp_path / "dre-bot.toml"
    path.write_text(text)
    return config.load(env, path=path)


def refusal(tmp_path, text: str) -> str:
    with pytest.raises(config.ConfigError) as err:
        load_toml(tmp_path, text)
    message = str(err.value)
    # The sentence is ours, not a validation library's dump.
    assert "pydantic" not in message and "type=" not in message and "Input should" not in message
    return message


@pytest.mark.parametrize("text, says", [
    ('[pagerduty]\nrate = "fast"\n', ['[pagerduty] rate = "fast"', "positive number"]),
    ('[diagnostics]\nmax_rows = "many"\n', ['[diagnostics] max_rows = "many"', "whole number"]),
    ('[diagnostics]\nmax_bytes = "lots"\n', ['[diagnostics] max_bytes = "lots"', "10GB"]),
    ('[pagerduty]\nburst = 0\n', ["[pagerduty] burst = 0", "at least 1"]),
    ('[pagerduty]\npage_severities = ["sev9"]\n', ['page_severities[0] = "sev9"', "sev1, sev2, sev3, sev4"]),
    ('[delivery]\nbackoff_base = "soon"\n', ['[delivery] backoff_base = "soon"', "90m"]),
    ('[incidents]\nresolve_when = "never"\n', ['[incidents] resolve_when = "never"', "manual"]),
    ('[grouping]\nkeys = "table"\n', ['[grouping] keys = "table"', 'keys = ["table"]']),
    ('[handoff]\ntimezone = "Mars/Base"\n', ['[handoff] timezone = "Mars/Base"', "Europe/Paris"]),
    ('[handoff]\ncron = "every morning"\n', ['[handoff] cron = "every morning"', "0 9,21 * * *"]),
    ('[handoff]\nremind_after = "2h"\n', ["[handoff]", "escalate_after", "reminder comes first"]),
    ('[reports]\nweekly_day = "funday"\n', ['[reports] weekly_day = "funday"', "monday"]),
    ('[reports]\nweekly_time = "9am"\n', ['[reports] weekly_time = "9am"', "HH:MM"]),
    ('[[routes]]\nmatch = {table = "x"}\n', ["routes[0].channel is missing", "#data-incidents"]),
    ('[[pagerduty.routes]]\npage = "sometimes"\n', ['[pagerduty] routes[0].page = "sometimes"']),
    ('[permissions]\nfly = ["anyone"]\n', ["unknown action 'fly'", "ack, resolve"]),
    ('[permissions]\nack = [1]\n', ["[permissions] ack must be a list like"]),
])
def test_a_wrong_value_names_the_key_the_value_and_the_fix(tmp_path, text, says):
    message = refusal(tmp_path, text)
    for words in says:
        assert words in message


def test_unknown_keys_and_sections_are_refused_not_ignored(tmp_path):
    message = refusal(tmp_path, '[pagerduty]\nrate = 3\nratee = 2\n')
    assert "unknown key ratee in [pagerduty]" in message and "rate, reconcile_interval" in message
    assert "unknown key severity in [pagerduty] routes[0]" in refusal(
        tmp_path, '[[pagerduty.routes]]\nseverity = ["sev1"]\n')
    assert "unknown key chanel in routes[0]" in refusal(tmp_path, '[[routes]]\nchanel = "#x"\n')
    assert "unknown section [colour]" in refusal(tmp_path, "[colour]\nx = 1\n")


def test_every_problem_is_listed_at_once(tmp_path):
    message = refusal(tmp_path, '[pagerduty]\nrate = "fast"\n[diagnostics]\nmax_rows = "many"\n')
    assert "[pagerduty] rate" in message and "[diagnostics] max_rows" in message


def test_durations_and_sizes_keep_their_syntax(tmp_path):
    s = load_toml(tmp_path, '[incidents]\nreopen_window = "2h"\n[diagnostics]\nmax_bytes = "10GB"\ntimeout = "30s"\n'
                            '[pagerduty]\nreconcile_interval = "1h30m"\nrate = 0.5\n[delivery]\nbackoff_max = 60\n'
                            '[reports]\nweekly_day = "Monday"\n')
    assert s.reopen_window == 7200 and s.diagnostics.max_bytes == 10 * 1000 ** 3 and s.diagnostics.timeout == 30
    assert s.pagerduty.reconcile_interval == 5400 and s.pagerduty.rate == 0.5 and s.delivery.backoff_max == 60
    assert s.reports.weekly_day == "monday"


def test_unset_keys_take_their_declared_defaults(tmp_path):
    s = load_toml(tmp_path, "")
    assert s.pagerduty == config.PagerDutyConfig() and s.pagerduty.rate == 2.0 and s.diagnostics.max_rows == 500
    assert s.group_keys == ("table",) and s.resolve_when == "all_alerts_resolved" and s.routes == ()


def test_the_example_config_loads_and_settings_stay_frozen_dataclasses():
    s = config.load({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, path=ROOT / "dre-bot.example.toml")
    assert s.routes[0].channel == "#finance-data-incidents" and s.pagerduty.routes[0].routing_key_env
    assert s.permissions["diagnostics"] == ("@dre-oncall", "@data-platform")
    moved = dataclasses.replace(s, pagerduty=dataclasses.replace(s.pagerduty, rate=9.0))
    assert moved.pagerduty.rate == 9.0 and s.pagerduty.rate == 2.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.pagerduty.rate = 1.0


def test_load_takes_the_environment_and_path_it_is_given(tmp_path):
    (tmp_path / "other.toml").write_text('[pagerduty]\nrate = 7\n')
    s = config.load({"DRE_DB": str(tmp_path / "x.db"), "DRE_CONFIG": str(tmp_path / "missing.toml")},
                    path=tmp_path / "other.toml")
    assert s.pagerduty.rate == 7 and s.db_path == str(tmp_path / "x.db") and s.inbox_db_path.endswith("x.inbox.db")
    with pytest.raises(config.ConfigError, match="PORT must be a number"):
        config.load({"PORT": "http"}, path=tmp_path / "other.toml")


def test_a_real_slack_token_without_the_signing_secret_is_refused(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        load_toml(tmp_path, "", SLACK_BOT_TOKEN="xoxb-real")
    assert "SLACK_SIGNING_SECRET" in str(err.value) and "Basic Information" in str(err.value)
    assert load_toml(tmp_path, "").sandbox   # sandbox mode has its own


def test_the_config_does_not_import_slack():
    code = "import sys, bot.config; print([m for m in sys.modules if m.startswith(('slack', 'bot.slack'))])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_the_example_config_shows_every_key():
    example = (ROOT / "dre-bot.example.toml").read_text()
    missing = []
    for section, declared in config.TomlFile.model_fields.items():
        fields = config._fields(config._inner(declared.annotation))
        if f"[{section}]" not in example and f"[[{section}]]" not in example:
            missing.append(f"[{section}]")
        missing += [f"[{section}] {key}" for key in fields
                    if f"[[{section}.{key}]]" not in example
                    and not any(line.lstrip("# ").startswith(f"{key} =") for line in example.splitlines())]
    assert not missing, f"show these in dre-bot.example.toml, with their defaults: {missing}"
