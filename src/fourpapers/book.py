"""Helpers for the book's pages: glue measured numbers into the prose, and stamp each
chapter.

Numbers quoted in a chapter's text are glued from the executed output (``{glue:}`name```
in markdown), so the prose cannot drift from what the code measured. Each glue call
declares how far another machine's value may fall from ours (``tol``); with
``FOURPAPERS_GLUE_LOG`` set, every glued value is also logged, and :func:`check_glue`
compares a run's values with the ones stored in the notebooks. :func:`float_path` names
the float path a notebook was executed on, so ``make test`` knows whether the stored
outputs can be compared text for text.
"""

from __future__ import annotations

import json
import math
import os
import time

import torch

from ._checks import positive as _positive

__all__ = [
    "glue",
    "stamp",
    "Timer",
    "machine",
    "matmul_gflops",
    "reference_seconds",
    "REFERENCE_GFLOPS",
    "BUDGETS",
    "BOOK_BUDGET",
    "budget_table",
    "executed_line",
    "read_executed_line",
    "cpu_model",
    "float_path",
    "ALT_FLOAT_PATH",
    "nbval_mode",
    "check_glue",
    "stored_glue",
]

GLUE_LOG_ENV = "FOURPAPERS_GLUE_LOG"
# Another float path on the same machine, at no matmul cost: ATen's scalar
# (non-vectorised) elementwise and reduction kernels, and oneDNN (the LSTM) limited to
# SSE4.1. `make claims-portable` and the portable nbval run use it to stand in for a
# different CPU.
ALT_FLOAT_PATH = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
# The CPU features that change which kernels MKL, oneDNN and ATen pick.
_ISA_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
)

# The display format myst-nb reads for ``{glue}`` roles (the papermill/scrapbook
# convention). Written here rather than imported so notebooks also run where myst-nb is
# not installed (Colab).
_GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value, digits: int | None = None, tol: float | None = 0) -> None:
    """Record ``value`` under ``name`` for ``{glue:}`name``` in the book's markdown,
    without displaying it.

    ``digits`` rounds a float first, so the stored text (which nbval compares) is
    stable. ``tol`` is how far the value may move on another float path: ``0`` for
    numbers that do not depend on the machine (sizes, exact checks, the paper's
    numbers), a positive number for measured results (the chapters justify it by the
    spread of that number over seeds), ``None`` for timings, which no other machine
    reproduces. With ``FOURPAPERS_GLUE_LOG`` set, the value and its ``tol`` are appended
    there as one JSON line. Outside IPython nothing is displayed.
    """
    if (
        not isinstance(name, str)
        or not name.replace("_", "").replace("-", "").isalnum()
    ):
        raise ValueError(
            f"name: expected a name of letters, digits, '_' or '-', got {name!r}"
        )
    if digits is not None:
        if not isinstance(value, (int, float)):
            raise ValueError(
                f"value: digits= needs a number, got {type(value).__name__}"
            )
        value = round(float(value), digits)
    if tol is not None and (
        isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0
    ):
        raise ValueError(f"tol: expected None or a number >= 0, got {tol!r}")
    if tol and not isinstance(value, (int, float)):
        raise ValueError(
            f"tol: a positive tolerance needs a number, got {type(value).__name__}"
        )
    log = os.environ.get(GLUE_LOG_ENV, "").strip()
    if log:
        with open(
            log, "a", encoding="utf-8"
        ) as f:  # one short append per value: safe from parallel kernels
            f.write(json.dumps({"name": name, "value": value, "tol": tol}) + "\n")
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - plain Python
        return
    if get_ipython() is None:
        return
    bundle = {
        _GLUE_PREFIX + "text/plain": repr(value)
        if not isinstance(value, str)
        else value
    }
    display(
        bundle,
        raw=True,
        metadata={"scrapbook": {"name": name, "mime_prefix": _GLUE_PREFIX}},
    )


class Timer:
    """Wall-clock seconds since construction (the chapter's execution time for
    :func:`stamp`)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux, else what ``platform``
    knows)."""
    import pathlib
    import platform

    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or "unknown CPU"


