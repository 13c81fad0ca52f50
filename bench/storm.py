"""The storm benchmark: many alerts across many tables, one per request, against a real `dre-bot serve`.

Reports, from one run on one machine:
  1. durable alerts accepted per second (202 = the body is committed to SQLite), beside a bare ASGI endpoint
     that only reads the body and answers 202 (bench/bare_endpoint.py), measured in the same run, rounds
     alternating bare, bot, bare, bot, ... and the median of each taken;
  2. alert-to-Slack-post latency p50/p99/max at a paced, open-loop 20 alerts/s, each alert on a new table
     (so each opens an incident and posts a card): the Slack emulator's time of the chat.postMessage that
     posted the card minus the time the load generator sent the alert.

Everything runs on 127.0.0.1: the Slack emulator in this process (a ThreadedServer), the bot and the bare
endpoint as subprocesses, the load generator in its own process (the same one for both targets).

    python bench/storm.py [--requests N] [--seconds S] [--rate R] [--rounds K] [--concurrency C]

`--lineage` runs the lineage storm instead (issue 13): 10,000 events over 30 s on 200 tables fed by 3 failing
upstreams, with no pipeline labels, dre-bot grouping by a dbt manifest, then prometheus-alertmanager grouping the
same events by table; written to bench/results/lineage-storm-<timestamp>.json.

Figures are printed as a table and written to bench/results/storm-<timestamp>.json. See docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import re
import shutil
import sqlite3
import ssl
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import (ALERTMANAGER_HINT, ROOT, RESULTS, Receiver, _cpu_self, _headers, _lean_httpx, _summary,
                    alertmanager_binary, durable_rows, machine, make_alertmanager, make_bare, make_bot, open_loop)

CHANNELS = 100                      # tables are spread round-robin over this many Slack channels
TITLE_RE = re.compile(r"bench ([a-z0-9]+-\d{6}) ")


# --- the load generator (runs in its own process) --------------------------------------------------------------

def _alert(tag: str, i: int, table: int) -> bytes:
    return json.dumps({
        "title": f"bench {tag}-{i:06d} row count anomaly",
        "dedup_key": f"{tag}-{i:06d}",
        "severity": "sev3",
        "labels": {"table": f"analytics.t{table:06d}"},
    }).encode()


def run_throughput(url: str, requests: int, concurrency: int, tables: int, tag: str, warmup: int) -> dict:
    """Closed loop: `concurrency` requests in flight over keep-alive connections until `requests` are sent."""
    return asyncio.run(_throughput(url, requests, concurrency, tables, tag, warmup))


async def _throughput(url: str, requests: int, concurrency: int, tables: int, tag: str, warmup: int) -> dict:
    _lean_httpx()
    import httpx

    endpoint = f"{url}/webhooks/generic"
    headers = _headers()
    warm = [_alert(f"{tag}w", i, 900000 + i % tables) for i in range(warmup)]
    bodies = [_alert(tag, i, i % tables) for i in range(requests)]
    statuses: dict[str, int] = {}
    acks: list[float] = []
    # One client with one keep-alive connection per lane: httpcore's pool scans every connection for every
    # request, which costs more than the request itself at 32 connections in one pool.
    plain = ssl.create_default_context()    # never used (http:// only); shared so 32 clients load no CA files
    clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1), timeout=30.0,
                                 verify=plain) for _ in range(concurrency)]

    async def drive(items: list[bytes], record: bool) -> None:
        it = iter(items)

        async def one_lane(client) -> None:
            for body in it:                # the lanes share one iterator: each body is sent once
                t = time.perf_counter()
                try:
                    r = await client.post(endpoint, content=body, headers=headers)
                    key = str(r.status_code)
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    key = type(exc).__name__
                if record:
                    acks.append(time.perf_counter() - t)
                    statuses[key] = statuses.get(key, 0) + 1
        await asyncio.gather(*(one_lane(c) for c in clients))

    try:
        await drive(warm, record=False)    # opens the connections and warms both servers' code paths
        cpu0, t0 = _cpu_self(), time.perf_counter()
        await drive(bodies, record=True)
        elapsed, cpu = time.perf_counter() - t0, _cpu_self() - cpu0
    finally:
        for c in clients:
            await c.aclose()
    accepted = statuses.get("202", 0)
    return {"requests": requests, "accepted": accepted, "statuses": statuses, "seconds": elapsed,
            "accepted_per_s": accepted / elapsed if elapsed > 0 else 0.0,
            "ack_ms": _summary([a * 1000 for a in acks]), "loadgen_cpu_s": cpu}


def run_paced(url: str, rate: float, seconds: float, tag: str) -> dict:
    """Open loop: one alert every 1/rate s on schedule, whether or not earlier ones were answered."""
    return asyncio.run(_paced(url, rate, seconds, tag))


async def _paced(url: str, rate: float, seconds: float, tag: str) -> dict:
    _lean_httpx()
    import httpx

    endpoint = f"{url}/webhooks/generic"
    headers = _headers()
    n = max(1, int(rate * seconds))
    bodies = [_alert(tag, i, i) for i in range(n)]       # a new table each: a new incident, a new card
    sent: dict[str, dict] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        for _ in range(4):                                # warm the connection pool (healthz only: no alerts)
            await client.get(f"{url}/healthz")

        async def send(i: int) -> None:
            key = f"{tag}-{i:06d}"
            at, t = time.time(), time.perf_counter()
            try:
                r = await client.post(endpoint, content=bodies[i], headers=headers)
                status = str(r.status_code)
            except Exception as exc:  # noqa: BLE001
                status = type(exc).__name__
            sent[key] = {"sent_at": at, "status": status, "ack_ms": (time.perf_counter() - t) * 1000}

        start = time.perf_counter() + 0.1
        tasks, lag = await open_loop(n, rate, send, start)
        send_span = time.perf_counter() - start
        await asyncio.gather(*tasks)
    return {"sent": sent, "send_span_s": send_span, "max_schedule_lag_ms": lag * 1000}


# --- the phases ------------------------------------------------------------------------------------------------------

def phase_throughput(args, pool, slack, work: Path) -> dict:
    warmup = min(200, max(args.concurrency * 2, args.requests // 20))
    rounds: dict[str, list[dict]] = {"bare": [], "bot": []}
    for r in range(args.rounds):
        for target in ("bare", "bot"):
            tag = f"{target[:3]}{r}"
            if target == "bare":
                server = make_bare(work)
            else:
                server = make_bot(work / f"bot-{tag}", slack.url)
            server.start()
            try:
                cpu0, main0 = server.cpu(), _cpu_self()
                res = pool.submit(run_throughput, server.url, args.requests, args.concurrency, args.tables, tag,
                                  warmup).result(timeout=300)
                res["server_cpu_s"] = server.cpu() - cpu0          # includes the warm-up, a small part
                res["emulator_cpu_s"] = _cpu_self() - main0         # this process: the Slack emulator
            finally:
                server.stop()
            if target == "bot":
                res["durable_rows"] = durable_rows(Path(server.env["DRE_DB"]))
                res["durable_expected"] = warmup + res["accepted"]
            rounds[target].append(res)
            print(f"  round {r + 1} {target:4}: {res['accepted_per_s']:8.0f} accepted/s  "
                  f"({res['accepted']}/{res['requests']} in {res['seconds']:.2f}s, ack p99 {res['ack_ms']['p99']} ms, "
                  f"server CPU {res['server_cpu_s']:.1f}s, load generator CPU {res['loadgen_cpu_s']:.1f}s)",
                  flush=True)
            time.sleep(0.5)
    bare = statistics.median(x["accepted_per_s"] for x in rounds["bare"])
    bot = statistics.median(x["accepted_per_s"] for x in rounds["bot"])
    return {"requests": args.requests, "concurrency": args.concurrency, "tables": args.tables, "warmup": warmup,
            "rounds": rounds, "bare_accepted_per_s": round(bare, 1), "bot_accepted_per_s": round(bot, 1),
            "ratio": round(bot / bare, 3) if bare else 0.0,
            "all_202": all(x["accepted"] == x["requests"] for xs in rounds.values() for x in xs),
            "all_durable": all(x["durable_rows"] == x["durable_expected"] for x in rounds["bot"])}


def card_posts(slack) -> dict[str, float]:
    """key -> emulator time of the first successful chat.postMessage that posted that alert's card."""
    out: dict[str, float] = {}
    for call in slack.calls("chat.postMessage"):
        params = call["params"]
        if not call["ok"] or params.get("thread_ts"):
            continue
        m = TITLE_RE.search(str(params.get("text", "")))
        if m and m.group(1) not in out:
            out[m.group(1)] = call["at"]
    return out


