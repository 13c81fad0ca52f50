"""Slash-command ack latency: `/dre status` on an idle bot, and the same command while an alert storm is being
processed, against one real `dre-bot serve` process, in one run.

Slack gives an app 3 seconds to answer a slash command; the bot answers with an empty 200 at once (Bolt's
`ack()`) and posts the real answer to the command's `response_url` afterwards. What is measured here is that
first answer: the HTTP round trip of each signed `POST /slack/events` until its 200, as Slack would time it.
Every command's real answer must also arrive at its response_url (the emulator records them); how long that
took is reported too.

Phases, all against the same bot process and database:
  0. seed: a few alerts on distinct tables, processed and posted, so `/dre status` lists open incidents
     (the same listing in both phases) rather than answering "no open incidents";
  1. idle: N commands, open loop, one every 1/R s on schedule, nothing else running;
  2. under load: the same N commands at the same pace while a storm process keeps `--concurrency` generic
     webhooks in flight (closed loop, alerts spread over `--tables` tables) for the whole command phase.

Processes, all on 127.0.0.1: this one (the Slack emulator on a ThreadedServer, and the orchestration), the bot
(`python -m bot.cli serve`, configured as bench/storm.py configures it, plus SLACK_SIGNING_SECRET), a command
sender and a storm generator, each in its own process so neither's CPU is charged to the other's figures.

    python bench/ack_latency.py [--commands N] [--rate R] [--concurrency C] [--tables T] [--keep]

Figures are printed as a table and written to bench/results/ack-<timestamp>.json. See docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing as mp
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/storm.py: the bot's config and process handling, alert bodies, percentiles, machine facts.
from storm import (ROOT, RESULTS, _alert, _headers, _lean_httpx, _summary, machine, make_bot,  # noqa: E402
                   open_loop)

SIGNING_SECRET = "bench-signing-secret"
TEAM = "T0DRESBOX"
# The fields of Slack's own slash-command body (shared/vendor-samples/slack_slash_command.txt, as
# tests/slack_requests.py uses it), with the team, channel, user, command and text of ours.
COMMAND_FIELDS = {
    "token": "verification_token", "team_id": TEAM, "team_domain": "test-domain", "channel_id": "C0BENCH001",
    "channel_name": "random", "user_id": "U0BENCH01", "user_name": "u0bench01", "command": "/dre", "text": "",
    "enterprise_id": "E111", "enterprise_name": "Org Name", "response_url": "", "trigger_id": "",
}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature: HMAC-SHA256 over "v0:<timestamp>:<body>" (as tests/slack_requests.py)."""
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def command_body(text: str, response_base: str, token: str, user: str) -> bytes:
    fields = dict(COMMAND_FIELDS, text=text, user_id=user, user_name=user.lower(),
                  response_url=f"{response_base}/response/{token}",
                  trigger_id=f"{uuid.uuid4().hex[:6]}.{uuid.uuid4().hex[:6]}")
    return urllib.parse.urlencode(fields).encode()


# --- the command sender (its own process) ----------------------------------------------------------------------

def run_commands(url: str, response_base: str, secret: str, n: int, rate: float, text: str, tag: str,
                 start_at: float, warmup: int) -> dict:
    return asyncio.run(_commands(url, response_base, secret, n, rate, text, tag, start_at, warmup))


