"""The claims harness: each figure's claim is a check, asserted by a test over several seeds.

A test marked ``@pytest.mark.claims`` takes its seeds from :func:`seeds`, which reads ``FOURPAPERS_SEEDS``
(comma-separated integers) and otherwise falls back to the chapter's defaults, and prints one line per seed with
the numbers it checks (:func:`report`). So anyone can re-run every claim of the book on seeds of their choosing::

    FOURPAPERS_SEEDS=11,12,13 pytest -m claims -s

With ``FOURPAPERS_CLAIMS_LOG`` set to a file path, :func:`report` also appends each line there (``make test`` writes
``_build/claims.log``: every claim's numbers per seed, also from pytest-xdist workers, whose output is hidden).
"""

from __future__ import annotations

import os
from typing import Sequence

__all__ = ["seeds", "report"]

ENV = "FOURPAPERS_SEEDS"
LOG_ENV = "FOURPAPERS_CLAIMS_LOG"


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
    return line
