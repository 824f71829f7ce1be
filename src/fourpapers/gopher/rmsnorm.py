"""Zhang & Sennrich 2019, Eq. 4: RMSNorm, its eps conventions and two benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn

from ..models import RMSNorm, rms_norm
from ..training import train
from .scaling import make_model

__all__ = [
    "RMSNorm",
    "rms_norm",
    "rms_norm_zhang",
    "NormTiming",
    "norm_benchmark",
    "StepTiming",
    "step_benchmark",
    "use_torch_rmsnorm",
]


def rms_norm_zhang(
    x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-8
) -> torch.Tensor:
    """RMSNorm with the eps convention of the paper's reference code (Zhang & Sennrich
    2019, Eq. 4): a_i / (RMS(a) + eps) * g_i with RMS(a) = sqrt(mean(a^2)). Plain
    autograd; equals :func:`rms_norm` at eps = 0."""
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError(
            f"x: expected a tensor with at least one dimension, got {type(x).__name__}"
        )
    if weight is not None and tuple(weight.shape) != (x.shape[-1],):
        raise ValueError(
            f"weight: expected shape ({x.shape[-1]},), got {tuple(weight.shape)}"
        )
    if not isinstance(eps, (int, float)) or eps < 0:
        raise ValueError(f"eps: expected a number >= 0, got {eps!r}")
    y = x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps)  # a / (RMS(a) + eps)
    return y * weight if weight is not None else y


class _VsLayerNorm:
    """The two ratios of a timing with ``layernorm``, ``torch_rmsnorm`` and ``ours``."""

    @property
    def torch_ratio(self) -> float:
        """time(torch.nn.RMSNorm) / time(nn.LayerNorm)."""
        return self.torch_rmsnorm / self.layernorm

    @property
    def ours_ratio(self) -> float:
        """time(our RMSNorm) / time(nn.LayerNorm)."""
        return self.ours / self.layernorm


@dataclass
class NormTiming(_VsLayerNorm):
    """Median seconds of one call on x of shape ``[rows, d]`` (``mode`` "forward" or
    "forward+backward")."""

    d: int
    mode: str
    layernorm: float
    torch_rmsnorm: float
    ours: float


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def norm_benchmark(
    ds: Sequence[int] = (64, 256, 1024),
    rows: int = 4096,
    repeats: int = 15,
    seed: int = 0,
) -> list[NormTiming]:
    """Time ``nn.LayerNorm``, ``torch.nn.RMSNorm`` and our :class:`RMSNorm` side by side
    in one run (Zhang & Sennrich 2019 claim 7-64 % less running time than LayerNorm).

    For each ``d``: x of shape ``[rows, d]``; each repeat times the three norms back to
    back, in a rotating order, on the forward alone and on forward + backward, so
    machine load hits all three alike. One timing covers enough calls to touch about a
    million numbers (at most 16 calls; with the default rows 4 at d = 64, 1 from d =
    256), which steadies small sizes. Returns the medians per call, one
    :class:`NormTiming` per (d, mode). Runs on the calling thread count (the book pins
    one).
    """
    if not ds or any(not isinstance(d, int) or d < 1 for d in ds):
        raise ValueError(
            f"ds: expected a non-empty list of positive feature sizes, got {ds!r}"
        )
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows: expected a positive integer, got {rows!r}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive integer, got {repeats!r}")
    g = torch.Generator().manual_seed(seed)
    out: list[NormTiming] = []
    for d in ds:
        x = torch.randn(rows, d, generator=g)
        grad = torch.randn(rows, d, generator=g)
        number = min(16, max(1, 2**20 // (rows * d)))
        norms = {
            "layernorm": nn.LayerNorm(d),
            "torch_rmsnorm": nn.RMSNorm(d, eps=1e-5),
            "ours": RMSNorm(d, eps=1e-5),
        }
        names = list(norms)
        times = {
            (name, mode): []
            for name in names
            for mode in ("forward", "forward+backward")
        }
        for rep in range(repeats + 1):  # the first round warms up and is not counted
            order = names[rep % 3 :] + names[: rep % 3]
            for name in order:
                norm = norms[name]
                with torch.no_grad():
                    t0 = time.perf_counter()
                    for _ in range(number):
                        norm(x)
                    t1 = time.perf_counter()
                t2 = time.perf_counter()
                for _ in range(number):
                    torch.autograd.backward(norm(x.detach().requires_grad_(True)), grad)
                t3 = time.perf_counter()
                norm.zero_grad(set_to_none=True)
                if rep:
                    times[(name, "forward")].append((t1 - t0) / number)
                    times[(name, "forward+backward")].append((t3 - t2) / number)
        for mode in ("forward", "forward+backward"):
            out.append(NormTiming(d, mode, *(_median(times[(n, mode)]) for n in names)))
    return out


def use_torch_rmsnorm(model: nn.Module) -> nn.Module:
    """Replace every :class:`RMSNorm` in ``model`` (in place) by a ``torch.nn.RMSNorm``
    with the same gain and eps.

    The two compute the same function (the forward is bitwise equal); only the
    backward's implementation differs, which is what :func:`step_benchmark` compares.
    Returns ``model``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model: expected a torch.nn.Module, got {type(model).__name__}"
        )
    for name, child in list(model.named_children()):
        if isinstance(child, RMSNorm):
            ref = nn.RMSNorm(child.weight.shape[0], eps=child.eps)
            with torch.no_grad():
                ref.weight.copy_(child.weight)
            setattr(model, name, ref)
        else:
            use_torch_rmsnorm(child)
    return model


@dataclass
class StepTiming(_VsLayerNorm):
    """Median seconds of one training step (forward, backward, clipping, AdamW) of the
    same model with each norm."""

    d_model: int
    n_layers: int
    layernorm: float
    torch_rmsnorm: float
    ours: float


def step_benchmark(
    d_model: int = 96,
    n_layers: int = 3,
    vocab_size: int = 830,
    batch_size: int = 8,
    seq_len: int = 64,
    repeats: int = 12,
    seed: int = 0,
) -> StepTiming:
    """Time one training step of the chapter's model (pre-norm, Transformer-XL
    attention, GELU; see :func:`make_model`) with LayerNorm, ``torch.nn.RMSNorm`` and
    our :class:`RMSNorm`, interleaved in one run; medians of ``repeats``."""
    for name, value in (
        ("d_model", d_model),
        ("n_layers", n_layers),
        ("vocab_size", vocab_size),
        ("batch_size", batch_size),
        ("seq_len", seq_len),
        ("repeats", repeats),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab_size, (batch_size, seq_len), generator=g)
    y = torch.randint(0, vocab_size, (batch_size, seq_len), generator=g)
    models = {
        "layernorm": make_model(
            vocab_size, d_model, n_layers, norm="layernorm", seq_len=seq_len
        ),
        "torch_rmsnorm": use_torch_rmsnorm(
            make_model(vocab_size, d_model, n_layers, seq_len=seq_len)
        ),
        "ours": make_model(vocab_size, d_model, n_layers, seq_len=seq_len),
    }
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-3) for k, m in models.items()}
    names = list(models)
    times: dict[str, list[float]] = {k: [] for k in names}
    for rep in range(repeats + 2):  # two warm-up rounds
        for name in names[rep % 3 :] + names[: rep % 3]:
            model, opt = models[name], opts[name]
            t0 = time.perf_counter()
            train(model, iter([(x, y)]), opt, 1, clip=1.0, progress=False)
            if rep >= 2:
                times[name].append(time.perf_counter() - t0)
    return StepTiming(d_model, n_layers, *(_median(times[k]) for k in names))
