"""On-call handoffs over a scripted shift: the bot runs with DRE_SCRIPTED_CLOCK=1 and the test moves its clock
through POST /sandbox/clock. Incidents open, are acknowledged, resolved and silenced at known times; the shift
change comes from a PagerDuty schedule in the emulator (or a cron expression); Slack is the emulator."""
import json
import time
from datetime import datetime, timezone

import httpx
import pytest

from tests.conftest import (
    ALICE,
    BOB,
    CAROL,
    FAST_DELIVERY,
    move_clock,
    settle,
    wait_for,
)
from tests.slack_requests import SlackSender

HOUR = 3600.0
SCHEDULE = "PHANDOF"


def alert(bot, title, table, status="firing", severity="sev3"):
    r = bot.post("generic", {"title": title, "dedup_key": f"{table}:{title}", "status": status,
                             "severity": severity, "labels": {"table": table}})
    assert r.status_code == 202, r.text


def answer(slack, token) -> str:
    return wait_for(lambda: slack.responses(token), 10, "the command's answer")[-1]["body"]["text"]


def posts_to(slack, channel: str) -> list[dict]:
    """chat.postMessage calls that reached `channel` (a user id for direct messages), in order."""
    return [c["params"] for c in slack.calls("chat.postMessage") if c["ok"] and c["params"].get("channel") == channel]


def handoff_messages(slack) -> list[dict]:
    return [m for m in slack.messages("#data-incidents") if "On-call handoff" in (m["text"] or "")]


def text_of(message: dict) -> str:
    return "\n".join(b["text"]["text"] for b in message["blocks"] or [] if b.get("type") == "section")


