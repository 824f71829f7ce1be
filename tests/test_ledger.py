"""The claims ledger (book/claims.md, fourpapers.ledger): the page names exactly the claims tests pytest collects, the
metadata is checked, and the page is rendered from a claims run as the run says (statuses, seeds, numbers)."""
import json
import pathlib

import pytest

from fourpapers import claims, ledger

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def collected():
    return ledger.collected_claims(ROOT)


def test_metadata_and_committed_page_name_exactly_the_claims_tests_pytest_collects(collected):
    meta = ledger.load_ledger()
    page = (ROOT / "book" / "claims.md").read_text(encoding="utf-8")
    assert len(collected) >= 20 and all("::test_" in c and "[" not in c for c in collected)
    for where, ids in (("book/claims.yml", ledger.ledger_ids(meta)),
                       ("book/claims.md (run `make ledger`)", ledger.page_ids(page))):
        assert ids == collected, (f"{where} against the claims tests: missing {sorted(collected - ids)}, "
                                  f"no such test {sorted(ids - collected)}")
    assert set(meta) == set(claims.CHAPTERS.values())
    for chapter in meta:     # one table per chapter, under the anchor the chapter's note links
        assert f"(ledger-chapter-{chapter})=" in page


def test_collected_claims_sees_a_new_claims_test(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_toolkit.py").write_text(
        "import pytest\n\n@pytest.mark.claims\n@pytest.mark.parametrize('seed', [0, 1])\n"
        "def test_a(seed):\n    pass\n\n@pytest.mark.claims\ndef test_b():\n    pass\n\n"
        "def test_not_a_claim():\n    pass\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\nmarkers = ['claims: a claim']\n")
    assert ledger.collected_claims(tmp_path) == {"tests/test_toolkit.py::test_a", "tests/test_toolkit.py::test_b"}
    with pytest.raises(ValueError, match="root"):
        ledger.collected_claims(tmp_path / "nowhere")


def _yml(tmp_path, **overrides):
    claim = {"paper": "P 2020: x is 4.", "miniature": "x > 1.", "status": "shown", "show": ["x"], **overrides}
    text = json.dumps({"chapters": {0: {"title": "T", "notebook": "notebooks/00_toolkit",
                                        "claims": {"test_x": claim, "test_mean": {**claim, "show": ["m"]}},
                                        "untested": ["y is 3: not asserted."]}}})
    path = tmp_path / "claims.yml"
    path.write_text(text, encoding="utf-8")      # JSON is YAML
    return path


def _run(tmp_path, rows, outcomes):
    path = tmp_path / "claims.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for test, seed, numbers in rows:
            f.write(json.dumps({"kind": "report", "test": test, "chapter": 0, "claim": "x > 1", "seed": seed,
                                "numbers": numbers}) + "\n")
        for test, outcome in outcomes.items():
            f.write(json.dumps({"kind": "outcome", "test": test, "chapter": 0, "outcome": outcome}) + "\n")
    return claims.read_results(path)


X = "tests/test_toolkit.py::test_x"
M = "tests/test_toolkit.py::test_mean"


def test_render_shows_each_seed_the_aggregate_and_the_status(tmp_path):
    meta = ledger.load_ledger(_yml(tmp_path))
    res = _run(tmp_path, [(f"{X}[{s}]", s, {"x": 1.0 + s / 3, "other": 9.0}) for s in range(4)]
               + [(M, "all", {"m": 0.0123456})],
               {**{f"{X}[{s}]": "passed" for s in range(4)}, M: "passed"})
    page = ledger.render(meta, res, seeds=[0, 1, 2], source="a test run", float_path="fp")
    row = next(line for line in page.splitlines() if "test_<wbr>x" in line)
    assert row.startswith("| P 2020: x is 4. | x > 1. (<code") and row.endswith("| **shown** |")
    assert "seed 0: x 1<br>seed 1: x 1.33<br>seed 2: x 1.67 |" in row and "seed 3" not in row and "other" not in row
    mean = next(line for line in page.splitlines() if "test_<wbr>mean" in line)
    assert "over seeds 0–3: m 0.0123 |" in mean        # an aggregate is over the run's own seeds
    assert "(ledger-chapter-0)=" in page and "* y is 3: not asserted." in page
    assert '% ledger: {"seeds": [0, 1, 2], "float_path": "fp"}' in page
    assert "**This page:** 2 claims shown, 0 not shown; seeds 0–2, rendered by `make ledger` from a test run." in page
    assert ledger.page_ids(page) == {X, M}


