"""The ingest benchmark (issue 15): dre-bot beside the bare endpoint and Debian's Alertmanager, in one run.

Reports, from one run on one machine, 127.0.0.1 only:
  1. throughput with wrk: requests/s and alerts/s of the bare endpoint (bench/bare_endpoint.py), `dre-bot serve`
     (POST /webhooks/alertmanager, an Alertmanager webhook v4 body) and prometheus-alertmanager (POST
     /api/v2/alerts, a JSON array of postable alerts), with 1 and with 10 alerts per request; rounds alternate
     bare, bot, alertmanager and the medians are compared. Every request carries new alerts (a per-thread
     counter in the generated Lua script), spread over 500 tables so new incidents and joins mix. After each bot
     round the bot is stopped and its inbox counted: every answered alert must be on disk ("all durable");
  2. latency, open loop: each alert sent at the same moment to dre-bot and to Alertmanager (group_wait 0s);
     alert-to-card (the Slack emulator's time of the chat.postMessage of that incident's card) beside
     alert-to-notification (the time Alertmanager's webhook reached the receiver here), p50/p95/p99/max;
  3. a storm in one channel: every incident's time to its first visible notice in Slack (its card, or a storm
     summary message, `metadata.event_type` dre_storm_summary, that names it), the time to the last card, and
     the Slack calls made;
  4. the bot's peak RSS (VmHWM) in every phase, and its start-up time (spawn to the first 200 from /healthz).

    python bench/ingest.py [--rounds 3] [--duration 8] [--threads 2] [--connections 8] [--latency-count 150]
                           [--latency-rate 2.5] [--storm-count 100] [--storm-rate 10] [--keep] [--quick] [--out FILE]

Prints a table and writes bench/results/ingest-<timestamp>.json. Exit status 1 only when the run went wrong (an
answer other than 2xx from the bot, an answered alert not on disk, a card never posted), not for a missed target.
Needs `wrk` and `prometheus-alertmanager` (apt-get install wrk prometheus-alertmanager). See docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import (ALERTMANAGER_HINT, RESULTS, TOKEN, Receiver, _lean_httpx, _summary, alertmanager_binary,
                    inbox_path, machine, make_alertmanager, make_bare, make_bot, open_loop)

SHAPES = (1, 10)                    # alerts per request
TARGETS = ("bare", "bot", "am")
TABLES = 500                        # the throughput phase's alerts are spread over this many tables
LATENCY_CHANNELS = 10
CARD_EVENT = "dre_incident"         # bot/slack/delivery.py METADATA_EVENT
SUMMARY_EVENT = "dre_storm_summary"
INC_RE = re.compile(r"\bINC-(\d+)\b")


# --- the alerts -------------------------------------------------------------------------------------------------

def _alert(key: str, table: int) -> dict:
    """One alert, as Prometheus would fire it: a new `bench_key` label makes it a new alert for Alertmanager."""
    name = f"analytics.t{table:06d}"
    return {"labels": {"alertname": "RowCountAnomaly", "table": name, "severity": "warning", "bench_key": key},
            "annotations": {"summary": f"row count anomaly on {name}"}, "generatorURL": "http://127.0.0.1/bench"}


def webhook_v4(alerts: list[dict]) -> bytes:
    """What Alertmanager sends dre-bot: a webhook payload version 4; the fingerprint is the alert's key."""
    items = [{"status": "firing", **a, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
              "fingerprint": a["labels"]["bench_key"]} for a in alerts]
    return json.dumps({"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
                       "receiver": "dre-bot", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                       "externalURL": "http://127.0.0.1:9093", "alerts": items}).encode()


def postable(alerts: list[dict]) -> bytes:
    """What Prometheus sends Alertmanager: POST /api/v2/alerts, a JSON array of postable alerts."""
    return json.dumps(alerts).encode()


# --- phase 1: wrk ------------------------------------------------------------------------------------------------

