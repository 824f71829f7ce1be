"""The book's structure: the table of contents, the notebooks, and their Colab cells
agree."""

import json
import pathlib
import re

import pytest
import yaml

from fourpapers.book import toc_pages

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _toc_files():
    return toc_pages(ROOT)


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell):
    return "".join(cell["source"])


def test_toc_and_notebooks_folder_list_the_same_notebooks():
    listed = {f for f in _toc_files() if f.startswith("notebooks/")}
    present = {f"notebooks/{p.stem}" for p in NOTEBOOKS}
    assert NOTEBOOKS, "no notebooks found"
    assert listed == present


def test_every_toc_entry_exists():
    for f in _toc_files():
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f


def test_colab_cell_installs_from_the_configured_repository():
    url = _config()["repository"]["url"].rstrip("/")
    for nb in NOTEBOOKS:
        code = [c for c in _cells(nb) if c["cell_type"] == "code"]
        first = code[0]
        src = _src(first)
        assert '"google.colab" in sys.modules' in src, nb.name
        urls = re.findall(r"git\+(https://[^\"']+)", src)
        assert urls == [url], (nb.name, urls)
        assert "remove-cell" in first.get("metadata", {}).get("tags", []), nb.name


def test_every_notebook_starts_with_exactly_one_h1():
    for nb in NOTEBOOKS:
        md = [_src(c) for c in _cells(nb) if c["cell_type"] == "markdown"]
        h1 = [
            line for text in md for line in text.splitlines() if re.match(r"# \S", line)
        ]
        assert len(h1) == 1 and md[0].startswith("# "), nb.name


def test_no_training_loop_in_a_notebook():
    for nb in NOTEBOOKS:
        for c in _cells(nb):
            if c["cell_type"] == "code":
                src = _src(c)
                assert ".backward(" not in src and "optimizer.step(" not in src, nb.name


def test_config_has_one_repository_url_and_stored_outputs():
    cfg = _config()
    assert cfg["execute"]["execute_notebooks"] == "off"
    assert ".venv" in cfg["exclude_patterns"]
    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert text.count(cfg["repository"]["url"]) == 1


def test_machine_names_the_processor_and_a_measured_speed():
    import re

    from fourpapers import book

    threads = __import__("torch").get_num_threads()
    line = book.machine(size=64, repeats=2)
    assert re.search(r"cores, one thread: \d+ GFLOP/s fp32 matmul$", line), line
    assert __import__("torch").get_num_threads() == threads  # restored
    with pytest.raises(ValueError, match="size"):
        book.machine(size=4)
    with pytest.raises(ValueError, match="repeats"):
        book.machine(repeats=0)


