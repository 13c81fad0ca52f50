"""The Slack emulator, driven by the real slack_sdk.WebClient over a real local HTTP server."""

from __future__ import annotations

import re

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from starlette.applications import Starlette
from starlette.routing import Mount

from sandbox.slack import BOT_USER_ID, SlackEmulator, channel_id_for_name, ts_to_num
from sandbox.threaded_server import ThreadedServer
from sandbox.transcript import transcript

TOKEN = "xoxb-test-token"


@pytest.fixture(scope="module")
def served():
    emulator = SlackEmulator()
    with ThreadedServer(emulator.app()) as server:
        yield emulator, server.base_url
    emulator.close()


@pytest.fixture
def emu(served):
    emulator, _ = served
    emulator.reset()
    return emulator


@pytest.fixture
def base_url(served, emu):
    return served[1]


@pytest.fixture
def client(base_url):
    return WebClient(token=TOKEN, base_url=f"{base_url}/api/", retry_handlers=[])


def slack_error(excinfo) -> str:
    return excinfo.value.response["error"]


# --------------------------------------------------------------------------- messages


def test_parent_and_replies_read_back(client, emu):
    parent = client.chat_postMessage(channel="#data-incidents", text="Incident: orders table stale")
    cid, parent_ts = parent["channel"], parent["ts"]
    assert parent["ok"] and parent["message"]["text"] == "Incident: orders table stale"
    assert parent["message"]["user"] == BOT_USER_ID and parent["message"]["bot_id"] == "B0DREBOT"
    r1 = client.chat_postMessage(channel=cid, thread_ts=parent_ts, text="Checking the loader")
    r2 = client.chat_postMessage(channel="data-incidents", thread_ts=parent_ts, text="Fixed")
    other = client.chat_postMessage(channel=cid, text="Another incident")

    history = client.conversations_history(channel=cid)
    assert [m["ts"] for m in history["messages"]] == [other["ts"], parent_ts]  # parents only, newest first
    card = history["messages"][1]
    assert card["reply_count"] == 2 and card["thread_ts"] == parent_ts and card["latest_reply"] == r2["ts"]
    assert history["has_more"] is False and history["response_metadata"]["next_cursor"] == ""

    replies = client.conversations_replies(channel=cid, ts=parent_ts)
    assert [m["text"] for m in replies["messages"]] == ["Incident: orders table stale", "Checking the loader", "Fixed"]
    assert all(m["thread_ts"] == parent_ts for m in replies["messages"])
    assert replies["messages"][1]["parent_user_id"] == BOT_USER_ID

    posted = emu.messages(cid)
    assert [(m["ts"], m["thread_ts"]) for m in posted] == [(parent_ts, None), (r1["ts"], parent_ts), (r2["ts"], parent_ts), (other["ts"], None)]
    assert posted[0]["user"] == BOT_USER_ID and posted[0]["edits"] == 0 and posted[0]["blocks"] is None
    assert [m["text"] for m in emu.thread(cid, parent_ts)] == ["Incident: orders table stale", "Checking the loader", "Fixed"]
    assert emu.messages("#data-incidents") == posted


def test_ts_strictly_increasing_and_well_formed(client):
    stamps = [client.chat_postMessage(channel="general", text=str(i))["ts"] for i in range(20)]
    assert all(re.fullmatch(r"\d{10}\.\d{6}", ts) for ts in stamps)
    assert [ts_to_num(t) for t in stamps] == sorted({ts_to_num(t) for t in stamps})


def test_chat_update_edits_in_place(client, emu):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*SEV2* open"}}]
    posted = client.chat_postMessage(channel="#data-incidents", text="open", blocks=blocks)
    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*SEV2* acknowledged"}}]
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="acknowledged", blocks=new_blocks)
    assert updated["ok"] and updated["ts"] == posted["ts"] and updated["channel"] == posted["channel"]
    assert updated["text"] == "acknowledged"
    client.chat_update(channel="#data-incidents", ts=posted["ts"], text="resolved")  # blocks left out: kept

    [message] = emu.messages()
    assert message["ts"] == posted["ts"] and message["text"] == "resolved"
    assert message["edits"] == 2 and message["blocks"] == new_blocks
    [from_api] = client.conversations_history(channel=posted["channel"])["messages"]
    assert from_api["edited"]["user"] == BOT_USER_ID and from_api["text"] == "resolved"


