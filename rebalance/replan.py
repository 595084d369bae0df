"""Re-planning against the plan already published (CONTRACT section 9).

What a previous plan says about each courier *now* (at the new ``shift_start``):

- on its way: its latest previous move that started before now; it counts at that
  move's ``to_zone``, whatever couriers.csv says;
- its instruction now: where the previous plan has it after every move that starts at
  or before now. A courier the previous plan never moved was told to stay where it is,
  so its instruction is its current zone. Keeping the instruction costs nothing; a
  different slot-0 destination costs ``[costs] change_minutes``;
- its moves from now on (`PreviousPositions.ahead`): not charged, but kept, courier for
  courier, when the previous course costs no more than the re-plan's optimum
  (`rebalance.optimize._keep_previous_course`), and otherwise named the same where the
  re-plan makes the same move (`rebalance.optimize._name_moves`).

Previous moves of couriers that no longer exist are dropped and counted, never a crash.
A previous plan of another city or another data set (zones it names that these inputs
do not have) is refused with a message naming what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InputError, Issue

if TYPE_CHECKING:
    from .config import Config
    from .history import History, RunRecord
    from .plan import Plan

__all__ = [
    "PreviousChoice",
    "PreviousPositions",
    "check_overlap",
    "check_previous",
    "find_previous",
    "find_shown",
    "mark_since_previous",
    "previous_positions",
    "read_plan_folder",
]


@dataclass(frozen=True)
class PreviousPositions:
    """Entry zone and instruction (zone index, -1 = none) of each present courier; the
    moves the couriers on their way count by (`Plan.under_way` of the new plan)."""

    zone_idx: np.ndarray
    prev_idx: np.ndarray
    on_the_way: int
    note: str
    under_way: list[dict[str, str]]
    #: Couriers whose move due at this start (not begun) ends where couriers.csv now has
    #: them: the instruction is carried out, nothing to move (`Plan.arrived`).
    arrived: list[str] = field(default_factory=list)
    #: The previous plan's moves from this start on, as (row of ``present``, zone index
    #: of its to_zone, start in UTC ns): the re-plan names the same couriers for the
    #: same moves where it can (`rebalance.optimize._name_moves`).
    ahead: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def check_previous(previous: Plan, config: Config, zone_ids: pd.Index, where: str = "") -> None:
    """Refuse a previous plan of another city or another data set (exit 3)."""
    label = where or "the previous plan"

    def refuse(message: str, file: str, column: str, valid: str) -> InputError:
        return InputError(
            Issue(
                message,
                file=f"{where}/{file}" if where else None,
                column=column,
                valid=valid,
            ),
            title="invalid previous plan",
        )

    if previous.city != config.city.name:
        raise refuse(
            f"{label} is for {previous.city!r}, not {config.city.name!r}",
            "plan.json",
            "city",
            f"a plan of {config.city.name!r} (the [city] name of this configuration)",
        )
    ours = set(zone_ids.astype(str))

    def shown(ids: list[str]) -> str:
        return ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")

    named = set(previous.zones["zone_id"].astype(str)) if len(previous.zones) else set()
    unknown = sorted(named - ours)
    if unknown:
        raise refuse(
            f"{label} comes from another data set: {len(unknown)} of its zones are not in "
            f"these inputs ({shown(unknown)})",
            "zones.csv",
            "zone_id",
            "a plan made from the same city's zones",
        )
    moves = previous.moves
    # the distinct zones first: iterating 146,000 Arrow strings took 0.3 s a column
    moved = set(moves["from_zone"].astype(str).unique()) | set(
        moves["to_zone"].astype(str).unique()
    )
    strays = sorted(moved - ours)
    if strays:  # a hand-edited moves.csv: its move would be dropped silently
        raise refuse(
            f"{label} moves couriers between zones these inputs do not have ({shown(strays)})",
            "moves.csv",
            "to_zone",
            "from_zone and to_zone from the zones of this city",
        )
    strays = sorted({str(row["to_zone"]) for row in previous.under_way} - ours)
    if strays:  # named where it stands: plan.json's under_way, not moves.csv
        raise refuse(
            f"{label} has couriers under way to zones these inputs do not have ({shown(strays)})",
            "plan.json",
            "under_way",
            "to_zone from the zones of this city",
        )


def check_overlap(
    previous: Plan, start: pd.Timestamp, end: pd.Timestamp, where: str | None = None
) -> None:
    """Refuse (exit 3) a previous plan whose shift does not overlap [start, end): what it
    says about couriers 'now' would be yesterday's, or tomorrow's. ``where``: its folder,
    named in the error."""
    if previous.shift_start < end and start < previous.shift_end:
        return

    def shift(a: pd.Timestamp, b: pd.Timestamp) -> str:
        return f"{previous.local(a):%Y-%m-%d %H:%M}-{previous.local(b):%H:%M}"

    raise InputError(
        Issue(
            f"the previous plan is for the shift {shift(previous.shift_start, previous.shift_end)}"
            f", which does not overlap this one ({shift(start, end)})",
            file=f"{where}/plan.json" if where else "plan.json",
            column="shift_start",
            valid="a plan of a shift that overlaps this one (the plan published for it), "
            "or no previous plan (--previous, previous= in Python) to plan from scratch",
        ),
        title="invalid previous plan",
    )


def previous_positions(
    previous: Plan, present: pd.DataFrame, zone_index: pd.Index, now: pd.Timestamp
) -> PreviousPositions:
    """Entry zones and instructions of ``present`` couriers under ``previous``."""
    zone_idx = present["zone_idx"].to_numpy(np.int64).copy()
    prev_idx = zone_idx.copy()
    present_ids = _present_ids(present)
    newcomer = _newcomers(previous, present_ids)
    moves = previous.moves
    carried = previous.under_way  # on their way already when the previous plan was made
    if moves.empty and not carried:
        prev_idx[newcomer] = -1
        return PreviousPositions(zone_idx, prev_idx, 0, _note(previous, set(), 0, newcomer), [])
    here = zone_idx.copy()  # where couriers.csv has them
    starts = np.concatenate(
        [
            _move_starts(previous),
            np.asarray([pd.Timestamp(r["started"]).value for r in carried], dtype=np.int64),
        ]
    )
    ids = np.concatenate(
        [
            moves["courier_id"].astype(str).to_numpy(dtype=object),
            np.asarray([r["courier_id"] for r in carried], dtype=object),
        ]
    )
    to_zone = np.concatenate(
        [
            moves["to_zone"].astype(str).to_numpy(dtype=object),
            np.asarray([r["to_zone"] for r in carried], dtype=object),
        ]
    )
    to_idx = zone_index.get_indexer(to_zone)
    # by Arrow, not a pandas Index of Python strings: 690,000 couriers took 0.7 s so
    row = _positions(ids, present_ids)
    gone_ids = set(ids[row < 0])
    usable = (row >= 0) & (to_idx >= 0)
    frame = pd.DataFrame(
        {"row": row[usable], "to": to_idx[usable], "start": starts[usable].astype(np.int64)}
    ).sort_values(["row", "start"], kind="stable")
    now_ns = now.value
    started = frame[frame["start"] < now_ns].groupby("row", sort=False).tail(1)
    zone_idx[started["row"].to_numpy()] = started["to"].to_numpy()
    prev_idx[:] = zone_idx
    due = frame[frame["start"] <= now_ns].groupby("row", sort=False).tail(1)
    prev_idx[due["row"].to_numpy()] = due["to"].to_numpy()
    prev_idx[newcomer] = -1  # no instruction: nothing to change
    moving = zone_idx != present["zone_idx"].to_numpy(np.int64)
    on_the_way = int(moving.sum())
    # what the new plan records of them, so that a re-plan against it counts them too
    way = started[moving[started["row"].to_numpy()]].sort_values("row", kind="stable")
    courier = present["courier_id"].iloc[way["row"].to_numpy()].astype(str).tolist()
    names = zone_index.astype(str).to_numpy(dtype=object)
    under_way = [
        {
            "courier_id": c,
            "to_zone": str(names[t]),
            "started": pd.Timestamp(int(s), tz="UTC").tz_convert(previous.timezone).isoformat(),
        }
        for c, t, s in zip(courier, way["to"].tolist(), way["start"].tolist(), strict=True)
    ]
    later = frame[frame["start"] >= now_ns]
    ahead = (
        later["row"].to_numpy(np.int64),
        later["to"].to_numpy(np.int64),
        later["start"].to_numpy(np.int64),
    )
    # (not one on his way under an earlier move: the re-plan counts him at its end)
    done_rows = due["row"].to_numpy()
    done = due[(due["start"] == now_ns) & (due["to"] == here[done_rows]) & ~moving[done_rows]]
    arrived = present["courier_id"].iloc[done["row"].to_numpy()].astype(str).tolist()
    note = _note(previous, gone_ids, on_the_way, newcomer)
    return PreviousPositions(
        zone_idx, prev_idx, on_the_way, note, under_way, sorted(arrived), ahead
    )


def _note(previous: Plan, gone_ids: set[str], on_the_way: int, newcomer: np.ndarray) -> str:
    """What the re-plan says of the previous plan's couriers (its message)."""
    notes = []
    if gone_ids:
        notes.append(
            f"{len(gone_ids)} courier{'s' if len(gone_ids) != 1 else ''} of the previous plan "
            "no longer present (dropped)"
        )
    if on_the_way:
        notes.append(f"{on_the_way} on their way count at their destination")
    joined = int(newcomer.sum())
    if joined:
        notes.append(f"{joined} new since the previous plan (no change cost)")
    if previous.roster_note:
        notes.append(previous.roster_note)
    return "; ".join(notes)


