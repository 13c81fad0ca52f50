"""What the sandbox starts with: a small data team in PagerDuty and Slack, so `make run` shows every capability."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

PD_TOKEN = "sandbox-pagerduty-token"
PD_ROUTING_KEY = "SANDBOXR0UT1NGKEY0DATAPLATFORM01"
PD_WEBHOOK_SECRET = "sandbox-pagerduty-webhook-secret"
PD_FROM_EMAIL = "dre-bot@sandbox.example"
PD_SCHEDULE, PD_SERVICE = "PSBXSCHD", "PSBXSVC1"


def seed_pagerduty(pd) -> None:
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    pd.add_user("PSBXALCE", "Alice (sandbox)", "alice@sandbox.example", "Europe/Paris")
    pd.add_user("PSBXBOB1", "Bob (sandbox)", "bob@sandbox.example", "America/New_York")
    pd.add_user("PSBXBOT1", "dre-bot", PD_FROM_EMAIL)
    pd.add_escalation_policy("PSBXEPOL", "Data Platform", levels=[["PSBXALCE"], ["PSBXBOB1"]])
    pd.add_service(PD_SERVICE, "Data Platform", "PSBXEPOL", PD_ROUTING_KEY)
    # Alternating 12-hour shifts, so "now" and "next" are both someone.
    start = now - timedelta(hours=now.hour % 12)
    shifts = [("PSBXALCE" if i % 2 == 0 else "PSBXBOB1", (start + timedelta(hours=12 * i)).isoformat(),
               (start + timedelta(hours=12 * (i + 1))).isoformat()) for i in range(-2, 60)]
    pd.add_schedule(PD_SCHEDULE, "Data Platform primary", shifts=shifts, escalation_policy_id="PSBXEPOL")


def seed_slack(slack) -> None:
    slack.add_user("U0SBXALCE", "alice", "alice@sandbox.example", "Europe/Paris")
    slack.add_user("U0SBXBOB1", "bob", "bob@sandbox.example", "America/New_York")
    slack.add_user("U0SBXEVE1", "eve", "eve@sandbox.example", "Asia/Tokyo")   # in no group: the console's outsider
    slack.add_usergroup("@dre-oncall", ["U0SBXALCE", "U0SBXBOB1"])
    # The bundled runbooks page @data-platform-oncall: the thread mentions it as a real group.
    slack.add_usergroup("@data-platform-oncall", ["U0SBXALCE"])
