"""Open-to-evidence latency: from an alert's 202 to the first automatic diagnostic result in its incident's thread,
against a real `dre-bot serve` and the local BigQuery (the sandbox warehouse), over the example alerts.

When an incident opens whose runbook lists `auto_diagnostics`, the bot posts the card, then the runbook snippet,
then each diagnostic's result as a reply (":mag: *Diagnostic* ..." or ":warning: Diagnostic ... did not run").
Per incident this measures, from the wall-clock time the sender got the webhook's 202:
  - card:     the Slack emulator's time of the chat.postMessage that posted the incident's card (the baseline);
  - evidence: the emulator's time of the first diagnostic result reply in the card's thread (either kind);
  - mag:      the same, counting only results that ran (":mag:"), so a diagnostic that cannot run on the local
              warehouse (`failed_jobs`: no INFORMATION_SCHEMA.JOBS view) does not count as evidence;
  - all:      the last of the runbook's automatic diagnostics' results.
and, from the bot's database, where the time went: when the diagnostic jobs were enqueued (the incident's
opening transaction) and when their BigQuery jobs finished (the `diag.run` outbox rows' delivered_at).

The example alerts used are those in examples/alerts/ whose parsed alert carries a table and whose best runbook
lists auto_diagnostics (decided by the bot's own parsers and runbook matcher). Each is sent --per-example times,
interleaved, open loop at one alert every --interval s, each with a unique dedup key / fingerprint / incident id
and a unique `bench_send` label (a second, dummy table for Monte Carlo, which has no free-form labels), the table
kept. The generated dre-bot.toml groups by that label (`[grouping] keys = ["bench_send", "tables"]`) so each send
opens a new incident on the same real table, and routes sends round-robin over --channels channels (Slack's
per-channel pacing, 1 message/s with bursts of 4, is kept, as in bench/storm.py).

Processes, all on 127.0.0.1: this one (the Slack emulator on a ThreadedServer, the sender, orchestration), the
BigQuery emulator (`sandbox.warehouse.Warehouse`, its own process) and the bot.

    python bench/diag_latency.py [--per-example N] [--interval S] [--channels C] [--wait S] [--keep]

Figures are printed as a table and written to bench/results/diag-<timestamp>.json. See docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/storm.py: process handling, percentiles, machine facts, the webhook token.
from storm import ROOT, RESULTS, TOKEN, _summary, machine, make_bot, proc_cpu  # noqa: E402

MC_SECRET = "bench-montecarlo-secret"
PROJECT = "dre-sandbox"
SOURCE_OF = {"gcp_monitoring": "gcp-monitoring", "alertmanager": "alertmanager", "montecarlo": "montecarlo",
             "generic": "generic"}
RESULT_PREFIXES = (":mag: *Diagnostic*", ":warning: Diagnostic")


# --- the example alerts ------------------------------------------------------------------------------------------

def source_for(path: Path) -> str | None:
    for prefix, source in SOURCE_OF.items():
        if path.stem.startswith(prefix + "_"):
            return source
    return None


def select_examples() -> list[dict]:
    """Example alerts with a table whose best runbook has auto_diagnostics, as the bot itself would decide."""
    from bot.runbook import best_match, load_all
    from bot.sources import SOURCES

    runbooks = load_all(ROOT / "runbooks")
    chosen = []
    for path in sorted((ROOT / "examples" / "alerts").glob("*.json")):
        source = source_for(path)
        if source is None:
            continue
        doc = json.loads(path.read_text())
        alerts = [a for a in SOURCES[source].parse(doc) if a.firing]
        if len(alerts) != 1:
            continue
        alert = alerts[0]
        runbook = best_match(runbooks, alert)
        if not (runbook and runbook.auto_diagnostics and alert.labels.get("table")):
            continue
        chosen.append({"name": path.stem, "source": source, "doc": doc, "table": alert.labels["table"],
                       "kind": alert.kind, "runbook": runbook.path if isinstance(runbook.path, str) else str(runbook.path),
                       "auto": list(runbook.auto_diagnostics)})
    return chosen


def unique_body(example: dict, tag: str) -> tuple[bytes, str]:
    """The example with a unique dedup key / fingerprint / incident id and `bench_send` label; same table.
    Returns the body and the alert's fingerprint as the bot will compute it."""
    from bot.sources import SOURCES

    doc = copy.deepcopy(example["doc"])
    source = example["source"]
    if source == "generic":
        doc["dedup_key"] = f"{doc.get('dedup_key') or doc['title']}/bench/{tag}"
        doc.setdefault("labels", {})["bench_send"] = tag
    elif source == "alertmanager":
        doc["groupKey"] = f"{doc.get('groupKey', '')}/bench/{tag}"
        for item in doc["alerts"]:
            item["labels"]["bench_send"] = tag
            item["fingerprint"] = uuid.uuid4().hex[:16]
    elif source == "gcp-monitoring":
        inc = doc["incident"]
        inc["incident_id"] = f"{inc['incident_id']}.bench.{tag}"
        meta = inc.setdefault("metadata", {})
        meta.setdefault("user_labels", {})["bench_send"] = tag
    elif source == "montecarlo":
        payload = doc["payload"]
        payload["incident_id"] = str(uuid.uuid4())
        # Monte Carlo alerts carry no free-form labels: a second event on a dummy table makes the `tables` label
        # unique; the first event's table (the real one) stays the incident's table.
        payload["event_list"].append({"table_name": f"{PROJECT}:zz_bench.{tag}", "rule": None, "data": {}})
    body = json.dumps(doc).encode()
    alerts = SOURCES[source].parse(json.loads(body))
    assert alerts[0].labels.get("table") == example["table"], (example["name"], alerts[0].labels)
    return body, alerts[0].fingerprint