def _newcomers(previous: Plan, present_ids: Any) -> np.ndarray:
    """Which present couriers (``present_ids``, `_present_ids`) ``previous`` did not place
    (not in its roster): they had no instruction, so no move of theirs changes one. None
    are without a roster (a plan folder written before rosters were kept)."""
    if previous.roster is None or len(present_ids) == 0:
        return np.zeros(len(present_ids), dtype=bool)
    import pyarrow as pa
    import pyarrow.compute as pc

    known = previous.roster
    if isinstance(known, pa.ChunkedArray):
        known = known.combine_chunks()
    found = pc.is_in(present_ids, value_set=known.cast(present_ids.type))
    return ~np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _present_ids(present: pd.DataFrame) -> Any:
    """The courier ids of ``present`` as one Arrow text array."""
    import pyarrow as pa

    column = present["courier_id"]
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype(str)
    ids = pa.array(column.array)
    return ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids


def _positions(ids: np.ndarray, among: Any) -> np.ndarray:
    """Position of each of ``ids`` (Python text) in ``among`` (`_present_ids`), -1 if absent."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(pa.array(ids.tolist(), among.type), value_set=among).fill_null(-1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _move_starts(plan: Plan) -> np.ndarray:
    """Each previous move's start as UTC nanoseconds (the shift start without slot_start)."""
    moves = plan.moves
    if "slot_start" in moves.columns:
        column = moves["slot_start"]
        if isinstance(column.dtype, pd.DatetimeTZDtype):  # as `read_plan` and `solve` give it
            ts = column.dt.tz_convert("UTC")  # (as text and back: 1.9 s for 146,270 moves)
        else:
            ts = pd.to_datetime(column.astype(str), utc=True, format="ISO8601")
        return ts.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.full(len(moves), plan.shift_start.value, dtype=np.int64)