async def _commands(url: str, response_base: str, secret: str, n: int, rate: float, text: str, tag: str,
                    start_at: float, warmup: int) -> dict:
    """Open loop: command i is sent at start_at + i/rate (wall clock), answered or not; each one is timed from
    just before the request is written to when its response has been read."""
    _lean_httpx()
    import httpx

    endpoint = f"{url}/slack/events"
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    sent: dict[str, dict] = {}
    warm_tokens: list[str] = []

    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        async def post(token: str, user: str) -> tuple[float, float, str]:
            body = command_body(text, response_base, token, user)
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": sign(secret, ts, body)}
            at, t = time.time(), time.perf_counter()
            try:
                r = await client.post(endpoint, content=body, headers=headers)
                status = str(r.status_code) if not r.content else f"{r.status_code}+body"
            except Exception as exc:  # noqa: BLE001 - counted, reported
                status = type(exc).__name__
            return at, (time.perf_counter() - t) * 1000, status

        await asyncio.gather(*(client.get(f"{url}/healthz") for _ in range(4)))   # open a few connections
        for i in range(warmup):                      # first dispatches import and build things: not counted
            token = f"{tag}w{i:03d}{uuid.uuid4().hex[:8]}"
            warm_tokens.append(token)
            await post(token, "U0BENCH01")

        async def send(i: int) -> None:
            token = f"{tag}{i:04d}{uuid.uuid4().hex[:8]}"
            at, ms, status = await post(token, f"U0BENCH{i % 7:02d}")
            sent[token] = {"i": i, "sent_at": at, "ack_ms": ms, "status": status}

        delay = start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks, lag = await open_loop(n, rate, send, time.perf_counter())
        await asyncio.gather(*tasks)
    first = min(v["sent_at"] for v in sent.values())
    last_done = max(v["sent_at"] + v["ack_ms"] / 1000 for v in sent.values())
    return {"sent": sent, "warm_tokens": warm_tokens, "first_sent_at": first, "last_done_at": last_done,
            "max_schedule_lag_ms": lag * 1000}


# --- the storm generator (its own process) ---------------------------------------------------------------------

def run_storm(url: str, concurrency: int, tables: int, tag: str, stop_file: str, hard_stop_at: float) -> dict:
    return asyncio.run(_storm(url, concurrency, tables, tag, stop_file, hard_stop_at))


async def _storm(url: str, concurrency: int, tables: int, tag: str, stop_file: str, hard_stop_at: float) -> dict:
    """Closed loop: `concurrency` lanes, each with its own keep-alive connection, post one new alert after
    another (spread over `tables` tables) until `stop_file` exists or `hard_stop_at` (wall clock) passes."""
    import ssl

    _lean_httpx()
    import httpx

    endpoint = f"{url}/webhooks/generic"
    headers = _headers()
    plain = ssl.create_default_context()
    clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1), timeout=30.0,
                                 verify=plain) for _ in range(concurrency)]
    done: list[tuple[float, str, float]] = []       # (wall time answered, status, ms)
    counter = iter(range(10 ** 7))
    stopping = False

    async def watch() -> None:
        nonlocal stopping
        stop = Path(stop_file)
        while not stopping:
            if stop.exists() or time.time() >= hard_stop_at:
                stopping = True
            await asyncio.sleep(0.05)

    async def lane(client) -> None:
        while not stopping:
            i = next(counter)
            body = _alert(tag, i, i % tables)
            t = time.perf_counter()
            try:
                r = await client.post(endpoint, content=body, headers=headers)
                status = str(r.status_code)
            except Exception as exc:  # noqa: BLE001
                status = type(exc).__name__
            done.append((time.time(), status, (time.perf_counter() - t) * 1000))

    started = time.time()
    watcher = asyncio.create_task(watch())
    try:
        await asyncio.gather(*(lane(c) for c in clients))
    finally:
        stopping = True
        await watcher
        for c in clients:
            await c.aclose()
    return {"started_at": started, "stopped_at": time.time(), "done": done}


def _warm() -> bool:
    _lean_httpx()
    import httpx  # noqa: F401
    return True


def summarize_profile(path: Path, top: int = 6) -> dict:
    """py-spy's collapsed stacks ("thread (tid): name;frame (file:line);... count") -> per kind of thread
    (numbered pool threads merged): samples, and the most frequent innermost frames (bot and Bolt frames only
    where there are any, so a wait shows where in our code it waits) with their share of that thread's samples."""
    import collections
    import re

    samples: dict[str, int] = collections.Counter()
    tails: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        thread = re.sub(r"^thread \(\d+\)(: )?|_\d+$|0x[0-9a-f]+", "", frames[0]).strip() or "(unnamed)"
        ours = [f.split(" (")[0] for f in frames[1:] if "(bot/" in f or "/bot/" in f or "slack_bolt" in f or "contextlib" in f] or \
               [f.split(" (")[0] for f in frames[1:]]
        samples[thread] += int(count)
        tails[thread][" > ".join(ours[-3:])] += int(count)
    return {t: {"samples": n, "top": [[round(m / n, 3), s] for s, m in tails[t].most_common(top)]}
            for t, n in samples.most_common()}


# --- orchestration ---------------------------------------------------------------------------------------------

def _get_json(url: str) -> dict:
    import httpx
    return httpx.get(url, timeout=10).json()


