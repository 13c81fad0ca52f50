"""`/dre` verbs, as Slack sends them (form-encoded, signed), verified by Bolt, answered via response_url."""
import json

from tests.conftest import (
    ALICE,
    BOB,
    CAROL,
    open_incident,
    parents,
    replies,
    settle,
    wait_for,
)


def answer(slack, token, timeout=10.0) -> str:
    """The text the bot posted back to the command's response_url."""
    return wait_for(lambda: slack.responses(token), timeout, "the command's answer")[-1]["body"]["text"]


def test_help_lists_every_verb_from_the_docstrings(bot, sender, slack):
    from bot import config
    from bot.features import build
    verbs = build(config.load(), []).verbs
    assert {"ack", "silence", "diag", "page", "oncall", "handoff", "stats", "postmortem"} <= set(verbs)   # every feature's
    resp, token = sender.command("help")
    assert resp.status_code == 200
    text = answer(slack, token)
    for name, v in verbs.items():
        assert f"`{v.usage}`" in text and v.summary in text, name
    _, token = sender.command("help silence")
    assert "label=glob" in answer(slack, token)


def test_unknown_verb_gets_the_help(bot, sender, slack):
    _, token = sender.command("frobnicate INC-1")
    text = answer(slack, token)
    assert text.startswith("I don't know `frobnicate`") and "/dre status" in text


def test_status_lists_open_incidents_newest_first_with_links(bot, sender, slack):
    open_incident(bot, slack, "analytics.orders", "orders is stale")
    open_incident(bot, slack, "analytics.users", "users lost rows")
    _, token = sender.command("status")
    text = answer(slack, token)
    assert text.startswith("*2 open incidents*")
    assert text.index("INC-2") < text.index("INC-1") and "/archives/" in text and "sev3" in text
    _, token = sender.command("status INC-1")
    assert "Opened by generic alert" in answer(slack, token)
    _, token = sender.command("status mine")
    assert answer(slack, token) == "You own no open incidents."


def test_ack_updates_the_card_adds_a_thread_line_and_is_audited(bot, sender, slack):
    card = open_incident(bot, slack)
    _, token = sender.command("ack INC-1", user=BOB)
    assert answer(slack, token) == "INC-1 acknowledged."
    settle(bot)
    card = parents(slack)[0]
    assert "acknowledged" in card["text"] and "incident_ack" not in json.dumps(card["blocks"])
    assert f"<@{BOB}>" in json.dumps(card["blocks"])                           # owner now
    assert replies(slack, card["ts"])[-1]["text"].startswith(f":eyes: *Acknowledged* by <@{BOB}>")
    audit = bot.query("SELECT user, action, args, allowed, via FROM audit")
    assert audit == [{"user": BOB, "action": "ack", "args": "INC-1", "allowed": 1, "via": "command"}]


def test_resolve_with_cause_and_note_then_reopen(bot, sender, slack):
    open_incident(bot, slack)
    _, token = sender.command("resolve INC-1 cause=upstream_delay rerun of orders_daily finished")
    assert answer(slack, token) == "INC-1 resolved."
    row = bot.query("SELECT status, resolution_cause, resolution_note, resolved_by FROM incidents")[0]
    assert row == {"status": "resolved", "resolution_cause": "upstream_delay",
                   "resolution_note": "rerun of orders_daily finished", "resolved_by": ALICE}
    _, token = sender.command("resolve INC-1")
    assert f"already resolved by <@{ALICE}>" in answer(slack, token)
    _, token = sender.command("reopen INC-1")
    assert answer(slack, token) == "INC-1 reopened."
    _, token = sender.command("resolve INC-1 cause=gremlins")
    assert "not a cause" in answer(slack, token)


def test_assign_note_and_timeline(bot, sender, slack):
    card = open_incident(bot, slack)
    _, token = sender.command(f"assign INC-1 <@{CAROL}|carol>")
    assert answer(slack, token) == f"INC-1 is now owned by <@{CAROL}>."
    _, token = sender.command("note INC-1 upstream job rerun at 10:40 <!channel>")
    assert answer(slack, token) == "Noted on INC-1."
    settle(bot)
    thread = [r["text"] for r in replies(slack, card["ts"])]
    assert any(t.startswith(":bust_in_silhouette: Assigned to") for t in thread)
    assert any("upstream job rerun at 10:40 &lt;!channel&gt;" in t for t in thread)   # a note can't ping either
    _, token = sender.command("timeline INC-1")
    text = answer(slack, token)
    assert text.index("Opened by") < text.index("Assigned to") < text.index("upstream job rerun")