# Placeholders @NAME@ are filled in per target. Each thread counts its own requests (n) and knows its number
# (tid, set in setup), so every alert of the run has its own key; tables go round-robin over the whole run.
WRK_LUA = r"""
local tag, per, tables, threads, kind = "@TAG@", @PER@, @TABLES@, @THREADS@, "@KIND@"
local path = "@PATH@"
local headers = {["Content-Type"] = "application/json"@AUTH@}
local count = 0
function setup(thread)
  count = count + 1
  thread:set("tid", count)
end
local n = 0
local function alert(key, t)
  local labels = string.format(
    '{"alertname":"RowCountAnomaly","table":"analytics.t%06d","severity":"warning","bench_key":"%s"}', t, key)
  local ann = string.format('{"summary":"row count anomaly on analytics.t%06d"}', t)
  if kind == "v4" then
    return string.format('{"status":"firing","labels":%s,"annotations":%s,"generatorURL":"http://127.0.0.1/bench",'
      .. '"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}', labels, ann, key)
  end
  return string.format('{"labels":%s,"annotations":%s,"generatorURL":"http://127.0.0.1/bench"}', labels, ann)
end
function request()
  n = n + 1
  local items = {}
  for i = 0, per - 1 do
    local seq = ((n - 1) * threads + (tid - 1)) * per + i
    items[#items + 1] = alert(string.format("%s-%d-%d-%d", tag, tid, n, i), seq % tables)
  end
  local list = "[" .. table.concat(items, ",") .. "]"
  local body = list
  if kind == "v4" then
    body = '{"version":"4","groupKey":"{}:{}","truncatedAlerts":0,"status":"firing","receiver":"dre-bot",'
      .. '"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093",'
      .. '"alerts":' .. list .. '}'
  end
  return wrk.format("POST", path, headers, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,'
    .. '"read_errors":%d,"write_errors":%d,"non_2xx":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_script(target: str, per: int, tag: str, threads: int) -> str:
    """The Lua script for one target: the bot and the bare endpoint get the same webhook v4 request (the bare
    endpoint ignores the token), Alertmanager gets its API v2 array."""
    path, kind = ("/api/v2/alerts", "v2") if target == "am" else ("/webhooks/alertmanager", "v4")
    auth = "" if target == "am" else f', ["Authorization"] = "Bearer {TOKEN}"'
    script = WRK_LUA
    for name, value in (("TAG", tag), ("PER", per), ("TABLES", TABLES), ("THREADS", threads), ("KIND", kind),
                        ("PATH", path), ("AUTH", auth)):
        script = script.replace(f"@{name}@", str(value))
    return script


def run_wrk(url: str, script: Path, threads: int, connections: int, duration: float) -> dict:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(script), url]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in run.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stdout[-2000:]} {run.stderr[-2000:]}")
    res = json.loads(line[len("WRKJSON "):])
    seconds = res["duration_us"] / 1e6
    res["ok"] = res["requests"] - res["non_2xx"]
    res["requests_per_s"] = res["requests"] / seconds
    res["p50_ms"], res["p99_ms"] = res.pop("p50_us") / 1000, res.pop("p99_us") / 1000
    res["max_ms"] = res.pop("max_us") / 1000
    return res


def inbox_alerts(db: Path) -> dict:
    """What the bot's inbox holds after a round: rows, alerts in their bodies, distinct alert keys."""
    conn = sqlite3.connect(f"file:{inbox_path(db)}?mode=ro", uri=True)
    try:
        rows, alerts, keys = 0, 0, set()
        for (body,) in conn.execute("SELECT body FROM inbox"):
            rows += 1
            for a in json.loads(body).get("alerts", []):
                alerts += 1
                keys.add(a["labels"].get("bench_key"))
        return {"rows": rows, "alerts": alerts, "distinct_keys": len(keys)}
    finally:
        conn.close()