def matmul_gflops(size: int = 1024, repeats: int = 5) -> float:
    """This machine's fp32 matrix-multiply speed on one thread, in GFLOP/s: the best of
    ``repeats`` products of two ``size`` x ``size`` matrices (2 size^3 flops each),
    after one warm-up product. Takes about a second. torch's thread count is restored
    afterwards. The yardstick of :func:`reference_seconds` and of :func:`machine`."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise ValueError(f"size: expected an integer >= 16, got {size!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive integer, got {repeats!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        a, b = (
            torch.randn(size, size, generator=g),
            torch.randn(size, size, generator=g),
        )
        a @ b  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return 2 * size**3 / best / 1e9


def machine(size: int = 1024, repeats: int = 5, gflops: float | None = None) -> str:
    """This machine in one line, so that a chapter's seconds can be compared across
    machines: the processor, its cores, and the fp32 matrix-multiply speed of one thread
    (:func:`matmul_gflops` with ``size`` and ``repeats``; pass ``gflops`` when it was
    just measured, so that it is not measured twice)."""
    if gflops is None:
        gflops = matmul_gflops(size, repeats)
    else:
        gflops = _positive("gflops", gflops)
    cores = f"{cpu_model()}, {os.cpu_count()} cores"
    return f"{cores}, one thread: {gflops:.0f} GFLOP/s fp32 matmul"


# A reference-second is a second on a machine whose one thread multiplies fp32 matrices
# at this speed.
REFERENCE_GFLOPS = 100.0
# Each chapter's time budget in reference-seconds (one thread), and the whole book's:
# `make bench` checks them.
BUDGETS = {
    "00_toolkit": 30,
    "01_ln_placement": 90,
    "02_fast_weights": 90,
    "03_ulmfit": 150,
    "04_gopher": 150,
}
BOOK_BUDGET = 500


def reference_seconds(seconds: float, gflops: float) -> float:
    """A run's wall ``seconds`` expressed in reference-seconds: its time on a machine
    whose one thread does :data:`REFERENCE_GFLOPS` (100) GFLOP/s fp32 matmul, i.e.
    ``seconds * gflops / 100``, where ``gflops`` is this machine's :func:`matmul_gflops`
    measured in the same run. A faster machine takes fewer seconds and reports more
    GFLOP/s, so the product is comparable from machine to machine (as far as the run is
    matmul-bound)."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0 <= seconds < float("inf")
    ):
        raise ValueError(f"seconds: expected a finite number >= 0, got {seconds!r}")
    return seconds * _positive("gflops", gflops) / REFERENCE_GFLOPS


def executed_line(seconds: float, gflops: float) -> str:
    """A chapter's closing lines: wall seconds and reference-seconds
    (:func:`reference_seconds`), then :func:`machine`, each line within 88 columns."""
    ref = reference_seconds(seconds, gflops)
    return (
        f"executed in {seconds:.0f} s = {ref:.0f} reference-seconds "
        f"(seconds at {REFERENCE_GFLOPS:.0f} GFLOP/s)\non {machine(gflops=gflops)}"
    )


def read_executed_line(text: str) -> tuple[float, float]:
    """The wall seconds and the GFLOP/s in a chapter's closing line
    (:func:`executed_line`, or the older ``executed in N s on <machine>`` line), as
    printed: ``(seconds, gflops)``."""
    import re

    m = re.search(
        r"executed in (\d+(?:\.\d+)?) s\b.*?one thread: (\d+(?:\.\d+)?) GFLOP/s",
        str(text),
        re.S,
    )
    if not m:
        raise ValueError(
            f"text: expected a line 'executed in N s ... one thread: G GFLOP/s ...', "
            f"got {text!r}"
        )
    return float(m.group(1)), float(m.group(2))