def test_new_opens_a_manual_incident_with_its_own_thread(bot, sender, slack):
    _, token = sender.command('new "orders dashboard shows zeros" sev2')
    assert answer(slack, token) == "Opened INC-1 in #data-incidents."
    settle(bot)
    card = parents(slack)[0]
    assert "orders dashboard shows zeros" in card["text"] and "sev2" in card["text"]
    assert len(replies(slack, card["ts"])) == 1
    _, token = sender.command('new "x" sev9')
    assert "neither a severity" in answer(slack, token)


def test_unknown_or_closed_incident_names_it_and_points_to_status(bot, sender, slack):
    _, token = sender.command("ack INC-99")
    assert answer(slack, token) == "Unknown incident INC-99. `/dre status` lists open incidents.\nUsage: `/dre ack INC-n`"
    _, token = sender.command("ack")
    assert "Which incident?" in answer(slack, token)


def test_silence_silences_and_unsilence(bot, sender, slack):
    _, token = sender.command("silence table=analytics.orders* source=generic 2h backfill running")
    assert answer(slack, token).startswith(":shushing_face: Silence 1 on `table=analytics.orders* source=generic`")
    bot.post("generic", {"title": "orders late", "dedup_key": "s", "labels": {"table": "analytics.orders"}})
    settle(bot)
    assert parents(slack) == []
    _, token = sender.command("silences")
    assert "backfill running" in answer(slack, token)
    _, token = sender.command("unsilence 1")
    assert answer(slack, token) == "Silence 1 ended."
    _, token = sender.command("unsilence 1")
    assert "No active silence 1" in answer(slack, token)


def test_bad_matcher_or_duration_says_what_is_wrong_with_an_example(bot, sender, slack):
    _, token = sender.command("silence table 2h")
    text = answer(slack, token)
    assert "Say what to silence" in text and "table=analytics.orders*" in text
    _, token = sender.command("silence table=x soon")
    assert "like 90m, 2h, 1d" in answer(slack, token)
    _, token = sender.command("silence =x 2h")
    assert "is not a matcher" in answer(slack, token)


def test_a_silence_that_ends_says_so_in_the_channel(bot, sender, slack):
    _, token = sender.command("silence kind=volume 1s short test")
    answer(slack, token)
    ended = wait_for(lambda: [m for m in slack.messages() if "has ended" in m["text"]], what="the end notice")
    assert len(ended) == 1 and "kind=volume" in ended[0]["text"] and "short test" in ended[0]["text"]


def test_runbook_search(bot, sender, slack):
    _, token = sender.command("runbook freshness")
    text = answer(slack, token)
    assert text.startswith("*Runbooks*") and "Table freshness breach" in text
    _, token = sender.command("runbook xyzzy")
    assert "No runbook mentions" in answer(slack, token)


def test_later_capabilities_answer_plainly(bot, sender, slack):
    for verb in ("oncall",):
        _, token = sender.command(verb)
        assert "PagerDuty is not configured here: set PAGERDUTY_API_TOKEN" in answer(slack, token), verb
    _, token = sender.command("diag freshness my-project.analytics.orders")
    assert "Diagnostics are not configured here" in answer(slack, token)


def test_two_people_resolving_at_once_give_one_resolution(bot, sender, slack):
    import threading
    card = open_incident(bot, slack)
    tokens = []

    def press(user):
        tokens.append(sender.command("resolve INC-1", user=user)[1])
    threads = [threading.Thread(target=press, args=(u,)) for u in (ALICE, BOB)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    texts = sorted((answer(slack, t) for t in tokens), key=lambda t: "already" in t)
    assert texts[0] == "INC-1 resolved." and "already resolved by" in texts[1]
    settle(bot)
    resolved_lines = [r for r in replies(slack, card["ts"]) if "*Resolved*" in r["text"]]
    assert len(resolved_lines) == 1
    assert len(bot.query("SELECT * FROM timeline WHERE kind = 'status'")) == 1


def test_bad_signature_and_stale_timestamp_get_401(bot, sender, slack):
    from tests.slack_requests import SAMPLES
    body = (SAMPLES / "slack_slash_command_signed_body.txt").read_bytes()
    # the vendor's own signed request: a valid signature, but from 2018
    stale = sender.post(body, "application/x-www-form-urlencoded", timestamp="1531420618",
                        secret="8f742231b10e8888abcd99yyyzzz85a5")
    assert stale.status_code == 401
    forged = sender.post(body, "application/x-www-form-urlencoded", secret="not-the-secret")
    assert forged.status_code == 401
    assert bot.query("SELECT count(*) AS n FROM audit") == [{"n": 0}]


def test_cli_audit_prints_the_log(bot, sender, slack):
    _, token = sender.command("silences")
    answer(slack, token)
    # The answer can reach Slack a moment before the audit row commits: look until it is there.
    def listed() -> str | None:
        out = bot.cli("audit", "--since", "1h").stdout
        return out if "silences" in out else None
    out = wait_for(listed, 10, "the command in the audit log")
    assert "silences" in out and ALICE in out
