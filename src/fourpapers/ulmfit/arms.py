"""Each world's calibrated settings (Recipe) and the arms of Fig. 3."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import torch

from .awd_lstm import AWDLSTM, CLAS_DROPOUTS, LM_DROPOUTS, ConcatPoolClassifier
from .stages import finetune_classifier, finetune_lm, pretrain_lm
from .tasks import TextTask

# --------------------------------------------------------------------------------------
# Recipes (a world's calibrated settings) and the arms of Fig. 3
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """Every setting of a ULMFiT run; :data:`WORLD_A` and :data:`WORLD_B` are the
    chapter's calibrated presets.

    LM: ``n_layers`` LSTMs (``hidden_size`` units, the last ``emb_size``), embedding
    U(+-``init_range``), AWD dropouts ``LM_DROPOUTS`` x ``lm_drop_mult`` while training
    the LM. Stage 1: ``pretrain_steps`` x ``batch_size`` x ``seq_len`` at
    ``pretrain_lr``. Stage 2: ``lm_ft_epochs`` passes over the target text at
    ``lm_ft_lr`` (between ``lm_ft_min_steps`` and ``lm_ft_max_steps`` updates). Stage 3:
    dropouts ``CLAS_DROPOUTS`` x ``clf_drop_mult``, each arm tuned over ``clf_lrs`` x
    ``n_checkpoints`` checkpoints.
    """

    n_layers: int = 3
    emb_size: int = 64
    hidden_size: int = 128
    init_range: float = 0.1
    lm_drop_mult: float = 0.0
    pretrain_steps: int = 700
    pretrain_lr: float = 1e-2
    warmup: int = 100
    batch_size: int = 32
    seq_len: int = 35
    lm_ft_lr: float = 1e-2
    lm_ft_epochs: float = 4.0
    lm_ft_min_steps: int = 20
    lm_ft_max_steps: int = 200
    clf_lrs: tuple[float, ...] = (1e-2, 3e-2, 1e-1)
    clf_drop_mult: float = 0.5
    clf_hidden: int = 50
    final_epochs: int = 2
    clf_batch_size: int = 32
    min_steps: int = 25
    n_checkpoints: int = 4

    def new_lm(self, vocab_size: int) -> AWDLSTM:
        """A fresh (random) LM of this recipe's shape with its LM-training dropouts."""
        return AWDLSTM(
            vocab_size,
            self.emb_size,
            self.hidden_size,
            self.n_layers,
            self.init_range,
            **{k: v * self.lm_drop_mult for k, v in LM_DROPOUTS.items()},
        )

    def new_classifier(
        self, lm: AWDLSTM, n_classes: int, drop_mult: float | None = None
    ) -> ConcatPoolClassifier:
        """The concat-pool classifier on ``lm`` (not copied), with the classifier
        dropouts."""
        dm = self.clf_drop_mult if drop_mult is None else drop_mult
        lm.set_dropouts(**{k: v * dm for k, v in CLAS_DROPOUTS.items()})
        return ConcatPoolClassifier(
            lm,
            n_classes,
            self.clf_hidden,
            drops=(CLAS_DROPOUTS["output_p"] * dm, 0.1 * dm),
        )


# World B, calibrated for chapter 3 (3 seeds): one LSTM layer, embedding U(+-1), no
# dropout, 1,200 updates at a peak of 3e-2 (at 3e-3 or with AWD dropouts the LM stayed
# near the syntax-only loss much longer). Every arm is tuned over the same three rates;
# scratch's optimum (1e-1) sits inside the grid's reach (3e-1 was worse).
WORLD_B = Recipe(n_layers=1, init_range=1.0, pretrain_steps=1200, pretrain_lr=3e-2)
# World A, the design of the chapter's issue: LSTMs 128/128/64, embedding U(+-0.1), 700
# updates.
WORLD_A = Recipe(n_layers=3, init_range=0.1, pretrain_steps=700, pretrain_lr=1e-2)


