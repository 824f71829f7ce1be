import pytest

from fourpapers import claims


def test_default_seeds_when_unset(monkeypatch):
    monkeypatch.delenv("FOURPAPERS_SEEDS", raising=False)
    assert claims.seeds([0, 1, 2]) == [0, 1, 2]


def test_seeds_from_environment(monkeypatch):
    monkeypatch.setenv("FOURPAPERS_SEEDS", "11, 12,13")
    assert claims.seeds([0]) == [11, 12, 13]


@pytest.mark.parametrize("raw", ["a,b", "1;2", "-1", ","])
def test_bad_seed_lists_are_rejected(monkeypatch, raw):
    monkeypatch.setenv("FOURPAPERS_SEEDS", raw)
    with pytest.raises(ValueError, match="FOURPAPERS_SEEDS"):
        claims.seeds([0])


def test_report_prints_one_line(capsys, monkeypatch):
    monkeypatch.delenv("FOURPAPERS_CLAIMS_LOG", raising=False)
    monkeypatch.delenv("FOURPAPERS_CLAIMS_JSONL", raising=False)   # not a claim of the book: not in make test's run
    line = claims.report("loss below H", 3, loss=2.01234567, H=3.25)
    assert capsys.readouterr().out.strip() == line
    assert line == "[claim] loss below H | seed 3 | loss=2.012 H=3.25"


def test_report_appends_to_the_claims_log_when_asked(monkeypatch, tmp_path, capsys):
    log = tmp_path / "claims.log"
    monkeypatch.setenv("FOURPAPERS_CLAIMS_LOG", str(log))
    monkeypatch.delenv("FOURPAPERS_CLAIMS_JSONL", raising=False)
    first = claims.report("a", 0, x=1.0)
    second = claims.report("b", "all", y=2)
    assert log.read_text(encoding="utf-8").splitlines() == [first, second]
    monkeypatch.delenv("FOURPAPERS_CLAIMS_LOG")
    claims.report("c", 1, z=3.0)
    assert len(log.read_text(encoding="utf-8").splitlines()) == 2


def test_glue_rejects_bad_names_and_non_numbers(monkeypatch):
    from fourpapers import book

    monkeypatch.delenv("FOURPAPERS_GLUE_LOG", raising=False)   # keep make test's glue log free of this example
    with pytest.raises(ValueError, match="name"):
        book.glue("bad name", 1.0)
    with pytest.raises(ValueError, match="value"):
        book.glue("ok", "text", digits=2)
    book.glue("ok", 1.23456, digits=2)  # outside IPython: a no-op, no error
    assert book.stamp(seeds=[0]).startswith("fourpapers ") and "seeds [0]" in book.stamp(seeds=[0])


def test_structured_results_join_reports_and_outcomes(monkeypatch, tmp_path, capsys):
    path = tmp_path / "claims.jsonl"
    monkeypatch.delenv("FOURPAPERS_CLAIMS_LOG", raising=False)   # keep make test's claims log free of this example
    monkeypatch.setenv("FOURPAPERS_CLAIMS_JSONL", str(path))
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/test_ulmfit.py::test_x[1] (call)")
    claims.report("error below scratch", 1, sup=3.7, scratch=42.7, ratio="> 4.17")
    claims.record_outcome("tests/test_ulmfit.py::test_x[1]", "failed")
    claims.record_outcome("tests/gopher/test_scaling.py::test_y", "passed")
    res = claims.read_results(path)
    assert res["tests/test_ulmfit.py::test_x[1]"] == {
        "chapter": 3, "outcome": "failed",
        "reports": [{"claim": "error below scratch", "seed": 1, "numbers": {"sup": 3.7, "scratch": 42.7, "ratio": "> 4.17"}}]}
    gopher = res["tests/gopher/test_scaling.py::test_y"]
    assert gopher["chapter"] == 4 and gopher["reports"] == []
    assert claims._chapter("tests/ulmfit/test_scaling.py::t") is None   # the folder counts too
    with pytest.raises(ValueError, match="outcome"):
        claims.record_outcome("t", "xfailed")