def headers_for(source: str, body: bytes) -> dict[str, str]:
    h = {"Content-Type": "application/json"}
    if source == "montecarlo":
        from bot.sources.montecarlo import signature
        h["x-mcd-signature"] = signature(MC_SECRET, body)
    else:
        h["Authorization"] = f"Bearer {TOKEN}"
    return h


# --- the bot's configuration -------------------------------------------------------------------------------------

def bot_config(channels: int) -> str:
    lines = ["[delivery]", "channel_rate = 1.0", "channel_burst = 4", "threads = 4", "",
             "[grouping]", 'keys = ["bench_send", "tables"]', "",
             "[diagnostics]", f'allowed = ["{PROJECT}.analytics", "{PROJECT}.crm"]', 'timeout = "20s"', ""]
    for c in range(channels):
        for label, glob in (("bench_send", f"c{c:02d}_*"), ("tables", f"*zz_bench.c{c:02d}_*")):
            lines += ["[[routes]]", f'match = {{ {label} = "{glob}" }}', f'channel = "#diag-{c:02d}"', ""]
    return "\n".join(lines)


# --- sending -----------------------------------------------------------------------------------------------------

def send_all(url: str, plan: list[dict], interval: float) -> tuple[list[dict], float]:
    """Open loop: item i is sent at start + i * interval (on a small thread pool), answered or not."""
    import httpx

    client = httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))
    lag = 0.0
    lock = threading.Lock()

    def one(item: dict) -> None:
        t = time.perf_counter()
        try:
            r = client.post(f"{url}/webhooks/{item['source']}", content=item["body"],
                            headers=headers_for(item["source"], item["body"]))
            status = str(r.status_code)
        except Exception as exc:  # noqa: BLE001 - counted, reported
            status = type(exc).__name__
        with lock:
            item["acked_at"] = time.time()
            item["ack_ms"] = (time.perf_counter() - t) * 1000
            item["status"] = status

    try:
        client.get(f"{url}/healthz")
        with ThreadPoolExecutor(max_workers=8) as pool:
            start = time.perf_counter() + 0.1
            futures = []
            for i, item in enumerate(plan):
                delay = start + i * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    lag = max(lag, -delay)
                futures.append(pool.submit(one, item))
            for f in futures:
                f.result(timeout=60)
    finally:
        client.close()
    return plan, lag * 1000


