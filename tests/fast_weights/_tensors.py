"""Random inputs shared by chapter 2's tests."""

import torch


def qkv(T=77, d=8, dv=5, dtype=torch.float32, seed=0, B=2, H=3):
    """Random q, k ``[B, H, T, d]`` and v ``[B, H, T, dv]``."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, H, T, n, generator=g, dtype=dtype) for n in (d, d, dv))
