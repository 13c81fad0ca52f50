"""files.* (https://api.slack.com/messaging/files#uploading_files): the two-step upload and its upload URL."""

from __future__ import annotations

import json
import mimetypes
import sqlite3
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sandbox.slack.core import (
    BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, Method, SlackCore, SlackError, parse_multipart, random_id,
)


class FilesMethods(SlackCore):
    """files.getUploadURLExternal, the upload itself, and files.completeUploadExternal."""

    def _api_methods(self) -> dict[str, Method]:
        return {**super()._api_methods(),
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    def _routes(self) -> list[Route]:
        return [
            *super()._routes(),
            Route("/upload/{file_id}", self._upload_endpoint, methods=["POST", "PUT"], name="slack_upload"),
            Route("/_sandbox/files", self._sb_list(lambda: [{k: v for k, v in f.items() if k != "content"} for f in self.files()]), methods=["GET"]),
        ]

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
        file_id = random_id("F")
        ctx["conn"].execute(
            "INSERT INTO files (id, filename, length, alt_txt, snippet_type, created) VALUES (?, ?, ?, ?, ?, ?)",
            (file_id, filename, length, args.get("alt_txt"), args.get("snippet_type"), int(time.time())),
        )
        return {"ok": True, "upload_url": f"{ctx['base_url']}/upload/{file_id}", "file_id": file_id}

    async def _upload_endpoint(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() == "multipart/form-data":
            fields = parse_multipart(body, content_type)
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
