"""Run a command; write its wall time and its own resource usage as JSON to a file.

    python -I -S benchmarks/rusage.py OUT.json CMD [ARGS...]

`benchmarks.run.measure` starts every measured command through this small process.
Linux starts a child's peak RSS (``ru_maxrss``) at the high-water mark of the process
that started it: a benchmark that had read a 55 MB plan.json reported ~360 MB for
plans and floors that peak at 160-220 MB. Started from here (~10 MB), the figure is
the command's own. ``os.wait4`` gives the command's usage alone, with that of the
children it waited for (e.g. PuLP's CBC, Dask's workers).
"""

import json
import os
import subprocess
import sys
import time


def main() -> int:
    out, cmd = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as file:
        json.dump(
            {
                "wall": wall,
                "maxrss_kb": usage.ru_maxrss,
                "user": usage.ru_utime,
                "sys": usage.ru_stime,
                "code": code,
            },
            file,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
