"""The claims harness: each figure's claim is a check, asserted by a test over several seeds.

A test marked ``@pytest.mark.claims`` takes its seeds from :func:`seeds`, which reads ``FOURPAPERS_SEEDS``
(comma-separated integers) and otherwise falls back to the chapter's defaults, and prints one line per seed with
the numbers it checks (:func:`report`). So anyone can re-run every claim of the book on seeds of their choosing::

    FOURPAPERS_SEEDS=11,12,13 pytest -m claims -s

With ``FOURPAPERS_CLAIMS_LOG`` set to a file path, :func:`report` also appends each line there (``make test`` writes
``_build/claims.log``: every claim's numbers per seed, also from pytest-xdist workers, whose output is hidden).
With ``FOURPAPERS_CLAIMS_JSONL`` set, it appends a structured record per line (the test's id, its chapter, the
statement, the seed and the numbers), and ``tests/conftest.py`` appends each claims test's outcome to the same file
(:func:`record_outcome`); :func:`read_results` joins the two.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Sequence

__all__ = ["seeds", "report", "record_outcome", "read_results", "CHAPTERS"]

ENV = "FOURPAPERS_SEEDS"
LOG_ENV = "FOURPAPERS_CLAIMS_LOG"
JSONL_ENV = "FOURPAPERS_CLAIMS_JSONL"
# Which chapter a claims test file belongs to, by its path under tests/ (tests mirror the chapter modules; a
# chapter that is a package has a folder of tests, and its claims live in one file of it).
CHAPTERS = {"test_toolkit.py": 0, "test_ln_placement.py": 1, "test_fast_weights.py": 2, "test_ulmfit.py": 3,
            "gopher/test_scaling.py": 4}


def seeds(default: Sequence[int]) -> list[int]:
    """The seeds a claim is checked on: ``FOURPAPERS_SEEDS`` if set (e.g. ``"11,12,13"``), else ``default``."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        out = list(default)
        if not out:
            raise ValueError("default: expected at least one seed")
        return out
    try:
        out = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{ENV}: expected comma-separated integers such as '0,1,2', got {raw!r}") from None
    if not out or any(s < 0 for s in out):
        raise ValueError(f"{ENV}: expected one or more non-negative integers, got {raw!r}")
    return out


def report(claim: str, seed: int | str, **numbers: float) -> str:
    """Print (and return) one line: the claim, the seed and the numbers it checks, rounded to 4 significant digits;
    also append it to the file named by ``FOURPAPERS_CLAIMS_LOG`` when that is set."""
    parts = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in numbers.items())
    line = f"[claim] {claim} | seed {seed} | {parts}"
    print(line)
    log = os.environ.get(LOG_ENV, "").strip()
    if log:
        with open(log, "a", encoding="utf-8") as f:  # one short append per line: safe from parallel workers
            f.write(line + "\n")
    test = _current_test()
    _append_json({"kind": "report", "test": test, "chapter": _chapter(test), "claim": claim, "seed": seed,
                  "numbers": {k: (v if isinstance(v, (int, float)) else str(v)) for k, v in numbers.items()}})
    return line


def record_outcome(nodeid: str, outcome: str) -> None:
    """Append a claims test's outcome (``passed`` / ``failed``) to ``FOURPAPERS_CLAIMS_JSONL`` (called by the
    test suite's conftest for every test marked ``claims``)."""
    if outcome not in ("passed", "failed", "skipped"):
        raise ValueError(f"outcome: expected 'passed', 'failed' or 'skipped', got {outcome!r}")
    _append_json({"kind": "outcome", "test": nodeid, "chapter": _chapter(nodeid), "outcome": outcome})


def read_results(path: str | os.PathLike) -> dict[str, dict]:
    """Join a claims JSON-lines file into one record per test id: ``{"chapter", "outcome", "reports": [...]}``,
    where each report holds the statement, the seed and the numbers (the last run of a test wins)."""
    out: dict[str, dict] = {}
    for raw in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        rec = json.loads(raw)
        entry = out.setdefault(rec["test"], {"chapter": rec["chapter"], "outcome": None, "reports": []})
        if rec["kind"] == "report":
            entry["reports"].append({k: rec[k] for k in ("claim", "seed", "numbers")})
        else:
            entry["outcome"] = rec["outcome"]
    return out


def _current_test() -> str:
    """The running pytest test's id (``tests/test_x.py::test_y[1]``), or ``""`` outside pytest."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def _chapter(test: str) -> int | None:
    """The chapter of a test id whose file path ends with one of :data:`CHAPTERS`' paths."""
    parts = pathlib.PurePosixPath(test.split("::")[0]).parts
    for path, chapter in CHAPTERS.items():
        tail = pathlib.PurePosixPath(path).parts
        if parts[-len(tail):] == tail:
            return chapter
    return None


def _append_json(record: dict) -> None:
    path = os.environ.get(JSONL_ENV, "").strip()
    if path:
        with open(path, "a", encoding="utf-8") as f:  # one short append per record: safe from parallel workers
            f.write(json.dumps(record) + "\n")
