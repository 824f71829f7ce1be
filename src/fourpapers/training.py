"""Reproducibility and the one small training loop every chapter reuses."""

from __future__ import annotations

import math
import os
import random
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

__all__ = [
    "reproducible",
    "warmup_schedule",
    "lm_loss",
    "train",
    "evaluate",
    "resolve_device",
    "progress_bar",
    "PROGRESS_ENV",
]

# : ``FOURPAPERS_PROGRESS=off`` turns every progress bar off. The book's executors set
# it (``make notebooks``, : ``make bench``, nbval in ``make test``), so the stored
# notebooks carry no progress widgets, which the static book : would show as empty
# boxes; a reader running a notebook sees live bars.
PROGRESS_ENV = "FOURPAPERS_PROGRESS"


def reproducible(seed: int, threads: int = 1) -> torch.Generator:
    """Seed Python, NumPy and torch, pin torch to ``threads`` threads and turn on
    deterministic algorithms.

    The same seed (and thread count) then gives bitwise-identical results; results
    differ between 1 and 2 threads, so the book pins 1. Returns a ``torch.Generator``
    seeded with ``seed`` for callers that want their own stream.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads: expected a positive integer, got {threads!r}")
    os.environ.setdefault(
        "CUBLAS_WORKSPACE_CONFIG", ":4096:8"
    )  # needed by deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def progress_bar(
    iterable: Iterable, desc: str | None = None, progress: bool = True, **kwargs
) -> Iterable:
    """``iterable`` wrapped in a ``tqdm.auto`` bar (a widget in notebooks) when
    ``progress`` is true and the environment does not say ``FOURPAPERS_PROGRESS=off``;
    the iterable itself otherwise."""
    setting = os.environ.get(PROGRESS_ENV, "on").strip().lower()
    if setting not in ("on", "off", ""):
        raise ValueError(f"{PROGRESS_ENV}: expected 'on' or 'off', got {setting!r}")
    if not progress or setting == "off":
        return iterable
    return tqdm(iterable, desc=desc, leave=False, **kwargs)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """CPU unless asked: ``device`` if given, else the ``FOURPAPERS_DEVICE`` environment
    variable, else ``"cpu"``."""
    name = device if device is not None else os.environ.get("FOURPAPERS_DEVICE", "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device: expected 'cpu', 'cuda' or another torch device, got {name!r}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device: 'cuda' was asked for but torch.cuda.is_available() is False"
        )
    return dev


def warmup_schedule(
    warmup_steps: int = 0,
    total_steps: int | None = None,
    decay: str = "constant",
    final_frac: float = 0.1,
) -> Callable[[int], float]:
    """A learning-rate multiplier for ``LambdaLR``: linear warmup (Vaswani et al. 2017,
    Sec. 5.3; Xiong et al. 2020) from 1/warmup to 1 over ``warmup_steps``, then
    constant, or cosine down to ``final_frac`` at ``total_steps``.

    Step ``s`` (0-based, the multiplier for the update about to be made) gets ``(s + 1)
    / warmup_steps`` during warmup.
    """
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps: expected >= 0, got {warmup_steps}")
    if decay not in ("constant", "cosine"):
        raise ValueError(f"decay: expected 'constant' or 'cosine', got {decay!r}")
    if decay == "cosine" and (total_steps is None or total_steps <= warmup_steps):
        raise ValueError(
            f"total_steps: cosine decay needs total_steps > "
            f"warmup_steps={warmup_steps}, got {total_steps}"
        )
    if not 0.0 <= final_frac <= 1.0:
        raise ValueError(f"final_frac: expected a number in [0, 1], got {final_frac}")

    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if decay == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * progress))

    return multiplier


def lm_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy in nats: -1/(BT) sum log p(y_t | x_<=t)."""
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def train(
    model: nn.Module,
    batches: Iterable | Iterator,
    optimizer: torch.optim.Optimizer,
    steps: int,
    schedule: Callable[[int], float] | None = None,
    clip: float | None = None,
    loss_fn: Callable = lm_loss,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> list[float]:
    """Run ``steps`` optimizer updates and return the training loss of each step (a list
    of floats).

    ``batches`` yields tuples of tensors that ``loss_fn(model, *batch)`` turns into a
    scalar loss (default: the next-token LM loss). ``schedule`` is a multiplier of the
    optimizer's learning rates per step (see :func:`warmup_schedule`); ``clip`` a max
    gradient norm (``None``: no clipping). A progress bar (:func:`progress_bar`) shows
    the progress.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected a positive integer, got {steps!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip: expected a positive max norm or None, got {clip!r}")
    dev = resolve_device(device)
    model.to(dev).train()
    it = iter(batches)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    history: list[float] = []
    bar = progress_bar(range(steps), desc, progress, mininterval=0.5)
    for step in bar:
        if schedule is not None:
            m = schedule(step)
            for g, lr in zip(optimizer.param_groups, base_lrs):
                g["lr"] = lr * m
        batch = tuple(t.to(dev) for t in next(it))
        loss = loss_fn(model, *batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        history.append(float(loss.detach()))
        if step % 25 == 0 and hasattr(bar, "set_postfix"):  # a bar, not the bare range
            bar.set_postfix(loss=f"{history[-1]:.3f}", refresh=False)
    if schedule is not None:  # leave the optimizer as we found it
        for g, lr in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr
    return history


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable | Iterator,
    n_batches: int,
    loss_fn: Callable = lm_loss,
    device: str | torch.device | None = None,
) -> float:
    """Mean of ``loss_fn`` over ``n_batches`` batches, in eval mode without
    gradients."""
    if not isinstance(n_batches, int) or n_batches < 1:
        raise ValueError(f"n_batches: expected a positive integer, got {n_batches!r}")
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    it = iter(batches)
    total = 0.0
    for _ in range(n_batches):
        total += float(loss_fn(model, *(t.to(dev) for t in next(it))))
    model.train(was_training)
    return total / n_batches