def test_matmul_gflops_measures_one_thread_and_machine_reuses_a_given_speed(
    monkeypatch,
):
    from fourpapers import book

    threads = __import__("torch").get_num_threads()
    speed = book.matmul_gflops(size=64, repeats=2)
    assert 0 < speed < 1e5 and __import__("torch").get_num_threads() == threads
    for bad in ({"size": 8}, {"size": 64.0}, {"repeats": 0}, {"repeats": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            book.matmul_gflops(**bad)
    monkeypatch.setattr(
        book,
        "matmul_gflops",
        lambda *a: pytest.fail("machine() measured although given gflops"),
    )
    assert book.machine(gflops=63.4).endswith("one thread: 63 GFLOP/s fp32 matmul")
    for bad in (0, -1.0, float("nan"), float("inf"), "63", True):
        with pytest.raises(ValueError, match="gflops"):
            book.machine(gflops=bad)


def test_reference_seconds_scale_wall_seconds_to_a_100_gflops_thread():
    from fourpapers import book

    assert book.reference_seconds(243, 80) == pytest.approx(194.4)
    assert (
        book.reference_seconds(100, 100) == 100 and book.reference_seconds(0, 50) == 0
    )
    assert book.reference_seconds(60, 200) == pytest.approx(
        120
    )  # twice as fast a thread: twice the work per second
    for seconds, gflops, arg in (
        (-1, 80, "seconds"),
        (float("nan"), 80, "seconds"),
        ("5", 80, "seconds"),
        (5, 0, "gflops"),
        (5, -3, "gflops"),
        (5, float("inf"), "gflops"),
        (5, None, "gflops"),
    ):
        with pytest.raises(ValueError, match=arg):
            book.reference_seconds(seconds, gflops)


def test_executed_line_round_trips_and_old_stamps_are_read():
    from fourpapers import book

    line = book.executed_line(243.2, 80.4)
    assert line.startswith(
        "executed in 243 s = 196 reference-seconds"
    )  # 243.2 * 80.4 / 100
    assert "\non " in line and "one thread: 80 GFLOP/s" in line
    assert max(len(part) for part in line.splitlines()) <= 88
    assert book.read_executed_line(line) == (243.0, 80.0)
    assert book.read_executed_line(
        "executed in 22 s on AMD EPYC, 2 cores, one thread: 63 GFLOP/s fp32 matmul\n"
    ) == (22.0, 63.0)
    with pytest.raises(ValueError, match="text"):
        book.read_executed_line("executed in 22 s")


def test_every_chapter_closes_with_its_seconds_reference_seconds_and_machine():
    from fourpapers import book

    for nb in NOTEBOOKS:
        last = _cells(nb)[-1]
        assert "fp.book.executed_line(seconds, fp.book.matmul_gflops())" in _src(
            last
        ), nb.name
        assert "nbval-ignore-output" in last["metadata"].get("tags", []), nb.name
        seconds, gflops = book.read_executed_line("".join(last["outputs"][0]["text"]))
        assert seconds > 0 and gflops > 0, nb.name


def test_budget_table_marks_each_notebook_and_the_total_against_its_budget():
    from fourpapers import book

    rows = [("00_toolkit", 22, 63), ("03_ulmfit", 243, 80), ("04_gopher", 230, 65.3)]
    table = book.budget_table(rows).splitlines()
    assert (
        table[0].startswith("| notebook | wall seconds |") and len(table) == 2 + 3 + 1
    )
    assert table[2] == "| `00_toolkit.ipynb` | 22 | 63 | 14 | 30 | within budget |"
    assert table[3] == "| `03_ulmfit.ipynb` | 243 | 80 | 194 | 150 | **over budget** |"
    assert table[4].endswith(
        "| 150 | within budget |"
    )  # 230 * 65.3 / 100 = 150.2 prints as 150: not over
    assert table[5] == "| **all 3** | 495 | | 358 | 500 | within budget |"
    over = book.budget_table(rows, total_budget=300).splitlines()[-1]
    assert over == "| **all 3** | 495 | | 358 | 300 | **over budget** |"
    assert (
        book.budget_table([("x", 10, 100)], budgets={"x": 9})
        .splitlines()[2]
        .endswith("| 9 | **over budget** |")
    )
    with pytest.raises(ValueError, match="rows"):
        book.budget_table([])
    with pytest.raises(ValueError, match="rows"):
        book.budget_table([("05_missing", 10, 60)])
    with pytest.raises(ValueError, match="rows"):
        book.budget_table([("00_toolkit", 10)])
    with pytest.raises(ValueError, match="gflops"):
        book.budget_table([("00_toolkit", 10, 0)])
    with pytest.raises(ValueError, match="total_budget"):
        book.budget_table(rows, total_budget=0)
    assert set(book.BUDGETS) == {
        p.stem for p in NOTEBOOKS
    }  # every chapter has a budget


def _appendix():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "appendix", ROOT / "benchmarks" / "appendix.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_appendix_reads_stored_closing_lines_and_replaces_only_its_own_section(
    tmp_path,
):
    appendix = _appendix()
    nb = tmp_path / "03_ulmfit.ipynb"
    line = (
        "executed in 243 s on AMD EPYC, 2 cores, one thread: 80 GFLOP/s fp32 matmul "
        "= 194 reference-seconds\n"
    )
    nb.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "source": "",
                        "metadata": {},
                        "outputs": [
                            {"output_type": "stream", "name": "stdout", "text": [line]}
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    rows = appendix.stored_rows([nb])
    assert rows == [("03_ulmfit", 243.0, 80.0)]
    section = appendix.notebook_section(rows, "From a test.")
    assert (
        section.startswith(appendix.SECTION)
        and "| `03_ulmfit.ipynb` | 243 | 80 | 194 | 150 | **over budget** |" in section
        and "From a test." in section
    )
    page = (
        "# Title\n\nintro\n\n"
        + appendix.SECTION
        + "\n\nold table\n\n## Attention\n\nkept\n"
    )
    new = appendix.replace_section(page, section)
    assert new.startswith("# Title\n\nintro\n\n" + section) and new.endswith(
        "\n\n## Attention\n\nkept\n"
    )
    assert "old table" not in new
    assert (
        appendix.replace_section(appendix.SECTION + "\nold\n", "new\n") == "new\n\n"
    )  # the last section
    with pytest.raises(ValueError, match="page"):
        appendix.replace_section("# no such section\n", section)


def test_appendix_executes_a_notebook_fresh_and_measures_the_machine_after_it(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("import time"),
        nbformat.v4.new_code_cell("time.sleep(1.5)"),
    ]
    nbformat.write(nb, tmp_path / "00_toolkit.ipynb")
    name, seconds, gflops = _appendix().execute_fresh(
        tmp_path / "00_toolkit.ipynb", out=tmp_path / "bench"
    )
    assert name == "00_toolkit" and 1.5 <= seconds < 60 and gflops > 0
    assert (tmp_path / "bench" / "00_toolkit.ipynb").is_file()


def test_committed_appendix_states_the_budgets_and_the_readme_promises_the_same():
    from fourpapers import book

    page = (ROOT / "book" / "compute.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, budget in book.BUDGETS.items():
        row = (
            rf"\| `{name}\.ipynb` \| \d+ \| \d+ \| \d+ \| {budget} \| "
            r"(within budget|\*\*over budget\*\*) \|"
        )
        assert re.search(row, page), name
    assert re.search(
        rf"\| \*\*all 5\*\* \| \d+ \| \| \d+ \| {book.BOOK_BUDGET} \|", page
    )
    lo, hi = min(book.BUDGETS.values()), max(book.BUDGETS.values())
    assert (
        "reference-seconds" in readme and f"{lo} to {hi} reference-seconds" in readme
    ), "README: budgets"
    assert f"all five within {book.BOOK_BUDGET}" in readme, "README: the book's budget"


# --------------------------------------------------------------------------------------
# Checks that travel: the float path, glued numbers and their tolerances, the nbval
# mode, the executor
# --------------------------------------------------------------------------------------


def _glued_notebook(path, values, float_path=None):
    """A minimal executed notebook holding glue outputs as myst-nb stores them."""
    from fourpapers.book import _GLUE_PREFIX

    outputs = [
        {
            "output_type": "display_data",
            "data": {_GLUE_PREFIX + "text/plain": text},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": _GLUE_PREFIX}},
        }
        for name, text in values.items()
    ]
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": "",
                "metadata": {},
                "outputs": outputs,
                "execution_count": 1,
            }
        ],
        "metadata": {"fourpapers": {"float_path": float_path}} if float_path else {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_float_path_names_the_kernel_settings(monkeypatch):
    from fourpapers.book import float_path

    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("MKL_CBWR", "AVX2")
    line = float_path()
    assert (
        "Python " in line
        and "torch " in line
        and "ATen " in line
        and "ONEDNN_MAX_CPU_ISA=unset" in line
        and "MKL_CBWR=AVX2" in line
    )
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    assert float_path() != line and "ONEDNN_MAX_CPU_ISA=SSE41" in float_path()


def test_glue_logs_values_and_rejects_bad_tolerances(monkeypatch, tmp_path):
    from fourpapers import book

    log = tmp_path / "glue.jsonl"
    monkeypatch.setenv("FOURPAPERS_GLUE_LOG", str(log))
    book.glue("ch9_loss", 2.34567, digits=2, tol=0.05)
    book.glue("ch9_time", 1.5, tol=None)
    book.glue("ch9_n", 400)
    recs = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert recs == [
        {"name": "ch9_loss", "value": 2.35, "tol": 0.05},
        {"name": "ch9_time", "value": 1.5, "tol": None},
        {"name": "ch9_n", "value": 400, "tol": 0},
    ]
    for bad in (-0.1, "0.1", True):
        with pytest.raises(ValueError, match="tol"):
            book.glue("ch9_x", 1.0, tol=bad)
    with pytest.raises(ValueError, match="tol"):
        book.glue("ch9_words", "more than 10", tol=0.5)


def test_check_glue_compares_each_number_within_its_tolerance(tmp_path):
    from fourpapers.book import check_glue, stored_glue

    nb = _glued_notebook(
        tmp_path / "a.ipynb",
        {"ch9_loss": "3.24", "ch9_n": "400", "ch9_t": "0.5", "ch9_s": "more"},
    )
    assert stored_glue(nb) == {
        "ch9_loss": "3.24",
        "ch9_n": "400",
        "ch9_t": "0.5",
        "ch9_s": "more",
    }
    log = tmp_path / "glue.jsonl"

    def write(**values):
        log.write_text(
            "".join(
                json.dumps({"name": k, "value": v, "tol": t}) + "\n"
                for k, (v, t) in values.items()
            )
        )

    write(ch9_loss=(3.30, 0.1), ch9_n=(400, 0), ch9_t=(9.0, None), ch9_s=("more", 0))
    lines = check_glue(log, [nb])
    assert len(lines) == 4 and any("not compared" in line for line in lines)
    write(ch9_loss=(3.30, 0.05), ch9_n=(400, 0), ch9_t=(9.0, None), ch9_s=("more", 0))
    with pytest.raises(AssertionError, match="ch9_loss"):
        check_glue(log, [nb])
    write(ch9_loss=(3.24, 0.1), ch9_n=(401, 0), ch9_t=(9.0, None), ch9_s=("more", 0))
    with pytest.raises(AssertionError, match="ch9_n"):
        check_glue(log, [nb])
    write(ch9_loss=(3.24, 0.1), ch9_n=(400, 0), ch9_t=(9.0, None))
    with pytest.raises(AssertionError, match="ch9_s: stored more, not glued"):
        check_glue(log, [nb])


def test_nbval_mode_is_strict_only_on_the_float_path_the_notebooks_ran_on(
    tmp_path, monkeypatch
):
    from fourpapers.book import nbval_mode

    monkeypatch.delenv("FOURPAPERS_NBVAL", raising=False)
    a = _glued_notebook(tmp_path / "a.ipynb", {}, float_path="CPU X | ATen AVX2")
    b = _glued_notebook(tmp_path / "b.ipynb", {}, float_path="CPU X | ATen AVX2")
    assert nbval_mode([a, b], here="CPU X | ATen AVX2")[0] == "strict"
    mode, why = nbval_mode([a, b], here="CPU X | ATen DEFAULT")
    assert mode == "portable" and "2 of 2" in why and "ATen DEFAULT" in why
    c = _glued_notebook(
        tmp_path / "c.ipynb", {}
    )  # executed before float paths were recorded
    assert nbval_mode([a, c], here="CPU X | ATen AVX2")[0] == "portable"
    monkeypatch.setenv("FOURPAPERS_NBVAL", "portable")
    assert nbval_mode([a, b], here="CPU X | ATen AVX2")[0] == "portable"
    monkeypatch.setenv("FOURPAPERS_NBVAL", "lax")
    with pytest.raises(ValueError, match="FOURPAPERS_NBVAL"):
        nbval_mode([a], here="x")


def test_stored_notebooks_record_the_float_path_they_were_executed_on():
    for nb in NOTEBOOKS:
        meta = json.loads(nb.read_text(encoding="utf-8"))["metadata"]
        assert "ATen " in meta.get("fourpapers", {}).get("float_path", ""), nb.name


def test_executor_stops_a_cell_over_its_limit_and_records_the_float_path(tmp_path):
    import subprocess
    import sys

    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    nbformat.write(nb, tmp_path / "ok.ipynb")
    nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(30)"))
    nbformat.write(nb, tmp_path / "slow.ipynb")
    script = ROOT / "benchmarks" / "execute_notebooks.py"
    ok = subprocess.run(
        [
            sys.executable,
            str(script),
            str(tmp_path / "ok.ipynb"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    done = json.loads((tmp_path / "out" / "ok.ipynb").read_text(encoding="utf-8"))
    assert "".join(done["cells"][0]["outputs"][0]["text"]) == "42\n"
    assert "ATen " in done["metadata"]["fourpapers"]["float_path"]
    slow = subprocess.run(
        [
            sys.executable,
            str(script),
            str(tmp_path / "slow.ipynb"),
            "--cell-limit",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert slow.returncode != 0 and "time.sleep(30)" in slow.stdout + slow.stderr


def _appendix_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "appendix", ROOT / "benchmarks" / "appendix.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_tables_become_markdown_tables_and_the_rest_stays_text():
    out = (
        "torch 2.x, 1 thread\n\n| d | ms |\n|---|---|\n| 64 | 1.0 |\n\n"
        "one step: 3 ms\n\n(measured in 2 s)"
    )
    assert _appendix_module().as_markdown(out) == (
        "```text\ntorch 2.x, 1 thread\n```\n\n| d | ms |\n|---|---|\n"
        "| 64 | 1.0 |\n\n```text\none step: 3 ms\n\n(measured in 2 s)\n```"
    )


def test_compute_appendix_has_no_table_inside_a_code_block():
    """The committed page as `make bench` writes it: every timing table is a Markdown
    table, not raw pipes."""
    text = (ROOT / "book" / "compute.md").read_text(encoding="utf-8")
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        rows = [line for line in block.splitlines() if line.lstrip().startswith("|")]
        assert not rows, f"book/compute.md: table rows inside a code block: {rows[:2]}"
    separators = re.findall(r"^\|[-| :]+\|$", text, flags=re.M)
    assert len(separators) == 4, (
        "expected the notebook, attention, delta-rule and norm tables, found "
        f"{len(separators)}"
    )


def test_every_glue_call_in_the_notebooks_declares_its_tolerance():
    """Portable mode compares glued numbers within the tolerance each glue call declares
    (CONTRIBUTING.md)."""
    calls = 0
    for nb in NOTEBOOKS:
        for cell in _cells(nb):
            if cell["cell_type"] != "code":
                continue
            src = _src(cell)
            for start in (m.start() for m in re.finditer(r"fp\.book\.glue\(", src)):
                depth, end = 0, start
                for end in range(start, len(src)):
                    depth += {"(": 1, ")": -1}.get(src[end], 0)
                    if depth == 0 and src[end] == ")":
                        break
                calls += 1
                assert "tol=" in src[start:end], f"{nb.name}: {src[start:end][:70]}"
    assert calls >= 30


def test_stored_notebooks_carry_no_widget_views_and_the_executor_strips_hidden_ones():
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location(
        "executor", ROOT / "benchmarks" / "execute_notebooks.py"
    )
    executor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(executor)
    view = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            executor.WIDGET_VIEW: {"model_id": "abc"},
            "text/plain": "interactive(...)",
        },
    }
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}})
    explorer = nbformat.v4.new_code_cell(
        "interact(...)", outputs=[nbformat.from_dict(view)]
    )
    explorer.metadata["tags"] = ["nbval-ignore-output", "remove-output"]
    shown = nbformat.v4.new_code_cell(
        "bar", outputs=[nbformat.from_dict(view)]
    )  # the book shows it: kept
    nb.cells = [explorer, shown]
    assert (
        executor.strip_hidden_widgets(nb) == 1
        and explorer.outputs == []
        and len(shown.outputs) == 1
    )
    assert "widgets" in nb.metadata  # still used by the shown view
    nb.cells = [explorer]
    executor.strip_hidden_widgets(nb)
    assert "widgets" not in nb.metadata
    for path in sorted(
        (ROOT / "notebooks").glob("*.ipynb")
    ):  # progress bars off, explorers stripped
        stored = nbformat.read(path, as_version=4)
        views = [
            i
            for i, c in enumerate(stored.cells)
            if c.cell_type == "code"
            for o in c.outputs
            if executor.WIDGET_VIEW in o.get("data", {})
        ]
        assert not views, (
            f"{path.name}: widget views stored in cells {views} (run make notebooks)"
        )
