"""The Bolt for Python boundary: the only module that imports slack_bolt.

`build_app` makes the Bolt `App` of `rebalance serve`:

- `rebalance.app.server` verifies every HTTP request (HMAC-SHA256 of the body with
  the signing secret, timestamp within 5 minutes) and answers 401 otherwise, before
  anything below runs; `wsgi_handler` answers 400 to a body Slack never sends and
  hands Bolt the rest (`bolt_body`).
- `_once` (a global middleware, after verification) records each delivery's identity
  (a button click's ``action_ts``, a command's ``trigger_id``, an event's
  ``event_id``) in the history store: a replayed request or a Slack retry
  (``X-Slack-Retry-Num``) is acknowledged and logged, and nothing runs twice.
- Listeners ``ack()`` at once (within Slack's 3 seconds) and hand the work to a
  separate executor, so a queue of re-plans never keeps a listener thread (and so
  the next request's ack) waiting. The user hears back through ``respond`` (the
  ``response_url``), ephemerally. One thing is looked up before the ack: the id of
  ``/rebalance close|open`` (one file read, at most ``LOOKUP_SECONDS``), so that an
  unknown id gets its answer as the ack, not after an ack saying the change is under way.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest, BoltResponse, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler

from rebalance.errors import RebalanceError
from rebalance.slack import SlackClient

from .approval import ACTION_APPROVE, ACTION_HOLD
from .commands import USAGE, CommandError, parse
from .desk import LOOKUP_SECONDS, Desk, User
from .messages import code, esc

#: A logger, or one bound to the city (`rebalance.logs.RunLog`).
Logger = logging.Logger | logging.LoggerAdapter[Any]

__all__ = [
    "COMMAND",
    "EVENTS_PATH",
    "NotSlackRequest",
    "bolt_body",
    "build_app",
    "delivery_key",
    "payload_problem",
    "request_body",
    "wsgi_handler",
]

T = TypeVar("T")

COMMAND = "/rebalance"
EVENTS_PATH = "/slack/events"


class NotSlackRequest(ValueError):
    """A verified request whose body Slack would never send; ``str()`` says why."""


#: Fields of a Slack payload that are objects whenever Slack sends them: Bolt's
#: middleware and routing, and `delivery_key`, read into them.
_OBJECTS = ("user", "team", "channel", "container", "message", "enterprise", "event", "view")


def payload_problem(body: Any) -> str | None:
    """What makes a parsed request body something Slack never sends, or None: not an
    object, a field of `_OBJECTS` that is not an object, a button click whose
    ``actions`` are not a list of objects with an ``action_id``, a view submission
    without a view type, or an event whose ``metadata`` is not an object. Bolt's built-in middleware and routing, and
    `delivery_key`, indexed into those and raised: a 500 and a traceback in the logs."""
    if not isinstance(body, dict):
        return "not an object"
    for key in _OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"{key} is not an object"
    kind = body.get("type")
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "actions is not a list of actions"
        if not all(isinstance(action, dict) for action in actions):
            return "an action is not an object"
        # Bolt's routing reads each action's action_id (KeyError: a 500)
        if not all(isinstance(action.get("action_id"), str) for action in actions):
            return "an action has no action_id"
    if kind in {"view_submission", "view_closed"}:
        view = body.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("type"), str):
            return "view is not a view with a type"
    event = body.get("event")
    metadata = event.get("metadata") if isinstance(event, dict) else None
    if metadata is not None and not isinstance(metadata, dict):
        return "event.metadata is not an object"
    return None


def bolt_body(raw: bytes, content_type: str | None) -> bytes:
    """The body of a verified ``POST /slack/events`` as Bolt should get it; raises
    `NotSlackRequest` for one of a shape Slack never sends (`payload_problem`).

    A form that carries no ``payload`` field but has the letters "payload" anywhere (a
    slash command ``/rebalance why payload``, a user or channel of that name) was read
    by Bolt as a button click without its payload, an empty request: 404 "unhandled
    request", and Slack showed the user an error. Its "p" is sent percent-encoded
    instead (``%70``): the same form, field for field. Bodies Bolt cannot parse go to
    it as they are (`rebalance.app.server` answers 400 to what it raises)."""
    try:
        text = raw.decode("utf-8")
        if content_type == "application/json" or text.startswith("{"):
            body = json.loads(text)
            form = False
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            form = "payload" not in fields
            body = fields if form else json.loads(fields["payload"])
    except ValueError:
        return raw
    problem = payload_problem(body)
    if problem is not None:
        raise NotSlackRequest(problem)
    return raw.replace(b"payload", b"%70ayload") if form else raw


def delivery_key(body: dict[str, Any]) -> tuple[str, str] | None:
    """(key, kind) identifying one delivery, the same on a retry or a replay."""
    if body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        user = (body.get("user") or {}).get("id", "")
        return (
            f"action:{actions[0].get('action_ts', '')}:{user}:{actions[0].get('action_id', '')}",
            "action",
        )
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body['trigger_id']}", "command"
    if body.get("event_id"):
        return f"event:{body['event_id']}", "event"
    return None


class _ClientGiven(logging.Filter):
    """Drops Bolt's notice that ``SLACK_BOT_TOKEN`` goes unused because a client was
    given: we give ours (with the same token) on purpose, and the notice was a warning
    line without an event in every start's log, for journald alerting to catch."""

    def filter(self, record: logging.LogRecord) -> bool:
        from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

        return record.getMessage() != warning_client_prioritized_and_token_skipped()


