"""Logging for unattended runs: human lines on a terminal, JSON lines for machines.

One event per line. In JSON mode every line is an object with ``ts``, ``level``,
``run_id``, ``city``, ``shift_start``, ``phase``, ``event``, ``duration_ms``,
``outcome`` and ``message`` (plus event-specific fields), written to stdout so that
``rebalance run ... | jq`` and journald see them. Text mode writes short lines to
stderr and stays quiet unless asked (``-v``), since a terminal user gets a summary.

Secrets never reach a log line: every formatted line goes through `redact`, which
removes the Slack token (the value of ``SLACK_BOT_TOKEN`` and anything shaped like a
Slack token).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from .escape import json_dumps, visible

__all__ = [
    "LOGGER_NAME",
    "JsonFormatter",
    "RunLog",
    "TextFormatter",
    "effective_format",
    "output_failed",
    "output_target",
    "reader_gone",
    "redact",
    "setup_logging",
    "stdout_named",
    "to_devnull",
]

LOGGER_NAME = "rebalance"
#: The fields every JSON line carries (null when not applicable), in this order.
FIELDS = ("run_id", "city", "shift_start", "phase", "event", "duration_ms", "outcome")
_SLACK_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

LogFormat = Literal["auto", "text", "json"]


#: Set when the reader of the JSON log lines went away (``rebalance run | head``).
_READER_GONE = False


def reader_gone() -> bool:
    """Whether the reader of stdout stopped early while JSON log lines went to it: the
    command then ends with 141, as `cat` would in a shell."""
    return _READER_GONE


#: Errors writing an output stream that are the machine's, not a bug: a full disk or
#: quota, a file grown past its limit, an I/O error (a terminal that hung up).
_STREAM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})

#: The error that stopped the JSON lines going to stdout, and where stdout went then.
_OUTPUT_FAILED: tuple[OSError, str] | None = None


def output_failed() -> tuple[OSError, str] | None:
    """The error (a full disk) that stopped the JSON log lines reaching stdout, and
    where stdout went (`output_target`), or None: the command ends with exit 1 and
    says so, once its work is done."""
    return _OUTPUT_FAILED


def output_target(stream: TextIO) -> str:
    """Where ``stream`` goes, to name in a message: its path on Linux (``> /var/log/
    x.log`` names the disk to free), else nothing."""
    try:
        target = os.readlink(f"/proc/self/fd/{stream.fileno()}")
    except (OSError, ValueError):
        return ""
    return target if target.startswith("/") and target != os.devnull else ""


def stdout_named(target: str) -> str:
    """Standard output as a message names it: ``standard output (/var/log/x.log)``, or
    without the path when `output_target` found none."""
    return f"standard output ({target})" if target else "standard output"


class _LinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The JSON lines on stdout. When their reader goes away (a pipe into ``head``),
    stdout is pointed at /dev/null and the run goes on. When a line cannot be written
    (stdout on a full disk), that is said once on stderr, and the lines after are tried
    as they come (a disk freed lets `serve` log again): the logging module printed a
    "--- Logging error ---" traceback on stderr for every line (a cron run on a full
    disk: 8 tracebacks, 100 lines each)."""

    def handleError(self, record: logging.LogRecord) -> None:
        global _READER_GONE, _OUTPUT_FAILED
        exc = sys.exc_info()[1]
        if isinstance(exc, BrokenPipeError):
            _READER_GONE = True
            to_devnull(self.stream)
        elif isinstance(exc, OSError) and exc.errno in _STREAM_ERRNOS:
            if _OUTPUT_FAILED is not None:
                return  # said already
            where = output_target(self.stream)
            _OUTPUT_FAILED = exc, where
            try:
                sys.stderr.write(
                    f"warning: log lines cannot be written to {visible(stdout_named(where))}: "
                    f"{exc.strerror}; going on, and trying each line again\n"
                )
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        else:
            super().handleError(record)