def mark_since_previous(plan: Plan, previous: Plan) -> Plan:
    """``plan`` with a ``since_previous`` column in its moves: ``new``, ``unchanged`` or
    ``changed`` since ``previous`` (the rule of `rebalance.diff`). Written to moves.csv
    after the contract's columns; an infeasible plan is returned as it is."""
    import dataclasses
    import time

    from .diff import since_previous

    if not plan.feasible:
        return plan
    plan = _keep_previous_if_unchanged(plan, previous)
    t0 = time.perf_counter()
    moves = plan.moves.assign(since_previous=since_previous(plan, previous))
    timings = {**plan.timings, "since_previous": round(time.perf_counter() - t0, 4)}
    return dataclasses.replace(plan, moves=moves, timings=timings)


def read_plan_folder(folder: str | Path, what: str = "the plan folder") -> Plan:
    """`read_plan`, with every way a folder can be unreadable (missing, not a folder,
    a file missing, broken JSON or CSV) an `InputError` (exit 3) naming the file."""
    from .errors import DataError
    from .plan import read_plan

    path = Path(folder)
    if not path.is_dir():
        raise InputError(
            Issue(
                f"{what} does not exist or is not a folder",
                file=str(path),
                valid="a folder written by `rebalance plan --out` or `rebalance run`",
            ),
            title="unreadable plan",
        )
    try:
        return read_plan(path)
    except DataError:
        raise
    except Exception as exc:  # broken JSON, CSV, missing keys, bad timestamps
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        raise InputError(
            Issue(
                f"{what} cannot be read ({detail})",
                file=str(path),
                valid="plan.json, zones.csv and moves.csv as `rebalance plan --out` writes them",
            ),
            title="unreadable plan",
        ) from None


