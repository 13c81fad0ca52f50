"""SLACK_APP_TOKEN: Socket Mode needs no signing secret (its requests are not signed; the app token authenticates)."""
import pytest

from bot import config


def test_socket_mode_starts_without_a_signing_secret_and_http_alone_does_not(tmp_path):
    path = tmp_path / "dre-bot.toml"
    path.write_text("")
    s = config.load({"SLACK_BOT_TOKEN": "xoxb-real", "SLACK_APP_TOKEN": "xapp-1-A1-1-x"}, path=path)
    assert s.slack_app_token == "xapp-1-A1-1-x" and s.slack_signing_secret is None and not s.sandbox
    with pytest.raises(config.ConfigError) as err:
        config.load({"SLACK_BOT_TOKEN": "xoxb-real"}, path=path)
    assert "SLACK_SIGNING_SECRET" in str(err.value) and "SLACK_APP_TOKEN" in str(err.value)


def test_a_bot_token_pasted_as_the_app_token_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "dre-bot.toml"
    path.write_text("")
    with pytest.raises(config.ConfigError) as err:
        config.load({"SLACK_BOT_TOKEN": "xoxb-real", "SLACK_APP_TOKEN": "xoxb-real"}, path=path)
    assert "xapp-" in str(err.value) and "App-Level Tokens" in str(err.value)