def seed(bot, n: int, wait: float) -> dict:
    """n alerts on distinct tables (a new incident each), then wait until the bot has processed and posted all."""
    import httpx
    with httpx.Client(timeout=10) as client:
        statuses = [client.post(f"{bot.url}/webhooks/generic", content=_alert("seed", i, 990000 + i),
                                headers=_headers()).status_code for i in range(n)]
    deadline = time.monotonic() + wait
    depths = _get_json(f"{bot.url}/healthz")
    while (depths.get("inbox") or depths.get("outbox")) and time.monotonic() < deadline:
        time.sleep(0.2)
        depths = _get_json(f"{bot.url}/healthz")
    return {"alerts": n, "all_202": all(s == 202 for s in statuses), "depths_after": depths}


def wait_for_answers(slack, tokens: list[str], wait: float) -> dict[str, float]:
    """token -> emulator time of the first post to its response_url; waits up to `wait` s for all of them."""
    want = set(tokens)
    deadline = time.monotonic() + wait
    while True:
        got: dict[str, float] = {}
        for r in slack.responses():
            if r["token"] in want and r["token"] not in got:
                got[r["token"]] = r["at"]
        if len(got) == len(want) or time.monotonic() >= deadline:
            return got
        time.sleep(0.25)


def command_phase(name: str, args, cmd_pool, slack, bot, start_at: float) -> tuple[dict, dict]:
    base = slack.url.removesuffix("/api/")
    cpu0 = bot.cpu()
    res = cmd_pool.submit(run_commands, bot.url, base, SIGNING_SECRET, args.commands, args.rate, args.text, name,
                          start_at, args.warmup).result(timeout=args.commands / args.rate + 120)
    bot_cpu = bot.cpu() - cpu0
    sent = res["sent"]
    answers = wait_for_answers(slack, list(sent) + res["warm_tokens"], args.wait)
    statuses: dict[str, int] = {}
    for v in sent.values():
        statuses[v["status"]] = statuses.get(v["status"], 0) + 1
    span = res["last_done_at"] - res["first_sent_at"]
    out = {
        "commands": len(sent), "statuses": statuses, "all_200": statuses.get("200", 0) == len(sent),
        "answered": sum(1 for k in sent if k in answers),
        "warmup_answered": f"{sum(1 for k in res['warm_tokens'] if k in answers)}/{len(res['warm_tokens'])}",
        "span_s": round(span, 2), "achieved_rate": round((len(sent) - 1) / span, 2) if span > 0 else 0.0,
        "max_schedule_lag_ms": round(res["max_schedule_lag_ms"], 1), "bot_cpu_s": round(bot_cpu, 2),
        "ack_ms": _summary([v["ack_ms"] for v in sent.values()]),
        "answer_ms": _summary([(answers[k] - v["sent_at"]) * 1000 for k, v in sent.items() if k in answers]),
        "slowest_acks": sorted(({"i": v["i"], "ack_ms": round(v["ack_ms"], 1)} for v in sent.values()),
                               key=lambda x: -x["ack_ms"])[:5],
        # per command, in send order: [seconds after the first send, ack ms, answer ms or null]
        "series": [[round(v["sent_at"] - res["first_sent_at"], 3), round(v["ack_ms"], 1),
                    round((answers[k] - v["sent_at"]) * 1000, 1) if k in answers else None]
                   for k, v in sorted(sent.items(), key=lambda kv: kv[1]["i"])],
    }
    return out, res