@dataclass(frozen=True)
class PreviousChoice:
    """What `rebalance run` re-plans against: a plan (or None) and why, in words."""

    plan: Plan | None
    note: str
    run_id: str | None = None
    plan_dir: str | None = None
    #: ``slack`` when the plan was found from the channel's message (`find_shown`),
    #: the history store not knowing it.
    found_in: str = "history"
    #: Whether the run warns of planning from scratch though it names no run: Slack
    #: failed, or no run folder holds (or can be read for) the plan the channel shows.
    warning: bool = False

    def record(self) -> dict[str, Any]:
        """What the run's history row keeps of the choice (``extra["previous"]``)."""
        return {
            "run_id": self.run_id,
            "plan_dir": self.plan_dir,
            "plan_id": None if self.plan is None else self.plan.plan_id,
            "used": self.plan is not None,
            "note": self.note,
            **({"found_in": self.found_in} if self.found_in != "history" else {}),
        }


#: What `publish_or_request_approval` records for a plan put up for approval, not posted.
_UP_FOR_APPROVAL = ("approval-requested", "approval-pending")


def _told(history: History, record: RunRecord) -> bool:
    """Whether the couriers were given ``record``'s plan: put up for approval, only once
    approved (QA: an unapproved plan, and a held one, was taken for the plan in force,
    its moves counted as couriers on their way)."""
    extra = record.extra or {}
    if not extra.get("approval_channel") and extra.get("publish_action") not in _UP_FOR_APPROVAL:
        return True
    key, chash = extra.get("plan_key"), extra.get("content_hash")
    approval = history.approval(str(key), str(chash)) if key and chash else None
    return approval is not None and approval.status == "approved"


def _posted(history: History, record: RunRecord, config: Config) -> bool:
    """Whether ``record``'s plan is the one recorded as posted for its shift (the
    publication's plan id): so for a run that died after posting it."""
    from .publish.identity import plan_key

    channel = record.slack_channel or config.slack.channel
    if not (channel and record.plan_id and record.plan_dir):
        return False
    key = plan_key(record.city, pd.Timestamp(record.shift_start))
    publication = history.publication(key, channel)
    return publication is not None and publication.plan_id == record.plan_id


def _live_here(record: RunRecord) -> bool:
    """Whether ``record``'s process runs on this host: one of another host, or gone,
    may have died before posting anything (a dead row of this host is marked crashed
    before the choice, one of another host is not)."""
    import socket

    from .runner import _alive

    return record.host == socket.gethostname() and record.pid is not None and _alive(record.pid)


def _shift_end_of(record: RunRecord) -> pd.Timestamp | None:
    end = (record.extra or {}).get("shift_end")
    if end:
        return pd.Timestamp(end)
    # runs recorded before the shift end was: plan.json has it
    meta = _plan_meta(Path(str(record.plan_dir)))
    return None if isinstance(meta, str) else meta["shift_end"]


def _in_force_first(start: pd.Timestamp, shift_start: pd.Timestamp) -> tuple[bool, int]:
    """Sort key of an overlapping shift starting at ``start``, smallest first, for which
    is in force at ``shift_start``: the latest starting no later than it, else the
    earliest after it (`find_previous`, `find_shown`)."""
    after = start > shift_start
    return (after, start.value if after else -start.value)