def test_channel_name_maps_to_stable_id(client):
    a = client.chat_postMessage(channel="#data-incidents", text="a")
    b = client.chat_postMessage(channel="data-incidents", text="b")
    assert a["channel"] == b["channel"] == channel_id_for_name("data-incidents")
    assert re.fullmatch(r"C[A-Z0-9]{10}", a["channel"])
    info = client.conversations_info(channel=a["channel"])["channel"]
    assert info["id"] == a["channel"] and info["name"] == "data-incidents"
    assert info["is_channel"] is True and info["is_member"] is True
    assert client.conversations_info(channel="#data-incidents")["channel"]["id"] == a["channel"]
    assert client.chat_postMessage(channel="C0123456789", text="by id")["channel"] == "C0123456789"


def test_metadata_only_with_include_all_metadata(client, emu):
    metadata = {"event_type": "incident_opened", "event_payload": {"incident_id": "INC-7", "severity": "SEV2"}}
    posted = client.chat_postMessage(channel="#data-incidents", text="card", metadata=metadata)
    assert posted["message"]["metadata"] == metadata
    assert emu.messages()[0]["metadata"] == metadata
    plain = client.conversations_history(channel=posted["channel"])["messages"][0]
    assert "metadata" not in plain
    full = client.conversations_history(channel=posted["channel"], include_all_metadata=True)["messages"][0]
    assert full["metadata"] == metadata
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="card v2")  # metadata kept when left out
    assert emu.messages()[0]["metadata"] == metadata


def test_history_window_and_pagination(client):
    stamps = [client.chat_postMessage(channel="#paging", text=f"m{i}")["ts"] for i in range(5)]
    page1 = client.conversations_history(channel="#paging", limit=2)
    assert [m["text"] for m in page1["messages"]] == ["m4", "m3"] and page1["has_more"] is True
    page2 = client.conversations_history(channel="#paging", limit=2, cursor=page1["response_metadata"]["next_cursor"])
    assert [m["text"] for m in page2["messages"]] == ["m2", "m1"]
    window = client.conversations_history(channel="#paging", oldest=stamps[1], latest=stamps[3])
    assert [m["text"] for m in window["messages"]] == ["m2"]
    inclusive = client.conversations_history(channel="#paging", oldest=stamps[1], latest=stamps[3], inclusive=True)
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda c, p: c.chat_postMessage(channel="#data-incidents"), "no_text"),
        (lambda c, p: c.chat_postMessage(channel="#data-incidents", text=""), "no_text"),
        (lambda c, p: c.chat_postMessage(channel="#does-not-exist", text="x"), "channel_not_found"),
        (lambda c, p: c.chat_postMessage(channel="C0NOTFOUND", text="x"), "channel_not_found"),
        (lambda c, p: c.conversations_info(channel="does-not-exist"), "channel_not_found"),
        (lambda c, p: c.chat_update(channel=p["channel"], ts="1111111111.000001", text="x"), "message_not_found"),
        (lambda c, p: c.chat_postMessage(channel=p["channel"], thread_ts="1111111111.000001", text="x"), "thread_not_found"),
        (lambda c, p: c.conversations_replies(channel=p["channel"], ts="1111111111.000001"), "thread_not_found"),
        (lambda c, p: c.chat_postMessage(channel=p["channel"], blocks=[{"type": "divider"}] * 51), "invalid_blocks"),
        (lambda c, p: c.chat_postMessage(channel=p["channel"], text="x" * 40_001), "msg_too_long"),
        (lambda c, p: c.chat_postMessage(channel=p["channel"], text="x", metadata={"event_payload": {}}), "invalid_metadata_schema"),
        (lambda c, p: c.users_info(user="U0NOTFOUND"), "user_not_found"),
        (lambda c, p: c.api_call("chat.noSuchMethod"), "unknown_method"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_slack_errors(client, emu, call, error):
    parent = client.chat_postMessage(channel="#data-incidents", text="parent")
    with pytest.raises(SlackApiError) as excinfo:
        call(client, parent)
    assert excinfo.value.response.status_code == 200
    assert excinfo.value.response["ok"] is False and slack_error(excinfo) == error
    assert emu.calls()[-1]["error"] == error and emu.calls()[-1]["ok"] is False
    assert len(emu.messages()) == 1  # nothing half-posted


def test_auth_errors(base_url, emu):
    with pytest.raises(SlackApiError) as excinfo:
        WebClient(base_url=f"{base_url}/api/").chat_postMessage(channel="general", text="x")
    assert slack_error(excinfo) == "not_authed" and excinfo.value.response.status_code == 200
    with pytest.raises(SlackApiError) as excinfo:
        WebClient(token="not-a-slack-token", base_url=f"{base_url}/api/").auth_test()
    assert slack_error(excinfo) == "invalid_auth"
    assert emu.messages() == []
    # a `token` argument in the body works too
    r = httpx.post(f"{base_url}/api/auth.test", data={"token": "xoxp-123"})
    assert r.status_code == 200 and r.json()["user_id"] == BOT_USER_ID
    assert "token" not in emu.calls("auth.test")[-1]["params"]


def test_only_listed_tokens_when_given():
    emulator = SlackEmulator(tokens={"xoxb-only-this"})
    with ThreadedServer(emulator.app()) as server:
        ok = WebClient(token="xoxb-only-this", base_url=f"{server.base_url}/api/").auth_test()
        assert ok["team_id"] and ok["user_id"] == "U0DREBOT" and ok["bot_id"] == "B0DREBOT"
        with pytest.raises(SlackApiError) as excinfo:
            WebClient(token="xoxb-other", base_url=f"{server.base_url}/api/").auth_test()
        assert slack_error(excinfo) == "invalid_auth"
    emulator.close()


# --------------------------------------------------------------------------- faults


def test_injected_429_surfaces_raw(client, emu):
    emu.inject_fault("chat.postMessage", 429, retry_after=7)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#data-incidents", text="x")
    response = excinfo.value.response
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="#data-incidents", text="x")["ok"]  # count=1: next call passes
    assert [(c["status"], c["ok"]) for c in emu.calls("chat.postMessage")] == [(429, False), (200, True)]
    assert len(emu.messages()) == 1


