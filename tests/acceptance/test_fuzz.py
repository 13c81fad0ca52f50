"""A short run of bench/fuzz.py against a real bot: mutated vendor payloads to every webhook and signed random
bodies to /slack/events get no 5xx, and the bot's log gains no traceback."""
import json
import subprocess
import sys

from tests.conftest import MC_SECRET, PD_SECRET, ROOT, TOKEN


def test_a_short_fuzz_run_gets_no_5xx_and_no_traceback(make_bot):
    bot = make_bot(PAGERDUTY_WEBHOOK_SECRET=PD_SECRET)
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fuzz.py"), "--url", bot.url, "--count", "300", "--seconds", "20",
         "--seed", "11", "--log", str(bot.log_path), "--token", TOKEN, "--mc-secret", MC_SECRET,
         "--pd-secret", PD_SECRET, "--slack-secret", "test-signing-secret", "--json"],
        capture_output=True, text=True, timeout=90)
    assert run.stdout.startswith("{"), run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["sent"] >= 100, result
    assert result["five_xx"] == 0, result["five_xx_samples"]
    assert result["transport_errors"] == 0, result["statuses"]
    assert result["tracebacks"] == 0, bot.log()[-5000:]
    accepted = sum(counts.get("202", 0) for counts in result["by_target"].values())
    assert accepted > 0, result      # the fuzz reached the parsers behind authentication, not only the door
    assert run.returncode == 0
