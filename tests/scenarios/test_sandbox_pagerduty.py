"""The PagerDuty emulator, driven by the real `pagerduty` clients (RestApiV2Client, EventsApiV2Client) over a real
local HTTP server, with v3 webhooks delivered to a real local receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from pathlib import Path

import httpx
import pagerduty
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.pagerduty import PagerDutyEmulator, events_client, rest_client, sign
from sandbox.threaded_server import ThreadedServer

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures"
TOKEN = "pd-test-token"
ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"  # 32 characters, like an Events API v2 integration key
OTHER_KEY = "R0UT1NGKEY0000000000000000000002"
ADA, BOB, CAROL = "PADA001", "PBOB001", "PCAR001"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# --------------------------------------------------------------------------- fixtures


class Receiver:
    """A tiny webhook endpoint: records raw bodies and headers; answers `fail_with` statuses first."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_with: list[int] = []
        self.lock = threading.Lock()

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.received.append(({k.lower(): v for k, v in request.headers.items()}, body))
            status = self.fail_with.pop(0) if self.fail_with else 202
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.fail_with.clear()


@pytest.fixture(scope="module")
def served():
    emulator = PagerDutyEmulator(tokens={TOKEN}, webhook_retry_delays=(0.01, 0.01, 0.01, 0.01))
    receiver = Receiver()
    with ThreadedServer(emulator.app()) as pd_server, ThreadedServer(receiver.app()) as hook_server:
        yield emulator, pd_server.base_url, receiver, hook_server.base_url + "/hook"
    emulator.close()


@pytest.fixture
def pd(served):
    emulator, _, receiver, _ = served
    emulator.reset()
    receiver.clear()
    emulator.add_user(ADA, "Ada Lovelace", "ada@example.com")
    emulator.add_user(BOB, "Bob Builder", "bob@example.com", time_zone="Europe/Paris")
    emulator.add_user(CAROL, "Carol Danvers", "carol@example.com")
    emulator.add_escalation_policy("PEP0001", "Data on-call", levels=[[ADA], [BOB]])
    emulator.add_escalation_policy("PEP0002", "Platform", levels=[[CAROL]])
    emulator.add_service("PSVC001", "Warehouse", "PEP0001", routing_key=ROUTING_KEY)
    emulator.add_service("PSVC002", "Platform", "PEP0002", routing_key=OTHER_KEY)
    return emulator


@pytest.fixture
def base_url(served, pd):
    return served[1]


@pytest.fixture
def receiver(served, pd):
    return served[2]


@pytest.fixture
def hook_url(served, pd):
    return served[3]


@pytest.fixture
def rest(base_url):
    client = rest_client(base_url, TOKEN, default_from="ada@example.com")
    client.sleep_timer = 0.001  # the clients back off 1.5 s (x2 each time) between retries by default
    yield client
    client.close()


@pytest.fixture
def events(base_url):
    client = events_client(base_url, ROUTING_KEY)
    client.sleep_timer = 0.001
    yield client
    client.close()


@pytest.fixture
def other_events(base_url):
    client = events_client(base_url, OTHER_KEY)
    client.sleep_timer = 0.001
    yield client
    client.close()


def verify(secret: str, body: bytes, header: str) -> bool:
    """PagerDuty's documented check: any v1 signature in the header equals hex HMAC-SHA256(secret, raw body)."""
    expected = "v1=" + hmac.new(secret.encode("ascii"), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, item.strip()) for item in header.split(","))


# --------------------------------------------------------------------------- signing


def test_signing_matches_the_vendor_test_vector():
    doc = sample("pagerduty_v3_signature_test_vector.md").decode()
    secret = re.search(r"secret .*?\n\s*`([^`]+)`", doc).group(1)
    valid = re.search(r"valid header:\s*`X-PagerDuty-Signature: (v1=[0-9a-f]+)`", doc).group(1)
    mismatch = re.search(r"mismatch case:\s*`(v1=[0-9a-f]+)`", doc).group(1)
    body = sample("pagerduty_v3_signature_test_vector_body.json")
    assert sign(secret, body) == valid
    assert verify(secret, body, valid) and verify(secret, body, f"{mismatch},{valid}")
    assert not verify(secret, body, mismatch)