def phase_latency(args, pool, slack, work: Path) -> dict:
    slack.reset()
    bot = make_bot(work / "bot-latency", slack.url).start()
    try:
        cpu0 = bot.cpu()
        res = pool.submit(run_paced, bot.url, args.rate, args.seconds, "lat").result(timeout=args.seconds + 120)
        sent = res["sent"]
        deadline = time.monotonic() + args.wait
        posts = card_posts(slack)
        while len(set(sent) - set(posts)) and time.monotonic() < deadline:
            time.sleep(0.5)
            posts = card_posts(slack)
        bot_cpu = bot.cpu() - cpu0
    finally:
        bot.stop()
    lat = [(posts[k] - v["sent_at"]) * 1000 for k, v in sent.items() if k in posts]
    statuses: dict[str, int] = {}
    for v in sent.values():
        statuses[v["status"]] = statuses.get(v["status"], 0) + 1
    return {"rate": args.rate, "seconds": args.seconds, "sent": len(sent), "statuses": statuses,
            "posted": sum(1 for k in sent if k in posts), "send_span_s": round(res["send_span_s"], 2),
            "achieved_rate": round((len(sent) - 1) / res["send_span_s"], 2) if res["send_span_s"] > 0 else 0.0,
            "max_schedule_lag_ms": round(res["max_schedule_lag_ms"], 1), "bot_cpu_s": round(bot_cpu, 2),
            "alert_to_post_ms": _summary(lat), "ack_ms": _summary([v["ack_ms"] for v in sent.values()])}


