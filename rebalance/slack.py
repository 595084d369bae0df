"""The Slack Web API boundary: the only module that imports slack_sdk.

`SlackClient` wraps `slack_sdk.WebClient` with what an unattended publisher needs:

- the token from ``SLACK_BOT_TOKEN`` and the base URL from ``SLACK_API_URL``
  (default https://slack.com/api/), a timeout from ``REBALANCE_SLACK_TIMEOUT``;
- for every call, a bounded wait-and-retry on HTTP 429 (``Retry-After``);
- at least `POST_INTERVAL` seconds between consecutive posts to one channel;
- every failure raised as one typed `SlackCallError`: its ``kind``, Slack's error
  code, and whether the request may have taken effect anyway (``ambiguous``).

slack_sdk's own retry handlers are switched off: its default handler re-sends a
request after a connection reset, which for ``chat.postMessage`` is exactly how a
message gets posted twice. Only requests that are safe to repeat (reads,
``chat.update``, ``conversations.join``) are retried after an ambiguous failure here;
for posts the caller decides (see `rebalance.publish`).

The token is never logged, never part of an error message (`SlackClient.scrub` removes
it from any text that came back from the network), and errors are raised without
chaining slack_sdk's exceptions, whose requests carry it.
"""

from __future__ import annotations

import functools
import http.client
import logging
import math
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError

from .errors import ConfigError, Issue, PublishError

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_TIMEOUT",
    "ENV_API_URL",
    "ENV_TIMEOUT",
    "ENV_TOKEN",
    "FailureKind",
    "SlackCallError",
    "SlackClient",
    "api_answer",
    "signature_problem",
]


def api_answer(exc: BaseException) -> tuple[str, int] | None:
    """Slack's answer behind an exception raised by slack_sdk, or by a library calling it
    (Bolt wraps a failed auth.test in its own error): (``error``, HTTP status) of the
    first `slack_sdk.errors.SlackApiError` in the chain of causes; None when Slack never
    answered (a timeout, a refused connection)."""
    from slack_sdk.errors import SlackApiError

    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, SlackApiError):
            response = cause.response
            if response is None:
                return "", 0
            return str(response.get("error") or ""), int(response.status_code or 0)
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


ENV_TOKEN = "SLACK_BOT_TOKEN"
ENV_API_URL = "SLACK_API_URL"
ENV_TIMEOUT = "REBALANCE_SLACK_TIMEOUT"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT = 30.0

#: Seconds between consecutive posts to one channel (Slack allows about one a second).
POST_INTERVAL = 1.0
#: Attempts of one call while Slack answers 429, and the most seconds one client (one
#: run) waits on 429s in all: a Retry-After beyond what is left is not waited out, the
#: call fails at once saying when Slack allows the next attempt.
RATE_LIMIT_ATTEMPTS = 5
RATE_LIMIT_MAX_WAIT = 60.0
#: Extra attempts of a repeatable call after a timeout, reset or 5xx.
SAFE_RETRIES = 2

#: Methods that add or change a message in a channel: these are paced.
_POSTING = frozenset(
    {"chat.postMessage", "chat.update", "chat.delete", "files.completeUploadExternal"}
)
#: ok:false codes meaning Slack failed internally: the request may or may not have applied.
_SERVER_SIDE = frozenset(
    {"internal_error", "fatal_error", "request_timeout", "service_unavailable"}
)


class FailureKind(StrEnum):
    """Why a call failed."""

    API = "api"  # Slack answered ok:false; the code is in SlackCallError.error
    RATE_LIMITED = "rate_limited"  # still 429 after the bounded retries
    TIMEOUT = "timeout"  # no answer within the timeout
    CONNECTION = "connection"  # reset or dropped mid-request
    REFUSED = "refused"  # nothing listening, or the host is unknown: nothing was sent
    SERVER = "server"  # HTTP 5xx, or a non-JSON answer


