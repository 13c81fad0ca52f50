"""Postmortem drafts: `/dre postmortem INC-n`, `@dre-bot postmortem` and the resolved card's button upload a Markdown
draft into the incident's thread holding every timeline entry in order, the timings, the cause and the note; a
team's template replaces the built-in one. A real bot process, signed Slack requests, the scripted clock."""
import datetime as dt
import json
import re

import httpx
import pytest

from tests.conftest import (
    ALICE,
    BOB,
    CAROL,
    FAST_DELIVERY,
    TOKEN,
    open_incident,
    parents,
    replies,
    sample,
    settle,
    wait_for,
)

T0 = 1900054800.0                     # 2030-03-18T09:00:00Z
CLOCK = {"DRE_SCRIPTED_CLOCK": "1"}


def move(bot, **what) -> None:
    assert httpx.post(f"{bot.url}/sandbox/clock", json=what, timeout=5).status_code == 200


def answer(slack, token) -> str:
    return wait_for(lambda: slack.responses(token), 10, "the command's answer")[-1]["body"]["text"]


def utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def drafts(slack) -> list[dict]:
    return [f for f in slack.files() if f["filename"].endswith("-postmortem.md")]


def draft(bot, slack, count: int = 1) -> dict:
    def uploaded():
        settle(bot)
        got = drafts(slack)
        return got if len(got) >= count else None
    got = wait_for(uploaded, 15, f"{count} postmortem draft(s)")
    assert len(got) == count, [f["filename"] for f in got]      # one draft per request, never two
    return got[-1]


def text_of(file: dict) -> str:
    content = file["content"]
    return content.decode() if isinstance(content, (bytes, bytearray)) else content


def section(markdown: str, title: str) -> str:
    return markdown.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def timeline_rows(markdown: str) -> list[list[str]]:
    lines = [ln for ln in section(markdown, "Timeline").splitlines() if ln.startswith("| ")]
    assert lines[0] == "| Time (UTC) | Origin | Actor | Kind | Entry |"
    return [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines[1:]]


def cell(text: str) -> str:
    """Untrusted text as the draft must show it: one line, `|` escaped, `<` as an entity."""
    return " ".join(text.split()).replace("<", "&lt;").replace("|", "\\|")


def expected_rows(bot, incident_id: int = 1) -> list[list[str]]:
    """The timeline table, as the draft's Timeline section must list it."""
    rows = bot.query("SELECT at, origin, actor, kind, text FROM timeline WHERE incident_id = ? ORDER BY id",
                     incident_id)
    return [[utc(r["at"]), r["origin"], r["actor"], r["kind"], cell(r["text"])] for r in rows]


@pytest.fixture
def clocked(make_bot, workspace):
    return make_bot(FAST_DELIVERY, **CLOCK)


@pytest.fixture
def sender(clocked, workspace):
    from tests.slack_requests import SlackSender
    return SlackSender(clocked.url, workspace)


