"""The test harness for every tier: the emulators served over real HTTP in the test process, and dre-bot itself,
the app `dre-bot serve` runs, in the test process too (tests/acceptance/ starts real processes instead).
Tests talk to both over loopback only."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from sandbox.slack import SlackEmulator
from sandbox.threaded_server import ThreadedServer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"   # vendors' own payloads, with their sources in SOURCES.md
SAMPLES = FIXTURES
EXAMPLES = ROOT / "examples" / "alerts"
TOKEN = "test-webhook-token"
MC_SECRET = "mc-test-secret"

FAST_DELIVERY = """
[delivery]
backoff_base = "0.05s"
backoff_max = "0.4s"
max_attempts = 6
channel_rate = 50
channel_burst = 50
"""


def sample(name: str) -> bytes:
    """A vendor's own payload, byte for byte (tests/fixtures), else one of ours (examples/alerts)."""
    path = SAMPLES / name if (SAMPLES / name).exists() else EXAMPLES / name
    if not path.exists():
        raise FileNotFoundError(f"{name} is in neither {SAMPLES} (the vendors' samples)"
                                f" nor {EXAMPLES}")
    return path.read_bytes()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mc_signature(secret: str, body: bytes) -> str:
    """As Monte Carlo signs: HMAC-SHA512 over urlencode(json.loads(body))."""
    return hmac.new(secret.encode(), urllib.parse.urlencode(json.loads(body)).encode("utf8"),
                    hashlib.sha512).hexdigest()


class ProcessBot:
    """A running `dre-bot serve` process and the ways to reach it: for what needs a process (kill -9, signals)."""

    def __init__(self, workdir: Path, env: dict[str, str], config: str):
        self.workdir, self.env, self.config = workdir, env, config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "bot.log"
        self.db_path = env["DRE_DB"]

    def start(self) -> "ProcessBot":
        (self.workdir / "dre-bot.toml").write_text(self.config)
        env = {**os.environ, **self.env, "PORT": str(self.port), "DRE_CONFIG": str(self.workdir / "dre-bot.toml")}
        env.pop("SLACK_BOT_TOKEN", None) if not self.env.get("SLACK_BOT_TOKEN") else None
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._healthy, timeout=30, what=f"dre-bot to answer /healthz (log: {self.log_path})")
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"dre-bot exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """A crash: SIGKILL, no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def post(self, source: str, body: bytes | str | dict, *, auth: str | None = "bearer",
             content_type: str = "application/json", headers: dict | None = None,
             path_suffix: str = "") -> httpx.Response:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": content_type, **(headers or {})}
        if auth == "bearer":
            h["Authorization"] = f"Bearer {TOKEN}"
        elif auth == "basic":
            h["Authorization"] = "Basic " + base64.b64encode(f"dre:{TOKEN}".encode()).decode()
        elif auth == "mc":
            h["x-mcd-signature"] = mc_signature(MC_SECRET, body)
        return httpx.post(f"{self.url}/webhooks/{source}{path_suffix}", content=body, headers=h, timeout=10)

    def db(self):
        """The state database with the inbox attached (views `inbox` and `rejected`), for looking only."""
        from bot import store
        stem = self.db_path[:-3] if self.db_path.endswith(".db") else self.db_path
        return store.connect_for_reading(self.db_path, stem + ".inbox.db")

    def query(self, sql: str, *args: Any) -> list[dict]:
        conn = self.db()
        try:
            return [dict(r) for r in conn.execute(sql, args).fetchall()]
        finally:
            conn.close()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env, "DRE_CONFIG": str(self.workdir / "dre-bot.toml")}
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"   # as `dre-bot serve` logs


