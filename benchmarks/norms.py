"""Chapter 4's norm benchmark: LayerNorm vs torch.nn.RMSNorm vs fourpapers' RMSNorm,
measured side by side.

    python benchmarks/norms.py [--threads 1] [--repeats 15]

Prints median times on x of shape [4096, d] (the norm alone) and of one training step of
the chapter's largest model with each norm, and each RMSNorm's time as a multiple of
LayerNorm's (Zhang & Sennrich 2019 report 7-64 % less running time, i.e. ratios
0.36-0.93, for their implementations).
"""

import argparse

import torch

from fourpapers import gopher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), medians of "
        f"{args.repeats} repeats\n"
    )
    print("| d | mode | LayerNorm | torch.nn.RMSNorm | ours | torch ÷ LN | ours ÷ LN |")
    print("|---|---|---|---|---|---|---|")
    for t in gopher.norm_benchmark(repeats=args.repeats):
        print(
            f"| {t.d} | {t.mode} | {t.layernorm * 1e6:.0f} µs | "
            f"{t.torch_rmsnorm * 1e6:.0f} µs | "
            f"{t.ours * 1e6:.0f} µs | {t.torch_ratio:.2f}× | {t.ours_ratio:.2f}× |"
        )
    s = gopher.step_benchmark(repeats=args.repeats)
    print(
        f"\none training step, d={s.d_model} L={s.n_layers}, 8 x 64 tokens: LayerNorm "
        f"{s.layernorm * 1e3:.1f} ms, "
        f"torch.nn.RMSNorm {s.torch_rmsnorm * 1e3:.1f} ms ({s.torch_ratio:.2f}×), ours "
        f"{s.ours * 1e3:.1f} ms "
        f"({s.ours_ratio:.2f}×)"
    )


if __name__ == "__main__":
    main()
