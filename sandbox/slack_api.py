"""A local Slack Web API emulator (Starlette + SQLite) that slack_sdk.WebClient can talk to when there are no real credentials."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import http
import json
import logging
import mimetypes
import re
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

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

# Arguments Slack documents as "JSON-based ... presented as a URL-encoded string".
JSON_ARGS = ("blocks", "metadata", "view", "files", "attachments")
MAX_BLOCKS = 50  # Block Kit: up to 50 blocks per message (100 in modals / Home tabs)
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000  # chat.postMessage: "Provide no more than 40,000 characters"
MAX_MARKDOWN_TEXT = 12_000
MAX_ATTACHMENTS = 100
HISTORY_MAX_LIMIT = 999
REPLIES_DEFAULT_LIMIT = 1000

_CHANNEL_ID_RE = re.compile(r"^[CGD][A-Z0-9]{8,}$")
_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{6,}$")
_CHANNEL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._\-]{0,79}$")

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


# --------------------------------------------------------------------------- helpers


def ts_to_num(ts: Any) -> int:
    """ "1764150000.000100" -> 1764150000000100 (microseconds). Raises ValueError if malformed."""
    s = str(ts).strip()
    if not re.fullmatch(r"\d+(\.\d{0,6})?", s):
        raise ValueError(f"bad ts {ts!r}")
    sec, _, frac = s.partition(".")
    return int(sec) * 1_000_000 + int((frac or "0").ljust(6, "0"))


def num_to_ts(n: int) -> str:
    return f"{n // 1_000_000}.{n % 1_000_000:06d}"


def _hash10(value: str) -> str:
    return base64.b32encode(hashlib.sha1(value.encode("utf-8")).digest()).decode("ascii")[:10]


def channel_id_for_name(name: str) -> str:
    """The stable ID the emulator gives a channel name: "C" + 10 upper-case chars from a hash of it."""
    return "C" + _hash10(name.lstrip("#").lower())


def _random_id(prefix: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(10))


def _bool(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _encode_cursor(ts_num: int) -> str:
    # Slack's cursors look like base64("next_ts:1512085861000543").
    return base64.b64encode(f"next_ts:{ts_num}".encode()).decode()


def _decode_cursor(cursor: Any) -> int | None:
    if not cursor:
        return None
    try:
        kind, _, value = base64.b64decode(str(cursor)).decode().partition(":")
        if kind != "next_ts":
            raise ValueError(kind)
        return int(value)
    except Exception as exc:  # noqa: BLE001 - any malformed cursor
        raise SlackError("invalid_cursor") from exc


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
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


def _tz_offset(name: str) -> int:
    """The current UTC offset, in seconds, of an IANA time zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    offset = datetime.now(ZoneInfo(name)).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def _eastern_offset() -> tuple[int, str]:
    try:
        from zoneinfo import ZoneInfo

        now = datetime.now(ZoneInfo("America/New_York"))
        offset = int(now.utcoffset().total_seconds())  # type: ignore[union-attr]
        label = "Eastern Daylight Time" if now.dst() else "Eastern Standard Time"
        return offset, label
    except Exception:  # noqa: BLE001 - no tz database: standard time
        return -18000, "Eastern Standard Time"


# --------------------------------------------------------------------------- emulator


