"""Shared test setup: one torch thread per pytest worker (two workers share the 2-core
machine), and the order in which pytest-xdist (``--dist loadfile
--no-loadscope-reorder``) hands out files: the longest first, so that the two workers
finish together instead of one waiting on the last long file. The seconds below are
single-thread CPU seconds measured on 2026-11-26 (AMD EPYC, `pytest --durations=0`,
`jupyter execute`; the files of chapters 1 and 3 on 2026-12-07, after their split into
folders); they only set the order."""

import pytest
import torch

from fourpapers import claims

torch.set_num_threads(1)

SECONDS = {
    "tests/ulmfit/test_experiments.py": 380,
    "tests/gopher/test_scaling.py": 360,
    "tests/ln_placement/test_warmup.py": 255,
    "tests/ln_placement/test_at_init.py": 60,
    "tests/ulmfit/test_tasks.py": 15,
    "tests/ulmfit/test_arms.py": 11,
    "notebooks/03_ulmfit.ipynb": 218,
    "tests/fast_weights/test_capacity.py": 190,
    "notebooks/01_ln_placement.ipynb": 150,
    "notebooks/04_gopher.ipynb": 102,
    "notebooks/02_fast_weights.ipynb": 100,
    "tests/test_toolkit.py": 48,
    "notebooks/00_toolkit.ipynb": 40,
}


def pytest_collection_modifyitems(session, config, items):
    def cost(item):
        return -SECONDS.get(item.nodeid.split("::")[0], 0)

    items.sort(key=cost)  # stable: the order inside a file is kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record every claims test's outcome beside its numbers (FOURPAPERS_CLAIMS_JSONL),
    in the process that ran it."""
    outcome = yield
    rep = outcome.get_result()
    if item.get_closest_marker("claims") and (
        rep.when == "call" or rep.outcome != "passed"
    ):
        claims.record_outcome(item.nodeid, rep.outcome)