def test_render_never_shows_a_failed_or_unrun_claim_as_shown(tmp_path):
    meta = ledger.load_ledger(_yml(tmp_path, status="not shown"))
    res = _run(tmp_path, [(f"{X}[{s}]", s, {"x": 2.0}) for s in (0, 1)],
               {f"{X}[0]": "passed", f"{X}[1]": "failed"})
    page = ledger.render(meta, res, seeds=[0, 1])
    lines = page.splitlines()
    assert next(line for line in lines if "test_<wbr>x" in line).endswith("| **FAILED** on seed 1 |")
    assert next(line for line in lines if "test_<wbr>mean" in line).endswith("| not in this run | not run |")
    assert "0 claims shown, 0 not shown, 2 failed or not run" in page
    mean_failed = _run(tmp_path, [(f"{X}[0]", 0, {"x": 2.0}), (f"{X}[1]", 1, {"x": 2.0}), (M, "all", {"m": 1.0})],
                       {f"{X}[0]": "passed", f"{X}[1]": "passed", M: "failed"})
    lines = ledger.render(meta, mean_failed, seeds=[0]).splitlines()
    assert next(line for line in lines if "test_<wbr>mean" in line).endswith("| **FAILED** over seeds 0, 1 |")
    assert next(line for line in lines if "test_<wbr>x" in line).endswith("| **not shown** |")
    passed = _run(tmp_path, [(f"{X}[0]", 0, {"x": 2.0})], {f"{X}[0]": "passed"})
    row = next(line for line in ledger.render(meta, passed, seeds=[0, 1]).splitlines() if "test_<wbr>x" in line)
    assert row.endswith("| **not shown** (checked on seed 0 only) |")
    skipped = _run(tmp_path, [(f"{X}[0]", 0, {"x": 2.0}), (f"{X}[1]", 1, {"x": 2.0})], {f"{X}[0]": "skipped"})
    row = next(line for line in ledger.render(meta, skipped, seeds=[0, 1]).splitlines() if "test_<wbr>x" in line)
    assert row.endswith("| no outcome recorded, skipped |")


def test_render_rejects_tests_missing_from_the_metadata_and_numbers_not_reported(tmp_path):
    meta = ledger.load_ledger(_yml(tmp_path))
    unknown = _run(tmp_path, [("tests/test_toolkit.py::test_new[0]", 0, {"x": 1.0})], {})
    with pytest.raises(ValueError, match="test_new"):
        ledger.render(meta, unknown)
    renamed = _run(tmp_path, [(f"{X}[0]", 0, {"y": 1.0})], {f"{X}[0]": "passed"})
    with pytest.raises(ValueError, match="show"):
        ledger.render(meta, renamed)
    with pytest.raises(ValueError, match="seeds"):
        ledger.render(meta, renamed, seeds=[])


@pytest.mark.parametrize("override, field", [({"status": "half shown"}, "status"), ({"show": []}, "show"),
                                             ({"paper": " "}, "paper"), ({"extra": 1}, "fields")])
def test_load_ledger_names_the_bad_field(tmp_path, override, field):
    with pytest.raises(ValueError, match=field):
        ledger.load_ledger(_yml(tmp_path, **override))


def test_compare_finds_a_number_that_moved_at_the_printed_digits(tmp_path):
    meta = ledger.load_ledger(_yml(tmp_path))

    def page(x):
        res = _run(tmp_path, [(f"{X}[0]", 0, {"x": x}), (M, "all", {"m": 0.5})], {f"{X}[0]": "passed", M: "passed"})
        return ledger.render(meta, res, seeds=[0], source="somewhere", float_path="fp")

    assert ledger.compare(page(1.2341), page(1.2339)) == []      # both print 1.23
    diff = ledger.compare(page(1.2341), page(1.2389))            # 1.23 against 1.24
    assert [d[:1] for d in diff if d[:1] in "+-" and not d.startswith(("---", "+++"))] == ["-", "+"]
    assert "seed 0: x 1.24" in diff[-1]