def pretrained_lm(
    task: TextTask,
    recipe: Recipe,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[AWDLSTM, list[float]]:
    """Stage 1 for a task: a fresh LM of ``recipe`` pretrained on ``task.general``;
    returns (lm, per-step losses)."""
    torch.manual_seed(seed)
    lm = recipe.new_lm(len(task.vocab))
    losses = pretrain_lm(
        lm,
        task.general,
        recipe.pretrain_steps,
        lr=recipe.pretrain_lr,
        batch_size=recipe.batch_size,
        seq_len=recipe.seq_len,
        warmup=recipe.warmup,
        seed=seed,
        device=device,
        progress=progress,
    )
    return lm.cpu(), losses


def target_lm(
    lm: AWDLSTM,
    task: TextTask,
    docs: Sequence[torch.Tensor],
    recipe: Recipe,
    seed: int = 0,
    discr: bool = True,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> AWDLSTM:
    """Stage 2: a copy of ``lm`` fine-tuned on the text of ``docs``
    (``recipe.lm_ft_epochs`` passes, STLR, discr)."""
    ids = task.stream(docs)
    tokens_per_step = recipe.batch_size * recipe.seq_len
    steps = int(
        min(
            recipe.lm_ft_max_steps,
            max(
                recipe.lm_ft_min_steps,
                round(recipe.lm_ft_epochs * len(ids) / tokens_per_step),
            ),
        )
    )
    out = copy.deepcopy(lm)
    finetune_lm(
        out,
        ids,
        steps,
        lr=recipe.lm_ft_lr,
        discr=discr,
        batch_size=recipe.batch_size,
        seq_len=recipe.seq_len,
        seed=seed,
        device=device,
        progress=progress,
    )
    return out.cpu()


@dataclass
class ArmResult:
    """One arm at one labeled-set size: the validation error (%) at every learning rate
    and checkpoint."""

    arm: str
    n: int
    errors: dict[float, list[float]]

    @property
    def error(self) -> float:
        """The tuned error: the best over learning rates and checkpoints (every arm is
        tuned alike)."""
        return min(min(v) for v in self.errors.values())

    @property
    def best_lr(self) -> float:
        return min(self.errors, key=lambda lr: (min(self.errors[lr]), lr))


ARMS = ("scratch", "scratch_full", "scratch_nodrop", "supervised", "semi")


def _tuned(
    arm: str,
    task: TextTask,
    lm: AWDLSTM,
    n: int,
    recipe: Recipe,
    seed: int,
    device,
    drop_mult=None,
    **ft,
) -> ArmResult:
    docs, labels = task.labeled(n, seed)
    errors = {}
    for lr in recipe.clf_lrs:
        torch.manual_seed(seed)
        clf = recipe.new_classifier(copy.deepcopy(lm), task.n_classes, drop_mult)
        errors[lr] = finetune_classifier(
            clf,
            docs,
            labels,
            task.valid,
            task.valid_labels,
            task.pad_id,
            lr=lr,
            final_epochs=recipe.final_epochs,
            batch_size=recipe.clf_batch_size,
            min_steps=recipe.min_steps,
            n_checkpoints=recipe.n_checkpoints,
            seed=seed,
            device=device,
            **ft,
        )
    return ArmResult(arm, len(docs), errors)


def scratch_arm(
    task: TextTask,
    n: int | None,
    recipe: Recipe,
    seed: int = 0,
    variant: str = "scratch",
    device: str | torch.device | None = None,
) -> ArmResult:
    """Fig. 3's "from scratch": the same classifier with a *random* LM, tuned like the
    other arms.

    Variants (all tuned alike, the chapter keeps the best, a strong baseline):
    ``"scratch"`` -- ULMFiT's stage 3 (gradual unfreezing, discriminative rates, STLR)
    on random weights; ``"scratch_full"`` -- every layer trained from the start with one
    rate and STLR; ``"scratch_nodrop"`` -- the same without dropout.
    """
    if variant not in ("scratch", "scratch_full", "scratch_nodrop"):
        raise ValueError(
            f"variant: expected 'scratch', 'scratch_full' or 'scratch_nodrop', got "
            f"{variant!r}"
        )
    torch.manual_seed(10_000 + seed)
    lm = recipe.new_lm(len(task.vocab))
    if variant == "scratch":
        return _tuned(variant, task, lm, n, recipe, seed, device)
    return _tuned(
        variant,
        task,
        lm,
        n,
        recipe,
        seed,
        device,
        drop_mult=0.0 if variant == "scratch_nodrop" else None,
        unfreeze="full",
        discr=False,
    )


def supervised_arm(
    task: TextTask,
    lm: AWDLSTM,
    n: int | None,
    recipe: Recipe,
    seed: int = 0,
    device: str | torch.device | None = None,
    **ft,
) -> ArmResult:
    """ULMFiT supervised (Fig. 3): the pretrained ``lm`` fine-tuned as an LM on the
    ``n`` labeled documents only, then the classifier recipe (gradual unfreezing,
    discriminative rates, STLR; override with ``unfreeze=`` etc.)."""
    docs, _ = task.labeled(n, seed)
    tuned = target_lm(lm, task, docs, recipe, seed=seed, device=device)
    return _tuned(
        ft.pop("arm", "supervised"), task, tuned, n, recipe, seed, device, **ft
    )


def semi_supervised_arm(
    task: TextTask,
    target: AWDLSTM,
    n: int | None,
    recipe: Recipe,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> ArmResult:
    """ULMFiT semi-supervised (Fig. 3): ``target`` is the LM fine-tuned on *all* the
    task's unlabeled text (:func:`target_lm` on ``task.pool``, shared by every n); then
    the classifier recipe on the ``n`` labeled ones."""
    return _tuned("semi", task, target, n, recipe, seed, device)
