"""Training with and without warmup: Xiong et al. Fig. 2 in miniature."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .._checks import positive, positive_int
from ..data import batches, pydoc_corpus, unigram_entropy
from ..training import resolve_device, train, warmup_schedule
from ._common import (
    _NAMES,
    _char_data,
    _check_position,
    _check_seed,
    _seeded_model,
)

# Xiong et al. Fig. 2 in miniature: the runs the chapter and its claims compare, as
# (norm_position, warmup steps).
WARMUP_CONFIGS = (("post", 0), ("post", 200), ("pre", 0), ("pre", 200), ("resi", 0))


# Training with and without warmup
# --------------------------------------------------------------------------------------


@dataclass
class WarmupRun:
    """One training run of :func:`warmup_run`: the loss of every step and the unigram
    entropy of the text."""

    norm_position: str
    warmup: int
    losses: list[float] = field(repr=False)
    unigram_entropy: float
    tail: int = 20

    @property
    def final_loss(self) -> float:
        """Mean training loss of the last ``tail`` steps (nats)."""
        return sum(self.losses[-self.tail :]) / len(self.losses[-self.tail :])


def warmup_run(
    norm_position: str = "post",
    warmup: int = 0,
    seed: int = 0,
    n_layers: int = 12,
    steps: int = 400,
    lr: float = 1e-3,
    batch_size: int = 16,
    seq_len: int = 32,
    tail: int = 20,
    norm: str = "layernorm",
    text: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> WarmupRun:
    """Xiong et al. Fig. 2 in miniature: train the chapter's LM with Adam(0.9, 0.98,
    eps=1e-9; the fused kernel) at a constant ``lr`` after a linear warmup of ``warmup``
    steps (0: none; Vaswani et al. 2017, Sec. 5.3), without gradient clipping.

    Calibrated defaults: L=12, batches of 16 x 32 characters, 400 steps. The same
    ``seed`` gives every placement the same initial weights and the same batches.
    ``final_loss`` is the mean of the last ``tail`` training losses.
    """
    _check_position(norm_position)
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(
            f"warmup: expected a non-negative integer number of steps, got {warmup!r}"
        )
    _check_seed(seed)
    positive_int("n_layers", n_layers)
    positive_int("steps", steps)
    positive_int("tail", tail)
    positive("lr", lr)
    vocab_size, ids = _char_data(pydoc_corpus() if text is None else text)
    model = _seeded_model(vocab_size, n_layers, seq_len, norm_position, norm, seed)
    dev = resolve_device(device)
    # fused: the same Adam update in one kernel per step (5x cheaper than the per-tensor
    # loop for 150 small tensors)
    opt = torch.optim.Adam(
        model.to(dev).parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9, fused=True
    )
    losses = train(
        model,
        batches(ids, batch_size, seq_len, seed=seed),
        opt,
        steps,
        schedule=warmup_schedule(warmup),
        clip=None,
        device=dev,
        progress=progress,
        desc=f"{_NAMES[norm_position]}, warmup {warmup}",
    )
    return WarmupRun(norm_position, warmup, losses, unigram_entropy(ids), tail)


def warmup_experiment(
    seed: int = 0, configs=WARMUP_CONFIGS, **kwargs
) -> dict[tuple[str, int], WarmupRun]:
    """Run :func:`warmup_run` for each ``(norm_position, warmup)`` of ``configs`` with
    one seed (Fig. 2 in miniature); keyword arguments pass through. Returns
    ``{(norm_position, warmup): WarmupRun}``."""
    configs = tuple(configs)
    if not configs or any(not (isinstance(c, tuple) and len(c) == 2) for c in configs):
        raise ValueError(
            f"configs: expected (norm_position, warmup) pairs, got {configs!r}"
        )
    return {(p, w): warmup_run(p, w, seed=seed, **kwargs) for p, w in configs}


# --------------------------------------------------------------------------------------