def test_the_draft_holds_every_timeline_entry_in_order_with_timings_cause_and_note(clocked, sender, workspace):
    bot, slack = clocked, workspace
    move(bot, to=T0)
    assert bot.post("gcp-monitoring", sample("gcp_monitoring_open_v1.2.json"), auth=None,
                    path_suffix=f"?token={TOKEN}").status_code == 202
    settle(bot)
    card = parents(slack)[0]
    move(bot, advance="7m")
    _, token = sender.command("ack INC-1", user=BOB)
    assert answer(slack, token) == "INC-1 acknowledged."
    move(bot, advance="3m")
    _, token = sender.command("note INC-1 orders_daily is stuck behind the billing export", user=BOB)
    assert answer(slack, token) == "Noted on INC-1."
    move(bot, advance="5m")
    hostile = "restarted the export\n# not a heading | <!-- hides the rest\n```"
    sender.event({"type": "message", "user": ALICE, "text": hostile, "ts": "1900055700.000100",
                  "channel": card["channel"], "thread_ts": card["ts"], "channel_type": "channel"})
    wait_for(lambda: bot.query("SELECT 1 FROM timeline WHERE kind = 'message'"), what="the thread message")
    move(bot, advance="50m")
    _, token = sender.command("resolve INC-1 cause=upstream_delay billing export rerun; orders_daily caught up")
    assert answer(slack, token) == "INC-1 resolved."
    move(bot, advance="2m")
    settle(bot)
    before = len(replies(slack, card["ts"]))

    _, token = sender.command("postmortem INC-1")
    said = answer(slack, token)
    assert said.startswith(":memo: Drafting the postmortem for INC-1; it will appear in <") and "still" not in said
    file = draft(bot, slack)
    assert file["filename"] == "INC-1-postmortem.md" and file["completed"]
    assert file["channel"] == card["channel"] and file["thread_ts"] == card["ts"]
    thread = replies(slack, card["ts"])
    assert len(thread) == before + 1 and f"asked for by <@{ALICE}>" in thread[-1]["text"]   # the file's message
    md = text_of(file)

    # Every entry of the timeline table, in order, with its time, origin, actor, kind and text.
    rows = timeline_rows(md)
    assert rows == expected_rows(bot)
    assert [r[3] for r in rows] == ["opened", "status", "note", "message", "status"]
    assert rows[0][:3] == ["2030-03-18T09:00:00Z", "gcp-monitoring", "gcp-monitoring"]
    assert rows[1][:3] == ["2030-03-18T09:07:00Z", "slack", BOB] and rows[4][0] == "2030-03-18T10:05:00Z"
    # ... the same entries as /dre timeline lists.
    _, token = sender.command("timeline INC-1")
    listed = re.findall(r"`(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)Z`", answer(slack, token))
    assert [f"{d}T{t}Z" for d, t in listed] == [r[0] for r in rows]
    # Untrusted text stays inside its cell: no heading, no comment, no code fence of its own.
    assert "\n# not a heading" not in md and "<!--" not in md and "\n```" not in md

    summary = section(md, "Summary")
    assert "| Opened | 2030-03-18T09:00:00Z |" in summary
    assert f"| Acknowledged | 2030-03-18T09:07:00Z by {BOB} |" in summary
    assert f"| Resolved | 2030-03-18T10:05:00Z by {ALICE} |" in summary
    assert "| Time to acknowledge | 7m |" in summary and "| Time to resolve | 1h 5m |" in summary
    assert "choonho-server-cpu-alert-policy-test" in md.splitlines()[0]
    assert "- **Duration**: 1h 5m from the first alert" in section(md, "Impact")
    resolution = section(md, "Resolution")
    assert "- **Cause**: Upstream delay (`upstream_delay`)." in resolution
    assert "> billing export rerun; orders_daily caught up" in resolution
    assert "_No diagnostics ran during this incident._" in section(md, "Diagnostics evidence")
    prompts = [ln for ln in section(md, "Action items").splitlines() if ln.startswith("- [ ] ")]
    assert len(prompts) >= 4 and any("upstream owner" in p for p in prompts)
    assert "Draft of an open incident" not in md
    audit = bot.query("SELECT user, action, args, allowed, via FROM audit WHERE action = 'postmortem'")
    assert audit == [{"user": ALICE, "action": "postmortem", "args": "INC-1", "allowed": 1, "via": "command"}]


def test_the_resolved_card_s_button_drafts_it_and_so_does_a_mention_in_the_thread(bot, sender, slack):
    card = open_incident(bot, slack)
    assert "incident_postmortem" not in json.dumps(card["blocks"])          # open: no draft button yet
    _, token = sender.command("resolve INC-1 cause=schema_change reverted the column rename", user=BOB)
    assert answer(slack, token) == "INC-1 resolved."
    settle(bot)
    card = parents(slack)[0]
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["text"]["text"]) for b in buttons] == [("incident_postmortem", "Draft postmortem")]

    assert sender.button("incident_postmortem", "1", user=BOB, channel=card["channel"],
                         message_ts=card["ts"]).status_code == 200
    told = wait_for(lambda: slack.ephemerals(), what="the presser hears where the draft goes")[0]
    assert told["user"] == BOB and told["text"].startswith(":memo: Drafting the postmortem for INC-1")
    md = text_of(draft(bot, slack))
    assert timeline_rows(md) == expected_rows(bot)
    assert "- **Cause**: Schema change (`schema_change`)." in md and "> reverted the column rename" in md
    assert bot.query("SELECT via, allowed FROM audit WHERE action = 'postmortem'") == [{"via": "button", "allowed": 1}]

    sender.event({"type": "app_mention", "user": ALICE, "text": "<@U0DREBOT> postmortem", "ts": "1795600000.000500",
                  "channel": card["channel"], "thread_ts": card["ts"], "event_ts": "1795600000.000500"})
    wait_for(lambda: len(slack.ephemerals()) == 2, what="the mention's answer")
    assert slack.ephemerals()[1]["text"].startswith(":memo: Drafting the postmortem for INC-1")
    second = draft(bot, slack, count=2)
    assert second["thread_ts"] == card["ts"] and timeline_rows(text_of(second)) == expected_rows(bot)