class SlackCallError(Exception):
    """A Slack Web API call that failed, as a typed result.

    ``ambiguous`` is true when the request may have taken effect although it failed
    (timeout, reset, 5xx): a post must then be looked for before it is sent again.
    """

    def __init__(
        self,
        method: str,
        kind: FailureKind,
        *,
        error: str | None = None,
        status: int | None = None,
        needed: str | None = None,
        detail: str = "",
        ambiguous: bool = False,
        waited: float = 0.0,
        retry_after: float = 1.0,
    ):
        self.method = method
        self.retry_after = retry_after
        self.kind = kind
        self.error = error
        self.status = status
        self.needed = needed
        self.detail = detail
        self.ambiguous = ambiguous
        self.waited = waited
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line: method, what went wrong, Slack's code."""
        what = {
            FailureKind.API: f"Slack answered {self.error}",
            FailureKind.RATE_LIMITED: "Slack kept answering 429 (rate limited)",
            FailureKind.TIMEOUT: "no answer before the timeout",
            FailureKind.CONNECTION: "the connection dropped",
            FailureKind.REFUSED: "could not connect",
            FailureKind.SERVER: f"Slack failed (HTTP {self.status})",
        }[self.kind]
        text = f"{self.method}: {what}"
        return f"{text} ({self.detail})" if self.detail else text


def _env_timeout() -> float:
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            Issue(
                "not a number of seconds",
                key=f"{ENV_TIMEOUT} (environment variable)",
                value=raw,
                valid="a number > 0, e.g. 30",
            ),
            title="invalid configuration",
        )
    return value


