"""Feature maps phi: elu+1 (Katharopoulos), FAVOR+ (Choromanski), DPFP (Schlag)."""

from __future__ import annotations

import functools
import math
import re
from typing import Callable

import torch
import torch.nn.functional as F

FEATURE_MAPS = ("elu", "dpfp", "favor", "identity")


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1 (the feature map of Katharopoulos et al. 2020): positive, so
    every z^T phi(q) > 0."""
    return F.elu(x) + 1.0


def dpfp(x: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """Deterministic parameter-free projection, DPFP (Schlag et al. 2021), size ``2 * d
    * nu``.

    r = [ReLU(x); ReLU(-x)] in R^{2d}; for j = 1..nu the block r * roll(r, j) (index i
    holds r_i r_{i-j mod 2d}, the official code's ordering, a permutation of the paper's
    r_i r_{i+j}); the nu blocks concatenated. Every feature is a product of two
    non-negative numbers, so phi >= 0, and two inputs with no sign pattern in common
    have orthogonal features.
    """
    if x.dim() < 1 or x.shape[-1] < 1:
        raise ValueError(
            f"x: expected a tensor with a non-empty last dimension, got shape "
            f"{tuple(x.shape)}"
        )
    d = x.shape[-1]
    if not isinstance(nu, int) or isinstance(nu, bool) or not 1 <= nu <= 2 * d - 1:
        raise ValueError(
            f"nu: expected an integer in [1, {2 * d - 1}] (2d - 1 for d={d}), got "
            f"{nu!r}"
        )
    r = F.relu(torch.cat([x, -x], dim=-1))  # r = [ReLU(x); ReLU(-x)]
    return torch.cat(
        [r * r.roll(j, dims=-1) for j in range(1, nu + 1)], dim=-1
    )  # phi_{i,j} = r_i r_{i-j}


@functools.lru_cache(maxsize=32)
def _orthogonal_gaussian(d: int, m: int, seed: int) -> torch.Tensor:
    """m x d projection whose rows are orthogonal in blocks of d, with the norms of N(0,
    I_d) vectors (float64)."""
    return orthogonal_gaussian(d, m, torch.Generator().manual_seed(seed))


def orthogonal_gaussian(d: int, m: int, generator: torch.Generator) -> torch.Tensor:
    """A fresh FAVOR+ projection omega, ``m x d`` in float64, drawn from ``generator``.

    Rows orthogonal in blocks of d (the orthogonal random features of Choromanski et
    al. 2020), each with the norm of an N(0, I_d) vector: marginally N(0, I_d).
    """
    for name, value in (("d", d), ("m", m)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    g = generator
    blocks = []
    for start in range(0, m, d):
        q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
        q = q * torch.sign(
            torch.diagonal(r)
        )  # Haar-uniform (QR alone biases the signs)
        blocks.append(q.T[: min(d, m - start)])  # orthonormal rows
    omega = torch.cat(blocks)
    norms = torch.randn(m, d, generator=g, dtype=torch.float64).norm(
        dim=1, keepdim=True
    )
    return omega * norms  # each row ~ marginally N(0, I_d)


def favor(x: torch.Tensor, m: int | None = None, seed: int = 0) -> torch.Tensor:
    """FAVOR+ positive random features (Choromanski et al. 2020: positive random
    features, orthogonal omega), size ``m``.

    phi(x) = exp(omega_i^T x - ||x||^2 / 2) / sqrt(m), i = 1..m, so E[phi(q)^T phi(k)] =
    exp(q^T k) (the softmax kernel; scale q and k by d^{-1/4} first to get exp(q^T k /
    sqrt(d))). The orthogonal omega are drawn once from ``seed`` (``m`` defaults to d),
    so a result is reproducible; the official code redraws them each call.
    """
    if x.dim() < 1 or x.shape[-1] < 1:
        raise ValueError(
            f"x: expected a tensor with a non-empty last dimension, got shape "
            f"{tuple(x.shape)}"
        )
    d = x.shape[-1]
    m = d if m is None else m
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        raise ValueError(f"m: expected a positive number of random features, got {m!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    omega = _orthogonal_gaussian(d, m, seed).to(dtype=x.dtype, device=x.device)
    logits = x @ omega.T - 0.5 * x.pow(2).sum(
        -1, keepdim=True
    )  # omega^T x - ||x||^2 / 2
    return torch.exp(logits - 0.5 * math.log(m))  # / sqrt(m)


def favor_pm(x: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """FAVOR+ as Schlag et al. 2021 ran it (their official code): ``2 m`` features.

    phi(x) = [exp(omega x - ||x||^2/2); exp(-omega x - ||x||^2/2)] / sqrt(2m) for an
    ``omega`` of m rows, so d_dot = 2m: their m is half the feature size (the book's
    :func:`favor` has m features in all). Their model draws a fresh ``omega``
    (:func:`orthogonal_gaussian`) at every forward pass, so every mini-batch and every
    evaluation writes and reads the memory with new features; one ``omega`` serves a
    batch's keys and query. E[phi(q)^T phi(k)] = exp(q^T k), as for :func:`favor`.
    """
    if (
        not isinstance(omega, torch.Tensor)
        or omega.dim() != 2
        or omega.shape[1] != x.shape[-1]
    ):
        shape = omega.shape if isinstance(omega, torch.Tensor) else type(omega).__name__
        raise ValueError(
            f"omega: expected an [m, {x.shape[-1]}] projection, got {shape}"
        )
    m = omega.shape[0]
    u = x @ omega.to(dtype=x.dtype, device=x.device).T  # omega^T x
    # ||x||^2 / 2, and the 1 / sqrt(2m), as offsets of the exponent
    offset = 0.5 * x.pow(2).sum(-1, keepdim=True) + 0.5 * math.log(2 * m)
    return torch.cat([torch.exp(u - offset), torch.exp(-u - offset)], dim=-1)


_DPFP_RE = re.compile(r"dpfp(\d*)$")
_FAVOR_RE = re.compile(r"favor(\d*)$")


def get_feature_map(
    feature_map: str | Callable[[torch.Tensor], torch.Tensor],
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The feature map phi for a name: ``"elu"`` (elu + 1), ``"identity"``, ``"dpfp"``
    or ``"dpfp<nu>"`` (:func:`dpfp`, nu = 1 by default), ``"favor"`` or ``"favor<m>"``
    (:func:`favor`, seed 0); a callable is returned unchanged."""
    if callable(feature_map):
        return feature_map
    if not isinstance(feature_map, str):
        raise ValueError(
            f"feature_map: expected one of {FEATURE_MAPS} (or 'dpfp<nu>', 'favor<m>') "
            f"or a callable, "
            f"got {feature_map!r}"
        )
    if feature_map == "elu":
        return elu_feature_map
    if feature_map == "identity":
        return lambda x: x
    match = _DPFP_RE.match(feature_map)
    if match:
        return functools.partial(dpfp, nu=int(match.group(1) or 1))
    match = _FAVOR_RE.match(feature_map)
    if match:
        return functools.partial(
            favor, m=int(match.group(1)) if match.group(1) else None
        )
    raise ValueError(
        f"feature_map: expected one of {FEATURE_MAPS} (or 'dpfp<nu>', 'favor<m>') or a "
        f"callable, "
        f"got {feature_map!r}"
    )


def feature_size(feature_map: str, d: int) -> int:
    """d_dot, the size of phi(x) for x in R^d: d for ``"elu"``/``"identity"``, 2 d nu
    for ``"dpfp<nu>"``, m for ``"favor<m>"`` (d if m is not given). Capacity: at most
    d_dot keys fit without cross-talk (Schlag et al. 2021).
    """
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d: expected a positive integer, got {d!r}")
    get_feature_map(feature_map)  # validates the name
    if not isinstance(feature_map, str):
        raise ValueError(
            "feature_map: expected a name, not a callable, to know its size"
        )
    if feature_map in ("elu", "identity"):
        return d
    match = _DPFP_RE.match(feature_map)
    if match:
        return 2 * d * int(match.group(1) or 1)
    match = _FAVOR_RE.match(feature_map)
    return int(match.group(1)) if match.group(1) else d
