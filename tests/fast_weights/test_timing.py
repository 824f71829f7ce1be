"""Chapter 2, src/fourpapers/fast_weights/timing.py: the timing helpers."""

import pytest

from fourpapers import fast_weights as fw


def test_timing_helpers():
    rows = fw.attention_timings(ns=(32, 64), repeats=1, min_block=0.0, progress=False)
    assert [(r.method, r.mode, r.n) for r in rows] == [
        (m, mode, n)
        for m in ("sdpa", "chunked")
        for mode in ("fwd", "fwdbwd")
        for n in (32, 64)
    ]
    assert all(r.seconds > 0 for r in rows)
    assert fw.time_call(lambda: None, repeats=2, min_block=0.0) >= 0
    assert fw.matmul_gflops(size=64, repeats=1, min_block=0.0) > 0
    row = fw.TimingRow
    fake = [
        row("sdpa", 1, "fwd", 1.0),
        row("chunked", 1, "fwd", 2.0),
        row("sdpa", 2, "fwd", 3.0),
        row("chunked", 2, "fwd", 2.0),
        row("sdpa", 4, "fwd", 9.0),
        row("chunked", 4, "fwd", 4.0),
    ]
    assert fw.crossover(fake, "fwd") == 2
    assert fw.crossover(fake[:2], "fwd") is None
    assert (
        fw.crossover(fake, "fwd", margin=0.6) == 4
    )  # 3.0 / 2.0 = 1.5 is not 1.6 x faster
    tie = [
        row("sdpa", 1, "fwd", 2.0),
        row("chunked", 1, "fwd", 1.99),
        row("sdpa", 2, "fwd", 9.0),
        row("chunked", 2, "fwd", 4.0),
    ]
    assert (
        fw.crossover(tie, "fwd") == 1 and fw.crossover(tie, "fwd", margin=0.1) == 2
    )  # a tie is no crossover
    # per head and chunk: 2 C^2 (dk + dv + 1) + 4 C dk (dv + 1); backward twice the
    # forward
    assert fw.chunked_flops(
        128, heads=1, d_key=2, d_value=3, chunk_size=64, mode="fwd"
    ) == 2 * (2 * 64**2 * 6 + 4 * 64 * 8)
    assert fw.chunked_flops(128, 1, 2, 3, 64, "fwdbwd") == 3 * fw.chunked_flops(
        128, 1, 2, 3, 64, "fwd"
    )


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: fw.attention_timings(ns=()), "ns"),
        (lambda: fw.attention_timings(ns=(32,), modes=("bwd",)), "modes"),
        (lambda: fw.attention_timings(ns=(32,), methods=("flash",)), "methods"),
        (lambda: fw.time_call(lambda: None, repeats=0), "repeats"),
        (lambda: fw.time_call(lambda: None, min_block=-1), "min_block"),
        (lambda: fw.crossover([], "fwd"), "rows"),
        (lambda: fw.crossover([], "both"), "mode"),
        (lambda: fw.crossover([], "fwd", margin=-0.1), "margin"),
        (lambda: fw.chunked_flops(0), "n"),
        (lambda: fw.chunked_flops(8, mode="bwd"), "mode"),
        (lambda: fw.matmul_gflops(size=0), "size"),
    ],
)
def test_timing_bad_arguments(call, arg):
    with pytest.raises(ValueError, match=rf"^{arg}"):
        call()


def test_time_call_counts_blocks_and_calls():
    calls = []
    fw.time_call(lambda: calls.append(1), repeats=3, min_block=0.0)
    assert len(calls) == 4  # a warm-up, then 3 blocks of 1
    calls.clear()
    fw.time_call(lambda: calls.append(1), repeats=3, min_block=0.0, warmup=False)
    assert len(calls) == 3  # the first call is the first block
    ticks = iter(range(1000))
    assert (
        fw.time_call(
            lambda: None, repeats=2, min_block=0.0, clock=lambda: float(next(ticks))
        )
        == 1.0
    )


def test_delta_rule_timings_run_both_forms():
    methods, modes = ("delta", "delta_chunked"), ("fwd", "fwdbwd")
    rows = fw.attention_timings(
        ns=(16, 40),
        modes=modes,
        methods=methods,
        d_head=8,
        chunk_size=8,
        repeats=1,
        min_block=0.0,
        progress=False,
    )
    assert [(r.method, r.mode, r.n) for r in rows] == [
        (m, mode, n) for m in methods for mode in modes for n in (16, 40)
    ]
    assert all(r.seconds > 0 for r in rows)