# --- the lineage storm (issue 13): one thread per root cause, with no pipeline labels ---------------------------------

STORM_ROOTS = 3


def storm_manifest(tables: int) -> dict:
    """A dbt manifest (schema v12 shape, fields as bot/lineage/dbt.py reads them): raw.src1..3 feed `tables` models
    in chains (t000..t002 read the sources, every other table reads an earlier one of its root), and a date
    dimension every model reads, which must not merge the three roots."""
    def node(uid: str, schema: str, name: str, deps: list[str], rtype: str = "model") -> dict:
        return {"unique_id": uid, "resource_type": rtype, "database": "bench", "schema": schema, "name": name,
                "alias": name, "package_name": "bench", "depends_on": {"macros": [], "nodes": deps}}
    nodes = {"seed.bench.dim_date": node("seed.bench.dim_date", "analytics", "dim_date", [], "seed")}
    for i in range(tables):
        root = i % STORM_ROOTS
        up = f"source.bench.raw.src{root + 1}" if i < STORM_ROOTS else f"model.bench.t{(i // 2) // STORM_ROOTS * STORM_ROOTS + root:03d}"
        if up == f"model.bench.t{i:03d}":
            up = f"source.bench.raw.src{root + 1}"
        nodes[f"model.bench.t{i:03d}"] = node(f"model.bench.t{i:03d}", "analytics", f"t{i:03d}",
                                              [up, "seed.bench.dim_date"])
    sources = {f"source.bench.raw.src{k + 1}": {"unique_id": f"source.bench.raw.src{k + 1}", "resource_type": "source",
                                                "database": "bench", "schema": "raw", "name": f"src{k + 1}",
                                                "identifier": f"src{k + 1}"} for k in range(STORM_ROOTS)}
    return {"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
                         "dbt_version": "1.8.7"}, "nodes": nodes, "sources": sources}


def storm_events(events: int, tables: int, seed: int = 13) -> list[str]:
    """The table each event names: the three sources first (they fail first), then the storm across the models,
    every table at least once, the rest at random (monitors repeat themselves)."""
    import random
    rng = random.Random(seed)
    order = [f"raw.src{k + 1}" for k in range(STORM_ROOTS)] + [f"analytics.t{i:03d}" for i in range(tables)]
    rest = [rng.choice(order) for _ in range(max(0, events - len(order)))]
    return order + rest


