"""What changed between two plans (CONTRACT section 9): the ONE diff behind
`Plan.diff`, `rebalance diff`, the ``since_previous`` column of a re-plan's moves and
the Slack revision reply in the shift's thread.

A plan is compared through a `PlanView` (built from a `Plan`, or from the compact
snapshot the history keeps of a published plan):

- zones: the numbers of zones.csv (slot 0, what to do now) that differ; a plan made
  for a later start is compared with the old plan's slot at that start (slots.csv),
  couriers_before aside (the old plan's counts nobody moving since its start);
- moves, courier by courier: the old plan's moves that have not started by the new
  plan's ``shift_start`` (earlier ones are under way, not compared) against the new
  plan's moves. A courier on his way whom the new plan sends on at its start (with no
  old move due then) is *re-routed* from his move under way: what he does now changed,
  as section 9 charges. A new move of the same courier to the same zone within one slot of the
  old one is *unchanged* (from wherever couriers.csv now has the courier: one that
  drifted from A to C and is still sent to B was told nothing new), unless one of the
  two is due at the new plan's start and the other is not: then what the courier does
  now changed, which is what section 9 charges ``change_minutes`` for (a move re-timed
  from 18:30 to the re-plan's 18:15, or from 18:15 to 18:45). The courier's remaining
  old and new moves are paired in time
  order: a pair is *re-routed* (``changed``), a new move left over is *added* (``new``),
  an old one left over is *dropped*. An old move due at the new plan's start whose
  courier is in its to_zone already (the new plan's ``arrived``) was carried out: it is
  unchanged, not dropped. Each item carries its slot start;
- why a courier group is re-routed or dropped: the zones of its old and new route whose
  need (required couriers in that slot) differs between the plans; for a dropped move,
  also that the newer plan no longer has the courier (not in its roster: logged off,
  or gone from the data), or has him but not available at the move's time (he now
  logs on after it or off before it: `Plan.presence`);
- the KPIs side by side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .plan import Plan

__all__ = [
    "KPI_KEYS",
    "ZONE_FIELDS",
    "Change",
    "PlanDiff",
    "PlanView",
    "diff_plans",
    "diff_views",
    "since_previous",
]

#: The numbers of a zone compared (zones.csv columns), with their short labels.
ZONE_FIELDS = (
    ("required_couriers", "need"),
    ("couriers_before", "before"),
    ("couriers_after", "after"),
    ("moved_in", "in"),
    ("moved_out", "out"),
    ("shortage", "short"),
)
#: KPIs shown side by side, in this order (those neither plan has are left out).
KPI_KEYS = (
    "coverage_before",
    "coverage",
    "eligible_couriers",
    "moved_couriers",
    "moves",
    "travel_minutes",
    "required_couriers",
    "shortage",
    "zones_short",
    "paused_orders_per_hour",
    "changed_couriers",
    "on_the_way",
)

_NS_PER_MINUTE = 60 * 10**9


def _ns(ts: Any) -> int:
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.tz_convert("UTC").as_unit("ns").value)


@dataclass(frozen=True)
class PlanView:
    """What the diff needs of a plan. Times are UTC nanoseconds."""

    city: str
    plan_id: str
    timezone: str
    shift_start: int
    shift_end: int
    slot_minutes: int
    #: zone id -> the numbers of ZONE_FIELDS
    zones: dict[str, tuple[int, ...]]
    #: zone id -> required couriers per slot
    needs: dict[str, list[int]]
    #: courier id -> [(time, from_zone, to_zone)], in time order
    moves: dict[str, list[tuple[int, str, str]]]
    kpis: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    #: The plan's slots.csv rows (several slots), or None: `numbers_at` reads them
    slots: Any = field(default=None, repr=False, compare=False)
    #: Couriers whose instruction due at this plan's start was carried out before it
    #: (`Plan.arrived`): not "dropped" when the plan has no move for them.
    arrived: frozenset[str] = frozenset()
    #: The couriers the plan placed (`Plan.roster`, Arrow text), or None when unknown
    #: (a plan folder written before rosters were kept, a history snapshot).
    roster: Any = field(default=None, repr=False, compare=False)
    #: When each courier of ``roster`` logs on and off (`Plan.presence`), or None.
    presence: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: How long after a slot's start a courier must still be there to count in it
    #: (CONTRACT section 7: min(min_available_minutes, L)), in nanoseconds.
    stays_ns: int = 0

    @property
    def slot_ns(self) -> int:
        """The slot length in nanoseconds."""
        return self.slot_minutes * _NS_PER_MINUTE

    @classmethod
    def of(cls, plan: Plan) -> PlanView:
        """The view of a plan in memory (or read from its folder)."""
        length = plan.slot_minutes or round(
            (plan.shift_end - plan.shift_start) / pd.Timedelta(minutes=1)
        )
        start = _ns(plan.shift_start)
        zones_frame = plan.zones
        zones = {
            str(z): tuple(int(v) for v in values)
            for z, *values in zip(
                zones_frame["zone_id"],
                *(zones_frame[c] for c, _ in ZONE_FIELDS),
                strict=True,
            )
        }
        names = {
            str(z): str(n) for z, n in zip(zones_frame["zone_id"], zones_frame["name"], strict=True)
        }
        needs: dict[str, list[int]] = {z: [v[0]] for z, v in zones.items()}
        several = plan.slot_count > 1 and len(plan.slots)
        if several:
            slots = plan.slots.sort_values(["zone_id", "slot_start"], kind="stable")
            needs = {
                str(z): [int(x) for x in group]
                for z, group in slots.groupby("zone_id", sort=False)["required_couriers"]
            }
        return cls(
            city=plan.city,
            plan_id=plan.plan_id,
            timezone=plan.timezone,
            shift_start=start,
            shift_end=_ns(plan.shift_end),
            slot_minutes=int(length),
            zones=zones,
            needs=needs,
            slots=plan.slots if several else None,
            moves=_with_under_way(_moves_of(plan.moves, start), plan.under_way),
            kpis=dict(plan.kpis),
            names=names,
            arrived=frozenset(plan.arrived),
            **cls.roster_of(plan),
        )

    @staticmethod
    def roster_of(plan: Plan) -> dict[str, Any]:
        """A plan's roster fields of its view (``roster``, ``presence``, ``stays_ns``):
        what a history snapshot does not keep, taken from the plan itself."""
        length = plan.slot_minutes or round(
            (plan.shift_end - plan.shift_start) / pd.Timedelta(minutes=1)
        )
        eligibility = plan.settings.get("eligibility") or {}
        least = eligibility.get("min_available_minutes")
        stays = min(float(least), float(length)) if isinstance(least, (int, float)) else 0.0
        return {
            "roster": plan.roster,
            "presence": plan.presence if plan.roster is not None else None,
            "stays_ns": round(stays * _NS_PER_MINUTE),
        }

    @classmethod
    def from_snapshot(
        cls,
        snap: Mapping[str, Any],
        *,
        shift_start: Any = None,
        shift_end: Any = None,
        timezone: str = "UTC",
    ) -> PlanView:
        """The view of a history snapshot (`rebalance.publish.identity.snapshot`).

        Snapshots written before the diff existed hold no times: their moves are at
        ``shift_start`` (the publication's), their needs those of zones.csv.
        """
        start_value = snap.get("shift_start") or shift_start
        start = _ns(start_value) if start_value is not None else 0
        end_value = snap.get("shift_end") or shift_end
        end = _ns(end_value) if end_value is not None else start + 4 * 60 * _NS_PER_MINUTE
        length = int(snap.get("slot_minutes") or (end - start) // _NS_PER_MINUTE)
        zones = {str(z): tuple(int(x) for x in v) for z, v in (snap.get("zones") or {}).items()}
        needs = {str(z): [int(x) for x in v] for z, v in (snap.get("needs") or {}).items()}
        for z, v in zones.items():
            needs.setdefault(z, [v[0]] if v else [0])
        step = length * _NS_PER_MINUTE
        moves: dict[str, list[tuple[int, str, str]]] = {}
        for courier, value in (snap.get("moves") or {}).items():
            if value and isinstance(value[0], list | tuple):  # [[slot, from, to], ...]
                moves[str(courier)] = [(start + int(k) * step, str(a), str(b)) for k, a, b in value]
            elif value:  # an older snapshot: [from, to]
                moves[str(courier)] = [(start, str(value[0]), str(value[1]))]
        carried = [
            {"courier_id": c, "to_zone": z, "started": t} for c, z, t in snap.get("under_way") or ()
        ]
        moves = _with_under_way(moves, carried)
        return cls(
            city=str(snap.get("city") or ""),
            plan_id=str(snap.get("plan_id") or ""),
            timezone=str(snap.get("timezone") or timezone),
            shift_start=start,
            shift_end=end,
            slot_minutes=length,
            zones=zones,
            needs=needs,
            moves=moves,
            kpis=dict(snap.get("kpis") or {}),
            names={str(k): str(v) for k, v in (snap.get("names") or {}).items()},
            arrived=frozenset(str(c) for c in snap.get("arrived") or ()),
        )

    def need_at(self, zone: str, when: int) -> int | None:
        """Required couriers of ``zone`` in the slot holding ``when``; None outside."""
        values = self.needs.get(zone)
        if values is None or not self.shift_start <= when < self.shift_end:
            return None
        k = (when - self.shift_start) // self.slot_ns if self.slot_ns else 0
        return values[min(int(k), len(values) - 1)]

    def numbers_at(self, when: int) -> dict[str, tuple[int, ...]] | None:
        """Each zone's numbers of ZONE_FIELDS in the slot starting at ``when``: zones.csv
        at the plan's start, slots.csv's rows of a later slot; None when the plan has no
        slot starting then (or its slots are not known)."""
        if when == self.shift_start:
            return self.zones
        if self.slots is None or not self.shift_start < when < self.shift_end:
            return None
        starts = pd.to_datetime(self.slots["slot_start"], utc=True).dt.as_unit("ns")
        rows = self.slots[(starts.astype("int64") == when).to_numpy()]
        if not len(rows):
            return None
        columns = [rows[c].to_numpy(dtype=np.int64) for c, _ in ZONE_FIELDS]
        return {
            str(z): tuple(int(v) for v in values)
            for z, *values in zip(rows["zone_id"], *columns, strict=True)
        }

    def local(self, when: int) -> pd.Timestamp:
        """A time as a Timestamp in the city's timezone."""
        return pd.Timestamp(when, tz="UTC").tz_convert(self.timezone)

    def label(self, when: int) -> str:
        """A time of this plan as its views show it: a slot's start by the slot's label
        (`rebalance.slots.slot_labels`: ``HH:MM``, told apart where the clock shows a
        time twice), any other time as ``HH:MM`` city time (with its zone, ``02:45
        CEST``, where the clock shows it twice)."""
        step = self.slot_ns
        if (
            step
            and self.shift_start <= when < self.shift_end
            and (when - self.shift_start) % step == 0
        ):
            return self._slot_labels[(when - self.shift_start) // step]
        from .timeparse import comes_twice

        local = self.local(when)
        return f"{local:%H:%M %Z}" if comes_twice(local) else f"{local:%H:%M}"

    @cached_property
    def _slot_labels(self) -> list[str]:
        """`label` of each slot start, made once (a diff names every group of changes)."""
        from .slots import slot_labels

        starts = range(self.shift_start, self.shift_end, self.slot_ns)
        return slot_labels(self.local(t) for t in starts)


def _sorted_moves(moves: pd.DataFrame, start: int) -> pd.DataFrame:
    """The moves as courier ``c``, time ``t`` (UTC ns; ``start`` without slot_start),
    ``a`` (from) and ``b`` (to), sorted by them (Arrow's sort: code point order, as
    Python compares text); the index is each row's position in ``moves``."""
    if "slot_start" in moves.columns:
        times = pd.to_datetime(moves["slot_start"], utc=True).dt.as_unit("ns").astype("int64")
        when = times.to_numpy()
    else:
        when = np.full(len(moves), start, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "c": moves["courier_id"].astype(str).to_numpy(),
            "t": when,
            "a": moves["from_zone"].astype(str).to_numpy(),
            "b": moves["to_zone"].astype(str).to_numpy(),
        }
    )
    return frame.sort_values(["c", "t", "a", "b"], kind="stable")


def _with_under_way(
    moves: dict[str, list[tuple[int, str, str]]], under_way: Iterable[Mapping[str, Any]]
) -> dict[str, list[tuple[int, str, str]]]:
    """``moves`` with the moves a re-plan's couriers on their way count by (plan.json's
    ``under_way``, started before its shift: moves of the plan before it), each as
    (started, to_zone, to_zone) where it came from is not kept: a re-plan of a re-plan
    then sees them under way, and one it sends on at its start as re-routed."""
    for row in under_way:
        courier = str(row["courier_id"])
        move = (_ns(row["started"]), str(row["to_zone"]), str(row["to_zone"]))
        moves[courier] = sorted([*moves.get(courier, ()), move])
    return moves


def _moves_of(moves: pd.DataFrame, start: int) -> dict[str, list[tuple[int, str, str]]]:
    """Each courier's moves as (time, from, to), in that order, couriers by id: one
    sort of the whole table (`_sorted_moves`), then each courier's slice of the rows
    (146,270 moves of a 10,000-zone plan: 0.31 -> ~0.1 s a plan, against appending row
    by row and sorting each list)."""
    if moves.empty:
        return {}
    frame = _sorted_moves(moves, start)
    # lists, not the Series: iterating Arrow text yields one scalar at a time
    courier = frame["c"].tolist()
    rows = list(zip(frame["t"].tolist(), frame["a"].tolist(), frame["b"].tolist(), strict=True))
    ends = [i for i in range(1, len(courier)) if courier[i] != courier[i - 1]]
    bounds = [0, *ends, len(courier)]
    return {courier[lo]: rows[lo:hi] for lo, hi in pairwise(bounds)}


@dataclass(frozen=True)
class Change:
    """One courier's move that differs: ``kind`` is added, dropped or rerouted.

    ``when``/``from_zone``/``to_zone`` are the new plan's move (the old one's for a
    dropped move); ``was_*`` the old plan's (re-routed only)."""

    kind: str
    courier_id: str
    when: int
    from_zone: str
    to_zone: str
    was_when: int | None = None
    was_from: str | None = None
    was_to: str | None = None


@dataclass(frozen=True)
class PlanDiff:
    """What changed from plan ``a`` (older) to plan ``b`` (newer); see the module doc."""

    a: PlanView
    b: PlanView
    #: zone id -> (numbers in a or None, numbers in b or None), only zones that differ
    zones: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]]
    changes: list[Change]
    unchanged: int
    #: a's moves under way at b's start, couriers b no longer has included (`under_way`)
    under_way_in_a: int
    #: status of each move of b, per courier in its time order: new, unchanged, changed
    status: dict[str, list[str]]
    #: the couriers of those moves with no move in b, once per move: b may not have them
    on_way_only: tuple[str, ...] = ()

    @cached_property
    def under_way(self) -> int:
        """a's moves under way at b's start, but those of couriers b no longer has
        (offline, busy, gone from the data: not on their way in b). Worked out when
        asked: a re-plan's ``since_previous`` needs only ``status``."""
        rows = self._roster_rows
        if rows is None:
            return self.under_way_in_a
        return self.under_way_in_a - sum(rows[c] < 0 for c in self.on_way_only)

    # ---------------------------------------------------------------- counts
    def of_kind(self, kind: str) -> list[Change]:
        """The changes of one kind (added, dropped, rerouted)."""
        return [c for c in self.changes if c.kind == kind]

    @property
    def changed_couriers(self) -> int:
        """Couriers whose moves differ (added, dropped or re-routed)."""
        return len({c.courier_id for c in self.changes})

    @property
    def empty(self) -> bool:
        """Whether nothing a courier or a zone would notice changed."""
        return not self.zones and not self.changes

    def kpis(self) -> list[tuple[str, Any, Any]]:
        """(name, value in a, value in b) for the KPIs either plan has."""
        return [
            (k, self.a.kpis.get(k), self.b.kpis.get(k))
            for k in KPI_KEYS
            if k in self.a.kpis or k in self.b.kpis
        ]

    @cached_property
    def _roster_rows(self) -> dict[str, int] | None:
        """The row in plan b's roster of each courier of a dropped move or of a move
        under way only (-1: not in it), one lookup for `gone`, `absent` and
        `under_way`; None when b's roster is unknown."""
        import pyarrow as pa
        import pyarrow.compute as pc

        roster = self.b.roster
        if roster is None:
            return None
        dropped = {c.courier_id for c in self.changes if c.kind == "dropped"}
        asked = sorted(dropped | set(self.on_way_only))
        if not asked:
            return {}
        ids = pa.array(asked, type=pa.large_string())
        where = pc.index_in(ids, value_set=pc.cast(roster, pa.large_string()))
        rows = where.fill_null(-1).to_numpy(zero_copy_only=False).tolist()
        return dict(zip(asked, rows, strict=True))

    @cached_property
    def gone(self) -> frozenset[str]:
        """Couriers of dropped moves whom plan b does not have (not in its roster: they
        logged off or left the data); empty when b's roster is unknown."""
        rows = self._roster_rows
        if rows is None:
            return frozenset()
        dropped = {c.courier_id for c in self.changes if c.kind == "dropped"}
        return frozenset(c for c in dropped if rows[c] < 0)

    def absent(self, change: Change) -> tuple[int, int] | None:
        """When a dropped move's courier logs on and off in plan b (UTC nanoseconds), if
        by the presence rule of CONTRACT section 7 he is not there in the slot the move
        starts (logs on after its start, or off before ``stays_ns`` into it): his hours
        are why. None otherwise, or when b's `PlanView.presence` is unknown or he is
        `gone`."""
        if change.kind != "dropped" or self.b.presence is None:
            return None
        row = (self._roster_rows or {}).get(change.courier_id, -1)
        if row < 0:
            return None
        start, end = (int(x[row]) for x in self.b.presence)
        there = start <= change.when and end >= change.when + self.b.stays_ns
        return None if there else (start, end)

    def courier_reason(self, change: Change) -> str | None:
        """Why a dropped move's courier cannot make it in plan b, in words (`gone`,
        `absent`), or None."""
        if change.kind != "dropped":
            return None
        if change.courier_id in self.gone:
            from .views.wording import COURIER_GONE

            return COURIER_GONE
        span = self.absent(change)
        if span is None:
            return None
        if change.when < span[0]:
            return f"not there yet then (logs on at {self.b.label(span[0])})"
        return f"no longer there then (logs off at {self.b.label(span[1])})"

    def need_changes(self, change: Change) -> list[tuple[str, int | None, int | None]]:
        """Why a courier's move changed: the zones of its old and new route whose need
        differs between the plans in the same slot, as (zone, need in a, need in b): the
        slot of the new move, else that of the old one. (The need of a's slot against
        b's made a move re-timed from 19:30 to 19:15 read "Z14 26 -> 23" where neither
        plan's need had changed.)"""
        zones = [change.from_zone, change.to_zone]
        if change.was_to is not None:
            zones.insert(1, change.was_to)
        if change.was_from is not None:
            zones.append(change.was_from)
        out: list[tuple[str, int | None, int | None]] = []
        slots = dict.fromkeys(w for w in (change.when, change.was_when) if w is not None)
        for when in slots:
            for zone in dict.fromkeys(zones):
                before, after = self.a.need_at(zone, when), self.b.need_at(zone, when)
                if before != after and after is not None:
                    out.append((zone, before, after))
            if out:
                break
        return out

    def groups(self, kind: str) -> list[tuple[tuple[Any, ...], list[Change]]]:
        """Changes of one kind grouped by (slot, route, old route), dropped moves also by
        whether plan b has the courier (`gone`), and when (`absent`): most couriers
        first."""
        buckets: dict[tuple[Any, ...], list[Change]] = defaultdict(list)
        gone = self.gone if kind == "dropped" else frozenset()
        for c in self.of_kind(kind):
            key: tuple[Any, ...] = (c.when, c.from_zone, c.to_zone, c.was_from, c.was_to)
            if kind == "dropped":
                key += (c.courier_id in gone, self.absent(c) or (0, 0))
            buckets[key].append(c)
        return sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0][0], kv[0][1:3]))

    # ----------------------------------------------------------------- output
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``rebalance diff --format json`` prints)."""

        def when(ns: int | None) -> str | None:
            return None if ns is None else self.b.local(ns).isoformat()

        def named(fields: tuple[int, ...] | None) -> dict[str, int] | None:
            if fields is None:
                return None
            return {c: v for (c, _), v in zip(ZONE_FIELDS, fields, strict=False)}

        def item(c: Change) -> dict[str, Any]:
            out: dict[str, Any] = {
                "courier_id": c.courier_id,
                "slot_start": when(c.when),
                "from_zone": c.from_zone,
                "to_zone": c.to_zone,
            }
            if c.kind == "rerouted":
                out.update(was_slot_start=when(c.was_when), was_from=c.was_from, was_to=c.was_to)
            if c.kind != "added":
                out["why"] = [
                    {"zone_id": z, "need_before": x, "need_after": y}
                    for z, x, y in self.need_changes(c)
                ]
            if c.kind == "dropped":  # None: b's roster is unknown
                out["courier_gone"] = None if self.b.roster is None else c.courier_id in self.gone
                # None: unknown (no roster, or one without these times); else whether
                # plan b has the courier available at the move's time, and when it has
                # him (a courier b does not have is not)
                out["courier_available_then"] = None
                if out["courier_gone"]:
                    out["courier_available_then"] = False
                elif self.b.roster is not None and self.b.presence is not None:
                    span = self.absent(c)
                    out["courier_available_then"] = span is None
                    if span is not None:
                        out.update(available_from=when(span[0]), available_until=when(span[1]))
            return out

        return {
            "a": {
                "plan_id": self.a.plan_id,
                "city": self.a.city,
                "shift_start": self.a.local(self.a.shift_start).isoformat(),
            },
            "b": {
                "plan_id": self.b.plan_id,
                "city": self.b.city,
                "shift_start": self.b.local(self.b.shift_start).isoformat(),
            },
            "kpis": [{"kpi": k, "a": x, "b": y} for k, x, y in self.kpis()],
            "zones": [
                {
                    "zone_id": z,
                    "name": self.b.names.get(z) or self.a.names.get(z, ""),
                    "a": named(x),
                    "b": named(y),
                }
                for z, (x, y) in self.zones.items()
            ],
            "couriers": {
                "changed": self.changed_couriers,
                "unchanged_moves": self.unchanged,
                "under_way": self.under_way,
                "added": [item(c) for c in self.of_kind("added")],
                "dropped": [item(c) for c in self.of_kind("dropped")],
                "rerouted": [item(c) for c in self.of_kind("rerouted")],
            },
        }

    def to_json(self) -> str:
        """`to_dict` as JSON text (2-space indent)."""
        from .plan import dumps_indented

        return dumps_indented(self.to_dict()) + "\n"

    def headline(self) -> str:
        """One line: how many zones and couriers changed."""
        parts = [
            f"{len(self.zones)} zone{'s' if len(self.zones) != 1 else ''} changed",
            f"{len(self.of_kind('rerouted'))} re-routed",
            f"{len(self.of_kind('added'))} added",
            f"{len(self.of_kind('dropped'))} dropped",
            f"{self.unchanged} unchanged",
        ]
        if self.under_way:
            parts.append(f"{self.under_way} under way")
        return ", ".join(parts)

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from .views.terminal import diff_renderables

        yield from diff_renderables(self)

    def __repr__(self) -> str:
        return f"PlanDiff({self.a.plan_id} -> {self.b.plan_id}: {self.headline()})"


def diff_views(a: PlanView, b: PlanView) -> PlanDiff:
    """What changed from ``a`` (older) to ``b`` (newer); see the module doc."""
    zones: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]] = {}
    # a's numbers at b's start: a re-plan at 19:30 against the 19:00 plan compared with
    # a's 19:30 slot (slots.csv), not with a's 19:00 (which made every zone "changed")
    then = a.numbers_at(b.shift_start) if a.shift_start != b.shift_start else None
    later = bool(then)
    for z in sorted(set(a.zones) | set(b.zones)):
        x = (then or {}).get(z, a.zones.get(z))
        y = b.zones.get(z)
        if x is None or y is None:
            if x != y:
                zones[z] = (x, y)
        elif (x[:1] + x[2:] != y[:1] + y[2:]) if later else x != y:
            # at a later start, a's couriers_before (nobody moved since a's start) and
            # b's (couriers where they are now) differ by a's moves made since
            zones[z] = (x, y)
    changes: list[Change] = []
    status: dict[str, list[str]] = {}
    unchanged = under_way = 0
    # couriers on their way with no move in b: under way in b only if b has them
    # (`PlanDiff.under_way`, worked out when asked)
    on_way_only: list[str] = []
    window = b.slot_ns
    start, end = b.shift_start, b.shift_end

    def same(t0: int, to0: str, t: int, to: str) -> bool:
        """Whether a new move (t, to) keeps an old one (t0, to0): the module doc's rule."""
        return to0 == to and abs(t0 - t) < window and (t0 == start) == (t == start)

    for courier in sorted(set(a.moves) | set(b.moves)):
        old_all = a.moves.get(courier, ())
        new = b.moves.get(courier)
        if new and new[0][0] < start:  # b's own couriers on their way: not instructions
            new = [m for m in new if m[0] >= start]
        if courier in b.arrived and not any(m[0] == start for m in new or ()):
            # his move due now is carried out (couriers.csv has him there): unchanged,
            # not "no longer moving", and no later move of his is paired with it
            done = sum(1 for m in old_all if m[0] == start)
            unchanged += done
            if done:
                old_all = [m for m in old_all if m[0] != start]
        if not new:
            # Most couriers of a re-plan's previous plan: moves under way or dropped.
            # (At 10,000 zones / 1M, 146,000 of them: the loop below took 0.65 s.)
            for m in old_all:
                if m[0] < start:
                    under_way += 1
                    on_way_only.append(courier)
                elif m[0] < end:
                    changes.append(Change("dropped", courier, *m))
            continue
        if len(new) == 1 and len(old_all) == 1:
            # One move in each plan (nearly every courier of a re-plan): the rule below
            # for that case, without its lists (146,000 couriers: 1.6 -> 1.0 s)
            (t, f, to), (t0, f0, to0) = new[0], old_all[0]
            if t0 < start and t == start:
                # On his way to to0 and sent on from there now: what he does changes,
                # which section 9 charges (plan.json's changed_couriers), so compared.
                changes.append(Change("rerouted", courier, t, f, to, t0, f0, to0))
                status[courier] = ["changed"]
                continue
            if t0 < start:
                under_way += 1
            if not start <= t0 < end:
                changes.append(Change("added", courier, t, f, to))
                status[courier] = ["new"]
            elif same(t0, to0, t, to):
                unchanged += 1
                status[courier] = ["unchanged"]
            else:
                changes.append(Change("rerouted", courier, t, f, to, t0, f0, to0))
                status[courier] = ["changed"]
            continue
        old = [m for m in old_all if start <= m[0] < end]
        under_way += sum(1 for m in old_all if m[0] < start)
        marks = ["new"] * len(new)
        used = [False] * len(old)
        rest_new = []
        for i, (t, _, to) in enumerate(new):
            for j, (t0, _, to0) in enumerate(old):
                if not used[j] and same(t0, to0, t, to):
                    used[j] = True
                    marks[i] = "unchanged"
                    unchanged += 1
                    break
            else:
                rest_new.append(i)
        rest_old = [m for j, m in enumerate(old) if not used[j]]
        ahead = [m for m in old_all if m[0] < start]
        due_now = [i for i in rest_new if new[i][0] == start]
        if ahead and due_now and not (rest_old and rest_old[0][0] == start):
            # sent on now from where his move under way takes him (as above)
            i = due_now[0]
            rest_new.remove(i)
            marks[i] = "changed"
            changes.append(Change("rerouted", courier, *new[i], *ahead[-1]))
            under_way -= 1
        for i, (t0, f0, to0) in zip(rest_new, rest_old, strict=False):
            t, f, to = new[i]
            marks[i] = "changed"
            changes.append(Change("rerouted", courier, t, f, to, t0, f0, to0))
        for i in rest_new[len(rest_old) :]:
            t, f, to = new[i]
            changes.append(Change("added", courier, t, f, to))
        for t0, f0, to0 in rest_old[len(rest_new) :]:
            changes.append(Change("dropped", courier, t0, f0, to0))
        if new:
            status[courier] = marks
    return PlanDiff(a, b, zones, changes, unchanged, under_way, status, tuple(on_way_only))


