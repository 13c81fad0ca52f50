"""The Slack emulator's HTTP face: the Web API endpoint (arguments, auth, faults, the call log), /_sandbox routes."""

from __future__ import annotations

import http
import json
import logging
import sqlite3
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.slack.core import (
    BOT_ID, BOT_NAME, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, TEAM_NAME, Method, SlackCore, SlackError, parse_multipart,
)

log = logging.getLogger(__name__)

# Arguments Slack documents as "JSON-based ... presented as a URL-encoded string".
JSON_ARGS = ("blocks", "metadata", "view", "files", "attachments")


class SlackApp(SlackCore):
    """api.test, auth.test, faults, and the Starlette app assembling every family's methods and routes."""

    scopes: tuple[str, ...] | None = None   # the token's scopes, sent in x-oauth-scopes when set

    def _api_methods(self) -> dict[str, Method]:
        return {**super()._api_methods(), "api.test": self._api_test, "auth.test": self._auth_test}

    def _api_test(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": True, "args": {k: v for k, v in args.items()}}
        if args.get("error"):
            raise SlackError(str(args["error"]), args=out["args"])
        return out

    def _auth_test(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def inject_fault(self, method: str, status: int, count: int = 1, retry_after: int | None = None,
                     error: str | None = None, lost_answer: bool = False) -> None:
        """Make the next `count` calls of `method` ("*" = any) fail with `status` (429, 5xx, or 200 + error).

        lost_answer=True: the call takes effect (the message is posted) but its answer is lost, as when a
        connection drops or the caller crashes between Slack's post and its own record of it."""
        status = int(status)
        if status == 200 and not error:
            raise ValueError("a status-200 fault needs an error name")
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO faults (method, status, remaining, retry_after, error, lost_answer) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (method, status, int(count), retry_after, error, int(lost_answer)),
            )

    def clear_faults(self) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM faults")

    def _take_fault(self, conn: sqlite3.Connection, method: str) -> sqlite3.Row | None:
        row = conn.execute(
            "SELECT * FROM faults WHERE remaining > 0 AND (method = ? OR method = '*') ORDER BY seq LIMIT 1", (method,)
        ).fetchone()
        if row is not None:
            conn.execute("UPDATE faults SET remaining = remaining - 1 WHERE seq = ?", (row["seq"],))
            conn.execute("DELETE FROM faults WHERE remaining <= 0")
        return row

    @staticmethod
    def _fault_response(fault: sqlite3.Row) -> tuple[Response, int, str]:
        status = int(fault["status"])
        if status == 429:
            retry_after = fault["retry_after"] if fault["retry_after"] is not None else 1
            body = {"ok": False, "error": "ratelimited"}
            return JSONResponse(body, status_code=429, headers={"Retry-After": str(int(retry_after))}), 429, "ratelimited"
        if status == 200:
            error = fault["error"] or "internal_error"
            return JSONResponse({"ok": False, "error": error}), 200, error
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        headers = {"Retry-After": str(int(fault["retry_after"]))} if fault["retry_after"] is not None else None
        return PlainTextResponse(f"{status} {phrase}", status_code=status, headers=headers), status, fault["error"] or phrase.lower().replace(" ", "_")

    async def _read_args(self, request: Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query_params)
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        ctype = content_type.split(";")[0].strip().lower()
        if body:
            if ctype == "application/json":
                try:
                    data = json.loads(body)
                except ValueError as exc:
                    raise SlackError("invalid_json") from exc
                if not isinstance(data, dict):
                    raise SlackError("invalid_json")
                args.update(data)
            elif ctype == "multipart/form-data":
                args.update(parse_multipart(body, content_type))
            else:  # application/x-www-form-urlencoded, text/plain, or missing
                try:
                    args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError as exc:
                    raise SlackError("invalid_form_data") from exc
        for key in JSON_ARGS:
            value = args.get(key)
            if isinstance(value, str) and value.strip():
                try:
                    args[key] = json.loads(value)
                except ValueError:
                    pass  # left as a string: the method answers its own *_format error
        return args

    def _authorized(self, token: str | None, method: str = "") -> str | None:
        """None if fine, else the Slack error name."""
        if not token:
            return "not_authed"
        if token.startswith("xapp-"):   # an app-level token opens Socket Mode connections and nothing else
            return None if method == "apps.connections.open" else "not_allowed_token_type"
        if self.tokens is None:
            return None if token.startswith(("xoxb-", "xoxp-")) else "invalid_auth"
        return None if token in self.tokens else "invalid_auth"

    @staticmethod
    def _base_url(request: Request) -> str:
        root = request.scope.get("root_path", "") or ""
        return f"{request.url.scheme}://{request.url.netloc}{root}".rstrip("/")

    def _record_call(self, conn: sqlite3.Connection, method: str, params: dict[str, Any], status: int, ok: bool, error: str | None) -> None:
        safe = {k: (v if not isinstance(v, bytes) else f"<{len(v)} bytes>") for k, v in params.items()}
        conn.execute(
            "INSERT INTO calls (method, params, status, ok, error, at) VALUES (?, ?, ?, ?, ?, ?)",
            (method, json.dumps(safe, default=str), status, int(ok), error, time.time()),
        )

    async def _api_endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        try:
            args = await self._read_args(request)
        except SlackError as exc:
            with self._tx() as conn:
                self._record_call(conn, method, {}, 200, False, exc.error)
            return JSONResponse({"ok": False, "error": exc.error})
        form_token = args.pop("token", None)
        token = token or (str(form_token) if form_token else None)
        ctx: dict[str, Any] = {"method": method, "base_url": self._base_url(request), "token": token}
        with self._tx() as conn:
            ctx["conn"] = conn
            fault = self._take_fault(conn, method)
            if fault is not None and not fault["lost_answer"]:
                response, status, error = self._fault_response(fault)
                self._record_call(conn, method, args, status, False, error)
                return response
            auth_error = self._authorized(token, method)
            handler = self._methods.get(method)
            if auth_error:
                body: dict[str, Any] = {"ok": False, "error": auth_error}
            elif handler is None:
                body = {"ok": False, "error": "unknown_method", "req_method": method}
            else:
                conn.execute("SAVEPOINT handler")
                try:
                    body = handler(args, ctx)
                    conn.execute("RELEASE handler")
                except SlackError as exc:
                    conn.execute("ROLLBACK TO handler")
                    conn.execute("RELEASE handler")
                    body = {"ok": False, "error": exc.error, **exc.extra}
                except Exception as exc:  # noqa: BLE001 - an emulator bug: answer like Slack would, but say why
                    conn.execute("ROLLBACK TO handler")
                    conn.execute("RELEASE handler")
                    log.exception("slack emulator: %s failed", method)
                    body = {"ok": False, "error": "internal_error", "emulator_exception": repr(exc)}
            if fault is not None:  # lost answer: the handler ran, the caller hears a failure
                response, status, error = self._fault_response(fault)
                self._record_call(conn, method, args, status, False, error)
                return response
            self._record_call(conn, method, args, 200, bool(body.get("ok")), body.get("error"))
        # Slack names a token's scopes in this header on every Web API answer; `scopes = None` leaves it out.
        scopes = {"x-oauth-scopes": ",".join(self.scopes)} if self.scopes is not None and not auth_error else None
        return JSONResponse(body, headers=scopes)

    async def _sb_calls(self, request: Request) -> Response:
        return JSONResponse(self.calls(request.query_params.get("method") or None))

    async def _sb_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_faults()
            return JSONResponse({"ok": True})
        try:
            spec = json.loads(await request.body() or b"{}")
            self.inject_fault(
                str(spec["method"]),
                int(spec["status"]),
                int(spec.get("count", 1)),
                None if spec.get("retry_after") is None else int(spec["retry_after"]),
                spec.get("error"),
                bool(spec.get("lost_answer", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"ok": False, "error": f"bad fault: {exc}"}, status_code=400)
        return JSONResponse({"ok": True})

    async def _sb_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        """The Starlette app: /api/{method}, /upload/{file_id}, /response/{token}, and /_sandbox/* for tests and the CLI."""
        return Starlette(
            routes=[
                Route("/api/{method}", self._api_endpoint, methods=["GET", "POST"]),
                Route("/_sandbox/calls", self._sb_calls, methods=["GET"]),
                Route("/_sandbox/faults", self._sb_faults, methods=["POST", "DELETE"]),
                Route("/_sandbox/reset", self._sb_reset, methods=["POST"]),
                *self._routes(),
            ]
        )

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every API call in order, failed and faulted ones included."""
        sql, params = "SELECT * FROM calls", ()
        if method:
            sql, params = sql + " WHERE method = ?", (method,)
        rows = self._query(sql + " ORDER BY seq", params)
        return [
            {"method": r["method"], "params": json.loads(r["params"]), "status": r["status"], "ok": bool(r["ok"]), "error": r["error"], "at": r["at"]}
            for r in rows
        ]
