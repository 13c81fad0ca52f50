"""The sandbox warehouse: a local BigQuery (the `bqemulator` package) on 127.0.0.1, seeded with a small
warehouse whose problems match the example alerts, used through the real google-cloud-bigquery client.

    with Warehouse() as wh:                 # starts the emulator on a free loopback port and seeds it
        client = wh.client()                # google.cloud.bigquery.Client(project="dre-sandbox", ...)
        client.query("SELECT 1").result()

The emulator runs in a child process (`python -m sandbox.warehouse --serve ...`) so that its DuckDB engine,
its logging set-up and its warnings stay out of the bot's (or pytest's) process. The child:

* installs DuckDB's `spatial` extension from the `duckdb-extension-spatial` wheel when DuckDB has not got it
  (bqemulator refuses to start without it and would otherwise try to download it; there is no internet here);
* runs bqemulator's `EmulatorServer` with a clock whose offset the parent can move (a small file holding seconds),
  so the seed can make a table look last modified 30 hours ago: the emulator offers no other way to set a
  table's modification time, and `INFORMATION_SCHEMA.PARTITIONS.last_modified_time` is that time.

See docs/BIGQUERY_SANDBOX.md for what the emulator supports and what it does not.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_PROJECT = "dre-sandbox"
#: What the sandbox needs besides the bot's own dependencies (the lead pins these in pyproject.toml).
REQUIREMENTS = {
    "bqemulator": "bqemulator",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "duckdb": "duckdb",
    "duckdb_extension_spatial": "duckdb-extension-spatial",
    "numpy": "numpy",
}
_REPO_ROOT = Path(__file__).resolve().parents[2]


class WarehouseUnavailable(RuntimeError):
    """The sandbox warehouse cannot run here; the message says what is missing and how to get it."""


def missing_requirements() -> list[str]:
    """Pip requirement names of the sandbox warehouse's packages that cannot be imported here."""
    missing = []
    for module, requirement in REQUIREMENTS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(requirement)
    return missing


def spatial_extension_file() -> Path:
    """The `spatial` extension file shipped by the duckdb-extension-spatial wheel for the installed duckdb."""
    import duckdb
    import duckdb_extension_spatial

    root = Path(duckdb_extension_spatial.__file__).resolve().parent / "extensions"
    wanted = root / f"v{duckdb.__version__}" / "spatial.duckdb_extension"
    if wanted.is_file():
        return wanted
    shipped = sorted(p.parent.name for p in root.glob("v*/spatial.duckdb_extension"))
    raise WarehouseUnavailable(
        f"duckdb-extension-spatial ships the spatial extension for {', '.join(shipped) or 'no version'}, but duckdb "
        f"is {duckdb.__version__}: install matching versions, e.g. "
        f"pip install 'duckdb=={shipped[-1][1:] if shipped else '1.5.5'}' 'duckdb-extension-spatial=="
        f"{shipped[-1][1:] if shipped else '1.5.5'}'"
    )