def main() -> int:
    parser = argparse.ArgumentParser(description="dre-bot slash-command ack latency, idle and under an alert storm")
    parser.add_argument("--commands", type=int, default=200, help="commands per phase (default 200)")
    parser.add_argument("--rate", type=float, default=10.0, help="commands per second, open loop (default 10)")
    parser.add_argument("--text", default="status", help="the command text after /dre (default: status)")
    parser.add_argument("--concurrency", type=int, default=32, help="storm webhooks in flight (default 32)")
    parser.add_argument("--tables", type=int, default=500, help="distinct tables in the storm (default 500)")
    parser.add_argument("--seed", type=int, default=30, help="alerts (incidents) before the idle phase (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="uncounted commands before each phase (default 5)")
    parser.add_argument("--storm-lead", type=float, default=2.0, help="seconds of storm before the commands start")
    parser.add_argument("--wait", type=float, default=30.0, help="how long to wait for answers at response_urls")
    parser.add_argument("--profile", action="store_true",
                        help="sample the bot with py-spy during the storm phase; a summary per thread goes in the JSON, "
                             "the collapsed stacks in the temporary directory (--keep). A diagnostic: it costs CPU")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    args = parser.parse_args()
    if args.commands < 2 or args.rate <= 0 or args.concurrency < 1 or args.tables < 1 or args.seed < 0 \
            or args.commands / args.rate > 90:
        parser.error("need --commands >= 2, positive rates and sizes, and --commands / --rate <= 90 s")

    sys.path.insert(0, str(ROOT))
    from sandbox.slack import SlackEmulator
    from sandbox.threaded_server import ThreadedServer

    info = machine()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    print(f"dre-bot slash-command ack benchmark on {info['nproc']} CPUs ({info['cpu_model']}), Python "
          f"{info['python']}, load average {info['loadavg_at_start']}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="dre-ack-"))
    slack = SlackEmulator(":memory:")
    server = ThreadedServer(slack.app())
    slack.url = f"{server.start()}/api/"
    spawn = mp.get_context("spawn")
    cmd_pool = ProcessPoolExecutor(max_workers=1, mp_context=spawn)
    storm_pool = ProcessPoolExecutor(max_workers=1, mp_context=spawn)
    bot = make_bot(work / "bot", slack.url)
    bot.env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    started = time.time()
    profile_path, profile = None, None
    try:
        cmd_warm, storm_warm = cmd_pool.submit(_warm), storm_pool.submit(_warm)
        bot.start()
        cmd_warm.result(timeout=60), storm_warm.result(timeout=60)
        print(f"phase 0: seed, {args.seed} alerts on distinct tables", flush=True)
        seeded = seed(bot, args.seed, args.wait)

        print(f"phase 1: idle, {args.commands} x `/dre {args.text}` at {args.rate:g}/s", flush=True)
        idle, _ = command_phase("idle", args, cmd_pool, slack, bot, time.time() + 0.3)
        print(f"  ack p50 {idle['ack_ms']['p50']} ms, p99 {idle['ack_ms']['p99']} ms; "
              f"answered {idle['answered']}/{idle['commands']}", flush=True)

        print(f"phase 2: under load, the same commands while {args.concurrency} webhooks are in flight "
              f"over {args.tables} tables", flush=True)
        stop_file = work / "storm.stop"
        storm_start = time.time()
        hard_stop = storm_start + args.storm_lead + args.commands / args.rate + 60
        storm_future = storm_pool.submit(run_storm, bot.url, args.concurrency, args.tables, "sto", str(stop_file),
                                         hard_stop)
        profiler = None
        if args.profile and shutil.which("py-spy", path=str(Path(sys.executable).parent)):
            profile_path = work / "bot-load.pyspy.txt"
            profiler = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(bot.proc.pid), "--threads",
                 "--idle", "--nonblocking", "--format", "raw", "--rate", "100", "--output", str(profile_path),
                 "--duration", str(int(args.storm_lead + args.commands / args.rate + 2))],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu_storm0 = bot.cpu()
        try:
            load, raw = command_phase("load", args, cmd_pool, slack, bot, storm_start + args.storm_lead)
        finally:
            stop_file.touch()
        st = storm_future.result(timeout=120)
        storm_bot_cpu = bot.cpu() - cpu_storm0
        if profiler is not None:
            try:
                profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                profiler.terminate()
            if profile_path.exists():
                profile = summarize_profile(profile_path)
        backlog = _get_json(f"{bot.url}/healthz")
    finally:
        cmd_pool.shutdown(wait=True, cancel_futures=True)
        storm_pool.shutdown(wait=True, cancel_futures=True)
        bot.stop()
        server.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    # The storm as it was while the commands were being sent and answered.
    w0, w1 = raw["first_sent_at"], raw["last_done_at"]
    in_window = [d for d in st["done"] if w0 <= d[0] <= w1]
    storm_statuses: dict[str, int] = {}
    for d in st["done"]:
        storm_statuses[d[1]] = storm_statuses.get(d[1], 0) + 1
    accepted_in_window = sum(1 for d in in_window if d[1] == "202")
    storm_fig = {
        "concurrency": args.concurrency, "tables": args.tables, "sent": len(st["done"]), "statuses": storm_statuses,
        "seconds": round(st["stopped_at"] - st["started_at"], 2), "lead_s": args.storm_lead,
        "covered_command_phase": st["started_at"] <= w0 - 1 and st["stopped_at"] >= w1,
        "accepted_during_commands": accepted_in_window,
        "accepted_per_s_during_commands": round(accepted_in_window / (w1 - w0), 1) if w1 > w0 else 0.0,
        "webhook_ack_ms_during_commands": _summary([d[2] for d in in_window]),
        "bot_cpu_s": round(storm_bot_cpu, 2), "bot_depths_after": backlog,
    }

    p99_idle, p99_load = idle["ack_ms"]["p99"], load["ack_ms"]["p99"]
    complete = (idle["all_200"] and load["all_200"] and idle["answered"] == idle["commands"]
                and load["answered"] == load["commands"] and storm_fig["covered_command_phase"])
    targets = {"p99_ack_under_load_under_300ms": bool(complete and p99_load < 300)}
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": round(time.time() - started, 1),
              "machine": info, "args": vars(args), "seed": seeded, "idle": idle, "load": load, "storm": storm_fig,
              "ratio_p50_load_over_idle": round(load["ack_ms"]["p50"] / idle["ack_ms"]["p50"], 2),
              "ratio_p99_load_over_idle": round(p99_load / p99_idle, 2), "targets": targets,
              "profile": profile}

    def f(x) -> str:
        return f"{x:.1f}" if isinstance(x, (int, float)) else str(x)

    rows = [
        (f"`/dre {args.text}` commands at {args.rate:g}/s, per phase", f"{args.commands}", "", ""),
        ("answered 200 (empty body)", f"{idle['statuses'].get('200', 0)}", f"{load['statuses'].get('200', 0)}", "all"),
        ("answers arrived at response_url", f"{idle['answered']}", f"{load['answered']}", "all"),
        ("ack p50 ms", f(idle["ack_ms"]["p50"]), f(load["ack_ms"]["p50"]), ""),
        ("ack p90 ms", f(idle["ack_ms"]["p90"]), f(load["ack_ms"]["p90"]), ""),
        ("ack p99 ms", f(p99_idle), f(p99_load),
         f"< 300 under load  {'PASS' if targets['p99_ack_under_load_under_300ms'] else 'FAIL'}"),
        ("ack max ms", f(idle["ack_ms"]["max"]), f(load["ack_ms"]["max"]), ""),
        ("ratio load / idle, p50 / p99", "", f"{result['ratio_p50_load_over_idle']:.1f} / "
                                             f"{result['ratio_p99_load_over_idle']:.1f}", ""),
        ("answer at response_url p50 / p99 ms",
         f"{f(idle['answer_ms'].get('p50'))} / {f(idle['answer_ms'].get('p99'))}",
         f"{f(load['answer_ms'].get('p50'))} / {f(load['answer_ms'].get('p99'))}", ""),
        ("storm: webhooks accepted/s during the commands", "", f(storm_fig["accepted_per_s_during_commands"]), ""),
        ("storm: webhook ack p50 / p99 ms during the commands", "",
         f"{f(storm_fig['webhook_ack_ms_during_commands'].get('p50'))} / "
         f"{f(storm_fig['webhook_ack_ms_during_commands'].get('p99'))}", ""),
        ("bot CPU s during the phase", f(idle["bot_cpu_s"]), f(load["bot_cpu_s"]), ""),
    ]
    c0 = max(len(r[0]) for r in rows)
    c1 = max(len(r[1]) for r in rows + [("", "idle")])
    c2 = max(len(r[2]) for r in rows + [("", "", "under load")])
    print()
    print(f"{'figure':<{c0}}  {'idle':>{c1}}  {'under load':>{c2}}  target")
    print(f"{'-' * c0}  {'-' * c1}  {'-' * c2}  {'-' * 24}")
    for name, a, b, target in rows:
        print(f"{name:<{c0}}  {a:>{c1}}  {b:>{c2}}  {target}")
    if not storm_fig["covered_command_phase"]:
        print("WARNING: the storm did not cover the whole command phase")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ack-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)} in {result['duration_s']:.0f}s"
          + ("; profile summary under \"profile\"" if profile else ""))
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
