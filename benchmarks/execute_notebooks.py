"""Execute notebooks (what `make notebooks` runs): in place, or into --out, one kernel
per notebook, with a per-cell limit, and record the float path they ran on
(``fourpapers.book.float_path``) in each notebook's metadata.

Why not `jupyter execute`: it can wait forever on a kernel that has gone idle (seen with
ipykernel 7.4.0 and 6.31.0 alike). Measured here on a 4-cell notebook with an ipywidgets
`interact` cell: nbclient's wait for a message is one asyncio poll of the ZeroMQ socket
for the whole per-cell timeout, and now and then the wake-up for a message that has
already arrived is missed; the client then sleeps until the timeout (forever without
one). With a 900 s timeout 5 of 10 runs stalled; with 20 s, 0 of 10. So each wait here
is cut into 1-second polls (`_patient`), which see a message that is already there, and
nbclient's per-cell timeout is backed by a watchdog thread: if one cell runs longer than
--cell-limit (+ a short grace), the kernel is killed and the run stops with an error
naming the notebook, the cell's index and its first line, instead of hanging.

    python benchmarks/execute_notebooks.py notebooks/01_ln_placement.ipynb \
        [--out DIR] [--cell-limit 900]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import queue
import signal
import sys
import threading
import time

import nbformat
from nbclient import NotebookClient

from fourpapers.book import float_path

# seconds past the per-cell limit before the watchdog steps in (nbclient's own timeout
# goes first)
GRACE = 60
POLL = 1.0  # seconds per poll of a kernel channel


def _patient(get_msg):
    """Wrap an async channel's ``get_msg(timeout)`` so that it waits in polls of at most
    POLL seconds (a missed wake-up then costs a second, not the whole timeout) and still
    raises ``queue.Empty`` at the same deadline."""

    async def wrapped(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = (
                POLL
                if deadline is None
                else max(0.0, min(POLL, deadline - time.monotonic()))
            )
            try:
                return await get_msg(timeout=step)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return wrapped


def execute(path: pathlib.Path, out: pathlib.Path, cell_limit: float) -> float:
    nb = nbformat.read(path, as_version=4)
    os.environ["FOURPAPERS_PROGRESS"] = (
        "off"  # the kernel inherits it: no progress widgets in the stored book
    )
    state = {"cell": None, "start": None, "pid": None}
    client = NotebookClient(
        nb,
        timeout=int(cell_limit),
        kernel_name="python3",
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )

    def on_start(**_):
        proc = getattr(getattr(client.km, "provisioner", None), "process", None)
        state["pid"] = getattr(proc, "pid", None)
        for channel in (client.kc.shell_channel, client.kc.iopub_channel):
            channel.get_msg = _patient(channel.get_msg)

    def on_cell(cell, cell_index, **_):
        state["cell"], state["start"] = cell_index, time.monotonic()

    def on_done(**_):
        state["start"] = None

    client.on_notebook_start, client.on_cell_execute, client.on_cell_executed = (
        on_start,
        on_cell,
        on_done,
    )
    stop = threading.Event()

    def watchdog():
        while not stop.wait(1.0):
            start = state["start"]
            if start is not None and time.monotonic() - start > cell_limit + GRACE:
                first = nb.cells[state["cell"]].source.splitlines()[:1] or [""]
                print(
                    f"ERROR {path}: cell {state['cell']} ({first[0][:70]!r}) ran over "
                    f"{cell_limit:.0f} s "
                    f"(+{GRACE} s grace); killing its kernel and stopping.",
                    file=sys.stderr,
                    flush=True,
                )
                if state["pid"]:
                    try:
                        os.kill(state["pid"], signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()
    t0 = time.perf_counter()
    try:
        client.execute()
    finally:
        stop.set()
    nb.metadata.setdefault("fourpapers", {})["float_path"] = float_path()
    strip_hidden_widgets(nb)
    nbformat.write(nb, out)
    return time.perf_counter() - t0


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip_hidden_widgets(nb) -> int:
    """Drop the widget views of cells the book hides and nbval does not compare (tagged
    ``remove-output`` and ``nbval-ignore-output``: the ipywidgets explorers) and the
    notebook's stored widget state, which only those views used. A stored view is an
    empty box to a reader and useless to anyone who opens the notebook (widgets come
    alive only when re-run). Returns how many outputs were dropped."""
    dropped = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or not {
            "remove-output",
            "nbval-ignore-output",
        } <= set(tags):
            continue
        keep = [
            o for o in cell.get("outputs", []) if WIDGET_VIEW not in o.get("data", {})
        ]
        dropped += len(cell.outputs) - len(keep)
        cell.outputs = keep
    if not any(
        WIDGET_VIEW in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    ):
        nb.metadata.pop("widgets", None)
    return dropped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=pathlib.Path)
    ap.add_argument(
        "--out",
        type=pathlib.Path,
        help="write executed copies into this folder (default: in place)",
    )
    ap.add_argument(
        "--cell-limit",
        type=float,
        default=900.0,
        help="seconds one cell may run (default 900)",
    )
    ap.add_argument(
        "--strip-only",
        action="store_true",
        help="execute nothing: drop the hidden cells' widget views from the stored "
        "notebooks",
    )
    args = ap.parse_args(argv)
    if args.strip_only:
        for path in args.notebooks:
            nb = nbformat.read(path, as_version=4)
            print(f"{path}: {strip_hidden_widgets(nb)} widget views dropped")
            nbformat.write(nb, path)
        return 0
    if args.cell_limit <= 0:
        ap.error("--cell-limit: expected a positive number of seconds")
    for path in args.notebooks:
        if not path.is_file():
            ap.error(f"notebooks: no such file {path}")
        out = path if args.out is None else args.out / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"executing {path}", flush=True)
        seconds = execute(path, out, args.cell_limit)
        print(f"  {seconds:.0f} s on {float_path()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
