"""`rebalance run`: one unattended run, safe to start from cron or a systemd timer.

A run of one (city, shift) goes through these phases, each logged with its duration::

    lock      take the (city, shift) lock, or exit 6 naming the holder
    validate  read and check the data directory              (exit 3 on bad input)
    plan      solve the shift                                 (exit 4 if infeasible)
    write     write the plan, atomically, under the run folder
    publish   post or update the Slack message               (exit 5, plan kept)

Every run is a row in the history store, written at each phase, so a run that dies
(kill -9 included) leaves a row saying where it was. The next run of the same
(city, shift) holds the lock, so it knows such ``running`` rows are dead, marks them
``crashed``, and does the whole run again: the same inputs give the same plan, and
`publish` is idempotent (it updates or adopts the one Slack message of the shift),
so what was missed gets done without a duplicate message.

Plans are kept under ``<history folder>/runs/<slug>/<shift, city time>/<run id>/``
(``YYYYmmddTHHMM``), next to the history file and the lock files (``locks/``); see
`rebalance.paths`. The plan goes to Slack from memory: the folder is only written.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    PLAN_SAVED,
    ConfigError,
    Issue,
    LockHeldError,
    PublishError,
    RebalanceError,
    Terminated,
)
from .history import History, RunRecord, new_run_id, utc_now
from .lock import RunLock
from .logs import RunLog, redact
from .paths import lock_path, run_dir, run_dirs
from .views.history import summary_text
from .views.wording import kpi_headline

if TYPE_CHECKING:
    import pandas as pd

    from .config import Config
    from .plan import Plan
    from .publish import PublishResult, SlackApi
    from .replan import PreviousChoice

__all__ = ["RunResult", "Terminated", "run", "stop_on_sigterm"]


def stop_on_sigterm() -> None:
    """Turn SIGTERM into `Terminated`, so a stopped run records how it ended."""
    import signal

    from .errors import raise_terminated

    signal.signal(signal.SIGTERM, raise_terminated)


@dataclass(frozen=True)
class RunResult:
    """How a successful run ended: its history row, plan and publication."""

    record: RunRecord
    plan: Plan
    plan_dir: Path
    publish: PublishResult
    recovered: tuple[str, ...] = ()
    timings: dict[str, int] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """The run's id in the history."""
        return self.record.run_id


def run(
    config: Config,
    data_dir: str | Path | None = None,
    *,
    shift_start: pd.Timestamp | str | None = None,
    dry_run: bool = False,
    channel: str | None = None,
    log: RunLog | None = None,
    now: datetime | None = None,
    client: SlackApi | None = None,
    after_phase: Callable[[str], None] | None = None,
    lock_wait: float = 0.0,
) -> RunResult:
    """Validate, plan, write, publish and record one (city, shift); see the module doc.

    ``shift_start`` (a Timestamp, or ISO 8601 text; city time without an offset)
    defaults to ``now`` rounded down to the quarter hour in the city's timezone.
    ``client`` is the Slack client to publish with (default: from the environment);
    ``after_phase`` is called with each phase's name once it is done, the lock held
    (tests use it to hold the lock or stop a run at a known point). ``lock_wait``:
    seconds to wait for a shift's lock that another run holds (the Slack app's
    re-plans queue behind an approval or a cron run; a cron run never waits, 0).
    Raises the `RebalanceError` of the failure (exit codes 3 to 6) after recording it
    in the history; its notes name the run and, for exit 5, how to retry.
    """
    from .timeparse import floor_quarter_hour, parse_timestamp

    tz = config.city.timezone
    if shift_start is None:
        shift = floor_quarter_hour(now or datetime.now(UTC), tz)
    else:
        shift = parse_timestamp(shift_start, tz, require_time=True)
    shift_text = shift.tz_convert(tz).isoformat()
    city = config.city.name
    run_id = new_run_id()
    log = log or RunLog()
    log.bind(run_id=run_id, city=city, shift_start=shift_text)

    history = _open_history(config)
    try:
        one = _Run(config, history, log, run_id, shift, dry_run, client, after_phase, lock_wait)
        return one.execute(data_dir, channel)
    finally:
        history.close()


