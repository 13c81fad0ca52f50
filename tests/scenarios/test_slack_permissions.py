"""Permissions from dre-bot.toml, checked on every path; refusals say who may and how to get access."""

from tests.conftest import (
    ALICE,
    BOB,
    CAROL,
    PERMISSIONS,
    open_incident,
    parents,
    settle,
    wait_for,
)
from tests.slack_requests import SlackSender


def answer(slack, token):
    return wait_for(lambda: slack.responses(token), 10, "the answer")[-1]["body"]["text"]


def test_silence_is_for_the_oncall_group(make_bot, workspace):
    bot = make_bot(PERMISSIONS)
    sender = SlackSender(bot.url, workspace)
    _, token = sender.command("silence table=x 1h", user=BOB)
    text = answer(workspace, token)
    assert text.startswith(":no_entry: Only members of @dre-oncall may silence alerts.")
    assert "Ask to join @dre-oncall" in text and "[permissions] silence" in text
    _, token = sender.command("silence table=x 1h", user=ALICE)
    assert answer(workspace, token).startswith(":shushing_face:")
    # The audit row is written just after the answer (so nobody waits for the bookkeeping): wait for both.
    def both():
        rows = bot.query("SELECT user, allowed FROM audit ORDER BY id")
        return rows if len(rows) == 2 else None
    rows = wait_for(both, 10, "both audit rows")
    assert rows == [{"user": BOB, "allowed": 0}, {"user": ALICE, "allowed": 1}]


def test_channel_rule_allows_members_and_refuses_outsiders(make_bot, workspace):
    bot = make_bot(PERMISSIONS)
    sender = SlackSender(bot.url, workspace)
    open_incident(bot, workspace)
    _, token = sender.command("ack INC-1", user=CAROL, channel="C0ELSEWHERE")
    assert "Only members of the incident's channel may acknowledge incidents" in answer(workspace, token)
    _, token = sender.command("ack INC-1", user=BOB, channel="C0ELSEWHERE")     # a member, typing elsewhere
    assert answer(workspace, token) == "INC-1 acknowledged."


def test_buttons_are_checked_too_not_only_the_ui(make_bot, workspace):
    bot = make_bot(PERMISSIONS.replace('silence = ["@dre-oncall"]', 'silence = ["@dre-oncall"]\nack = ["U0NOBODY1"]'))
    sender = SlackSender(bot.url, workspace)
    card = open_incident(bot, workspace)
    resp = sender.button("incident_ack", "1", user=ALICE, channel=card["channel"], message_ts=card["ts"])
    assert resp.status_code == 200
    ephemeral = wait_for(lambda: workspace.ephemerals(), what="the refusal")
    assert "may acknowledge incidents" in ephemeral[0]["text"] and ephemeral[0]["user"] == ALICE
    settle(bot)
    assert "triggered" in parents(workspace)[0]["text"]
    assert bot.query("SELECT action, allowed, via FROM audit") == [{"action": "ack", "allowed": 0, "via": "button"}]