# --- reading what happened ------------------------------------------------------------------------------------------

def bot_facts(db_path: Path, fingerprints: list[str]) -> dict[str, dict]:
    """fingerprint -> the incident it opened: id, Slack channel/ts of its card, when it opened, its diag.run rows."""
    from bot import store

    stem = str(db_path)[:-3] if str(db_path).endswith(".db") else str(db_path)
    conn = store.connect_for_reading(str(db_path), stem + ".inbox.db")
    try:
        out: dict[str, dict] = {}
        for fp in fingerprints:
            row = conn.execute("SELECT i.id, i.slack_channel, i.slack_ts, i.alert_count FROM incident_alerts a "
                               "JOIN incidents i ON i.id = a.incident_id WHERE a.fingerprint = ?", (fp,)).fetchone()
            if row is None:
                continue
            opened = conn.execute("SELECT min(at) FROM timeline WHERE incident_id = ? AND kind = 'opened'",
                                  (row["id"],)).fetchone()[0]
            runs = [dict(r) for r in conn.execute(
                "SELECT payload, status, attempts, created_at, delivered_at FROM outbox "
                "WHERE incident_id = ? AND kind = 'diag.run' ORDER BY id", (row["id"],))]
            out[fp] = {"incident": row["id"], "slack_channel": row["slack_channel"], "slack_ts": row["slack_ts"],
                       "alert_count": row["alert_count"], "opened_at": opened,
                       "runs": [{"query": json.loads(r["payload"])["query"], "status": r["status"],
                                 "attempts": r["attempts"], "created_at": r["created_at"],
                                 "delivered_at": r["delivered_at"]} for r in runs]}
        return out
    finally:
        conn.close()


def slack_facts(slack) -> tuple[dict[str, float], dict[str, list[tuple[float, str]]]]:
    """(incident name -> time of its card's chat.postMessage,
        thread ts -> [(time, text)] of the diagnostic result replies posted in it), from the emulator's calls."""
    cards: dict[str, float] = {}
    results: dict[str, list[tuple[float, str]]] = {}
    for call in slack.calls("chat.postMessage"):
        if not call["ok"]:
            continue
        p = call["params"]
        if p.get("thread_ts"):
            text = str(p.get("text", ""))
            if text.startswith(RESULT_PREFIXES):
                results.setdefault(str(p["thread_ts"]), []).append((call["at"], text))
            continue
        meta = p.get("metadata")
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except ValueError:
                meta = None
        inc = ((meta or {}).get("event_payload") or {}).get("incident")
        if inc and inc not in cards:
            cards[inc] = call["at"]
    return cards, results


def complete(plan: list[dict], facts: dict[str, dict], results: dict[str, list]) -> int:
    done = 0
    for item in plan:
        f = facts.get(item["fingerprint"])
        if f and f["slack_ts"] and len(results.get(f["slack_ts"], ())) >= len(item["auto"]):
            done += 1
    return done


