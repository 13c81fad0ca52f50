"""`make run`'s embedded defaults: the sandbox emulators stand in for Slack and PagerDuty, and `dre-bot transcript`
prints what a person would read."""
import httpx

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


def test_sandbox_accepts_loopback_without_a_token_and_says_so_first(make_bot):
    bot = make_bot(sandbox=True)
    first_line = bot.log().splitlines()[0]
    assert "SANDBOX MODE" in first_line
    assert bot.post("generic", {"title": "from loopback"}, auth=None).status_code == 202
    settle(bot)
    cards = httpx.get(f"{bot.url}/sandbox/slack/_sandbox/messages", timeout=5).json()
    assert len(cards) == 2 and "from loopback" in cards[0]["text"]   # the card and its snippet


def test_the_sandbox_charts_against_its_own_cloud_monitoring(make_bot):
    """`make run`: no Google project, so the bot starts the emulator itself and the example alert gets its chart."""
    import httpx
    bot = make_bot(sandbox=True)
    out = bot.cli("send-example", "gcp_monitoring_freshness", "--url", bot.url)
    assert out.returncode == 0 and out.stdout.startswith("202"), out.stderr

    def charted():
        text = bot.cli("transcript").stdout
        return text if "[file: INC-1-metric.png]" in text else None
    text = wait_for(charted, 60, "the chart in the sandbox's Slack")
    assert ":chart_with_upwards_trend: *Table staleness (minutes)*" in text and "threshold > 180" in text
    seen = httpx.get(f"{bot.url}/sandbox/monitoring/requests", timeout=5).json()["requests"]
    assert [r["request"]["name"] for r in seen] == ["projects/dre-sandbox"]
    assert "Sandbox Cloud Monitoring (gRPC) at http://127.0.0.1:" in bot.log()