class SlackEmulator:
    """A Slack workspace in SQLite behind a Starlette app speaking the Web API wire format.

    tokens=None accepts any token starting with xoxb- or xoxp-; otherwise only the given ones.
    """

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
        self._methods: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.publish": self._views_publish,
            "views.update": self._views_update,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    # ------------------------------------------------------------------ storage plumbing

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

    # ------------------------------------------------------------------ channels and users

    def channel_id(self, channel: str) -> str:
        """The ID for a channel ID or name ("#data-incidents", "data-incidents"), without checking it exists."""
        value = str(channel).strip()
        if _CHANNEL_ID_RE.match(value):
            return value
        if _USER_ID_RE.match(value):
            return "D" + _hash10(value)
        return channel_id_for_name(value)

    def _resolve_channel(self, conn: sqlite3.Connection, value: Any, error: str = "channel_not_found") -> str:
        if not isinstance(value, str) or not value.strip():
            raise SlackError(error)
        raw = value.strip()
        if _CHANNEL_ID_RE.match(raw):
            if raw in MISSING_CHANNEL_IDS:
                raise SlackError(error)
            conn.execute("INSERT OR IGNORE INTO channels (id, name, created) VALUES (?, ?, ?)", (raw, None, int(time.time())))
            return raw
        if _USER_ID_RE.match(raw):  # posting to a user ID goes to the app's DM with them
            if raw in MISSING_USER_IDS:
                raise SlackError(error)
            cid = "D" + _hash10(raw)
            conn.execute("INSERT OR IGNORE INTO channels (id, name, created) VALUES (?, ?, ?)", (cid, None, int(time.time())))
            return cid
        name = raw.lstrip("#").lower()
        if name in MISSING_CHANNEL_NAMES or not _CHANNEL_NAME_RE.match(name):
            raise SlackError(error)
        cid = channel_id_for_name(name)
        conn.execute(
            "INSERT INTO channels (id, name, created) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET name = COALESCE(channels.name, excluded.name)",
            (cid, name, int(time.time())),
        )
        return cid

    def _channel_object(self, conn: sqlite3.Connection, cid: str) -> dict[str, Any]:
        row = conn.execute("SELECT * FROM channels WHERE id = ?", (cid,)).fetchone()
        created = row["created"] if row else int(time.time())
        name = (row["name"] if row else None) or cid.lower()
        is_im = cid.startswith("D")
        is_private = cid.startswith("G")
        obj: dict[str, Any] = {
            "id": cid,
            "created": created,
            "is_archived": False,
            "is_im": is_im,
            "is_org_shared": False,
            "context_team_id": TEAM_ID,
            "updated": created * 1000,
        }
        if is_im:
            obj.update({"is_channel": False, "is_group": False, "is_mpim": False, "is_private": True, "user": "U" + cid[1:]})
        else:
            obj.update(
                {
                    "name": name,
                    "name_normalized": name,
                    "is_channel": True,
                    "is_group": is_private,
                    "is_mpim": False,
                    "is_private": is_private,
                    "is_general": name == "general",
                    "is_shared": False,
                    "is_ext_shared": False,
                    "is_pending_ext_shared": False,
                    "is_member": True,
                    "creator": "U0DREADMIN",
                    "unlinked": 0,
                    "topic": {"value": "", "creator": "", "last_set": 0},
                    "purpose": {"value": "", "creator": "", "last_set": 0},
                    "previous_names": [],
                }
            )
        return obj

    def _user_object(self, uid: str) -> dict[str, Any]:
        offset, label = _eastern_offset()
        is_bot = uid == BOT_USER_ID
        known = self._query("SELECT * FROM directory_users WHERE id = ?", (uid,))
        known = known[0] if known else None
        name = BOT_NAME if is_bot else (known["name"] if known and known["name"] else uid.lower())
        real_name = BOT_NAME if is_bot else (known["real_name"] if known and known["real_name"]
                                             else f"Sandbox User {uid}")
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": name,
            "display_name_normalized": name,
            "email": (known["email"] if known and known["email"] else f"{uid.lower()}@example.com"),
            "first_name": real_name.split(" ")[0],
            "last_name": real_name.split(" ")[-1] if " " in real_name else "",
            "title": "",
            "status_text": "",
            "status_emoji": "",
            "team": TEAM_ID,
            "image_48": f"https://avatars.example.com/{uid}_48.png",
        }
        if is_bot:
            profile.update({"bot_id": BOT_ID, "api_app_id": APP_ID, "always_active": True})
        return {
            "id": uid,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": (known["tz"] if known and known["tz"] else "America/New_York"),
            "tz_label": label if not (known and known["tz"]) else (known["tz"] or ""),
            "tz_offset": offset if not (known and known["tz"]) else _tz_offset(known["tz"]),
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }

    # ------------------------------------------------------------------ messages

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
            value = _loads(row[key])
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
        metadata = _loads(row["metadata"])
        if include_metadata and metadata:
            msg["metadata"] = metadata
        return msg

    @staticmethod
    def _content(args: dict[str, Any], *, for_update: bool = False) -> dict[str, Any]:
        """Validate text / blocks / attachments / markdown_text the way chat.* does."""
        text = args.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text) if not isinstance(text, (list, dict)) else json.dumps(text)
        markdown_text = args.get("markdown_text")
        blocks = args.get("blocks")
        attachments = args.get("attachments")
        if blocks is not None and blocks != "":
            if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
                raise SlackError("invalid_blocks_format")
            if len(blocks) > MAX_BLOCKS:
                raise SlackError("invalid_blocks", errors=[f"must provide an array with no more than {MAX_BLOCKS} items [json-pointer:]"])
            for i, block in enumerate(blocks):
                if not isinstance(block.get("type"), str):
                    raise SlackError("invalid_blocks", errors=[f"missing required field: type [json-pointer:/blocks/{i}]"])
        else:
            blocks = None
        if attachments is not None and attachments != "":
            if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
                raise SlackError("invalid_attachments")
            if len(attachments) > MAX_ATTACHMENTS:
                raise SlackError("too_many_attachments")
        else:
            attachments = None
        if markdown_text:
            if text or blocks:
                raise SlackError("markdown_text_conflict")
            if len(markdown_text) > MAX_MARKDOWN_TEXT:
                raise SlackError("msg_too_long")
            text = markdown_text
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if not for_update and not text and not blocks and not attachments:
            raise SlackError("no_text")
        return {"text": text, "blocks": blocks, "attachments": attachments}

    @staticmethod
    def _metadata(args: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        """(given, metadata). `{}` means "remove" (chat.update)."""
        if "metadata" not in args or args["metadata"] is None or args["metadata"] == "":
            return False, None
        md = args["metadata"]
        if not isinstance(md, dict):
            raise SlackError("invalid_metadata_format")
        if not md:
            return True, None
        if not isinstance(md.get("event_type"), str) or not md["event_type"]:
            raise SlackError("invalid_metadata_schema")
        if "event_payload" in md and not isinstance(md["event_payload"], dict):
            raise SlackError("invalid_metadata_schema")
        if len(json.dumps(md)) > 8_000:
            raise SlackError("metadata_too_large")
        return True, {"event_type": md["event_type"], "event_payload": md.get("event_payload", {})}

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
            (cid, ts, ts_to_num(ts), thread_ts, text or "", _dumps(blocks), _dumps(attachments), _dumps(metadata), _dumps(files), user, int(reply_broadcast)),
        )
        return conn.execute("SELECT * FROM messages WHERE channel = ? AND ts = ?", (cid, ts)).fetchone()

    def _thread_parent_ts(self, conn: sqlite3.Connection, cid: str, thread_ts: Any) -> str | None:
        if thread_ts is None or thread_ts == "":
            return None
        parent = self._find_message(conn, cid, thread_ts)
        if parent is None:
            raise SlackError("thread_not_found")
        return parent["thread_ts"] or parent["ts"]  # a reply's ts threads under its parent

    # ------------------------------------------------------------------ Web API methods

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

    def _chat_post_message(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        content = self._content(args)
        _, metadata = self._metadata(args)
        thread_ts = self._thread_parent_ts(conn, cid, args.get("thread_ts"))
        broadcast = bool(thread_ts) and _bool(args.get("reply_broadcast"))
        row = self._insert_message(conn, cid, metadata=metadata, thread_ts=thread_ts, reply_broadcast=broadcast, **content)
        return {"ok": True, "channel": cid, "ts": row["ts"], "message": self._api_message(conn, row, include_metadata=True)}

    def _chat_update(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        row = self._find_message(conn, cid, args.get("ts"))
        if row is None:
            raise SlackError("message_not_found")
        content = self._content(args, for_update=True)
        md_given, metadata = self._metadata(args)
        if content["text"] is None and content["blocks"] is None and content["attachments"] is None and not md_given:
            raise SlackError("no_text")
        # Fields left out keep their previous value (Slack documents this for attachments and metadata);
        # an empty array / object removes them.
        text = content["text"] if content["text"] is not None else row["text"]
        blocks = _loads(row["blocks"]) if "blocks" not in args or args["blocks"] is None else (content["blocks"] or None)
        attachments = (
            _loads(row["attachments"]) if "attachments" not in args or args["attachments"] is None else (content["attachments"] or None)
        )
        new_md = metadata if md_given else _loads(row["metadata"])
        edited_ts = self._next_ts(conn)
        conn.execute(
            "UPDATE messages SET text = ?, blocks = ?, attachments = ?, metadata = ?, edits = edits + 1, edited_ts = ? WHERE seq = ?",
            (text or "", _dumps(blocks), _dumps(attachments), _dumps(new_md), edited_ts, row["seq"]),
        )
        row = conn.execute("SELECT * FROM messages WHERE seq = ?", (row["seq"],)).fetchone()
        message = self._api_message(conn, row, include_metadata=True)
        return {"ok": True, "channel": cid, "ts": row["ts"], "text": row["text"], "message": message}

    def _chat_delete(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        row = self._find_message(conn, cid, args.get("ts"))
        if row is None:
            raise SlackError("message_not_found")
        conn.execute("DELETE FROM messages WHERE seq = ?", (row["seq"],))
        conn.execute("DELETE FROM reactions WHERE channel = ? AND timestamp = ?", (cid, row["ts"]))
        return {"ok": True, "channel": cid, "ts": row["ts"]}

    def _chat_post_ephemeral(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        user = args.get("user")
        if not isinstance(user, str) or not _USER_ID_RE.match(user) or user in MISSING_USER_IDS:
            raise SlackError("user_not_in_channel")
        content = self._content(args)
        message_ts = self._next_ts(conn)
        conn.execute(
            "INSERT INTO ephemerals (channel, user, text, blocks, attachments, thread_ts, message_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cid, user, content["text"] or "", _dumps(content["blocks"]), _dumps(content["attachments"]), args.get("thread_ts") or None, message_ts),
        )
        return {"ok": True, "message_ts": message_ts}

    def _chat_get_permalink(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        row = self._find_message(conn, cid, args.get("message_ts"))
        if row is None:
            raise SlackError("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{cid}/p{row['ts'].replace('.', '')}"
        if row["thread_ts"]:
            link += f"?thread_ts={row['thread_ts']}&cid={cid}"
        return {"ok": True, "channel": cid, "permalink": link}

    def _conversations_info(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        return {"ok": True, "channel": self._channel_object(conn, cid)}

    def _conversations_list(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        """Channels the workspace knows (public and private, no DMs), paged by `limit` and an opaque cursor."""
        conn = ctx["conn"]
        types = {t.strip() for t in str(args.get("types") or "public_channel").split(",")}
        limit = max(1, min(_int(args.get("limit"), 100), 1000))
        start = 0
        if args.get("cursor"):
            try:
                start = int(base64.b64decode(str(args["cursor"])).decode().removeprefix("offset:"))
            except (ValueError, UnicodeDecodeError):
                raise SlackError("invalid_cursor") from None
        rows = conn.execute("SELECT id FROM channels ORDER BY created, id").fetchall()
        wanted = [r["id"] for r in rows
                  if (r["id"].startswith("C") and "public_channel" in types)
                  or (r["id"].startswith("G") and "private_channel" in types)]
        page = wanted[start:start + limit]
        more = start + limit < len(wanted)
        cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return {"ok": True, "channels": [self._channel_object(conn, cid) for cid in page],
                "response_metadata": {"next_cursor": cursor}}

    def _conversations_members(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        users = [r["user"] for r in conn.execute("SELECT user FROM members WHERE channel = ? ORDER BY user", (cid,))]
        return {"ok": True, "members": users, "response_metadata": {"next_cursor": ""}}

    def _usergroups_list(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        groups = []
        for r in ctx["conn"].execute("SELECT * FROM usergroups ORDER BY handle"):
            users = json.loads(r["users"])
            group = {"id": r["id"], "team_id": TEAM_ID, "is_usergroup": True, "name": r["name"],
                     "handle": r["handle"], "user_count": len(users), "date_delete": 0}
            if _bool(args.get("include_users")):
                group["users"] = users
            groups.append(group)
        return {"ok": True, "usergroups": groups}

    def _usergroups_users_list(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        row = ctx["conn"].execute("SELECT users FROM usergroups WHERE id = ?", (args.get("usergroup"),)).fetchone()
        if row is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": json.loads(row["users"])}

    def _users_lookup_by_email(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email") or "").lower()
        row = ctx["conn"].execute("SELECT id FROM directory_users WHERE lower(email) = ?", (email,)).fetchone()
        if row is None:
            raise SlackError("users_not_found")
        return {"ok": True, "user": self._user_object(row["id"])}

    def _conversations_join(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        return {"ok": True, "channel": self._channel_object(conn, cid)}

    def _window(self, args: dict[str, Any]) -> tuple[int | None, int | None, bool]:
        try:
            oldest = ts_to_num(args["oldest"]) if args.get("oldest") not in (None, "") else None
            latest = ts_to_num(args["latest"]) if args.get("latest") not in (None, "") else None
        except ValueError as exc:
            raise SlackError("invalid_ts_oldest" if "oldest" in str(exc) else "invalid_ts_latest") from exc
        return oldest, latest, _bool(args.get("inclusive"))

    @staticmethod
    def _in_window(num: int, oldest: int | None, latest: int | None, inclusive: bool) -> bool:
        if oldest is not None and (num < oldest or (num == oldest and not inclusive)):
            return False
        if latest is not None and (num > latest or (num == latest and not inclusive)):
            return False
        return True

    def _conversations_history(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        oldest, latest, inclusive = self._window(args)
        limit = max(1, min(_int(args.get("limit"), 100), HISTORY_MAX_LIMIT))
        include_md = _bool(args.get("include_all_metadata"))
        cursor = _decode_cursor(args.get("cursor"))
        rows = conn.execute(
            "SELECT * FROM messages WHERE channel = ? AND (thread_ts IS NULL OR reply_broadcast = 1) ORDER BY ts_num DESC", (cid,)
        ).fetchall()
        rows = [r for r in rows if self._in_window(r["ts_num"], oldest, latest, inclusive)]
        if cursor is not None:
            rows = [r for r in rows if r["ts_num"] <= cursor]
        page, rest = rows[:limit], rows[limit:]
        return {
            "ok": True,
            "messages": [self._api_message(conn, r, include_md) for r in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": _encode_cursor(rest[0]["ts_num"]) if rest else ""},
        }

    def _conversations_replies(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        row = self._find_message(conn, cid, args.get("ts"))
        if row is None:
            raise SlackError("thread_not_found")
        parent_ts = row["thread_ts"] or row["ts"]
        oldest, latest, inclusive = self._window(args)
        limit = max(1, min(_int(args.get("limit"), REPLIES_DEFAULT_LIMIT), REPLIES_DEFAULT_LIMIT))
        include_md = _bool(args.get("include_all_metadata"))
        cursor = _decode_cursor(args.get("cursor"))
        rows = conn.execute(
            "SELECT * FROM messages WHERE channel = ? AND (ts = ? OR thread_ts = ?) ORDER BY ts_num", (cid, parent_ts, parent_ts)
        ).fetchall()
        # The parent always leads the first page; the window applies to the replies.
        parent = [r for r in rows if r["ts"] == parent_ts]
        replies = [r for r in rows if r["ts"] != parent_ts and self._in_window(r["ts_num"], oldest, latest, inclusive)]
        if cursor is not None:
            selected = [r for r in replies if r["ts_num"] >= cursor]
        else:
            selected = parent + replies
        page, rest = selected[:limit], selected[limit:]
        return {
            "ok": True,
            "messages": [self._api_message(conn, r, include_md) for r in page],
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": _encode_cursor(rest[0]["ts_num"]) if rest else ""},
        }

    def _users_info(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        uid = args.get("user")
        if not isinstance(uid, str) or not _USER_ID_RE.match(uid) or uid in MISSING_USER_IDS:
            raise SlackError("user_not_found")
        return {"ok": True, "user": self._user_object(uid)}

    def _reaction_target(self, args: dict[str, Any], conn: sqlite3.Connection) -> tuple[str, sqlite3.Row, str]:
        name = args.get("name")
        if not isinstance(name, str) or not name.strip(":"):
            raise SlackError("invalid_name")
        if not args.get("channel") or not args.get("timestamp"):
            raise SlackError("no_item_specified")
        cid = self._resolve_channel(conn, args.get("channel"))
        if not re.fullmatch(r"\d+(\.\d{0,6})?", str(args["timestamp"]).strip()):
            raise SlackError("bad_timestamp")
        row = self._find_message(conn, cid, args.get("timestamp"))
        if row is None:
            raise SlackError("message_not_found")
        return cid, row, name.strip(":")

    def _reactions_add(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid, row, name = self._reaction_target(args, conn)
        cur = conn.execute(
            "INSERT OR IGNORE INTO reactions (channel, timestamp, name, user) VALUES (?, ?, ?, ?)", (cid, row["ts"], name, BOT_USER_ID)
        )
        if cur.rowcount == 0:
            raise SlackError("already_reacted")
        return {"ok": True}

    def _reactions_remove(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid, row, name = self._reaction_target(args, conn)
        cur = conn.execute(
            "DELETE FROM reactions WHERE channel = ? AND timestamp = ? AND name = ? AND user = ?", (cid, row["ts"], name, BOT_USER_ID)
        )
        if cur.rowcount == 0:
            raise SlackError("no_reaction")
        return {"ok": True}

    # views

    @staticmethod
    def _view_arg(args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] failed to match all allowed schemas [json-pointer:/view]"]})
        vtype = view.get("type")
        if vtype not in ("modal", "home", "workflow_step"):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be a valid enum value [json-pointer:/view/type]"]})
        blocks = view.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] invalid blocks [json-pointer:/view/blocks]"]})
        if vtype == "modal" and not isinstance(view.get("title"), dict):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: title [json-pointer:/view]"]})
        if len(json.dumps(view)) > 250_000:
            raise SlackError("view_too_large")
        return view

    def _view_object(self, view_id: str, view: dict[str, Any], view_hash: str, root_view_id: str, previous_view_id: str | None = None) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": view_hash,
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        return obj

    @staticmethod
    def _new_hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def _store_view(self, conn: sqlite3.Connection, method: str, view: dict[str, Any], *, user_id: str | None, trigger_id: str | None, existing: sqlite3.Row | None = None) -> dict[str, Any]:
        external_id = view.get("external_id") or None
        if external_id:
            clash = conn.execute("SELECT id FROM views WHERE external_id = ?", (external_id,)).fetchone()
            if clash and (existing is None or clash["id"] != existing["id"]):
                raise SlackError("duplicate_external_id")
        view_hash = self._new_hash()
        if existing is None:
            view_id = _random_id("V")
            obj = self._view_object(view_id, view, view_hash, root_view_id=view_id)
            conn.execute(
                "INSERT INTO views (id, external_id, type, user_id, trigger_id, view, hash, method, updates, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (view_id, external_id, view.get("type"), user_id, trigger_id, json.dumps(obj), view_hash, method, time.time()),
            )
        else:
            view_id = existing["id"]
            old = json.loads(existing["view"])
            obj = self._view_object(view_id, view, view_hash, root_view_id=old.get("root_view_id") or view_id, previous_view_id=old.get("previous_view_id"))
            conn.execute(
                "UPDATE views SET external_id = COALESCE(?, external_id), type = ?, view = ?, hash = ?, method = ?, updates = updates + 1, at = ? WHERE id = ?",
                (external_id, view.get("type"), json.dumps(obj), view_hash, method, time.time(), view_id),
            )
        return obj

    def _views_open(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        trigger_id = args.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id.strip():
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]})
        view = self._view_arg(args)
        if view.get("type") != "modal":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be a modal [json-pointer:/view/type]"]})
        obj = self._store_view(ctx["conn"], ctx["method"], view, user_id=None, trigger_id=trigger_id)
        return {"ok": True, "view": obj}

    def _views_publish(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        user_id = args.get("user_id")
        if not isinstance(user_id, str) or not _USER_ID_RE.match(user_id) or user_id in MISSING_USER_IDS:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]})
        view = self._view_arg(args)
        if view.get("type") != "home":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be a home view [json-pointer:/view/type]"]})
        existing = conn.execute("SELECT * FROM views WHERE type = 'home' AND user_id = ?", (user_id,)).fetchone()
        if existing is not None and args.get("hash") and args["hash"] != existing["hash"]:
            raise SlackError("hash_conflict")
        obj = self._store_view(conn, "views.publish", view, user_id=user_id, trigger_id=None, existing=existing)
        return {"ok": True, "view": obj}

    def _views_update(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["either `view_id` or `external_id` is required"]})
        if view_id:
            existing = conn.execute("SELECT * FROM views WHERE id = ?", (view_id,)).fetchone()
        else:
            existing = conn.execute("SELECT * FROM views WHERE external_id = ?", (external_id,)).fetchone()
        if existing is None:
            raise SlackError("not_found")
        view = self._view_arg(args)
        if args.get("hash") and args["hash"] != existing["hash"]:
            raise SlackError("hash_conflict")
        obj = self._store_view(conn, "views.update", view, user_id=existing["user_id"], trigger_id=existing["trigger_id"], existing=existing)
        return {"ok": True, "view": obj}

    # files

    def _files_get_upload_url_external(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        if not isinstance(filename, str) or not filename.strip():
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: filename"]})
        try:
            length = int(args.get("length"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: length"]}) from None
        if length < 0:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] length must be positive"]})
        file_id = _random_id("F")
        ctx["conn"].execute(
            "INSERT INTO files (id, filename, length, alt_txt, snippet_type, created) VALUES (?, ?, ?, ?, ?, ?)",
            (file_id, filename, length, args.get("alt_txt"), args.get("snippet_type"), int(time.time())),
        )
        return {"ok": True, "upload_url": f"{ctx['base_url']}/upload/{file_id}", "file_id": file_id}

    def _file_object(self, row: sqlite3.Row, base_url: str, channel_name: str | None = None) -> dict[str, Any]:
        name = row["filename"] or row["id"]
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        cid = row["channel"]
        obj: dict[str, Any] = {
            "id": row["id"],
            "created": row["created"],
            "timestamp": row["created"],
            "name": name,
            "title": row["title"] or name,
            "mimetype": mimetype,
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": BOT_USER_ID,
            "user_team": TEAM_ID,
            "editable": False,
            "size": row["size"] if row["size"] is not None else row["length"],
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(cid and cid.startswith("C")),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base_url}/files/{row['id']}/{name}",
            "url_private_download": f"{base_url}/files/{row['id']}/download/{name}",
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{row['id']}/{name}",
            "comments_count": 0,
            "is_starred": False,
            "channels": [cid] if cid and cid.startswith("C") else [],
            "groups": [cid] if cid and cid.startswith("G") else [],
            "ims": [cid] if cid and cid.startswith("D") else [],
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if row["alt_txt"]:
            obj["alt_txt"] = row["alt_txt"]
        if cid and row["message_ts"]:
            share: dict[str, Any] = {"ts": row["message_ts"], "channel_name": channel_name or cid.lower(), "team_id": TEAM_ID, "share_user_id": BOT_USER_ID}
            if row["thread_ts"]:
                share["thread_ts"] = row["thread_ts"]
            obj["shares"] = {"public" if cid.startswith("C") else "private": {cid: [share]}}
        else:
            obj["shares"] = {}
        return obj

    def _files_complete_upload_external(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        files = args.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] invalid `files`"]})
        rows = []
        for f in files:
            row = conn.execute("SELECT * FROM files WHERE id = ?", (str(f["id"]),)).fetchone()
            if row is None or not row["uploaded"] or row["completed"]:
                raise SlackError("file_not_found")
            rows.append((row, f))
        channel = args.get("channel_id") or None
        if not channel and args.get("channels"):
            channel = str(args["channels"]).split(",")[0].strip() or None
        cid = self._resolve_channel(conn, channel, error="invalid_channel") if channel else None
        thread_ts = self._thread_parent_ts(conn, cid, args.get("thread_ts")) if cid else None
        for row, f in rows:
            conn.execute(
                "UPDATE files SET completed = 1, title = ?, channel = ?, thread_ts = ? WHERE id = ?",
                (f.get("title") or row["filename"], cid, thread_ts, row["id"]),
            )
        completed = [conn.execute("SELECT * FROM files WHERE id = ?", (row["id"],)).fetchone() for row, _ in rows]
        if cid:
            comment = args.get("initial_comment") or ""
            blocks = None if comment else (args.get("blocks") if isinstance(args.get("blocks"), list) else None)
            message = self._insert_message(
                conn, cid, text=comment, blocks=blocks, files=[self._file_object(r, ctx["base_url"]) for r in completed], thread_ts=thread_ts
            )
            conn.execute(f"UPDATE files SET message_ts = ? WHERE id IN ({','.join('?' * len(completed))})", (message["ts"], *[r["id"] for r in completed]))
            completed = [conn.execute("SELECT * FROM files WHERE id = ?", (r["id"],)).fetchone() for r in completed]
        name_row = conn.execute("SELECT name FROM channels WHERE id = ?", (cid,)).fetchone() if cid else None
        objects = [self._file_object(r, ctx["base_url"], name_row["name"] if name_row else None) for r in completed]
        if cid:
            conn.execute("UPDATE messages SET files = ? WHERE seq = ?", (json.dumps(objects), message["seq"]))
        return {"ok": True, "files": objects}

    # ------------------------------------------------------------------ faults

    # ------------------------------------------------------------------ the workspace's people

    def add_user(self, uid: str, name: str | None = None, email: str | None = None, tz: str | None = None,
                 real_name: str | None = None) -> None:
        """A person in the workspace, with the name, email and time zone users.info will answer."""
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO directory_users (id, name, real_name, email, tz) VALUES (?,?,?,?,?)",
                         (uid, name, real_name, email, tz))

    def add_usergroup(self, handle: str, users: list[str], name: str | None = None) -> str:
        """A user group (@handle) and its members; returns its id (S...)."""
        gid = "S" + _hash10(handle)
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO usergroups (id, handle, name, users) VALUES (?, ?, ?, ?)",
                         (gid, handle.lstrip("@"), name or handle.lstrip("@"), json.dumps(list(users))))
        return gid

    def set_members(self, channel: str, users: list[str]) -> None:
        """Who is in a channel, as conversations.members answers."""
        with self._tx() as conn:
            cid = self._resolve_channel(conn, channel)
            conn.execute("DELETE FROM members WHERE channel = ?", (cid,))
            conn.executemany("INSERT INTO members (channel, user) VALUES (?, ?)", [(cid, u) for u in users])

    def responses(self, token: str | None = None) -> list[dict]:
        """What was posted to response_urls handed out as {base}/response/{token}, in order."""
        sql = "SELECT * FROM responses" + (" WHERE token = ?" if token else "") + " ORDER BY seq"
        return [{"token": r["token"], "body": json.loads(r["body"]), "at": r["at"]}
                for r in self._query(sql, (token,) if token else ())]

    async def _response_url(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        with self._tx() as conn:
            conn.execute("INSERT INTO responses (token, body, at) VALUES (?, ?, ?)",
                         (request.path_params["token"], json.dumps(body), time.time()))
        return PlainTextResponse("ok")

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

    # ------------------------------------------------------------------ HTTP layer

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
                args.update(_parse_multipart(body, content_type))
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

    def _authorized(self, token: str | None) -> str | None:
        """None if fine, else the Slack error name."""
        if not token:
            return "not_authed"
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
        ctx: dict[str, Any] = {"method": method, "base_url": self._base_url(request)}
        with self._tx() as conn:
            ctx["conn"] = conn
            fault = self._take_fault(conn, method)
            if fault is not None and not fault["lost_answer"]:
                response, status, error = self._fault_response(fault)
                self._record_call(conn, method, args, status, False, error)
                return response
            auth_error = self._authorized(token)
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
        return JSONResponse(body)

    async def _upload_endpoint(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() == "multipart/form-data":
            fields = _parse_multipart(body, content_type)
            data = next((v for v in fields.values() if isinstance(v, bytes)), None)
            if data is None:
                data = str(fields.get("file") or fields.get("content") or "").encode("utf-8")
        else:  # raw bytes (slack_sdk posts them with urllib's default form content type)
            data = body
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM files WHERE id = ?", (file_id,)).fetchone()
            if row is None or row["completed"]:
                return PlainTextResponse("Not Found", status_code=404)
            conn.execute("UPDATE files SET content = ?, size = ?, uploaded = 1 WHERE id = ?", (data, len(data), file_id))
        return PlainTextResponse(f"OK - {len(data)}")

    # sandbox (test / CLI) endpoints

    async def _sb_messages(self, request: Request) -> Response:
        return JSONResponse(self.messages(request.query_params.get("channel") or None))

    async def _sb_thread(self, request: Request) -> Response:
        return JSONResponse(self.thread(request.query_params.get("channel", ""), request.query_params.get("ts", "")))

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

    def _sb_list(self, getter: Callable[[], list[dict[str, Any]]]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return JSONResponse(getter())

        return endpoint

    def app(self) -> Starlette:
        """The Starlette app: /api/{method}, /upload/{file_id}, and /_sandbox/* for tests and the CLI."""
        return Starlette(
            routes=[
                Route("/api/{method}", self._api_endpoint, methods=["GET", "POST"]),
                Route("/upload/{file_id}", self._upload_endpoint, methods=["POST", "PUT"], name="slack_upload"),
                Route("/_sandbox/messages", self._sb_messages, methods=["GET"]),
                Route("/_sandbox/thread", self._sb_thread, methods=["GET"]),
                Route("/_sandbox/calls", self._sb_calls, methods=["GET"]),
                Route("/_sandbox/faults", self._sb_faults, methods=["POST", "DELETE"]),
                Route("/response/{token}", self._response_url, methods=["POST"]),
                Route("/_sandbox/reset", self._sb_reset, methods=["POST"]),
                Route("/_sandbox/views", self._sb_list(self.views), methods=["GET"]),
                Route("/_sandbox/files", self._sb_list(lambda: [{k: v for k, v in f.items() if k != "content"} for f in self.files()]), methods=["GET"]),
                Route("/_sandbox/ephemerals", self._sb_list(self.ephemerals), methods=["GET"]),
                Route("/_sandbox/reactions", self._sb_list(self.reactions), methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------ inspection (Python side)

    @staticmethod
    def _plain_message(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "channel": row["channel"],
            "ts": row["ts"],
            "thread_ts": row["thread_ts"],
            "text": row["text"] or "",
            "blocks": _loads(row["blocks"]),
            "metadata": _loads(row["metadata"]),
            "user": row["user"],
            "edits": row["edits"],
            "attachments": _loads(row["attachments"]),
            "files": _loads(row["files"]),
            "reply_broadcast": bool(row["reply_broadcast"]),
        }

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every message in post order (parents and replies); `channel` may be an ID or a name."""
        if channel:
            rows = self._query("SELECT * FROM messages WHERE channel = ? ORDER BY ts_num", (self.channel_id(channel),))
        else:
            rows = self._query("SELECT * FROM messages ORDER BY ts_num")
        return [self._plain_message(r) for r in rows]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The parent then its replies, oldest first ([] if there is no such message)."""
        cid = self.channel_id(channel)
        rows = self._query("SELECT * FROM messages WHERE channel = ? AND (ts = ? OR thread_ts = ?) ORDER BY ts_num", (cid, ts, ts))
        return [self._plain_message(r) for r in rows]

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

    def views(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM views ORDER BY seq")
        return [
            {
                "id": r["id"],
                "external_id": r["external_id"],
                "type": r["type"],
                "user_id": r["user_id"],
                "trigger_id": r["trigger_id"],
                "method": r["method"],
                "updates": r["updates"],
                "hash": r["hash"],
                "view": json.loads(r["view"]),
            }
            for r in rows
        ]

    def files(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM files ORDER BY seq")
        return [
            {
                "id": r["id"],
                "filename": r["filename"],
                "title": r["title"],
                "length": r["length"],
                "size": r["size"],
                "content": r["content"],
                "uploaded": bool(r["uploaded"]),
                "completed": bool(r["completed"]),
                "channel": r["channel"],
                "thread_ts": r["thread_ts"],
                "message_ts": r["message_ts"],
                "alt_txt": r["alt_txt"],
                "snippet_type": r["snippet_type"],
            }
            for r in rows
        ]

    def ephemerals(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM ephemerals ORDER BY seq")
        return [
            {
                "channel": r["channel"],
                "user": r["user"],
                "text": r["text"],
                "blocks": _loads(r["blocks"]),
                "attachments": _loads(r["attachments"]),
                "thread_ts": r["thread_ts"],
                "message_ts": r["message_ts"],
            }
            for r in rows
        ]

    def reactions(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM reactions ORDER BY seq")
        return [{"channel": r["channel"], "timestamp": r["timestamp"], "name": r["name"], "user": r["user"]} for r in rows]

    def reset(self) -> None:
        """Forget everything posted, called and injected (ts keep increasing across a reset)."""
        with self._tx() as conn:
            for table in _DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")