def phase_throughput(args, slack, hook: Receiver, work: Path) -> dict:
    rounds: dict[int, dict[str, list[dict]]] = {per: {t: [] for t in TARGETS} for per in SHAPES}
    rss: list[float] = []
    for r in range(args.rounds):
        for per in SHAPES:
            for target in TARGETS:
                tag = f"{target}{per}r{r}"
                if target == "bare":
                    server = make_bare(work)
                elif target == "bot":
                    slack.reset()
                    server = make_bot(work / f"bot-{tag}", slack.url)
                else:
                    hook.reset()
                    # Alertmanager's own defaults for taking alerts in (group by alertname, wait 30 s): the rate at
                    # which it accepts a storm. One group per alert (the latency phase's route) would make it send
                    # thousands of notifications to this process, and measure those instead.
                    server = make_alertmanager(work / f"am-{tag}", hook.url, group_by="['alertname']",
                                               group_wait="30s", group_interval="5m")
                script = work / f"wrk-{tag}.lua"
                script.write_text(wrk_script(target, per, tag, args.threads))
                server.start()
                try:
                    cpu0 = server.cpu()
                    res = run_wrk(server.url, script, args.threads, args.connections, args.duration)
                    res["server_cpu_s"] = round(server.cpu() - cpu0, 2)
                finally:
                    server.stop()
                res["alerts_per_s"] = res["ok"] * per / (res["duration_us"] / 1e6)
                if target == "bot":
                    held = inbox_alerts(Path(server.env["DRE_DB"]))
                    # wrk counts the answers it read; a request in flight when it stopped may be on disk too.
                    res["inbox"] = held
                    res["on_disk_unanswered"] = held["rows"] - res["ok"]    # at most one per connection
                    res["durable"] = (res["ok"] <= held["rows"] <= res["ok"] + args.connections
                                      and held["alerts"] == held["rows"] * per == held["distinct_keys"])
                    res["peak_rss_mb"] = round(server.peak_rss_mb, 1)
                    rss.append(server.peak_rss_mb)
                if target == "am":
                    res["notifications"] = len(hook.received)
                rounds[per][target].append(res)
                extra = f", inbox {res['inbox']['alerts']} alerts, durable {res['durable']}" if target == "bot" else ""
                print(f"  round {r + 1} {per:2d}/req {target:4}: {res['requests_per_s']:7.0f} req/s "
                      f"{res['alerts_per_s']:7.0f} alerts/s  non-2xx {res['non_2xx']}  p50 {res['p50_ms']:.1f} ms "
                      f"p99 {res['p99_ms']:.1f} ms  server CPU {res['server_cpu_s']:.1f}s{extra}", flush=True)
                time.sleep(0.3)
    out: dict = {"threads": args.threads, "connections": args.connections, "duration_s": args.duration,
                 "rounds": args.rounds, "tables": TABLES, "per_round": rounds, "bot_peak_rss_mb": max(rss)}
    for per in SHAPES:
        med = {}
        for t in TARGETS:
            xs = rounds[per][t]
            med[t] = {"requests_per_s": round(statistics.median(x["requests_per_s"] for x in xs), 1),
                      "alerts_per_s": round(statistics.median(x["alerts_per_s"] for x in xs), 1),
                      "alerts_per_s_range": [round(min(x["alerts_per_s"] for x in xs)),
                                             round(max(x["alerts_per_s"] for x in xs))],
                      "p50_ms": round(statistics.median(x["p50_ms"] for x in xs), 2),
                      "p99_ms": round(statistics.median(x["p99_ms"] for x in xs), 2),
                      "non_2xx": sum(x["non_2xx"] for x in xs),
                      "socket_errors": sum(x["connect_errors"] + x["read_errors"] + x["write_errors"] + x["timeouts"]
                                           for x in xs)}
        bot, bare, am = med["bot"]["alerts_per_s"], med["bare"]["alerts_per_s"], med["am"]["alerts_per_s"]
        out[f"{per}_per_request"] = {**med, "bot_over_bare": round(bot / bare, 3) if bare else 0.0,
                                     "bot_over_am": round(bot / am, 3) if am else 0.0,
                                     "all_durable": all(x["durable"] for x in rounds[per]["bot"])}
    return out


