"""`make bench`: how fast `rebalance plan` is, next to what users would write instead.

For each size it times `rebalance plan` of one 30-minute slot (the min-cost flow of
CONTRACT section 2, which the baselines model too) as a whole process (wall time, peak
RSS), its stages, the floor (pandas reading the same CSV files and nothing else), the
analyst's PuLP/CBC model and a greedy heuristic, then prints markdown tables. Every
measured command runs in a fresh process, started and reaped (``os.wait4``) by the small
`rusage.py`, so its own peak RSS is known; plan and floor run in turn in the same two
memory states (`settle`: fresh and reused).

    .venv/bin/python benchmarks/run.py                 # everything (PuLP limit 600 s)
    .venv/bin/python benchmarks/run.py --quick         # small + medium, PuLP limit 120 s
    .venv/bin/python benchmarks/run.py --write-readme  # also update benchmarks/README.md
    .venv/bin/python benchmarks/run.py --shapes ...    # every shape of city (shapes.py)

Instances are generated once (fixed seed) and cached in benchmarks/.work/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
README = HERE / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
SHIFT = "2026-11-30T19:00"
SEED = 2026
PY = sys.executable
sys.path.insert(0, str(ROOT))
from benchmarks.probe import ONE_SLOT_END  # noqa: E402

# name: (zones, couriers); restaurants are 40% of couriers.
SIZES: dict[str, tuple[int, int]] = {
    "small": (20, 600),
    "medium": (200, 20_000),
    "large": (1_000, 100_000),
}
LINEARITY = (12_500, 25_000, 50_000, 100_000)  # couriers, at 1,000 zones


# ------------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Run:
    """One process: wall seconds, peak resident memory (MB), exit code and stdout."""

    wall: float
    rss_mb: float
    cpu: float  # user + system seconds of the process and its waited-for children
    code: int
    stdout: str
    stderr: str = ""
    timed_out: bool = False
    #: system seconds of those (in ``cpu``): on this machine mostly first touches of
    #: memory (see benchmarks/README.md, "Memory is time here")
    sys: float = 0.0

    def json(self) -> Any:
        """Stdout as JSON (plan.json; probes and baselines print one line)."""
        return json.loads(self.stdout)


def generate_in_child(path: Path, **options: Any) -> None:
    """``rebalance.generate.generate_city(path, **options)`` in a child process.

    Generating a 10,000-zone city takes ~1 GB, which this process need not hold. (It
    once also kept that figure out of every later command's peak RSS, which starts from
    its parent's high-water mark; `measure` now starts commands from `rusage.py`.)
    """
    code = (
        "import json, sys\n"
        "from rebalance.generate import generate_city\n"
        "generate_city(sys.argv[1], force=True, **json.loads(sys.argv[2]))\n"
    )
    subprocess.run([PY, "-c", code, str(path), json.dumps(options)], check=True, cwd=ROOT)


def measure(cmd: list[str], timeout: float | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` in a fresh process group; its wall time and its own peak RSS.

    It is started by `rusage.py`, a ~10 MB process, not by this one: a child's peak RSS
    starts at the high-water mark of the process that started it, and this one grows
    as it reads plans (a 200-zone plan read 360 MB after the 10,000-zone runs).
    ``os.wait4`` there gives the command's usage alone (max over it and the
    descendants it waited for, e.g. PuLP's CBC), unlike RUSAGE_CHILDREN which is over
    all children.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        report = Path(tmp) / "rusage.json"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [PY, "-I", "-S", str(HERE / "rusage.py"), str(report), *cmd],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            start_new_session=True,
            env=None if env is None else {**os.environ, **env},
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        proc.wait()
        wall = time.perf_counter() - t0
        if timer:
            timer.cancel()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()[-2000:]
        if not report.exists():  # killed at the time limit, or the wrapper failed
            return Run(wall, 0.0, 0.0, proc.returncode or -9, stdout, stderr, expired.is_set())
        usage = json.loads(report.read_text())
        return Run(
            wall=usage["wall"],
            rss_mb=usage["maxrss_kb"] / 1024,
            cpu=usage["user"] + usage["sys"],
            sys=usage["sys"],
            code=usage["code"],
            stdout=stdout,
            stderr=stderr,
            timed_out=expired.is_set(),
        )


def checked(run: Run, what: str) -> Run:
    """``run``, or exit with its stderr if it failed."""
    if run.code != 0:
        sys.exit(f"{what} failed (exit {run.code}):\n{run.stderr}")
    return run


#: Idle seconds before a "fresh memory" run: this VM hands freed memory back to its
#: host within ~2-6 s (a process touching 1 GB took 0.2-0.3 s after 0-1 s idle, 0.9-1.2 s
#: after 2-4 s and 1.8-1.9 s after 6-9 s; 2026-12-04).
COLD_SECONDS = 10.0
#: MB a "reused memory" run's warm-up touches beyond the command's own peak in its fresh run.
WARM_SLACK_MB = 256


def settle(state: str, peak_mb: float) -> Run | None:
    """Put the machine's free memory in ``state`` before a measured command starts.

    ``"fresh"``: idle `COLD_SECONDS`, so every page the command touches first is new to
    it, as for an operator's or a cron job's one plan on an idle machine (on this VM each
    such MB costs ~2.5 ms in the kernel, see benchmarks/README.md). ``"reused"``: a
    process touches and frees more memory than the command will use (``peak_mb`` plus
    `WARM_SLACK_MB`) just before it, so the command gets pages in use moments ago, as on a
    busy machine or one without a memory balloon. Returns that process's run.
    """
    if state == "fresh":
        time.sleep(COLD_SECONDS)
        return None
    if state != "reused":
        raise ValueError(f"unknown memory state {state!r}")
    size = int((max(peak_mb, 0.0) + WARM_SLACK_MB) * 1e6)
    code = f"import numpy as np; a = np.ones({size} // 8); a[::512] += 1"
    return checked(measure([PY, "-c", code]), "warm-up")


STATES = ("fresh", "reused")


def in_states(
    cmds: dict[str, list[str]], n: int, exits: dict[str, tuple[int, ...]] | None = None
) -> dict[tuple[str, str], list[Run]]:
    """Each command of ``cmds`` (name: argv), ``n`` times in turn, in both memory states
    (`settle`); fresh first, its peak sizing the reused run's warm-up. Commands measured
    against each other (a plan and its floor) so start in the same state. A command
    exiting other than 0 (or one of ``exits[name]``) stops the benchmark."""
    runs: dict[tuple[str, str], list[Run]] = {}
    for _ in range(n):
        for name, cmd in cmds.items():
            peak = 0.0
            for state in STATES:
                settle(state, peak)
                run = measure(cmd)
                if run.code not in (exits or {}).get(name, (0,)):
                    checked(run, name)
                peak = max(peak, run.rss_mb)
                runs.setdefault((name, state), []).append(run)
    return runs


def repeat(cmd: list[str], n: int, what: str) -> tuple[float, float, list[Run]]:
    """Median wall and max peak RSS over ``n`` fresh runs."""
    runs = [checked(measure(cmd), what) for _ in range(n)]
    return statistics.median(r.wall for r in runs), max(r.rss_mb for r in runs), runs


def median_cpu(runs: list[Run]) -> float:
    """Median CPU seconds (user + system): less sensitive than wall to a busy machine."""
    return statistics.median(r.cpu for r in runs)


def byte_compile() -> None:
    """Byte-compile the rebalance package before timing it, as `pip install` does.

    An editable install (``make``'s) ships no ``.pyc`` files, and where
    PYTHONDONTWRITEBYTECODE is set (it is on the machine these figures come from) Python never writes them,
    so every run would compile ~20 modules from source (0.2-0.3 s) that an installed
    `rebalance` loads from its cache. The floor's pandas is byte-compiled by pip.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "rebalance"), quiet=1)


def rebalance_cmd() -> list[str]:
    """The installed console script, as users run it."""
    script = Path(PY).parent / "rebalance"
    return [str(script)] if script.exists() else [PY, "-m", "rebalance"]


# ------------------------------------------------------------------------- instances


def instance(zones: int, couriers: int) -> Path:
    """The cached synthetic city of that size (restaurants = 40% of couriers)."""
    restaurants = round(0.4 * couriers)
    path = WORK / f"z{zones}_c{couriers}_r{restaurants}_s{SEED}"
    if not (path / ".complete").exists():
        generate_in_child(path, zones=zones, couriers=couriers, restaurants=restaurants, seed=SEED)
        (path / ".complete").touch()
    return path


# ---------------------------------------------------------------------------- sizes


@dataclass
class SizeResult:
    """Everything measured on one instance."""

    name: str
    zones: int
    couriers: int
    stages: dict[str, Any]
    #: medians per memory state ("fresh", "reused": `settle`)
    plan_wall: dict[str, float]
    plan_cpu: dict[str, float]
    plan_rss: float
    plan: dict[str, Any]
    floor_wall: dict[str, float]
    floor_cpu: dict[str, float]
    floor_rss: float
    floor_read: float
    greedy: dict[str, Any]
    pulp: dict[str, Any] | None = None
    pulp_run: Run | None = None
    pulp_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def plan_command(path: Path) -> list[str]:
    """`rebalance plan` of one 30-minute slot: the min-cost flow of CONTRACT section 2,
    the model the baselines below solve too (the default 4-hour shift is the slot model,
    measured by slots_bench.py against its own PuLP model)."""
    return [
        *rebalance_cmd(),
        *("plan", str(path), "--shift-start", SHIFT, "--shift-end", ONE_SLOT_END),
        *("--format", "json"),
    ]


def nearest_median(runs: list[Run]) -> Run:
    """The run whose wall time is nearest the median of ``runs`` (whose plan.json is shown)."""
    wall = statistics.median(r.wall for r in runs)
    return min(runs, key=lambda r: abs(r.wall - wall))


def medians(runs: list[Run]) -> tuple[float, float]:
    """Median wall and median CPU seconds of ``runs``."""
    return statistics.median(r.wall for r in runs), median_cpu(runs)


def bench_plan(
    path: Path, n: int, floor: bool = True
) -> tuple[dict[tuple[str, str], list[Run]], dict[str, Any], dict[str, Any]]:
    """`rebalance plan` end to end (and the floor, in turn with it), ``n`` times in each
    memory state (`in_states`): the runs by (``"plan"`` or ``"floor"``, state), the
    plan.json of the fresh run nearest the median, and the in-process stage times (median
    of n probes, key by key)."""
    cmds = {"plan": plan_command(path)}
    if floor:
        cmds["floor"] = [PY, str(HERE / "probe.py"), "floor", str(path)]
    runs = in_states(cmds, n)
    plan = nearest_median(runs["plan", "fresh"]).json()
    probe = [PY, str(HERE / "probe.py"), "stages", "--one-slot", str(path)]
    probes = [checked(measure(probe), "stages").json() for _ in range(n)]
    stages = {
        k: statistics.median(p[k] for p in probes) if isinstance(v, float) else v
        for k, v in probes[0].items()
    }
    return runs, plan, stages


def by_state(runs: dict[tuple[str, str], list[Run]], what: str) -> tuple[dict, dict, float]:
    """Median wall and CPU per state, and the max peak RSS, of ``what``'s runs."""
    wall, cpu = {}, {}
    for state in STATES:
        wall[state], cpu[state] = medians(runs[what, state])
    rss = max(r.rss_mb for (w, _), rs in runs.items() if w == what for r in rs)
    return wall, cpu, rss


def bench_size(name: str, args: argparse.Namespace) -> SizeResult:
    """All measurements of one size."""
    zones, couriers = SIZES[name]
    path = instance(zones, couriers)
    log(f"[{name}] {zones} zones / {couriers} couriers: rebalance plan and floor x{args.repeat}")
    runs, plan, stages = bench_plan(path, args.repeat)
    plan_wall, plan_cpu, plan_rss = by_state(runs, "plan")
    floor_wall, floor_cpu, floor_rss = by_state(runs, "floor")
    floor_read = statistics.median(
        r.json()["read_seconds"] for (w, _), rs in runs.items() if w == "floor" for r in rs
    )
    log(f"[{name}] greedy")
    greedy = checked(measure([PY, str(HERE / "baselines.py"), "greedy", str(path)]), "greedy")
    result = SizeResult(
        name,
        zones,
        couriers,
        stages,
        plan_wall,
        plan_cpu,
        plan_rss,
        plan,
        floor_wall,
        floor_cpu,
        floor_rss,
        floor_read,
        greedy.json(),
    )
    if args.no_pulp:
        result.pulp_note = "skipped (--no-pulp)"
    elif name == "large" and not args.pulp_at_1000:
        result.pulp_note = (
            f"skipped: {stages['binaries']:,} binaries, >10 min expected; run with --pulp-at-1000"
        )
    else:
        limit = args.pulp_limit
        log(f"[{name}] PuLP/CBC, {stages['binaries']:,} binaries, limit {limit:.0f} s")
        cmd = [PY, str(HERE / "baselines.py"), "pulp", str(path), "--time-limit", str(limit)]
        # CBC checks its limit only between phases: past limit + 60 s the process is killed.
        with tempfile.TemporaryDirectory(prefix="pulp-") as tmp:  # CBC's MPS files, even if killed
            run = measure(cmd, timeout=limit + 60, env={"TMPDIR": tmp})
        result.pulp_run = run
        if run.timed_out:
            result.pulp_note = (
                f"did not finish in {limit:.0f} s: killed after {run.wall:.0f} s, no solution"
            )
        elif run.code != 0:
            result.pulp_note = f"failed (exit {run.code}): {run.stderr.strip().splitlines()[-1:]}"
        else:
            result.pulp = run.json()
    return result


def log(message: str) -> None:
    """Progress on stderr; tables go to stdout."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- tables


def table_row(measure: str, cells: list[str], peak: str = "") -> None:
    """Print one row of a "measure | fresh s | reused s | peak RSS MB" table."""
    print(f"| {measure} | " + " | ".join(cells) + f" | {peak} |")


def paired_table(
    command: str,
    name: str,
    wall: dict[str, float],
    cpu: dict[str, float],
    peak: str,
    floor_wall: dict[str, float],
    floor_rss: float,
) -> None:
    """The head of the table of a command paired with its floor (`in_states`, `by_state`):
    its wall, CPU and peak, the floor's, and their ratio per memory state; rows of
    in-process measures may follow (`table_row`)."""
    print("| measure | fresh s | reused s | peak RSS MB |")
    print("|---|---:|---:|---:|")
    table_row(f"`{command}` (whole process)", [f"{wall[k]:.2f}" for k in STATES], peak)
    table_row("CPU of that process (user + system)", [f"{cpu[k]:.2f}" for k in STATES])
    table_row(
        "floor: import pandas, read the same CSV files (pyarrow)",
        [f"{floor_wall[k]:.2f}" for k in STATES],
        f"{floor_rss:,.0f}",
    )
    table_row(f"{name} / floor", [f"{wall[k] / floor_wall[k]:.1f}x" for k in STATES])


def machine() -> dict[str, str]:
    """CPU model, cores, RAM and versions of what the numbers depend on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{mem_kb / 1024**2:.1f} GB"
    except OSError:
        ram = "unknown"
    versions = subprocess.run(
        [
            PY,
            "-c",
            "import ortools, pandas, numpy, pyarrow, pulp; print(ortools.__version__, "
            "pandas.__version__, numpy.__version__, pyarrow.__version__, pulp.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        "CPU": cpu,
        "cores": str(len(os.sched_getaffinity(0))),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "OR-Tools": versions[0],
        "pandas": versions[1],
        "numpy": versions[2],
        "pyarrow": versions[3],
        "PuLP": versions[4],
    }


def s(x: float | None, digits: int = 2) -> str:
    """Seconds (or any float) for a table cell."""
    return "–" if x is None else f"{x:.{digits}f}"


def both(values: dict[str, float], bold: bool = False, digits: int = 2) -> str:
    """``fresh / reused`` of a figure measured in both memory states (`by_state`)."""
    fresh = s(values["fresh"], digits)
    return f"{f'**{fresh}**' if bold else fresh} / {s(values['reused'], digits)}"


def ratio(
    top: dict[str, float], bottom: dict[str, float], extra: float = 0.0, digits: int = 1
) -> str:
    """``fresh / reused`` of top / (bottom + extra)."""
    return " / ".join(f"{top[k] / (bottom[k] + extra):.{digits}f}x" for k in STATES)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plan_table(results: list[SizeResult], python_start: float) -> str:
    """`rebalance plan` end to end, its stages, and the CSV-reading floor."""
    rows = []
    for r in results:
        t, st = r.plan.get("timings", {}), r.stages
        rows.append(
            [
                f"{r.name}: {r.zones:,} / {r.couriers:,}",
                f"{st['eligible']:,}",
                f"{st['arcs']:,}",
                both(r.plan_wall, bold=True),
                both(r.plan_cpu),
                f"{r.plan_rss:,.0f}",
                s(st["load_seconds"]),
                s(t.get("build")),
                s(t.get("solve")),
                s(t.get("post")),
                r.plan["status"],
                s(r.floor_read, 3),
                f"{both(r.floor_wall)} ({r.floor_rss:,.0f} MB)",
                f"**{ratio(r.plan_wall, r.floor_wall)}**",
                ratio(r.plan_cpu, r.floor_cpu),
                ratio(r.plan_wall, {k: r.floor_read for k in STATES}, python_start),
            ]
        )
    header = [
        "instance (zones / couriers)",
        "eligible",
        "flow arcs",
        "plan wall s, fresh / reused memory",
        "plan CPU s, fresh / reused",
        "peak RSS MB",
        "load+validate s",
        "build s",
        "solve s",
        "post s",
        "status",
        "floor: read s",
        "floor: process wall s, fresh / reused (RSS)",
        "plan / floor process, wall, fresh / reused",
        "plan / floor process, CPU",
        "plan / (floor read + bare python start)",
    ]
    return table(header, rows)


def baseline_table(results: list[SizeResult]) -> str:
    """Objectives and times of ours, PuLP/CBC and greedy on the same instance."""
    rows = []
    for r in results:
        ours = float(r.plan["objective"])
        g = r.greedy
        gap = (g["objective"] - ours) / ours if ours else 0.0
        greedy_cell = f"{g['objective']:,.1f} (+{gap:.1%}, {g['solve_seconds']:.2f} s)"
        binaries = f"{r.stages['binaries']:,}"
        if r.pulp is not None and r.pulp_run is not None:
            p = r.pulp
            objective = "–" if p["objective"] is None else f"{p['objective']:,.1f}"
            if p["objective"] is None:
                same = "–"
            else:
                same = "yes" if abs(p["objective"] - ours) <= 1e-3 * max(1, ours) else "no"
            speed = r.pulp_run.wall / r.plan_wall["fresh"]
            speed_cell = f"**{speed:,.0f}x**" if speed >= 10 else f"{speed:.1f}x"
            if p["status"] != "optimal":  # PuLP did not finish: its time is a lower bound
                speed_cell = f"> {speed_cell} ({p['status']})"
            pulp_cells = [
                f"{s(p['build_seconds'], 1)} / {s(p['solve_seconds'], 1)}",
                f"{r.pulp_run.wall:,.1f} ({r.pulp_run.rss_mb:,.0f} MB)",
                p["status"],
                objective,
                same,
                speed_cell,
            ]
        else:
            pulp_cells = [r.pulp_note, "", "", "", "", ""]
        rows.append(
            [
                f"{r.name}: {r.zones:,} / {r.couriers:,}",
                f"{ours:,.1f}",
                f"{s(r.plan_wall['fresh'])} ({r.plan_rss:,.0f} MB)",
                binaries,
                *pulp_cells,
                greedy_cell,
            ]
        )
    header = [
        "instance",
        "ours: objective (optimal)",
        "ours: wall s, fresh memory (RSS)",
        "PuLP binaries",
        "PuLP: build / CBC s",
        "PuLP: wall s (RSS)",
        "PuLP status",
        "PuLP objective",
        "same objective",
        "PuLP wall / ours",
        "greedy objective (gap, time)",
    ]
    return table(header, rows)


def linearity(args: argparse.Namespace) -> str:
    """Plan time and memory at 1,000 zones as couriers double."""
    rows, first = [], None
    for couriers in LINEARITY:
        path = instance(1_000, couriers)
        log(f"[linearity] 1,000 zones / {couriers:,} couriers")
        runs, plan, stages = bench_plan(path, args.repeat, floor=False)
        wall, cpu, rss = by_state(runs, "plan")
        t = plan["timings"]
        work = stages["load_seconds"] + t["build"] + t["solve"] + t["post"]
        if first is None:
            first = (couriers, wall, rss, work)
        rows.append(
            [
                f"{couriers:,}",
                f"{round(0.4 * couriers):,}",
                f"{stages['eligible']:,}",
                both(wall),
                both(cpu),
                f"{rss:,.0f}",
                s(stages["load_seconds"]),
                s(t["build"]),
                s(t["solve"]),
                s(work),
                f"{couriers / first[0]:.0f}x",
                f"{work / first[3]:.1f}x",
                f"{rss / first[2]:.1f}x",
            ]
        )
    header = [
        "couriers",
        "restaurants",
        "eligible",
        "plan wall s, fresh / reused memory",
        "plan CPU s, fresh / reused",
        "peak RSS MB",
        "load s",
        "build s",
        "solve s",
        "load+build+solve+post s",
        "couriers vs first",
        "work vs first",
        "RSS vs first",
    ]
    return table(header, rows)


def help_time() -> tuple[float, float]:
    """Median wall of `rebalance --help` and of a bare interpreter, 5 runs each."""
    help_wall, _, _ = repeat([*rebalance_cmd(), "--help"], 5, "rebalance --help")
    bare, _, _ = repeat([PY, "-c", "pass"], 5, "python")
    return help_wall, bare


def report(args: argparse.Namespace) -> str:
    """Run everything asked for and return the markdown."""
    info = machine()
    log("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    load_before = os.getloadavg()[0]
    help_wall, python_start = help_time()
    results = [bench_size(name, args) for name in args.sizes]
    WORK.mkdir(parents=True, exist_ok=True)  # raw numbers, to check a table cell later
    raw = json.dumps([asdict(r) for r in results], indent=1, default=str)
    (WORK / "last_results.json").write_text(raw)
    growth = linearity(args) if args.linearity else ""
    load_after = os.getloadavg()[0]
    parts = [
        f"Measured {time.strftime('%Y-%m-%d')} by `benchmarks/run.py "
        f"{' '.join(sys.argv[1:])}`".rstrip()
        + f" (seed {SEED}; one 30-minute slot from {SHIFT}, the model the baselines solve; "
        f"median of {args.repeat} runs in each memory state, plan and floor in turn: fresh, "
        f"after {COLD_SECONDS:.0f} s idle, and reused, right after a process used and freed "
        "more than the command needs; peak RSS = max).",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + ".",
        f"1-minute load average {load_before:.1f} at the start, {load_after:.1f} at the end "
        "(other work on the machine inflates wall times; CPU times are steadier).",
        "",
        f"`rebalance --help`: **{help_wall:.2f} s** (median of 5); bare `python -c pass`: "
        f"{python_start:.2f} s.",
        "",
        "### `rebalance plan` end to end, and the floor",
        "",
        plan_table(results, python_start),
        "",
        "### Same instance: the analyst's PuLP/CBC model and a greedy heuristic",
        "",
        f"PuLP limit {args.pulp_limit:.0f} s (model building counts; CBC gets the rest).",
        "",
        baseline_table(results),
    ]
    if growth:
        parts += ["", "### Growth with couriers (1,000 zones)", "", growth]
    return "\n".join(parts) + "\n"


def write_readme(markdown: str) -> None:
    """Put the tables between the markers of benchmarks/README.md."""
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{markdown}{END}{tail}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="small,medium,large", help="comma-separated: small, medium, large"
    )
    parser.add_argument("--quick", action="store_true", help="small + medium, PuLP limit 120 s")
    parser.add_argument("--pulp-limit", type=float, default=None, help="seconds (default 600)")
    parser.add_argument(
        "--pulp-at-1000", action="store_true", help="also run PuLP at 1,000 / 100,000"
    )
    parser.add_argument("--no-pulp", action="store_true", help="skip the PuLP baseline")
    parser.add_argument(
        "--no-linearity", dest="linearity", action="store_false", help="skip the growth table"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--write-readme", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "small,medium"
        args.linearity = False
    if args.pulp_limit is None:
        args.pulp_limit = 120.0 if args.quick else 600.0
    args.sizes = [x.strip() for x in args.sizes.split(",") if x.strip()]
    unknown = set(args.sizes) - set(SIZES)
    if unknown:
        parser.error(f"unknown sizes {sorted(unknown)}; use {', '.join(SIZES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of `make bench`; ``--shapes ...`` runs benchmarks/shapes.py instead."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--shapes"]:
        sys.path.insert(0, str(ROOT))
        from benchmarks import shapes

        return shapes.main(argv[1:])
    args = parse_args(argv)
    byte_compile()
    markdown = report(args)
    print(markdown)
    if args.write_readme:
        write_readme(markdown)
        log(f"updated {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