def test_unknown_open_and_refused(bot, sender, slack):
    _, token = sender.command("postmortem INC-42")
    assert answer(slack, token).startswith("Unknown incident INC-42. `/dre status` lists open incidents.")
    _, token = sender.command("postmortem")
    assert answer(slack, token).startswith("Which incident?")
    card = open_incident(bot, slack)
    _, token = sender.command("postmortem INC-1", user=CAROL)                 # not in the incident's channel
    assert answer(slack, token).startswith(":no_entry: Only members of the incident's channel")
    _, token = sender.command("postmortem INC-1")
    assert "It is still triggered, so the draft is marked as a draft of an open incident." in answer(slack, token)
    md = text_of(draft(bot, slack))
    assert "**Draft of an open incident** (triggered)" in md and "| Time to resolve | – |" in md
    assert "_Not resolved yet._" in section(md, "Resolution") and "still open" in section(md, "Impact")
    assert timeline_rows(md) == expected_rows(bot)
    assert drafts(slack)[0]["thread_ts"] == card["ts"]
    assert [a["allowed"] for a in bot.query("SELECT allowed FROM audit WHERE action = 'postmortem' ORDER BY id")] \
        == [1, 1, 0, 1]


def test_a_team_template_replaces_the_built_in_one(make_bot, workspace, tmp_path):
    from tests.slack_requests import SlackSender
    team = tmp_path / "team-templates"
    team.mkdir()
    (team / "postmortem.md.j2").write_text(
        "# {{ incident.name }} review (ACME format)\n"
        "{% for e in timeline %}{{ loop.index }}. {{ e.at }} {{ e.kind }}: {{ e.text }}\n{% endfor %}"
        "TTR {{ ttr | duration }}; cause {{ resolution.cause_label }}\n")
    bot = make_bot(FAST_DELIVERY + f'\n[templates]\ndir = "{team}"\n', **CLOCK)
    sender = SlackSender(bot.url, workspace)
    move(bot, to=T0)
    card = open_incident(bot, workspace)
    move(bot, advance="90m")
    _, token = sender.command("resolve INC-1 cause=false_positive threshold too tight")
    assert answer(workspace, token) == "INC-1 resolved."
    sender.command("postmortem INC-1")
    md = text_of(draft(bot, workspace))
    assert md == ("# INC-1 review (ACME format)\n"
                  "1. 2030-03-18T09:00:00Z opened: Opened by generic alert: orders is stale\n"
                  f"2. 2030-03-18T10:30:00Z status: Resolved by {ALICE} (false_positive): threshold too tight\n"
                  "TTR 1h 30m; cause False positive\n")

    # A broken team template says so in the thread instead of a draft; nothing is retried or lost silently.
    (team / "postmortem.md.j2").write_text("# {{ incident.nmae }}\n")
    sender.command("postmortem INC-1")
    warning = wait_for(lambda: [r for r in replies(workspace, card["ts"]) if r["text"].startswith(":warning:")],
                       15, "the template problem in the thread")[0]["text"]
    assert "No postmortem draft for INC-1" in warning and "postmortem.md.j2" in warning and "nmae" in warning
    settle(bot)
    assert len(drafts(workspace)) == 1


def test_diagnostics_that_ran_are_the_draft_s_evidence(make_bot, workspace, warehouse):
    from tests.slack_requests import SlackSender
    bot = make_bot(FAST_DELIVERY + '\n[diagnostics]\nallowed = ["dre-sandbox.analytics"]\ntimeout = "20s"\n',
                   BIGQUERY_API_URL=warehouse.api_endpoint, GOOGLE_CLOUD_PROJECT="dre-sandbox")
    sender = SlackSender(bot.url, workspace)
    open_incident(bot, workspace, table="dre-sandbox.analytics.orders", title="orders freshness SLA missed")
    wait_for(lambda: settle(bot) and len(bot.query("SELECT 1 FROM timeline WHERE kind = 'diagnostic'")) == 3, 40,
             "the default (freshness, volume) and the runbook's (failed_jobs) diagnostics on the timeline")
    _, token = sender.command("resolve INC-1 cause=upstream_delay")
    assert answer(workspace, token) == "INC-1 resolved."
    sender.command("postmortem INC-1")
    md = text_of(draft(bot, workspace))
    ran = bot.query("SELECT at, actor, text FROM timeline WHERE kind = 'diagnostic' ORDER BY id")
    evidence = [ln for ln in section(md, "Diagnostics evidence").splitlines() if ln.startswith("- ")]
    assert evidence == [f"- {utc(r['at'])} · {r['actor']}: {cell(r['text'])}" for r in ran]
    assert any(": Diagnostic freshness on dre-sandbox.analytics.orders: 1 rows, scanned" in e for e in evidence)
    assert timeline_rows(md) == expected_rows(bot)
    assert "No diagnostic ran" not in section(md, "Action items")
