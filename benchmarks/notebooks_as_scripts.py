"""Run every notebook's code cells as a plain script (no Jupyter needed), e.g. on a CUDA
machine:

    FOURPAPERS_DEVICE=cuda MPLBACKEND=Agg PYTHONPATH=src \
        python3 benchmarks/notebooks_as_scripts.py [NOTEBOOK ...]

Cells that only make sense in a notebook front end (the Colab install cell, ipywidgets
explorers) are skipped. Prints one line per notebook: ok/FAILED and wall seconds. Exit
status 1 if any notebook failed.
"""

from __future__ import annotations

import contextlib
import io
import json
import pathlib
import sys
import time
import traceback

SKIP_MARKERS = ("google.colab", "interact(", "ipywidgets")


def code_cells(path: pathlib.Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = []
    for cell in cells:
        src = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
        if src.strip() and not any(m in src for m in SKIP_MARKERS):
            out.append(src)
    return out


def run(path: pathlib.Path) -> tuple[bool, float, str]:
    namespace: dict = {"__name__": "__main__"}
    start = time.perf_counter()
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            for src in code_cells(path):
                exec(compile(src, str(path), "exec"), namespace)
        ok, detail = True, log.getvalue()[-400:]
    except Exception:  # noqa: BLE001 - report any failure of a notebook
        ok, detail = False, traceback.format_exc()[-1500:]
    return ok, time.perf_counter() - start, detail


def main(argv: list[str]) -> int:
    paths = [pathlib.Path(p) for p in argv] or sorted(
        pathlib.Path("notebooks").glob("*.ipynb")
    )
    failed = 0
    for p in paths:
        ok, secs, detail = run(p)
        failed += not ok
        print(f"{'ok' if ok else 'FAILED':6s} {secs:7.1f} s  {p}", flush=True)
        if not ok:
            print(detail, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