def test_injected_429_retried_by_slack_sdk_handler(base_url, emu):
    emu.inject_fault("auth.test", 429, retry_after=0)
    client = WebClient(token=TOKEN, base_url=f"{base_url}/api/", retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert client.auth_test()["ok"]
    assert [c["status"] for c in emu.calls("auth.test")] == [429, 200]


def test_injected_500_and_200_error(client, emu):
    emu.inject_fault("*", 500, count=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as excinfo:
            client.auth_test()
        assert excinfo.value.response.status_code == 500
    emu.inject_fault("chat.update", 200, error="edit_window_closed")
    posted = client.chat_postMessage(channel="general", text="x")
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel=posted["channel"], ts=posted["ts"], text="y")
    assert excinfo.value.response.status_code == 200 and slack_error(excinfo) == "edit_window_closed"
    emu.inject_fault("*", 503, count=5)
    emu.clear_faults()
    assert client.auth_test()["ok"]


def test_sandbox_http_endpoints(client, base_url, emu):
    with httpx.Client(base_url=base_url) as http:
        assert http.post("/_sandbox/faults", json={"method": "chat.postMessage", "status": 429, "retry_after": 3}).json()["ok"]
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel="#data-incidents", text="x")
        assert excinfo.value.response.headers["Retry-After"] == "3"
        posted = client.chat_postMessage(channel="#data-incidents", text="hello")
        listed = http.get("/_sandbox/messages", params={"channel": posted["channel"]}).json()
        assert [m["text"] for m in listed] == ["hello"]
        assert http.get("/_sandbox/messages", params={"channel": "#data-incidents"}).json() == listed
        calls = http.get("/_sandbox/calls", params={"method": "chat.postMessage"}).json()
        assert [c["status"] for c in calls] == [429, 200]
        assert http.post("/_sandbox/reset").json()["ok"]
        assert http.get("/_sandbox/messages").json() == []


# --------------------------------------------------------------------------- wire formats


