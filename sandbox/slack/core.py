"""The Slack emulator's workspace: SQLite state, channels and messages on the wire, helpers every family shares."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TEAM_ID = "T0DRESBOX"
TEAM_NAME = "DRE Sandbox"
TEAM_DOMAIN = "dre-sandbox"
BOT_USER_ID = "U0DREBOT"
BOT_ID = "B0DREBOT"
APP_ID = "A0DREBOT"
BOT_NAME = "dre-bot"


# Names and IDs that always answer "not found", so that error paths can be tested.
MISSING_CHANNEL_NAMES = frozenset({"does-not-exist"})
MISSING_CHANNEL_IDS = frozenset({"C0NOTFOUND"})
MISSING_USER_IDS = frozenset({"U0NOTFOUND"})


CHANNEL_ID_RE = re.compile(r"^[CGD][A-Z0-9]{8,}$")
USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{6,}$")
CHANNEL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._\-]{0,79}$")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS channels (id TEXT PRIMARY KEY, name TEXT, created INTEGER);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL, ts TEXT NOT NULL, ts_num INTEGER NOT NULL, thread_ts TEXT,
    text TEXT, blocks TEXT, attachments TEXT, metadata TEXT, files TEXT,
    user TEXT NOT NULL, edits INTEGER NOT NULL DEFAULT 0, edited_ts TEXT,
    reply_broadcast INTEGER NOT NULL DEFAULT 0,
    UNIQUE (channel, ts)
);
CREATE INDEX IF NOT EXISTS messages_thread ON messages (channel, thread_ts);
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT, params TEXT, status INTEGER,
    ok INTEGER, error TEXT, at REAL
);
CREATE TABLE IF NOT EXISTS faults (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT, status INTEGER, remaining INTEGER,
    retry_after INTEGER, error TEXT, lost_answer INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS views (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, external_id TEXT, type TEXT,
    user_id TEXT, trigger_id TEXT, view TEXT, hash TEXT, method TEXT, updates INTEGER DEFAULT 0,
    at REAL
);
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, filename TEXT, length INTEGER,
    title TEXT, alt_txt TEXT, snippet_type TEXT, content BLOB, size INTEGER,
    uploaded INTEGER DEFAULT 0, completed INTEGER DEFAULT 0, channel TEXT, thread_ts TEXT,
    message_ts TEXT, created INTEGER
);
CREATE TABLE IF NOT EXISTS ephemerals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT, user TEXT, text TEXT, blocks TEXT,
    attachments TEXT, thread_ts TEXT, message_ts TEXT
);
CREATE TABLE IF NOT EXISTS directory_users (
    id TEXT PRIMARY KEY, name TEXT, real_name TEXT, email TEXT, tz TEXT
);
CREATE TABLE IF NOT EXISTS usergroups (id TEXT PRIMARY KEY, handle TEXT UNIQUE, name TEXT, users TEXT);
CREATE TABLE IF NOT EXISTS members (channel TEXT, user TEXT, PRIMARY KEY (channel, user));
CREATE TABLE IF NOT EXISTS responses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, token TEXT, body TEXT, at REAL
);
CREATE TABLE IF NOT EXISTS reactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT, timestamp TEXT, name TEXT, user TEXT,
    UNIQUE (channel, timestamp, name, user)
);
"""


_DATA_TABLES = ("channels", "messages", "calls", "faults", "views", "files", "ephemerals", "reactions",
                "directory_users", "usergroups", "members", "responses")


class SlackError(Exception):
    """A Slack `{"ok": false, "error": ...}` answer (HTTP 200)."""

    def __init__(self, error: str, **extra: Any):
        super().__init__(error)
        self.error = error
        self.extra = extra


