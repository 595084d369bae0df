"""Talking to a real `rebalance serve` process as Slack does (signed form posts).

`Server` starts ``rebalance serve --port 0`` with the Web API pointed at a `FakeSlack`,
waits for its ``serve_ready`` log line and ``/healthz``, and sends slash commands and
``block_actions`` payloads signed with the signing secret (or badly signed, stale,
replayed, retried).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakeslack import TOKEN, FakeSlack

REBALANCE = str(Path(sys.executable).parent / "rebalance")
PAUSE_RUN = Path(__file__).with_name("pause_run.py")
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
_ids = itertools.count(1)


def slack_env(fake: FakeSlack, **extra: str) -> dict[str, str]:
    """The environment of a serve process: fake Slack URL, token, secret, no proxy."""
    skip = ("slack_", "rebalance_", "http_proxy", "https_proxy", "all_proxy")
    base = {k: v for k, v in os.environ.items() if not k.lower().startswith(skip)}
    return {
        **base,
        "SLACK_API_URL": fake.url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "REBALANCE_SLACK_TIMEOUT": "5",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **extra,
    }


def signature(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    """Slack's v0 request signature."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll until ``condition()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


@dataclass
class Reply:
    """An HTTP answer of the server."""

    status: int
    body: str
    seconds: float

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class Server:
    """A `rebalance serve` process (stop it with `stop`)."""

    config: Path
    fake: FakeSlack
    log: Path
    env: dict[str, str]
    args: tuple[str, ...] = ()
    #: ``PHASE:SECONDS``: the server's re-plans sleep after that phase (tests/pause_run.py)
    pause: str = ""
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    _log_file: Any = field(default=None, repr=False)

    def start(self) -> Server:
        """Start it and wait until /healthz answers 200."""
        self._log_file = self.log.open("wb")
        command = [sys.executable, str(PAUSE_RUN), self.pause] if self.pause else [REBALANCE]
        self.proc = subprocess.Popen(
            [*command, "serve", "--config", str(self.config), "--port", "0", *self.args],
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

        def ready() -> int | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"serve exited {self.proc.returncode}:\n{self.log.read_text()}"
                )
            for line in self.lines():
                if line.get("event") == "serve_ready":
                    return int(line["port"])
            return None

        self.port = wait_for(ready, what="serve_ready")
        assert self.get("/healthz").status == 200
        return self

    def lines(self) -> list[dict[str, Any]]:
        """The JSON log lines so far (a line that is not JSON fails the test)."""
        out = []
        for raw in self.log.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                out.append(json.loads(raw))
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._log_file.close()
        return code

    # ------------------------------------------------------------ requests
    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Reply:
        """One HTTP request to the server (no proxy)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            return Reply(response.status, text, time.monotonic() - started)
        finally:
            conn.close()

    def get(self, path: str) -> Reply:
        """GET path."""
        return self.request("GET", path)

    def post(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        sign: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """POST /slack/events, form-encoded, signed as Slack signs (unless told not to)."""
        ts = int(time.time()) if timestamp is None else timestamp
        head = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            head["X-Slack-Request-Timestamp"] = str(ts)
            head["X-Slack-Signature"] = signature(body, ts, secret)
        head.update(headers or {})
        return self.request("POST", "/slack/events", body, head)


def command_body(fake: FakeSlack, text: str, *, user: str, name: str) -> bytes:
    """A /rebalance slash command as Slack sends it; answers go to ``responses[name]``."""
    return urllib.parse.urlencode(command_payload(fake, text, user=user, name=name)).encode()


def command_payload(fake: FakeSlack, text: str, *, user: str, name: str) -> dict[str, str]:
    """The fields of a /rebalance slash command (a form over HTTP, a payload in Socket Mode)."""
    return {
        "token": "verification-token-unused",
        "team_id": "T0OPS",
        "team_domain": "ops",
        "channel_id": "C0PLANS",
        "channel_name": "ops-rebalance",
        "user_id": user,
        "user_name": f"name-of-{user.lower()}",
        "command": "/rebalance",
        "text": text,
        "api_app_id": "A0APP",
        "response_url": fake.response_url(name),
        "trigger_id": f"trigger.{next(_ids)}.{time.time_ns()}",
    }


def click_body(
    fake: FakeSlack,
    action_id: str,
    value: str,
    *,
    user: str,
    name: str,
    message_ts: str = "1.000001",
    team: str = "T0OPS",
    button: str = "Approve",
) -> bytes:
    """A block_actions payload (a button click) as Slack sends it; ``button``: the
    clicked button's text, which Slack sends with it."""
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "ops"},
        "user": {"id": user, "username": f"name-of-{user.lower()}", "team_id": team},
        "api_app_id": "A0APP",
        "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": "C0APPROVE"},
        "trigger_id": f"trigger.{next(_ids)}.{time.time_ns()}",
        "channel": {"id": "C0APPROVE", "name": "ops-approve"},
        "message": {"type": "message", "ts": message_ts, "text": "plan"},
        "response_url": fake.response_url(name),
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "text": {"type": "plain_text", "text": button},
                "action_ts": f"{time.time():.6f}{next(_ids)}",
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
