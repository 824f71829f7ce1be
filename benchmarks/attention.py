"""Katharopoulos et al.'s Fig. 1 in miniature: causal softmax attention (SDPA) vs
chunked linear attention.

Prints, from one run on one thread (4 heads, d_head 64, batch 1): CPU milliseconds per
call for N = 256 ... 8192, forward and forward+backward; the crossover N; the speed-up
at the largest N; and the matmul-roofline check (the FLOPs the chunked form does,
divided by the fp32 matmul GFLOP/s measured in this same run); then the delta rule
(Schlag et al. 2021) step by step against chunkwise (Yang et al. 2024's parallel form in
miniature) at N = 2048 and 8192, forward+backward. Times are this process's CPU time,
which other jobs on a shared machine barely change; wall-clock seconds are printed
beside them.

    .venv/bin/python benchmarks/attention.py            # the full tables (two minutes)
    .venv/bin/python benchmarks/attention.py --quick    # N <= 2048, one repeat
"""

from __future__ import annotations

import argparse
import time

import torch

from fourpapers import fast_weights as fw

TARGET_SPEEDUP = 8.0  # chunked >= 8x faster than SDPA at N = 8192, forward+backward
TARGET_ROOFLINE = 3.0  # chunked within 3x of the matmul roofline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="N up to 2048 and one repeat (a smoke test)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ns = (256, 512, 1024, 2048) if args.quick else (256, 512, 1024, 2048, 4096, 8192)
    repeats = 1 if args.quick else args.repeats
    heads, d_head = 4, 64

    wall0, cpu0 = time.perf_counter(), time.process_time()
    gflops = fw.matmul_gflops(size=1024, repeats=repeats)
    rows = fw.attention_timings(
        ns=ns,
        heads=heads,
        d_head=d_head,
        chunk_size=args.chunk_size,
        repeats=repeats,
        progress=False,
    )
    gflops = max(
        gflops, fw.matmul_gflops(size=1024, repeats=repeats)
    )  # measured before and after the sweep
    t = {(r.method, r.mode, r.n): r.seconds for r in rows}

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread, batch 1 x "
        f"{heads} heads x d_head {d_head}, "
        f"chunk {args.chunk_size}; CPU ms per call (median of {repeats})"
    )
    print()
    print(
        f"| {'N':>5} | {'SDPA fwd':>9} | {'chunked fwd':>11} | {'ratio':>5} | "
        f"{'SDPA fwd+bwd':>12} | "
        f"{'chunked fwd+bwd':>15} | {'ratio':>5} |"
    )
    print("|" + "|".join("-" * w for w in (7, 11, 13, 7, 14, 17, 7)) + "|")
    for n in ns:
        cells = []
        for mode in ("fwd", "fwdbwd"):
            s, c = t[("sdpa", mode, n)], t[("chunked", mode, n)]
            cells += [s * 1e3, c * 1e3, s / c]
        print(
            f"| {n:>5} | {cells[0]:>9.2f} | {cells[1]:>11.2f} | {cells[2]:>4.1f}x | "
            f"{cells[3]:>12.2f} | "
            f"{cells[4]:>15.2f} | {cells[5]:>4.1f}x |"
        )
    print()
    for mode, label in (("fwd", "forward"), ("fwdbwd", "forward+backward")):
        cross = fw.crossover(rows, mode)
        print(
            f"crossover ({label}): chunked linear attention is faster from N = {cross} "
            f"on"
            if cross
            else f"crossover ({label}): none up to N = {ns[-1]}"
        )
    n = ns[-1]
    speedup = t[("sdpa", "fwdbwd", n)] / t[("chunked", "fwdbwd", n)]
    flops = fw.chunked_flops(n, heads, d_head, d_head, args.chunk_size, "fwdbwd")
    roofline = flops / (gflops * 1e9)
    ratio = t[("chunked", "fwdbwd", n)] / roofline
    print(
        f"speed-up at N = {n}, forward+backward: {speedup:.1f}x "
        f"(target >= {TARGET_SPEEDUP:.0f}x at N = 8192: "
        f"{'met' if speedup >= TARGET_SPEEDUP else 'NOT met'})"
    )
    print(
        f"matmul roofline: {gflops:.0f} GFLOP/s (1024^3 fp32 matmul, this run); "
        f"chunked forward+backward does "
        f"{flops / 1e9:.2f} GFLOP -> {roofline * 1e3:.1f} ms at the roofline; measured "
        f"{t[('chunked', 'fwdbwd', n)] * 1e3:.1f} ms = {ratio:.1f}x the roofline "
        f"(target <= {TARGET_ROOFLINE:.0f}x: "
        f"{'met' if ratio <= TARGET_ROOFLINE else 'NOT met'})"
    )
    print()
    delta_ns = (2048,) if args.quick else (2048, 8192)
    delta = fw.attention_timings(
        ns=delta_ns,
        modes=("fwdbwd",),
        methods=("delta", "delta_chunked"),
        heads=heads,
        d_head=d_head,
        chunk_size=args.chunk_size,
        repeats=repeats,
        progress=False,
    )
    d = {(r.method, r.n): r.seconds for r in delta}
    print(
        "The delta rule, forward+backward (elu + 1 features, sum-normalised, beta in"
        f" (0, 1)), CPU ms per call (median of {repeats})"
    )
    print()
    print(f"| {'N':>5} | {'step by step':>12} | {'chunkwise':>9} | {'ratio':>6} |")
    print("|" + "|".join("-" * w for w in (7, 14, 11, 8)) + "|")
    for n in delta_ns:
        s, c = d[("delta", n)], d[("delta_chunked", n)]
        print(f"| {n:>5} | {s * 1e3:>12.1f} | {c * 1e3:>9.1f} | {s / c:>5.1f}x |")
    print()
    print(
        f"benchmark took {time.perf_counter() - wall0:.0f} s wall, "
        f"{time.process_time() - cpu0:.0f} s CPU"
    )


if __name__ == "__main__":
    main()
