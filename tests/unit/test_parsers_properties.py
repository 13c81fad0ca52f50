"""Properties of every webhook parser (the four sources and the PagerDuty v3 envelope), for any JSON at all:
check() either passes or raises ShapeError naming a field; parse() either returns Alerts or raises ShapeError,
never anything else; every Alert it returns can be stored (no lone surrogates, no integer SQLite refuses) and
carries only http(s) links."""
import json
import sqlite3

from hypothesis import HealthCheck, given, settings, strategies as st

from bot.alert import Alert, web_url
from bot.sources import pagerduty
from bot.sources import SOURCES
from bot.sources.base import BadJSON, MAX_DEPTH, ShapeError, parse_json
from tests.conftest import sample

NASTY_TEXT = st.sampled_from(["", " ", "\ud800", "a\udfffb", "javascript:alert(1)", "data:text/html,x",
                              "<!channel>", "firing", "resolved", "pending", "open", "closed", "1e30",
                              "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "http://ok.example/x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), NASTY_TEXT)
JSON = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8) | NASTY_TEXT, children, max_size=5)),
    max_leaves=30)

SEEDS = {
    "alertmanager": json.loads(sample("alertmanager_webhook_firing.json")),
    "gcp-monitoring": json.loads(sample("gcp_monitoring_open_v1.2.json")),
    "montecarlo": json.loads(sample("montecarlo_custom_rule_incident.json")),
    "generic": json.loads(sample("generic_job_failure.json")),
}
PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, seed):
    """A vendor's own payload with a few of its values replaced by anything JSON can hold."""
    doc = json.loads(json.dumps(seed))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(JSON)
    return doc


def _storable(alert: Alert) -> None:
    conn = sqlite3.connect(":memory:")
    values = [alert.source, alert.fingerprint, alert.title, alert.summary, alert.started_at, alert.ended_at,
              json.dumps(dict(alert.labels)), json.dumps([l.url for l in alert.links])]
    conn.execute("CREATE TABLE t (" + ", ".join(f"c{i}" for i in range(len(values))) + ")")
    conn.execute("INSERT INTO t VALUES (" + ", ".join("?" * len(values)) + ")", values)   # raises if not


def _check_parser(source, doc) -> None:
    try:
        source.check(doc)
    except ShapeError as exc:
        assert exc.field
        return
    try:
        alerts = source.parse(doc)
    except ShapeError as exc:
        assert exc.field
        return
    for alert in alerts:
        assert isinstance(alert, Alert)
        assert all(web_url(link.url) for link in alert.links)
        _storable(alert)


def _through_the_wire(doc):
    """As the worker reads it: the bytes a sender sent, parsed with the depth limit and surrogates replaced."""
    return parse_json(json.dumps(doc).encode())


@PROFILE
@given(data=st.data(), name=st.sampled_from(sorted(SOURCES)))
def test_every_source_parses_mutated_vendor_payloads_or_names_the_field(data, name):
    doc = data.draw(mutated(SEEDS[name]))
    _check_parser(SOURCES[name], _through_the_wire(doc))


@PROFILE
@given(doc=JSON, name=st.sampled_from(sorted(SOURCES)))
def test_every_source_takes_any_json_without_a_crash(doc, name):
    _check_parser(SOURCES[name], _through_the_wire(doc))


@PROFILE
@given(data=st.data())
def test_pagerduty_envelope_accepts_only_what_the_worker_can_apply(data):
    doc = data.draw(mutated(json.loads(sample("pagerduty_v3_incident_priority_updated.json"))))
    try:
        pagerduty.check(doc)
    except ShapeError as exc:
        assert exc.field.startswith(("event", "body"))
        return
    event = doc["event"]
    conn = sqlite3.connect(":memory:")
    # Everything apply() binds into SQL is text or absent once the envelope passed.
    for value in (event.get("id"), event["data"].get("id"), event["data"].get("html_url"),
                  event["data"].get("incident_key"), (event["data"].get("service") or {}).get("id")):
        conn.execute("SELECT ?", (value,))


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 5000), opener=st.sampled_from(["[", '{"a":']))
def test_parse_json_refuses_deep_nesting_with_bad_json_never_recursion(depth, opener):
    closer = "]" if opener == "[" else "}"
    body = (opener * depth + "1" + closer * depth).encode()
    try:
        parse_json(body)
    except BadJSON as exc:
        assert depth > MAX_DEPTH - 1 and "nested" in str(exc)
    else:
        assert depth <= MAX_DEPTH


@PROFILE
@given(text=st.text())
def test_parse_json_leaves_no_lone_surrogate(text):
    doc = parse_json(json.dumps({"t": text, text: [text]}).encode())
    json.dumps(doc, ensure_ascii=False).encode("utf-8")      # raises on a lone surrogate