#: How long a delivery's duplicate check waits for the history store: the request is
#: acknowledged after it, and Slack wants the ack within 3 s.
DELIVERY_WAIT_SECONDS = 1.0


class _Recent:
    """The delivery keys this process saw last (at most `SIZE`): the duplicate check
    when the history store is busy (Slack retries within a minute, to the same app)."""

    SIZE = 10_000

    def __init__(self) -> None:
        from collections import OrderedDict
        from threading import Lock

        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = Lock()

    def add(self, key: str) -> bool:
        """Remember ``key``; False when it was seen already."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            if len(self._keys) > self.SIZE:
                self._keys.popitem(last=False)
            return True


def build_app(
    desk: Desk,
    client: SlackClient,
    *,
    signing_secret: str | None,
    executor: Executor,
    work: Executor,
    reads: Executor,
    lookup: Executor,
    logger: Logger,
) -> App:
    """The Bolt app; ``signing_secret`` None: Socket Mode (no HTTP requests to verify).

    ``executor`` runs Bolt's listeners (they ack and return); ``work`` runs what comes
    after the ack and changes things (re-plans, publishing, decisions); ``reads`` the
    answers that only read (``status``, ``why``), never behind a queue of re-plans;
    ``lookup`` the quick look-ups an ack waits for (never behind a queue either)."""
    bolt_logger = logging.getLogger("rebalance.serve.bolt")
    bolt_logger.setLevel(logging.WARNING)  # Bolt logs payloads at debug level
    if not any(isinstance(f, _ClientGiven) for f in bolt_logger.filters):
        bolt_logger.addFilter(_ClientGiven())
    app = App(
        client=client.web_client(),
        signing_secret=signing_secret,
        # HTTP requests reach Bolt only through `wsgi_handler`, behind the server's own
        # check of the same signature (slack_sdk's, before anything reads the body), and
        # with a body Bolt may find re-encoded (`bolt_body`): no second check here.
        request_verification_enabled=False,
        logger=bolt_logger,
        listener_executor=executor,
        process_before_response=False,
    )

    def log(event: str, message: str, level: int = logging.INFO, **data: Any) -> None:
        logger.log(level, message, extra={"event": event, **data})

    seen = _Recent()

    @app.middleware
    def _once(request: BoltRequest, next: Callable[[], None]) -> BoltResponse | None:
        from rebalance.errors import LockHeldError

        body = request.body if isinstance(request.body, dict) else {}
        retry = _header(request, "x-slack-retry-num")
        found = delivery_key(body)
        if found is not None:
            key, kind = found
            new_here = seen.add(key)
            try:
                # bounded: the ack waits on this (3 s for Slack), and another process
                # may hold the store (a run writing); it waited 30 s, then answered 500
                with desk.store(timeout=DELIVERY_WAIT_SECONDS) as history:
                    # and this process's memory: a delivery handled while the store was
                    # busy is not in it, and Slack's retry may come once it is free
                    first = history.first_delivery(key, kind) and new_here
            except RebalanceError as exc:
                first = new_here  # this process's memory of recent deliveries
                # busy (another process writing) or unusable (corrupt, read-only): a
                # corrupt store was reported as one that "did not answer within 1 s"
                why = (
                    f"did not answer within {DELIVERY_WAIT_SECONDS:g} s"
                    if isinstance(exc, LockHeldError)
                    else "cannot be used"
                )
                log(
                    "duplicate_check",
                    f"the history store {why} ({str(exc).splitlines()[0]}); {kind} checked "
                    "against this process's recent deliveries only",
                    level=logging.WARNING,
                    kind=kind,
                )
            if not first:
                log(
                    "duplicate",
                    f"{kind} delivered again (X-Slack-Retry-Num {retry or 'none'}): "
                    "already handled, nothing done twice",
                    kind=kind,
                    retry_num=retry,
                )
                return BoltResponse(status=200, body="")
        next()
        return None

    def guarded(
        respond: Respond, task: Callable[[], str], pool: Executor = work, **where: Any
    ) -> None:
        """Queue work after the ack on ``pool``; the user hears the outcome, a bug is
        logged."""

        def job() -> None:
            try:
                text = task()
            except RebalanceError as exc:  # known (a corrupt store): not a bug of the app's
                text = _failure_reply(exc, logger, where)
            except Exception as exc:
                logger.exception("the app failed on a request", extra={"event": "error", **where})
                text = f":warning: Something went wrong in the app ({type(exc).__name__}); see its log."
            _respond(respond, text, logger)

        pool.submit(job)

    from rebalance.publish.limits import cut

    from .messages import MAX_REPLY_CHARS

    @app.command(COMMAND)
    def _command(ack: Callable[..., None], command: dict[str, Any], respond: Respond) -> None:
        user = User(
            str(command.get("user_id", "")),
            str(command.get("user_name", "")),
            str(command.get("team_id", "")),
        )
        text = str(command.get("text") or "")

        def answer(reply: str) -> None:
            # an ack with text is the reply; Slack refuses or truncates one past its limit
            # (an 8,497-character usage error repeated a 400-word argument in full)
            ack(text=cut(reply, MAX_REPLY_CHARS), response_type="ephemeral")

        try:
            cmd = parse(text)
        except CommandError as exc:
            answer(str(exc))
            log("command", "bad command", user_id=user.id, outcome="usage")
            return
        log("command", f"/rebalance {cmd.name}", user_id=user.id, command=cmd.name)
        if cmd.name == "help":
            answer(USAGE)
            return
        if cmd.acts and not desk.may_act(user):
            answer(desk.refusal(user))
            log("command", f"/rebalance {cmd.name} refused", user_id=user.id, outcome="refused")
            return
        if cmd.name == "status":
            ack()
            # on its own pool: behind five /rebalance plan it was answered 30 s later
            guarded(respond, lambda: desk.status(cmd.arg), reads, command="status")
        elif cmd.name == "why":
            ack()
            guarded(respond, lambda: desk.why(str(cmd.arg)), reads, command="why")
        elif cmd.name in {"close", "open"}:
            # An unknown id is answered in the ack itself, not after an ack that reads
            # as if the change were under way; the look-up waits at most LOOKUP_SECONDS.
            found = _within(
                lookup,
                lambda: desk.unknown_restaurant(str(cmd.arg), cmd.name),
                LOOKUP_SECONDS,
                logger,
            )
            if found is not _UNSURE and found is not None:
                answer(str(found))
                log(
                    "command",
                    f"/rebalance {cmd.name}: unknown restaurant id",
                    user_id=user.id,
                    outcome="unknown_id",
                )
                return
            verb = "Closing" if cmd.name == "close" else "Opening"
            arg = _code(cmd.arg)
            # whether it is already so is known after the ack (the shift's overrides):
            # "Opening R1 and re-planning" was followed by "already open; nothing to change"
            answer(
                f"{verb} `{arg}` for the shift, then re-planning it if that changes anything…"
                if found is None
                else f"Looking up `{arg}` among the city's restaurants; "
                f"{verb.lower()} it and re-planning the shift if it is one and that changes "
                "anything…"
            )
            status = "closed" if cmd.name == "close" else "open"
            guarded(respond, lambda: desk.change(str(cmd.arg), status, user), command=cmd.name)
        else:
            answer("Re-planning the shift…")
            guarded(respond, lambda: desk.replan(user, why="/rebalance plan"), command="plan")

    def _decision(decision: str) -> Callable[..., None]:
        def listener(ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
            ack()
            raw = body.get("user") or {}
            user = User(
                str(raw.get("id", "")),
                str(raw.get("username") or raw.get("name") or ""),
                str(raw.get("team_id", "")),
            )
            log("action", f"{decision} clicked", user_id=user.id, decision=decision)
            if not desk.may_act(user):
                log("action", f"{decision} refused", user_id=user.id, outcome="refused")
                _respond(respond, desk.refusal(user), logger)
                return
            action = (body.get("actions") or [{}])[0]
            value = str(action.get("value") or "")
            # which of the request's buttons: "Approve" decides an undecided plan only
            shown = action.get("text")
            button = str(shown.get("text") or "") if isinstance(shown, dict) else ""
            guarded(
                respond,
                lambda: desk.decide(decision, value, user, button=button),
                decision=decision,
            )

        return listener

    app.action(ACTION_APPROVE)(_decision("approve"))
    app.action(ACTION_HOLD)(_decision("hold"))

    # Registered after the app's own: a button this app does not know (another app's
    # action id, an older version's) got Bolt's 404, which Slack shows as a bare error,
    # and a log line without an event. It is answered and logged as an action.
    @app.action(re.compile(".*"))
    def _unknown_action(ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]
        user = str((body.get("user") or {}).get("id", ""))
        log("action", "unknown button clicked", user_id=user, outcome="unknown")
        _respond(
            respond,
            f"This button ({code(cut(str(action.get('action_id') or ''), 80))}) is not one of "
            "this app's; nothing was done.",
            logger,
        )

    @app.event("message_metadata_posted")
    def _metadata_posted(ack: Callable[..., None], event: dict[str, Any]) -> None:
        ack()
        meta = event.get("metadata") or {}
        log(
            "metadata",
            f"{meta.get('event_type')} posted in {event.get('channel_id')}",
            channel=event.get("channel_id"),
            event_type=meta.get("event_type"),
        )

    return app


def request_body(environ: dict[str, Any], body: bytes | None = None) -> bytes:
    """A WSGI request's body, read whole (``CONTENT_LENGTH`` bytes) and put back for the
    next reader; or ``body`` put in its place."""
    if body is None:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def wsgi_handler(app: App) -> Callable[..., Iterable[bytes]]:
    """Bolt's WSGI adapter for ``POST /slack/events``, for requests whose signature was
    checked (`rebalance.app.server`), their body first made what Bolt should get
    (`bolt_body`: raises `NotSlackRequest`)."""
    handler = SlackRequestHandler(app, path=EVENTS_PATH)

    def events(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            raw = request_body(environ)
            request_body(environ, bolt_body(raw, environ.get("CONTENT_TYPE")))
        return handler(environ, start_response)

    return events


def start_socket_mode(app: App, app_token: str) -> Any:
    """Connect over Socket Mode (returns the handler; ``close()`` it to stop)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token, logger=logging.getLogger("rebalance.serve.bolt"))
    handler.connect()
    return handler