def ts_to_num(ts: Any) -> int:
    """ "1764150000.000100" -> 1764150000000100 (microseconds). Raises ValueError if malformed."""
    s = str(ts).strip()
    if not re.fullmatch(r"\d+(\.\d{0,6})?", s):
        raise ValueError(f"bad ts {ts!r}")
    sec, _, frac = s.partition(".")
    return int(sec) * 1_000_000 + int((frac or "0").ljust(6, "0"))


def num_to_ts(n: int) -> str:
    return f"{n // 1_000_000}.{n % 1_000_000:06d}"


def hash10(value: str) -> str:
    return base64.b32encode(hashlib.sha1(value.encode("utf-8")).digest()).decode("ascii")[:10]


def channel_id_for_name(name: str) -> str:
    """The stable ID the emulator gives a channel name: "C" + 10 upper-case chars from a hash of it."""
    return "C" + hash10(name.lstrip("#").lower())


def random_id(prefix: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(10))


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def as_int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """Form fields of a multipart/form-data body (stdlib only); file parts come back as bytes."""
    raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields: dict[str, Any] = {}
    if not msg.is_multipart():
        return fields
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is None:
            fields[str(name)] = payload.decode("utf-8", errors="replace")
        else:
            fields[str(name)] = payload
            fields.setdefault("__filename__", part.get_filename())
    return fields


Method = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]   # (args, ctx) -> the answer