# --- phases 2 and 3: open loop, alerts to dre-bot (and Alertmanager) -------------------------------------------------

def run_open_loop(bot_url: str, am_url: str | None, n: int, rate: float, tag: str) -> dict:
    """In its own process: alert i (a new table each) at start + i/rate, to the bot and at the same moment to
    Alertmanager when there is one."""
    return asyncio.run(_open_loop(bot_url, am_url, n, rate, tag))


async def _open_loop(bot_url: str, am_url: str | None, n: int, rate: float, tag: str) -> dict:
    _lean_httpx()
    import httpx
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    bot_headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    sent: dict[str, dict] = {}
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as bot, \
            httpx.AsyncClient(limits=limits, timeout=30.0) as am:
        for _ in range(4):                       # open connections first (no alerts)
            await bot.get(f"{bot_url}/healthz")
            if am_url:
                await am.get(f"{am_url}/-/ready")

        async def post(client, url: str, body: bytes, headers: dict) -> tuple[str, float]:
            t = time.perf_counter()
            try:
                status = str((await client.post(url, content=body, headers=headers)).status_code)
            except Exception as exc:  # noqa: BLE001 - counted, reported
                status = type(exc).__name__
            return status, (time.perf_counter() - t) * 1000

        async def send(i: int) -> None:
            key = f"{tag}-{i:05d}"
            alert = [_alert(key, i)]
            calls = [post(bot, f"{bot_url}/webhooks/alertmanager", webhook_v4(alert), bot_headers)]
            if am_url:
                calls.append(post(am, f"{am_url}/api/v2/alerts", postable(alert), {"Content-Type": "application/json"}))
            at = time.time()
            answers = await asyncio.gather(*calls)
            sent[key] = {"sent_at": at, "bot": answers[0][0], "bot_ack_ms": answers[0][1],
                         "am": answers[1][0] if am_url else None}

        start = time.perf_counter() + 0.1
        tasks, lag = await open_loop(n, rate, send, start)
        span = time.perf_counter() - start
        await asyncio.gather(*tasks)
    return {"sent": sent, "send_span_s": round(span, 2), "max_schedule_lag_ms": round(lag * 1000, 1)}


def _params_meta(params: dict) -> dict:
    meta = params.get("metadata") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = {}
    return meta if isinstance(meta, dict) else {}


def slack_notices(slack) -> dict:
    """From the emulator's record of calls: when each incident's card was posted, and when a storm summary
    (posted or edited) first named it. Incident names are INC-<n>, matched on word boundaries."""
    summary_ts = {m["ts"] for m in slack.messages() if (m.get("metadata") or {}).get("event_type") == SUMMARY_EVENT}
    cards: dict[str, float] = {}
    summaries: dict[str, float] = {}
    summary_calls = 0
    for call in slack.calls():
        if not call["ok"] or call["method"] not in ("chat.postMessage", "chat.update"):
            continue
        params, meta = call["params"], _params_meta(call["params"])
        if call["method"] == "chat.postMessage" and meta.get("event_type") == CARD_EVENT \
                and not params.get("thread_ts"):
            name = (meta.get("event_payload") or {}).get("incident")
            if name and name not in cards:
                cards[name] = call["at"]
        elif meta.get("event_type") == SUMMARY_EVENT or (call["method"] == "chat.update"
                                                          and params.get("ts") in summary_ts):
            summary_calls += 1
            text = str(params.get("text", "")) + json.dumps(params.get("blocks") or "")
            for m in INC_RE.finditer(text):
                summaries.setdefault(f"INC-{m.group(1)}", call["at"])
    return {"cards": cards, "summaries": summaries, "summary_calls": summary_calls}


