"""`rebalance serve`: the app over HTTP (waitress, a production WSGI server) or Socket
Mode, with ``GET /healthz`` for process supervisors, JSON-lines logs and a clean stop
on SIGTERM (in-flight requests and re-plans finish first).

Secrets come from the environment only: ``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``
(HTTP) or ``SLACK_APP_TOKEN`` (Socket Mode). None of them is ever logged: every line
goes through a filter that blanks their values, on top of `rebalance.logs.redact`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rebalance.errors import ConfigError, Issue, PublishError

if TYPE_CHECKING:
    from rebalance.config import Config

#: A logger, or one bound to the city (`rebalance.logs.RunLog`).
Logger = logging.Logger | logging.LoggerAdapter[Any]

__all__ = ["ENV_APP_TOKEN", "ENV_SIGNING_SECRET", "ListenError", "serve"]

ENV_SIGNING_SECRET = "SLACK_SIGNING_SECRET"
ENV_APP_TOKEN = "SLACK_APP_TOKEN"
HEALTH_PATH = "/healthz"


class _Scrub(logging.Filter):
    """Blank the values of the app's secrets in every record."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "[redacted]")
            record.msg, record.args = message, None
        return True


def _env_secret(name: str, *, valid: str, prefix: str = "") -> str:
    value = os.environ.get(name, "").strip()
    if not value or (prefix and not value.startswith(prefix)):
        raise ConfigError(
            Issue(
                "not set" if not value else f"does not start with {prefix}",
                key=f"{name} (environment variable)",
                valid=valid,
            ),
            title="cannot start the Slack app",
        )
    return value


def _signed(secret: str) -> Callable[[dict[str, Any]], str | None]:
    """Why a request does not carry Slack's signature of its body under ``secret``
    with a timestamp within 5 minutes (slack_sdk's check, the one Bolt makes), or None
    when it does. The body is read here and put back for Bolt."""
    from rebalance.slack import signature_problem

    from .bolt import request_body

    problem = signature_problem(secret)

    def check(environ: dict[str, Any]) -> str | None:
        body = request_body(environ)
        return problem(
            body,
            environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "",
            environ.get("HTTP_X_SLACK_SIGNATURE") or "",
        )

    return check


def _store_state(path: Path) -> str | None:
    """Why the history store at ``path`` cannot be used now, and how to recover (its
    error's lines as one), or None when it can, or does not exist yet (the first
    command creates it). A store locked by a writer counts as usable: the wait is
    bounded at a second here."""
    from rebalance.errors import LockHeldError, RebalanceError
    from rebalance.history import History

    if not path.exists():
        return None
    try:
        with History(path, read_only=True, timeout=1.0) as store:
            store.runs(limit=1)  # reads the runs table: a truncated file fails here
    except LockHeldError:
        return None
    except RebalanceError as exc:
        return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return None


def _health(ready: dict[str, Any], store: Path | None) -> dict[str, Any]:
    """/healthz's answer: "ok", or "degraded" with the history store's problem (the
    process still serves, and answers each command with how to recover)."""
    problem = _store_state(store) if store is not None else None
    if problem is None:
        return {"status": "ok", **ready}
    return {"status": "degraded", **ready, "history_store": problem}