# --------------------------------------------------------------------------- Events API v2


def test_events_trigger_ack_resolve_share_one_incident(pd, events):
    key = events.trigger("orders table stale", "warehouse.orders", dedup_key="orders-stale", severity="error",
                         custom_details={"lag_minutes": 95}, links=[{"href": "https://grafana/x", "text": "lag"}],
                         payload={"component": "orders", "group": "warehouse", "class": "freshness"})
    assert key == "orders-stale"
    assert events.trigger("orders table stale (again)", "warehouse.orders", dedup_key="orders-stale") == key
    [incident] = pd.incidents()
    assert incident["status"] == "triggered" and incident["incident_key"] == key
    assert incident["title"] == "orders table stale" and len(incident["alerts"]) == 2
    assert [a["assignee"]["id"] for a in incident["assignments"]] == [ADA]  # level 1 of the service's policy

    events.acknowledge(key)
    assert pd.incident(incident["id"])["status"] == "acknowledged"
    events.resolve(key)
    assert pd.incident(incident["id"])["status"] == "resolved"
    assert len(pd.incidents()) == 1

    recorded = pd.events()
    assert [e["body"]["event_action"] for e in recorded] == ["trigger", "trigger", "acknowledge", "resolve"]
    assert all(e["status"] == 202 and e["incident_id"] == incident["id"] for e in recorded)
    first = recorded[0]["body"]
    assert first["payload"]["custom_details"] == {"lag_minutes": 95}
    assert first["payload"]["component"] == "orders" and first["payload"]["class"] == "freshness"
    assert first["links"] == [{"href": "https://grafana/x", "text": "lag"}]
    assert recorded[0]["response"] == {"status": "success", "message": "Event processed", "dedup_key": key}

    events.resolve(key)  # nothing open under that key: PagerDuty accepts and drops it
    assert pd.events()[-1]["incident_id"] is None
    events.trigger("orders table stale", "warehouse.orders", dedup_key=key)  # after resolve: a new incident
    assert [i["status"] for i in pd.incidents()] == ["resolved", "triggered"]


