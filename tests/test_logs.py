"""Logging: JSON lines for machines, short lines for people, never a token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from rebalance.logs import FIELDS, LOGGER_NAME, RunLog, effective_format, redact, setup_logging


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    """Leave the rebalance logger as we found it."""
    logger = logging.getLogger(LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def test_auto_format_is_json_unless_stdout_is_a_terminal() -> None:
    """auto picks json for a pipe or file and text for a terminal; explicit wins."""
    assert effective_format("auto", io.StringIO()) == "json"
    assert effective_format("auto", _Tty()) == "text"
    assert effective_format("json", _Tty()) == "json"
    assert effective_format("text", io.StringIO()) == "text"
    with pytest.raises(ValueError, match="unknown log format"):
        effective_format("xml")


def test_json_lines_parse_and_carry_the_run_context() -> None:
    """Every JSON line parses and carries run_id, city, shift_start and the phase fields."""
    out = io.StringIO()
    assert setup_logging("json", stdout=out) == "json"
    log = RunLog(run_id="r-1", city="Paris", shift_start="2026-11-30T19:00:00+01:00")
    log.event("run_start", "run started", dry_run=False)
    with log.phase("plan") as info:
        log.info("inside the phase")
        info["message"] = "3 couriers to move"
        info["plan_id"] = "abc"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["run_start", None, "phase"]
    for line in lines:
        assert set(FIELDS) | {"ts", "level", "message"} <= set(line)
        assert line["run_id"] == "r-1" and line["city"] == "Paris"
    assert lines[1]["phase"] == "plan"  # lines logged inside a phase carry its name
    end = lines[2]
    assert end["phase"] == "plan" and end["outcome"] == "ok" and end["plan_id"] == "abc"
    assert end["message"] == "3 couriers to move" and isinstance(end["duration_ms"], int)
    assert log.timings["plan"] == end["duration_ms"]


def test_json_lines_write_a_city_s_bidi_override_as_an_escape() -> None:
    """A city named "Par\u202eis" put a raw U+202E in every JSON log line of `run` (the
    payloads line was escaped, the others not): it reversed the rest of the line on a
    terminal. Every line now writes it as \\u202e, and parses back to the name."""
    out = io.StringIO()
    setup_logging("json", stdout=out)
    log = RunLog(run_id="r-1", city="Par\u202eis", shift_start="2026-11-30T19:00:00+01:00")
    log.event("run_start", "run started for Par\u202eis")
    text = out.getvalue()
    assert "\u202e" not in text and "\\u202e" in text
    assert json.loads(text.splitlines()[0])["city"] == "Par\u202eis"


def test_failed_phase_logs_error_outcome_and_reraises() -> None:
    """A phase that raises logs outcome=error with its message, then the error goes on."""
    out = io.StringIO()
    setup_logging("json", stdout=out)
    log = RunLog(run_id="r-2")
    with pytest.raises(ValueError), log.phase("validate"):
        raise ValueError("zones.csv, line 3: bad lat")
    line = json.loads(out.getvalue().splitlines()[-1])
    assert line["outcome"] == "error" and line["phase"] == "validate"
    assert line["message"] == "zones.csv, line 3: bad lat" and line["error"] == "ValueError"


def test_text_mode_is_quiet_unless_verbose() -> None:
    """Text mode shows warnings only by default, phases with -v, and never run_end."""
    err = io.StringIO()
    assert setup_logging("text", stderr=err) == "text"
    log = RunLog(run_id="r-3")
    with log.phase("plan"):
        pass
    assert err.getvalue() == ""
    setup_logging("text", verbose=1, stderr=err)
    with log.phase("plan") as info:
        info["message"] = "3 couriers to move"
    log.event("run_end", "run r-3: done", outcome="succeeded")
    text = err.getvalue()
    assert "INFO" in text and "plan: 3 couriers to move (" in text
    assert "run_end" not in text and "done" not in text


def test_quiet_json_keeps_warnings_only() -> None:
    """--quiet in JSON mode drops INFO events and keeps warnings and errors."""
    out = io.StringIO()
    setup_logging("json", quiet=True, stdout=out)
    log = RunLog(run_id="r-4")
    log.event("phase", "fine", phase="plan")
    log.event("recovered", "run x crashed", level=logging.WARNING)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["recovered"]


def test_token_never_reaches_a_log_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SLACK_BOT_TOKEN value and anything shaped like a Slack token are redacted."""
    secret = "xoxb-1234-5678-SECRETsecret"
    monkeypatch.setenv("SLACK_BOT_TOKEN", secret)
    assert redact(f"auth with {secret} failed") == "auth with [redacted] failed"
    assert redact("xoxp-99-abc and xapp-1-A2") == "[redacted] and [redacted]"
    for fmt in ("json", "text"):
        out, err = io.StringIO(), io.StringIO()
        setup_logging(fmt, verbose=1, stdout=out, stderr=err)
        RunLog(run_id="r-5").event("phase", f"token {secret}", phase="publish", token=secret)
        assert secret not in out.getvalue() + err.getvalue()
        assert "[redacted]" in out.getvalue() + err.getvalue()


def test_setup_twice_replaces_the_handler() -> None:
    """Configuring again does not duplicate lines."""
    out = io.StringIO()
    setup_logging("json", stdout=out)
    setup_logging("json", stdout=out)
    RunLog(run_id="r-6").event("run_start")
    assert len(out.getvalue().splitlines()) == 1


class _FullForAWhile(io.StringIO):
    """A stream whose writes fail with "No space left on device" while ``full``."""

    full = False

    def write(self, text: str) -> int:
        if self.full:
            import errno

            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(text)


def test_a_disk_full_for_a_while_costs_its_lines_and_one_warning_then_logging_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`serve` logs for days: a disk full for a moment lost those lines and printed one
    warning (not a traceback per line), and once there is room again the lines come
    back; they stopped for good when the stream was pointed at /dev/null."""
    from rebalance.logs import output_failed

    stream = _FullForAWhile()
    setup_logging("json", stdout=stream)
    log = RunLog()
    log.event("a", "before")
    stream.full = True
    for i in range(3):
        log.event("b", f"while full {i}")
    stream.full = False
    log.event("c", "after")
    messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert messages == ["before", "after"]
    err = capsys.readouterr().err
    assert err.count("warning: log lines cannot be written") == 1 and "Traceback" not in err
    assert output_failed() is not None
    setup_logging("json", stdout=io.StringIO())  # a new handler: nothing failed yet
    assert output_failed() is None
