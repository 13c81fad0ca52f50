"""`make run` twice: the sandbox's PagerDuty keeps its incidents in the sandbox database, so a card's PagerDuty
link still points at something after a restart."""
import re

from sandbox.pagerduty import rest_client
from sandbox.seed import PD_FROM_EMAIL, PD_TOKEN
from tests.conftest import settle, wait_for


def test_the_pagerduty_incident_behind_a_card_survives_a_restart(make_bot):
    bot = make_bot(sandbox=True, DRE_SANDBOX_WAREHOUSE="off")   # PagerDuty's state is what is tested
    out = bot.cli("send-example", "gcp_monitoring_freshness", "--url", bot.url)
    assert out.returncode == 0 and out.stdout.startswith("202"), out.stderr
    settle(bot)

    def linked():
        found = re.search(r"pagerduty\.com/incidents/(\w+)", bot.cli("transcript").stdout)
        return found.group(1) if found else None
    incident_id = wait_for(linked, 20, "the card's PagerDuty link")

    bot.stop()
    bot.start()   # the same DRE_DB, so the same sandbox database

    with rest_client(f"{bot.url}/sandbox/pagerduty", PD_TOKEN, default_from=PD_FROM_EMAIL) as pd:
        _still_there(pd, incident_id)


def _still_there(pd, incident_id: str) -> None:
    incident = pd.rget(f"/incidents/{incident_id}")
    assert incident["id"] == incident_id and incident["status"] == "triggered"
    assert "freshness" in incident["title"]
    log_entries = pd.rget(f"/incidents/{incident_id}/log_entries")
    assert log_entries and log_entries[0]["type"] == "trigger_log_entry"
    # The emulator still answers for it: a note on the remembered incident is taken, and a second start reused
    # the bot's webhook subscription instead of adding another.
    pd.rpost(f"/incidents/{incident_id}/notes", json={"note": {"content": "after the restart"}})
    assert [n["content"] for n in pd.rget(f"/incidents/{incident_id}/notes")] == ["after the restart"]
