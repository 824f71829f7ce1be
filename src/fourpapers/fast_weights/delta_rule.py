"""The delta rule (Schlag et al. 2021): step by step, per chunk by triangular solve."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import positive_int as _positive_int
from .forms import _check_qkv, _features

RULES = ("sum", "delta")


def _sum_normalize(x: torch.Tensor) -> torch.Tensor:
    return x / x.sum(-1, keepdim=True)  # phi / sum(phi) (Schlag et al. 2021)


def _check_beta(beta: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    if not isinstance(beta, torch.Tensor):
        raise ValueError(
            f"beta: expected a tensor of shape [batch, heads, time] (or [..., 1]), got "
            f"{type(beta).__name__}"
        )
    if beta.dim() == 4 and beta.shape[-1] == 1:
        beta = beta.squeeze(-1)
    if beta.shape != q.shape[:3]:
        raise ValueError(
            f"beta: expected shape {tuple(q.shape[:3])} ([batch, heads, time]), got "
            f"{tuple(beta.shape)}"
        )
    return beta


def delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    feature_map="elu",
    normalize: bool = True,
) -> torch.Tensor:
    """The delta-rule fast weight programmer (Schlag et al. 2021), step by step.

    v_bar_t = W_{t-1} phi(k_t) (what the memory holds for k_t); W_t = W_{t-1} + beta_t
    (v_t - v_bar_t) (x) phi(k_t) (replace it by a beta_t-mix of old and new); y_t = W_t
    phi(q_t). ``beta`` is ``[batch, heads, time]`` (sigma(W_beta x_t) in a model). With
    ``normalize`` the features are sum-normalised, phi / sum(phi), as in the paper; the
    z-normaliser of :func:`linear_attention` is not used (with the delta rule it is
    unstable). The update is one SGD step of size beta_t on 1/2 ||W phi(k_t) - v_t||^2.
    """
    _check_qkv(q, k, v)
    beta = _check_beta(beta, q)
    fq, fk = _features(q, k, feature_map)
    if normalize:
        fq, fk = _sum_normalize(fq), _sum_normalize(fk)
    B, H, _, dphi = fk.shape
    W = v.new_zeros(B, H, v.shape[-1], dphi)
    ys = []
    for q_t, k_t, v_t, b_t in zip(
        fq.unbind(2), fk.unbind(2), v.unbind(2), beta.unbind(2)
    ):
        v_bar = (W @ k_t.unsqueeze(-1)).squeeze(-1)  # v_bar = W_{t-1} phi(k_t)
        W = W + (b_t.unsqueeze(-1) * (v_t - v_bar)).unsqueeze(-1) * k_t.unsqueeze(
            -2
        )  # + beta (v - v_bar) (x) phi(k)
        ys.append((W @ q_t.unsqueeze(-1)).squeeze(-1))  # y_t = W_t phi(q_t)
    return torch.stack(ys, dim=2)


def _delta_updates(
    fk: torch.Tensor, v: torch.Tensor, beta: torch.Tensor
) -> torch.Tensor:
    """The delta rule's writes u_t, all at once: W_t = sum_{s<=t} u_s (x) phi(k_s)
    (``fk`` [..., L, p], ``v`` [..., L, dv], ``beta`` [..., L]).

    From u_t = beta_t (v_t - W_{t-1} phi(k_t)) = beta_t (v_t - sum_{s<t} (phi(k_s)^T
    phi(k_t)) u_s): (I + diag(beta) tril(phiK phiK^T, -1)) U = diag(beta) V, one
    unit-lower-triangular solve instead of a loop over time (the same numbers as
    :func:`delta_rule` up to rounding; tested).
    """
    L = fk.shape[-2]
    A = (fk @ fk.transpose(-1, -2)).tril(-1) * beta.unsqueeze(
        -1
    )  # diag(beta) tril(phiK phiK^T, -1)
    eye = torch.eye(L, dtype=fk.dtype, device=fk.device)
    return torch.linalg.solve_triangular(
        A + eye, beta.unsqueeze(-1) * v, upper=False, unitriangular=True
    )


def chunked_delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    feature_map="elu",
    chunk_size: int = 64,
    normalize: bool = True,
) -> torch.Tensor:
    """:func:`delta_rule` by chunks: Yang et al. 2024's chunkwise form in miniature.

    Inside a chunk of C steps that starts from the fast weights W, the writes are
    u_t = beta_t (v_t - W phi(k_t) - sum_{s<t in chunk} (phi(k_s)^T phi(k_t)) u_s), so
    with T = I + diag(beta) tril(phiK phiK^T, -1), as in :func:`_delta_updates`:
    U = T^-1 diag(beta) V - T^-1 diag(beta) phiK W^T. Both triangular solves run for
    all chunks at once; the loop over chunks only carries W: U, then
    Y = phiQ W^T + tril(phiQ phiK^T) U, then W += U^T phiK. The same numbers as
    :func:`delta_rule` up to rounding (tested). A length that is not a multiple of
    ``chunk_size`` is zero-padded at the end (a zero key writes nothing).
    """
    _check_qkv(q, k, v)
    beta = _check_beta(beta, q)
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
    fq, fk = _features(q, k, feature_map)
    if normalize:
        fq, fk = _sum_normalize(fq), _sum_normalize(fk)
    B, H, T, p = fk.shape
    dv = v.shape[-1]
    C = min(chunk_size, T)
    n = -(-T // C)
    pad = n * C - T
    if pad:
        fq, fk, v = (F.pad(t, (0, 0, 0, pad)) for t in (fq, fk, v))
        beta = F.pad(beta, (0, pad))
    qc, kc = fq.reshape(B, H, n, C, p), fk.reshape(B, H, n, C, p)
    vc, bc = v.reshape(B, H, n, C, dv), beta.reshape(B, H, n, C, 1)
    A = (kc @ kc.transpose(-1, -2)).tril(-1) * bc  # diag(beta) tril(phiK phiK^T, -1)
    eye = torch.eye(C, dtype=fk.dtype, device=fk.device)
    rhs = torch.cat([bc * vc, bc * kc], dim=-1)  # [diag(beta) V, diag(beta) phiK]
    sol = torch.linalg.solve_triangular(A + eye, rhs, upper=False, unitriangular=True)
    U0, Kw = sol[..., :dv], sol[..., dv:]  # T^-1 diag(beta) V, T^-1 diag(beta) phiK
    QK = (qc @ kc.transpose(-1, -2)).tril()  # tril(phiQ phiK^T), diagonal included
    W = v.new_zeros(B, H, dv, p)
    ys = []
    # unbind, not indexing, per chunk: its backward stacks once (indexing's would fill a
    # full-size zero gradient per chunk, quadratic in the length)
    chunks = zip(*(t.unbind(2) for t in (U0, Kw, qc, QK, kc)))
    for u0, kw, q_c, qk, k_c in chunks:
        Wt = W.transpose(-1, -2)  # W^T, [p, dv]
        U = u0 - kw @ Wt  # this chunk's writes u_t
        ys.append(q_c @ Wt + qk @ U)  # y_t = W_t phi(q_t)
        W = W + U.transpose(-1, -2) @ k_c  # W += sum_t u_t (x) phi(k_t)
    return torch.cat(ys, dim=2)[:, :, :T]


def closed_form_retrieval(
    n_pairs: int,
    d: int,
    rule: str = "sum",
    replace: bool = True,
    n_trials: int = 64,
    seed: int = 0,
) -> float:
    """Retrieval error of a fast weight memory written without training (Schlag et al.
    2021: capacity, delta rule).

    Keys are ``n_pairs`` = S random unit vectors in R^d (identity features), values
    random unit vectors in R^d. ``replace=True`` (their Fig. 3 setting): 2S writes, keys
    drawn with replacement, each with a fresh value; every key seen is queried for its
    latest value. ``replace=False``: each key written once. The memory is written by the
    ``"sum"`` rule (W += v (x) k) or the ``"delta"`` rule with beta = 1 (W += (v - W k)
    (x) k). Returns the mean of ||W k - v_latest||^2 (0: perfect; 1: as bad as
    retrieving nothing), averaged over queries and ``n_trials``.
    """
    _positive_int("n_pairs", n_pairs)
    _positive_int("d", d)
    _positive_int("n_trials", n_trials)
    if rule not in RULES:
        raise ValueError(f"rule: expected one of {RULES}, got {rule!r}")
    g = torch.Generator().manual_seed(seed)
    S, L = n_pairs, 2 * n_pairs if replace else n_pairs
    keys = F.normalize(
        torch.randn(n_trials, S, d, generator=g, dtype=torch.float64), dim=-1
    )
    idx = (
        torch.randint(S, (n_trials, L), generator=g)
        if replace
        else torch.arange(S).expand(n_trials, S)
    )
    k = keys.gather(1, idx.unsqueeze(-1).expand(-1, -1, d))  # [n, L, d]
    v = F.normalize(
        torch.randn(n_trials, L, d, generator=g, dtype=torch.float64), dim=-1
    )
    W = k.new_zeros(n_trials, d, d)
    for k_t, v_t in zip(k.unbind(1), v.unbind(1)):
        if rule == "delta":
            v_t = v_t - (W @ k_t.unsqueeze(-1)).squeeze(-1)  # v - W k (beta = 1)
        W = W + v_t.unsqueeze(-1) * k_t.unsqueeze(1)  # W += (.) (x) k
    latest = torch.where(
        idx.unsqueeze(-1) == torch.arange(S), torch.arange(L).view(1, L, 1), -1
    ).amax(1)  # [n, S]
    seen = latest >= 0
    v_latest = v.gather(1, latest.clamp(min=0).unsqueeze(-1).expand(-1, -1, d))
    err = (
        ((keys @ W.transpose(1, 2)) - v_latest).pow(2).sum(-1)
    )  # ||W k_s - v_latest(s)||^2
    return float(err[seen].mean())
