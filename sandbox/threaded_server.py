"""Run any ASGI app under uvicorn in a background thread on a local port, for tests and the sandbox."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class ThreadedServer:
    """Serve `app` on `host` (port 0: the OS picks a free one) from a daemon thread.

    >>> with ThreadedServer(app) as server:
    ...     server.base_url   # "http://127.0.0.1:54321"
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 10.0):
        self.app = app
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.base_url: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> str:
        """Start serving; block until the socket listens; return the base URL ("http://127.0.0.1:PORT")."""
        if self._thread is not None:
            raise RuntimeError("ThreadedServer already started")
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            try:
                server.run()
            except BaseException as exc:  # surfaced by start()
                self._error = exc

        self._thread = threading.Thread(target=run, name=f"ThreadedServer:{self.host}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not server.started:
            if not self._thread.is_alive():
                self._thread = None
                raise RuntimeError(f"server failed to start on {self.host}:{self.port}") from self._error
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"server did not start within {self.start_timeout}s")
            time.sleep(0.005)
        sock = server.servers[0].sockets[0]
        bound_port = sock.getsockname()[1]
        self.port = bound_port
        self.base_url = f"http://{self.host}:{bound_port}"
        return self.base_url

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread (idempotent)."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=5)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=2)
        self._thread = None
        self._server = None

    def __enter__(self) -> "ThreadedServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