def _wsgi(
    events: Callable[..., Iterable[bytes]],
    ready: dict[str, Any],
    logger: Logger,
    signed: Callable[[dict[str, Any]], str | None] | None = None,
    store: Path | None = None,
) -> Callable[..., Iterable[bytes]]:
    """The WSGI app: /healthz, then Bolt for /slack/events; logs every response.
    ``store``: the history store /healthz looks at.
    ``signed``: checks a POST's signature before Bolt sees it (Bolt reads the body
    first, and a body it cannot parse got a 500 and an error in the logs, signed or
    not); a request failing it gets 401, and its log line says why."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        started = time.perf_counter()
        status_seen: list[str] = []
        refused: str | None = None

        def spy(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            status_seen.append(status)
            return start_response(status, headers, *rest)

        if path == HEALTH_PATH and method in {"GET", "HEAD"}:
            return _json(start_response, "200 OK", _health(ready, store))
        if signed is not None and method == "POST":
            refused = signed(environ)
        if refused is not None:
            result: Iterable[bytes] = _json(
                spy, "401 Unauthorized", {"error": "invalid request signature"}
            )
        else:
            try:
                result = events(environ, spy)
            except Exception as exc:  # a signed body Bolt cannot parse (not Slack's)
                if status_seen:
                    raise
                from .bolt import NotSlackRequest

                why = str(exc) if isinstance(exc, NotSlackRequest) else type(exc).__name__
                logger.warning(
                    f"{method} {path}: a body that is not a Slack request ({why}); answered 400",
                    extra={"event": "http"},
                )
                result = _json(spy, "400 Bad Request", {"error": "not a Slack request body"})
        status = status_seen[0] if status_seen else "?"
        if path != HEALTH_PATH:
            level = logging.WARNING if status.startswith(("401", "403")) else logging.INFO
            # why a 401: every one read "-> 401 Unauthorized", a wrong secret, a clock
            # off by minutes and a missing header alike
            because = f" ({refused})" if refused else ""
            logger.log(
                level,
                f"{method} {path} -> {status}{because}",
                extra={
                    "reason": refused,
                    "event": "http",
                    "status": int(status.split()[0]) if status[:3].isdigit() else None,
                    "duration_ms": round((time.perf_counter() - started) * 1000),
                    "retry_num": environ.get("HTTP_X_SLACK_RETRY_NUM"),
                },
            )
        return result

    return app


def _json(start_response: Callable[..., Any], status: str, payload: Any) -> list[bytes]:
    """A JSON answer with its length."""
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class ListenError(ValueError):
    """The address given cannot be listened on (in use, not local): a usage error."""


def _check_token(client: Any) -> None:
    """auth.test before Bolt's own: a refused token is bad configuration (exit 3, no
    restart helps); Slack out of reach is a Slack failure (exit 5, a restart may)."""
    from rebalance.slack import FailureKind, SlackCallError

    try:
        client.auth_test()
    except SlackCallError as exc:
        if exc.kind is FailureKind.API:
            raise ConfigError(
                Issue(
                    f"Slack refused the bot token ({exc.error})",
                    key="SLACK_BOT_TOKEN (environment variable)",
                    valid="the Bot User OAuth Token (xoxb-...) of the app installed in the workspace",
                ),
                title="cannot start the Slack app",
            ) from None
        raise PublishError(
            f"cannot reach Slack at {client.base_url} to start the app: {exc.describe()}",
            hint="Check the network (and SLACK_API_URL if set); a supervisor may restart serve.",
            slack_error=exc.kind.value,
        ) from None


#: Slack's answers that say a token or the app's settings are wrong: a restart cannot help.
_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
        "socket_mode_not_enabled",
        "app_missing_action_url",
    }
)


def _start_failure(
    exc: BaseException, client: Any, *, what: str, key: str, valid: str
) -> Exception:
    """What a failure of Slack's while the app starts (Bolt's auth.test, Socket Mode's
    connection) becomes: exit 3 naming ``key`` when Slack refused the token or the app's
    settings (no restart helps), else exit 5, Slack out of reach or failing for now (a
    5xx, 429, timeout: the supervisor's restart may). It was always exit 3, "refused the
    bot token", so systemd's RestartPreventExitStatus=3 left the app down after a blip;
    and a refused app token was a traceback with exit 1."""
    from rebalance.slack import api_answer

    text = client.scrub(str(exc))[:300]
    answer = api_answer(exc)
    if answer is not None:
        error, status = answer
        if error in _REFUSED:
            return ConfigError(
                Issue(f"Slack refused {what} ({error})", key=key, valid=valid),
                title="cannot start the Slack app",
            )
        text = f"Slack answered {error or 'an error'} (HTTP {status})"
    return PublishError(
        f"Slack failed while the app started ({what}): {text}",
        hint="Slack is out of reach or failing for now; a supervisor's restart may help "
        "(systemd restarts on exit 5).",
        slack_error="start",
    )


#: The largest request body `serve` reads (Slack's are tens of KB).
MAX_BODY_BYTES = 1 << 20


def serve(
    config: Config,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    socket_mode: bool = False,
    threads: int = 8,
) -> int:
    """Run the app until SIGTERM or Ctrl-C; returns the exit code (0 on a clean stop).

    Raises `ConfigError` (exit 3) when a secret is missing or Slack rejects the token.
    """
    from rebalance.logs import RunLog

    from .approval import check_approval_channel
    from .bolt import build_app, start_socket_mode, wsgi_handler
    from .desk import Desk, slack_client

    check_approval_channel(config)  # not at the first re-plan behind approval
    logger = RunLog(logging.getLogger("rebalance.serve"), city=config.city.name)
    if socket_mode:
        secret = None
        app_token = _env_secret(
            ENV_APP_TOKEN,
            prefix="xapp-",
            valid="the app-level token (xapp-...) with connections:write, for --socket-mode",
        )
    else:
        app_token = None
        secret = _env_secret(
            ENV_SIGNING_SECRET,
            valid="the Signing Secret of the Slack app (Basic Information > App Credentials)",
        )
    try:
        client = slack_client(logger)
    except PublishError as exc:
        raise ConfigError(
            Issue(
                "not set",
                key="SLACK_BOT_TOKEN (environment variable)",
                valid="the Bot User OAuth Token (xoxb-...) of the app",
            ),
            title="cannot start the Slack app",
        ) from exc
    scrub = _Scrub([s for s in (secret, app_token, os.environ.get("SLACK_BOT_TOKEN")) if s])
    ours = logging.getLogger("rebalance").handlers
    for handler in ours:
        handler.addFilter(scrub)
    # The libraries' own warnings (waitress's queue depth, slack_sdk's webhook errors)
    # go out as JSON lines too, never as stray text on stderr.
    for name in ("waitress", "slack_sdk", "slack_bolt"):
        library = logging.getLogger(name)
        library.setLevel(logging.WARNING)
        library.propagate = False
        for handler in ours:
            if handler not in library.handlers:
                library.addHandler(handler)

    if config.slack.approval_channel and not config.slack.approvers:
        # it started as if all were well, and every plan then waited for an approval
        # nobody may give (each click refused)
        logger.warning(
            f"[slack] approval_channel is set ({config.slack.approval_channel}) but "
            "[slack] approvers is empty: every plan waits there for an approval nobody "
            "may give. Add the Slack user IDs of those who approve to [slack] approvers.",
            extra={"event": "no_approvers"},
        )
    _check_token(client)
    desk = Desk(config, logger=logger)
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rebalance-ack")
    work = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rebalance-work")
    # status and why only read: never queued behind re-plans (which run one at a time)
    reads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rebalance-read")
    lookup = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rebalance-lookup")

    def pools_down() -> None:  # the app did not start: nothing runs on them yet
        for pool in (executor, work, reads, lookup):
            pool.shutdown(wait=False)

    try:
        bolt = build_app(
            desk,
            client,
            signing_secret=secret,
            executor=executor,
            work=work,
            reads=reads,
            lookup=lookup,
            logger=logger,
        )
    except Exception as exc:  # Bolt's auth.test at start: a bad token or Slack unreachable
        pools_down()
        raise _start_failure(
            exc,
            client,
            what="the bot token",
            key="SLACK_BOT_TOKEN (environment variable)",
            valid="the Bot User OAuth Token (xoxb-...) of the app installed in the workspace",
        ) from None

    import waitress

    mode = "socket" if socket_mode else "http"
    ready: dict[str, Any] = {"mode": mode, "city": config.city.name}

    def not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    events = not_found if socket_mode else wsgi_handler(bolt)
    try:
        server: Any = waitress.create_server(
            _wsgi(
                events,
                ready,
                logger,
                _signed(secret) if secret else None,
                store=config.history_path,
            ),
            host=host,
            port=port,
            threads=threads,
            ident="rebalance",
            # Slack's requests are tens of KB (a click carries its message's blocks);
            # waitress's default (1 GB) let anyone who reaches the port make the app
            # buffer that much before the signature was checked. A larger body: 413.
            max_request_body_size=MAX_BODY_BYTES,
        )
    except OSError as exc:
        pools_down()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        socket_handler = start_socket_mode(bolt, app_token) if app_token else None
    except Exception as exc:  # apps.connections.open: the app token, or Slack's state
        server.close()
        pools_down()
        raise _start_failure(
            exc,
            client,
            what="the app-level token or the app's Socket Mode",
            key=f"{ENV_APP_TOKEN} (environment variable)",
            valid="the app-level token (xapp-...) with connections:write, and Socket Mode "
            "turned on in the app's settings",
        ) from None

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)  # waitress's loop stops on SystemExit and drains its tasks

    signal.signal(signal.SIGTERM, stop)
    actual = int(server.effective_port)
    logger.info(
        f"serving {config.city.name} on http://{host}:{actual} ({mode} mode)",
        extra={"event": "serve_ready", "host": host, "port": actual, "mode": mode},
    )
    code = 0
    try:
        server.run()
    except KeyboardInterrupt:
        code = 130
    finally:
        logger.info("stopping: finishing requests under way", extra={"event": "serve_stopping"})
        if socket_handler is not None:
            socket_handler.close()
        server.close()
        executor.shutdown(wait=True, cancel_futures=False)
        work.shutdown(wait=True, cancel_futures=False)  # re-plans and answers under way
        reads.shutdown(wait=True, cancel_futures=False)
        lookup.shutdown(wait=False, cancel_futures=True)  # no ack waits for them any more
        logger.info("stopped", extra={"event": "serve_stop", "outcome": "ok"})
        sys.stdout.flush()
    return code
