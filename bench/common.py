"""What the benchmarks share: the processes they start (dre-bot, the bare endpoint, Alertmanager), the Slack
emulator, an Alertmanager webhook receiver, percentiles and the machine's description.

Everything listens on 127.0.0.1 and every process started here is stopped with a bound on the wait.
Used by bench/storm.py and bench/ingest.py (both run as scripts, so this is imported as `common`).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TOKEN = "bench-webhook-token"
SLACK_TOKEN = "xoxb-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
ALERTMANAGER_HINT = "apt-get install prometheus-alertmanager"


# --- the load generator's helpers --------------------------------------------------------------------------------

def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _lean_httpx() -> None:
    """httpcore tries `import sniffio` on every lock it makes; newer anyio no longer installs sniffio, so each
    try is a failed import that scans sys.path (about half a millisecond of the load generator's CPU per
    request). asyncio is the only loop here, so answer for sniffio. Load generator process only."""
    try:
        import sniffio  # noqa: F401
    except ImportError:
        import types
        shim = types.ModuleType("sniffio")
        shim.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
        sys.modules["sniffio"] = shim


def _cpu_self() -> float:
    ru = os.times()
    return ru.user + ru.system


async def open_loop(n: int, rate: float, send, start: float) -> tuple[list, float]:
    """Start send(i) at start + i/rate (perf_counter) whether or not earlier ones have answered: an open loop.
    Returns the tasks and the worst lag behind schedule, in seconds."""
    import asyncio
    tasks, lag = [], 0.0
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            lag = max(lag, -delay)
        tasks.append(asyncio.create_task(send(i)))
    return tasks, lag


# --- figures -----------------------------------------------------------------------------------------------------

def _pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _summary(values: list[float]) -> dict:
    v = sorted(values)
    if not v:
        return {"n": 0}
    return {"n": len(v), "p50": round(_pct(v, 50), 2), "p90": round(_pct(v, 90), 2), "p95": round(_pct(v, 95), 2),
            "p99": round(_pct(v, 99), 2), "max": round(v[-1], 2), "mean": round(statistics.fmean(v), 2)}


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


# --- processes -----------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return float("nan")


def peak_rss_mb(pid: int, field: str = "VmHWM") -> float:
    """The process's peak resident set size so far (VmHWM in /proc/<pid>/status; VmRSS: now), in MiB; nan when
    the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return float("nan")


class Server:
    """A subprocess serving HTTP on a loopback port; started, waited for, stopped, all with bounds."""

    ready_path = "/healthz"

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path):
        self.name, self.argv, self.env, self.port, self.log = name, argv, env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.spawned_at = float("nan")
        self.ready_after_s = float("nan")     # from spawning to the first 200 on ready_path
        self.peak_rss_mb = float("nan")       # VmHWM sampled just before it is stopped
        self.rss_mb = float("nan")            # VmRSS at the same moment

    def start(self, timeout: float = 30.0, poll: float = 0.05) -> "Server":
        import httpx

        with open(self.log, "ab") as fh:
            self.spawned_at = time.perf_counter()
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log {self.log}:\n"
                                       f"{self.log.read_text(errors='replace')[-3000:]}")
                try:
                    if client.get(f"{self.url}{self.ready_path}").status_code == 200:
                        self.ready_after_s = time.perf_counter() - self.spawned_at
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(poll)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} within {timeout}s; log {self.log}")

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid) if self.proc else float("nan")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.peak_rss_mb = peak_rss_mb(self.proc.pid)
            self.rss_mb = peak_rss_mb(self.proc.pid, "VmRSS")
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def bot_config(channels: int) -> str:
    """Tables analytics.tNNNNNN go round-robin to #bench-0.. by their last digits (one channel: all of them to
    #bench-0), so Slack's per-channel pacing (the defaults: 1 message/s, bursts of 4) is measured only where the
    benchmark means to measure it."""
    lines = ["[delivery]", "channel_rate = 1.0", "channel_burst = 4", "threads = 4", ""]
    if channels == 1:
        return "\n".join(lines + ["[[routes]]", 'match = { table = "analytics.t*" }', 'channel = "#bench-0"', ""])
    width = len(str(channels - 1))
    if 10 ** width != channels:
        raise ValueError("channels must be 1 or a power of ten (routes match the tables' last digits)")
    for c in range(channels):
        lines += ["[[routes]]", f'match = {{ table = "analytics.t*{c:0{width}d}" }}', f'channel = "#bench-{c:0{width}d}"',
                  ""]
    return "\n".join(lines)


