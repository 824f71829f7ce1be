"""The three stages of Sec. 3: pretrain the LM, fine-tune it, fine-tune a classifier."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._checks import positive as _positive
from .._checks import positive_int as _positive_int
from ..data import batches
from ..training import resolve_device, train
from .awd_lstm import AWDLSTM, ConcatPoolClassifier, pad_batch
from .recipe import discriminative_lrs, freeze_to, stlr_schedule

# --------------------------------------------------------------------------------------
# The three stages
# --------------------------------------------------------------------------------------

BETAS = (0.7, 0.99)  # Adam's betas in the paper (Sec. 4)


def pretrain_lm(
    lm: AWDLSTM,
    ids: torch.Tensor,
    steps: int,
    lr: float = 3e-2,
    batch_size: int = 32,
    seq_len: int = 35,
    warmup: int = 100,
    clip: float | None = 1.0,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> list[float]:
    """Stage 1, general-domain LM pretraining (Sec. 3.1): ``steps`` Adam updates on
    random windows of ``ids``.

    Adam(0.7, 0.99), a linear warmup of ``warmup`` steps then a cosine decay to a tenth
    (``training.warmup_schedule``). Returns the training loss of every step.
    """
    from ..training import warmup_schedule

    if not isinstance(lm, AWDLSTM):
        raise ValueError(f"lm: expected an AWDLSTM, got {type(lm).__name__}")
    steps = _positive_int("steps", steps)
    warmup = _positive_int("warmup", warmup, minimum=0)
    if warmup >= steps:
        raise ValueError(
            f"warmup: expected fewer than steps={steps} warmup steps, got {warmup}"
        )
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(
        lm.parameters(), lr=_positive("lr", lr), betas=BETAS, weight_decay=0.0
    )
    return train(
        lm,
        batches(ids, batch_size, seq_len, seed=seed),
        opt,
        steps,
        schedule=warmup_schedule(warmup, steps, decay="cosine"),
        clip=clip,
        device=device,
        progress=progress,
        desc="stage 1: general LM",
    )


def finetune_lm(
    lm: AWDLSTM,
    ids: torch.Tensor,
    steps: int,
    lr: float = 1e-2,
    discr: bool = True,
    factor: float = 2.6,
    batch_size: int = 32,
    seq_len: int = 35,
    clip: float | None = 1.0,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> list[float]:
    """Stage 2, target-task LM fine-tuning (Sec. 3.2): discriminative rates (Eq. 2) and
    STLR (Eq. 3).

    The groups of :meth:`AWDLSTM.lm_groups` get ``discriminative_lrs(lr, n_groups,
    factor)`` (``discr=False``: all ``lr``), each scaled by the STLR multiplier over the
    ``steps`` updates. ``seq_len`` is cut to fit short texts.
    """
    if not isinstance(lm, AWDLSTM):
        raise ValueError(f"lm: expected an AWDLSTM, got {type(lm).__name__}")
    steps = _positive_int("steps", steps, minimum=2)
    if ids.dim() != 1 or len(ids) < 3:
        raise ValueError(
            f"ids: expected a 1-D stream of at least 3 ids, got shape "
            f"{tuple(ids.shape)}"
        )
    groups = lm.lm_groups()
    lrs = (
        discriminative_lrs(lr, len(groups), factor)
        if discr
        else [_positive("lr", lr)] * len(groups)
    )
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(
        [{"params": g, "lr": r} for g, r in zip(groups, lrs)],
        betas=BETAS,
        weight_decay=0.0,
    )
    seq_len = min(seq_len, len(ids) - 1)
    return train(
        lm,
        batches(ids, batch_size, seq_len, seed=seed),
        opt,
        steps,
        schedule=stlr_schedule(steps - 1),
        clip=clip,
        device=device,
        progress=progress,
        desc="stage 2: target LM",
    )


@torch.no_grad()
def perplexity(
    lm: AWDLSTM,
    ids: torch.Tensor,
    seq_len: int = 35,
    batch_size: int = 64,
    device: str | torch.device | None = None,
) -> float:
    """Perplexity exp(-1/N sum_t ln p(w_t | w_<t)) of ``lm`` over ``ids`` cut into
    consecutive windows of ``seq_len`` (eval mode, zero initial state): how well stage 1
    or 2 predicts a text."""
    if not isinstance(lm, AWDLSTM):
        raise ValueError(f"lm: expected an AWDLSTM, got {type(lm).__name__}")
    if ids.dim() != 1 or len(ids) < seq_len + 1:
        raise ValueError(
            f"ids: expected a 1-D stream longer than seq_len={seq_len}, got shape "
            f"{tuple(ids.shape)}"
        )
    dev = resolve_device(device)
    n_win = (len(ids) - 1) // seq_len
    x = ids[: n_win * seq_len].view(n_win, seq_len)
    y = ids[1 : n_win * seq_len + 1].view(n_win, seq_len)
    was = lm.training
    lm.to(dev).eval()
    total = 0.0
    for s in range(0, n_win, batch_size):
        logits = lm(x[s : s + batch_size].to(dev))
        total += float(
            F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                y[s : s + batch_size].reshape(-1).to(dev),
                reduction="sum",
            )
        )
    lm.train(was)
    return math.exp(total / (n_win * seq_len))


def _doc_batches(
    docs: Sequence[torch.Tensor],
    labels: torch.Tensor,
    batch_size: int,
    pad_id: int,
    seed: int,
):
    """Endless stream of padded (x, lengths, y), "sortish" like fastai's classifier
    loader: each epoch a seeded permutation is sorted by length, cut into near-equal
    batches of similar lengths (less padding), and the batches are visited in a seeded
    random order."""
    g = torch.Generator().manual_seed(seed)
    n = len(docs)
    n_batches = max(1, math.ceil(n / batch_size))
    lengths = torch.tensor([len(d) for d in docs])
    while True:
        perm = torch.randperm(n, generator=g)
        perm = perm[torch.sort(lengths[perm], stable=True).indices]
        chunks = torch.tensor_split(perm, n_batches)
        for b in torch.randperm(n_batches, generator=g).tolist():
            idx = chunks[b].tolist()
            x, lens = pad_batch([docs[i] for i in idx], pad_id)
            yield x, lens, labels[chunks[b]]


def _clf_loss(
    model: nn.Module, x: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    return F.cross_entropy(model(x, lengths), y)


@torch.no_grad()
def classifier_error(
    clf: ConcatPoolClassifier,
    docs: Sequence[torch.Tensor],
    labels: torch.Tensor,
    pad_id: int,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> float:
    """Validation error (%) of ``clf`` in eval mode, the y-axis of Fig. 3 (BatchNorm
    uses its running statistics, dropout is off)."""
    if len(docs) == 0 or len(docs) != len(labels):
        raise ValueError(
            f"docs, labels: expected equally many (>= 1), got {len(docs)} and "
            f"{len(labels)}"
        )
    dev = resolve_device(device)
    was = clf.training
    clf.to(dev).eval()
    wrong = 0
    for s in range(0, len(docs), batch_size):
        x, lengths = pad_batch(docs[s : s + batch_size], pad_id)
        wrong += int(
            (
                clf(x.to(dev), lengths.to(dev)).argmax(1).cpu()
                != labels[s : s + batch_size]
            ).sum()
        )
    clf.train(was)
    return 100.0 * wrong / len(docs)


UNFREEZE = ("gradual", "full", "last")
SCHEDULES = ("stlr", "cos", "const")


def finetune_classifier(
    clf: ConcatPoolClassifier,
    docs: Sequence[torch.Tensor],
    labels: torch.Tensor,
    valid_docs: Sequence[torch.Tensor],
    valid_labels: torch.Tensor,
    pad_id: int,
    lr: float = 1e-2,
    unfreeze: str = "gradual",
    discr: bool = True,
    schedule: str = "stlr",
    final_epochs: int = 2,
    batch_size: int = 32,
    min_steps: int = 10,
    n_checkpoints: int = 4,
    weight_decay: float = 0.01,
    clip: float | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    on_stage: Callable[[int], None] | None = None,
) -> list[float]:
    """Stage 3, classifier fine-tuning (Sec. 3.3); returns the validation error (%) at
    each checkpoint.

    ``unfreeze="gradual"``: with G layer groups (:meth:`ConcatPoolClassifier.groups`),
    stage s = 1..G trains the top s groups for one epoch, the last stage for
    ``final_epochs``; ``"full"`` trains all groups and ``"last"`` only the head, for the
    same number of epochs. ``discr``: group rates ``discriminative_lrs(lr, G)`` (Eq. 2),
    else all ``lr``; ``schedule``: one STLR cycle per stage (Eq. 3), a cosine decay per
    stage, or a constant rate. An epoch is ceil(n / batch_size) updates but at least
    ``min_steps`` (tiny labeled sets). AdamW(0.7, 0.99) with decoupled ``weight_decay``;
    frozen parameters get no gradient, so neither Adam nor weight decay touches them.
    The checkpoints are the ends of the last ``n_checkpoints`` epochs.
    ``on_stage(n_trainable)`` is called after each stage (the tests use it to check that
    exactly the unfrozen groups changed).
    """
    if not isinstance(clf, ConcatPoolClassifier):
        raise ValueError(
            f"clf: expected a ConcatPoolClassifier, got {type(clf).__name__}"
        )
    if unfreeze not in UNFREEZE:
        raise ValueError(f"unfreeze: expected one of {UNFREEZE}, got {unfreeze!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
    if len(docs) < 2 or len(docs) != len(labels):
        raise ValueError(
            f"docs, labels: expected equally many (>= 2), got {len(docs)} and "
            f"{len(labels)}"
        )
    lr = _positive("lr", lr)
    final_epochs = _positive_int("final_epochs", final_epochs)
    batch_size = _positive_int("batch_size", batch_size, minimum=2)
    min_steps = _positive_int("min_steps", min_steps)
    groups = clf.groups()
    G = len(groups)
    total_epochs = G - 1 + final_epochs
    n_checkpoints = _positive_int("n_checkpoints", n_checkpoints)
    if n_checkpoints > total_epochs:
        raise ValueError(
            f"n_checkpoints: expected at most {total_epochs} (the number of epochs), "
            f"got {n_checkpoints}"
        )
    if unfreeze == "gradual":
        stages = [(s, 1) for s in range(1, G)] + [
            (G, final_epochs)
        ]  # (trainable top groups, epochs)
    else:
        stages = [(G if unfreeze == "full" else 1, total_epochs)]
    rates = discriminative_lrs(lr, G) if discr else [lr] * G
    steps_per_epoch = max(math.ceil(len(docs) / batch_size), min_steps)
    torch.manual_seed(seed)
    stream = _doc_batches(docs, labels, batch_size, pad_id, seed)
    errors: list[float] = []
    epoch = 0
    for n_trainable, epochs in stages:
        freeze_to(groups, n_trainable)
        opt = torch.optim.AdamW(
            [
                {"params": g, "lr": r}
                for g, r in zip(groups[G - n_trainable :], rates[G - n_trainable :])
            ],
            betas=BETAS,
            weight_decay=weight_decay,
        )
        T = epochs * steps_per_epoch
        if schedule == "stlr":
            mult = stlr_schedule(T - 1)
        elif schedule == "cos":
            mult = lambda t, T=T: max(1 / 32, 0.5 * (1 + math.cos(math.pi * t / T)))  # noqa: E731
        else:
            mult = lambda t: 1.0  # noqa: E731
        for e in range(epochs):
            offset = e * steps_per_epoch
            train(
                clf,
                stream,
                opt,
                steps_per_epoch,
                schedule=lambda t, o=offset, m=mult: m(t + o),
                clip=clip,
                loss_fn=_clf_loss,
                device=device,
                progress=progress,
                desc="stage 3: classifier",
            )
            epoch += 1
            if epoch > total_epochs - n_checkpoints:
                errors.append(
                    classifier_error(
                        clf, valid_docs, valid_labels, pad_id, device=device
                    )
                )
        if on_stage is not None:
            on_stage(n_trainable)
    freeze_to(groups, G)
    return errors