class _WebClient(WebClient):
    """WebClient that reports each HTTP request it makes (method, status, seconds)."""

    def __init__(self, *args: Any, on_request: Callable[[str, str, float], None], **kw: Any):
        super().__init__(*args, **kw)
        self._on_request = on_request

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        start = time.monotonic()
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            code = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            self._on_request(
                api_method, f"HTTP {exc.response.status_code}, {code}", time.monotonic() - start
            )
            raise
        except Exception as exc:
            self._on_request(api_method, type(exc).__name__, time.monotonic() - start)
            raise
        self._on_request(api_method, f"HTTP {response.status_code}, ok", time.monotonic() - start)
        return response

    def _upload_file(self, *, url: str, data: bytes, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            result = super()._upload_file(url=url, data=data, **kwargs)
        except Exception as exc:
            self._on_request("file upload", type(exc).__name__, time.monotonic() - start)
            raise
        self._on_request(
            "file upload", f"HTTP {result.status}, {len(data)} bytes", time.monotonic() - start
        )
        return result


class SlackClient:
    """A Slack Web API client for one run: typed failures, 429 waits, pacing.

    ``log`` receives one line per HTTP request and per wait (never the token);
    ``sleep`` is injectable for tests.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        post_interval: float | None = None,
    ):
        token = token.strip()
        if not token:
            raise ValueError("empty Slack token")
        self._token = token
        self.base_url = base_url or DEFAULT_API_URL
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self.post_interval = POST_INTERVAL if post_interval is None else post_interval
        self._log = log
        self._sleep = sleep
        self._last_post: dict[str, float] = {}
        self._rate_waited = 0.0  # seconds waited on 429s by this client, all calls together
        # A private, silenced logger: slack_sdk logs failed requests at ERROR level (the
        # last-resort handler would print them) and, below DEBUG, response bodies, which
        # may echo anything. We report each call ourselves through `log`.
        sdk_logger = logging.getLogger("rebalance.slack_sdk")
        sdk_logger.propagate = False
        sdk_logger.setLevel(logging.CRITICAL + 1)
        if not sdk_logger.handlers:
            sdk_logger.addHandler(logging.NullHandler())
        self._web = _WebClient(
            token=token,
            base_url=self.base_url,
            timeout=self.timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=[],  # we retry ourselves; see the module docstring
            logger=sdk_logger,
            on_request=self._report,
        )
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        if self._web.proxy and urllib.request.proxy_bypass(host):
            # slack_sdk reads HTTPS_PROXY but not NO_PROXY; honour it.
            self._web.proxy = None

    @classmethod
    def from_env(cls, *, log: Callable[[str], None] | None = None) -> SlackClient:
        """A client from SLACK_BOT_TOKEN, SLACK_API_URL and REBALANCE_SLACK_TIMEOUT.

        Raises `PublishError` when no token is set (before any request is made).
        """
        token = os.environ.get(ENV_TOKEN, "").strip()
        if not token:
            raise PublishError(
                f"{ENV_TOKEN} is not set: nothing was posted",
                hint=(
                    f"Export the Slack app's bot token (xoxb-...) as {ENV_TOKEN} and run the "
                    "same command again, or add --dry-run to see the message without posting."
                ),
            )
        base_url = os.environ.get(ENV_API_URL, "").strip() or DEFAULT_API_URL
        return cls(token, base_url=base_url, timeout=_env_timeout(), log=log)

    # ------------------------------------------------------------- plumbing
    def wait(self, seconds: float) -> None:
        """Sleep (with the injectable sleep), e.g. to let Slack settle before a search."""
        self._sleep(seconds)

    def scrub(self, text: str) -> str:
        """``text`` with the token (and any Authorization value) blanked out."""
        return text.replace(self._token, "xoxb-***") if self._token else text

    def _emit(self, line: str) -> None:
        if self._log is not None:
            self._log(self.scrub(line))

    def _report(self, method: str, outcome: str, seconds: float) -> None:
        self._emit(f"slack: {method} -> {outcome} ({seconds:.2f} s)")

    def _pace(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is None:
            return
        wait = self.post_interval - (time.monotonic() - last)
        if wait > 0:
            self._sleep(wait)

    def _failure(self, method: str, exc: BaseException) -> SlackCallError:
        """Map whatever slack_sdk or urllib raised to a SlackCallError."""
        if isinstance(exc, SlackApiError):
            status = int(exc.response.status_code or 0)
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            code = str(data.get("error") or "")
            messages = (data.get("response_metadata") or {}).get("messages") or []
            detail = self.scrub("; ".join(str(m) for m in messages)[:500])
            if status == 429:
                return SlackCallError(
                    method,
                    FailureKind.RATE_LIMITED,
                    error="ratelimited",
                    status=429,
                    retry_after=_retry_after_seconds(exc.response.headers),
                )
            if status >= 500 or (not data.get("error") and status != 200):
                return SlackCallError(
                    method, FailureKind.SERVER, status=status, error=code or None, ambiguous=True
                )
            needed = data.get("needed")
            return SlackCallError(
                method,
                FailureKind.API,
                error=code or "unknown_error",
                status=status,
                needed=str(needed) if needed else None,
                detail=detail,
                ambiguous=code in _SERVER_SIDE,
            )
        if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
            return SlackCallError(
                method, FailureKind.TIMEOUT, detail=f"{self.timeout:g} s", ambiguous=True
            )
        if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                return SlackCallError(
                    method, FailureKind.TIMEOUT, detail=f"{self.timeout:g} s", ambiguous=True
                )
            if isinstance(reason, ConnectionRefusedError | socket.gaierror):
                # Nothing reached Slack: safe to say it did not happen.
                return SlackCallError(
                    method, FailureKind.REFUSED, detail=self.scrub(_reason_text(reason))
                )
            return SlackCallError(
                method,
                FailureKind.CONNECTION,
                detail=self.scrub(_reason_text(reason)),
                ambiguous=True,
            )
        if isinstance(exc, ConnectionRefusedError):
            return SlackCallError(method, FailureKind.REFUSED, detail="connection refused")
        if isinstance(exc, ConnectionError | http.client.HTTPException | OSError):
            return SlackCallError(
                method,
                FailureKind.CONNECTION,
                detail=self.scrub(type(exc).__name__),
                ambiguous=True,
            )
        if isinstance(exc, SlackRequestError):
            # e.g. the file upload POST answered non-200; the file is not shared yet.
            return SlackCallError(
                method, FailureKind.SERVER, detail=self.scrub(str(exc))[:300], ambiguous=True
            )
        raise exc  # anything else is a bug: let it surface

    def _invoke(
        self,
        method: str,
        fn: Callable[[], Any],
        *,
        repeatable: bool,
        channel: str | None = None,
    ) -> dict[str, Any]:
        """Run one API call with the 429 policy, pacing and (if repeatable) safe retries."""
        rate_limited = 0
        safe_retries = 0
        paced = channel if channel is not None and method in _POSTING else None
        while True:
            if paced is not None:
                self._pace(paced)
            try:
                response = fn()
            except (SlackClientError, OSError, http.client.HTTPException) as exc:
                failure = self._failure(method, exc)
            else:
                if paced is not None:
                    self._last_post[paced] = time.monotonic()
                return dict(response.data)
            if paced is not None and failure.ambiguous:
                # It may have been posted: keep pacing as if it had been.
                self._last_post[paced] = time.monotonic()
            if failure.kind is FailureKind.RATE_LIMITED:
                rate_limited += 1
                delay = failure.retry_after
                left = RATE_LIMIT_MAX_WAIT - self._rate_waited
                if rate_limited < RATE_LIMIT_ATTEMPTS and delay <= left:
                    self._emit(f"slack: {method} rate limited; waiting {delay:g} s (Retry-After)")
                    self._sleep(delay)
                    self._rate_waited += delay
                    continue
                failure.waited = self._rate_waited
                failure.detail = (
                    f"{rate_limited} attempt{'' if rate_limited == 1 else 's'}, "
                    f"waited {self._rate_waited:g} s; "
                    f"Slack asked for {delay:g} s more"
                )
                failure.args = (failure.describe(),)
                raise failure
            if failure.ambiguous and repeatable and safe_retries < SAFE_RETRIES:
                safe_retries += 1
                self._emit(f"slack: {method} failed ({failure.kind}); retrying (safe to repeat)")
                self._sleep(min(1.0 * safe_retries, 5.0))
                continue
            raise failure

    # -------------------------------------------------------------- methods
    def auth_test(self) -> dict[str, Any]:
        """auth.test: who the token belongs to (``user``, ``user_id``, ``team``)."""
        return self._invoke("auth.test", lambda: self._web.auth_test(), repeatable=True)

    def join(self, channel: str) -> dict[str, Any]:
        """conversations.join: the bot joins a public channel."""
        return self._invoke(
            "conversations.join",
            lambda: self._web.conversations_join(channel=channel),
            repeatable=True,
        )

    def post_message(self, **payload: Any) -> dict[str, Any]:
        """chat.postMessage; never repeated here after an ambiguous failure."""
        channel = str(payload["channel"])
        return self._invoke(
            "chat.postMessage",
            lambda: self._web.chat_postMessage(**payload),
            repeatable=False,
            channel=channel,
        )

    def update_message(self, **payload: Any) -> dict[str, Any]:
        """chat.update (``channel``, ``ts``, ...): repeating it is harmless."""
        channel = str(payload["channel"])
        return self._invoke(
            "chat.update",
            lambda: self._web.chat_update(**payload),
            repeatable=True,
            channel=channel,
        )

    def delete_message(self, *, channel: str, ts: str) -> dict[str, Any]:
        """chat.delete of a message this bot posted; repeating it is harmless."""
        return self._invoke(
            "chat.delete",
            lambda: self._web.chat_delete(channel=channel, ts=ts),
            repeatable=True,
            channel=channel,
        )

    # [slack app, #18] what `rebalance serve` needs besides the publisher's calls
    def permalink(self, channel: str, ts: str) -> str:
        """chat.getPermalink: a link to a message (for pointers in replies)."""
        data = self._invoke(
            "chat.getPermalink",
            lambda: self._web.chat_getPermalink(channel=channel, message_ts=ts),
            repeatable=True,
        )
        return str(data.get("permalink") or "")

    def web_client(self) -> WebClient:
        """The underlying slack_sdk WebClient (Bolt takes one; same base URL and token)."""
        return self._web

    def history(
        self, channel: str, *, oldest: float, page_size: int = 200, max_pages: int = 50
    ) -> Iterator[dict[str, Any]]:
        """Top-level messages of a channel since ``oldest`` (epoch seconds), newest
        first, with every app's metadata; follows the cursor for up to ``max_pages``."""
        yield from self._paged(
            "conversations.history",
            lambda cursor: self._web.conversations_history(
                channel=channel,
                oldest=f"{oldest:.6f}",
                limit=page_size,
                include_all_metadata=True,
                cursor=cursor,
            ),
            max_pages,
        )

    def replies(self, channel: str, ts: str, *, max_pages: int = 20) -> Iterator[dict[str, Any]]:
        """The parent message ``ts`` then its thread replies, with metadata."""
        yield from self._paged(
            "conversations.replies",
            lambda cursor: self._web.conversations_replies(
                channel=channel, ts=ts, limit=200, include_all_metadata=True, cursor=cursor
            ),
            max_pages,
        )

    def _paged(
        self, method: str, page: Callable[[str | None], Any], max_pages: int
    ) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        for _ in range(max_pages):
            data = self._invoke(method, functools.partial(page, cursor), repeatable=True)
            yield from data.get("messages") or []
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    def upload_files(
        self,
        *,
        channel: str,
        thread_ts: str,
        files: list[dict[str, Any]],
        initial_comment: str | None = None,
    ) -> dict[str, Any]:
        """files_upload_v2 (getUploadURLExternal, upload, completeUploadExternal) into a
        thread. Not repeated here after an ambiguous failure: it would share twice."""
        return self._invoke(
            "files.completeUploadExternal",
            lambda: self._web.files_upload_v2(
                file_uploads=[dict(f) for f in files],
                channel=channel,
                thread_ts=thread_ts,
                initial_comment=initial_comment,
            ),
            repeatable=False,
            channel=channel,
        )


def _retry_after_seconds(headers: Any) -> float:
    """Retry-After in seconds (at least 1; as Slack said, however long: the caller
    decides whether to wait or to give up saying when to retry)."""
    value: Any = None
    for key, val in dict(headers or {}).items():
        if str(key).lower() == "retry-after":
            value = val[0] if isinstance(val, list) and val else val
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 1.0
    if not math.isfinite(seconds):
        seconds = 24 * 3600.0
    return max(seconds, 1.0)


def _reason_text(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)


#: The most digits an ``X-Slack-Request-Timestamp`` may have (Unix seconds: 10 digits).
MAX_TIMESTAMP_DIGITS = 12
#: How far a request's timestamp may be from now, in seconds (Slack's rule, slack_sdk's).
MAX_SKEW_SECONDS = 5 * 60


def signature_problem(secret: str) -> Callable[[bytes, str, str], str | None]:
    """``problem(body, timestamp, signature)``: None when a request carries Slack's
    signature of ``body`` under the signing ``secret`` with a timestamp within 5
    minutes (slack_sdk's `SignatureVerifier`, the check Bolt makes); else why not, for
    the log: a header missing, a timestamp that is no Unix time or is stale or in the
    future (by how many seconds), or a signature that does not match. Never the secret
    or the signatures."""
    import hmac

    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(secret)

    def problem(body: bytes, timestamp: str, signature: str) -> str | None:
        if not timestamp:
            return "no X-Slack-Request-Timestamp header"
        if not signature:
            return "no X-Slack-Signature header"
        # slack_sdk reads the timestamp with int() and the body as UTF-8 text: a header
        # of other digits ("²", Latin-1 in WSGI) or a body of other bytes raised there,
        # a 500 with a traceback for anyone who can reach the port. Slack sends neither.
        # And int() of hundreds of digits is too large for its float() (OverflowError),
        # of thousands past Python's digit limit (ValueError): a 500 with a traceback
        # too. Slack's timestamp is a Unix time in seconds, 10 digits until 2286.
        if not (timestamp.isascii() and timestamp.isdigit()):
            return "X-Slack-Request-Timestamp is not a Unix time in seconds"
        if len(timestamp) > MAX_TIMESTAMP_DIGITS:
            return f"X-Slack-Request-Timestamp has {len(timestamp)} digits, not a Unix time"
        offset = time.time() - int(timestamp)
        if abs(offset) > MAX_SKEW_SECONDS:
            skew = round(offset)
            when = f"{skew} s in the past" if skew > 0 else f"{-skew} s in the future"
            return (
                f"timestamp {when} (more than {MAX_SKEW_SECONDS} s off: "
                f"{'stale or replayed' if skew > 0 else 'a clock ahead'})"
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return "the body is not UTF-8"
        expected = verifier.generate_signature(timestamp=timestamp, body=text)
        # compare_digest raises on text that is not ASCII (a 500); Slack's is hex
        if (
            expected is None
            or not signature.isascii()
            or not hmac.compare_digest(expected, signature)
        ):
            return "signature mismatch (another signing secret, or the body was changed)"
        return None

    return problem