def run_storm(url: str, kind: str, tables: list[str], seconds: float) -> dict:
    return asyncio.run(_storm(url, kind, tables, seconds))


async def _storm(url: str, kind: str, tables: list[str], seconds: float) -> dict:
    """Open loop, len(tables) events over `seconds`: to dre-bot's generic webhook, or to Alertmanager's API v2."""
    _lean_httpx()
    import httpx
    statuses: dict[str, int] = {}
    first_sent = [0.0]

    def body(i: int, table: str) -> bytes:
        if kind == "bot":   # no pipeline label: a table, as Monte Carlo, Cloud Monitoring and dbt name it
            return json.dumps({"title": f"row count anomaly on {table}", "dedup_key": f"rows:{table}",
                               "severity": "sev3", "labels": {"table": table}}).encode()
        return json.dumps([{"labels": {"alertname": "RowCountAnomaly", "table": table},
                            "annotations": {"summary": f"row count anomaly on {table}"}}]).encode()

    endpoint = f"{url}/webhooks/generic" if kind == "bot" else f"{url}/api/v2/alerts"
    headers = _headers() if kind == "bot" else {"Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        async def send(i: int) -> None:
            if i == 0:
                first_sent[0] = time.time()
            try:
                r = await client.post(endpoint, content=body(i, tables[i]), headers=headers)
                key = str(r.status_code)
            except Exception as exc:  # noqa: BLE001 - counted, reported
                key = type(exc).__name__
            statuses[key] = statuses.get(key, 0) + 1

        start = time.perf_counter() + 0.1
        tasks, lag = await open_loop(len(tables), len(tables) / seconds, send, start)
        span = time.perf_counter() - start
        await asyncio.gather(*tasks)
    return {"sent": len(tables), "statuses": statuses, "first_sent_at": first_sent[0], "send_span_s": round(span, 2),
            "max_schedule_lag_ms": round(lag * 1000, 1)}


def phase_lineage(args, pool, slack, work: Path) -> dict:
    """dre-bot with [grouping] lineage and the manifest, one channel, default Slack pacing."""
    slack.reset()
    workdir = work / "bot-lineage"
    workdir.mkdir(parents=True, exist_ok=True)
    manifest = workdir / "manifest.json"
    manifest.write_text(json.dumps(storm_manifest(args.storm_tables)))
    bot = make_bot(workdir, slack.url)
    (workdir / "dre-bot.toml").write_text(f'[grouping]\nlineage = true\n\n[lineage]\ndbt_manifest = "{manifest}"\n')
    bot.start()
    tables = storm_events(args.storm_events, args.storm_tables)
    try:
        res = pool.submit(run_storm, bot.url, "bot", tables, args.storm_seconds).result(
            timeout=args.storm_seconds + 120)
        deadline = time.monotonic() + args.storm_wait
        health: dict = {}
        import httpx
        while time.monotonic() < deadline:
            health = httpx.get(f"{bot.url}/healthz", timeout=5).json()
            if health.get("inbox") == 0 and health.get("outbox") == 0:
                break
            time.sleep(1)
        drained_after = time.time() - res["first_sent_at"]
        db = sqlite3.connect(f"file:{workdir / 'dre-bot.db'}?mode=ro", uri=True)
        inbox = sqlite3.connect(f"file:{workdir / 'dre-bot.inbox.db'}?mode=ro", uri=True)
        try:
            incidents = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
            roots = [r[0] for r in db.execute("SELECT lineage_root FROM incidents ORDER BY id")]
            alerts_held = db.execute("SELECT coalesce(sum(count), 0) FROM incident_alerts").fetchone()[0]
            processed = dict(db.execute("SELECT status, count(*) FROM inbox_status GROUP BY status").fetchall()) \
                if db.execute("SELECT name FROM sqlite_master WHERE name = 'inbox_status'").fetchone() else {}
            inbox_rows = inbox.execute("SELECT count(*) FROM inbox").fetchone()[0]
        finally:
            db.close()
            inbox.close()
    finally:
        bot.stop()
    calls = [c for c in slack.calls() if c["method"].startswith("chat.")]
    posts = [c for c in calls if c["method"] == "chat.postMessage" and c["ok"]]
    cards = [c for c in posts if not c["params"].get("thread_ts")]
    first_card = min((c["at"] for c in cards), default=float("nan"))
    by_method: dict[str, int] = {}
    for c in calls:
        by_method[c["method"]] = by_method.get(c["method"], 0) + 1
    return {**res, "threads": len(cards), "incidents": incidents, "roots": roots,
            "first_card_after_s": round(first_card - res["first_sent_at"], 3),
            "slack_calls": len(calls), "slack_calls_by_method": by_method,
            "join_lines": sum(1 for c in posts if "joined:" in str(c["params"].get("text", ""))),
            "inbox_rows": inbox_rows, "processed": processed, "alert_events_held": alerts_held,
            "drained": health.get("inbox") == 0 and health.get("outbox") == 0,
            "drained_after_s": round(drained_after, 1)}


def phase_alertmanager(args, pool, work: Path) -> dict:
    """Debian's prometheus-alertmanager grouping the same storm by table, to a webhook receiver here."""
    if not alertmanager_binary():
        return {"skipped": f"prometheus-alertmanager is not installed ({ALERTMANAGER_HINT})"}
    hook = Receiver()
    am = make_alertmanager(work / "alertmanager", hook.url, group_by="['table']", group_wait="10s",
                           group_interval="5m")
    am.start()
    tables = storm_events(args.storm_events, args.storm_tables)
    try:
        res = pool.submit(run_storm, am.url, "alertmanager", tables, args.storm_seconds).result(
            timeout=args.storm_seconds + 120)
        expected = len(set(tables))
        deadline = time.monotonic() + 30
        while len(hook.received) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        am.stop()
        hook.stop()
    received = [(t, len(alerts)) for t, alerts in hook.received]
    first = min((t for t, _ in received), default=float("nan"))
    return {**res, "notifications": len(received), "groups_expected": len(set(tables)),
            "first_notification_after_s": round(first - res["first_sent_at"], 2)}


def lineage_main(args) -> int:
    sys.path.insert(0, str(ROOT))
    from sandbox.slack import SlackEmulator
    from sandbox.threaded_server import ThreadedServer
    info = machine()
    print(f"dre-bot lineage storm on {info['nproc']} CPUs ({info['cpu_model']}), load average "
          f"{info['loadavg_at_start']}: {args.storm_events} events over {args.storm_seconds:g}s on "
          f"{args.storm_tables} tables fed by {STORM_ROOTS} failing upstreams", flush=True)
    work = Path(tempfile.mkdtemp(prefix="dre-lineage-storm-"))
    slack = SlackEmulator(":memory:")
    server = ThreadedServer(slack.app())
    slack.url = f"{server.start()}/api/"
    pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
    try:
        bot = phase_lineage(args, pool, slack, work)
        print(f"dre-bot: {json.dumps(bot, default=str)[:2000]}", flush=True)
        am = phase_alertmanager(args, pool, work)
        print(f"alertmanager: {json.dumps(am, default=str)[:2000]}", flush=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": info, "args": vars(args), "dre_bot": bot,
              "alertmanager": am,
              "targets": {"3_threads": bot["threads"] == STORM_ROOTS,
                          "first_card_within_1s": bot["first_card_after_s"] <= 1.0,
                          "every_202_accounted_for": bot["statuses"].get("202", 0) == bot["inbox_rows"]
                          == bot["sent"] and bot["alert_events_held"] == bot["sent"]}}
    print(json.dumps(result["targets"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"lineage-storm-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if all(result["targets"].values()) else 1


# --- main ------------------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description="dre-bot storm benchmark (see docs/PERFORMANCE.md)")
    parser.add_argument("--requests", type=int, default=3000, help="webhooks per throughput round (default 3000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight in the throughput phase")
    parser.add_argument("--tables", type=int, default=500, help="distinct tables in the throughput phase")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per target, alternating (default 3)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the paced latency phase (default 15)")
    parser.add_argument("--rate", type=float, default=20.0, help="alerts per second in the latency phase (default 20)")
    parser.add_argument("--wait", type=float, default=30.0, help="how long to wait for the last cards to post")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, logs)")
    parser.add_argument("--lineage", action="store_true",
                        help="run the lineage storm instead (issue 13): dre-bot grouping by a dbt manifest, and "
                             "prometheus-alertmanager grouping the same storm by table")
    parser.add_argument("--storm-events", type=int, default=10000)
    parser.add_argument("--storm-seconds", type=float, default=30.0)
    parser.add_argument("--storm-tables", type=int, default=200)
    parser.add_argument("--storm-wait", type=float, default=600.0, help="how long to wait for delivery to drain")
    args = parser.parse_args()
    if args.lineage:
        return lineage_main(args)
    if args.requests < 1 or args.concurrency < 1 or args.tables < 1 or args.rounds < 1 or args.rate <= 0 \
            or args.seconds <= 0:
        parser.error("every number must be positive")

    sys.path.insert(0, str(ROOT))
    from sandbox.slack import SlackEmulator
    from sandbox.threaded_server import ThreadedServer

    info = machine()
    print(f"dre-bot storm benchmark on {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}, "
          f"load average {info['loadavg_at_start']}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="dre-storm-"))
    slack = SlackEmulator(":memory:")
    server = ThreadedServer(slack.app())
    slack.url = f"{server.start()}/api/"
    pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
    started = time.time()
    try:
        print(f"phase 1: throughput, {args.requests} webhooks x {args.rounds} rounds per target, "
              f"{args.concurrency} in flight, {args.tables} tables", flush=True)
        throughput = phase_throughput(args, pool, slack, work)
        print(f"phase 2: latency, {args.rate:g} alerts/s for {args.seconds:g}s, each on a new table", flush=True)
        latency = phase_latency(args, pool, slack, work)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        server.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    p99 = latency["alert_to_post_ms"].get("p99", float("inf"))
    all_posted = latency["posted"] == latency["sent"]
    targets = {
        "accepted_ratio_at_least_0.5": throughput["ratio"] >= 0.5,
        "p99_alert_to_post_under_100ms_at_20_per_s": bool(all_posted and p99 < 100 and args.rate >= 20),
    }
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": round(time.time() - started, 1),
              "machine": info, "args": vars(args), "channels": CHANNELS, "throughput": throughput,
              "latency": latency, "targets": targets}

    a, lt = throughput, latency
    rows = [
        ("bare endpoint: accepted/s (median)", f"{a['bare_accepted_per_s']:.0f}", ""),
        ("dre-bot: durable accepted/s (median)", f"{a['bot_accepted_per_s']:.0f}", ""),
        ("ratio dre-bot / bare", f"{a['ratio']:.2f}", f">= 0.50  {'PASS' if targets['accepted_ratio_at_least_0.5'] else 'FAIL'}"),
        ("all answered 202 / all durable", f"{a['all_202']} / {a['all_durable']}", ""),
        (f"alerts sent at {lt['achieved_rate']:.1f}/s / cards posted", f"{lt['sent']} / {lt['posted']}", "all"),
        ("alert-to-post p50 ms", f"{lt['alert_to_post_ms'].get('p50', float('nan')):.1f}", ""),
        ("alert-to-post p99 ms", f"{p99:.1f}",
         f"< 100  {'PASS' if targets['p99_alert_to_post_under_100ms_at_20_per_s'] else 'FAIL'}"),
        ("alert-to-post max ms", f"{lt['alert_to_post_ms'].get('max', float('nan')):.1f}", ""),
        ("webhook ack (202) p50 / p99 ms at that rate",
         f"{lt['ack_ms'].get('p50', float('nan')):.1f} / {lt['ack_ms'].get('p99', float('nan')):.1f}", ""),
    ]
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print()
    print(f"{'figure':<{w0}}  {'value':>{w1}}  target")
    print(f"{'-' * w0}  {'-' * w1}  {'-' * 14}")
    for name, value, target in rows:
        print(f"{name:<{w0}}  {value:>{w1}}  {target}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"storm-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)} in {result['duration_s']:.0f}s")
    return 0 if (a["all_202"] and a["all_durable"] and all_posted) else 1


if __name__ == "__main__":
    sys.exit(main())
