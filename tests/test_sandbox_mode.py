"""`make run`'s embedded defaults: the sandbox emulators stand in for Slack and PagerDuty, and `dre-bot transcript`
prints what a person would read."""
from tests.conftest import settle, wait_for


def test_send_example_then_transcript_shows_the_card_and_its_thread(make_bot):
    bot = make_bot(sandbox=True)
    out = bot.cli("send-example", "gcp_monitoring_freshness", "--url", bot.url)
    assert out.returncode == 0 and out.stdout.startswith("202"), out.stderr
    settle(bot)

    def transcript():
        text = bot.cli("transcript").stdout
        return text if "Runbook: Table freshness breach" in text and "PagerDuty incident" in text else None
    text = wait_for(transcript, 15, "the card, its runbook snippet and its PagerDuty link")
    assert "== INC-1 · analytics.orders freshness SLA: Staleness above 180 minutes ==" in text
    assert "[Acknowledge] [Resolve] [Run diagnostics] [Silence 1h]" in text
    assert "  ↳ :book: *Runbook: Table freshness breach*" in text


def test_transcript_without_a_sandbox_says_how_to_get_one(tmp_path):
    import os
    import subprocess
    import sys
    env = {**os.environ, "DRE_DB": str(tmp_path / "none.db")}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "transcript"], capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "send-example" in out.stderr