def diff_plans(a: Plan, b: Plan) -> PlanDiff:
    """What changed from plan ``a`` (older) to plan ``b`` (newer)."""
    return diff_views(PlanView.of(a), PlanView.of(b))


def since_previous(plan: Plan, previous: Plan) -> pd.Series:
    """For each row of ``plan.moves``: ``new``, ``unchanged`` or ``changed`` since
    ``previous`` (the rule of `diff_views`), aligned on ``plan.moves``' index."""
    result = diff_plans(previous, plan)
    moves = plan.moves
    if moves.empty:
        return pd.Series([], index=moves.index, dtype=object)
    view = result.b
    # Each courier's moves in the view are in time order; walk the frame in the same order.
    labels = np.full(len(moves), "new", dtype=object)
    cursor: dict[str, int] = defaultdict(int)
    for pos, courier in _time_order(moves, view.shift_start):
        marks = result.status.get(courier)
        if marks is not None:
            labels[pos] = marks[cursor[courier]]
            cursor[courier] += 1
    return pd.Series(labels, index=moves.index, dtype=object)


def _time_order(moves: pd.DataFrame, start: int) -> Iterable[tuple[Any, str]]:
    """(position in ``moves``, courier) of each move, in the order of `_moves_of`."""
    frame = _sorted_moves(moves, start)
    # lists: iterating Arrow text yields one scalar at a time (0.23 s at 146,000 moves)
    return zip(frame.index.tolist(), frame["c"].tolist(), strict=True)
