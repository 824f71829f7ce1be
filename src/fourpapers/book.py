"""Helpers for the book's pages: glue measured numbers into the prose, and stamp each chapter.

Numbers quoted in a chapter's text are glued from the executed output (``{glue:}`name``` in markdown), so the
prose cannot drift from what the code measured.
"""

from __future__ import annotations

import time

import torch

__all__ = ["glue", "stamp", "Timer", "machine", "cpu_model"]

# The display format myst-nb reads for ``{glue}`` roles (the papermill/scrapbook convention). Written here rather
# than imported so notebooks also run where myst-nb is not installed (Colab).
_GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value, digits: int | None = None) -> None:
    """Record ``value`` under ``name`` for ``{glue:}`name``` in the book's markdown, without displaying it.

    ``digits`` rounds a float first, so the stored text (which nbval compares) is stable. Outside IPython
    this does nothing.
    """
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"name: expected a name of letters, digits, '_' or '-', got {name!r}")
    if digits is not None:
        if not isinstance(value, (int, float)):
            raise ValueError(f"value: digits= needs a number, got {type(value).__name__}")
        value = round(float(value), digits)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - plain Python
        return
    if get_ipython() is None:
        return
    bundle = {_GLUE_PREFIX + "text/plain": repr(value) if not isinstance(value, str) else value}
    display(bundle, raw=True, metadata={"scrapbook": {"name": name, "mime_prefix": _GLUE_PREFIX}})


class Timer:
    """Wall-clock seconds since construction (the chapter's execution time for :func:`stamp`)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux, else what ``platform`` knows)."""
    import pathlib
    import platform

    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or "unknown CPU"


def machine(size: int = 1024, repeats: int = 5) -> str:
    """This machine in one line, so that a chapter's seconds can be compared across machines: the processor, its
    cores, and the fp32 matrix-multiply speed of one thread (best of ``repeats`` products of ``size`` x ``size``
    matrices, 2 size^3 flops each). Takes about a second."""
    import os

    if not isinstance(size, int) or size < 16:
        raise ValueError(f"size: expected an integer >= 16, got {size!r}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive integer, got {repeats!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(size, size, generator=g), torch.randn(size, size, generator=g)
        a @ b  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return f"{cpu_model()}, {os.cpu_count()} cores, one thread: {2 * size ** 3 / best / 1e9:.0f} GFLOP/s fp32 matmul"


def stamp(seeds, seconds: float | None = None) -> str:
    """The reproducibility stamp printed at the end of each chapter: versions, seeds, thread count.

    Seconds are measured, so they vary: pass them only where the output is not compared (the book's stamps print
    them in a cell tagged ``nbval-ignore-output``).
    """
    from . import __version__

    line = f"fourpapers {__version__} | torch {torch.__version__} | seeds {seeds} | {torch.get_num_threads()} thread(s)"
    if seconds is not None:
        line += f" | executed in {seconds:.0f} s"
    return line


def toc_pages(root) -> list[str]:
    """Every page of the book's ``_toc.yml`` under ``root`` (the root page first), as paths without extension."""
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
