"""Secrets fail closed: a real Slack token without its signing secret stops `dre-bot serve` at start, and a
secret the user set is the one the bot checks, in sandbox mode too."""
from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.conftest import FIXTURES, free_port

# PagerDuty's published v3 signature test vector (tests/fixtures/pagerduty_v3_signature_test_vector.md).
PD_SECRET = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
PD_VALID = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"
PD_MISMATCH = "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5"


def test_a_slack_token_without_the_signing_secret_stops_serve(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DRE_", "PAGERDUTY_", "MONTECARLO_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-real-looking", DRE_DB=str(tmp_path / "dre-bot.db"))
    done = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", str(free_port())], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "SLACK_SIGNING_SECRET" in done.stderr and "Basic Information" in done.stderr
    assert "Traceback" not in done.stderr   # a sentence, not a crash
    assert not (tmp_path / "dre-bot.db").exists()   # refused before it touched anything


def test_the_sandbox_keeps_the_users_pagerduty_webhook_secret(make_bot):
    bot = make_bot(sandbox=True, PAGERDUTY_WEBHOOK_SECRET=PD_SECRET, DRE_SANDBOX_WAREHOUSE="off")
    body = (FIXTURES / "pagerduty_v3_signature_test_vector_body.json").read_bytes()

    def post(signature: str) -> httpx.Response:
        return httpx.post(f"{bot.url}/webhooks/pagerduty", content=body, timeout=10, headers={
            "Content-Type": "application/json", "X-PagerDuty-Signature": signature})

    assert post(PD_VALID).status_code == 202
    assert post(PD_MISMATCH).status_code == 401
    from sandbox.seed import PD_WEBHOOK_SECRET
    from bot.sources.pagerduty import signature
    assert post(signature(PD_WEBHOOK_SECRET, body)).status_code == 401   # the built-in one no longer opens it