def incident_names(db: Path, keys) -> dict[str, str]:
    """alert key -> incident name, from the bot's state db: the incident that holds the alert's fingerprint
    (bot/sources/alertmanager.py makes it `am:<fingerprint>`; the bench sends the key as the fingerprint)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT fingerprint, max(incident_id) FROM incident_alerts GROUP BY fingerprint")
        by_fp = {fp: f"INC-{iid}" for fp, iid in rows}
    finally:
        conn.close()
    return {k: by_fp[f"am:{k}"] for k in keys if f"am:{k}" in by_fp}


def _wait(done, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.25)


def _statuses(sent: dict, who: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in sent.values():
        out[v[who]] = out.get(v[who], 0) + 1
    return out


def phase_latency(args, pool, slack, hook: Receiver, work: Path) -> dict:
    slack.reset()
    hook.reset()
    bot = make_bot(work / "bot-latency", slack.url, channels=LATENCY_CHANNELS).start()
    am = make_alertmanager(work / "am-latency", hook.url)

    def notified() -> dict[str, float]:
        out: dict[str, float] = {}
        for at, labels in list(hook.received):
            for lab in labels:
                out.setdefault(lab.get("bench_key"), at)
        return out

    try:
        am.start()
        res = pool.submit(run_open_loop, bot.url, am.url, args.latency_count, args.latency_rate, "lat").result(
            timeout=args.latency_count / args.latency_rate + 120)
        sent = res["sent"]
        names: dict[str, str] = {}

        def all_seen() -> bool:
            nonlocal names
            if len(names) < len(sent):
                names = incident_names(Path(bot.env["DRE_DB"]), sent)
            cards = slack_notices(slack)["cards"]
            return all(names.get(k) in cards for k in sent) and all(k in notified() for k in sent)
        _wait(all_seen, args.wait)
        names = incident_names(Path(bot.env["DRE_DB"]), sent)
    finally:
        bot.stop()
        am.stop()
    seen = slack_notices(slack)
    am_at = notified()
    card_ms, notice_ms, am_ms, summary_first = [], [], [], 0
    for k, v in sent.items():
        name = names.get(k)
        if name in seen["cards"]:
            card_ms.append((seen["cards"][name] - v["sent_at"]) * 1000)
        first = min(seen["cards"].get(name, float("inf")), seen["summaries"].get(name, float("inf")))
        if first < float("inf"):
            notice_ms.append((first - v["sent_at"]) * 1000)
            summary_first += first < seen["cards"].get(name, float("inf"))
        if k in am_at:
            am_ms.append((am_at[k] - v["sent_at"]) * 1000)
    card, amn = _summary(card_ms), _summary(am_ms)
    return {"count": args.latency_count, "rate": args.latency_rate, "channels": LATENCY_CHANNELS,
            "sent": len(sent), "bot_statuses": _statuses(sent, "bot"), "am_statuses": _statuses(sent, "am"),
            "cards_posted": len(card_ms), "am_notified": len(am_ms), "summary_first": summary_first,
            "send_span_s": res["send_span_s"], "max_schedule_lag_ms": res["max_schedule_lag_ms"],
            "alert_to_card_ms": card, "alert_to_first_notice_ms": _summary(notice_ms),
            "am_alert_to_notification_ms": amn,
            "p95_ratio": round(card["p95"] / amn["p95"], 2) if card.get("n") and amn.get("n") and amn["p95"] else None,
            "bot_ack_ms": _summary([v["bot_ack_ms"] for v in sent.values()]),
            "bot_peak_rss_mb": round(bot.peak_rss_mb, 1), "bot_rss_at_end_mb": round(bot.rss_mb, 1)}


def phase_storm(args, pool, slack, work: Path) -> dict:
    slack.reset()
    bot = make_bot(work / "bot-storm", slack.url, channels=1).start()
    try:
        res = pool.submit(run_open_loop, bot.url, None, args.storm_count, args.storm_rate, "storm").result(
            timeout=args.storm_count / args.storm_rate + 120)
        sent = res["sent"]
        names: dict[str, str] = {}

        def all_cards() -> bool:
            nonlocal names
            if len(names) < len(sent):
                names = incident_names(Path(bot.env["DRE_DB"]), sent)
            cards = slack_notices(slack)["cards"]
            return len(names) == len(sent) and all(n in cards for n in names.values())
        _wait(all_cards, args.storm_wait)
        names = incident_names(Path(bot.env["DRE_DB"]), sent)
    finally:
        bot.stop()
    seen = slack_notices(slack)
    first_sent = min(v["sent_at"] for v in sent.values())
    notice_ms, via_summary = [], 0
    for k, v in sent.items():
        name = names.get(k)
        card, summ = seen["cards"].get(name, float("inf")), seen["summaries"].get(name, float("inf"))
        if min(card, summ) < float("inf"):
            notice_ms.append((min(card, summ) - v["sent_at"]) * 1000)
            via_summary += summ < card
    cards = [seen["cards"][n] for n in set(names.values()) if n in seen["cards"]]
    calls: dict[str, int] = {}
    for c in slack.calls():
        calls[c["method"]] = calls.get(c["method"], 0) + 1
    return {"count": args.storm_count, "rate": args.storm_rate, "sent": len(sent),
            "bot_statuses": _statuses(sent, "bot"), "incidents": len(set(names.values())), "cards_posted": len(cards),
            "noticed": len(notice_ms), "first_noticed_via_summary": via_summary,
            "summary_calls": seen["summary_calls"], "time_to_first_notice_ms": _summary(notice_ms),
            "last_card_after_s": round(max(cards) - first_sent, 2) if cards else None,
            "slack_calls": sum(calls.values()), "slack_calls_by_method": calls,
            "send_span_s": res["send_span_s"], "max_schedule_lag_ms": res["max_schedule_lag_ms"],
            "bot_peak_rss_mb": round(bot.peak_rss_mb, 1), "bot_rss_at_end_mb": round(bot.rss_mb, 1)}


# --- phase 4: start-up -------------------------------------------------------------------------------------------------

def phase_startup(args, slack, work: Path) -> dict:
    times, rss, idle = [], [], []
    for i in range(args.starts):
        bot = make_bot(work / f"bot-start{i}", slack.url)
        try:
            bot.start(poll=0.01)
            times.append(bot.ready_after_s)
        finally:
            bot.stop()
        rss.append(bot.peak_rss_mb)
        idle.append(bot.rss_mb)
        time.sleep(0.3)
    return {"starts": len(times), "seconds": [round(t, 3) for t in times],
            "median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
            "bot_peak_rss_mb": round(max(rss), 1), "bot_rss_when_ready_mb": round(statistics.median(idle), 1)}


# --- main ----------------------------------------------------------------------------------------------------------------

def _fmt(x, spec: str = ".0f") -> str:
    return "n/a" if x is None or x != x else format(x, spec)


def report(result: dict) -> None:
    t, lat, st, up = result["throughput"], result["latency"], result["storm"], result["startup"]
    rows: list[tuple[str, str, str]] = []
    for per in SHAPES:
        s = t[f"{per}_per_request"]
        for name, key in (("bare endpoint", "bare"), ("dre-bot", "bot"), ("alertmanager", "am")):
            m = s[key]
            lo, hi = m["alerts_per_s_range"]
            rows.append((f"{per}/req {name}: req/s, alerts/s (min-max), p50/p99 ms, non-2xx",
                         f"{m['requests_per_s']:.0f}, {m['alerts_per_s']:.0f} ({lo}-{hi}), "
                         f"{m['p50_ms']:.1f}/{m['p99_ms']:.1f}, {m['non_2xx']}", ""))
        tg = result["targets"]
        rows.append((f"{per}/req alerts/s dre-bot / bare", f"{s['bot_over_bare']:.2f}",
                     f">= 0.50  {'PASS' if tg[f'{per}_per_request_bot_over_bare_0.5'] else 'FAIL'}"))
        rows.append((f"{per}/req alerts/s dre-bot / alertmanager", f"{s['bot_over_am']:.2f}",
                     f">= 1.00  {'PASS' if tg[f'{per}_per_request_bot_over_am_1'] else 'FAIL'}"))
        rows.append((f"{per}/req all durable", "yes" if s["all_durable"] else "NO", ""))
    c, a = lat["alert_to_card_ms"], lat["am_alert_to_notification_ms"]
    rows.append((f"latency: {lat['sent']} alerts at {lat['rate']:g}/s, cards / AM notified",
                 f"{lat['cards_posted']} / {lat['am_notified']}", "all"))
    rows.append(("dre-bot alert-to-card p50/p95/p99/max ms",
                 "/".join(_fmt(c.get(p)) for p in ("p50", "p95", "p99", "max")), ""))
    if lat["summary_first"]:
        n = lat["alert_to_first_notice_ms"]
        rows.append((f"dre-bot alert-to-first-notice ({lat['summary_first']} by summary) p50/p95/max ms",
                     "/".join(_fmt(n.get(p)) for p in ("p50", "p95", "max")), ""))
    rows.append(("alertmanager alert-to-notification p50/p95/p99/max ms",
                 "/".join(_fmt(a.get(p)) for p in ("p50", "p95", "p99", "max")), ""))
    rows.append(("p95 ratio dre-bot / alertmanager", _fmt(lat["p95_ratio"], ".2f"),
                 f"<= 2.00  {'PASS' if result['targets']['latency_p95_within_2x_am'] else 'FAIL'}"))
    f = st["time_to_first_notice_ms"]
    rows.append((f"storm: {st['sent']} incidents at {st['rate']:g}/s in one channel, cards posted",
                 f"{st['cards_posted']}", "all"))
    rows.append(("storm time to first notice p50/p95/max s",
                 "/".join(_fmt(f.get(p, float("nan")) / 1000, ".1f") for p in ("p50", "p95", "max")), ""))
    rows.append(("storm first noticed via a summary / summary calls",
                 f"{st['first_noticed_via_summary']} / {st['summary_calls']}", ""))
    rows.append(("storm last card after the first alert s", _fmt(st["last_card_after_s"], ".1f"), ""))
    rows.append(("storm Slack calls", f"{st['slack_calls']}", ""))
    rows.append(("bot peak RSS MB (max of all bot processes)", f"{result['bot_peak_rss_mb']:.0f}",
                 f"<= 150  {'PASS' if result['targets']['peak_rss_150mb'] else 'FAIL'}"))
    rows.append(("bot peak RSS MB in the storm / just started and idle",
                 f"{st['bot_peak_rss_mb']:.0f} / {up['bot_rss_when_ready_mb']:.0f}", ""))
    rows.append((f"start-up to /healthz 200, median of {up['starts']} s", f"{up['median_s']:.2f}",
                 f"<= 1.50  {'PASS' if result['targets']['startup_1.5s'] else 'FAIL'}"))
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print()
    print(f"{'figure':<{w0}}  {'value':>{w1}}  target")
    print(f"{'-' * w0}  {'-' * w1}  {'-' * 14}")
    for name, value, target in rows:
        print(f"{name:<{w0}}  {value:>{w1}}  {target}")


def main() -> int:
    parser = argparse.ArgumentParser(description="dre-bot ingest benchmark beside Alertmanager (docs/PERFORMANCE.md)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds per target and shape (default 3)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk round (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--latency-count", type=int, default=150, help="alerts in the latency phase (default 150)")
    parser.add_argument("--latency-rate", type=float, default=2.5, help="alerts/s in the latency phase (default 2.5)")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the last cards/notifications")
    parser.add_argument("--storm-count", type=int, default=100, help="incidents in the one-channel storm (default 100)")
    parser.add_argument("--storm-rate", type=float, default=10.0, help="alerts/s in the storm (default 10)")
    parser.add_argument("--storm-wait", type=float, default=400.0,
                        help="seconds to wait for the storm's last card (default 400)")
    parser.add_argument("--starts", type=int, default=5, help="bot starts timed (default 5)")
    parser.add_argument("--out", type=Path, help="where to write the JSON (default bench/results/ingest-<ts>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, logs, scripts)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run: 1 round of 2 s, 10 alerts, 8 in storm")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.latency_count, args.latency_rate = 1, 1.0, 6, 5.0
        args.storm_count, args.starts, args.wait = 8, 1, 20.0
    if min(args.rounds, args.threads, args.connections, args.latency_count, args.storm_count, args.starts) < 1 \
            or min(args.duration, args.latency_rate, args.storm_rate) <= 0:
        parser.error("every number must be positive")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk gives each thread connections/threads)")
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    if not alertmanager_binary():
        print(f"prometheus-alertmanager is not installed ({ALERTMANAGER_HINT})", file=sys.stderr)
        return 2

    info = machine()
    print(f"dre-bot ingest benchmark on {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}, "
          f"load average {info['loadavg_at_start']}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="dre-ingest-"))
    from common import start_slack
    slack, slack_server = start_slack()
    hook = Receiver()
    pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
    started = time.time()
    loadavg: dict[str, list[float]] = {}

    def phase(name: str) -> None:
        loadavg[name] = [round(x, 2) for x in os.getloadavg()]
    try:
        phase("throughput")
        print(f"phase 1: throughput, wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
              f"{args.rounds} rounds x {len(SHAPES)} shapes x bare/bot/alertmanager", flush=True)
        throughput = phase_throughput(args, slack, hook, work)
        print(f"phase 2: latency, {args.latency_count} alerts at {args.latency_rate:g}/s over {LATENCY_CHANNELS} "
              "channels, to dre-bot and Alertmanager at once", flush=True)
        phase("latency")
        latency = phase_latency(args, pool, slack, hook, work)
        print(f"phase 3: storm, {args.storm_count} new incidents at {args.storm_rate:g}/s in one channel", flush=True)
        phase("storm")
        storm = phase_storm(args, pool, slack, work)
        print(f"phase 4: start-up, {args.starts} starts", flush=True)
        phase("startup")
        startup = phase_startup(args, slack, work)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        hook.stop()
        slack_server.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    rss = max(throughput["bot_peak_rss_mb"], latency["bot_peak_rss_mb"], storm["bot_peak_rss_mb"],
              startup["bot_peak_rss_mb"])
    targets = {}
    for per in SHAPES:
        s = throughput[f"{per}_per_request"]
        targets[f"{per}_per_request_bot_over_bare_0.5"] = s["bot_over_bare"] >= 0.5
        targets[f"{per}_per_request_bot_over_am_1"] = s["bot_over_am"] >= 1.0
    targets["latency_p95_within_2x_am"] = latency["p95_ratio"] is not None and latency["p95_ratio"] <= 2.0
    targets["peak_rss_150mb"] = rss <= 150
    targets["startup_1.5s"] = startup["median_s"] <= 1.5
    went_wrong = []
    for per in SHAPES:
        s = throughput[f"{per}_per_request"]
        if s["bot"]["non_2xx"] or s["bot"]["socket_errors"]:
            went_wrong.append(f"{per}/req: the bot answered {s['bot']['non_2xx']} requests with non-2xx "
                              f"({s['bot']['socket_errors']} socket errors)")
        if not s["all_durable"]:
            went_wrong.append(f"{per}/req: an answered alert is not in the bot's inbox")
    for name, phase in (("latency", latency), ("storm", storm)):
        if set(phase["bot_statuses"]) != {"202"}:
            went_wrong.append(f"{name}: the bot answered {phase['bot_statuses']}")
        if phase["cards_posted"] != phase["sent"]:
            went_wrong.append(f"{name}: {phase['sent'] - phase['cards_posted']} cards never posted")
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": round(time.time() - started, 1),
              "machine": info, "loadavg_at_phase_start": loadavg, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
              "args": vars(args), "throughput": throughput, "latency": latency, "storm": storm, "startup": startup,
              "bot_peak_rss_mb": round(rss, 1), "targets": targets, "went_wrong": went_wrong}
    report(result)
    for line in went_wrong:
        print(f"WENT WRONG: {line}")
    out = args.out or RESULTS / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten to {out} in {result['duration_s']:.0f}s, load average now "
          f"{result['loadavg_at_end']}")
    return 1 if went_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