def _open_history(config: Config) -> History:
    try:
        return History(config.history_path)
    except RebalanceError:  # locked past the bounded wait, corrupt, read-only: said by History
        raise
    except Exception as exc:  # anything else: an unusable [history] path
        raise ConfigError(
            Issue(
                f"cannot open the history store {config.history_path}: {exc}",
                file=str(config.source) if config.source else None,
                key="history.path",
                valid="a writable file path (its folder is created if missing)",
            ),
            title="invalid configuration",
        ) from exc


#: Earlier runs' messages a run finishes or checks at most (`_Run._finish_older`).
_OLDER_PER_RUN = 3


class _Run:
    """One run's state; `execute` is the whole run."""

    def __init__(
        self,
        config: Config,
        history: History,
        log: RunLog,
        run_id: str,
        shift: pd.Timestamp,
        dry_run: bool,
        client: SlackApi | None = None,
        after_phase: Callable[[str], None] | None = None,
        lock_wait: float = 0.0,
    ):
        self.config = config
        self.lock_wait = lock_wait
        self.history = history
        self.log = log
        self.run_id = run_id
        self.shift = shift
        self._local_shift = shift.tz_convert(config.city.timezone)
        self.shift_text = self._local_shift.isoformat()
        self.city = config.city.name
        self.dry_run = dry_run
        self.client = client
        self.after_phase = after_phase
        self.phase = "start"
        self.extra: dict[str, Any] = {}
        self.started = time.perf_counter()

    # ------------------------------------------------------------------ flow
    def execute(self, data_dir: str | Path | None, channel: str | None) -> RunResult:
        local = self.shift.tz_convert(self.config.city.timezone)
        lock = RunLock(
            lock_path(self.history.path, self.city, self.shift, dry_run=self.dry_run),
            what=f"{self.city}, shift {local:%Y-%m-%d %H:%M %Z}"
            + (" (dry run)" if self.dry_run else ""),
            info={"run_id": self.run_id, "city": self.city, "shift_start": self.shift_text},
        )
        self.log.event("run_start", "run started", dry_run=self.dry_run)
        try:
            with self.log.phase("lock") as info:
                # ``lock_wait`` (the Slack app's re-plans) is said once, at info level:
                # each retry was a run of its own, a "skipped" row and an error line
                lock.acquire(
                    self.lock_wait,
                    lambda exc: self.log.event(
                        "lock_wait",
                        f"{str(exc).splitlines()[0]} Waiting up to {self.lock_wait:g} s.",
                    ),
                )
                info["message"] = f"holding {lock.path.name}"
        except LockHeldError as exc:
            self._record_skipped(exc)
            raise
        try:
            self._pause("lock")
            recovered = self._recover()
            self.extra.update(
                config=str(Path(self.config.source).absolute()) if self.config.source else None,
                data_dir=None if data_dir is None else str(Path(data_dir).absolute()),
                recovered=list(recovered),
                command=self._command(data_dir, channel),
            )
            self.history.start_run(
                self.city,
                self.shift_text,
                dry_run=self.dry_run,
                run_id=self.run_id,
                extra=self.extra,
            )
            try:
                result = self._phases(data_dir, channel, recovered)
            except BaseException as exc:
                self._record_failure(exc)
                raise
            return result
        finally:
            lock.release()

    def _phases(
        self, data_dir: str | Path | None, channel: str | None, recovered: tuple[str, ...]
    ) -> RunResult:
        from .inputs import load_tables
        from .pipeline import plan_shift, write_plan

        with self._phase("validate") as info:
            folder = self._data_dir(data_dir)
            if not self.dry_run:  # a missing channel fails now, not after writing a plan
                from .app.approval import check_approval_channel
                from .publish.protocol import target_channel

                target_channel(self.config, channel)
                check_approval_channel(self.config)
            self.extra["data_dir"] = str(folder.absolute())
            inputs = load_tables(folder, self.config, per_table=False)  # planned as read
            from .overrides import apply_stored_overrides  # [slack app, #18]

            inputs = apply_stored_overrides(  # [slack app, #18] overrides made from Slack
                inputs, self.config, self.shift, history=self.history, log=self._override_log
            )
            self.history.update_run(self.run_id, inputs_sha256=inputs.sha256, extra=self.extra)
            info["message"] = f"valid input in {folder}"
            info["inputs_sha256"] = inputs.sha256

        with self._phase("plan") as info:
            previous = self._previous(inputs, channel)
            plan = plan_shift(inputs, self.config, self.shift, previous=previous, verify=False)
            self.extra.update(
                plan_status=plan.status,
                objective=plan.objective,
                solve_seconds=plan.solve_seconds,
                shift_end=plan.local(plan.shift_end).isoformat(),
            )
            if previous is not None and plan.message:
                self.extra["previous"]["plan_note"] = plan.message
            self.history.update_run(
                self.run_id, plan_id=plan.plan_id, kpis=plan.kpis, extra=self.extra
            )
            info["message"] = f"{plan.status}: {kpi_headline(plan.kpis)}"
            info["plan_id"] = plan.plan_id
        self._warn_eligibility(inputs, plan)

        with self._phase("write") as info:
            target = run_dir(self.history.path, self.city, self._local_shift, self.run_id)
            write_plan(plan, target, overwrite=False)
            self.history.update_run(self.run_id, plan_dir=str(target))
            info["message"] = f"plan written to {target}"
            info["plan_dir"] = str(target)

        with self._phase("publish") as info:
            # [slack app, #18] publish, or with [slack] approval_channel ask for approval
            from .app.approval import publish_or_request_approval

            if self.config.slack.approval_channel:
                # recorded first: a request that fails (exit 5, plan kept) is still a
                # plan nobody approved, never one re-plans count as given to couriers
                self.extra["approval_channel"] = self.config.slack.approval_channel
                self.history.update_run(self.run_id, extra=self.extra)

            published = publish_or_request_approval(
                plan,
                plan_dir=target,  # [slack app, #18] an approved plan is published from here
                config=self.config,
                channel=channel,
                dry_run=self.dry_run,
                history=self.history,
                client=self.client,
                run_id=self.run_id,  # [slack app, #18]
                log=self._slack_log,
                # the plan the message shows, found from a run folder (the store moved
                # aside): a revision then itemises what changed, as with a record
                shown=previous if self.extra["previous"].get("found_in") == "slack" else None,
            )
            self.extra.update(
                publish_action=published.action,
                plan_key=published.plan_key,
                content_hash=published.content_hash,
                thread_replies=published.thread_replies,
            )
            self.history.update_run(
                self.run_id,
                slack_channel=published.channel,
                slack_ts=published.ts,
                extra=self.extra,
            )
            where = f" {published.channel}" if published.channel else ""
            ts = f" (ts {published.ts})" if published.ts else ""
            info["message"] = f"{published.action}{where}{ts}"
            info.update(action=published.action, channel=published.channel, ts=published.ts)
            if published.channel and not self.dry_run and not self.config.slack.approval_channel:
                self._finish_older(published.channel, published.plan_key)

        self.extra["timings_ms"] = dict(self.log.timings)
        record = self.history.finish_run(
            self.run_id, status="succeeded", exit_code=0, phase="done", extra=self.extra
        )
        self.log.event(
            "run_end",
            summary_text(record),
            duration_ms=self._elapsed_ms(),
            outcome="succeeded",
            exit_code=0,
            plan_dir=str(target),
            action=published.action,
        )
        return RunResult(
            record=record,
            plan=plan,
            plan_dir=target,
            publish=published,
            recovered=recovered,
            timings=dict(self.log.timings),
        )

    # --------------------------------------------------------------- helpers
    def _previous(self, inputs: Any, channel: str | None) -> Plan | None:
        """The plan to re-plan against (CONTRACT section 9), found in the history, or,
        when the history has none, from the channel's message (`_shown_previous`); the
        choice, or why there is none, is logged and kept in the run's row."""
        import pandas as pd

        from .replan import find_previous

        end = self.shift + self.config.shift.length
        zone_ids = pd.Index(inputs.zones["zone_id"])
        choice = find_previous(
            self.history, self.config, self.shift, end, zone_ids, exclude=self.run_id
        )
        if choice.plan is None and choice.run_id is None and not self.dry_run:
            choice = self._shown_previous(end, zone_ids, channel) or choice
        self.extra["previous"] = choice.record()
        unusable = choice.plan is None and (choice.run_id is not None or choice.warning)
        self.log.event(
            "previous",
            choice.note,
            level=logging.WARNING if unusable else logging.INFO,
            previous_run_id=choice.run_id,
            previous_plan_dir=choice.plan_dir,
        )
        return choice.plan

    def _shown_previous(
        self, end: pd.Timestamp, zone_ids: pd.Index, channel: str | None
    ) -> PreviousChoice | None:
        """The plan in force found from the channel when the history store knows none
        (moved aside when it was corrupt: the plans published were no longer known, and
        the next run of a shift under way planned it afresh, couriers on their way sent
        again): the run folder holding the plan the shift's message shows
        (`rebalance.replan.find_shown`). Only with a Slack client (a token); the client
        is kept for the publish phase. Never fails the run: a Slack failure or a bug
        here is a note, and the run plans from scratch."""
        from .publish.protocol import find_parents, joining, target_channel
        from .replan import PreviousChoice, find_shown

        try:
            client = self._slack_client()
            if client is None:
                return None
            target = target_channel(self.config, channel)  # the channel couriers read
            return find_shown(
                self.history,
                self.config,
                self.shift,
                end,
                zone_ids,
                lambda keys, oldest: find_parents(
                    client, target, keys, oldest=oldest, call=joining(client, target)
                ),
                target,
            )
        except Exception as exc:  # best effort: the run plans as it did without it
            self.log.event(
                "previous_lookup",
                f"could not look for the plan in force in the run folders: "
                f"{type(exc).__name__}: {exc}",
                level=logging.ERROR,
            )
            return PreviousChoice(
                None,
                f"no earlier plan of {self.city} overlaps this shift in the history store, and "
                f"the run folders could not be looked through ({type(exc).__name__}): "
                "planning from scratch",
                warning=True,
            )

    def _slack_client(self) -> SlackApi | None:
        """The run's Slack client: the one given, else one from the environment when
        its token is set (None without: publishing says so, exit 5)."""
        if self.client is None:
            from .slack import ENV_TOKEN, SlackClient

            if not os.environ.get(ENV_TOKEN, "").strip():
                return None
            self.client = SlackClient.from_env(log=self._slack_log)
        return self.client

    @contextmanager
    def _phase(self, name: str) -> Iterator[dict[str, Any]]:
        self.phase = name
        self.history.update_run(self.run_id, phase=name)
        with self.log.phase(name) as info:
            yield info
        self._pause(name)

    def _warn_eligibility(self, inputs: Any, plan: Plan) -> None:
        """Nobody (or mostly nobody) eligible is a warning in the log, never silence."""
        from .eligibility import plan_warnings

        for warning in plan_warnings(inputs.couriers, plan, self.config, inputs.demand):
            self.log.event("eligibility", warning, level=logging.WARNING)

    def _override_log(self, message: str) -> None:  # [slack app, #18]
        self.log.event("overrides", message)

    def _finish_older(self, channel: str, key: str) -> None:
        """Finish what an earlier run of another shift left in ``channel``: a thread it
        did not complete (killed while it wrote it), or a parent to look at once more for
        a copy Slack stored late. Its own shift's next run would do it, but under a
        crontab where each run is a later shift none comes (an audit: the killed run's
        files never uploaded, a late copy never removed). Its plan is published again
        from its run folder, under its shift's lock taken without waiting (held: a run
        of that shift is at it). Best effort: what fails is logged, this run stands."""
        from .errors import RebalanceError

        waiting = [
            pub
            for pub in self.history.publications(channel=channel, city=self.city, limit=20)
            if pub.plan_key != key
            and (
                not (pub.snapshot.get("thread") or {}).get("complete")
                or pub.snapshot.get("verify_parent")
            )
        ]
        if not waiting:
            return
        # the plan folder of the run that wrote each (one published by `rebalance
        # publish` has none: its own next publication looks)
        folders = {
            r.plan_id: r.plan_dir
            for r in reversed(self.history.runs(city=self.city, limit=200))
            if r.plan_id and r.plan_dir and not r.dry_run
        }
        # each is looked at once (then recorded as complete and checked): the newest
        # few a run, so a store of older ones drains without a burst of Slack calls
        found = [(pub, folders[pub.plan_id]) for pub in waiting if pub.plan_id in folders]
        for pub, folder in found[:_OLDER_PER_RUN]:
            try:
                self._finish_one(pub, folder, channel)
            except Exception as exc:  # best effort: this run's own plan is published
                known = isinstance(exc, RebalanceError | OSError)
                self.log.event(
                    "finished_older",
                    f"{pub.plan_key}: could not finish an earlier run's message: "
                    + (str(exc) if known else f"{type(exc).__name__}: {exc}"),
                    level=logging.WARNING if known else logging.ERROR,
                    plan_key=pub.plan_key,
                )

    def _finish_one(self, pub: Any, folder: str, channel: str) -> None:
        """`_finish_older` for one earlier message: its plan published again."""
        import pandas as pd

        from .errors import LockHeldError
        from .plan import read_plan
        from .publish import publish

        older = read_plan(folder)
        begun = pd.Timestamp(pub.shift_start)
        lock = RunLock(lock_path(self.history.path, self.city, begun), what=pub.plan_key)
        try:
            lock.acquire()
        except LockHeldError:
            return  # a run of that shift is at it
        try:
            done = publish(
                older,
                config=self.config,
                channel=channel,
                history=self.history,
                client=self.client,
                log=self._slack_log,
                shown_only=True,  # not the version the message shows: never put it back
            )
        finally:
            lock.release()
        if done.action == "not shown":
            return
        self.log.event(
            "finished_older",
            f"{pub.plan_key}: an earlier run's message in {channel} looked at again "
            f"({done.action})",
            plan_key=pub.plan_key,
            action=done.action,
        )

    def _slack_log(self, message: str) -> None:
        """What publish reports (posted, adopted, retried ...), as events of the publish phase."""
        self.log.event("slack", message.removeprefix("publish: "))

    def _data_dir(self, data_dir: str | Path | None) -> Path:
        if data_dir is not None:
            return Path(data_dir)
        if self.config.data_dir is not None:
            return self.config.data_dir
        source = str(self.config.source) if self.config.source else None
        raise ConfigError(
            Issue(
                "no data directory: give DATA_DIR on the command line or set it in the config",
                file=source,
                key="data.dir",
                valid='e.g. [data] dir = "/srv/rebalance/paris" (relative to the config file)',
            ),
            title="invalid configuration",
        )

    def _recover(self) -> tuple[str, ...]:
        """Mark runs that died without recording an end as crashed; return their ids.

        Rows of this (city, shift) are certainly dead: we hold their lock. Other rows
        are marked only when their process is gone from this host.
        """
        dead: list[RunRecord] = []
        for record in self.history.running():
            same = (
                record.city == self.city
                and record.shift_start == self.shift_text
                and record.dry_run == self.dry_run
            )
            if same or (record.host == socket.gethostname() and not _alive(record.pid)):
                dead.append(record)
        recovered: list[str] = []
        for record in dead:
            note = (
                f"the run stopped during phase {record.phase} without recording an end "
                f"(pid {record.pid} on {record.host} was killed or crashed); "
                f"found by run {self.run_id} at {utc_now()}"
            )
            for changed in self.history.mark_crashed([record.run_id], note=note):
                self._remove_temporary_copies(changed)
                same_shift = changed.city == self.city and changed.shift_start == self.shift_text
                if same_shift:
                    recovered.append(changed.run_id)
                self.log.event(
                    "recovered",
                    f"run {changed.run_id} crashed during phase {changed.phase}"
                    + ("; this run completes it" if same_shift else ""),
                    level=logging.WARNING,
                    crashed_run_id=changed.run_id,
                    crashed_phase=changed.phase,
                )
        return tuple(recovered)

    def _remove_temporary_copies(self, crashed: RunRecord) -> None:
        """The half-written plan folder copies of a run found crashed (killed while it
        wrote its plan): each run writes a folder of its own, so no later run's write
        would ever sweep them."""
        from .plan import remove_temporary_copies

        try:
            local = datetime.fromisoformat(crashed.shift_start)
        except ValueError:  # a row written by hand: nothing to sweep
            return
        for folder in run_dirs(self.history.path, crashed.city, local, crashed.run_id):
            try:
                remove_temporary_copies(folder)
            except OSError:  # not there (the other release's folder), or unreadable
                continue

    def _record_skipped(self, exc: LockHeldError) -> None:
        message = redact(str(exc))
        try:
            self.history.start_run(
                self.city,
                self.shift_text,
                dry_run=self.dry_run,
                run_id=self.run_id,
                status="skipped",
                exit_code=exc.exit_code,
                ended_at=utc_now(),
                phase="lock",
                error=message,
                extra={"holder": None if exc.holder is None else vars(exc.holder)},
            )
        except Exception as db_exc:  # the lock message matters more than this row
            self.log.warning("could not record the skipped run: %s", db_exc)
        self.log.event(
            "run_end",
            message.splitlines()[0],
            level=logging.ERROR,
            duration_ms=self._elapsed_ms(),
            outcome="skipped",
            exit_code=exc.exit_code,
        )
        exc.add_note(f"run {self.run_id} recorded as skipped")

    def _record_failure(self, exc: BaseException) -> None:
        code = _exit_code(exc)
        message = redact(str(exc)) or type(exc).__name__
        if not isinstance(exc, RebalanceError):
            message = f"{type(exc).__name__}: {message}"
        if isinstance(exc, PublishError):
            retry = self._retry_command()
            # Slack's refusals say already that the plan is saved (their hint): once is enough
            saved = "" if exc.hint.startswith(PLAN_SAVED) else f"{PLAN_SAVED} "
            message += f"\n{saved}To retry, run the same shift again: {retry}"
            exc.add_note(f"To retry, run the same shift again: {retry}")
        elif isinstance(exc, ConfigError) and any(p.key == "slack.channel" for p in exc.problems):
            retry = f"{self._retry_command()} --channel CHANNEL_ID"
            where = (
                f" (or set [slack] channel in {self.config.source})" if self.config.source else ""
            )
            message += f"\nTo retry, name the channel: {retry}{where}"
            exc.add_note(f"To retry, name the channel: {retry}{where}")
        self.extra["timings_ms"] = dict(self.log.timings)
        try:
            self.history.finish_run(
                self.run_id,
                status="failed",
                exit_code=code,
                phase=self.phase,
                error=message,
                extra=self.extra,
            )
        except Exception as db_exc:  # keep the original error; the row stays 'running'
            self.log.warning("could not record the failed run: %s", db_exc)
        self.log.event(
            "run_end",
            message.splitlines()[0],
            level=logging.ERROR,
            phase=self.phase,
            duration_ms=self._elapsed_ms(),
            outcome="failed",
            exit_code=code,
            error=message,
        )
        exc.add_note(f"run {self.run_id} (rebalance history show {self.run_id})")

    def _command(self, data_dir: str | Path | None, channel: str | None) -> str:
        args = ["rebalance", "run"]
        if self.config.source is not None:
            args += ["--config", str(Path(self.config.source).absolute())]
        if data_dir is not None:
            args.append(str(Path(data_dir).absolute()))
        args += ["--shift-start", self.shift_text]
        if channel:
            args += ["--channel", channel]
        if self.dry_run:
            args.append("--dry-run")
        return shlex.join(args)

    def _retry_command(self) -> str:
        return str(
            self.extra.get("command") or "rebalance run ... --shift-start " + self.shift_text
        )

    def _elapsed_ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)

    def _pause(self, phase: str) -> None:
        if self.after_phase is not None:
            self.after_phase(phase)


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, RebalanceError):
        return exc.exit_code
    if isinstance(exc, Terminated):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    return 1


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True  # unknown: do not declare it dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