def test_form_encoded_and_query_args(base_url, emu):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    blocks = '[{"type": "header", "text": {"type": "plain_text", "text": "INC-1"}}]'
    metadata = '{"event_type": "incident_opened", "event_payload": {"id": "INC-1"}}'
    r = httpx.post(f"{base_url}/api/chat.postMessage", headers=headers, data={"channel": "#data-incidents", "blocks": blocks, "metadata": metadata})
    assert r.status_code == 200 and r.json()["ok"], r.text
    [message] = emu.messages()
    assert message["blocks"][0]["text"]["text"] == "INC-1" and message["metadata"]["event_payload"] == {"id": "INC-1"}
    r = httpx.get(f"{base_url}/api/conversations.history", headers=headers, params={"channel": "data-incidents", "include_all_metadata": "1"})
    assert r.json()["messages"][0]["metadata"]["event_type"] == "incident_opened"
    r = httpx.post(f"{base_url}/api/chat.postMessage", headers=headers, data={"channel": "general", "blocks": "not json"})
    assert r.json() == {"ok": False, "error": "invalid_blocks_format"}


def test_file_backed_state_survives_a_new_emulator(tmp_path):
    db = str(tmp_path / "slack.db")
    first = SlackEmulator(db)
    with ThreadedServer(first.app()) as server:
        WebClient(token=TOKEN, base_url=f"{server.base_url}/api/").chat_postMessage(channel="#data-incidents", text="kept")
    first.close()
    second = SlackEmulator(db)
    assert [m["text"] for m in second.messages("#data-incidents")] == ["kept"]
    second.close()


# --------------------------------------------------------------------------- files, views, reactions, users


def test_files_upload_v2_end_to_end(client, emu):
    parent = client.chat_postMessage(channel="#data-incidents", text="card")
    result = client.files_upload_v2(
        channel=parent["channel"],
        thread_ts=parent["ts"],
        content="col_a,col_b\n1,2\n",
        filename="sample.csv",
        title="Failing rows",
        initial_comment="Sample of failing rows",
    )
    assert result["ok"] and result["file"]["title"] == "Failing rows" and result["file"]["id"].startswith("F")
    [stored] = emu.files()
    assert stored["content"] == b"col_a,col_b\n1,2\n" and stored["uploaded"] and stored["completed"]
    assert stored["channel"] == parent["channel"] and stored["thread_ts"] == parent["ts"]
    reply = emu.messages()[-1]
    assert reply["thread_ts"] == parent["ts"] and reply["text"] == "Sample of failing rows"
    assert reply["files"][0]["id"] == stored["id"]
    calls = [c["method"] for c in emu.calls()]
    assert calls[-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


def test_files_complete_without_upload_and_multipart_upload(client, base_url, emu):
    ticket = client.files_getUploadURLExternal(filename="notes.txt", length=5)
    assert ticket["upload_url"] == f"{base_url}/upload/{ticket['file_id']}"
    with pytest.raises(SlackApiError) as excinfo:
        client.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "Notes"}])
    assert slack_error(excinfo) == "file_not_found"
    r = httpx.post(ticket["upload_url"], files={"filename": ("notes.txt", b"hello", "text/plain")})
    assert r.status_code == 200 and r.text == "OK - 5"
    done = client.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "Notes"}])
    assert done["files"][0]["title"] == "Notes"
    assert emu.files()[0]["content"] == b"hello" and emu.messages() == []  # no channel: private file


def test_mounted_under_a_prefix(emu):
    outer = Starlette(routes=[Mount("/slack", app=emu.app())])
    with ThreadedServer(outer) as server:
        client = WebClient(token=TOKEN, base_url=f"{server.base_url}/slack/api/")
        ticket = client.files_getUploadURLExternal(filename="a.txt", length=1)
        assert ticket["upload_url"].startswith(f"{server.base_url}/slack/upload/F")
        done = client.files_upload_v2(channel="#data-incidents", content="x", filename="a.txt")
        assert done["ok"] and emu.messages()[0]["files"]