#: What `_within` gives when the answer did not come in time (or the look-up failed).
_UNSURE = object()


def _within(pool: Executor, task: Callable[[], T], seconds: float, logger: Logger) -> T | object:
    """``task()`` run on ``pool``, or `_UNSURE` when it takes longer than ``seconds``
    (it goes on, unwaited) or fails (logged): an ack must not wait longer."""
    future = pool.submit(task)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        logger.warning(
            f"a look-up took over {seconds} s; the ack goes without it",
            extra={"event": "lookup"},
        )
    except RebalanceError as exc:  # a corrupt store: the work after the ack says so
        logger.warning(
            f"a look-up failed ({str(exc).splitlines()[0]}); the ack goes without it",
            extra={"event": "lookup", "error_type": type(exc).__name__},
        )
    except Exception:
        logger.exception("a look-up failed", extra={"event": "error"})
    return _UNSURE


def _failure_reply(exc: RebalanceError, logger: Logger, where: dict[str, Any]) -> str:
    """The reply to a request that failed in a known way (a `RebalanceError`: a corrupt
    or read-only history store, one locked too long): its message, which says how to
    recover (the store's file and the ``mv`` that does), escaped; logged as a warning
    without a traceback. It was ":warning: Something went wrong in the app
    (StorageError); see its log." and an error with a traceback, as if a bug."""
    lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    logger.warning(
        f"a request failed: {lines[0]}",
        extra={
            "event": "request_failed",
            "error_type": type(exc).__name__,
            "exit_code": exc.exit_code,
            **where,
        },
    )
    text = f":warning: The app could not do this: {esc(lines[0])}."
    return "\n".join([text, *(esc(line) for line in lines[1:])])


def _respond(respond: Respond, text: str, logger: Logger) -> None:
    from rebalance.publish.limits import cut

    from .messages import MAX_REPLY_CHARS

    try:
        respond(text=cut(text, MAX_REPLY_CHARS), response_type="ephemeral", replace_original=False)
    except Exception as exc:  # the response_url expired or Slack is down: log it
        logger.warning(
            "could not answer the user: %s", type(exc).__name__, extra={"event": "respond"}
        )


def _header(request: BoltRequest, name: str) -> str | None:
    values = request.headers.get(name) or []
    return str(values[0]) if values else None


def _code(value: object) -> str:
    return (
        str(value).replace("`", "'").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
