"""A real Prometheus Alertmanager, run as a subprocess on loopback for end-to-end tests.

Debian/Ubuntu: `apt-get install -y prometheus-alertmanager` (binary /usr/bin/prometheus-alertmanager). The
package tries to start a system service; we never use it: each test runs its own instance with clustering off,
its own storage dir and config, listening on 127.0.0.1 only.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, wait_for

INSTALL_HINT = ("a real Prometheus Alertmanager is needed: `sudo apt-get install -y prometheus-alertmanager` "
                "(or put an `alertmanager` binary on PATH, or set ALERTMANAGER_BIN)")


def find_binary() -> str:
    """The Alertmanager binary; skip the test if there is none, except on CI (CI=true), where that fails it."""
    for candidate in (os.environ.get("ALERTMANAGER_BIN"), "/usr/bin/prometheus-alertmanager",
                      shutil.which("prometheus-alertmanager"), shutil.which("alertmanager")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but no Alertmanager binary found; {INSTALL_HINT}")
    pytest.skip(INSTALL_HINT)


def webhook_config(bot_url: str, token: str, *, group_wait: str = "1s", group_interval: str = "2s") -> str:
    """One webhook receiver at the bot, grouped by alertname and table (Alertmanager >= 0.22 syntax)."""
    return f"""\
route:
  receiver: dre-bot
  group_by: ['alertname', 'table']
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: 24h
receivers:
  - name: dre-bot
    webhook_configs:
      - url: {bot_url}/webhooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Alertmanager:
    """One Alertmanager process: `push()` alerts to its v2 API, read its counters with `metric()`."""

    def __init__(self, binary: str, workdir: Path, config: str):
        self.binary, self.workdir, self.config = binary, workdir, config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "alertmanager.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Alertmanager":
        storage = self.workdir / "am-data"
        storage.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "am.yml"
        config_path.write_text(self.config)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary,
                 f"--config.file={config_path}",
                 f"--storage.path={storage}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 f"--web.external-url={self.url}",
                 "--cluster.listen-address=",          # no gossip, no 0.0.0.0:9094
                 "--log.level=debug"],
                cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=15, what=f"Alertmanager to answer /-/ready (log: {self.log_path})")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"Alertmanager exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def push(self, alerts: list[dict[str, Any]]) -> None:
        r = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=5)
        assert r.status_code == 200, (r.status_code, r.text)

    def alerts(self) -> list[dict]:
        return httpx.get(f"{self.url}/api/v2/alerts", timeout=5).json()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a counter's series whose labels include `labels` (0 if none yet)."""
        total = 0.0
        for line in httpx.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            m = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
            if not m:
                continue
            have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1) or ""))
            if all(have.get(k) == v for k, v in labels.items()):
                total += float(m.group(2))
        return total

    def webhooks_sent(self) -> float:
        return self.metric("alertmanager_notifications_total", integration="webhook")

    def webhooks_failed(self) -> float:
        return self.metric("alertmanager_notifications_failed_total", integration="webhook")