def test_views_open_publish_update(client, emu):
    modal = {"type": "modal", "callback_id": "resolve", "title": {"type": "plain_text", "text": "Resolve"}, "blocks": []}
    opened = client.views_open(trigger_id="123.456.abc", view=modal)["view"]
    assert opened["id"].startswith("V") and opened["type"] == "modal" and opened["callback_id"] == "resolve"
    modal2 = dict(modal, title={"type": "plain_text", "text": "Resolved"})
    updated = client.views_update(view_id=opened["id"], view=modal2)["view"]
    assert updated["id"] == opened["id"] and updated["title"]["text"] == "Resolved" and updated["hash"]
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "3 open incidents"}}], "external_id": "home-U1"}
    published = client.views_publish(user_id="U0123ABCD", view=home)["view"]
    again = client.views_publish(user_id="U0123ABCD", view=home)["view"]
    assert again["id"] == published["id"]
    by_external = client.views_update(external_id="home-U1", view=home)["view"]
    assert by_external["id"] == published["id"]
    with pytest.raises(SlackApiError) as excinfo:
        client.views_update(view_id="V0NOPE00000", view=modal)
    assert slack_error(excinfo) == "not_found"
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id="", view=modal)
    assert slack_error(excinfo) == "invalid_arguments"
    views = {v["id"]: v for v in emu.views()}
    assert views[opened["id"]]["updates"] == 1 and views[published["id"]]["user_id"] == "U0123ABCD"


def test_reactions_and_ephemerals_and_users(client, emu):
    posted = client.chat_postMessage(channel="#data-incidents", text="card")
    assert client.reactions_add(channel=posted["channel"], timestamp=posted["ts"], name="eyes")["ok"]
    with pytest.raises(SlackApiError) as excinfo:
        client.reactions_add(channel=posted["channel"], timestamp=posted["ts"], name="eyes")
    assert slack_error(excinfo) == "already_reacted"
    assert emu.reactions() == [{"channel": posted["channel"], "timestamp": posted["ts"], "name": "eyes", "user": BOT_USER_ID}]
    [message] = client.conversations_history(channel=posted["channel"])["messages"]
    assert message["reactions"] == [{"name": "eyes", "users": [BOT_USER_ID], "count": 1}]

    eph = client.chat_postEphemeral(channel="#data-incidents", user="U0123ABCD", text="only you")
    assert re.fullmatch(r"\d{10}\.\d{6}", eph["message_ts"])
    assert emu.ephemerals()[0]["user"] == "U0123ABCD" and len(emu.messages()) == 1

    user = client.users_info(user="U0123ABCD")["user"]
    assert user["id"] == "U0123ABCD" and user["tz"] == "America/New_York" and user["tz_offset"] in (-18000, -14400)
    assert user["profile"]["email"] == "u0123abcd@example.com" and user["profile"]["display_name"] and user["real_name"]


# --------------------------------------------------------------------------- transcript


def test_transcript_of_card_with_two_replies(client, emu):
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "SEV2: orders table stale"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Freshness check failed &amp; rows &lt; expected"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Severity*\nSEV2"},
                {"type": "mrkdwn", "text": "*Owner:* <@U0123ABCD>"},
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "dbt · source: monte-carlo"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "action_id": "ack"},
                {"type": "button", "text": {"type": "plain_text", "text": "Resolve"}, "action_id": "resolve", "style": "primary"},
            ],
        },
    ]
    parent = client.chat_postMessage(channel="#data-incidents", text="SEV2: orders table stale", blocks=blocks)
    client.chat_postMessage(channel="#data-incidents", thread_ts=parent["ts"], text="Acknowledged by <@U0123ABCD>")
    client.chat_postMessage(channel="#data-incidents", thread_ts=parent["ts"], text="Root cause:\nloader paused")
    client.chat_update(channel=parent["channel"], ts=parent["ts"], blocks=blocks, text="SEV2: orders table stale")
    assert transcript(emu.messages(), channel=parent["channel"]) == (
        "== SEV2: orders table stale ==\n"
        "Freshness check failed & rows < expected\n"
        "Severity: SEV2\n"
        "Owner: <@U0123ABCD>\n"
        "dbt · source: monte-carlo\n"
        "---\n"
        "[Acknowledge] [Resolve]\n"
        "(edited 1 time)\n"
        "  ↳ Acknowledged by <@U0123ABCD>\n"
        "  ↳ Root cause:\n"
        "    loader paused\n"
    )
    assert transcript(emu.messages(), channel="#data-incidents") == transcript(emu.messages(), channel=parent["channel"])
    assert transcript(emu.messages(), channel="C0OTHER0000") == ""