def budget_table(
    rows, budgets: dict | None = None, total_budget: float = BOOK_BUDGET
) -> str:
    """The compute appendix's budget table in markdown: one row per ``(notebook,
    seconds, gflops)`` in ``rows`` (the notebook's stem, its wall seconds and the
    one-thread GFLOP/s measured in the same run), with its reference-seconds
    (:func:`reference_seconds`), its budget from ``budgets`` (default :data:`BUDGETS`)
    and **over budget** where it exceeds it; then the total against ``total_budget``."""
    budgets = BUDGETS if budgets is None else budgets
    rows = list(rows)
    if not rows:
        raise ValueError("rows: expected at least one (notebook, seconds, gflops)")
    _positive("total_budget", total_budget)
    lines = [
        "| notebook | wall seconds | GFLOP/s (one thread) | reference-seconds | budget "
        "| |",
        "|---|---:|---:|---:|---:|---|",
    ]
    total_s = total_ref = 0.0
    for row in rows:
        if not (isinstance(row, (tuple, list)) and len(row) == 3):
            raise ValueError(
                f"rows: expected (notebook, seconds, gflops) tuples, got {row!r}"
            )
        name, seconds, gflops = row
        if name not in budgets:
            raise ValueError(
                f"rows: no budget for notebook {name!r} (budgets: {sorted(budgets)})"
            )
        ref = reference_seconds(seconds, gflops)
        total_s, total_ref = total_s + seconds, total_ref + ref
        lines.append(
            f"| `{name}.ipynb` | {seconds:.0f} | {gflops:.0f} | {ref:.0f} | "
            f"{budgets[name]} | "
            f"{_verdict(ref, budgets[name])} |"
        )
    lines.append(
        f"| **all {len(rows)}** | {total_s:.0f} | | {total_ref:.0f} | {total_budget:g} "
        f"| "
        f"{_verdict(total_ref, total_budget)} |"
    )
    return "\n".join(lines)


def _verdict(ref: float, budget: float) -> str:
    # compared at the digits the table prints, so that a printed 150 is never "over" a
    # budget of 150
    return "**over budget**" if round(ref) > budget else "within budget"


def float_path() -> str:
    """The float path torch takes here, in one line: the processor and the vector
    features that pick kernels, Python's version (the book's text corpora ship with
    CPython and differ between its releases), torch's version, ATen's CPU capability,
    and the settings that switch oneDNN's and MKL's code paths. Two runs with the same
    line compute the same floats (one thread); ``make test`` compares text outputs
    strictly only where this line equals the one the notebooks were executed on."""
    import pathlib
    import platform

    flags: set[str] = set()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:  # pragma: no cover - not Linux
        pass
    isa = ",".join(f for f in _ISA_FLAGS if f in flags) or "-"
    env = {
        k: os.environ.get(k, "") or "unset" for k in ("ONEDNN_MAX_CPU_ISA", "MKL_CBWR")
    }
    return (
        f"{cpu_model()} [{isa}] | Python {platform.python_version()} | torch "
        f"{torch.__version__}"
        f" | ATen {torch.backends.cpu.get_cpu_capability()}"
        f" | ONEDNN_MAX_CPU_ISA={env['ONEDNN_MAX_CPU_ISA']} | "
        f"MKL_CBWR={env['MKL_CBWR']}"
    )