class SlackCore:
    """The workspace's storage; each API family (a subclass) adds its Web API methods and routes."""

    def __init__(self, db_path: str = ":memory:", tokens: set[str] | None = None):
        self.db_path = db_path
        self.tokens = set(tokens) if tokens is not None else None
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=10)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            if db_path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
        self._methods = self._api_methods()

    def _api_methods(self) -> dict[str, Method]:
        """The Web API methods this class answers, by name; each family adds its own."""
        return {}

    def _routes(self) -> list[Route]:
        """The HTTP routes besides /api/{method}; each family adds its own."""
        return []

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE, so separate processes on one file serialise)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _next_ts(self, conn: sqlite3.Connection) -> str:
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_ts'").fetchone()
        last = int(row["value"]) if row else 0
        n = max(int(time.time() * 1_000_000), last + 1)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_ts', ?)", (str(n),))
        return num_to_ts(n)

    def reset(self) -> None:
        """Forget everything posted, called and injected (ts keep increasing across a reset)."""
        with self._tx() as conn:
            for table in _DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")

    def channel_id(self, channel: str) -> str:
        """The ID for a channel ID or name ("#data-incidents", "data-incidents"), without checking it exists."""
        value = str(channel).strip()
        if CHANNEL_ID_RE.match(value):
            return value
        if USER_ID_RE.match(value):
            return "D" + hash10(value)
        return channel_id_for_name(value)

    def _resolve_channel(self, conn: sqlite3.Connection, value: Any, error: str = "channel_not_found") -> str:
        if not isinstance(value, str) or not value.strip():
            raise SlackError(error)
        raw = value.strip()
        if CHANNEL_ID_RE.match(raw):
            if raw in MISSING_CHANNEL_IDS:
                raise SlackError(error)
            conn.execute("INSERT OR IGNORE INTO channels (id, name, created) VALUES (?, ?, ?)", (raw, None, int(time.time())))
            return raw
        if USER_ID_RE.match(raw):  # posting to a user ID goes to the app's DM with them
            if raw in MISSING_USER_IDS:
                raise SlackError(error)
            cid = "D" + hash10(raw)
            conn.execute("INSERT OR IGNORE INTO channels (id, name, created) VALUES (?, ?, ?)", (cid, None, int(time.time())))
            return cid
        name = raw.lstrip("#").lower()
        if name in MISSING_CHANNEL_NAMES or not CHANNEL_NAME_RE.match(name):
            raise SlackError(error)
        cid = channel_id_for_name(name)
        conn.execute(
            "INSERT INTO channels (id, name, created) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET name = COALESCE(channels.name, excluded.name)",
            (cid, name, int(time.time())),
        )
        return cid

    def _find_message(self, conn: sqlite3.Connection, cid: str, ts: Any) -> sqlite3.Row | None:
        if ts is None or ts == "":
            return None
        try:
            num = ts_to_num(ts)
        except ValueError:
            return None
        return conn.execute("SELECT * FROM messages WHERE channel = ? AND ts_num = ?", (cid, num)).fetchone()

    def _api_message(self, conn: sqlite3.Connection, row: sqlite3.Row, include_metadata: bool) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "message", "user": row["user"], "text": row["text"] or "", "ts": row["ts"], "team": TEAM_ID}
        if row["user"] == BOT_USER_ID:
            msg["bot_id"] = BOT_ID
            msg["app_id"] = APP_ID
            msg["bot_profile"] = {"id": BOT_ID, "app_id": APP_ID, "name": BOT_NAME, "deleted": False, "team_id": TEAM_ID}
        for key in ("blocks", "attachments", "files"):
            value = loads(row[key])
            if value:
                msg[key] = value
        if row["files"]:
            msg["upload"] = False
            msg["display_as_bot"] = False
        if row["edits"]:
            msg["edited"] = {"user": row["user"], "ts": row["edited_ts"]}
        if row["thread_ts"]:
            msg["thread_ts"] = row["thread_ts"]
            parent = self._find_message(conn, row["channel"], row["thread_ts"])
            msg["parent_user_id"] = parent["user"] if parent else row["user"]
            if row["reply_broadcast"]:
                msg["subtype"] = "thread_broadcast"
        else:
            replies = conn.execute(
                "SELECT ts, user FROM messages WHERE channel = ? AND thread_ts = ? ORDER BY ts_num", (row["channel"], row["ts"])
            ).fetchall()
            if replies:
                users = list(dict.fromkeys(r["user"] for r in replies))
                msg.update(
                    {
                        "thread_ts": row["ts"],
                        "reply_count": len(replies),
                        "reply_users_count": len(users),
                        "latest_reply": replies[-1]["ts"],
                        "reply_users": users,
                        "is_locked": False,
                        "subscribed": False,
                    }
                )
        reactions = conn.execute(
            "SELECT name, user FROM reactions WHERE channel = ? AND timestamp = ? ORDER BY seq", (row["channel"], row["ts"])
        ).fetchall()
        if reactions:
            grouped: dict[str, list[str]] = {}
            for r in reactions:
                grouped.setdefault(r["name"], []).append(r["user"])
            msg["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in grouped.items()]
        metadata = loads(row["metadata"])
        if include_metadata and metadata:
            msg["metadata"] = metadata
        return msg

    def _insert_message(
        self,
        conn: sqlite3.Connection,
        cid: str,
        *,
        text: str | None,
        blocks: Any = None,
        attachments: Any = None,
        metadata: Any = None,
        files: Any = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        user: str = BOT_USER_ID,
    ) -> sqlite3.Row:
        ts = self._next_ts(conn)
        conn.execute(
            "INSERT INTO messages (channel, ts, ts_num, thread_ts, text, blocks, attachments, metadata, files, user, reply_broadcast) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cid, ts, ts_to_num(ts), thread_ts, text or "", dumps(blocks), dumps(attachments), dumps(metadata), dumps(files), user, int(reply_broadcast)),
        )
        return conn.execute("SELECT * FROM messages WHERE channel = ? AND ts = ?", (cid, ts)).fetchone()

    def _thread_parent_ts(self, conn: sqlite3.Connection, cid: str, thread_ts: Any) -> str | None:
        if thread_ts is None or thread_ts == "":
            return None
        parent = self._find_message(conn, cid, thread_ts)
        if parent is None:
            raise SlackError("thread_not_found")
        return parent["thread_ts"] or parent["ts"]  # a reply's ts threads under its parent

    def _sb_list(self, getter: Callable[[], list[dict[str, Any]]]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return JSONResponse(getter())

        return endpoint