def make_bot(workdir: Path, slack_url: str, channels: int = 100) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "dre-bot.toml").write_text(bot_config(channels))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DRE_", "MONTECARLO_", "PAGERDUTY_"))}
    env.update(SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET="bench-signing-secret", SLACK_API_URL=slack_url,
               DRE_DB=str(workdir / "dre-bot.db"), DRE_WEBHOOK_TOKEN=TOKEN, DRE_CONFIG=str(workdir / "dre-bot.toml"),
               DRE_CHANNEL="#bench-default", PORT=str(port))
    return Server("dre-bot", [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env, port,
                  workdir / "bot.log")


def make_bare(workdir: Path) -> Server:
    port = free_port()
    return Server("bare endpoint", [sys.executable, str(ROOT / "bench" / "bare_endpoint.py"), "--port", str(port)],
                  dict(os.environ), port, workdir / "bare.log")


def inbox_path(db_path: Path) -> Path:
    """The bot's inbox database: DRE_DB's sibling `<name>.inbox.db`."""
    s = str(db_path)
    return Path(s[:-3] + ".inbox.db" if s.endswith(".db") else s + ".inbox.db")


def durable_rows(db_path: Path) -> int:
    """Rows in the bot's inbox database, where a 202 means committed."""
    conn = sqlite3.connect(f"file:{inbox_path(db_path)}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
    finally:
        conn.close()


# --- the Slack emulator and Alertmanager ---------------------------------------------------------------------------

def start_slack():
    """The Slack emulator on a ThreadedServer in this process; returns (emulator, server), emulator.url set."""
    sys.path.insert(0, str(ROOT))
    from sandbox.slack import SlackEmulator
    from sandbox.threaded_server import ThreadedServer
    slack = SlackEmulator(":memory:")
    server = ThreadedServer(slack.app())
    slack.url = f"{server.start()}/api/"
    return slack, server


def alertmanager_binary() -> str | None:
    for candidate in (os.environ.get("ALERTMANAGER_BIN"), "/usr/bin/prometheus-alertmanager",
                      shutil.which("prometheus-alertmanager"), shutil.which("alertmanager")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class Receiver:
    """A webhook receiver for Alertmanager's notifications, in this process: remembers when each came and the
    labels of the alerts it carried."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.received: list[tuple[float, list[dict]]] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                at = time.time()
                doc = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with lock:
                    outer.received.append((at, [a.get("labels", {}) for a in doc.get("alerts", [])]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                """Alertmanager stopped mid-notification (the end of a round): nothing to report."""
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        self.received = []

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_alertmanager(workdir: Path, hook_url: str, *, group_by: str = "['...']", group_wait: str = "0s",
                      group_interval: str = "1s", repeat_interval: str = "4h", binary: str | None = None) -> Server:
    """Debian's prometheus-alertmanager with one webhook receiver, its own storage and no cluster (no gossip)."""
    binary = binary or alertmanager_binary()
    if not binary:
        raise RuntimeError(f"prometheus-alertmanager is not installed ({ALERTMANAGER_HINT})")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(
        f"route:\n  receiver: hook\n  group_by: {group_by}\n  group_wait: {group_wait}\n"
        f"  group_interval: {group_interval}\n  repeat_interval: {repeat_interval}\n"
        f"receivers:\n- name: hook\n  webhook_configs:\n  - url: {hook_url}\n    send_resolved: false\n")
    port = free_port()
    am = Server("alertmanager", [binary, f"--config.file={workdir / 'alertmanager.yml'}",
                                 f"--storage.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                 "--cluster.listen-address=", "--log.level=warn"],
                dict(os.environ), port, workdir / "alertmanager.log")
    am.ready_path = "/-/ready"          # Alertmanager has no /healthz
    return am
