"""Timing on one thread (Katharopoulos et al. 2020, Fig. 1) and the matmul roofline."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .._checks import positive_int as _positive_int
from ..training import progress_bar
from .delta_rule import chunked_delta_rule, delta_rule
from .forms import chunked_linear_attention

METHODS = ("sdpa", "chunked", "delta", "delta_chunked")


@dataclass(frozen=True)
class TimingRow:
    """One measurement: ``method`` (one of :data:`METHODS`), length ``n``, ``mode``
    (``"fwd"`` or ``"fwdbwd"``), CPU seconds per call (median of the repeats)."""

    method: str
    n: int
    mode: str
    seconds: float


def time_call(
    fn: Callable[[], object],
    repeats: int = 3,
    min_block: float = 0.05,
    clock: Callable[[], float] = time.process_time,
    warmup: bool = True,
) -> float:
    """Seconds per call of ``fn``: ``repeats`` blocks of enough calls to last
    ``min_block`` seconds each; the median block time divided by its calls. A first call
    sizes the blocks; with ``warmup`` it is not counted, without it a first call that
    fills a block on its own counts as the first block (for slow calls run after a
    warm-up elsewhere). The default clock is this process's CPU time, which other
    processes sharing the machine change little (run torch on one thread, so CPU time =
    compute time)."""
    _positive_int("repeats", repeats)
    if not min_block >= 0:
        raise ValueError(
            f"min_block: expected a non-negative number of seconds, got {min_block!r}"
        )
    t0 = clock()
    fn()
    first = clock() - t0
    number = max(1, math.ceil(min_block / max(first, 1e-9)))
    blocks = [] if warmup or number > 1 else [first]
    while len(blocks) < repeats:
        t0 = clock()
        for _ in range(number):
            fn()
        blocks.append((clock() - t0) / number)
    return statistics.median(blocks)


def _attention_call(
    method: str, n: int, mode: str, heads: int, d_head: int, chunk_size: int, seed: int
):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, heads, n, d_head, generator=g) for _ in range(3))
    beta = torch.rand(1, heads, n, generator=g)  # the delta rule's write strengths
    if method == "sdpa":

        def attend(q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    elif method == "chunked":

        def attend(q, k, v):
            return chunked_linear_attention(q, k, v, chunk_size=chunk_size)
    elif method == "delta":

        def attend(q, k, v):
            return delta_rule(q, k, v, beta)
    else:

        def attend(q, k, v):
            return chunked_delta_rule(q, k, v, beta, chunk_size=chunk_size)

    if mode == "fwd":

        def call():
            with torch.no_grad():
                attend(q, k, v)

        return call
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    grad = torch.randn(1, heads, n, d_head, generator=g)

    def call():
        attend(q, k, v).backward(grad)
        for t in (q, k, v):
            t.grad = None

    return call


def attention_timings(
    ns: Sequence[int] = (256, 512, 1024, 2048, 4096, 8192),
    modes: Sequence[str] = ("fwd", "fwdbwd"),
    methods: Sequence[str] = ("sdpa", "chunked"),
    heads: int = 4,
    d_head: int = 64,
    chunk_size: int = 64,
    repeats: int = 3,
    min_block: float = 0.05,
    seed: int = 0,
    progress: bool = True,
) -> list[TimingRow]:
    """Katharopoulos et al.'s Fig. 1 in miniature: CPU seconds per call of causal
    softmax attention (``F.scaled_dot_product_attention``, ``"sdpa"``) and
    :func:`chunked_linear_attention` (``"chunked"``), batch 1, or the delta rule step by
    step (:func:`delta_rule`, ``"delta"``) and chunkwise (:func:`chunked_delta_rule`,
    ``"delta_chunked"``, write strengths beta uniform in (0, 1)), ``heads`` x
    ``d_head``, for every length in ``ns``, forward (``"fwd"``, no grad) and forward +
    backward (``"fwdbwd"``). Rows in the order method, mode, n; one warm-up call per
    method and mode, then :func:`time_call` without its own warm-up. Timings vary from
    run to run."""
    if not ns or any(not isinstance(n, int) or n < 1 for n in ns):
        raise ValueError(f"ns: expected positive sequence lengths, got {ns!r}")
    if not modes or any(m not in ("fwd", "fwdbwd") for m in modes):
        raise ValueError(f"modes: expected 'fwd' and/or 'fwdbwd', got {modes!r}")
    if not methods or any(m not in METHODS for m in methods):
        raise ValueError(f"methods: expected some of {METHODS}, got {methods!r}")
    _positive_int("heads", heads)
    _positive_int("d_head", d_head)
    _positive_int("chunk_size", chunk_size)
    jobs = [(m, mode, n) for m in methods for mode in modes for n in ns]
    rows = []
    for method, mode, n in progress_bar(jobs, "timing", progress):
        if (
            n == ns[0]
        ):  # one untimed call per method and mode warms up kernels and allocator
            _attention_call(method, min(ns), mode, heads, d_head, chunk_size, seed)()
        call = _attention_call(method, n, mode, heads, d_head, chunk_size, seed)
        rows.append(
            TimingRow(
                method,
                n,
                mode,
                time_call(call, repeats=repeats, min_block=min_block, warmup=False),
            )
        )
    return rows


def matmul_gflops(size: int = 1024, repeats: int = 3, min_block: float = 0.1) -> float:
    """This machine's fp32 matmul throughput in GFLOP/s (2 size^3 FLOPs per ``size x
    size`` product, CPU time): the roofline that :func:`chunked_flops` is compared
    with."""
    _positive_int("size", size)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, size, generator=g), torch.randn(size, size, generator=g)
    return (
        2
        * size**3
        / time_call(lambda: a @ b, repeats=repeats, min_block=min_block)
        / 1e9
    )


def chunked_flops(
    n: int,
    heads: int = 4,
    d_key: int = 64,
    d_value: int = 64,
    chunk_size: int = 64,
    mode: str = "fwdbwd",
) -> float:
    """The matmul FLOPs :func:`chunked_linear_attention` does (batch 1, normalised, so
    d_value + 1 value columns): per head and chunk of C, 2 C^2 d_key (phiQ phiK^T) + 2
    C^2 (d_value + 1) (. V') + 2 C d_key (d_value + 1) (the chunk's write) + 2 C d_key
    (d_value + 1) (the read of the carried fast weights). The backward pass does twice
    the forward's matmul FLOPs (``"fwdbwd"``: 3x the forward)."""
    for name, value in (
        ("n", n),
        ("heads", heads),
        ("d_key", d_key),
        ("d_value", d_value),
        ("chunk_size", chunk_size),
    ):
        _positive_int(name, value)
    if mode not in ("fwd", "fwdbwd"):
        raise ValueError(f"mode: expected 'fwd' or 'fwdbwd', got {mode!r}")
    C = min(chunk_size, n)
    n_pad = -(-n // C) * C
    dv1 = d_value + 1
    fwd = heads * n_pad * (2 * C * (d_key + dv1) + 4 * d_key * dv1)
    return float(fwd if mode == "fwd" else 3 * fwd)


def crossover(
    rows: Sequence[TimingRow], mode: str = "fwdbwd", margin: float = 0.0
) -> int | None:
    """The smallest measured N from which ``"chunked"`` is faster than ``"sdpa"`` by
    more than ``margin`` (a fraction: 0.1 = chunked takes under 1 / 1.1 of the softmax
    time) at that N and every larger one (``None`` if it never is). A margin keeps a tie
    within timing noise from counting as a crossover (Katharopoulos et al., Fig. 1)."""
    if mode not in ("fwd", "fwdbwd"):
        raise ValueError(f"mode: expected 'fwd' or 'fwdbwd', got {mode!r}")
    if (
        isinstance(margin, bool)
        or not isinstance(margin, (int, float))
        or not margin >= 0
    ):
        raise ValueError(f"margin: expected a number >= 0, got {margin!r}")
    t = {(r.method, r.n): r.seconds for r in rows if r.mode == mode}
    ns = sorted({n for m, n in t if (("sdpa", n) in t and ("chunked", n) in t)})
    if not ns:
        raise ValueError(
            f"rows: expected 'sdpa' and 'chunked' timings for mode {mode!r}"
        )
    best = None
    for n in reversed(ns):
        if t[("chunked", n)] * (1 + margin) < t[("sdpa", n)]:
            best = n
        else:
            break
    return best
