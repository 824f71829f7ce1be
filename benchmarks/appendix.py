"""Write the compute-budget appendix, book/compute.md (run by `make bench`).

It gathers, in one run on this machine: every notebook executed fresh
(benchmarks/execute_notebooks.py, one notebook at a time, one thread, copies in
_build/bench), its wall seconds (first cell to last) and the one-thread matmul speed
measured right after it (fourpapers.book.matmul_gflops), so its reference-seconds and
its budget (fourpapers.book.budget_table); then chapter 2's attention timing table
(benchmarks/attention.py) and chapter 4's norm timing (benchmarks/norms.py), with the
machine's cores and processor noted. About 10 CPU-minutes.

    python benchmarks/appendix.py           # the whole page, measured fresh
    python benchmarks/appendix.py --stored  # only the budget table, from the
                                            # stored notebooks' closing lines
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "compute.md"
BENCH = ROOT / "_build" / "bench"
SECTION = "## Notebook execution seconds"


def _stamp(text):
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def notebook_seconds(path: pathlib.Path) -> float | None:
    """Seconds from the first cell's execute_input to the last cell's execute_reply
    (None if not recorded)."""
    first = last = None
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("execution", {})
        start, end = (
            _stamp(meta.get("iopub.execute_input")),
            _stamp(meta.get("shell.execute_reply")),
        )
        first = first or start
        last = end or last
    return (last - first).total_seconds() if first and last else None


def as_markdown(output: str) -> str:
    """A benchmark's printed output as MyST Markdown: its Markdown tables (runs of lines
    that start with ``|``) as real tables, everything else kept verbatim in ``text``
    blocks (inside a code block a table shows as raw pipes)."""
    parts, block, table = [], [], []

    def flush():
        if table:
            parts.append("\n".join(table))
            table.clear()
        text = "\n".join(block).strip("\n")
        if text:
            parts.append(f"```text\n{text}\n```")
        block.clear()

    for line in output.splitlines():
        is_row = line.lstrip().startswith("|")
        if is_row and not table:
            flush()  # the text before the table
        elif not is_row and table:
            parts.append("\n".join(table))
            table.clear()
        (table if is_row else block).append(line.strip() if is_row else line)
    flush()
    return "\n\n".join(parts)


def _run(script: str) -> str:
    env = dict(
        os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return (
        proc.stdout.strip() + f"\n\n(measured in {time.perf_counter() - start:.0f} s)"
    )


def execute_fresh(
    nb: pathlib.Path, out: pathlib.Path = BENCH
) -> tuple[str, float, float]:
    """Execute one notebook into ``out`` (default _build/bench; one thread, each cell
    within 900 s) and measure the machine right after it: ``(stem, wall seconds first
    cell to last, one-thread GFLOP/s)``."""
    from fourpapers.book import matmul_gflops

    env = dict(
        os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"
    )
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "execute_notebooks.py"),
            str(nb),
            "--out",
            str(out),
            "--cell-limit",
            "900",
        ],
        env=env,
        cwd=ROOT,
        check=True,
    )
    seconds = notebook_seconds(out / nb.name)
    if seconds is None:
        raise RuntimeError(f"{nb.name}: the executed copy records no cell timestamps")
    return nb.stem, seconds, matmul_gflops()


def stored_rows(notebooks) -> list[tuple[str, float, float]]:
    """``(stem, seconds, GFLOP/s)`` of each notebook's stored execution, read from its
    closing line (fourpapers.book.executed_line), without executing anything."""
    from fourpapers.book import read_executed_line

    rows = []
    for nb in notebooks:
        last = json.loads(pathlib.Path(nb).read_text(encoding="utf-8"))["cells"][-1]
        text = "".join("".join(o.get("text", "")) for o in last.get("outputs", []))
        rows.append((pathlib.Path(nb).stem, *read_executed_line(text)))
    return rows


def _executed_on(nb: pathlib.Path) -> str:
    """The date a stored notebook's last cell was executed (from its execution
    timestamps), or "date unknown"."""
    meta = (
        json.loads(nb.read_text(encoding="utf-8"))["cells"][-1]
        .get("metadata", {})
        .get("execution", {})
    )
    stamp = _stamp(meta.get("shell.execute_reply"))
    return stamp.date().isoformat() if stamp else "date unknown"


def notebook_section(rows, source: str) -> str:
    """The appendix's section on notebook seconds: what reference-seconds are, the
    budget table of ``rows`` (fourpapers.book.budget_table) and where the numbers come
    from (``source``, one sentence)."""
    from fourpapers.book import BOOK_BUDGET, REFERENCE_GFLOPS, budget_table

    return f"""{SECTION}

