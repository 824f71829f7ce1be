"""Gopher Table 1 in miniature: the model family, one scaling run, the power law."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import batches
from ..models import TransformerLM
from ..training import reproducible, resolve_device, train, warmup_schedule
from .probes import ProbeTask, make_probes, score_task
from .world import Corpus, World, build_corpus, build_world

__all__ = [
    "FAMILY",
    "make_model",
    "family",
    "heldout_loss",
    "ScalingResult",
    "scaling_run",
    "power_law_fit",
]

# : (d_model, n_layers) of the family: one scaling path, depth 2 and the width doubled
# at each step, so the : non-embedding parameters grow about 4x per step (1.9k to 108k),
# evenly spread in log N.
FAMILY = ((8, 2), (16, 2), (32, 2), (64, 2))


def make_model(
    vocab_size: int,
    d_model: int,
    n_layers: int,
    norm: str = "rmsnorm",
    positions: str = "relative",
    seq_len: int = 64,
) -> TransformerLM:
    """One member of the family: a pre-norm decoder (RMSNorm by default), Transformer-XL
    relative attention, GELU MLP of width 4d, max(1, d/16) heads, untied embeddings,
    every weight matrix N(0, 1/d) (Gopher's recipe in miniature)."""
    if not isinstance(d_model, int) or d_model < 2 or d_model % 2:
        raise ValueError(f"d_model: expected a positive even integer, got {d_model!r}")
    return TransformerLM(
        vocab_size,
        d_model=d_model,
        n_heads=max(1, d_model // 16),
        d_ff=4 * d_model,
        n_layers=n_layers,
        max_len=seq_len,
        norm_position="pre",
        norm=norm,
        activation="gelu",
        positions=positions,
        init="normal",
    )


def family(
    vocab_size: int,
    sizes: Sequence[tuple[int, int]] = FAMILY,
    norm: str = "rmsnorm",
    positions: str = "relative",
) -> list[TransformerLM]:
    """The model family (Gopher, Table 1, in miniature): one :func:`make_model` per
    (d_model, n_layers) in ``sizes``."""
    if not sizes:
        raise ValueError("sizes: expected at least one (d_model, n_layers) pair")
    for s in sizes:
        if not (
            isinstance(s, (tuple, list))
            and len(s) == 2
            and all(isinstance(v, int) and v > 0 for v in s)
        ):
            raise ValueError(
                f"sizes: expected (d_model, n_layers) pairs of positive integers, got "
                f"{s!r}"
            )
    return [
        make_model(vocab_size, d, L, norm=norm, positions=positions) for d, L in sizes
    ]


def _optimizer(
    model: nn.Module, lr: float, weight_decay: float = 0.1
) -> torch.optim.AdamW:
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [
            {"params": matrices, "weight_decay": weight_decay},
            {"params": others, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
        fused=True,
    )


@torch.no_grad()
def heldout_loss(
    model: nn.Module,
    ids: torch.Tensor,
    seq_len: int = 64,
    device: str | torch.device | None = None,
) -> float:
    """Mean next-token loss (nats) over every non-overlapping ``seq_len`` window of
    ``ids`` (the held-out text)."""
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len: expected a positive integer, got {seq_len!r}")
    n = (len(ids) - 1) // seq_len
    if n < 1:
        raise ValueError(
            f"ids: expected more than seq_len={seq_len} tokens, got {len(ids)}"
        )
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    x = ids[: n * seq_len].view(n, seq_len)
    y = ids[1 : n * seq_len + 1].view(n, seq_len)
    total = 0.0
    for s in range(0, n, 64):
        logits = model(x[s : s + 64].to(dev))
        total += float(
            F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                y[s : s + 64].reshape(-1).to(dev),
                reduction="sum",
            )
        )
    model.train(was_training)
    return total / (n * seq_len)


@dataclass
class ScalingResult:
    """What :func:`scaling_run` measured for one seed."""

    seed: int
    sizes: list[tuple[int, int]]
    params: list[int]  # non-embedding parameters
    valid_loss: list[float]  # held-out pydoc loss (nats)
    accuracy: dict[str, list[float]]  # task -> accuracy per size
    losses: list[list[float]]  # training loss per step, per size
    norm_size: tuple[int, int] | None = None
    norm_losses: dict[str, list[float]] = field(
        default_factory=dict
    )  # "rmsnorm"/"layernorm" -> per-step loss
    seconds: dict[str, float] = field(default_factory=dict)
    valid_mix_loss: list[float] = field(
        default_factory=list
    )  # held-out text of the whole mixture
    models: list[TransformerLM] = field(
        default_factory=list, repr=False
    )  # the trained family (keep_models=True)
    world: World | None = field(default=None, repr=False)
    corpus: Corpus | None = field(default=None, repr=False)
    tasks: list[ProbeTask] = field(default_factory=list, repr=False)

    def final_loss(self, norm: str, last: int = 50) -> float:
        """Mean training loss of the last ``last`` steps of the norm comparison
        (``"rmsnorm"`` or ``"layernorm"``)."""
        if norm not in self.norm_losses:
            raise ValueError(
                f"norm: expected one of {sorted(self.norm_losses)}, got {norm!r}"
            )
        h = self.norm_losses[norm]
        return sum(h[-last:]) / len(h[-last:])


def scaling_run(
    seed: int = 0,
    sizes: Sequence[tuple[int, int]] = FAMILY,
    steps: int = 2000,
    batch_size: int = 8,
    seq_len: int = 64,
    lr: float = 1e-2,
    warmup: int = 40,
    n_probes: int = 200,
    norm_size: tuple[int, int] | None = (16, 2),
    tokens_per_category: int = 175_000,
    keep_models: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> ScalingResult:
    """Train every size on the same tokens in the same order (AdamW lr ``lr``, betas
    (0.9, 0.95), weight decay 0.1 on matrices, ``warmup`` linear warmup steps then
    cosine to 10 %, clipping 1.0), then measure each one's held-out pydoc loss, its loss
    on held-out text of the whole mixture (``Corpus.valid_mix_ids``) and its zero-shot
    accuracy on every probe task. With ``norm_size`` = (d, L) in ``sizes``, that member
    is trained again with LayerNorm instead of RMSNorm, same seed, same batches: the
    norm comparison. ``keep_models=True`` keeps the trained family (and the world,
    corpus and probes) on the result."""
    if not isinstance(steps, int) or steps <= warmup:
        raise ValueError(f"steps: expected an integer > warmup={warmup}, got {steps!r}")
    if norm_size is not None and tuple(norm_size) not in [tuple(s) for s in sizes]:
        raise ValueError(
            f"norm_size: expected one of sizes {list(sizes)} or None, got {norm_size!r}"
        )
    dev = resolve_device(device)
    clock = time.perf_counter()
    world = build_world(seed)
    corpus = build_corpus(world, tokens_per_category=tokens_per_category, seed=seed)
    tasks = make_probes(world, n=n_probes, seed=seed)
    seconds = {"data": time.perf_counter() - clock}
    V = len(world.vocab)
    family(V, sizes)  # validates sizes
    res = ScalingResult(
        seed,
        [tuple(s) for s in sizes],
        [],
        [],
        {t.name: [] for t in tasks},
        [],
        tuple(norm_size) if norm_size else None,
    )
    if keep_models:
        res.world, res.corpus, res.tasks = world, corpus, tasks
    t_train = t_probe = 0.0

    def fit(d: int, L: int, norm: str) -> tuple[TransformerLM, list[float]]:
        reproducible(seed)
        model = make_model(V, d, L, norm=norm, seq_len=seq_len)
        opt = _optimizer(model, lr)
        hist = train(
            model,
            batches(corpus.train_ids, batch_size, seq_len, seed=seed),
            opt,
            steps,
            schedule=warmup_schedule(warmup, steps, decay="cosine", final_frac=0.1),
            clip=1.0,
            device=dev,
            progress=progress,
            desc=f"d={d} L={L} {norm}",
        )
        return model, hist

    for d, L in sizes:
        t0 = time.perf_counter()
        model, hist = fit(d, L, "rmsnorm")
        t1 = time.perf_counter()
        res.params.append(model.num_parameters(non_embedding=True))
        res.losses.append(hist)
        res.valid_loss.append(
            heldout_loss(model, corpus.valid_ids, seq_len, device=dev)
        )
        res.valid_mix_loss.append(
            heldout_loss(model, corpus.valid_mix_ids, seq_len, device=dev)
        )
        for task in tasks:
            res.accuracy[task.name].append(
                score_task(model, world.vocab, task, device=dev)
            )
        t_train += t1 - t0
        t_probe += time.perf_counter() - t1
        if norm_size is not None and (d, L) == tuple(norm_size):
            res.norm_losses["rmsnorm"] = hist
        if keep_models:
            res.models.append(model)
    if norm_size is not None:
        t0 = time.perf_counter()
        _, res.norm_losses["layernorm"] = fit(*norm_size, "layernorm")
        seconds["norm rerun"] = time.perf_counter() - t0
    seconds.update(
        {"family": t_train, "probes": t_probe, "total": time.perf_counter() - clock}
    )
    res.seconds = seconds
    return res


def power_law_fit(
    params: Sequence[float], losses: Sequence[float]
) -> tuple[float, float, float]:
    """Least-squares fit of L(N) = a * N^(-alpha) in log-log space (Kaplan et al. 2020,
    Eq. 1.1 form); returns ``(a, alpha, r2)`` with r2 the coefficient of determination
    of log L."""
    if len(params) != len(losses) or len(params) < 3:
        raise ValueError(
            f"params, losses: expected two sequences of the same length >= 3, "
            f"got {len(params)}, {len(losses)}"
        )
    if any(p <= 0 for p in params) or any(v <= 0 for v in losses):
        raise ValueError(
            "params, losses: expected positive numbers (they are fitted in log space)"
        )
    xs = [math.log(p) for p in params]
    ys = [math.log(v) for v in losses]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    intercept = my - slope * mx
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return math.exp(intercept), -slope, r2