def to_devnull(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null, so that nothing more is written to
    a closed pipe (not even the flush at exit): the way the Python documentation gives
    for SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind it (a test's capture)
        pass


def redact(text: str) -> str:
    """``text`` with any Slack token replaced by ``[redacted]``."""
    token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    if len(token) >= 8:  # a short value would blank out ordinary words
        text = text.replace(token, "[redacted]")
    return _SLACK_TOKEN.sub("[redacted]", text)


def effective_format(fmt: str = "auto", stdout: TextIO | None = None) -> Literal["text", "json"]:
    """``text`` or ``json``: ``auto`` means JSON unless stdout is a terminal."""
    if fmt == "text":
        return "text"
    if fmt == "json":
        return "json"
    if fmt != "auto":
        raise ValueError(f"unknown log format {fmt!r}; use auto, text or json")
    stream = stdout if stdout is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields of the record are kept."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        data: dict[str, Any] = {"ts": ts, "level": record.levelname.lower()}
        for name in FIELDS:
            data[name] = getattr(record, name, None)
        data["message"] = record.getMessage()
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in data and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        # a city or partner name's bidi override stays \u escaped on a terminal too
        return redact(json_dumps(data, default=str))


class TextFormatter(logging.Formatter):
    """``18:00:01 INFO  plan: 181 couriers moved (812 ms)``: a line for people."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one short line."""
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        phase = getattr(record, "phase", None)
        event = getattr(record, "event", None)
        head = phase or event or record.name
        text = record.getMessage()
        outcome = getattr(record, "outcome", None)
        if outcome and outcome != "ok" and outcome not in text:
            text = f"{outcome}: {text}" if text else str(outcome)
        duration = getattr(record, "duration_ms", None)
        if duration is not None:
            text += f" ({_duration(duration)})"
        line = f"{clock} {record.levelname:<7} {head}: {text}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        # Messages quote names from the data: no escape sequence reaches the terminal.
        return visible(redact(line))


class _NoRunEnd(logging.Filter):
    """Text mode: the command prints its own summary or error, not the run_end event."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "event", None) != "run_end"


def setup_logging(
    fmt: str = "auto",
    *,
    verbose: int = 0,
    quiet: bool = False,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> Literal["text", "json"]:
    """Send rebalance's log events to the terminal or as JSON lines; returns the format.

    JSON (stdout): phase events at INFO, DEBUG with ``-v``. Text (stderr): warnings and
    errors only, INFO with ``-v``, DEBUG with ``-vv``. ``quiet``: warnings and errors only.
    Calling it again replaces the handler it installed before.
    """
    global _READER_GONE, _OUTPUT_FAILED
    _READER_GONE, _OUTPUT_FAILED = False, None  # this handler's stream: nothing failed yet
    out = stdout if stdout is not None else sys.stdout
    kind = effective_format(fmt, out)
    handler: logging.StreamHandler[TextIO]
    if kind == "json":
        handler = _LinesHandler(out)
        handler.setFormatter(JsonFormatter())
        level = logging.DEBUG if verbose else logging.INFO
    else:
        handler = logging.StreamHandler(stderr if stderr is not None else sys.stderr)
        handler.setFormatter(TextFormatter())
        handler.addFilter(_NoRunEnd())
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    if quiet:
        level = logging.WARNING
    handler.set_name("rebalance-cli")
    logger = logging.getLogger(LOGGER_NAME)
    for old in list(logger.handlers):
        if old.get_name() == "rebalance-cli":
            logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    # Our lines are complete; a root handler (pytest, an embedding app) need not repeat them.
    logger.propagate = False
    return kind


class RunLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger bound to one run: every event carries run_id, city and shift_start.

    ``timings`` collects each phase's duration in milliseconds, for the history.
    """

    def __init__(self, logger: logging.Logger | None = None, **context: Any):
        super().__init__(logger or logging.getLogger(LOGGER_NAME), dict(context))
        self.timings: dict[str, int] = {}

    def bind(self, **context: Any) -> None:
        """Add or change context fields (e.g. the run id once it is known)."""
        assert isinstance(self.extra, dict)
        self.extra.update(context)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        """Merge the bound context under the call's own ``extra`` fields."""
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs

    def event(
        self,
        event: str,
        message: str = "",
        *,
        level: int = logging.INFO,
        phase: str | None = None,
        duration_ms: int | None = None,
        outcome: str | None = None,
        **data: Any,
    ) -> None:
        """Log one structured event; ``data`` become extra JSON fields."""
        fields = {"event": event, "duration_ms": duration_ms, "outcome": outcome}
        if phase is not None:  # else the phase being run, if any (see `phase`)
            fields["phase"] = phase
        clash = set(data) & _RESERVED
        if clash:
            raise ValueError(f"reserved log field names {sorted(clash)}")
        self.log(level, message, extra={**fields, **data})

    @contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        """Time a phase and log its end (``outcome`` ok or error) with its duration.

        The body may put ``message`` and other fields in the yielded dict; they go
        into the phase's log line.
        """
        info: dict[str, Any] = {}
        self.event("phase_start", f"{name} started", level=logging.DEBUG, phase=name)
        start = time.perf_counter()
        outer = self.extra.get("phase") if isinstance(self.extra, dict) else None
        # Lines logged inside the phase (by publish, say) carry its name too.
        self.bind(phase=name)
        try:
            yield info
        except BaseException as exc:
            self.bind(phase=outer)
            ms = self.timings[name] = round((time.perf_counter() - start) * 1000)
            # INFO, not ERROR: the run_end event and the command report the error once.
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.event(
                "phase",
                message,
                phase=name,
                duration_ms=ms,
                outcome="error",
                error=type(exc).__name__,
            )
            raise
        self.bind(phase=outer)
        ms = self.timings[name] = round((time.perf_counter() - start) * 1000)
        message = str(info.pop("message", "done"))
        self.event("phase", message, phase=name, duration_ms=ms, outcome="ok", **info)


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
