"""A fake Slack Web API over real HTTP on 127.0.0.1, for tests.

slack_sdk is pointed at it with ``SLACK_API_URL``. It keeps messages per channel with
their metadata, threads and files, implements every method the publisher calls
(JSON, form and multipart bodies alike), checks the token, membership and Block Kit
limits the way Slack does, and has switches to misbehave::

    with FakeSlack() as fake:
        fake.fail("chat.postMessage", "ratelimit", retry_after=1)  # 429 once
        fake.fail("chat.postMessage", "http500")                    # 500, nothing stored
        fake.fail("chat.postMessage", "slow", delay=2.0)            # store, then answer late
        fake.fail("chat.postMessage", "late", delay=2.0)            # store late, after the
                                                                    # client gave up
        fake.fail("chat.postMessage", "error", error="is_archived") # ok:false
        fake.fail("conversations.join", "error", error="missing_scope", needed="channels:join")

A switch applies to the next ``times`` calls of that method (``times=None``: every
call), after letting ``after=N`` calls through. ``fake.calls`` records (method, params) of every request, token left out.

For the Slack app: ``fake.response_url(name)`` is a ``response_url`` to put in a
slash command or ``block_actions`` payload; what the app posts there lands in
``fake.responses[name]``. Ephemeral messages (``chat.postEphemeral``) land in
``fake.ephemerals``; ``chat.getPermalink`` answers a link to a stored message.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "xoxb-fake-0123456789-SECRETSECRET"
APP_TOKEN = "xapp-1-A0APP-fake-APPSECRETAPPSECRET"
BOT_USER_ID = "U0BOT"
BOT_NAME = "rebalance-bot"

#: Slack's documented message limits, enforced as Slack does (invalid_blocks / msg_too_long).
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20
MAX_TEXT = 40_000
MAX_VISIBLE = 12_000


@dataclass
class Channel:
    """One channel: members, archived flag, messages (top level and replies)."""

    id: str
    name: str
    private: bool = False
    archived: bool = False
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def top_level(self) -> list[dict[str, Any]]:
        """Messages that are not thread replies, oldest first."""
        return [m for m in self.messages if m.get("thread_ts") in (None, m["ts"])]

    def thread(self, ts: str) -> list[dict[str, Any]]:
        """The replies to ``ts``, oldest first."""
        return [m for m in self.messages if m.get("thread_ts") == ts and m["ts"] != ts]

    def find(self, ts: str) -> dict[str, Any] | None:
        """The message with this ts."""
        return next((m for m in self.messages if m["ts"] == ts), None)


@dataclass
class _Switch:
    kind: str
    times: int | None
    options: dict[str, Any]


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any):
        super().__init__(error)
        self.error = error
        self.extra = extra


def _len(text: str) -> int:
    """A text's length as Slack may count it: UTF-16 code units (an emoji beyond U+FFFF
    counts 2), never less than its characters."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def visible_chars(blocks: list[dict[str, Any]]) -> int:
    """Characters a reader sees in blocks: every text, field, context element and cell."""
    total = 0

    def walk(value: Any, key: str = "") -> None:
        nonlocal total
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key == "text":
            total += _len(value)

    walk(blocks)
    return total