def find_previous(
    history: History,
    config: Config,
    shift_start: pd.Timestamp,
    shift_end: pd.Timestamp,
    zone_ids: pd.Index,
    *,
    exclude: str | None = None,
) -> PreviousChoice:
    """The plan `rebalance run` re-plans against: the plan in force, that is of the runs
    of this city (not dry runs; ``exclude`` is the run itself) whose plan was published
    or kept and whose shift overlaps [shift_start, shift_end), the one of the latest
    shift starting no later than this one (else the earliest after it), the newest run
    of that shift. A run still publishing its written plan counts (without an approval
    channel); a plan put up for approval counts once approved. A folder that is gone,
    unreadable, of another city or another data set is not used: the run plans from
    scratch, and the note says why. When no run of the history overlaps (the store was
    moved aside), `rebalance run` asks the channel instead (`find_shown`)."""
    city = config.city.name
    # kept runs only, chosen by the query: the newest 200 rows of any kind could all
    # be dry runs or failures (an analyst's afternoon, a cron job retrying a crash)
    # and hide the published plan, whose couriers on their way would be sent again
    records = history.runs(city=city, limit=200, kept=True)
    if not config.slack.approval_channel:
        # a run of an earlier shift still posting the plan it wrote: its couriers are
        # being told (QA: the 23:45 run, started while the 23:30 one posted, re-planned
        # against 23:15 and sent 34 couriers moving again)
        records += [
            r
            for r in history.running(city=city, dry_run=False)
            if r.phase == "publish" and r.plan_dir and _live_here(r)
        ]
    # a run that died after posting (killed while it uploaded its thread, stopped by
    # systemd): its plan is the one the channel shows, which the publication recorded
    # for its shift proves (audit: the next shift re-planned against the one before,
    # and changed 13 couriers' instructions while saying it changed none)
    posted = [
        r for r in history.runs(city=city, limit=200, died=True) if _posted(history, r, config)
    ]
    records += posted
    proven = {r.run_id for r in posted}
    overlapping = []
    for record in records:
        if record.run_id == exclude or not (record.run_id in proven or _told(history, record)):
            continue
        start = pd.Timestamp(record.shift_start)
        end = _shift_end_of(record)
        if end is None:  # the folder is gone and the row has no end: assume the default
            end = start + config.shift.length
        if start < shift_end and shift_start < end:
            overlapping.append((start, record))
    # The latest shift first, not the run started last: a retry of an earlier shift
    # (the command an exit 5 prints) was taken for the plan in force, and the next
    # shift re-planned against it, not against the later plan its couriers had.
    # (of one shift, the newest run first: the sorts are stable)
    overlapping.sort(key=lambda sr: sr[1].started_at, reverse=True)
    overlapping.sort(key=lambda sr: _in_force_first(sr[0], shift_start))
    for _, record in overlapping:
        where = str(record.plan_dir)
        try:
            plan = read_plan_folder(where, f"the plan of run {record.run_id}")
            check_previous(plan, config, zone_ids, where)
        except InputError as exc:
            reason = str(exc).replace("\n", " ")
            return PreviousChoice(
                None,
                f"previous plan of run {record.run_id} not used, planning from scratch: {reason}",
                record.run_id,
                where,
            )
        from .timeparse import clock_text

        local = plan.local(plan.shift_start)
        return PreviousChoice(
            plan,
            f"re-planning against run {record.run_id} (shift {clock_text(local)}, "
            f"plan {plan.plan_id}, {where})",
            record.run_id,
            where,
        )
    return PreviousChoice(
        None, f"no earlier plan of {city} overlaps this shift: planning from scratch"
    )


