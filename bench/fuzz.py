"""The edge fuzzer: mutated vendor payloads to every webhook and signed random bodies to /slack/events of a
running dre-bot, counting answers by status and tracebacks in its log. Target: 0 5xx and 0 tracebacks.

Loopback only; it stops by itself after --count requests or --seconds, whichever comes first. Requests are
signed the way each sender signs (bearer token, Monte Carlo's HMAC-SHA512, PagerDuty's v1= HMAC-SHA256, Slack's
v0= signature), so most of them reach the parsers behind authentication, which is where the bugs live.

    python bench/fuzz.py --url http://127.0.0.1:3000 [--count 2000] [--seconds 60] [--seed 1] [--log bot.log]
                         [--token T] [--mc-secret S] [--pd-secret S] [--slack-secret S] [--json]

The exit status is 1 when any answer was a 5xx or the log gained a traceback.
"""
from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [ROOT / "tests" / "fixtures", ROOT / "examples" / "alerts"]
PREFIXES = {"alertmanager": "alertmanager", "gcp_monitoring": "gcp-monitoring", "montecarlo": "montecarlo",
            "generic": "generic", "pagerduty_v3": "pagerduty"}

# Values that have broken parsers before: huge and odd numbers, lone surrogates, other schemes, mentions.
NASTY: list[Any] = [
    None, True, 0, -1, 2 ** 63, 10 ** 40, -(10 ** 40), 1e30, -1e30, 1e308, 0.5, "", " ", "\ud800", "a\udfffb",
    "javascript:alert(1)", "data:text/html,<script>x</script>", "<!channel>", "<@U0ALICE01>", "x" * 5000,
    "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "+1e30", "0001-01-01T00:00:00Z", "not a time", [], {},
    [1, "two", None], {"nested": {"deeper": [{}]}}, "pending", "firing", "resolved", "open", "closed",
]


def _seed_payloads() -> list[tuple[str, Any]]:
    seeds = []
    for folder in SEEDS:
        for path in sorted(folder.glob("*.json")):
            source = next((s for p, s in PREFIXES.items() if path.stem.startswith(p)), None)
            if source is None:
                continue
            try:
                seeds.append((source, json.loads(path.read_text())))
            except ValueError:
                continue
    if not seeds:
        raise SystemExit(f"no seed payloads under {', '.join(map(str, SEEDS))}")
    return seeds


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a document a value can be swapped."""
    out = [prefix]
    if len(prefix) > 20:        # inside a deep node this run made: its top is enough
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _deep(rng: random.Random) -> Any:
    node: Any = rng.choice([[], {}, "bottom"])
    for _ in range(rng.choice([30, 70, 200])):
        node = [node] if rng.random() < 0.5 else {"k": node}
    return node


def mutate(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 4)):
        paths = _paths(doc)
        path = rng.choice(paths)
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        what = rng.random()
        if what < 0.6:
            parent[path[-1]] = copy.deepcopy(rng.choice(NASTY))
        elif what < 0.75 and isinstance(parent, dict):
            del parent[path[-1]]
        elif what < 0.85:
            parent[path[-1]] = _deep(rng)
        elif isinstance(parent, list):
            parent.append(parent[path[-1]])        # shared, not copied: it may be thousands deep
        else:
            parent[path[-1]] = str(parent[path[-1]])
    return doc


def _dumps(doc: Any, ensure_ascii: bool = True) -> str:
    try:
        return json.dumps(doc, ensure_ascii=ensure_ascii)
    except RecursionError:      # deeper than json.dumps goes: send a deep body of the same kind instead
        return '{"deep": ' + "[" * 5000 + "]" * 5000 + "}"


def _bytes(doc: Any, rng: random.Random) -> bytes:
    body = _dumps(doc, ensure_ascii=rng.random() < 0.7).encode("utf-8", "surrogatepass")
    roll = rng.random()
    if roll < 0.03:             # deeper than any parser's stack: the body is replaced by a deep one
        body = body[:1] + b'"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}" if body.startswith(b"{") else body
    elif roll < 0.05:
        body = body[:rng.randint(0, len(body))]                 # cut short
    elif roll < 0.08:
        i = rng.randrange(len(body)) if body else 0
        body = body[:i] + bytes([rng.randrange(256)]) + body[i + 1:]   # one byte flipped
    return body


class Signer:
    def __init__(self, token: str, mc_secret: str, pd_secret: str, slack_secret: str):
        self.token, self.mc_secret, self.pd_secret, self.slack_secret = token, mc_secret, pd_secret, slack_secret

    def webhook(self, source: str, body: bytes, rng: random.Random) -> dict[str, str]:
        h = {"Content-Type": "application/json" if rng.random() < 0.95 else rng.choice(["text/plain", ""])}
        if source == "montecarlo":
            try:
                signed = urllib.parse.urlencode(json.loads(body)).encode("utf8")
                h["x-mcd-signature"] = hmac.new(self.mc_secret.encode(), signed, hashlib.sha512).hexdigest()
            except Exception:   # not signable the way Monte Carlo signs: it goes unsigned, as a stranger's would
                h["x-mcd-signature"] = "00"
        elif source == "pagerduty":
            h["X-PagerDuty-Signature"] = "v1=" + hmac.new(self.pd_secret.encode(), body, hashlib.sha256).hexdigest()
            h["X-Webhook-Id"] = f"fuzz-{rng.getrandbits(48):x}"
        elif rng.random() < 0.5 or source == "generic":
            h["Authorization"] = f"Bearer {self.token}"
        else:
            h["Authorization"] = "Basic " + base64.b64encode(f"dre:{self.token}".encode()).decode()
        return h

    def slack(self, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        sig = "v0=" + hmac.new(self.slack_secret.encode(), b"v0:" + ts.encode() + b":" + body,
                               hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


class _Sink(BaseHTTPRequestHandler):
    """Stands in for Slack's response_url: what the bot answers there is read and dropped."""

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