A chapter's budget is stated in **reference-seconds**: its wall seconds × (the
one-thread fp32 matmul GFLOP/s of `fourpapers.book.matmul_gflops()`, measured in the
same run) / {REFERENCE_GFLOPS:.0f}, i.e. its time on a machine
whose one thread does {REFERENCE_GFLOPS:.0f} GFLOP/s. The product travels better than
seconds: a faster machine takes fewer seconds and reports more GFLOP/s (as far as a
chapter is bound by matrix products on one thread). Each chapter's closing line prints
the same three numbers. Budgets: chapter 0 ≤ 30, chapters 1 and 2 ≤ 90, chapters 3 and 4
≤ 150, all five ≤ {BOOK_BUDGET}.

{source}

{budget_table(rows)}

Timings on a shared machine vary, and the matmul speed measured beside them only partly
corrects for it: on 2026-11-26, with other jobs on the same two cores, chapter 4 took
102 to 145 s in four executions of the same computation, and chapter 3 read 194
reference-seconds (243 s at 80 GFLOP/s) against 106 on a quiet machine on 2026-12-07. A
row near its budget is within the noise; re-execute on a quiet machine before quoting
it.
"""


def replace_section(page: str, section: str) -> str:
    """``page`` with its notebook-seconds section (from its heading to the next ``## ``
    heading) replaced by ``section``."""
    start = page.find(SECTION)
    if start < 0:
        raise ValueError(f"page: expected a section headed {SECTION!r}")
    end = page.find("\n## ", start + len(SECTION))
    end = len(page) if end < 0 else end + 1
    return page[:start] + section.rstrip("\n") + "\n\n" + page[end:]


def main(argv=None) -> None:
    import torch

    from fourpapers.book import budget_table, cpu_model, machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--stored",
        action="store_true",
        help="rewrite only the budget table, from the stored notebooks' closing lines "
        "(executes nothing)",
    )
    args = ap.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.stored:
        rows = stored_rows(notebooks)
        dates = sorted({_executed_on(nb) for nb in notebooks})
        source = (
            "The numbers below are the stored executions' own closing lines (`make "
            "notebooks`, "
            f"{', '.join(dates)}): each notebook's seconds and the matmul\nspeed its "
            f"kernel measured right "
            "after them. They are not a fresh `make bench` run, which executes every "
            "notebook again."
        )
        page = replace_section(
            OUT.read_text(encoding="utf-8"), notebook_section(rows, source)
        )
        OUT.write_text(page, encoding="utf-8")
        print(budget_table(rows))
        print(
            f"rewrote the budget table of {OUT.relative_to(ROOT)} from the stored "
            f"notebooks"
        )
        return
    rows = [execute_fresh(nb) for nb in notebooks]
    source = (
        f"Measured by `make bench` on {dt.date.today().isoformat()}: every notebook "
        f"executed fresh, one at a "
        "time,\nits matmul speed measured right after it."
    )
    section = notebook_section(rows, source)
    machine_line = machine()
    attention, norms = _run("attention.py"), _run("norms.py")
    text = f"""# Appendix: the compute budget

Every chapter runs on a laptop CPU. This page is generated by `make bench`
(`benchmarks/appendix.py`): every notebook is executed fresh, one at a time on one
thread, and its seconds are checked against its budget in reference-seconds; the two
timing tables below were measured side by side in the same run.

**Machine:** {os.cpu_count()} cores ({cpu_model()}), {platform.system()}
{platform.machine()}, Python {platform.python_version()}, torch {torch.__version__};
every notebook and benchmark pins torch to **one thread**.
Its speed, to compare machines: {machine_line.split("one thread: ", 1)[-1]} on one
thread (`fourpapers.book.machine()`; each chapter's last cell prints the same line
beside its seconds). Generated
{dt.date.today().isoformat()}.

{section}
## Attention: softmax (SDPA) vs chunked linear attention (chapter 2)

{as_markdown(attention)}

## LayerNorm vs RMSNorm (chapter 4)

{as_markdown(norms)}
"""
    OUT.write_text(text, encoding="utf-8")
    print(budget_table(rows))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
