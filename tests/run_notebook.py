"""Run one notebook top to bottom in a kernel of this interpreter; print what the tests
check as JSON (tests/test_notebooks.py runs two of these at a time).

Usage: python tests/run_notebook.py NOTEBOOK KERNEL_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(path: Path, kernel_dir: Path) -> dict[str, object]:
    import nbformat
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell
    from traitlets.config import Config

    nb = nbformat.read(path, as_version=4)
    # The kernelspec's argv[0] is "python", which jupyter_client runs as sys.executable:
    # the last cell tells which interpreter the notebook ran on (the venv's).
    nb.cells.append(new_code_cell("import sys; print(sys.executable)"))
    # Local sockets (ipc) instead of TCP: nothing listens on the network, and ipykernel
    # does not warn about unencrypted TCP on stderr.
    transport = Config({"KernelManager": {"transport": "ipc", "ip": str(kernel_dir / "kernel")}})
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        config=transport,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    return {
        "seconds": seconds,
        "stderr": [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"],
        "interpreter": nb.cells[-1].outputs[0].text.strip(),
        "images": sum("image/png" in o.get("data", {}) for o in outputs),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