RESPONSE_URL = "http://127.0.0.1:9/response/fuzz"


def slack_body(rng: random.Random) -> tuple[bytes, str]:
    """A signed body of one of the kinds Slack sends, with its fields swapped for nasty values."""
    fixtures = ROOT / "tests" / "fixtures"
    kind = rng.random()
    if kind < 0.35:
        payload = json.loads((fixtures / "slack_block_actions.json").read_text())
        payload["actions"][0]["action_id"] = rng.choice(["incident_ack", "incident_resolve", "incident_silence_1h",
                                                         "handoff_ack", "handoff_note", "other"])
        payload["response_url"] = RESPONSE_URL
        form = {"payload": _dumps(mutate(payload, rng))}
        return urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    if kind < 0.6:
        fields = dict(urllib.parse.parse_qsl((fixtures / "slack_slash_command.txt").read_text()))
        fields.update(command="/dre", response_url=RESPONSE_URL,
                      text=rng.choice(["status", "ack INC-1", "resolve INC-999999999999999999999", "silence",
                                       "diag INC-1 x", "\ud800", "<!channel>", "help", "ack INC-" + "9" * 40]))
        for key in rng.sample(sorted(fields), rng.randint(0, 2)):
            fields[key] = rng.choice(["", "x" * 300, "\u0000", "1e999"])
        return urllib.parse.urlencode(fields, errors="surrogatepass").encode(), "application/x-www-form-urlencoded"
    if kind < 0.8:
        event = {"type": rng.choice(["app_mention", "message", "app_home_opened"]), "user": "U0ALICE01",
                 "text": "<@U0DREBOT> ack", "channel": "C0000001", "ts": "1.2", "thread_ts": "1.1"}
        doc = {"type": "event_callback", "event_id": f"Ev{rng.getrandbits(40):X}", "team_id": "T0DRESBOX",
               "event": event}
        return _bytes(mutate(doc, rng), rng), "application/json"
    if kind < 0.9:
        view = {"type": "view_submission", "user": {"id": "U0ALICE01"},
                "view": {"type": "modal", "callback_id": rng.choice(["resolve_modal", "silence_modal",
                                                                     "handoff_note_modal"]),
                         "private_metadata": json.dumps({"i": 1, "c": "C0000001"}),
                         "state": {"values": {"cause": {"value": {"selected_option": {"value": "bug"}}},
                                              "note": {"value": {"value": "x"}}}}}}
        form = {"payload": _dumps(mutate(view, rng))}
        return urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300))), \
        rng.choice(["application/json", "application/x-www-form-urlencoded"])