class Bot(ProcessBot):
    """dre-bot in the test process: the app `dre-bot serve` builds (bot.server.build), under uvicorn in a thread
    on a loopback port. Real HTTP and the real clients, as with the process; only the process boundary goes.
    The log goes to the same bot.log a process would write, so `log()` reads the same lines."""

    def __init__(self, workdir: Path, env: dict[str, str], config: str):
        super().__init__(workdir, env, config)
        self.server: Any = None
        self.thread: threading.Thread | None = None
        self._log_handler: logging.Handler | None = None
        self._log_levels: dict[str, int] = {}

    def settings_env(self) -> dict[str, str]:
        env = {**self.env, "PORT": str(self.port), "DRE_CONFIG": str(self.workdir / "dre-bot.toml")}
        return {k: v for k, v in env.items() if v or k != "SLACK_BOT_TOKEN"}

    def start(self) -> "Bot":
        import uvicorn

        from bot import clock, config
        from bot.server import build

        (self.workdir / "dre-bot.toml").write_text(self.config)
        clock.reset()   # a process would start on wall-clock time
        self._capture_log()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # a restart takes the same port back
        try:
            sock.bind(("127.0.0.1", self.port))
            app = build(config.load(self.settings_env()), self.port)
            self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                                        timeout_graceful_shutdown=5))
            self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                           name=f"dre-bot:{self.port}", daemon=True)
            self.thread.start()
            wait_for(self._listening, timeout=30, what=f"dre-bot to listen (log: {self.log_path})")
        except BaseException:
            self.stop()
            raise
        finally:
            sock.close()   # uvicorn serves from its own duplicate of the socket
        return self

    def _listening(self) -> bool:
        if self.server.started:
            return True
        if self.thread is not None and not self.thread.is_alive():
            raise AssertionError(f"dre-bot stopped while starting:\n{self.log()}")
        return False

    def _capture_log(self) -> None:
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.setLevel(logging.INFO)
        root = logging.getLogger()
        self._log_levels = {"": root.level, **{name: logging.getLogger(name).level
                                               for name in ("httpx", "httpx2", "pagerduty")}}
        root.setLevel(logging.INFO)
        for chatty in ("httpx", "httpx2", "pagerduty"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        root.addHandler(handler)
        self._log_handler = handler

    def _release_log(self) -> None:
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
            for name, level in self._log_levels.items():
                logging.getLogger(name or None).setLevel(level)

    def stop(self) -> None:
        """As SIGTERM does: uvicorn shuts down, and the lifespan stops every thread the runtime started."""
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=20)
            if self.thread.is_alive():
                raise AssertionError(f"dre-bot did not stop within 20 s:\n{self.log()[-3000:]}")
        self.server, self.thread = None, None
        self._release_log()

    def kill(self) -> None:
        pytest.fail("kill -9 needs a process: that test belongs in tests/acceptance/, whose bots are processes.")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """The same `dre-bot` command line, run in this process with the bot's environment."""
        from click.testing import CliRunner

        from bot.cli import main
        env = {**self.env, "DRE_CONFIG": str(self.workdir / "dre-bot.toml")}
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        return subprocess.CompletedProcess(["dre-bot", *args], result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def bot_kind() -> type[ProcessBot]:
    """How make_bot runs dre-bot: in this process here; tests/acceptance/ overrides it with real processes."""
    return Bot


def bot_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t is not threading.main_thread()}


@pytest.fixture(scope="module")
def warehouse():
    """The sandbox's local BigQuery (bqemulator), one per test module; CI must have it, elsewhere it may skip."""
    from sandbox.warehouse import Warehouse, missing_requirements
    if missing_requirements():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must install the sandbox extra: {missing_requirements()}")
        pytest.skip(f"sandbox warehouse packages not installed: {missing_requirements()}")
    with Warehouse() as wh:
        yield wh


@pytest.fixture
def slack():
    """The Slack Web API emulator on a loopback port; `slack.url` is what SLACK_API_URL points at."""
    emulator = SlackEmulator(":memory:")
    server = ThreadedServer(emulator.app())
    base = server.start()
    emulator.url = f"{base}/api/"
    yield emulator
    server.stop()


@pytest.fixture
def make_bot(tmp_path, slack, bot_kind):
    """Start dre-bots against the emulator; all are stopped at the end of the test, with every thread they began."""
    bots: list[ProcessBot] = []
    threads_before = bot_threads()

    def make(config: str = FAST_DELIVERY, sandbox: bool = False, **env: str) -> Bot:
        base_env = {
            "DRE_DB": str(tmp_path / "dre-bot.db"),
            "DRE_CHANNEL": "#data-incidents",
            "MONTECARLO_WEBHOOK_SECRET": MC_SECRET,
            "SLACK_SIGNING_SECRET": "test-signing-secret",
        }
        if not sandbox:
            base_env.update(SLACK_BOT_TOKEN="xoxb-test-token", SLACK_API_URL=slack.url, DRE_WEBHOOK_TOKEN=TOKEN)
        base_env.update(env)
        bot = bot_kind(tmp_path, base_env, config)
        bots.append(bot)
        return bot.start()

    yield make
    for bot in bots:
        bot.stop()
    # AnyIO's worker threads leave a moment after the bot's event loop closes, so this waits for them.
    def still_running() -> list[str]:
        return [t.name for t in bot_threads() - threads_before if t.is_alive()]
    try:
        wait_for(lambda: not still_running(), 5, "the bots' threads to end")
    except AssertionError:
        raise AssertionError(f"threads still running after the bots stopped: {still_running()}") from None


@pytest.fixture
def bot(make_bot) -> Bot:
    return make_bot()


def parents(slack: SlackEmulator, channel: str | None = None) -> list[dict]:
    return [m for m in slack.messages(channel) if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]


def replies(slack: SlackEmulator, parent_ts: str) -> list[dict]:
    return [m for m in slack.messages() if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts]