def _plan_meta(folder: Path) -> dict[str, Any] | str:
    """plan.json of a run folder (its city, shift and plan_id), or why it cannot be read."""
    import json

    try:
        meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
        start, end = pd.Timestamp(meta["shift_start"]), pd.Timestamp(meta["shift_end"])
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("a shift start or end without an offset")
        return {**meta, "shift_start": start, "shift_end": end}
    except Exception as exc:  # missing, not JSON, keys missing, bad times: not used
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def find_shown(
    history: History,
    config: Config,
    shift_start: pd.Timestamp,
    shift_end: pd.Timestamp,
    zone_ids: pd.Index,
    parents: Callable[[list[str], float], list[dict[str, Any]]],
    channel: str,
) -> PreviousChoice | None:
    """The plan in force when the history store does not know it (a store moved aside
    when it was corrupt): of the run folders of this city whose shift overlaps
    [shift_start, shift_end), the one holding the plan the channel's message of its
    shift shows. Folders of runs the store has a row for are left out: `find_previous`
    judged those (a plan awaiting approval, held, or a dry run's is not in force), so a
    store that was not lost costs no Slack call. ``parents(keys, oldest)`` lists the
    channel's parents of these plan keys since ``oldest``
    (`rebalance.publish.protocol.find_parents`, one conversations.history for every
    shift), raising `SlackCallError` when Slack fails.

    The shift is chosen as `find_previous` does (the latest starting no later than this
    one, else the earliest after), among those the channel shows a message of; the
    folder is the one whose plan_id and content hash are the message's. None when there
    is no such folder to look at (Slack is not asked). A Slack failure, or a shown plan
    no usable folder holds, is a choice without a plan whose note says why: the run
    plans from scratch."""
    from .paths import city_run_dirs
    from .publish.identity import content_hash, earlier_plan_keys, plan_key, utc_plan_key
    from .publish.protocol import PUBLISH_AHEAD_DAYS
    from .ranges import MAX_SHIFT_HOURS
    from .slack import SlackCallError
    from .timeparse import clock_text

    city, tz = config.city.name, config.city.timezone
    # by the folders' names first (city time, with a clock change's margin either
    # side), then by the shift plan.json gives: no shift is longer than MAX_SHIFT_HOURS
    margin = pd.Timedelta(hours=2)
    since = shift_start.tz_convert(tz).tz_localize(None) - pd.Timedelta(hours=MAX_SHIFT_HOURS)
    until = shift_end.tz_convert(tz).tz_localize(None)
    shifts: dict[pd.Timestamp, list[tuple[Path, dict[str, Any]]]] = {}
    unreadable: list[str] = []
    for _, folder in city_run_dirs(history.path, city, since - margin, until + margin):
        if history.run(folder.name) is not None:
            continue
        meta = _plan_meta(folder)
        if isinstance(meta, str):
            unreadable.append(f"{folder}: {meta}")
            continue
        if meta["shift_start"] < shift_end and shift_start < meta["shift_end"]:
            shifts.setdefault(meta["shift_start"], []).append((folder, meta))
    if not shifts and not unreadable:  # nothing Slack could point at: not asked
        return None
    if not shifts:
        return PreviousChoice(
            None,
            f"no earlier plan of {city} overlaps this shift in the history store, and its "
            f"run folders cannot be read ({'; '.join(unreadable[:3])}): planning from scratch",
            warning=True,
        )
    keys = {
        start: (plan_key(city, start), *earlier_plan_keys(city, start.tz_convert(tz)))
        for start in shifts
    }
    oldest = min(shifts) - pd.Timedelta(days=PUBLISH_AHEAD_DAYS)
    try:
        found = parents([k for ks in keys.values() for k in ks], float(oldest.timestamp()))
    except SlackCallError as exc:
        return PreviousChoice(
            None,
            f"no earlier plan of {city} overlaps this shift in the history store, and Slack "
            f"could not be asked which plan the channel {channel} shows ({exc.describe()}): "
            "planning from scratch",
            warning=True,
        )
    of_shift = {utc_plan_key(k): start for start, ks in keys.items() for k in ks}
    of_shift.pop(None, None)
    shown: dict[pd.Timestamp, dict[str, Any]] = {}
    for message in found:  # oldest first: the parent the publisher keeps
        key = ((message.get("metadata") or {}).get("event_payload") or {}).get("plan_key")
        start = of_shift.get(utc_plan_key(key))
        if start is not None and start not in shown:
            shown[start] = message
    if not shown:
        return PreviousChoice(
            None,
            f"no earlier plan of {city} overlaps this shift in the history store, and the "
            f"channel {channel} shows no message of the shifts of its run folders: "
            "planning from scratch",
        )
    start = min(shown, key=lambda s: _in_force_first(s, shift_start))
    message = shown[start]
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    plan_id, chash = payload.get("plan_id"), payload.get("content_hash")
    what = f"the Slack message {message.get('ts')} in {channel}"
    # the newest run first (run ids sort by time): those of the plan_id shown, then,
    # for a re-run of that plan kept whole (a plan_id of its own, the same content),
    # the others by their content; a folder of another plan is never used
    folders = sorted(shifts[start], key=lambda fm: fm[0].name, reverse=True)
    ours = [f for f, meta in folders if plan_id and meta.get("plan_id") == plan_id]
    others = [f for f, _ in folders if f not in ours] if chash else []
    reasons = []
    for folder in [*ours, *others]:
        where, identified = str(folder), folder in ours
        try:
            plan = read_plan_folder(where, f"the plan of run {folder.name}")
            if chash and content_hash(plan) != chash:
                if identified:
                    reasons.append(f"{folder.name} holds another version of plan {plan_id}")
                continue
            identified = True  # the plan shown: used, or said why not
            check_previous(plan, config, zone_ids, where)
        except InputError as exc:
            reason = str(exc).replace("\n", " ")
            if not identified:  # not known to hold the plan shown: passed over
                reasons.append(f"{folder.name}: {reason}")
                continue
            return PreviousChoice(
                None,
                f"previous plan of run {folder.name} (found from {what}) not used, planning "
                f"from scratch: {reason}",
                folder.name,
                where,
            )
        return PreviousChoice(
            plan,
            f"re-planning against run {folder.name} (shift {clock_text(plan.local(start))}, "
            f"plan {plan.plan_id}, {where}), found from {what}: the history store did not "
            "know it",
            folder.name,
            where,
            found_in="slack",
        )
    reasons += unreadable[:3]
    return PreviousChoice(
        None,
        f"{what} shows plan {plan_id or chash or '(unnamed)'} of the shift "
        f"{clock_text(start.tz_convert(tz))}, which no run folder of this city holds"
        + (f" ({'; '.join(reasons)})" if reasons else "")
        + ": planning from scratch",
        warning=True,
    )