def _tracebacks(log: Path | None, offset: int) -> int:
    if log is None or not log.exists():
        return 0
    with open(log, "rb") as f:
        f.seek(offset)
        return f.read().count(b"Traceback (most recent call last)")


def run(url: str, *, count: int, seconds: float, seed: int, signer: Signer, log: Path | None = None,
        slack_share: float = 0.25) -> dict[str, Any]:
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit(f"refusing to fuzz {url}: loopback only")
    global RESPONSE_URL
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    RESPONSE_URL = f"http://127.0.0.1:{sink.server_address[1]}/response/fuzz"
    try:
        return _run(url, count, seconds, seed, signer, log, slack_share)
    finally:
        sink.shutdown()


def _run(url: str, count: int, seconds: float, seed: int, signer: Signer, log: Path | None,
         slack_share: float) -> dict[str, Any]:
    rng = random.Random(seed)
    seeds = _seed_payloads()
    offset = log.stat().st_size if log is not None and log.exists() else 0
    statuses: Counter = Counter()
    by_target: dict[str, Counter] = {}
    five_xx: list[dict] = []
    deadline = time.monotonic() + seconds
    sent = 0
    with httpx.Client(timeout=15) as client:
        while sent < count and time.monotonic() < deadline:
            if rng.random() < slack_share:
                body, ctype = slack_body(rng)
                target, headers = "slack", {"Content-Type": ctype, **signer.slack(body)}
                path = "/slack/events"
            else:
                source, doc = rng.choice(seeds)
                body = _bytes(mutate(doc, rng) if rng.random() < 0.9 else doc, rng)
                target, headers, path = source, signer.webhook(source, body, rng), f"/webhooks/{source}"
            try:
                status = client.post(url + path, content=body, headers=headers).status_code
            except httpx.HTTPError as exc:
                status = f"error:{type(exc).__name__}"
            sent += 1
            statuses[status] += 1
            by_target.setdefault(target, Counter())[status] += 1
            if isinstance(status, int) and status >= 500 and len(five_xx) < 20:
                five_xx.append({"target": target, "status": status, "body": body[:300].decode("utf-8", "replace")})
    time.sleep(1.0)     # the worker parses what was accepted; its tracebacks count too
    return {
        "sent": sent, "seconds": round(seconds - max(0.0, deadline - time.monotonic()), 2), "seed": seed,
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "by_target": {t: {str(k): v for k, v in c.items()} for t, c in sorted(by_target.items())},
        "five_xx": sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500),
        "transport_errors": sum(v for k, v in statuses.items() if isinstance(k, str)),
        "tracebacks": _tracebacks(log, offset), "five_xx_samples": five_xx,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log", type=Path, help="the bot's log, to count tracebacks in")
    parser.add_argument("--token", default="test-webhook-token", help="DRE_WEBHOOK_TOKEN of the bot")
    parser.add_argument("--mc-secret", default="mc-test-secret", help="MONTECARLO_WEBHOOK_SECRET of the bot")
    parser.add_argument("--pd-secret", default="pd-webhook-secret", help="PAGERDUTY_WEBHOOK_SECRET of the bot")
    parser.add_argument("--slack-secret", default="test-signing-secret", help="SLACK_SIGNING_SECRET of the bot")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = run(args.url.rstrip("/"), count=args.count, seconds=args.seconds, seed=args.seed, log=args.log,
                 signer=Signer(args.token, args.mc_secret, args.pd_secret, args.slack_secret))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"sent {result['sent']} requests in {result['seconds']} s (seed {result['seed']})")
        for target, counts in result["by_target"].items():
            print(f"  {target:15} " + "  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        print(f"5xx: {result['five_xx']}   tracebacks in the log: {result['tracebacks']}"
              f"{'' if args.log else ' (no --log given)'}   transport errors: {result['transport_errors']}")
        for sample in result["five_xx_samples"][:5]:
            print(f"  {sample['status']} from {sample['target']}: {sample['body'][:120]!r}")
    sys.exit(1 if result["five_xx"] or result["tracebacks"] else 0)


if __name__ == "__main__":
    main()