# --- main ------------------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description="dre-bot open-to-evidence latency (see docs/PERFORMANCE.md)")
    parser.add_argument("--per-example", type=int, default=10, help="sends of each example alert (default 10)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between sends, open loop (default 0.5)")
    parser.add_argument("--channels", type=int, default=100, help="Slack channels the sends are spread over (default "
                                                                  "100; 1 puts every incident in one channel)")
    parser.add_argument("--wait", type=float, default=60.0, help="how long to wait for the last results (default 60)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    args = parser.parse_args()
    if args.per_example < 1 or args.interval <= 0 or not 1 <= args.channels <= 100 or args.wait <= 0:
        parser.error("need --per-example >= 1, --interval > 0, 1 <= --channels <= 100, --wait > 0")

    sys.path.insert(0, str(ROOT))
    from sandbox.slack import SlackEmulator
    from sandbox.threaded_server import ThreadedServer
    from sandbox.warehouse import Warehouse, missing_requirements

    if missing_requirements():
        print(f"the sandbox warehouse needs: {missing_requirements()} (pip install -e '.[sandbox]')")
        return 2
    examples = select_examples()
    if not examples:
        print("no example alert with a table and a runbook with auto_diagnostics")
        return 2
    info = machine()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    print(f"dre-bot open-to-evidence benchmark on {info['nproc']} CPUs ({info['cpu_model']}), Python "
          f"{info['python']}, load average {info['loadavg_at_start']}", flush=True)
    for ex in examples:
        print(f"  {ex['name']:26} {ex['source']:14} {ex['table']:32} {Path(ex['runbook']).name:24} "
              f"auto: {', '.join(ex['auto'])}", flush=True)

    # Interleaved: e0 e1 ... e5 e0 e1 ..., each send a new incident on the example's real table.
    plan = []
    for rep in range(args.per_example):
        for ex in examples:
            seq = len(plan)
            tag = f"c{seq % args.channels:02d}_{seq:04d}"
            body, fp = unique_body(ex, tag)
            plan.append({"seq": seq, "example": ex["name"], "source": ex["source"], "tag": tag, "body": body,
                         "fingerprint": fp, "auto": ex["auto"]})

    work = Path(tempfile.mkdtemp(prefix="dre-diag-"))
    slack = SlackEmulator(":memory:")
    server = ThreadedServer(slack.app())
    slack.url = f"{server.start()}/api/"
    started = time.time()
    warehouse = None
    bot = None
    try:
        t = time.perf_counter()
        warehouse = Warehouse().start()
        print(f"warehouse up in {time.perf_counter() - t:.1f}s at {warehouse.api_endpoint}", flush=True)
        bot = make_bot(work / "bot", slack.url)
        (work / "bot" / "dre-bot.toml").write_text(bot_config(args.channels))
        bot.env.update(BIGQUERY_API_URL=warehouse.api_endpoint, GOOGLE_CLOUD_PROJECT=PROJECT,
                       MONTECARLO_WEBHOOK_SECRET=MC_SECRET)
        bot.env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        bot.start()
        print(f"sending {len(plan)} alerts, one every {args.interval:g}s, over {min(args.channels, len(plan))} "
              f"channels", flush=True)
        wh_pid = warehouse._proc.pid if getattr(warehouse, "_proc", None) else None   # its CPU, for the record
        cpu0, wh_cpu0 = bot.cpu(), (proc_cpu(wh_pid) if wh_pid else float("nan"))
        _, lag_ms = send_all(bot.url, plan, args.interval)
        send_span = max(i["acked_at"] for i in plan) - min(i["acked_at"] for i in plan)
        fps = [i["fingerprint"] for i in plan]
        deadline = time.monotonic() + args.wait
        while True:
            facts = bot_facts(Path(bot.env["DRE_DB"]), fps)
            cards, results = slack_facts(slack)
            done = complete(plan, facts, results)
            if done == len(plan) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        bot_cpu = bot.cpu() - cpu0
        wh_cpu = (proc_cpu(wh_pid) if wh_pid else float("nan")) - wh_cpu0
        healthz = _get_json(f"{bot.url}/healthz")
    finally:
        if bot is not None:
            bot.stop()
        if warehouse is not None:
            warehouse.stop()
        server.stop()

    # Per incident.
    per: list[dict] = []
    for item in plan:
        f = facts.get(item["fingerprint"])
        row = {"seq": item["seq"], "example": item["example"], "status": item.get("status"),
               "ack_ms": round(item.get("ack_ms", float("nan")), 1)}
        if f:
            row["incident"] = f"INC-{f['incident']}"
            row["alert_count"] = f["alert_count"]
            a = item["acked_at"]
            card = cards.get(row["incident"])
            rs = sorted(results.get(f["slack_ts"] or "", []))
            mags = [r for r in rs if r[1].startswith(":mag:")]
            ms = lambda x: round((x - a) * 1000, 1) if x is not None else None  # noqa: E731
            row.update(card_ms=ms(card), evidence_ms=ms(rs[0][0]) if rs else None,
                       evidence_kind=(":mag:" if rs[0][1].startswith(":mag:") else ":warning:") if rs else None,
                       evidence_query=(rs[0][1].split("`")[1] if rs and "`" in rs[0][1] else None),
                       mag_ms=ms(mags[0][0]) if mags else None,
                       all_ms=ms(rs[-1][0]) if len(rs) >= len(item["auto"]) else None,
                       results=len(rs), expected=len(item["auto"]), opened_ms=ms(f["opened_at"]),
                       runs=[{"query": r["query"], "status": r["status"], "attempts": r["attempts"],
                              "enqueued_ms": ms(r["created_at"]), "job_done_ms": ms(r["delivered_at"])}
                             for r in f["runs"]])
            first = next((x for x in row["runs"] if x["query"] == row["evidence_query"]), None)
            if first and first["job_done_ms"] is not None and row["evidence_ms"] is not None:
                row["evidence_job_done_ms"] = first["job_done_ms"]           # its BigQuery job finished (recorded)
                row["evidence_post_wait_ms"] = round(row["evidence_ms"] - first["job_done_ms"], 1)  # then to Slack
        per.append(row)

    def vals(key: str, rows=per) -> list[float]:
        return [r[key] for r in rows if r.get(key) is not None]

    by_example = {}
    for ex in examples:
        rows = [r for r in per if r["example"] == ex["name"]]
        by_example[ex["name"]] = {"table": ex["table"], "auto": ex["auto"], "sent": len(rows),
                                  "card_ms": _summary(vals("card_ms", rows)),
                                  "evidence_ms": _summary(vals("evidence_ms", rows)),
                                  "mag_ms": _summary(vals("mag_ms", rows))}
    first_jobs = [min(x["job_done_ms"] for x in r["runs"] if x["job_done_ms"] is not None)
                  for r in per if r.get("runs") and any(x["job_done_ms"] is not None for x in r["runs"])]
    # BigQuery jobs finished per second, first to last (the deliverer records a job when it finishes).
    job_times = sorted(i["acked_at"] + x["job_done_ms"] / 1000 for i, r in zip(plan, per) for x in r.get("runs", ())
                       if x["job_done_ms"] is not None)
    jobs_per_s = (len(job_times) - 1) / (job_times[-1] - job_times[0]) if len(job_times) > 1 and \
        job_times[-1] > job_times[0] else 0.0
    statuses: dict[str, int] = {}
    for r in per:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    got = sum(1 for r in per if r.get("evidence_ms") is not None)
    got_all = sum(1 for r in per if r.get("all_ms") is not None)
    new_incidents = len({r.get("incident") for r in per if r.get("incident")})
    figures = {
        "sent": len(plan), "statuses": statuses, "new_incidents": new_incidents,
        "cards_posted": len(vals("card_ms")), "with_a_result": got, "with_all_results": got_all,
        "with_a_mag_result": len(vals("mag_ms")),
        "card_ms": _summary(vals("card_ms")), "evidence_ms": _summary(vals("evidence_ms")),
        "mag_ms": _summary(vals("mag_ms")), "all_results_ms": _summary(vals("all_ms")),
        "opened_ms": _summary(vals("opened_ms")), "first_job_done_ms": _summary(first_jobs),
        "ack_ms": _summary(vals("ack_ms")),
        "evidence_job_done_ms": _summary(vals("evidence_job_done_ms")),
        "evidence_post_wait_ms": _summary(vals("evidence_post_wait_ms")),
        "first_result_kind": {k: sum(1 for r in per if r.get("evidence_kind") == k) for k in (":mag:", ":warning:")},
        "jobs_offered_per_s": round(sum(len(i["auto"]) for i in plan) / len(plan) / args.interval, 2),
        "jobs_done": len(job_times), "jobs_done_per_s": round(jobs_per_s, 2), "warehouse_cpu_s": round(wh_cpu, 2),
        "send_span_s": round(send_span, 2), "max_schedule_lag_ms": round(lag_ms, 1), "bot_cpu_s": round(bot_cpu, 2),
        "bot_depths_after": healthz,
    }
    ok = (statuses.get("202", 0) == len(plan) and new_incidents == len(plan) and got == len(plan))
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": round(time.time() - started, 1),
              "machine": info, "args": vars(args),
              "examples": [{k: ex[k] for k in ("name", "source", "table", "kind", "runbook", "auto")} for ex in examples],
              "figures": figures, "by_example": by_example, "incidents": per}

    def f3(s: dict) -> str:
        return " / ".join(f"{s.get(k, float('nan')):.0f}" for k in ("p50", "p99", "max")) if s.get("n") else "-"

    rows = [
        (f"alerts sent (one every {args.interval:g}s) / 202 / new incidents",
         f"{len(plan)} / {statuses.get('202', 0)} / {new_incidents}"),
        ("cards posted / with a result / with all results", f"{figures['cards_posted']} / {got} / {got_all}"),
        ("first result :mag: / :warning: (did not run)",
         f"{figures['first_result_kind'][':mag:']} / {figures['first_result_kind'][':warning:']}"),
        ("202 -> card posted, p50 / p99 / max ms", f3(figures["card_ms"])),
        ("202 -> first diagnostic result, p50 / p99 / max ms", f3(figures["evidence_ms"])),
        ("202 -> first :mag: result, p50 / p99 / max ms", f3(figures["mag_ms"])),
        ("202 -> all automatic results, p50 / p99 / max ms", f3(figures["all_results_ms"])),
        ("202 -> incident opened (timeline), p50 / p99 / max ms", f3(figures["opened_ms"])),
        ("202 -> first BigQuery job done, p50 / p99 / max ms", f3(figures["first_job_done_ms"])),
        ("  of which: 202 -> that result's BigQuery job recorded done", f3(figures["evidence_job_done_ms"])),
        ("  of which: job recorded done -> result posted to Slack", f3(figures["evidence_post_wait_ms"])),
        ("webhook ack p50 / p99 / max ms", f3(figures["ack_ms"])),
        ("BigQuery jobs offered / finished per s", f"{figures['jobs_offered_per_s']:.2f} / {jobs_per_s:.2f}"),
        ("CPU s: bot / warehouse, during the run", f"{bot_cpu:.1f} / {wh_cpu:.1f}"),
    ]
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print()
    print(f"{'figure':<{w0}}  {'value':>{w1}}")
    print(f"{'-' * w0}  {'-' * w1}")
    for name, value in rows:
        print(f"{name:<{w0}}  {value:>{w1}}")
    print()
    print(f"{'example':<26}  {'card p50/p99':>13}  {'first result p50/p99':>20}  {':mag: p50/p99':>14}")
    for name, e in by_example.items():
        c, ev, mg = e["card_ms"], e["evidence_ms"], e["mag_ms"]
        pp = lambda s: f"{s['p50']:.0f}/{s['p99']:.0f}" if s.get("n") else "-"  # noqa: E731
        print(f"{name:<26}  {pp(c):>13}  {pp(ev):>20}  {pp(mg):>14}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"diag-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwritten to {out.relative_to(ROOT)} in {result['duration_s']:.0f}s")
    if not ok:
        print("WARNING: not every alert was accepted, opened its own incident and got a result")
    return 0 if ok else 1


def _get_json(url: str) -> dict:
    import httpx
    try:
        return httpx.get(url, timeout=10).json()
    except Exception as exc:  # noqa: BLE001
        return {"error": repr(exc)}


if __name__ == "__main__":
    sys.exit(main())
