"""The book's structure: the table of contents, the notebooks, and their Colab cells agree."""
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
        h1 = [line for text in md for line in text.splitlines() if re.match(r"# \S", line)]
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


def _appendix_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("appendix", ROOT / "benchmarks" / "appendix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_tables_become_markdown_tables_and_the_rest_stays_text():
    out = "torch 2.x, 1 thread\n\n| d | ms |\n|---|---|\n| 64 | 1.0 |\n\none step: 3 ms\n\n(measured in 2 s)"
    assert _appendix_module().as_markdown(out) == ("```text\ntorch 2.x, 1 thread\n```\n\n| d | ms |\n|---|---|\n"
                                                    "| 64 | 1.0 |\n\n```text\none step: 3 ms\n\n(measured in 2 s)\n```")


def test_compute_appendix_has_no_table_inside_a_code_block():
    """The committed page as `make bench` writes it: every timing table is a Markdown table, not raw pipes."""
    text = (ROOT / "book" / "compute.md").read_text(encoding="utf-8")
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        rows = [line for line in block.splitlines() if line.lstrip().startswith("|")]
        assert not rows, f"book/compute.md: table rows inside a code block: {rows[:2]}"
    separators = re.findall(r"^\|[-| :]+\|$", text, flags=re.M)
    assert len(separators) == 3, f"expected the notebook, attention and norm tables, found {len(separators)}"