def ensure_spatial_extension() -> str:
    """Make `INSTALL spatial; LOAD spatial` work offline; returns where DuckDB has the extension.

    DuckDB keeps installed extensions in its extension directory (~/.duckdb/extensions/<version>/<platform>/ by
    default); `INSTALL '<file>'` copies the wheel's file there, after which bqemulator's own `INSTALL spatial` is a
    no-op and `LOAD spatial` works without a network.
    """
    import duckdb

    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT installed, install_path FROM duckdb_extensions() WHERE extension_name = 'spatial'"
        ).fetchone()
        if not (row and row[0]):
            path = spatial_extension_file()
            con.execute(f"INSTALL '{path.as_posix()}'")
            row = con.execute(
                "SELECT installed, install_path FROM duckdb_extensions() WHERE extension_name = 'spatial'"
            ).fetchone()
        try:
            con.execute("LOAD spatial")
        except duckdb.Error as exc:
            raise WarehouseUnavailable(
                f"DuckDB's spatial extension is installed at {row[1] if row else '?'} but does not load: {exc}. "
                "Reinstall matching duckdb and duckdb-extension-spatial versions."
            ) from exc
        return str(row[1]) if row else ""
    finally:
        con.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Warehouse:
    """A seeded bqemulator on 127.0.0.1, for the sandbox and the tests.

    Warehouse(port=None) picks a free loopback port; `seed=False` leaves it empty (the project's datasets are
    created by the seed). `.api_endpoint` is what `ClientOptions(api_endpoint=...)` takes; `.client()` builds a
    google-cloud-bigquery Client on it with anonymous credentials. `.seed_seconds` / `.start_seconds` say how long
    each took.
    """

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        *,
        port: int | None = None,
        seed: bool = True,
        now: datetime | None = None,
        startup_timeout: float = 60.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.project = project
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self._port_given = port is not None
        self.api_endpoint = f"http://{self.host}:{self.port}"
        self._seed = seed
        self._now = now
        self._startup_timeout = startup_timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log_path = Path(log_path) if log_path else None
        self._clock_file: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None
        self.seed_seconds: float | None = None
        self.seeded: Any = None  # warehouse_seed.SeedInfo once seeded

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> Warehouse:
        """Start the emulator. A port we picked can be taken by another process before the child binds it (many
        test workers pick ports at once): then pick another and try again, twice at most."""
        for attempt in range(3):
            try:
                return self._start_once()
            except WarehouseUnavailable as exc:
                if self._port_given or "address already in use" not in str(exc) or attempt == 2:
                    raise
                self.port = free_port(self.host)
                self.api_endpoint = f"http://{self.host}:{self.port}"
        return self

    def _start_once(self) -> Warehouse:
        if self._proc is not None:
            return self
        missing = missing_requirements()
        if missing:
            raise WarehouseUnavailable(
                "the sandbox warehouse needs these Python packages, which are not installed: "
                + ", ".join(missing)
                + f" (pip install {' '.join(missing)}; matching versions are listed in docs/BIGQUERY_SANDBOX.md)"
            )
        started = time.monotonic()
        self._tmp = tempfile.TemporaryDirectory(prefix="dre-bot-warehouse-")
        tmp = Path(self._tmp.name)
        self._clock_file = tmp / "clock-offset-seconds"
        self._clock_file.write_text("0")
        if self._log_path is None:
            self._log_path = tmp / "bqemulator.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BQEMU_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        cmd = [
            sys.executable, "-m", "sandbox.warehouse", "--serve",
            "--host", self.host, "--port", str(self.port), "--project", self.project,
            "--clock-file", str(self._clock_file),
        ]
        with open(self._log_path, "wb") as log:
            # cwd = the temporary folder: bqemulator reads a .bqemu.toml from its working directory.
            self._proc = subprocess.Popen(
                cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_answering()
            self.start_seconds = time.monotonic() - started
            if self._seed:
                from sandbox import warehouse_seed

                t0 = time.monotonic()
                self.seeded = warehouse_seed.seed(self.client(), now=self._now, set_clock=self.set_clock)
                self.seed_seconds = time.monotonic() - t0
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self) -> None:
        url = f"{self.api_endpoint}/bigquery/v2/projects/{self.project}/datasets"
        deadline = time.monotonic() + self._startup_timeout
        assert self._proc is not None
        while True:
            if self._proc.poll() is not None:
                raise WarehouseUnavailable(
                    f"the BigQuery emulator exited with code {self._proc.returncode} before answering:\n"
                    + self.log_tail()
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise WarehouseUnavailable(
                    f"the BigQuery emulator did not answer on {self.api_endpoint} within "
                    f"{self._startup_timeout:.0f}s:\n" + self.log_tail()
                )
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        if self._log_path is None or not self._log_path.exists():
            return "(no log)"
        text = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        if self._tmp is not None:
            if self._log_path is not None and self._log_path.is_relative_to(self._tmp.name):
                self._log_path = None
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Warehouse:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- use -----------------------------------------------------------------------------------------------------

    def client(self) -> Any:
        """A google-cloud-bigquery Client for this warehouse (anonymous credentials, loopback endpoint)."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.api_endpoint),
        )

    def set_clock(self, offset: timedelta) -> None:
        """Move the emulator's metadata clock (table creation/modification times, job times) by `offset`.

        Query functions (CURRENT_TIMESTAMP()) keep the real time: only the emulator's catalog stamps move.
        """
        if self._clock_file is None:
            raise RuntimeError("the warehouse is not started")
        tmp = self._clock_file.with_suffix(".tmp")
        tmp.write_text(repr(offset.total_seconds()))
        tmp.replace(self._clock_file)


# -- the child process ---------------------------------------------------------------------------------------------


class _FileOffsetClock:
    """bqemulator Clock whose offset (seconds, a float) is read from a file the parent rewrites."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._mtime_ns = -1
        self._offset = timedelta()

    def _current_offset(self) -> timedelta:
        try:
            st = os.stat(self._path)
            if st.st_mtime_ns != self._mtime_ns:
                with open(self._path) as f:
                    self._offset = timedelta(seconds=float(f.read().strip() or 0))
                self._mtime_ns = st.st_mtime_ns
        except (OSError, ValueError):
            pass
        return self._offset

    def now(self) -> datetime:
        return datetime.now(tz=UTC) + self._current_offset()

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.warehouse --serve")
    parser.add_argument("--serve", action="store_true", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    parser.add_argument("--clock-file", default=None)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the sandbox warehouse listens on loopback only")
    missing = missing_requirements()
    if missing:
        print(f"dre-bot warehouse: missing Python packages: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        where = ensure_spatial_extension()
    except WarehouseUnavailable as exc:
        print(f"dre-bot warehouse: {exc}", file=sys.stderr)
        return 2
    print(f"dre-bot warehouse: DuckDB spatial extension at {where}", file=sys.stderr, flush=True)

    from bqemulator.config import LogFormat, LogLevel, PersistenceMode, Settings
    from bqemulator.server import EmulatorServer

    settings = Settings(
        rest_host=args.host,
        rest_port=args.port,
        grpc_host=args.host,
        grpc_port=0,
        persistence_mode=PersistenceMode.EPHEMERAL,
        default_project_id=args.project,
        log_level=LogLevel(args.log_level),
        log_format=LogFormat.CONSOLE,
        # The avro extension would be downloaded (no network here); Avro loads are not used by the bot.
        enable_format_extensions=False,
        metrics_enabled=False,
        tracing_enabled=False,
        admin_enabled=False,
    )
    clock = _FileOffsetClock(args.clock_file) if args.clock_file else None
    _exit_with_parent()
    EmulatorServer(settings, clock=clock).run_forever()
    return 0


def _exit_with_parent() -> None:
    """The child runs in its own session; when the bot that started it dies (even by SIGKILL), it goes too."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--serve" in argv:
        return _serve(argv)
    # Without --serve: start a seeded warehouse in the foreground and print how to reach it.
    parser = argparse.ArgumentParser(prog="python -m sandbox.warehouse")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--no-seed", action="store_true")
    args = parser.parse_args(argv)
    with Warehouse(port=args.port, seed=not args.no_seed) as wh:
        print(f"BigQuery emulator for project {wh.project} at {wh.api_endpoint} "
              f"(started in {wh.start_seconds:.1f}s, seeded in {wh.seed_seconds or 0:.1f}s); Ctrl-C stops it.",
              flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    sys.exit(main())