@pytest.fixture
def shift_change():
    """The next shift change: a whole hour, far enough ahead that the test's own steps all come before it."""
    return (int(time.time() // HOUR) + 6) * HOUR


@pytest.fixture
def handoff_bot(make_bot, workspace, pd, shift_change):
    at = lambda epoch: datetime.fromtimestamp(epoch, tz=timezone.utc)   # noqa: E731
    pd.add_schedule(SCHEDULE, "Data Platform handoffs", shifts=[
        ("PALICE1", at(shift_change - 12 * HOUR), at(shift_change)),
        ("PBOB001", at(shift_change), at(shift_change + 12 * HOUR)),
        ("PALICE1", at(shift_change + 12 * HOUR), at(shift_change + 24 * HOUR))])
    config = FAST_DELIVERY + f"""
[handoff]
schedule = "{SCHEDULE}"
tick = "0.2s"
note_prompt = "30m"
remind_after = "30m"
escalate_after = "1h"
"""
    return make_bot(config, DRE_SCRIPTED_CLOCK="1", PAGERDUTY_API_TOKEN="pd-token", PAGERDUTY_API_URL=pd.url)


def test_a_scripted_shift_is_handed_over_at_the_pagerduty_shift_change(handoff_bot, workspace, shift_change):
    bot, slack = handoff_bot, workspace
    sender = SlackSender(bot.url, slack)
    t0 = shift_change - 3 * HOUR
    move_clock(bot, t0)
    alert(bot, "orders is stale", "analytics.orders")                 # INC-1
    alert(bot, "users row count dropped", "analytics.users")          # INC-2
    settle(bot)
    move_clock(bot, t0 + 300)
    _, token = sender.command("ack INC-1", user=ALICE)
    assert "INC-1 acknowledged" in answer(slack, token)
    move_clock(bot, t0 + 600)
    _, token = sender.command("note INC-1 next: rerun the orders backfill once the upstream load lands", user=ALICE)
    assert "Noted" in answer(slack, token)
    move_clock(bot, t0 + 35 * 60)
    _, token = sender.command("resolve INC-2 cause=false_positive the load was late, not short", user=ALICE)
    assert "INC-2 resolved" in answer(slack, token)
    _, token = sender.command("silence table=analytics.events 6h events migration", user=ALICE)
    assert "Silence" in answer(slack, token)
    alert(bot, "events volume odd", "analytics.events")               # held by the silence, twice
    alert(bot, "events volume odd again", "analytics.events")
    move_clock(bot, t0 + HOUR)
    alert(bot, "payments late", "finance.payments")                    # INC-3: clears on its own
    move_clock(bot, t0 + HOUR + 600)
    alert(bot, "payments late", "finance.payments", status="resolved")
    settle(bot)
    assert not handoff_messages(slack)

    # Twenty minutes before the change, the outgoing on-call (Alice, by her PagerDuty email) is asked for a note.
    move_clock(bot, shift_change - 20 * 60)
    prompt = wait_for(lambda: posts_to(slack, ALICE), 10, "the note prompt to Alice")
    assert len(prompt) == 1 and "Write handoff note" in json.dumps(prompt[0]["blocks"])
    dm = next(m for m in slack.messages() if m["channel"].startswith("D") and "handoff note" in m["text"])
    assert sender.button("handoff_note", str(int(shift_change)), user=ALICE, channel=dm["channel"],
                         message_ts=dm["ts"]).status_code == 200
    view = wait_for(lambda: slack.views(), 10, "the note modal")[-1]["view"]
    assert view["callback_id"] == "handoff_note_modal"
    assert sender.submit_view(view, {"note": "Watch the events migration; <!channel> ping no one"},
                              user=ALICE).status_code == 200
    wait_for(lambda: bot.query("SELECT * FROM handoff_notes"), 10, "the note to be saved")

    # The shift changes: one handoff in the channel and one direct message to Bob, the same content.
    move_clock(bot, shift_change + 1)
    posted = wait_for(lambda: handoff_messages(slack), 10, "the handoff in the channel")
    settle(bot)
    assert len(handoff_messages(slack)) == 1 and len(posts_to(slack, BOB)) == 1
    text = text_of(posted[0])
    assert f"<@{ALICE}> → <@{BOB}>" in text
    still_open = text.split("*Still open (1)*")[1].split("*This shift*")[0]
    assert "INC-1" in still_open and "acknowledged" in still_open and f"owner <@{ALICE}>" in still_open
    assert "next step: rerun the orders backfill once the upstream load lands" in still_open
    assert "INC-2" not in still_open and "INC-3" not in still_open
    # Three opened; INC-2 resolved by a person after 35m (its first response), INC-3 cleared on its own after 10m.
    assert "*This shift*: 3 opened, 2 resolved · MTTA 20m · MTTR 22m 30s" in text
    assert "INC-2" in text and "resolved after 35m" in text and "cleared on its own" in text
    assert "table=analytics.events" in text and "2 alerts held" in text and "events migration" in text
    assert "Watch the events migration; &lt;!channel&gt; ping no one" in text and "<!channel>" not in text
    assert "table `analytics.events`: 2 alerts" in text
    assert json.dumps(posts_to(slack, BOB)[0]["blocks"]) == json.dumps(posted[0]["blocks"])

    # Unacknowledged: reminded once after 30 minutes, then escalated to the channel after an hour.
    move_clock(bot, shift_change + 31 * 60)
    wait_for(lambda: len(posts_to(slack, BOB)) == 2, 10, "the reminder to Bob")
    assert "waiting for you to acknowledge" in posts_to(slack, BOB)[1]["text"]
    move_clock(bot, shift_change + 45 * 60)
    assert len(posts_to(slack, BOB)) == 2
    move_clock(bot, shift_change + 61 * 60)
    escalation = wait_for(lambda: [p for p in posts_to(slack, posted[0]["channel"]) if "has not acknowledged"
                                   in (p.get("text") or "")], 10, "the escalation")
    assert len(escalation) == 1 and escalation[0]["reply_broadcast"] in (True, "true", "1")
    assert escalation[0]["thread_ts"] == posted[0]["ts"]

    # Carol cannot take Bob's handoff; Bob can, and both copies show it.
    handoff_id = bot.query("SELECT id FROM handoffs")[0]["id"]
    sender.button("handoff_ack", str(handoff_id), user=CAROL, channel=posted[0]["channel"], message_ts=posted[0]["ts"])
    wait_for(lambda: any("only they can acknowledge" in e["text"] for e in slack.ephemerals()), 10, "the refusal")
    sender.button("handoff_ack", str(handoff_id), user=BOB, channel=posted[0]["channel"], message_ts=posted[0]["ts"])
    wait_for(lambda: "Acknowledged by" in json.dumps(handoff_messages(slack)[0]["blocks"]), 10, "the edit")
    settle(bot)
    edited = [c["params"] for c in slack.calls("chat.update") if c["ok"] and "On-call handoff" in c["params"]["text"]]
    assert len(edited) == 2 and all(f"Acknowledged by <@{BOB}>" in json.dumps(e["blocks"]) for e in edited)
    move_clock(bot, shift_change + 3 * HOUR)
    assert len(posts_to(slack, BOB)) == 2 and len(handoff_messages(slack)) == 1
    assert bot.query("SELECT acked_by FROM handoffs")[0]["acked_by"] == BOB
    listed = bot.cli("handoffs")
    assert listed.returncode == 0 and f"{ALICE} -> {BOB}" in listed.stdout and f"acknowledged by {BOB}" in listed.stdout
    assert "*Still open (1)*" in bot.cli("handoffs", "--show", str(handoff_id)).stdout


def test_an_acknowledged_handoff_is_neither_reminded_nor_escalated(handoff_bot, workspace, shift_change):
    bot, slack = handoff_bot, workspace
    sender = SlackSender(bot.url, slack)
    move_clock(bot, shift_change + 5)
    posted = wait_for(lambda: handoff_messages(slack), 10, "the handoff")[0]
    assert "Nothing open" in text_of(posted)
    handoff_id = bot.query("SELECT id FROM handoffs")[0]["id"]
    sender.button("handoff_ack", str(handoff_id), user=BOB, channel=posted["channel"], message_ts=posted["ts"])
    wait_for(lambda: bot.query("SELECT acked_at FROM handoffs")[0]["acked_at"], 10, "the acknowledgement")
    move_clock(bot, shift_change + 2 * HOUR)
    assert len(posts_to(slack, BOB)) == 1
    assert not [m for m in slack.messages() if "has not acknowledged" in m["text"]]
    # A restart does not post the same shift change again.
    bot.stop()
    bot.start()
    move_clock(bot, shift_change + 2 * HOUR + 60)
    assert len(handoff_messages(slack)) == 1 and len(posts_to(slack, BOB)) == 1


def test_dre_handoff_posts_now_with_the_note_to_the_next_on_call(handoff_bot, workspace, shift_change):
    bot, slack = handoff_bot, workspace
    sender = SlackSender(bot.url, slack)
    move_clock(bot, shift_change - 2 * HOUR)
    alert(bot, "orders is stale", "analytics.orders")
    settle(bot)
    _, token = sender.command("handoff Orders backfill is running; check it at 18:00", user=ALICE,
                              channel="C0DATAINC1")
    assert f"posted in #data-incidents and sent to <@{BOB}>" in answer(slack, token)
    posted = wait_for(lambda: handoff_messages(slack), 10, "the handoff")[0]
    text = text_of(posted)
    assert f"<@{ALICE}> → <@{BOB}>" in text and "Orders backfill is running; check it at 18:00" in text
    assert "*Still open (1)*" in text and "next step: none written; nobody owns it" in text
    settle(bot)
    assert len(posts_to(slack, BOB)) == 1


def test_a_cron_handoff_fires_at_its_time_and_names_the_last_taker(make_bot, workspace):
    slack = workspace
    first = (int(time.time() // 86400) + 2) * 86400 + 9 * HOUR           # 09:00 UTC the day after tomorrow
    bot = make_bot(FAST_DELIVERY + '\n[handoff]\ncron = "0 9,21 * * *"\ntick = "0.2s"\n', DRE_SCRIPTED_CLOCK="1")
    sender = SlackSender(bot.url, slack)
    move_clock(bot, first - 60)
    assert not handoff_messages(slack)
    move_clock(bot, first + 1)
    posted = wait_for(lambda: handoff_messages(slack), 10, "the 09:00 handoff")[0]
    handoff_id = bot.query("SELECT id FROM handoffs")[0]["id"]
    sender.button("handoff_ack", str(handoff_id), user=BOB, channel=posted["channel"], message_ts=posted["ts"])
    wait_for(lambda: bot.query("SELECT acked_by FROM handoffs")[0]["acked_by"] == BOB, 10, "Bob's ack")
    move_clock(bot, first + 12 * HOUR + 1)
    wait_for(lambda: len(handoff_messages(slack)) == 2, 10, "the 21:00 handoff")
    second = bot.query("SELECT * FROM handoffs ORDER BY id")[1]
    assert second["outgoing"] == BOB and second["shift_start"] == first and second["shift_end"] == first + 12 * HOUR


def test_the_scripted_clock_only_moves_forward_and_only_when_enabled(make_bot, bot):
    r = httpx.post(f"{bot.url}/sandbox/clock", json={"advance": "1h"}, timeout=5)
    assert r.status_code == 404                                          # off unless DRE_SCRIPTED_CLOCK=1
    scripted = make_bot(DRE_SCRIPTED_CLOCK="1", DRE_DB=str(bot.workdir / "scripted.db"))
    before = httpx.get(f"{scripted.url}/sandbox/clock", timeout=5).json()["now"]
    r = httpx.post(f"{scripted.url}/sandbox/clock", json={"advance": "2h"}, timeout=5)
    assert r.status_code == 200 and r.json()["now"] >= before + 7200
    r = httpx.post(f"{scripted.url}/sandbox/clock", json={"to": before}, timeout=5)
    assert r.status_code == 400 and "only moves forward" in r.json()["message"]


def test_a_team_template_replaces_the_built_in_one_and_a_broken_one_stops_the_start(make_bot, workspace, tmp_path):
    from bot import config
    templates = tmp_path / "team-templates"
    templates.mkdir()
    (templates / "handoff.md.j2").write_text("Our handoff: {{ outgoing }} to {{ incoming }}; "
                                             "{{ open | length }} open. {{ note }}\n")
    bot = make_bot(FAST_DELIVERY + f'\n[templates]\ndir = "{templates}"\n', DRE_SCRIPTED_CLOCK="1")
    sender = SlackSender(bot.url, workspace)
    _, token = sender.command("handoff mind the backfill", user=ALICE, channel="C0DATAINC1")
    assert "posted in #data-incidents" in answer(workspace, token)
    posted = wait_for(lambda: [m for m in workspace.messages("#data-incidents") if "Our handoff" in
                               json.dumps(m["blocks"])], 10, "the team's handoff")
    assert f"Our handoff: <@{ALICE}> to the next on-call; 0 open. mind the backfill" in text_of(posted[0])
    # A template that compiles but fails when rendered: the built-in one is used, headed by what failed.
    (templates / "handoff.md.j2").write_text("Ours: {{ nobody_knows.this }}\n")
    _, token = sender.command("handoff second", user=ALICE, channel="C0DATAINC1")
    assert "posted in #data-incidents" in answer(workspace, token)
    second = wait_for(lambda: [m for m in workspace.messages("#data-incidents") if "second" in json.dumps(m["blocks"])],
                      10, "the handoff from the built-in template")
    assert "handoff.md.j2 failed" in text_of(second[0]) and "*Still open (0)*" in text_of(second[0])
    (templates / "handoff.md.j2").write_text("{% for x in open %}unclosed\n")
    (templates / "handof.md.j2").write_text("typo in the name\n")
    (tmp_path / "broken.toml").write_text(f'[templates]\ndir = "{templates}"\n')
    with pytest.raises(config.ConfigError) as err:
        config.load({"DRE_CONFIG": str(tmp_path / "broken.toml")})
    assert "handoff.md.j2: TemplateSyntaxError" in str(err.value) and "handof.md.j2: no built-in" in str(err.value)


@pytest.fixture
def pd_rest(pd):
    from bot.config import Settings
    from bot.pagerduty import client
    rest = client.rest(Settings(pagerduty_api_token="pd-token", pagerduty_api_url=pd.url))
    yield rest
    rest.close()


def test_shift_changes_from_pagerduty_weekly_rotation_gaps_and_split_entries(pd, pd_rest):
    """bot.handoff.shifts with the real pagerduty client against the emulator's rendered final schedule."""
    from bot.handoff import shifts
    _rest = lambda _pd: pd_rest   # noqa: E731
    at = lambda epoch: datetime.fromtimestamp(epoch, tz=timezone.utc)   # noqa: E731
    week, now = 7 * 86400, (int(time.time() // HOUR)) * HOUR
    # A weekly rotation: the handoff's shift starts a week before the change, not where the range was cut.
    pd.add_schedule("PWEEKLY", "weekly", shifts=[("PALICE1", at(now - week + HOUR), at(now + HOUR)),
                                                  ("PBOB001", at(now + HOUR), at(now + week + HOUR))])
    changes = shifts.from_schedule(_rest(pd), "PWEEKLY", now - 15 * 86400, now + 86400, {})
    assert [(c.at, c.shift_start, c.outgoing.pd_id, c.incoming.pd_id) for c in changes] == \
        [(now + HOUR, now - week + HOUR, "PALICE1", "PBOB001")]
    assert changes[0].incoming.email == "bob@acme.example"
    # Nobody on call between two shifts: the change is when the next person starts, covering the gap.
    pd.add_schedule("PGAP", "gap", shifts=[("PALICE1", at(now - 8 * HOUR), at(now - 2 * HOUR)),
                                           ("PBOB001", at(now + HOUR), at(now + 9 * HOUR))])
    changes = shifts.from_schedule(_rest(pd), "PGAP", now - 86400, now + 86400, {})
    assert [(c.at, c.shift_start, c.outgoing.pd_id, c.incoming.pd_id) for c in changes] == \
        [(now + HOUR, now - 8 * HOUR, "PALICE1", "PBOB001")]
    # One person's shift in two entries back to back (an override of themselves) is no change.
    pd.add_schedule("PSPLIT", "split", shifts=[("PALICE1", at(now - 4 * HOUR), at(now)),
                                               ("PALICE1", at(now), at(now + 4 * HOUR)),
                                               ("PBOB001", at(now + 4 * HOUR), at(now + 8 * HOUR))])
    changes = shifts.from_schedule(_rest(pd), "PSPLIT", now - 86400, now + 86400, {})
    assert [(c.at, c.shift_start) for c in changes] == [(now + 4 * HOUR, now - 4 * HOUR)]


def test_dre_handoff_after_the_change_goes_to_whoever_is_on_call_now(handoff_bot, workspace, shift_change):
    """Alice hands over late, ten minutes after Bob's shift began: Bob takes it, not the person after him."""
    bot, slack = handoff_bot, workspace
    move_clock(bot, shift_change + 600)
    _, token = SlackSender(bot.url, slack).command("handoff sorry, late", user=ALICE, channel="C0DATAINC1")
    assert f"sent to <@{BOB}>" in answer(slack, token)