def test_check_fails_on_a_stale_page_only_on_the_float_path_it_was_rendered_on(tmp_path, monkeypatch, capsys):
    from fourpapers import book

    monkeypatch.setattr(book, "float_path", lambda: "here")
    yml = ["--ledger", str(_yml(tmp_path))]
    run = tmp_path / "run.jsonl"
    run.write_text("\n".join(json.dumps(r) for r in [
        {"kind": "report", "test": f"{X}[0]", "chapter": 0, "claim": "x > 1", "seed": 0, "numbers": {"x": 1.5}},
        {"kind": "outcome", "test": f"{X}[0]", "chapter": 0, "outcome": "passed"}]) + "\n", encoding="utf-8")
    page = tmp_path / "claims.md"
    assert ledger.main(["render", str(run), "--out", str(page), *yml]) == 0
    assert ledger.main(["check", str(run), "--page", str(page), *yml]) == 0
    assert "matches this run" in capsys.readouterr().out
    page.write_text(page.read_text(encoding="utf-8").replace("seed 0: x 1.5", "seed 0: x 1.4"), encoding="utf-8")
    assert ledger.main(["check", str(run), "--page", str(page), *yml]) == 1
    assert "run `make ledger`" in capsys.readouterr().out
    monkeypatch.setattr(book, "float_path", lambda: "another machine")
    assert ledger.main(["check", str(run), "--page", str(page), *yml]) == 0
    assert "another float path" in capsys.readouterr().out
    other_seeds = tmp_path / "seeds.jsonl"
    other_seeds.write_text(run.read_text(encoding="utf-8").replace(f"{X}[0]", f"{X}[11]").replace('"seed": 0',
                                                                                                '"seed": 11'))
    assert ledger.main(["check", str(other_seeds), "--page", str(page), *yml]) == 0
    assert "not compared" in capsys.readouterr().out



def test_an_aggregate_that_also_reports_each_seed_is_labelled_by_seed(tmp_path):
    # a rate over seeds (one test, no seed parameter) reports each seed's numbers, then the count over all of them
    meta = ledger.load_ledger(_yml(tmp_path))
    res = _run(tmp_path, [(f"{X}[0]", 0, {"x": 2.0}), (M, 0, {"d": 1.5}), (M, 1, {"d": 4.0}), (M, "all", {"m": 1})],
               {f"{X}[0]": "passed", M: "passed"})
    meta[0]["claims"]["test_mean"]["show"] = ["d", "m"]
    row = next(line for line in ledger.render(meta, res, seeds=[0]).splitlines() if "test_<wbr>mean" in line)
    assert "over seeds 0: seed 0: d 1.5; seed 1: d 4; all seeds: m 1 |" in row
    meta[0]["claims"]["test_mean"]["show"] = ["d", "nowhere"]
    with pytest.raises(ValueError, match="nowhere"):
        ledger.render(meta, res, seeds=[0])


def test_a_chapter_package_keys_its_claims_by_file_and_the_page_names_them(tmp_path):
    # a chapter split into a package keeps its tests in tests/<module>/: its claims are keyed test_file.py::test_name
    claim = {"paper": "P 2020: x is 4.", "miniature": "x > 1.", "status": "shown", "show": ["x"]}
    text = json.dumps({"chapters": {1: {"title": "T", "notebook": "notebooks/01_ln_placement",
                                        "claims": {"test_warmup.py::test_x": claim}}}})
    path = tmp_path / "claims.yml"
    path.write_text(text, encoding="utf-8")
    meta = ledger.load_ledger(path)
    cid = "tests/ln_placement/test_warmup.py::test_x"
    assert ledger.ledger_ids(meta) == {cid} and ledger.claim_id(0, "test_y") == "tests/test_toolkit.py::test_y"
    res = _run(tmp_path, [(f"{cid}[0]", 0, {"x": 2.0})], {f"{cid}[0]": "passed"})
    page = ledger.render(meta, res, seeds=[0])
    assert "its tests: `tests/ln_placement/`." in page and ledger.page_ids(page) == {cid}
    path.write_text(text.replace("test_warmup.py::", "warmup::"), encoding="utf-8")
    with pytest.raises(ValueError, match="test function name"):
        ledger.load_ledger(path)