def stored_glue(notebook) -> dict[str, str]:
    """The glued values stored in an executed notebook (a path or a parsed notebook):
    name -> stored text."""
    import pathlib

    nb = notebook
    if not isinstance(notebook, dict):
        nb = json.loads(pathlib.Path(notebook).read_text(encoding="utf-8"))
    out = {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if meta and "name" in meta:
                out[meta["name"]] = o["data"][_GLUE_PREFIX + "text/plain"]
    return out


def nbval_mode(notebooks, here: str | None = None) -> tuple[str, str]:
    """How ``make test`` checks the stored notebooks on this machine: ``("strict",
    why)`` when every notebook was executed on this float path (``here``, default
    :func:`float_path`), so nbval compares every text output; else ``("portable",
    why)``: nbval compares only the cells tagged ``nbval-check-output``
    (machine-independent outputs) and :func:`check_glue` compares every glued number
    within its tolerance. ``FOURPAPERS_NBVAL`` set to ``strict`` or ``portable``
    overrides the choice."""
    import pathlib

    here = float_path() if here is None else here
    stored = {}
    for nb in notebooks:
        meta = json.loads(pathlib.Path(nb).read_text(encoding="utf-8")).get(
            "metadata", {}
        )
        stored[pathlib.Path(nb).name] = meta.get("fourpapers", {}).get("float_path")
    forced = os.environ.get("FOURPAPERS_NBVAL", "").strip()
    if forced:
        if forced not in ("strict", "portable"):
            raise ValueError(
                f"FOURPAPERS_NBVAL: expected 'strict' or 'portable', got {forced!r}"
            )
        return forced, f"FOURPAPERS_NBVAL={forced} (this machine: {here})"
    if not stored:
        raise ValueError("notebooks: expected at least one notebook")
    other = {name: path for name, path in stored.items() if path != here}
    if not other:
        return "strict", f"the notebooks were executed on this float path: {here}"
    paths = sorted({str(v) for v in other.values()})
    return "portable", (
        f"{len(other)} of {len(stored)} notebooks were executed on another float path "
        f"({'; '.join(paths)}); this machine: {here}"
    )


def check_glue(log, notebooks) -> list[str]:
    """Compare a run's glued values (the JSON lines of ``FOURPAPERS_GLUE_LOG``) with
    those stored in ``notebooks``, each within the ``tol`` its glue call declares.
    Returns one line per value; raises ``AssertionError`` listing every value that moved
    more than its tolerance or was not glued by the run."""
    import ast
    import pathlib

    logged = {}
    for raw in pathlib.Path(log).read_text(encoding="utf-8").splitlines():
        if raw.strip():
            rec = json.loads(raw)
            logged[rec["name"]] = rec
    lines, bad = [], []
    for nb in notebooks:
        for name, text in stored_glue(nb).items():
            rec = logged.get(name)
            if rec is None:
                bad.append(f"{name}: stored {text}, not glued by this run")
                continue
            new, tol = rec["value"], rec["tol"]
            try:
                old = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                old = text
            if tol is None:
                lines.append(
                    f"{name}: stored {old!r}, here {new!r} (a timing: not compared)"
                )
                continue
            if isinstance(old, (int, float)) and isinstance(new, (int, float)):
                ok = math.isclose(new, old, rel_tol=0, abs_tol=tol + 1e-12)
            else:
                ok = tol == 0 and new == old
            line = f"{name}: stored {old!r}, here {new!r}, tolerance {tol}"
            (lines if ok else bad).append(line + ("" if ok else "  <-- MOVED"))
    if bad:
        raise AssertionError(
            "glued numbers that moved more than their tolerance:\n" + "\n".join(bad)
        )
    return lines


def stamp(seeds, seconds: float | None = None) -> str:
    """The reproducibility stamp printed at the end of each chapter: versions, seeds,
    thread count.

    Seconds are measured, so they vary: pass them only where the output is not compared
    (the book's stamps print them in a cell tagged ``nbval-ignore-output``).
    """
    from . import __version__

    line = (
        f"fourpapers {__version__} | torch {torch.__version__} | seeds {seeds} | "
        f"{torch.get_num_threads()} thread(s)"
    )
    if seconds is not None:
        line += f" | executed in {seconds:.0f} s"
    return line


def toc_pages(root) -> list[str]:
    """Every page of the book's ``_toc.yml`` under ``root`` (the root page first), as
    paths without extension."""
    import pathlib

    import yaml

    path = pathlib.Path(root) / "_toc.yml"
    if not path.is_file():
        raise ValueError(f"root: expected a folder holding _toc.yml, got {str(root)!r}")
    toc = yaml.safe_load(path.read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    return pages


def _main(argv=None) -> int:
    """``python -m fourpapers float-path`` prints :func:`float_path`; ``nbval-mode
    NB...`` prints :func:`nbval_mode` (the mode, then why); ``check-glue LOG NB...``
    runs :func:`check_glue` and prints its lines (exit status 1 if a number moved)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["float-path"]:
        print(float_path())
        return 0
    if args[:1] == ["nbval-mode"] and len(args) >= 2:
        mode, why = nbval_mode(args[1:])
        print(mode)
        print(why)
        return 0
    if args[:1] == ["check-glue"] and len(args) >= 3:
        try:
            lines = check_glue(args[1], args[2:])
        except AssertionError as e:
            print(e)
            return 1
        print("\n".join(lines))
        print(f"{len(lines)} glued numbers within their tolerances")
        return 0
    print(
        "usage: python -m fourpapers float-path | nbval-mode NOTEBOOK... | check-glue "
        "LOG NOTEBOOK..."
    )
    return 2