def block_problems(blocks: Any) -> list[str]:
    """What Slack would reject in a blocks array (empty list: fine)."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    tables = 0
    for i, block in enumerate(blocks):
        kind = block.get("type")
        where = f"[json-pointer:/blocks/{i}]"
        if kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or not 0 < _len(text.get("text", "")) <= MAX_HEADER:
                problems.append(f"header text must be plain_text of 1-{MAX_HEADER} chars {where}")
        elif kind == "section":
            text = block.get("text")
            fields = block.get("fields")
            if text is None and not fields:
                problems.append(f"section needs text or fields {where}")
            if text is not None and not 0 < _len(text.get("text", "")) <= MAX_SECTION:
                problems.append(f"must be less than {MAX_SECTION + 1} characters {where}/text")
            if fields is not None:
                if len(fields) > MAX_FIELDS:
                    problems.append(f"no more than {MAX_FIELDS} fields {where}/fields")
                for f in fields:
                    if not 0 < _len(f.get("text", "")) <= MAX_FIELD:
                        problems.append(f"field longer than {MAX_FIELD} {where}/fields")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                problems.append(f"context needs 1-10 elements {where}")
            for e in elements:
                if (
                    e.get("type") in {"mrkdwn", "plain_text"}
                    and not 0 < _len(e.get("text", "")) <= MAX_SECTION
                ):
                    problems.append(f"context text too long {where}")
        elif kind == "table":
            tables += 1
            rows = block.get("rows") or []
            if not 0 < len(rows) <= MAX_TABLE_ROWS:
                problems.append(f"table needs 1-{MAX_TABLE_ROWS} rows {where}/rows")
            for row in rows:
                if not 0 < len(row) <= MAX_TABLE_CELLS:
                    problems.append(f"table row needs 1-{MAX_TABLE_CELLS} cells {where}")
                for cell in row:
                    if cell.get("type") not in {"raw_text", "rich_text"}:
                        problems.append(f"table cell type {cell.get('type')!r} {where}")
                    elif cell.get("type") == "raw_text" and not cell.get("text"):
                        problems.append(f"table cell text must not be empty {where}")
            if len(block.get("column_settings") or []) > MAX_TABLE_CELLS:
                problems.append(f"too many column_settings {where}")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 25:
                problems.append(f"actions needs 1-25 elements {where}")
            for e in elements:
                text = (e.get("text") or {}).get("text", "")
                if e.get("type") != "button" or not 0 < _len(text) <= 75:
                    problems.append(f"button needs plain_text of 1-75 chars {where}")
                if len(str(e.get("value", ""))) > 2000 or not e.get("action_id"):
                    problems.append(f"button needs an action_id and a value <= 2000 {where}")
        elif kind != "divider":
            problems.append(f"unsupported block type {kind!r} {where}")
    if tables > 1:
        problems.append("only_one_table_allowed [json-pointer:/blocks]")
    return problems


class FakeSlack:
    """The fake server; a context manager that starts and stops it."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.revoked: set[str] = set()
        self.channels: dict[str, Channel] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.request_times: list[tuple[str, float]] = []
        self.uploads: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.socket: FakeSocketMode | None = None
        self.ephemerals: list[dict[str, Any]] = []
        self._switches: dict[str, list[_Switch]] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_channel("C0PLANS", "ops-rebalance", member=True)
        self.add_channel("C0PUBLIC", "ops-public")
        self.add_channel("G0PRIVATE", "ops-private", private=True)
        self.add_channel("C0ARCHIVED", "ops-old", archived=True, member=True)

    # ------------------------------------------------------------- lifecycle
    def start(self) -> FakeSlack:
        """Listen on 127.0.0.1 on a free port, in a background thread."""
        fake = self

        class Handler(_Handler):
            server_fake = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Join handler threads on close, so no socket outlives a test.
        server.daemon_threads = False
        server.block_on_close = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fakeslack",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes slow handlers and closes every socket."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to give slack_sdk (SLACK_API_URL)."""
        return f"http://127.0.0.1:{self.port}/api/"

    # -------------------------------------------------------------- switches
    def fail(self, method: str, kind: str, *, times: int | None = 1, **options: Any) -> None:
        """Make the next ``times`` calls of ``method`` misbehave (kinds: ratelimit,
        http500, slow, late, error)."""
        if kind not in {"ratelimit", "http500", "slow", "late", "error"}:
            raise ValueError(f"unknown switch {kind!r}")
        with self._lock:
            self._switches.setdefault(method, []).append(_Switch(kind, times, options))

    def clear(self) -> None:
        """Remove every switch."""
        with self._lock:
            self._switches.clear()

    def _take(self, method: str) -> _Switch | None:
        with self._lock:
            queue = self._switches.get(method) or []
            if not queue:
                return None
            switch = queue[0]
            if switch.options.get("after", 0) > 0:
                switch.options["after"] -= 1  # let this call through
                return None
            if switch.times is not None:
                switch.times -= 1
                if switch.times <= 0:
                    queue.pop(0)
            return switch

    # ----------------------------------------------------------------- state
    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        private: bool = False,
        archived: bool = False,
        member: bool = False,
    ) -> Channel:
        """Create a channel (the bot is a member if ``member``)."""
        channel = Channel(channel_id, name, private=private, archived=archived)
        if member:
            channel.members.add(BOT_USER_ID)
        self.channels[channel_id] = channel
        return channel

    def messages(self, channel: str = "C0PLANS") -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first."""
        return self.channels[channel].top_level()

    def replies(self, ts: str, channel: str = "C0PLANS") -> list[dict[str, Any]]:
        """Thread replies to ``ts``, oldest first."""
        return self.channels[channel].thread(ts)

    def response_url(self, name: str) -> str:
        """A response_url whose posts land in ``responses[name]``."""
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def methods(self) -> list[str]:
        """Methods called, in order."""
        return [m for m, _ in self.calls]

    def _new_ts(self) -> str:
        # Real time, so `oldest` filters work; a counter keeps them unique and ordered.
        return f"{int(time.time())}.{next(self._ts):06d}"

    # --------------------------------------------------------------- methods
    def dispatch(self, method: str, params: dict[str, Any], auth: str | None) -> dict[str, Any]:
        """Answer one API call (raises _ApiError for ok:false)."""
        token = params.pop("token", None) or (auth or "").removeprefix("Bearer ").strip()
        if not token:
            raise _ApiError("not_authed")
        if token in self.revoked:
            raise _ApiError("token_revoked")
        if token != (APP_TOKEN if method == "apps.connections.open" else self.token):
            raise _ApiError("invalid_auth")
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            raise _ApiError("unknown_method")
        with self._lock:
            return handler(params)

    def _channel(
        self, params: dict[str, Any], key: str = "channel", *, member: bool = True
    ) -> Channel:
        channel = self.channels.get(str(params.get(key) or ""))
        if channel is None or (channel.private and BOT_USER_ID not in channel.members):
            raise _ApiError("channel_not_found")
        if member and BOT_USER_ID not in channel.members:
            raise _ApiError("not_in_channel")
        return channel

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": BOT_NAME, "user_id": BOT_USER_ID, "team": "Fake", "bot_id": "B0BOT"}

    def _m_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel") or ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        if channel.private:
            raise _ApiError("method_not_supported_for_channel_type")
        if channel.archived:
            raise _ApiError("is_archived")
        channel.members.add(BOT_USER_ID)
        return {"channel": {"id": channel.id, "name": channel.name}}

    def _check_message(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
        text = params.get("text")
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not text and not blocks:
            raise _ApiError("no_text")
        if blocks is not None:
            problems = block_problems(blocks)
            if problems:
                raise _ApiError("invalid_blocks", response_metadata={"messages": problems})
            if visible_chars(blocks) > MAX_VISIBLE:
                raise _ApiError("msg_too_long")
        if text and _len(text) > MAX_TEXT:
            raise _ApiError("msg_too_long")
        return str(text or ""), blocks

    @staticmethod
    def _metadata(params: dict[str, Any]) -> dict[str, Any] | None:
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata and not metadata.get("event_type"):
            raise _ApiError("invalid_metadata_format")
        return metadata or None

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel.archived:
            raise _ApiError("is_archived")
        text, blocks = self._check_message(params)
        thread_ts = params.get("thread_ts")
        if thread_ts:
            parent = channel.find(str(thread_ts))
            if parent is None:
                raise _ApiError("thread_not_found")
        message: dict[str, Any] = {
            "type": "message",
            "ts": self._new_ts(),
            "user": BOT_USER_ID,
            "bot_id": "B0BOT",
            "text": text,
        }
        if blocks is not None:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
        metadata = self._metadata(params)
        if metadata:
            message["metadata"] = metadata
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel.archived:
            raise _ApiError("is_archived")
        message = channel.find(str(params.get("ts") or ""))
        if message is None:
            raise _ApiError("message_not_found")
        text, blocks = self._check_message(params)
        message["text"] = text
        if blocks is not None:
            message["blocks"] = blocks
        metadata = self._metadata(params)
        if metadata:
            message["metadata"] = metadata
        message["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
        return {"channel": channel.id, "ts": message["ts"], "text": text}

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        message = channel.find(str(params.get("ts") or ""))
        if message is None:
            raise _ApiError("message_not_found")
        if message.get("user") != BOT_USER_ID:
            raise _ApiError("cant_delete_message")
        channel.messages.remove(message)
        return {"channel": channel.id, "ts": message["ts"]}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.socket is None:
            raise _ApiError("socket_mode_not_enabled")
        return {"url": self.socket.url}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        text, blocks = self._check_message(params)
        if not params.get("user"):
            raise _ApiError("user_not_in_channel")
        self.ephemerals.append(
            {"channel": channel.id, "user": params["user"], "text": text, "blocks": blocks}
        )
        return {"message_ts": self._new_ts()}

    def _m_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, member=False)
        ts = str(params.get("message_ts") or "")
        if channel.find(ts) is None:
            raise _ApiError("message_not_found")
        return {
            "channel": channel.id,
            "permalink": f"https://fake.slack.com/archives/{channel.id}/p{ts.replace('.', '')}",
        }

    @staticmethod
    def _shown(message: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        shown = dict(message)
        if str(params.get("include_all_metadata", "")).lower() not in {"1", "true"}:
            shown.pop("metadata", None)
        return shown

    @staticmethod
    def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str]:
        limit = max(1, min(int(params.get("limit") or 100), 999))
        start = int(params.get("cursor") or 0)
        page = items[start : start + limit]
        more = start + limit < len(items)
        return page, (str(start + limit) if more else "")

    def _m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        top = [m for m in channel.top_level() if oldest <= float(m["ts"]) <= latest]
        top.reverse()  # newest first, as Slack
        page, cursor = self._page(top, params)
        messages = []
        for m in page:
            shown = self._shown(m, params)
            replies = channel.thread(m["ts"])
            if replies:
                shown["thread_ts"] = m["ts"]
                shown["reply_count"] = len(replies)
            messages.append(shown)
        return {
            "messages": messages,
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        parent = channel.find(str(params.get("ts") or ""))
        if parent is None:
            raise _ApiError("thread_not_found")
        items = [parent, *channel.thread(parent["ts"])]
        page, cursor = self._page(items, params)
        return {
            "messages": [self._shown(m, params) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        length = params.get("length")
        if not filename or length in (None, ""):
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        self.uploads[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not files:
            raise _ApiError("invalid_arguments")
        shared = []
        for f in files:
            upload = self.uploads.get(str(f.get("id")))
            if upload is None or upload["data"] is None:
                raise _ApiError("file_not_found")
            shared.append(
                {
                    "id": f["id"],
                    "name": upload["filename"],
                    "title": f.get("title") or upload["filename"],
                    "size": len(upload["data"]),
                }
            )
        channel_id = params.get("channel_id") or params.get("channels")
        if channel_id:
            channel = self._channel({"channel": channel_id})
            if channel.archived:
                raise _ApiError("is_archived")
            thread_ts = params.get("thread_ts")
            if thread_ts and channel.find(str(thread_ts)) is None:
                raise _ApiError("thread_not_found")
            message: dict[str, Any] = {
                "type": "message",
                "ts": self._new_ts(),
                "user": BOT_USER_ID,
                "text": str(params.get("initial_comment") or ""),
                "files": shared,
                "upload": True,
            }
            if thread_ts:
                message["thread_ts"] = str(thread_ts)
            channel.messages.append(message)
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    def store_upload(self, file_id: str, data: bytes) -> bool:
        """Keep the bytes POSTed to an upload URL."""
        with self._lock:
            upload = self.uploads.get(file_id)
            if upload is None:
                return False
            upload["data"] = data
            return True


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_params(self) -> dict[str, Any]:
        url = urllib.parse.urlsplit(self.path)
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type") or ""
        if ctype.startswith("application/json"):
            params.update(json.loads(body or b"{}"))
        elif ctype.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + body
            )
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    payload = part.get_payload(decode=True) or b""
                    params[str(name)] = payload.decode("utf-8", "replace")
        elif body:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8")))
        params["_body"] = body
        return params

    def _send(
        self, status: int, data: dict[str, Any] | str, headers: dict[str, str] | None = None
    ) -> None:
        raw = (json.dumps(data) if isinstance(data, dict) else data).encode()
        self.send_response(status)
        ctype = "application/json; charset=utf-8" if isinstance(data, dict) else "text/plain"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(raw)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): exactly what a slow test wants

    def _handle(self) -> None:
        fake = self.server_fake
        params = self._read_params()
        body = params.pop("_body")
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/upload/"):
            file_id = path.rsplit("/", 1)[-1]
            fake.calls.append(("upload", {"file_id": file_id, "bytes": len(body)}))
            ok = fake.store_upload(file_id, body)
            self._send(200 if ok else 404, f"OK - {len(body)}" if ok else "not found")
            return
        if path.startswith("/response/"):
            name = path.rsplit("/", 1)[-1]
            try:
                posted = json.loads(body or b"{}")
            except ValueError:
                self._send(400, "invalid_payload")
                return
            with fake._lock:
                fake.responses.setdefault(name, []).append(posted)
            self._send(200, "ok")
            return
        if not path.startswith("/api/"):
            self._send(404, {"ok": False, "error": "unknown_method"})
            return
        method = path.removeprefix("/api/")
        fake.calls.append((method, {k: v for k, v in params.items() if k != "token"}))
        fake.request_times.append((method, time.monotonic()))
        switch = fake._take(method)
        if switch is not None and switch.kind == "ratelimit":
            retry_after = str(switch.options.get("retry_after", 1))
            self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": retry_after})
            return
        if switch is not None and switch.kind == "http500":
            self._send(500, "Internal Server Error")
            return
        if switch is not None and switch.kind == "error":
            data: dict[str, Any] = {"ok": False, "error": switch.options["error"]}
            if "needed" in switch.options:
                data["needed"] = switch.options["needed"]
                data["provided"] = "chat:write"
            if switch.options.get("echo_auth"):
                # A misbehaving proxy echoing the request: the client must scrub it.
                data["warning"] = str(self.headers.get("Authorization"))
                data["response_metadata"] = {"messages": [str(self.headers.get("Authorization"))]}
            self._send(200, data)
            return
        if switch is not None and switch.kind == "late":
            # Slack still working on it when the client gives up: stored only later.
            fake._stop.wait(float(switch.options.get("delay", 2.0)))
        try:
            result = fake.dispatch(method, params, self.headers.get("Authorization"))
            data = {"ok": True, **result}
        except _ApiError as exc:
            data = {"ok": False, "error": exc.error, **exc.extra}
        if switch is not None and switch.kind == "slow":
            # Stored already; answer only after the client has given up.
            fake._stop.wait(float(switch.options.get("delay", 2.0)))
        self._send(200, data)


class FakeSocketMode:
    """Slack's Socket Mode end: a WebSocket server on 127.0.0.1 (plain ws://, as
    slack_sdk allows off port 443). ``apps.connections.open`` of the `FakeSlack` it is
    attached to answers its URL. `send` delivers an envelope to the connected app and
    returns the app's acknowledgement (its ``payload``)."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, fake: FakeSlack):
        import socket as _socket

        self._server = _socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self.url = f"ws://127.0.0.1:{self.port}/link/?ticket=fake"
        self._clients: list[Any] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True, name="fake-ws")]
        self._threads[0].start()
        fake.socket = self

    def close(self) -> None:
        """Close the server and every connection."""
        self._stop.set()
        for client in list(self._clients):
            with contextlib.suppress(OSError):
                client.close()
        self._server.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def connected(self) -> int:
        """How many app connections are open."""
        return len(self._clients)

    def send(self, kind: str, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Deliver an envelope (``slash_commands``, ``interactive``, ``events_api``) to
        the newest connection; return the ``payload`` of the app's ack."""
        envelope_id = f"env-{time.time_ns()}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "payload": payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self._frame(self._clients[-1], 0x1, json.dumps(envelope).encode())
        deadline = time.monotonic() + timeout
        with self._cond:
            while envelope_id not in self._acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no ack for {envelope_id}")
                self._cond.wait(left)
            return dict(self._acks.pop(envelope_id).get("payload") or {})

    # ------------------------------------------------------------- wire
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: Any) -> None:
        import base64
        import hashlib

        conn.settimeout(0.5)
        head = b""
        try:
            while b"\r\n\r\n" not in head and not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    head += conn.recv(4096)
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
            }
            accept = base64.b64encode(
                hashlib.sha1((headers["sec-websocket-key"] + self.GUID).encode()).digest()
            ).decode()
            conn.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            self._clients.append(conn)
            self._frame(conn, 0x1, json.dumps({"type": "hello", "num_connections": 1}).encode())
            buffer = b""
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                buffer += chunk
                while True:
                    frame = _read_frame(buffer)
                    if frame is None:
                        break
                    opcode, data, used = frame
                    buffer = buffer[used:]
                    if opcode == 0x9:  # ping: pong
                        self._frame(conn, 0xA, data)
                    elif opcode == 0x8:  # close
                        return
                    elif opcode == 0x1:
                        message = json.loads(data)
                        if "envelope_id" in message:
                            with self._cond:
                                self._acks[message["envelope_id"]] = message
                                self._cond.notify_all()
        except OSError:
            return
        finally:
            if conn in self._clients:
                self._clients.remove(conn)
            with contextlib.suppress(OSError):
                conn.close()

    @staticmethod
    def _frame(conn: Any, opcode: int, data: bytes) -> None:
        n = len(data)
        if n < 126:
            head = bytes([0x80 | opcode, n])
        elif n < 65536:
            head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
        conn.sendall(head + data)


def _read_frame(buffer: bytes) -> tuple[int, bytes, int] | None:
    """(opcode, unmasked payload, bytes used) of the first whole frame, or None."""
    if len(buffer) < 2:
        return None
    opcode = buffer[0] & 0x0F
    masked = buffer[1] & 0x80
    n = buffer[1] & 0x7F
    at = 2
    if n == 126:
        if len(buffer) < 4:
            return None
        n, at = int.from_bytes(buffer[2:4], "big"), 4
    elif n == 127:
        if len(buffer) < 10:
            return None
        n, at = int.from_bytes(buffer[2:10], "big"), 10
    mask = b""
    if masked:
        if len(buffer) < at + 4:
            return None
        mask, at = buffer[at : at + 4], at + 4
    if len(buffer) < at + n:
        return None
    data = buffer[at : at + n]
    if masked:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return opcode, data, at + n


class InProcessSlack:
    """A Slack client for the publisher (`rebalance.publish.SlackApi`) answering from a
    `FakeSlack` in this process, without HTTP: the fake transport of fast tests.

    Payloads go through a JSON round trip, as on the wire. Only the ``error`` switch
    applies (429, 5xx and slow answers need the real client over HTTP).
    """

    def __init__(self, fake: FakeSlack, token: str = TOKEN):
        self.fake = fake
        self.token = token
        self.base_url = "in-process://fakeslack/api/"
        self.timeout = 1.0

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from rebalance.slack import FailureKind, SlackCallError

        params = json.loads(json.dumps({k: v for k, v in params.items() if v is not None}))
        self.fake.calls.append((method, dict(params)))
        switch = self.fake._take(method)
        if switch is not None:
            if switch.kind != "error":
                raise NotImplementedError(f"{switch.kind} needs the fake over HTTP")
            raise SlackCallError(
                method,
                FailureKind.API,
                error=switch.options["error"],
                needed=switch.options.get("needed"),
            )
        try:
            return self.fake.dispatch(method, params, f"Bearer {self.token}")
        except _ApiError as exc:
            raise SlackCallError(method, FailureKind.API, error=exc.error) from None

    def _paged(self, method: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            data = self._call(method, {**params, "cursor": cursor, "include_all_metadata": True})
            yield from data.get("messages") or []
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    def auth_test(self) -> dict[str, Any]:
        return self._call("auth.test", {})

    def join(self, channel: str) -> dict[str, Any]:
        return self._call("conversations.join", {"channel": channel})

    def post_message(self, **payload: Any) -> dict[str, Any]:
        return self._call("chat.postMessage", payload)

    def update_message(self, **payload: Any) -> dict[str, Any]:
        return self._call("chat.update", payload)

    def delete_message(self, *, channel: str, ts: str) -> dict[str, Any]:
        return self._call("chat.delete", {"channel": channel, "ts": ts})

    def history(self, channel: str, *, oldest: float) -> Iterator[dict[str, Any]]:
        return self._paged(
            "conversations.history", {"channel": channel, "oldest": f"{oldest:.6f}", "limit": 200}
        )

    def replies(self, channel: str, ts: str) -> Iterator[dict[str, Any]]:
        return self._paged("conversations.replies", {"channel": channel, "ts": ts, "limit": 200})

    def upload_files(
        self,
        *,
        channel: str,
        thread_ts: str,
        files: list[dict[str, Any]],
        initial_comment: str | None = None,
    ) -> dict[str, Any]:
        shared = []
        for f in files:
            data = f["content"].encode()
            file_id = f"F{next(self.fake._ids):08d}"
            self.fake.uploads[file_id] = {
                "filename": f["filename"],
                "length": len(data),
                "data": data,
            }
            shared.append({"id": file_id, "title": f["title"]})
        return self._call(
            "files.completeUploadExternal",
            {
                "files": shared,
                "channel_id": channel,
                "thread_ts": thread_ts,
                "initial_comment": initial_comment,
            },
        )

    def permalink(self, channel: str, ts: str) -> str:
        return str(
            self._call("chat.getPermalink", {"channel": channel, "message_ts": ts})["permalink"]
        )

    def wait(self, seconds: float) -> None:
        pass

    def scrub(self, text: str) -> str:
        return text.replace(self.token, "xoxb-***")
