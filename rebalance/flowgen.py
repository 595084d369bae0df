"""The one-slot min-cost flow by arc generation: solve on a few arcs, price the rest.

A city of 10,000 zones has ~40,000 (zone, vehicle) groups, each within range of ~200
zones: 7.8 million group -> zone arcs, of which an optimal flow uses ~15,000 moves. So
the flow is solved on a subset of the arcs, grown until no arc left out could improve
it (column generation, exact by LP duality):

1. Start with every group's stay arc, its arc to the zone a previous plan sent it to,
   and its `_FIRST_PER_GROUP` most promising moves: least move cost minus what a
   courier is worth where it lands before anything moves (its zone's shortage cost if
   the zone is short, minus its surplus cost if not).
2. Solve the min-cost flow on the subset (`rebalance.solver.min_cost_flow`, couriers who
   stay not routed: `_solve`); from the second round on, as the last round's optimum
   plus a min-cost circulation in reduced costs on the residual arcs that can be on an
   improving cycle (`_repair`; at 10,000 zones / 1M couriers the whole `solve_flow`
   took 4.5 s instead of 5.8, same optimum, same rounds; the circulations by a network
   simplex, `rebalance.solver.min_cost_circulation`: 5.7-6.9 -> 2.7-2.8 s).
3. Compute ``d[u]``, the shortest-path distance from each node to the sink in the
   residual network of that flow (Bellman-Ford, vectorised, exact integers in float64).
4. Price every arc left out: its reduced cost is ``cost + d[zone] - d[group]``. If none
   is negative, stop. Otherwise add each group's `_ADD_PER_GROUP` most negative and,
   from the second round on, every arc whose reduced cost is below `_NEAR` (a minute):
   prices still move a little, and those arcs are the next ones to turn negative. Arcs
   of the subset that carry no flow and price above `_NEAR` leave it, each at most once
   (so the rounds end). Go to 2.

Why the last subset's optimum is the full network's optimum. A feasible flow is optimal
if and only if its residual network has no cycle of negative cost. At the end, let F be
the nodes with a finite distance. (a) No residual arc of the subset goes from a node
outside F into F (its tail would then reach the sink); an arc left out whose group is
outside F prices as "not >= 0" (``inf - inf`` or ``-inf``) and so cannot be left out at
the end; so a cycle lies within F or outside it. (b) A cycle outside F uses only subset
arcs and is not negative, the subset's flow being optimal. (c) On a cycle within F,
every arc has ``cost + d[head] - d[tail] >= 0``: subset arcs by the definition of ``d``
(a fixed point of Bellman-Ford), arcs left out by the last pricing; the cycle's cost is
the sum of these, ``>= 0``. Arcs left out carry no flow, so the flow is feasible in the
full network, and optimal there: its cost is the proven optimum.

The same ``d`` is the full network's distance to the sink (a path using arcs of
non-negative reduced cost costs at least ``d`` of its start; arcs into nodes outside F
lead nowhere), which is what `rebalance.optimize.zone_values` reports as marginal
values; so they are exact too, without a Bellman-Ford over millions of arcs. Distances
are taken in that function's network (an uncapped zone can hold one more courier): it
has more residual arcs than the flow's own, so its ``d`` also satisfies every condition
above for the flow's network.

Caps can make the subset infeasible while the full network is not; then the full
network is solved, and only its answer says "infeasible" (exit 4). Small networks
(`_WHOLE_BELOW` arcs) are solved whole in one round.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypeVar

import numpy as np

from .cores import threads
from .inputs import index_dtype, unique_sorted
from .model import ARC_CHUNK, ProblemData, arc_costs, flow_network, stay_arcs
from .solver import FlowResult, min_cost_circulation, min_cost_flow, network_simplex_available

__all__ = ["OneSlotFlow", "residual_distances", "solve_flow"]

#: Moves per group in the first subset. The flow takes a round fewer with 6 than with 4
#: at 1,000 zones (0.36 -> 0.31 s) and at 5,000 (2.76 -> 2.33 s), and 0.05-0.1 s more of
#: ~4 s at 10,000 zones (benchmark cities, 2026-12-03); 4 was better than 2 or 3 (12-02),
#: 5 and 7 no better than 6. Any value gives the same optimum: only the rounds change.
_FIRST_PER_GROUP = 6
#: Most negative arcs added per group and round.
_ADD_PER_GROUP = 16
#: From the second round, arcs pricing below this (cost units: 1 minute with one slot)
#: join too, and subset arcs without flow pricing above it leave.
_NEAR = 1000
#: Networks with at most this many group arcs are solved whole, in one round. Above
#: it, generation wins even at 1,000 zones (646,752 arcs: 6 rounds on <= 52,191 arcs,
#: 0.35 s CPU, against 0.7 s for the whole network); at 200 zones (89,164 arcs) the two
#: are even (0.04 s).
_WHOLE_BELOW = 50_000
#: Arcs priced at once (bounds the temporary arrays of the pricing).
_CHUNK = 1 << 17
#: Negative arcs of one pricing chunk above which the chunk picks its groups' most
#: negative itself (`_price`).
_PRESELECT = 20_000
#: Threads pricing chunks of arcs: two, where the process may use two cores.
_THREADS = threads(2)

_T = TypeVar("_T")


@dataclass(frozen=True)
class OneSlotFlow:
    """An optimal flow on every group arc of ``p`` (zero on arcs never generated), in
    the narrowest integers that hold every courier (`index_dtype`: int32 but in a city
    of billions).

    ``distance[u]``: shortest-path distance from node u (groups, then zones, then the
    sink) to the sink in the residual network, ``inf`` where there is no path.
    ``zone_value``: the decrease of the optimum with one more courier fixed in each zone
    (minus the zone's distance), shape (zones, 1), cost units, NaN where one more cannot
    be placed. ``arcs``: arcs of the last network solved; ``arcs_in_range``: arcs of the
    whole one; ``rounds``: networks solved.
    """

    status: str
    flows: np.ndarray
    cost: int
    distance: np.ndarray
    zone_value: np.ndarray
    rounds: int
    arcs: int
    arcs_in_range: int
    seconds: dict[str, float] = field(default_factory=dict)


def solve_flow(p: ProblemData) -> OneSlotFlow:
    """Solve the one-slot min-cost flow of ``p`` to proven optimality by arc generation."""
    n_arcs, n_groups, n_zones = len(p.arc_group), len(p.group_size), len(p.zone_ids)
    n_in_range = n_arcs + 2 * n_zones
    timing = {"flow_seconds": 0.0, "potentials_seconds": 0.0, "pricing_seconds": 0.0}
    # Per arc only whether it is in the subset is held through the rounds. The costs
    # (31 MB at 10,000 zones, the flow's peak with them), which arcs are stays (7.8 MB)
    # and which have left the subset are not: costs and stays are worked out for the
    # arcs at hand (`arc_costs`: an addition), the arcs that left kept as sorted positions.
    whole = n_arcs <= _WHOLE_BELOW
    in_subset = np.ones(n_arcs, dtype=bool) if whole else _first_arcs(p)
    left_once = np.zeros(0, dtype=np.int64)
    chunks = None if whole else _group_chunks(p.arc_group, _CHUNK)  # the pricing's
    rounds = 0
    last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # arcs, flows, distances
    while True:
        rounds += 1
        arcs = None if whole else np.flatnonzero(in_subset)
        t0 = time.perf_counter()
        net = flow_network(p, arcs)
        net_stay = stay_arcs(p, arcs)
        repaired = None if arcs is None or last is None else _repair(net, arcs, *last)
        result = _solve(p, net, net_stay) if repaired is None else repaired
        timing["flow_seconds"] += time.perf_counter() - t0
        if result.status != "optimal" and not whole:
            # Caps: the subset may lack the arcs that give room; the whole network decides.
            whole = True
            continue
        if result.status != "optimal":
            return OneSlotFlow(
                "infeasible",
                np.zeros(n_arcs, dtype=np.int64),
                0,
                np.full(n_groups + n_zones + 1, np.inf),
                np.full((n_zones, 1), np.nan),
                rounds,
                len(net["tails"]),
                n_in_range,
                timing,
            )
        t0 = time.perf_counter()
        dist, converged = residual_distances(p, net, result.flows)
        if not converged and repaired is not None:
            # never seen (the repair is exact): solve the subset afresh
            result = _solve(p, net, net_stay)
            dist, converged = residual_distances(p, net, result.flows)
        timing["potentials_seconds"] += time.perf_counter() - t0
        if not converged:
            if whole:  # OR-Tools said optimal, yet its residual network has a negative cycle
                raise AssertionError("the min-cost flow solver returned a flow that is not optimal")
            whole = True  # never seen: an optimal flow has no negative cycle
            continue
        if not whole:
            assert arcs is not None
            t0 = time.perf_counter()
            added, near = _price(p, dist, in_subset, rounds > 1, chunks)
            if added.size:
                flows = result.flows[: arcs.size]
                cost = net["unit_costs"][: arcs.size]
                left_once = _leave(p, cost, dist, arcs, net_stay, flows, in_subset, left_once)
                in_subset[added] = True
                in_subset[near] = True
                last = (arcs, result.flows, dist)
            timing["pricing_seconds"] += time.perf_counter() - t0
            if added.size:
                continue
        # the per-arc arrays of the rounds go before the flows on every arc are made
        # (62 MB each at 10,000 zones: the plan's peak was here)
        del in_subset, left_once
        flows = np.zeros(n_arcs, dtype=index_dtype(int(p.group_size.sum())))
        if arcs is None:
            flows[:] = result.flows[:n_arcs]
        else:
            flows[arcs] = result.flows[: arcs.size]
        d = dist[n_groups : n_groups + n_zones]
        return OneSlotFlow(
            "optimal",
            flows,
            int(result.cost),
            dist,
            np.where(np.isfinite(d), -d, np.nan)[:, None],
            rounds,
            len(net["tails"]),
            n_in_range,
            timing,
        )


def _solve(p: ProblemData, net: dict[str, np.ndarray], stay: np.ndarray) -> FlowResult:
    """An optimal flow of a network of `rebalance.model.flow_network`, solved with the
    couriers who stay never routed. ``stay``: which of its group arcs (the first
    ``stay.size`` arcs) are stays.

    With pylmcf, and where every zone's cap holds its own couriers: the flow where
    everyone stays, improved by the best circulation (`_improved`, the network simplex:
    at 10,000 zones the first round 0.19-0.27 s instead of 0.8-1.2 s). Otherwise
    OR-Tools on the network, as follows.

    Each group whose stay arc costs nothing (every group without a previous plan's
    instruction) has its couriers start in its zone instead, and its stay arc turned
    round: zone -> group, carrying the couriers who leave (same capacity, cost 0). The
    residual network of a flow is the same arc for arc (the stay's residual arcs are the
    turned arc's: zone -> group for those who stay, group -> zone for those who leave),
    and so are the costs; but OR-Tools pushes ~15,000 movers through the groups instead
    of every courier, 12% faster at 10,000 zones (5.5 -> 4.8 s over the five solves),
    6% at 1,000. The flows are given back as ``net``'s: a stay carries the group's
    couriers minus the turned arc's flow.
    """
    tails, heads, costs = net["tails"], net["heads"], net["unit_costs"]
    if network_simplex_available():
        start = _everyone_stays(net, stay)
        if start is not None:
            return _improved(net, start)
    free = np.flatnonzero(stay & (costs[: stay.size] == 0))
    group, zone = tails[free], heads[free]
    turned_tails, turned_heads = tails.copy(), heads.copy()
    turned_tails[free], turned_heads[free] = zone, group
    supplies = net["supplies"].copy()
    couriers = supplies[group]
    supplies[group] = 0
    supplies += np.bincount(zone, weights=couriers, minlength=supplies.size).astype(np.int64)
    result = min_cost_flow(
        tails=turned_tails,
        heads=turned_heads,
        capacities=net["capacities"],
        unit_costs=costs,
        supplies=supplies,
    )
    if result.status != "optimal":
        return result
    flows = np.array(result.flows, dtype=np.int64)
    flows[free] = couriers - flows[free]
    return FlowResult(result.status, flows, result.cost, result.detail)


def _everyone_stays(net: dict[str, np.ndarray], stay: np.ndarray) -> np.ndarray | None:
    """The flow of ``net`` where every courier stays in their zone, or None when it does
    not fit (a capped zone holding more couriers than its cap) or a group has no stay
    arc among ``stay`` (its group arcs' stays)."""
    tails, heads, caps = net["tails"], net["heads"], net["capacities"]
    supplies = net["supplies"]
    n_groups = int(np.count_nonzero(supplies[:-1] > 0)) if supplies.size else 0
    flows = np.zeros(tails.size, dtype=np.int64)
    groups = tails[: stay.size][stay]
    if groups.size != n_groups or np.unique(groups).size != groups.size:
        return None
    flows[: stay.size][stay] = supplies[groups]
    # each zone's couriers on its covered arc up to its capacity, the rest on its surplus
    # arc (`rebalance.model.flow_network`: group arcs, then covered, then surplus arcs)
    n_zones = (tails.size - stay.size) // 2
    zone_node = tails[stay.size : stay.size + n_zones]
    held = np.bincount(heads[: stay.size], weights=flows[: stay.size], minlength=supplies.size)
    held = held[zone_node].astype(np.int64)
    covered = np.minimum(held, caps[stay.size : stay.size + n_zones])
    flows[stay.size : stay.size + n_zones] = covered
    flows[stay.size + n_zones :] = held - covered
    if (flows > caps).any():
        return None
    return flows


def _improved(net: dict[str, np.ndarray], start: np.ndarray) -> FlowResult:
    """An optimal flow of ``net`` from a feasible one: ``start`` plus a min-cost
    circulation in its residual network (`rebalance.solver.min_cost_circulation`).

    From everyone staying, the negative residual arcs are few (the short zones' covered
    arcs, ~2% of the first subset's at 10,000 zones): the network simplex takes 0.19-0.27
    s for the first round there, where OR-Tools took 0.8-1.2 s on the network itself."""
    costs = np.asarray(net["unit_costs"], dtype=np.int64)
    fwd, bwd = np.flatnonzero(start < net["capacities"]), np.flatnonzero(start > 0)
    circulation = min_cost_circulation(
        *_residual_arcs(net, start, fwd, bwd),
        _residual_costs(costs, fwd, bwd),
        len(net["supplies"]),
    )
    flows = _moved(start, fwd, bwd, circulation.flows)
    return FlowResult("optimal", flows, int(costs @ flows), f"{circulation.detail} from stays")


def _residual_arcs(
    net: dict[str, np.ndarray], flows: np.ndarray, fwd: np.ndarray, bwd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tails, heads and room of the residual arcs of ``flows`` on ``net``: the arcs
    ``fwd`` as they are (room: capacity minus flow), then ``bwd`` turned round (room:
    their flow)."""
    tails, heads, caps = net["tails"], net["heads"], net["capacities"]
    return (
        np.concatenate([tails[fwd], heads[bwd]]),
        np.concatenate([heads[fwd], tails[bwd]]),
        np.concatenate([caps[fwd] - flows[fwd], flows[bwd]]),
    )


def _residual_costs(costs: np.ndarray, fwd: np.ndarray, bwd: np.ndarray) -> np.ndarray:
    """The costs of `_residual_arcs`: a turned arc gives its cost back."""
    return np.concatenate([costs[fwd], -costs[bwd]])


def _moved(flows: np.ndarray, fwd: np.ndarray, bwd: np.ndarray, change: np.ndarray) -> np.ndarray:
    """``flows`` plus a circulation on `_residual_arcs` (an arc may be in both)."""
    out = flows.astype(np.int64, copy=True)
    np.add.at(out, fwd, change[: fwd.size])
    np.subtract.at(out, bwd, change[fwd.size :])
    return out


def _repair(
    net: dict[str, np.ndarray],
    arcs: np.ndarray,
    last_arcs: np.ndarray,
    last_flows: np.ndarray,
    dist: np.ndarray,
) -> FlowResult | None:
    """An optimal flow of ``net`` (the subset ``arcs``) from the last round's optimum:
    its flow plus a min-cost circulation in its residual network. None when the last
    round's distances are not all finite (the reduced costs below need them).

    The last round's ``dist`` makes every residual arc it had cost ``>= 0`` in reduced
    terms (``cost + d[head] - d[tail]``); the arcs that joined carry no flow, and only
    those pricing negative cost ``< 0``; the arcs that left carried no flow. So the last
    flow is feasible here, and an optimal circulation on top of it, in reduced costs,
    makes it optimal. Such a circulation is a sum of cycles, none of positive cost
    (leaving one out would be cheaper), each using each arc once: the negative part of
    a cycle is at least minus ``bound``, the sum of the joined arcs' negative reduced
    costs, and so no arc pricing above ``bound`` is on one. The circulation is solved
    without them: in the last round of a 10,000-zone city (27 arcs joined, bound 7
    minutes) 184,000 of 208,000 residual arcs are left, and OR-Tools takes 0.30 s
    instead of 0.60 s for solving the subset afresh (costs within +-bound: fewer
    cost-scaling phases). Earlier rounds, whose bound leaves every arc, still take 4-17%
    less (the flow already in place is optimal but for the joined arcs). With pylmcf
    installed the circulation goes to a network simplex, which starts from the flow in
    place rather than from the largest cost (`rebalance.solver.min_cost_circulation`),
    in the costs, own or reduced, where its negative arcs hold fewer couriers: the five
    repairs at 10,000 zones 0.07-0.44 s each instead of 0.4-1.4 s. `solve_flow` checks
    the result as it checks any: its residual network has no negative cycle.
    """
    if not np.isfinite(dist).all():
        return None
    tails, heads = net["tails"], net["heads"]
    costs = np.asarray(net["unit_costs"], dtype=np.int64)
    flows = _carried(arcs, last_arcs, last_flows)
    # reduced costs: integers, exact in float64 (see residual_distances)
    reduced = np.rint(costs + dist[heads] - dist[tails]).astype(np.int64)
    fwd, bwd = np.flatnonzero(flows < net["capacities"]), np.flatnonzero(flows > 0)
    unit = _residual_costs(reduced, fwd, bwd)
    bound = -int(unit[unit < 0].sum())
    use = np.flatnonzero(unit <= bound)
    fwd_count = int(np.searchsorted(use, fwd.size))
    fwd, bwd = fwd[use[:fwd_count]], bwd[use[fwd_count:] - fwd.size]
    unit = unit[use]
    del reduced, use  # the circulation's solver is the peak: only its input stays
    tail, head, room = _residual_arcs(net, flows, fwd, bwd)
    basis = "reduced"
    if network_simplex_available():
        # The same circulation in the arcs' own costs: they differ from the reduced
        # ones by potentials, which no circulation's cost sees (it enters and leaves
        # each node alike). The network simplex starts by saturating the negative arcs,
        # so it gets the costs where those hold fewer couriers: its own in the early
        # rounds, where most joined arcs price negative (round 2 at 10,000 zones: 5% of
        # the arcs instead of 61%, 0.44 s instead of 2.6 s, OR-Tools 0.9-1.3 s), the
        # reduced ones once few arcs join.
        own = _residual_costs(costs, fwd, bwd)
        if room[own < 0].sum() < room[unit < 0].sum():
            unit, basis = own, "own"
        del own
    circulation = min_cost_circulation(tail, head, room, unit, len(net["supplies"]))
    if circulation.status != "optimal":
        return None
    flows = _moved(flows, fwd, bwd, circulation.flows)
    return FlowResult("optimal", flows, int(costs @ flows), f"{circulation.detail}, {basis} costs")


def _carried(arcs: np.ndarray, last_arcs: np.ndarray, last_flows: np.ndarray) -> np.ndarray:
    """The last round's flows (on its network of the subset ``last_arcs``) on this
    round's network of the subset ``arcs``: arcs that joined carry nothing, arcs that
    left carried nothing, and the zones' arcs come last in both, in the same order."""
    m, m_last = arcs.size, last_arcs.size
    flows = np.zeros(m + last_flows.size - m_last, dtype=np.int64)
    at = np.searchsorted(arcs, last_arcs)
    kept = at < m
    kept[kept] = arcs[at[kept]] == last_arcs[kept]
    flows[at[kept]] = last_flows[:m_last][kept]
    flows[m:] = last_flows[m_last:]
    return flows


def _least_per_run(value: np.ndarray, keys: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` smallest finite values in each run of equal ``keys`` (ties to
    the first position), by run minima rather than a sort. ``value`` holds no NaN."""
    if value.size == 0:
        return np.zeros(0, dtype=bool)
    starts, lengths = _runs(keys)
    if k > 0 and 8 * k * starts.size < value.size:
        # Long runs (a group's ~200 arcs, 4 wanted): the largest of the minima of k
        # disjoint parts of a run is at least its k-th smallest value, so only values up
        # to it can be chosen. One pass keeps those few; the rounds below run on them.
        # (Parts of runs shorter than k are empty or repeated, and their bound is not
        # used; their starts still end the part before them.)
        parts = (starts[:, None] + lengths[:, None] * np.arange(k) // k).ravel()
        bound = np.minimum.reduceat(value, parts).reshape(-1, k).max(axis=1)
        bound[lengths < k] = np.inf
        candidate = np.flatnonzero(value <= np.repeat(bound, lengths))
        keep = np.zeros(value.size, dtype=bool)
        if candidate.size:
            chosen = _least_by_rounds(value[candidate], *_runs(keys[candidate]), k)
            keep[candidate[chosen]] = True
        return keep
    return _least_by_rounds(value, starts, lengths, k)


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of equal ``keys`` (not empty)."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.diff(np.r_[starts, keys.size])


def _least_by_rounds(
    value: np.ndarray, starts: np.ndarray, lengths: np.ndarray, k: int
) -> np.ndarray:
    """`_least_per_run` by k rounds of run minima, the runs given by `_runs`."""
    keep = np.zeros(value.size, dtype=bool)
    value = value.astype(float, copy=True)
    for _ in range(k):
        best = np.minimum.reduceat(value, starts)
        hit = np.flatnonzero(value == np.repeat(best, lengths))
        # the run of each hit (hits are few: about one per run), then the first per run
        run = np.searchsorted(starts, hit, side="right")
        hit = hit[np.r_[True, run[1:] != run[:-1]]]
        hit = hit[value[hit] < np.inf]
        if hit.size == 0:
            break
        keep[hit] = True
        value[hit] = np.inf
    return keep


def _first_arcs(p: ProblemData) -> np.ndarray:
    """Every group's stay arc, its arc to the zone a previous plan sent it to, and its
    `_FIRST_PER_GROUP` moves of least cost minus what one more courier is worth where
    it lands before anything moves.

    And, for each group in a capped zone, its cheapest move to an uncapped zone: an
    uncapped zone holds any number of couriers, so with those arcs the subset is feasible
    whenever every capped zone's couriers can reach an uncapped one, and caps do not
    send a large city to the whole network (7.8 million arcs at 10,000 zones)."""
    keep = np.zeros(len(p.arc_group), dtype=bool)
    previous = bool((p.group_prev >= 0).any())
    short = p.required > p.couriers_before
    worth = np.where(short, -p.shortage_cost, p.surplus_cost).astype(float)
    capped = ~np.isnan(p.cap)
    any_capped = bool(capped.any())

    def pick(lo: int, hi: int) -> None:
        part = slice(lo, hi)
        group, zone, mine = p.arc_group[part], p.arc_zone[part], keep[part]
        stay = zone == p.group_zone[group]
        mine |= stay
        cost = arc_costs(p, stay, arcs=part)
        if previous:
            mine |= zone == p.group_prev[group]
        score = worth[zone]  # a new array: the score is built in place
        score += cost
        score[stay] = np.inf
        mine |= _least_per_run(score, group, _FIRST_PER_GROUP)
        if any_capped:
            out = np.flatnonzero(capped[p.group_zone[group]] & ~capped[zone])
            mine[out[_least_per_run(cost[out].astype(float), group[out], 1)]] = True

    # arcs are contiguous per group (reach.group_arcs): chunks of whole groups, so that
    # the scores and their temporaries are a few MB, not 62 MB each at 10,000 zones;
    # each chunk writes its own rows of ``keep``, on two threads as the pricing does
    chunks = _group_chunks(p.arc_group, ARC_CHUNK)
    _in_chunks(pick, len(p.arc_group), ARC_CHUNK, [(c.start, c.stop) for c in chunks])
    return keep


def _group_chunks(groups: np.ndarray, size: int) -> list[slice]:
    """Slices of about ``size`` rows (more only for one longer run) covering
    ``groups``, each ending where a run of equal values ends."""
    n = groups.size
    if n <= size:
        return [slice(0, n)]
    starts = np.flatnonzero(groups[1:] != groups[:-1]) + 1  # where a run starts
    at = np.searchsorted(starts, np.arange(size, n, size))  # the first at or after
    bounds = unique_sorted(np.r_[0, starts[at[at < starts.size]], n])
    return [slice(a, b) for a, b in pairwise(bounds.tolist())]


def _price(
    p: ProblemData,
    dist: np.ndarray,
    in_subset: np.ndarray,
    near: bool,
    chunks: list[slice] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Arcs left out that join: each group's `_ADD_PER_GROUP` most negative (reduced cost
    ``cost + d[zone] - d[group]``, "not >= 0" counting as negative), and, if ``near``,
    every other one pricing below `_NEAR`. Sorted positions.

    ``chunks``: `_group_chunks` of the arcs (made here when not given). Each chunk holds
    whole groups, so a chunk with more than `_PRESELECT` negative arcs picks its groups'
    most negative itself and keeps only those: in the first round at 10,000 zones
    millions of arcs price negative, and their positions and reduced costs held together
    were ~40 MB, the flow's peak (now ~10 MB, below the repair's). Picking in every
    chunk, or above 4,096, cost 0.05 s of ~0.26 s over the five rounds there."""
    n_groups = len(p.group_size)
    d_group = dist[:n_groups]
    d_zone = dist[n_groups:-1]

    def part(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore"):
            # inf - inf (a group and a zone without a path) is NaN: "not >= 0", a
            # candidate, as every arc of a group with no path (-inf) is; a finite
            # group's arc into a zone with no path costs +inf, never one.
            rc = arc_costs(p, arcs=slice(lo, hi)) + d_zone[p.arc_zone[lo:hi]]
            rc -= d_group[p.arc_group[lo:hi]]
            negative = ~(rc >= 0)
            out = ~in_subset[lo:hi]
            idx = np.flatnonzero(negative & out)
            near_idx = (
                np.flatnonzero((rc < _NEAR) & ~negative & out) + lo
                if near
                else np.zeros(0, dtype=np.int64)
            )
            value = np.where(np.isnan(rc[idx]), -np.inf, rc[idx])
            idx += lo
            if idx.size > _PRESELECT:
                best = _least_per_run(value, p.arc_group[idx], _ADD_PER_GROUP)
                idx, value = idx[best], value[best]
            return idx, value, near_idx

    if chunks is None:
        chunks = _group_chunks(p.arc_group, _CHUNK)
    bounds = [(c.start, c.stop) for c in chunks]
    parts = _in_chunks(part, len(p.arc_group), _CHUNK, bounds)
    neg_arc, neg_rc, near_arc = zip(*parts, strict=True)
    arc = np.concatenate(neg_arc)
    rc = np.concatenate(neg_rc)
    # a chunk's choice is its groups' whole choice (order kept), so choosing again
    # over every chunk's arcs changes nothing for them
    added = arc[_least_per_run(rc, p.arc_group[arc], _ADD_PER_GROUP)]
    return added, np.concatenate(near_arc)


def _in_chunks(
    fn: Callable[[int, int], _T], n: int, size: int, bounds: list[tuple[int, int]] | None = None
) -> list[_T]:
    """``[fn(lo, hi) for each chunk lo:hi of range(n)]`` (or of ``bounds``), the chunks
    shared by two threads: numpy leaves the interpreter lock on large arrays, so the
    pricing of 7.8 million arcs takes less time on two cores (0.35-0.40 -> 0.25-0.30 s
    over five rounds at 10,000 zones). Results in chunk order."""
    if bounds is None:
        bounds = [(lo, min(lo + size, n)) for lo in range(0, max(n, 1), size)]
    if len(bounds) == 1 or _THREADS < 2:
        return [fn(lo, hi) for lo, hi in bounds]
    with ThreadPoolExecutor(_THREADS) as pool:
        return list(pool.map(lambda b: fn(*b), bounds))


def _leave(
    p: ProblemData,
    cost: np.ndarray,
    dist: np.ndarray,
    arcs: np.ndarray,
    stay: np.ndarray,
    flows: np.ndarray,
    in_subset: np.ndarray,
    left_once: np.ndarray,
) -> np.ndarray:
    """Subset arcs without flow that price above `_NEAR` leave it, once each at most.

    ``cost`` and ``stay``: the costs of ``arcs`` and which are stays (those never
    leave). ``left_once``: the sorted positions of the arcs that left before; returned
    with those that leave now."""
    n_groups = len(p.group_size)
    with np.errstate(invalid="ignore"):
        rc = cost + dist[n_groups:-1][p.arc_zone[arcs]] - dist[p.arc_group[arcs]]
    leave = arcs[(flows == 0) & (rc > _NEAR) & ~stay]  # sorted, as ``arcs`` is
    at = np.searchsorted(left_once, leave)
    left_before = at < left_once.size
    left_before[left_before] = left_once[at[left_before]] == leave[left_before]
    leave = leave[~left_before]
    in_subset[leave] = False
    # two sorted runs of distinct positions: a merge (numpy's union1d took 0.15 s here)
    merged = np.concatenate([left_once, leave])
    merged.sort(kind="stable")
    return merged


def residual_distances(
    p: ProblemData, net: dict[str, np.ndarray], flows: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Shortest-path distance from every node to the sink in the residual network of an
    optimal flow on ``net`` (`rebalance.model.flow_network`), ``inf`` where there is none;
    and whether Bellman-Ford converged (it does when there is no negative cycle, i.e. at
    an optimum).

    The network is the one of `rebalance.optimize.zone_values`: an uncapped zone may
    hold one more courier (its covered arc up to ``required``, its surplus arc
    unbounded). Costs are integers, exact in float64.
    """
    tails, heads = net["tails"], net["heads"]
    caps = net["capacities"].copy()
    cost = np.asarray(net["unit_costs"], dtype=np.int64)
    n_zones = len(p.zone_ids)
    n_arcs = len(tails) - 2 * n_zones
    uncapped = np.isnan(p.cap)
    covered = slice(n_arcs, n_arcs + n_zones)
    caps[covered] = np.where(uncapped, p.required, caps[covered])
    caps[n_arcs + n_zones :] = np.where(uncapped, np.iinfo(np.int64).max, caps[n_arcs + n_zones :])
    fwd = flows < caps
    bwd = flows > 0
    u = np.concatenate([tails[fwd], heads[bwd]])
    v = np.concatenate([heads[fwd], tails[bwd]])
    w = np.concatenate([cost[fwd], -cost[bwd]]).astype(float)
    # Arcs grouped by head: a round relaxes only the arcs into nodes whose distance
    # changed in the round before (the others cannot improve their tail again). Each
    # round is the same as a round of Bellman-Ford over every arc, in a fraction of the
    # work (0.6 s -> 0.27 s over five rounds of generation at 10,000 zones).
    n_nodes = len(net["supplies"])
    order = np.argsort(v, kind="stable")
    u, v, w = u[order], v[order], w[order]
    first = np.searchsorted(v, np.arange(n_nodes + 1))
    dist = np.full(n_nodes, np.inf)
    dist[n_nodes - 1] = 0.0
    changed = np.array([n_nodes - 1])
    for _ in range(n_nodes):
        lo, count = first[changed], first[changed + 1] - first[changed]
        total = int(count.sum())
        if total == 0:
            return dist, True
        # positions lo[i] .. lo[i] + count[i] - 1 of every changed node, concatenated
        arc = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(total)
        tail = u[arc]
        best = dist[v[arc]] + w[arc]
        better = best < dist[tail]
        if not better.any():
            return dist, True
        tail, best = tail[better], best[better]
        np.minimum.at(dist, tail, best)
        changed = unique_sorted(tail)
    return dist, False
