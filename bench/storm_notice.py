"""Time to first visible notice in a one-channel storm: `--incidents` new incidents at `--rate` a second, all
routed to ONE Slack channel, against a real `dre-bot serve` with Slack's pacing (1 message/s, bursts of 4), once
with storm summaries (`[delivery] storm_threshold = 5`, the default) and once without (0).

An incident's first visible notice is the earlier of its card's chat.postMessage and the first storm-summary post
or edit (metadata `dre_storm_summary`) that names it, as the Slack emulator recorded them; measured from the
moment its webhook was sent. Prints a table, writes results/notice-<timestamp>.json. 127.0.0.1 only, stops by
itself. docs/STORMS.md.

    python bench/storm_notice.py [--incidents 100] [--rate 10] [--wait 15]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, _headers, bot_config, make_bot  # noqa: E402
from ingest import slack_notices  # noqa: E402
from storm import _alert  # noqa: E402

sys.path.insert(0, str(ROOT))


def first_notices(slack) -> tuple[dict[int, float], dict[int, float]]:
    """INC number -> emulator time of its first notice (card or summary), and of its card: bench/ingest.py's
    reading of the emulator's calls (tests/acceptance/test_bench_ingest.py checks it)."""
    seen = slack_notices(slack)
    card = {int(name[4:]): at for name, at in seen["cards"].items()}
    notice = dict(card)
    for name, at in seen["summaries"].items():
        n = int(name[4:])
        notice[n] = min(at, notice.get(n, at))
    return notice, card


def pct(values: list[float], p: float) -> float | None:
    """Over every incident: None when that share of them had no notice by the end of the wait."""
    value = values[min(len(values) - 1, int(p * len(values)))] if values else float("inf")
    return None if value == float("inf") else round(value, 2)


def run(slack, work: Path, threshold: int, incidents: int, rate: float, wait: float) -> dict:
    slack.reset()
    bot = make_bot(work / f"bot-{threshold}", slack.url, channels=1)   # every table to #bench-0
    toml = work / f"bot-{threshold}" / "dre-bot.toml"
    toml.write_text(bot_config(1).replace("threads = 4", f"threads = 4\nstorm_threshold = {threshold}", 1))
    bot.start()
    try:
        sent: dict[int, float] = {}
        start = time.time()
        with httpx.Client(timeout=10) as client:
            for i in range(incidents):
                time.sleep(max(0.0, start + i / rate - time.time()))
                sent[i + 1] = time.time()
                r = client.post(f"{bot.url}/webhooks/generic", content=_alert("notice", i, i),
                                headers=_headers())
                assert r.status_code == 202, r.text
        time.sleep(wait)
        notice, card = first_notices(slack)
    finally:
        bot.stop()
    never = float("inf")
    lat = sorted(notice[n] - sent[n] if n in notice else never for n in sent)
    cards = sorted(card[n] - sent[n] if n in card else never for n in sent)
    return {"storm_threshold": threshold, "incidents": incidents, "rate": rate, "wait_s": wait,
            "noticed": sum(1 for x in lat if x < never), "notice_p50_s": pct(lat, .5), "notice_p95_s": pct(lat, .95),
            "notice_max_s": pct(lat, 1.0), "cards_posted": sum(1 for x in cards if x < never),
            "card_p50_s": pct(cards, .5)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--wait", type=float, default=15.0, help="seconds after the last alert before counting")
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON (default results/notice-<ts>.json)")
    args = parser.parse_args()
    from sandbox.slack import SlackEmulator
    from sandbox.threaded_server import ThreadedServer
    slack = SlackEmulator(":memory:")
    server = ThreadedServer(slack.app())
    slack.url = f"{server.start()}/api/"
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for threshold in (5, 0):
                rows.append(run(slack, Path(tmp), threshold, args.incidents, args.rate, args.wait))
    finally:
        server.stop()
    print(f"{args.incidents} new incidents at {args.rate:g}/s into one channel; counted {args.wait:g} s after the last")
    print("storm_threshold | noticed | notice p50 | p95 | max | cards posted | card p50   (-: not by then)")

    def s(value):
        return "-" if value is None else f"{value} s"
    for r in rows:
        print(f"{r['storm_threshold']:>15} | {r['noticed']:>7} | {s(r['notice_p50_s'])} | {s(r['notice_p95_s'])} | "
              f"{s(r['notice_max_s'])} | {r['cards_posted']:>12} | {s(r['card_p50_s'])}")
    RESULTS.mkdir(exist_ok=True)
    out = args.out or RESULTS / f"notice-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "runs": rows}, indent=2, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