def settle(bot: Bot, timeout: float = 15.0) -> dict:
    """Wait until every accepted webhook is processed and every Slack call is delivered (or dead)."""
    def idle():
        h = httpx.get(f"{bot.url}/healthz", timeout=2).json()
        return h if h["inbox"] == 0 and h["outbox"] == 0 else None
    return wait_for(idle, timeout, "the inbox and outbox to drain")


def move_clock(bot: Bot, to: float) -> None:
    """Set a DRE_SCRIPTED_CLOCK bot's clock to `to`, then wait for a whole scheduler round that began after the
    move (handoffs, prompts, reminders, reports due at `to` are enqueued by then) and for delivery."""
    before = httpx.get(f"{bot.url}/healthz", timeout=2).json()["scheduler_rounds"]
    r = httpx.post(f"{bot.url}/sandbox/clock", json={"to": to}, timeout=5)
    assert r.status_code == 200, r.text
    wait_for(lambda: httpx.get(f"{bot.url}/healthz", timeout=2).json()["scheduler_rounds"] >= before + 2, 15,
             "a scheduler round after the clock moved")
    settle(bot)


ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"   # alice is on call; bob is in the channel; carol isn't
PERMISSIONS = FAST_DELIVERY + '\n[permissions]\nsilence = ["@dre-oncall"]\ncreate = ["@dre-oncall"]\n'


@pytest.fixture
def workspace(slack):
    """People and groups in the emulated workspace, as the permission checks will find them."""
    slack.add_user(ALICE, "alice", "alice@acme.example", "Europe/Paris")
    slack.add_user(BOB, "bob", "bob@acme.example", "America/New_York")
    slack.add_user(CAROL, "carol", "carol@acme.example", "Asia/Tokyo")
    slack.add_usergroup("@dre-oncall", [ALICE])
    slack.set_members("#data-incidents", [ALICE, BOB])
    return slack


@pytest.fixture
def sender(bot, workspace):
    from tests.slack_requests import SlackSender
    return SlackSender(bot.url, workspace)


def open_incident(bot, slack, table="analytics.orders", title="orders is stale") -> dict:
    """Open one incident through a real webhook and wait for its card; the card message."""
    assert bot.post("generic", {"title": title, "dedup_key": f"{table}:{title}", "kind": "freshness",
                                "labels": {"table": table}}).status_code == 202
    settle(bot)
    return next(m for m in reversed(parents(slack)) if title in m["text"])


PD_SECRET = "pd-webhook-secret"
PD_ROUTING_KEY = "R0UT1NGKEY0DATAPLATFORM000000001"   # 32 characters, as PagerDuty's are
PD_CONFIG = FAST_DELIVERY + '\n[pagerduty]\nschedules = ["PSCHED01"]\ndefault_service = "PSVC0001"\n' \
    'mirror_services = ["PSVC0002"]\nreconcile_interval = "1s"\nrate = 50\nburst = 50\n'


@pytest.fixture
def pd():
    """The PagerDuty emulator on a loopback port, seeded with the team that the Slack workspace fixture has."""
    from sandbox.pagerduty import PagerDutyEmulator
    emulator = PagerDutyEmulator(webhook_retry_delays=(0.05, 0.1))
    emulator.add_user("PALICE1", "Alice Lee", "alice@acme.example", "Europe/Paris")
    emulator.add_user("PBOB001", "Bob Ruiz", "bob@acme.example", "America/New_York")
    emulator.add_user("PFALLBK", "dre-bot", "dre-bot@acme.example")
    emulator.add_escalation_policy("PEP0001", "Data Platform", levels=[["PALICE1"], ["PBOB001"]])
    emulator.add_service("PSVC0001", "Data Platform", "PEP0001", PD_ROUTING_KEY)
    emulator.add_service("PSVC0002", "Warehouse (mirrored)", "PEP0001", "R0UT1NGKEY0WAREHOUSE000000000002")
    emulator.add_schedule("PSCHED01", "Data Platform primary", shifts=[
        ("PALICE1", "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z")], escalation_policy_id="PEP0001")
    server = ThreadedServer(emulator.app())
    emulator.url = server.start()
    yield emulator
    emulator.close()
    server.stop()


@pytest.fixture
def pd_bot(make_bot, workspace, pd):
    """A bot with PagerDuty configured against the emulator, and PagerDuty's webhooks pointed back at it."""
    bot = make_bot(PD_CONFIG, PAGERDUTY_API_TOKEN="pd-token", PAGERDUTY_ROUTING_KEY=PD_ROUTING_KEY,
                   PAGERDUTY_API_URL=pd.url, PAGERDUTY_EVENTS_URL=pd.url, PAGERDUTY_WEBHOOK_SECRET=PD_SECRET,
                   PAGERDUTY_FROM_EMAIL="dre-bot@acme.example")
    pd.subscribe(f"{bot.url}/webhooks/pagerduty", secret=PD_SECRET)
    return bot