def test_vendor_samples_and_invalid_events(pd, base_url):
    enqueue = base_url + "/v2/enqueue"
    answer = httpx.post(enqueue, content=sample("pagerduty_events_v2_trigger.json"))
    assert answer.status_code == 400  # the sample's routing key is not one of ours
    assert answer.json() == {"status": "invalid event", "message": "Event object is invalid",
                             "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]}

    trigger = json.loads(sample("pagerduty_events_v2_trigger.json"))
    trigger["routing_key"] = ROUTING_KEY
    answer = httpx.post(enqueue, json=trigger)
    assert answer.status_code == 202
    assert answer.json() == {"status": "success", "message": "Event processed", "dedup_key": "samplekeyhere"}
    assert pd.events()[-1]["body"]["images"][0]["alt"] == "Example text"

    bad = {"routing_key": ROUTING_KEY, "event_action": "trigger",
           "payload": {"summary": "x" * 1025, "source": "", "severity": "fatal"}, "dedup_key": "k" * 256}
    answer = httpx.post(enqueue, json=bad)
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert any("payload.summary" in e for e in errors) and any("payload.source" in e for e in errors)
    assert any("payload.severity" in e for e in errors) and any("dedup_key" in e for e in errors)

    answer = httpx.post(enqueue, json={"routing_key": "R" * 32, "event_action": "acknowledge"})
    assert answer.json()["errors"] == ["Invalid routing key", "'dedup_key' is missing or blank"]
    answer = httpx.post(enqueue, content=b"{not json")
    assert answer.status_code == 400 and answer.json()["status"] == "Unrecognized object"
    assert len(pd.incidents()) == 1


def test_events_client_raises_on_invalid_event_and_retries_5xx(pd, events):
    with pytest.raises(pagerduty.HttpError) as excinfo:
        events.trigger("bad severity", "src", severity="fatal")
    assert excinfo.value.response.status_code == 400
    assert excinfo.value.response.json()["status"] == "invalid event"

    pd.inject_fault("/v2/enqueue", 503, count=2)  # the events client retries 503 up to 6 times
    assert events.trigger("after an outage", "src", dedup_key="k1") == "k1"
    assert [e["status"] for e in pd.events()[-3:]] == [503, 503, 202]


# --------------------------------------------------------------------------- REST API v2


def test_rest_needs_a_valid_token(pd, base_url):
    client = rest_client(base_url, "wrong-token")
    try:
        with pytest.raises(pagerduty.HttpError) as excinfo:
            client.rget("users")
        assert excinfo.value.response.status_code == 401
        assert excinfo.value.response.json() == {"error": {"message": "Authentication failed", "code": 2006}}
    finally:
        client.close()
    assert httpx.get(base_url + "/users").status_code == 401


def test_list_incidents_filters_and_paginates_with_iter_all(pd, events, other_events, rest):
    keys = [f"job-{n}" for n in range(7)]
    for key in keys:
        events.trigger(f"job {key} failed", "airflow", dedup_key=key)
    events.acknowledge("job-0")
    other_events.trigger("platform down", "k8s", dedup_key="plat")

    got = list(rest.iter_all("incidents", params={"statuses[]": ["triggered", "acknowledged"],
                                                  "service_ids[]": ["PSVC001"]}, page_size=3))
    assert [i["incident_key"] for i in got] == keys
    pages = pd.requests("GET", "/incidents")
    assert [(r["query"]["offset"], r["query"]["limit"]) for r in pages] == [("0", "3"), ("3", "3"), ("6", "3")]
    assert pages[0]["query"]["statuses[]"] == ["triggered", "acknowledged"]

    assert [i["incident_key"] for i in rest.rget("incidents", params={"incident_key": "plat"})] == ["plat"]
    assert len(rest.rget("incidents", params={"statuses[]": ["acknowledged"]})) == 1
    page = rest.get("incidents", params={"limit": 5, "offset": 5, "total": "true"}).json()
    assert (page["limit"], page["offset"], page["more"], page["total"], len(page["incidents"])) == (5, 5, False, 8, 3)
    assert rest.get("incidents", params={"limit": 5}).json()["total"] is None
    answer = rest.get("incidents", params={"statuses[]": ["open"]})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 2001

    one = rest.rget(f"incidents/{got[0]['id']}")
    assert one["id"] == got[0]["id"] and one["summary"] == f"[#1] {one['title']}"
    assert rest.rget(one) == one  # the `self` link works through the client's own URL check
    assert rest.get("incidents/QNOTHERE").status_code == 404


def test_put_status_needs_from_and_a_documented_body(pd, events, rest, base_url):
    events.trigger("nightly load failed", "airflow", dedup_key="nightly")
    [incident] = pd.incidents()

    acked = rest.rput(f"incidents/{incident['id']}", json={"type": "incident_reference", "status": "acknowledged"})
    assert acked["status"] == "acknowledged"
    assert [a["acknowledger"]["id"] for a in acked["acknowledgements"]] == [ADA]
    put = pd.requests("PUT")[-1]
    assert put["from"] == "ada@example.com"
    assert put["json"] == json.loads(sample("pagerduty_rest_update_incident_request.json"))

    anonymous = rest_client(base_url, TOKEN)  # no default_from
    try:
        answer = anonymous.put(f"incidents/{incident['id']}",
                               json={"incident": {"type": "incident_reference", "status": "resolved"}})
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == \
            'You must specify a user\'s email address in the "From" header to perform this action'
        answer = anonymous.put(f"incidents/{incident['id']}", headers={"From": "nobody@example.com"},
                               json={"incident": {"type": "incident_reference", "status": "resolved"}})
        assert answer.json()["error"] == {"message": "Requester User Not Found", "code": 1008}
    finally:
        anonymous.close()

    answer = rest.put(f"incidents/{incident['id']}", json={"incident": {"status": "resolved"}})
    assert answer.status_code == 400
    assert answer.json()["error"]["errors"] == ["Incident type must be one of: incident, incident_reference"]
    answer = rest.put(f"incidents/{incident['id']}", json={"incident": {"type": "incident", "status": "triggered"}})
    assert answer.json()["error"]["errors"] == ["Status must be one of: acknowledged, resolved"]
    assert pd.incident(incident["id"])["status"] == "acknowledged"

    moved = rest.rput(f"incidents/{incident['id']}", json={
        "type": "incident", "assignments": [{"assignee": {"id": BOB, "type": "user_reference"}}],
        "priority": {"id": pd.priority_id("P2"), "type": "priority_reference"}})
    assert [a["assignee"]["id"] for a in moved["assignments"]] == [BOB] and moved["priority"]["summary"] == "P2"
    escalated = rest.rput(f"incidents/{incident['id']}", json={"type": "incident_reference", "escalation_level": 2})
    assert escalated["escalation_level"] == 2 and [a["assignee"]["id"] for a in escalated["assignments"]] == [BOB]
    answer = rest.put(f"incidents/{incident['id']}", json={"incident": {"type": "incident", "escalation_level": 3}})
    assert answer.json()["error"]["code"] == 1006

    resolved = rest.rput(f"incidents/{incident['id']}", json={"type": "incident_reference", "status": "resolved"})
    assert resolved["status"] == "resolved" and resolved["assignments"] == []
    answer = rest.put(f"incidents/{incident['id']}", json={"incident": {"type": "incident", "status": "resolved"}})
    assert answer.json()["error"] == {"message": "Incident Already Resolved", "code": 1001}


def test_bulk_update_and_create_incident(pd, rest):
    created = rest.rpost("incidents", json={
        "type": "incident", "title": "Manual: revenue dashboard wrong", "incident_key": "manual-1",
        "service": {"id": "PSVC001", "type": "service_reference"},
        "body": {"type": "incident_body", "details": "numbers off by 10x"},
        "assignments": [{"assignee": {"id": CAROL, "type": "user_reference"}}]})
    assert created["status"] == "triggered" and created["body"]["details"] == "numbers off by 10x"
    assert [a["assignee"]["id"] for a in created["assignments"]] == [CAROL]
    assert pd.requests("POST", "/incidents")[-1]["status"] == 201

    again = rest.post("incidents", json={"incident": {"type": "incident", "title": "dup", "incident_key": "manual-1",
                                                      "service": {"id": "PSVC001", "type": "service_reference"}}})
    assert again.status_code == 400 and "already exists" in again.json()["error"]["errors"][0]
    missing = rest.post("incidents", json={"incident": {"type": "incident", "title": "no service"}})
    assert missing.status_code == 400 and missing.json()["error"]["message"] == "Invalid Input Provided"

    second = rest.rpost("incidents", json={"type": "incident", "title": "Second",
                                           "service": {"id": "PSVC001", "type": "service_reference"},
                                           "escalation_policy": {"id": "PEP0002", "type": "escalation_policy_reference"}})
    assert second["escalation_policy"]["id"] == "PEP0002"
    updated = rest.rput("incidents", json=[{"id": created["id"], "type": "incident_reference", "status": "resolved"},
                                           {"id": second["id"], "type": "incident_reference", "status": "acknowledged"}])
    assert [i["status"] for i in updated] == ["resolved", "acknowledged"]


def test_notes_and_log_entries(pd, events, rest):
    events.trigger("dbt test failed", "dbt", dedup_key="dbt-1")
    [incident] = pd.incidents()
    note = rest.rpost(f"incidents/{incident['id']}/notes",
                      json=json.loads(sample("pagerduty_rest_create_note_request.json"))["note"])
    assert note["content"] == "Firefighters are on the scene." and note["user"]["id"] == ADA
    assert pd.requests("POST")[-1]["json"] == json.loads(sample("pagerduty_rest_create_note_request.json"))
    rest.rpost(f"incidents/{incident['id']}/notes", json={"content": "Rerunning the model"})
    listed = rest.rget(f"incidents/{incident['id']}/notes")
    assert [n["content"] for n in listed] == ["Firefighters are on the scene.", "Rerunning the model"]
    assert [n["content"] for n in pd.notes(incident["id"])] == [n["content"] for n in listed]

    answer = rest.post(f"incidents/{incident['id']}/notes", json={"note": {"content": ""}})
    assert answer.status_code == 400 and answer.json()["error"]["errors"] == ["Note content is required"]
    answer = rest.post(f"incidents/{incident['id']}/notes", json={"content": "unwrapped"})
    assert answer.status_code == 400 and answer.json()["error"]["errors"] == ["'note' is required and must be an object"]

    annotations = list(rest.iter_incident_notes(incident["id"]))
    assert [e["summary"] for e in annotations] == ["Rerunning the model", "Firefighters are on the scene."]
    kinds = [e["type"] for e in rest.iter_all(f"incidents/{incident['id']}/log_entries")]
    assert kinds[-1] == "trigger_log_entry" and kinds.count("annotate_log_entry") == 2


def test_directory_endpoints(pd, rest):
    assert [u["id"] for u in rest.iter_all("users", params={"query": "bob"})] == [BOB]
    assert [u["id"] for u in rest.rget("users", params={"query": "carol@"})] == [CAROL]
    assert rest.find("users", "ada@example.com", attribute="email")["id"] == ADA
    assert rest.rget(f"users/{BOB}")["time_zone"] == "Europe/Paris"
    assert [s["id"] for s in rest.iter_all("services")] == ["PSVC001", "PSVC002"]
    policy = rest.rget("escalation_policies/PEP0001")
    assert [[t["id"] for t in r["targets"]] for r in policy["escalation_rules"]] == [[ADA], [BOB]]
    assert [p["name"] for p in rest.iter_all("priorities")] == ["P1", "P2", "P3", "P4", "P5"]
    assert rest.get("nothing/here").json() == {"error": {"message": "Not Found", "code": 2100}}


def test_oncalls_now_and_next_follow_the_scripted_clock(pd, other_events, rest):
    pd.add_schedule("PSCHED1", "Data rotation", shifts=[
        (ADA, "2025-01-06T00:00:00Z", "2025-01-06T08:00:00Z"),
        (BOB, "2025-01-06T08:00:00Z", "2025-01-06T16:00:00Z"),
        (CAROL, "2025-01-06T16:00:00Z", "2025-01-07T00:00:00Z"),
        (ADA, "2025-01-07T00:00:00Z", "2025-01-07T08:00:00Z"),
    ], escalation_policy_id="PEP0002")
    pd.now = "2025-01-06T09:30:00Z"

    now = rest.rget("oncalls", params={"schedule_ids[]": ["PSCHED1"]})
    assert [(o["user"]["id"], o["start"], o["end"]) for o in now] == [
        (BOB, "2025-01-06T08:00:00Z", "2025-01-06T16:00:00Z")]
    entry = now[0]
    assert set(entry) == set(json.loads(sample("pagerduty_rest_oncalls_response.json"))["oncalls"][0])
    assert entry["schedule"]["type"] == "schedule_reference" and entry["escalation_policy"]["id"] == "PEP0002"
    assert entry["escalation_level"] == 1

    everyone = rest.rget("oncalls", params={"escalation_policy_ids[]": ["PEP0002"]})
    assert [(o["user"]["id"], o["schedule"] and o["schedule"]["id"]) for o in everyone] == [
        (CAROL, None), (BOB, "PSCHED1")]  # CAROL is a direct (permanent) target: no schedule, no start/end

    upcoming = rest.rget("oncalls", params={"schedule_ids[]": ["PSCHED1"], "earliest": "true",
                                            "since": "2025-01-06T09:30:00Z", "until": "2025-01-08T00:00:00Z"})
    assert [(o["user"]["id"], o["start"]) for o in upcoming] == [
        (BOB, "2025-01-06T08:00:00Z"), (CAROL, "2025-01-06T16:00:00Z"), (ADA, "2025-01-07T00:00:00Z")]

    pd.advance(hours=8)  # 17:30
    assert [o["user"]["id"] for o in rest.rget("oncalls", params={"schedule_ids[]": ["PSCHED1"]})] == [CAROL]
    other_events.trigger("platform down", "k8s", dedup_key="plat")
    assert {a["assignee"]["id"] for a in pd.incident_by_key("plat")["assignments"]} == {CAROL}
    assert pd.incident_by_key("plat")["created_at"] == "2025-01-06T17:30:00Z"


def test_429_carries_rate_limit_headers_and_the_client_retries(pd, rest, base_url):
    pd.inject_fault("GET /users", 429, count=2, retry_after=20)
    assert [u["id"] for u in rest.rget("users")] == [ADA, BOB, CAROL]  # retried twice, silently, by default
    assert [r["status"] for r in pd.requests("GET", "/users")] == [429, 429, 200]

    rest.retry[429] = 1  # give up after one retry: the 429 then surfaces
    pd.inject_fault("GET /users", 429, count=2, retry_after=20)
    with pytest.raises(pagerduty.HttpError) as excinfo:
        rest.rget("users")
    answer = excinfo.value.response
    assert answer.status_code == 429
    assert (answer.headers["ratelimit-limit"], answer.headers["ratelimit-remaining"],
            answer.headers["ratelimit-reset"]) == ("960", "0", "20")
    assert answer.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}

    pd.inject_fault("PUT", 500, count=1)
    plain = httpx.put(base_url + "/incidents/X", headers={"Authorization": f"Token token={TOKEN}"})
    assert plain.status_code == 500 and plain.text == "Internal Server Error"


