"""Causal linear attention three ways: the 1991 recurrence, masked, chunked."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .feature_maps import get_feature_map

# added to the denominator z^T phi(q), as in the official code of Katharopoulos et al.
# and Schlag et al.
EPS = 1e-6


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(
                f"{name}: expected a tensor of shape [batch, heads, time, dim], got "
                f"{shape}"
            )
        if t.shape[2] < 1 or t.shape[3] < 1:
            raise ValueError(
                f"{name}: expected non-empty time and dim, got shape {tuple(t.shape)}"
            )
    if q.shape != k.shape:
        raise ValueError(
            f"k: expected the shape of q {tuple(q.shape)}, got {tuple(k.shape)}"
        )
    if v.shape[:3] != q.shape[:3]:
        raise ValueError(
            f"v: expected [batch, heads, time] = {tuple(q.shape[:3])} like q, got "
            f"{tuple(v.shape)}"
        )


def _check_eps(eps) -> None:
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps >= 0:
        raise ValueError(
            f"eps: expected a non-negative number added to the denominator, got {eps!r}"
        )


def _features(
    q: torch.Tensor, k: torch.Tensor, feature_map
) -> tuple[torch.Tensor, torch.Tensor]:
    phi = get_feature_map(feature_map)
    return phi(q), phi(k)


def fast_weight_recurrence(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map="elu",
    normalize: bool = True,
    eps: float = EPS,
) -> torch.Tensor:
    """The fast weight programmer (Schmidhuber 1991, 1992; the RNN form of Katharopoulos
    et al. 2020), step by step.

    W_t = W_{t-1} + v_t (x) phi(k_t) (a rank-one write of the fast weight matrix); y_t =
    W_t phi(q_t). With ``normalize`` (Katharopoulos' normaliser): z_t = z_{t-1} +
    phi(k_t) and y_t = W_t phi(q_t) / (z_t^T phi(q_t) + eps). Returns ``[batch, heads,
    time, dim_v]``; equal to :func:`linear_attention` up to rounding.
    """
    _check_qkv(q, k, v)
    _check_eps(eps)
    fq, fk = _features(q, k, feature_map)
    B, H, _, dphi = fk.shape
    W = v.new_zeros(B, H, v.shape[-1], dphi)  # the fast weights, W_0 = 0
    z = v.new_zeros(B, H, dphi)
    ys = []
    for q_t, k_t, v_t in zip(
        fq.unbind(2), fk.unbind(2), v.unbind(2)
    ):  # unbind keeps the backward linear in T
        W = W + v_t.unsqueeze(-1) * k_t.unsqueeze(
            -2
        )  # W_t = W_{t-1} + v_t (x) phi(k_t)
        y_t = (W @ q_t.unsqueeze(-1)).squeeze(-1)  # y_t = W_t phi(q_t)
        if normalize:
            z = z + k_t  # z_t = z_{t-1} + phi(k_t)
            y_t = y_t / (
                (z * q_t).sum(-1, keepdim=True) + eps
            )  # / (z_t^T phi(q_t) + eps)
        ys.append(y_t)
    return torch.stack(ys, dim=2)


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map="elu",
    normalize: bool = True,
    eps: float = EPS,
) -> torch.Tensor:
    """Causal linear attention, parallel form (Katharopoulos et al. 2020, with the
    causal mask M).

    Y = [(phiQ phiK^T . M) V] / [(phiQ phiK^T . M) 1 + eps], M lower-triangular
    including the diagonal. Quadratic in time and memory, like softmax attention;
    ``normalize=False`` drops the denominator (the plain 1991 sum).
    """
    _check_qkv(q, k, v)
    _check_eps(eps)
    fq, fk = _features(q, k, feature_map)
    A = (fq @ fk.transpose(-1, -2)).tril()  # phiQ phiK^T . M
    y = A @ v  # (phiQ phiK^T . M) V
    if normalize:
        y = y / (A.sum(-1, keepdim=True) + eps)  # / (phiQ phiK^T . M) 1
    return y


def chunked_linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map="elu",
    chunk_size: int = 64,
    normalize: bool = True,
    eps: float = EPS,
) -> torch.Tensor:
    """Causal linear attention in O(N) time and memory: linear attention (Katharopoulos
    et al. 2020) computed chunk-wise.

    Split time into chunks of ``chunk_size``. Inside chunk c, the masked quadratic form
    (phiQ_c phiK_c^T . M) V_c; between chunks, the fast weights W_c = sum over earlier
    chunks of phiK^T V, read as phiQ_c W_c. Every chunk's products and the exclusive
    prefix sum of the W_c run as batched matmuls, with no Python loop over chunks. A
    length that is not a multiple of ``chunk_size`` is zero-padded at the end (causality
    makes padding harmless).
    """
    _check_qkv(q, k, v)
    _check_eps(eps)
    if (
        not isinstance(chunk_size, int)
        or isinstance(chunk_size, bool)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
    fq, fk = _features(q, k, feature_map)
    B, H, T, dphi = fk.shape
    dv = v.shape[-1]
    # the denominator (phiQ phiK^T . M) 1 rides along as one more value column: V' = [V,
    # 1]
    if normalize:
        v = torch.cat([v, v.new_ones(B, H, T, 1)], dim=-1)
    C = min(chunk_size, T)
    n = -(-T // C)
    pad = n * C - T
    # zero features write nothing and read nothing; the padded rows are dropped below
    if pad:
        fq, fk, v = (F.pad(t, (0, 0, 0, pad)) for t in (fq, fk, v))
    m, dv1 = B * H * n, v.shape[-1]
    qc, kc, vc = fq.reshape(m, C, dphi), fk.reshape(m, C, dphi), v.reshape(m, C, dv1)
    A = torch.bmm(qc, kc.transpose(1, 2)).tril_()  # intra-chunk phiQ_c phiK_c^T . M
    states = torch.bmm(kc.transpose(1, 2), vc).view(
        B * H, n, dphi, dv1
    )  # each chunk's write phiK_c^T V_c
    W = (states.cumsum(1) - states).view(
        m, dphi, dv1
    )  # fast weights before chunk c (exclusive sum)
    y = torch.baddbmm(torch.bmm(qc, W), A, vc)  # inter-chunk read + intra-chunk part
    if normalize:
        y = y[..., :dv] / (y[..., dv:] + eps)  # numerator / (z_t^T phi(q_t) + eps)
    return y.reshape(B, H, n * C, dv)[:, :, :T]
