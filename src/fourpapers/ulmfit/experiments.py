"""Fig. 3 (error against labels) and the ablations of Tables 6 and 7."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ..training import progress_bar
from .arms import (
    ARMS,
    ArmResult,
    Recipe,
    _tuned,
    scratch_arm,
    semi_supervised_arm,
    supervised_arm,
    target_lm,
)
from .awd_lstm import AWDLSTM
from .tasks import TextTask

# --------------------------------------------------------------------------------------
# Experiments: Fig. 3 and the ablations of Tables 6 and 7
# --------------------------------------------------------------------------------------

SCRATCH_VARIANTS = ("scratch", "scratch_full", "scratch_nodrop")


@dataclass
class Fig3Result:
    """Fig. 3 in miniature: ``results[arm][n]`` is the :class:`ArmResult` of ``arm``
    with ``n`` labeled examples."""

    results: dict[str, dict[int, ArmResult]]

    def error(self, arm: str, n: int) -> float:
        """The tuned validation error (%) of ``arm`` at ``n``; ``arm="best_scratch"``:
        the best scratch variant."""
        if arm == "best_scratch":
            errs = [
                self.results[v][n].error
                for v in SCRATCH_VARIANTS
                if n in self.results.get(v, {})
            ]
            if not errs:
                raise ValueError(f"n: no scratch variant was run at n={n}")
            return min(errs)
        if arm not in self.results or n not in self.results[arm]:
            raise ValueError(f"arm, n: no result for arm {arm!r} at n={n}")
        return self.results[arm][n].error

    def ns(self, arm: str) -> list[int]:
        """The labeled-set sizes at which ``arm`` ran (``"best_scratch"``: where any
        scratch variant ran)."""
        if arm == "best_scratch":
            return sorted(
                {n for v in SCRATCH_VARIANTS for n in self.results.get(v, {})}
            )
        return sorted(self.results.get(arm, {}))

    def curve(self, arm: str) -> tuple[list[int], list[float]]:
        ns = self.ns(arm)
        return ns, [self.error(arm, n) for n in ns]


def labels_to_match(ns: Sequence[int], errors: Sequence[float], target: float) -> float:
    """How many labels a curve needs to reach ``target`` error: the first grid point at
    or below it, interpolated linearly in log n from the point before (Fig. 3's "matches
    scratch trained on k x more data"); ``inf`` if the curve never reaches it, ``ns[0]``
    if it starts there."""
    if len(ns) == 0 or len(ns) != len(errors) or list(ns) != sorted(ns) or min(ns) < 1:
        raise ValueError(
            f"ns, errors: expected increasing sizes >= 1 with one error each, got "
            f"{ns!r}, {errors!r}"
        )
    for i, (n, e) in enumerate(zip(ns, errors)):
        if e <= target:
            if i == 0:
                return float(n)
            n0, e0 = ns[i - 1], errors[i - 1]
            frac = (e0 - target) / (e0 - e)
            return float(math.exp(math.log(n0) + frac * (math.log(n) - math.log(n0))))
    return math.inf


def fig3_experiment(
    task: TextTask,
    lm: AWDLSTM,
    recipe: Recipe,
    plan: dict[str, Sequence[int]],
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Fig3Result:
    """Run Fig. 3's arms: ``plan`` maps an arm (``"supervised"``, ``"semi"`` or a
    scratch variant) to its sizes n.

    ``lm`` is the pretrained LM (stage 1), shared by every arm and left untouched; the
    semi-supervised arm's LM is fine-tuned once on all of ``task.pool`` and shared by
    its sizes. One progress bar over all runs.
    """

    for arm in plan:
        if arm not in ARMS:
            raise ValueError(f"plan: expected arms among {ARMS}, got {arm!r}")
    jobs = [(arm, n) for arm, ns in plan.items() for n in ns]
    results: dict[str, dict[int, ArmResult]] = {arm: {} for arm in plan}
    semi_lm = None
    bar = progress_bar(jobs, "Fig. 3 arms", progress)
    for arm, n in bar:
        if arm == "supervised":
            r = supervised_arm(task, lm, n, recipe, seed, device)
        elif arm == "semi":
            if semi_lm is None:
                semi_lm = target_lm(
                    lm, task, task.pool, recipe, seed=seed, device=device
                )
            r = semi_supervised_arm(task, semi_lm, n, recipe, seed, device)
        else:
            r = scratch_arm(task, n, recipe, seed, variant=arm, device=device)
        results[arm][n] = r
    return Fig3Result(results)


# Table 7's rows (classifier fine-tuning): unfreezing, discriminative rates, schedule.
# "const": a constant rate.
ABLATION_ROWS = {
    "Full": {"unfreeze": "full", "discr": False, "schedule": "const"},
    "Last": {"unfreeze": "last", "discr": False, "schedule": "const"},
    "Freez": {"unfreeze": "gradual", "discr": False, "schedule": "const"},
    "Freez+discr+stlr": {"unfreeze": "gradual", "discr": True, "schedule": "stlr"},
}


# Table 6's first row: stage 2 skipped, the full classifier recipe (Freez+discr+stlr) on
# the pretrained LM itself.
NO_LM_FT = "no LM fine-tuning"


def ablation_experiment(
    task: TextTask,
    lm: AWDLSTM,
    recipe: Recipe,
    n: int,
    seed: int = 0,
    rows: Sequence[str] = tuple(ABLATION_ROWS),
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, ArmResult]:
    """Tables 6 and 7 in miniature: classifier fine-tuning variants (Table 7's rows,
    :data:`ABLATION_ROWS`) on one stage-2 LM fine-tuned on the n labeled docs; the row
    :data:`NO_LM_FT` (Table 6's "No LM fine-tuning") runs the full classifier recipe on
    the stage-1 ``lm`` instead (no stage 2)."""
    for r in rows:
        if r not in ABLATION_ROWS and r != NO_LM_FT:
            raise ValueError(
                f"rows: expected names among {tuple(ABLATION_ROWS) + (NO_LM_FT,)}, got "
                f"{r!r}"
            )
    docs, _ = task.labeled(n, seed)
    tuned = (
        target_lm(lm, task, docs, recipe, seed=seed, device=device)
        if set(rows) - {NO_LM_FT}
        else None
    )
    return {
        r: (
            _tuned(r, task, lm, n, recipe, seed, device)
            if r == NO_LM_FT
            else _tuned(r, task, tuned, n, recipe, seed, device, **ABLATION_ROWS[r])
        )
        for r in progress_bar(rows, "Table 6/7 rows", progress)
    }