# --------------------------------------------------------------------------- v3 webhooks


def _types(receiver: Receiver) -> list[str]:
    return [json.loads(body)["event"]["event_type"] for _, body in receiver.received]


def test_webhooks_are_signed_ordered_and_rotate(pd, events, rest, receiver, hook_url):
    sub = pd.subscribe(hook_url, "first-secret")
    events.trigger("orders stale", "warehouse", dedup_key="orders")
    [incident] = pd.incidents()
    rest.rput(f"incidents/{incident['id']}", json={"type": "incident_reference", "status": "acknowledged"})
    assert pd.flush_webhooks(5)
    assert _types(receiver) == ["incident.triggered", "incident.acknowledged"]
    for headers, body in receiver.received:
        assert headers["content-type"] == "application/json"
        assert headers["x-webhook-subscription"] == sub["id"]
        assert verify("first-secret", body, headers["x-pagerduty-signature"])
    assert len({h["x-webhook-id"] for h, _ in receiver.received}) == 2

    triggered = json.loads(receiver.received[0][1])["event"]
    acked = json.loads(receiver.received[1][1])["event"]
    shape = json.loads(sample("pagerduty_v3_incident_priority_updated.json"))["event"]
    assert set(triggered) == set(shape) and set(triggered["data"]) == set(shape["data"])
    assert triggered["resource_type"] == "incident" and triggered["data"]["incident_key"] == "orders"
    assert triggered["agent"]["type"] == "service_reference"
    assert acked["agent"] == {**acked["agent"], "id": ADA, "type": "user_reference"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", acked["occurred_at"])

    pd.rotate_secret("second-secret")
    pd.act(incident["id"], "annotate", BOB, content="looking")
    pd.finish_rotation()
    pd.act(incident["id"], "resolve", BOB)
    assert pd.flush_webhooks(5)
    (h3, b3), (h4, b4) = receiver.received[2:]
    assert len(h3["x-pagerduty-signature"].split(",")) == 2
    assert verify("second-secret", b3, h3["x-pagerduty-signature"])
    assert verify("first-secret", b3, h3["x-pagerduty-signature"])
    assert verify("second-secret", b4, h4["x-pagerduty-signature"])
    assert not verify("first-secret", b4, h4["x-pagerduty-signature"])
    assert json.loads(b3)["event"]["data"] == {**json.loads(b3)["event"]["data"], "type": "incident_note",
                                               "content": "looking", "trimmed": False}


def test_webhook_retries_drops_and_permanent_errors(pd, events, receiver, hook_url):
    pd.subscribe(hook_url, "s3cret", events=["incident.triggered", "incident.resolved"])
    receiver.fail_with = [500, 429]
    events.trigger("a", "src", dedup_key="a")
    events.acknowledge("a")  # not subscribed: no webhook
    pd.drop_next_webhooks(1)
    events.resolve("a")  # lost
    events.trigger("b", "src", dedup_key="b")
    assert pd.flush_webhooks(5)
    sent = pd.deliveries()
    assert [(d["event_type"], d["state"], d["attempts"]) for d in sent] == [
        ("incident.triggered", "delivered", [500, 429, 202]),
        ("incident.resolved", "dropped", []),
        ("incident.triggered", "delivered", [202])]
    ids = [h["x-webhook-id"] for h, _ in receiver.received]
    assert ids[:3] == [sent[0]["id"]] * 3 and ids[3] == sent[2]["id"]  # the same X-Webhook-Id on each retry
    assert [json.loads(b)["event"]["data"]["incident_key"] for _, b in receiver.received] == ["a", "a", "a", "b"]

    receiver.fail_with = [410]
    events.resolve("b")
    assert pd.flush_webhooks(5)
    assert pd.deliveries()[-1]["attempts"] == [410] and pd.deliveries()[-1]["state"] == "failed"


def test_act_produces_the_right_event_types_in_order(pd, events, receiver, hook_url):
    pd.subscribe(hook_url, "s3cret")
    events.trigger("orders stale", "warehouse", dedup_key="orders")
    iid = pd.incidents()[0]["id"]
    pd.act(iid, "acknowledge", ADA)
    pd.act(iid, "unacknowledge", None)
    pd.act(iid, "reassign", ADA, user_ids=[CAROL])
    pd.act(iid, "escalate", ADA)
    after = pd.act(iid, "priority", ADA, name="P1")
    assert after["priority"]["summary"] == "P1" and after["escalation_level"] == 2
    pd.act(iid, "annotate", BOB, content="root cause: late upstream file")
    pd.act(iid, "add_responder", BOB, responder_id=CAROL, message="please join")
    pd.act(iid, "resolve", BOB)
    reopened = pd.act(iid, "reopen", BOB)
    assert reopened["status"] == "triggered"
    with pytest.raises(ValueError):
        pd.act(iid, "reopen", BOB)
    assert pd.flush_webhooks(5)
    assert _types(receiver) == [
        "incident.triggered", "incident.acknowledged", "incident.unacknowledged", "incident.reassigned",
        "incident.escalated", "incident.priority_updated", "incident.annotated", "incident.responder.added",
        "incident.resolved", "incident.reopened"]
    payloads = [json.loads(b)["event"] for _, b in receiver.received]
    assert payloads[2]["agent"] is None and payloads[1]["client"] == {"name": "PagerDuty"}
    assert [a["id"] for a in payloads[3]["data"]["assignees"]] == [CAROL]
    assert [a["id"] for a in payloads[4]["data"]["assignees"]] == [BOB]  # level 2 of the policy
    assert payloads[5]["data"]["priority"]["summary"] == "P1"
    assert payloads[7]["data"]["type"] == "incident_responder" and payloads[7]["data"]["user"]["id"] == CAROL
    assert all(verify("s3cret", b, h["x-pagerduty-signature"]) for h, b in receiver.received)


def test_check_request_without_http(pd):
    ok = pd.check_request("PUT", "/incidents/Q1", {"From": "ada@example.com"},
                          json.loads(sample("pagerduty_rest_update_incident_request.json")))
    assert ok is None
    assert pd.check_request("PUT", "/incidents/Q1", {}, {"incident": {"type": "incident"}})["error"]["code"] == 2016
    assert pd.check_request("POST", "/incidents/Q1/notes", {"From": "ada@example.com"},
                            {"note": {}}) == {"status": 400, "error": {"message": "Invalid Input Provided",
                                                                       "code": 2001,
                                                                       "errors": ["Note content is required"]}}
    assert pd.check_request("DELETE", "/incidents/Q1")["status"] == 404