def _shaped_like(fresh: Any, kept: Any) -> bool:
    """Whether ``kept`` is what ``fresh`` is: a finite number (not a bool) where
    ``fresh`` is a number, a mapping with each of its keys shaped so where it is a
    mapping, else a value of the same type (text, None, a bool)."""
    if isinstance(fresh, dict):
        return isinstance(kept, dict) and all(
            key in kept and _shaped_like(value, kept[key]) for key, value in fresh.items()
        )
    from .ranges import finite_number

    if isinstance(fresh, int | float) and not isinstance(fresh, bool):
        return finite_number(kept)
    return type(fresh) is type(kept)


def _keep_previous_if_unchanged(plan: Plan, previous: Plan) -> Plan:
    """With the same inputs, shift and settings as ``previous``, the re-plan is
    ``previous`` itself (nothing changed, so nothing may change).

    Only slot-0 changes cost ``change_minutes``; later slots have equally good
    alternatives, and the solver may pick another one. ``previous`` (optimal for its own
    problem) is optimal here too: every other plan Q costs at least cost(Q) +
    change(Q, previous) >= cost(previous). This is checked on the numbers: it is kept only
    when its cost equals this plan's proven optimum (to 1e-6 relative)."""
    import dataclasses
    import json

    same = (
        plan.status == "optimal"
        and previous.status == "optimal"
        and plan.inputs_sha256 == previous.inputs_sha256
        and plan.shift_start == previous.shift_start
        and plan.shift_end == previous.shift_end
        and json.dumps(plan.settings, sort_keys=True)
        == json.dumps(previous.settings, sort_keys=True)
    )
    # plan.json's KPIs are kept (but for those set below): an older plan may lack some,
    # and a Plan made in a notebook (never read by read_plan) may hold anything
    wanted = {k: v for k, v in plan.kpis.items() if k not in ("changed_couriers", "on_the_way")}
    parts_wanted = dict(wanted.get("objective_breakdown") or {})
    parts_wanted.pop("change_minutes", None)
    wanted["objective_breakdown"] = parts_wanted
    if not same or plan.objective is None or not _shaped_like(wanted, previous.kpis):
        return plan
    parts = dict(previous.kpis.get("objective_breakdown") or {})
    if not parts:
        return plan
    cost = sum(float(v) for k, v in parts.items() if k != "change_minutes")
    if abs(cost - plan.objective) > 1e-6 * max(1.0, abs(plan.objective)):
        return plan
    kpis = {
        **previous.kpis,
        "changed_couriers": 0,
        "on_the_way": plan.kpis.get("on_the_way", 0),
        "objective_breakdown": {**parts, "change_minutes": 0.0},
    }
    return dataclasses.replace(
        plan,
        zones=previous.zones.copy(),
        moves=previous.moves.drop(columns=["since_previous"], errors="ignore"),
        slots=previous.slots.copy(),
        kpis=kpis,
    )
