"""Chapter 2, "Fast weight programmers are linear Transformers" (Schmidhuber 1991/92; Katharopoulos et al. 2020;
Choromanski et al. 2020; Schlag, Irie & Schmidhuber 2021).

Every attention function here takes tensors laid out ``[batch, heads, time, dim]`` and is causal: output ``t``
reads only inputs ``1..t``. Three computations of the same causal linear attention (Katharopoulos et al. 2020):

* :func:`fast_weight_recurrence` -- the 1991 fast weight programmer, step by step: a fast weight matrix
  ``W_t = W_{t-1} + v_t (x) phi(k_t)`` written by outer products, read as ``y_t = W_t phi(q_t)``;
* :func:`linear_attention` -- the parallel (quadratic) form ``Y = [(phiQ phiK^T . M) V] / [(phiQ phiK^T . M) 1]``;
* :func:`chunked_linear_attention` -- O(N) time and memory: the masked quadratic form inside chunks, the fast
  weight matrix carried between chunks, all chunks at once as batched matmuls.

Then the delta rule of Schlag et al. (2021) (:func:`delta_rule`), the feature maps by name (``"elu"``,
``"dpfp"``/``"dpfp2"``/..., ``"favor"``, ``"identity"``), the associative-retrieval task of their Figs. 2-3 with
its models and training (:class:`RetrievalModel`, :func:`train_retrieval`, :func:`capacity_sweep`), the
closed-form sum-vs-delta retrieval error (:func:`closed_form_retrieval`), and the timing benchmark of
Katharopoulos et al.'s Fig. 1 (:func:`attention_timings`).
"""

from __future__ import annotations

import functools
import math
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .models import check_token_ids
from .training import progress_bar, reproducible, resolve_device, train

__all__ = [
    "FEATURE_MAPS",
    "elu_feature_map",
    "dpfp",
    "favor",
    "get_feature_map",
    "feature_size",
    "fast_weight_recurrence",
    "linear_attention",
    "chunked_linear_attention",
    "delta_rule",
    "retrieval_batch",
    "RetrievalModel",
    "RetrievalGroup",
    "retrieval_loss",
    "RetrievalResult",
    "train_retrieval",
    "train_retrieval_group",
    "capacity_sweep",
    "overwrite_sweep",
    "closed_form_retrieval",
    "TimingRow",
    "time_call",
    "attention_timings",
    "matmul_gflops",
    "chunked_flops",
    "crossover",
]

FEATURE_MAPS = ("elu", "dpfp", "favor", "identity")
EPS = 1e-6  # added to the denominator z^T phi(q), as in the official code of Katharopoulos et al. and Schlag et al.


# --------------------------------------------------------------------------------------------------------------
# Feature maps phi
# --------------------------------------------------------------------------------------------------------------


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1 (the feature map of Katharopoulos et al. 2020): positive, so every z^T phi(q) > 0."""
    return F.elu(x) + 1.0


def dpfp(x: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """Deterministic parameter-free projection, DPFP (Schlag et al. 2021), size ``2 * d * nu``.

    r = [ReLU(x); ReLU(-x)] in R^{2d}; for j = 1..nu the block r * roll(r, j) (index i holds r_i r_{i-j mod 2d},
    the official code's ordering, a permutation of the paper's r_i r_{i+j}); the nu blocks concatenated. Every
    feature is a product of two non-negative numbers, so phi >= 0, and two inputs with no sign pattern in common
    have orthogonal features.
    """
    if x.dim() < 1 or x.shape[-1] < 1:
        raise ValueError(f"x: expected a tensor with a non-empty last dimension, got shape {tuple(x.shape)}")
    d = x.shape[-1]
    if not isinstance(nu, int) or isinstance(nu, bool) or not 1 <= nu <= 2 * d - 1:
        raise ValueError(f"nu: expected an integer in [1, {2 * d - 1}] (2d - 1 for d={d}), got {nu!r}")
    r = F.relu(torch.cat([x, -x], dim=-1))                            # r = [ReLU(x); ReLU(-x)]
    return torch.cat([r * r.roll(j, dims=-1) for j in range(1, nu + 1)], dim=-1)  # phi_{i,j} = r_i r_{i-j}


@functools.lru_cache(maxsize=32)
def _orthogonal_gaussian(d: int, m: int, seed: int) -> torch.Tensor:
    """m x d projection whose rows are orthogonal in blocks of d, with the norms of N(0, I_d) vectors (float64)."""
    g = torch.Generator().manual_seed(seed)
    blocks = []
    for start in range(0, m, d):
        q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r))                       # Haar-uniform (QR alone biases the signs)
        blocks.append(q.T[: min(d, m - start)])                    # orthonormal rows
    omega = torch.cat(blocks)
    norms = torch.randn(m, d, generator=g, dtype=torch.float64).norm(dim=1, keepdim=True)
    return omega * norms                                            # each row ~ marginally N(0, I_d)


def favor(x: torch.Tensor, m: int | None = None, seed: int = 0) -> torch.Tensor:
    """FAVOR+ positive random features (Choromanski et al. 2020: positive random features, orthogonal omega), size ``m``.

    phi(x) = exp(omega_i^T x - ||x||^2 / 2) / sqrt(m), i = 1..m, so E[phi(q)^T phi(k)] = exp(q^T k) (the softmax
    kernel; scale q and k by d^{-1/4} first to get exp(q^T k / sqrt(d))). The orthogonal omega are drawn once from
    ``seed`` (``m`` defaults to d), so a result is reproducible; the official code redraws them each call.
    """
    if x.dim() < 1 or x.shape[-1] < 1:
        raise ValueError(f"x: expected a tensor with a non-empty last dimension, got shape {tuple(x.shape)}")
    d = x.shape[-1]
    m = d if m is None else m
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        raise ValueError(f"m: expected a positive number of random features, got {m!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    omega = _orthogonal_gaussian(d, m, seed).to(dtype=x.dtype, device=x.device)
    logits = x @ omega.T - 0.5 * x.pow(2).sum(-1, keepdim=True)    # omega^T x - ||x||^2 / 2
    return torch.exp(logits - 0.5 * math.log(m))                   # / sqrt(m)


_DPFP_RE = re.compile(r"dpfp(\d*)$")
_FAVOR_RE = re.compile(r"favor(\d*)$")


def get_feature_map(feature_map: str | Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The feature map phi for a name: ``"elu"`` (elu + 1), ``"identity"``, ``"dpfp"`` or ``"dpfp<nu>"``
    (:func:`dpfp`, nu = 1 by default), ``"favor"`` or ``"favor<m>"`` (:func:`favor`, seed 0); a callable is
    returned unchanged."""
    if callable(feature_map):
        return feature_map
    if not isinstance(feature_map, str):
        raise ValueError(f"feature_map: expected one of {FEATURE_MAPS} (or 'dpfp<nu>', 'favor<m>') or a callable, "
                         f"got {feature_map!r}")
    if feature_map == "elu":
        return elu_feature_map
    if feature_map == "identity":
        return lambda x: x
    match = _DPFP_RE.match(feature_map)
    if match:
        return functools.partial(dpfp, nu=int(match.group(1) or 1))
    match = _FAVOR_RE.match(feature_map)
    if match:
        return functools.partial(favor, m=int(match.group(1)) if match.group(1) else None)
    raise ValueError(f"feature_map: expected one of {FEATURE_MAPS} (or 'dpfp<nu>', 'favor<m>') or a callable, "
                     f"got {feature_map!r}")


def feature_size(feature_map: str, d: int) -> int:
    """d_dot, the size of phi(x) for x in R^d: d for ``"elu"``/``"identity"``, 2 d nu for ``"dpfp<nu>"``, m for
    ``"favor<m>"`` (d if m is not given). Capacity: at most d_dot keys fit without cross-talk (Schlag et al. 2021).
    """
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d: expected a positive integer, got {d!r}")
    get_feature_map(feature_map)  # validates the name
    if not isinstance(feature_map, str):
        raise ValueError("feature_map: expected a name, not a callable, to know its size")
    if feature_map in ("elu", "identity"):
        return d
    match = _DPFP_RE.match(feature_map)
    if match:
        return 2 * d * int(match.group(1) or 1)
    match = _FAVOR_RE.match(feature_map)
    return int(match.group(1)) if match.group(1) else d


# --------------------------------------------------------------------------------------------------------------
# Linear attention = the fast weight programmer, three ways
# --------------------------------------------------------------------------------------------------------------


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name}: expected a tensor of shape [batch, heads, time, dim], got {shape}")
        if t.shape[2] < 1 or t.shape[3] < 1:
            raise ValueError(f"{name}: expected non-empty time and dim, got shape {tuple(t.shape)}")
    if q.shape != k.shape:
        raise ValueError(f"k: expected the shape of q {tuple(q.shape)}, got {tuple(k.shape)}")
    if v.shape[:3] != q.shape[:3]:
        raise ValueError(f"v: expected [batch, heads, time] = {tuple(q.shape[:3])} like q, got {tuple(v.shape)}")


def _check_eps(eps) -> None:
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps >= 0:
        raise ValueError(f"eps: expected a non-negative number added to the denominator, got {eps!r}")


def _features(q: torch.Tensor, k: torch.Tensor, feature_map) -> tuple[torch.Tensor, torch.Tensor]:
    phi = get_feature_map(feature_map)
    return phi(q), phi(k)


def fast_weight_recurrence(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, feature_map="elu",
                           normalize: bool = True, eps: float = EPS) -> torch.Tensor:
    """The fast weight programmer (Schmidhuber 1991, 1992; the RNN form of Katharopoulos et al. 2020), step by
    step.

    W_t = W_{t-1} + v_t (x) phi(k_t) (a rank-one write of the fast weight matrix); y_t = W_t phi(q_t). With
    ``normalize`` (Katharopoulos' normaliser): z_t = z_{t-1} + phi(k_t) and y_t = W_t phi(q_t) / (z_t^T phi(q_t) + eps).
    Returns ``[batch, heads, time, dim_v]``; equal to :func:`linear_attention` up to rounding.
    """
    _check_qkv(q, k, v)
    _check_eps(eps)
    fq, fk = _features(q, k, feature_map)
    B, H, _, dphi = fk.shape
    W = v.new_zeros(B, H, v.shape[-1], dphi)       # the fast weights, W_0 = 0
    z = v.new_zeros(B, H, dphi)
    ys = []
    for q_t, k_t, v_t in zip(fq.unbind(2), fk.unbind(2), v.unbind(2)):   # unbind keeps the backward linear in T
        W = W + v_t.unsqueeze(-1) * k_t.unsqueeze(-2)                      # W_t = W_{t-1} + v_t (x) phi(k_t)
        y_t = (W @ q_t.unsqueeze(-1)).squeeze(-1)                           # y_t = W_t phi(q_t)
        if normalize:
            z = z + k_t                                                     # z_t = z_{t-1} + phi(k_t)
            y_t = y_t / ((z * q_t).sum(-1, keepdim=True) + eps)             # / (z_t^T phi(q_t) + eps)
        ys.append(y_t)
    return torch.stack(ys, dim=2)


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, feature_map="elu",
                     normalize: bool = True, eps: float = EPS) -> torch.Tensor:
    """Causal linear attention, parallel form (Katharopoulos et al. 2020, with the causal mask M).

    Y = [(phiQ phiK^T . M) V] / [(phiQ phiK^T . M) 1 + eps], M lower-triangular including the diagonal. Quadratic
    in time and memory, like softmax attention; ``normalize=False`` drops the denominator (the plain 1991 sum).
    """
    _check_qkv(q, k, v)
    _check_eps(eps)
    fq, fk = _features(q, k, feature_map)
    A = (fq @ fk.transpose(-1, -2)).tril()                 # phiQ phiK^T . M
    y = A @ v                                              # (phiQ phiK^T . M) V
    if normalize:
        y = y / (A.sum(-1, keepdim=True) + eps)            # / (phiQ phiK^T . M) 1
    return y


def chunked_linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, feature_map="elu",
                             chunk_size: int = 64, normalize: bool = True, eps: float = EPS) -> torch.Tensor:
    """Causal linear attention in O(N) time and memory: linear attention (Katharopoulos et al. 2020) computed chunk-wise.

    Split time into chunks of ``chunk_size``. Inside chunk c, the masked quadratic form (phiQ_c phiK_c^T . M) V_c;
    between chunks, the fast weights W_c = sum over earlier chunks of phiK^T V, read as phiQ_c W_c. Every chunk's
    products and the exclusive prefix sum of the W_c run as batched matmuls, with no Python loop over chunks. A
    length that is not a multiple of ``chunk_size`` is zero-padded at the end (causality makes padding harmless).
    """
    _check_qkv(q, k, v)
    _check_eps(eps)
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
    fq, fk = _features(q, k, feature_map)
    B, H, T, dphi = fk.shape
    dv = v.shape[-1]
    if normalize:  # the denominator (phiQ phiK^T . M) 1 rides along as one more value column: V' = [V, 1]
        v = torch.cat([v, v.new_ones(B, H, T, 1)], dim=-1)
    C = min(chunk_size, T)
    n = -(-T // C)
    pad = n * C - T
    if pad:  # zero features write nothing and read nothing; the padded rows are dropped below
        fq, fk, v = (F.pad(t, (0, 0, 0, pad)) for t in (fq, fk, v))
    m, dv1 = B * H * n, v.shape[-1]
    qc, kc, vc = fq.reshape(m, C, dphi), fk.reshape(m, C, dphi), v.reshape(m, C, dv1)
    A = torch.bmm(qc, kc.transpose(1, 2)).tril_()                       # intra-chunk phiQ_c phiK_c^T . M
    states = torch.bmm(kc.transpose(1, 2), vc).view(B * H, n, dphi, dv1)  # each chunk's write phiK_c^T V_c
    W = (states.cumsum(1) - states).view(m, dphi, dv1)                  # fast weights before chunk c (exclusive sum)
    y = torch.baddbmm(torch.bmm(qc, W), A, vc)                          # inter-chunk read + intra-chunk part
    if normalize:
        y = y[..., :dv] / (y[..., dv:] + eps)                           # numerator / (z_t^T phi(q_t) + eps)
    return y.reshape(B, H, n * C, dv)[:, :, :T]


def _sum_normalize(x: torch.Tensor) -> torch.Tensor:
    return x / x.sum(-1, keepdim=True)                     # phi / sum(phi) (Schlag et al. 2021)


def _check_beta(beta: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    if not isinstance(beta, torch.Tensor):
        raise ValueError(f"beta: expected a tensor of shape [batch, heads, time] (or [..., 1]), got {type(beta).__name__}")
    if beta.dim() == 4 and beta.shape[-1] == 1:
        beta = beta.squeeze(-1)
    if beta.shape != q.shape[:3]:
        raise ValueError(f"beta: expected shape {tuple(q.shape[:3])} ([batch, heads, time]), got {tuple(beta.shape)}")
    return beta


def delta_rule(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, feature_map="elu",
               normalize: bool = True) -> torch.Tensor:
    """The delta-rule fast weight programmer (Schlag et al. 2021), step by step.

    v_bar_t = W_{t-1} phi(k_t) (what the memory holds for k_t); W_t = W_{t-1} + beta_t (v_t - v_bar_t) (x) phi(k_t)
    (replace it by a beta_t-mix of old and new); y_t = W_t phi(q_t). ``beta`` is ``[batch, heads, time]``
    (sigma(W_beta x_t) in a model). With ``normalize`` the features are sum-normalised, phi / sum(phi), as in the
    paper; the z-normaliser of :func:`linear_attention` is not used (with the delta rule it is unstable). The
    update is one SGD step of size beta_t on 1/2 ||W phi(k_t) - v_t||^2.
    """
    _check_qkv(q, k, v)
    beta = _check_beta(beta, q)
    fq, fk = _features(q, k, feature_map)
    if normalize:
        fq, fk = _sum_normalize(fq), _sum_normalize(fk)
    B, H, _, dphi = fk.shape
    W = v.new_zeros(B, H, v.shape[-1], dphi)
    ys = []
    for q_t, k_t, v_t, b_t in zip(fq.unbind(2), fk.unbind(2), v.unbind(2), beta.unbind(2)):
        v_bar = (W @ k_t.unsqueeze(-1)).squeeze(-1)                              # v_bar = W_{t-1} phi(k_t)
        W = W + (b_t.unsqueeze(-1) * (v_t - v_bar)).unsqueeze(-1) * k_t.unsqueeze(-2)  # + beta (v - v_bar) (x) phi(k)
        ys.append((W @ q_t.unsqueeze(-1)).squeeze(-1))                           # y_t = W_t phi(q_t)
    return torch.stack(ys, dim=2)


def _delta_updates(fk: torch.Tensor, v: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """The delta rule's writes u_t, all at once: W_t = sum_{s<=t} u_s (x) phi(k_s) (``fk`` [..., L, p], ``v``
    [..., L, dv], ``beta`` [..., L]).

    From u_t = beta_t (v_t - W_{t-1} phi(k_t)) = beta_t (v_t - sum_{s<t} (phi(k_s)^T phi(k_t)) u_s):
    (I + diag(beta) tril(phiK phiK^T, -1)) U = diag(beta) V, one unit-lower-triangular solve instead of a loop
    over time (the same numbers as :func:`delta_rule` up to rounding; tested).
    """
    L = fk.shape[-2]
    A = (fk @ fk.transpose(-1, -2)).tril(-1) * beta.unsqueeze(-1)           # diag(beta) tril(phiK phiK^T, -1)
    eye = torch.eye(L, dtype=fk.dtype, device=fk.device)
    return torch.linalg.solve_triangular(A + eye, beta.unsqueeze(-1) * v, upper=False, unitriangular=True)


# --------------------------------------------------------------------------------------------------------------
# The associative-retrieval task (Schlag et al. 2021, Figs. 2 and 3)
# --------------------------------------------------------------------------------------------------------------

ATTENTIONS = ("softmax", "linear", "dpfp1", "dpfp2", "dpfp3", "favor")
RULES = ("sum", "delta")


def _positive_int(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


def retrieval_batch(batch_size: int, n_keys: int, generator: torch.Generator | None = None,
                    replace: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch of the retrieval task of Schlag et al. (2021, Figs. 2-3): ``(keys, values, query, target)``.

    ``replace=False`` (their Setting 1, Fig. 2): each sequence is a random permutation of the ``n_keys`` = S keys,
    paired with a random permutation of S values (length S). ``replace=True`` (Setting 2, Fig. 3): 2S pairs, keys
    and values drawn with replacement; the target is the value of the query key's *latest* occurrence. The query
    is a key of the sequence, drawn uniformly among its positions. Shapes: ``[B, L]``, ``[B, L]``, ``[B]``, ``[B]``.
    """
    _positive_int("batch_size", batch_size)
    _positive_int("n_keys", n_keys)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    B, S = batch_size, n_keys
    if replace:
        L = 2 * S
        keys = torch.randint(S, (B, L), generator=g)
        values = torch.randint(S, (B, L), generator=g)
    else:
        L = S
        keys = torch.rand(B, S, generator=g).argsort(dim=1)
        values = torch.rand(B, S, generator=g).argsort(dim=1)
    pos = torch.randint(L, (B,), generator=g)
    query = keys.gather(1, pos[:, None]).squeeze(1)
    latest = torch.where(keys == query[:, None], torch.arange(L), -1).amax(dim=1)   # last occurrence of the query key
    target = values.gather(1, latest[:, None]).squeeze(1)
    return keys, values, query, target


def _check_retrieval_inputs(keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor, n_keys: int) -> None:
    """keys, values ``[B, L]`` and query ``[B]``: integer ids in ``[0, n_keys)``. (An id out of range would not even
    fail: row ``value * S + key`` of the look-up table is another pair's row.)"""
    for name, ids in (("keys", keys), ("values", values), ("query", query)):
        check_token_ids(name, ids, n_keys)
    if keys.dim() != 2 or keys.shape != values.shape or query.shape != keys.shape[:1]:
        raise ValueError(f"keys, values, query: expected shapes [B, L], [B, L], [B], got {tuple(keys.shape)}, "
                         f"{tuple(values.shape)}, {tuple(query.shape)}")


class RetrievalModel(nn.Module):
    """The one-layer key-value memory of Schlag et al.'s retrieval experiments (their Figs. 2-3; official code).

    Values are frozen one-hot vectors v = onehot(value) in R^S. A key is k = W_k [onehot(value); emb(key)] in
    R^{d_key} (embedding size floor(2.2 S)); the query is q = W_q emb(query key). The memory is written with the
    whole sequence, then read once with q:

    * ``"softmax"``: y = sum_t softmax_t(k_t^T q / sqrt(d_key)) v_t (the control: no capacity limit here);
    * linear (``"linear"`` = elu + 1, ``"dpfp<nu>"``, ``"favor"``) with the ``"sum"`` rule: the fast weights
      W = sum_t v_t (x) phi(k_t), z = sum_t phi(k_t), y = W phi(q) / (z^T phi(q) + eps);
    * with the ``"delta"`` rule: :func:`delta_rule`'s update with sum-normalised features and beta_t = sigma(W_b x_t).
    """

    def __init__(self, n_keys: int, attention: str = "linear", rule: str = "sum", d_key: int = 8):
        super().__init__()
        _positive_int("n_keys", n_keys)
        _positive_int("d_key", d_key)
        if attention not in ATTENTIONS:
            raise ValueError(f"attention: expected one of {ATTENTIONS}, got {attention!r}")
        if rule not in RULES:
            raise ValueError(f"rule: expected one of {RULES}, got {rule!r}")
        if attention == "softmax" and rule != "sum":
            raise ValueError(f"rule: softmax attention has no fast weights to update by the delta rule, got {rule!r}")
        self.n_keys, self.attention, self.rule, self.d_key = n_keys, attention, rule, d_key
        fmap = "elu" if attention == "linear" else attention
        self.d_dot = d_key if attention == "softmax" else feature_size(fmap, d_key)
        self.phi = None if attention == "softmax" else get_feature_map(fmap)
        e = int(2.2 * n_keys)                                       # key embedding size floor(1.1 (S + S))
        self.emb = nn.Embedding(n_keys, e)
        self.W_k = nn.Linear(e + n_keys, d_key)
        self.W_q = nn.Linear(e, d_key)
        self.W_b = nn.Linear(e + n_keys, 1) if rule == "delta" else None
        nn.init.normal_(self.emb.weight, 0.0, 1.0)
        if attention == "softmax":
            nn.init.xavier_uniform_(self.W_k.weight)
            nn.init.xavier_uniform_(self.W_q.weight)
        else:
            u = 1 / math.sqrt(d_key)
            nn.init.uniform_(self.W_k.weight, -u, u)
            nn.init.uniform_(self.W_q.weight, -u, u)

    def forward(self, keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Predicted value vectors ``[B, S]`` for ``keys``, ``values`` ``[B, L]`` and ``query`` ``[B]``."""
        _check_retrieval_inputs(keys, values, query, self.n_keys)
        S = self.n_keys
        # k_t = W_k [onehot(v_t); emb(k_t)] + b_k takes one of S * S values: look it up in a table of all of them
        # (row v * S + k; the same function with far fewer FLOPs); likewise q = W_q emb(q) + b_q.
        Wk = self.W_k.weight
        table = Wk[:, :S].T.unsqueeze(1) + (self.emb.weight @ Wk[:, S:].T + self.W_k.bias).unsqueeze(0)
        k = F.embedding(values * S + keys, table.reshape(S * S, -1))                      # [B, L, d_key]
        q = F.embedding(query, torch.addmm(self.W_q.bias, self.emb.weight, self.W_q.weight.T))  # [B, d_key]
        if self.attention == "softmax":
            a = torch.softmax((k @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(self.d_key), dim=1)
            return a.new_zeros(a.shape[0], S).scatter_add(1, values, a)       # sum_t a_t onehot(v_t)
        fk, fq = self.phi(k), self.phi(q)
        if self.rule == "sum":
            # W phi(q) / (z^T phi(q)) with W = sum_t onehot(v_t) (x) phi(k_t), z = sum_t phi(k_t), evaluated in its
            # attention form sum_t onehot(v_t) [phi(k_t)^T phi(q)] / sum_t phi(k_t)^T phi(q): the same numbers
            # (section 1 of the chapter), fewer FLOPs.
            a = (fk @ fq.unsqueeze(-1)).squeeze(-1)                            # phi(k_t)^T phi(q), [B, L]
            return a.new_zeros(a.shape[0], S).scatter_add(1, values, a) / (a.sum(1, keepdim=True) + EPS)
        Wb = self.W_b.weight                                                   # beta_t = sigma(W_b x_t), as above
        table = Wb[:, :S].T.unsqueeze(1) + (self.emb.weight @ Wb[:, S:].T + self.W_b.bias).unsqueeze(0)
        beta = torch.sigmoid(F.embedding(values * S + keys, table.reshape(S * S, 1)).squeeze(-1))
        fk, fq = _sum_normalize(fk), fq / (fq.sum(-1, keepdim=True) + EPS)
        v = F.one_hot(values, S).to(fk.dtype)                                  # the one-hot values v_t
        U = _delta_updates(fk, v, beta)                                        # W_L = sum_t u_t (x) phi(k_t)
        return ((fk @ fq.unsqueeze(-1)).transpose(1, 2) @ U).squeeze(1)       # y = W_L phi(q)


def retrieval_loss(model: nn.Module, keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor,
                   target: torch.Tensor) -> torch.Tensor:
    """1/2 ||onehot(y) - y_hat||^2, summed over the S value dimensions, averaged over the batch (Schlag et al.
    Figs. 2-3). Predicting nothing (y_hat = 0) gives 0.5, predicting 1/S everywhere 0.5 (1 - 1/S): 0.5 is chance."""
    y_hat = model(keys, values, query)
    onehot = F.one_hot(target, y_hat.shape[-1]).to(y_hat.dtype)
    return F.mse_loss(y_hat, onehot, reduction="sum") * (0.5 / y_hat.shape[0])   # 1/2 ||onehot(y) - y_hat||^2


@dataclass
class RetrievalResult:
    """One training run of the retrieval task: the final evaluation loss and the per-step training losses."""

    attention: str
    rule: str
    n_keys: int
    d_dot: int
    eval_loss: float
    losses: list[float] = field(repr=False)


class RetrievalGroup(nn.Module):
    """Several :class:`RetrievalModel` memories of the same S, trained side by side on the same batches.

    Their parameters are stacked along a first "variant" dimension, so the work they share (the key and query
    look-ups, the loss, Adam) runs once per step instead of once per memory: about twice as fast on a CPU, where
    these tiny models are bound by per-operation overhead. Variant i computes exactly what a
    :class:`RetrievalModel` with the same parameters computes (tested), and is initialised as one built right after
    ``torch.manual_seed(init_seed)``, so a cell's result does not depend on which other cells share its group.
    ``variants`` is a sequence of ``(attention, rule)``.
    """

    def __init__(self, n_keys: int, variants: Sequence[tuple[str, str]], d_key: int = 8, init_seed: int = 0):
        super().__init__()
        if not variants:
            raise ValueError("variants: expected at least one (attention, rule) pair")
        members = []
        for attention, rule in variants:
            torch.manual_seed(init_seed)
            members.append(RetrievalModel(n_keys, attention, rule, d_key))
        self.n_keys, self.d_key, self.variants = n_keys, d_key, [tuple(v) for v in variants]
        self.phis = [m.phi for m in members]
        self.d_dots = [m.d_dot for m in members]

        def stack(get):
            return nn.Parameter(torch.stack([get(m).detach().clone() for m in members]))

        self.emb = stack(lambda m: m.emb.weight)                                  # [V, S, e]
        self.W_k, self.b_k = stack(lambda m: m.W_k.weight), stack(lambda m: m.W_k.bias)  # [V, d, S + e], [V, d]
        self.W_q, self.b_q = stack(lambda m: m.W_q.weight), stack(lambda m: m.W_q.bias)  # [V, d, e], [V, d]
        self.delta = [i for i, (_, rule) in enumerate(self.variants) if rule == "delta"]
        if self.delta:
            unused = nn.Linear(self.emb.shape[-1] + n_keys, 1)                  # for the sum-rule variants
            self.W_b = stack(lambda m: (m.W_b or unused).weight)                   # [V, 1, S + e]
            self.b_b = stack(lambda m: (m.W_b or unused).bias)

    def _lookup(self, W: torch.Tensor, b: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        # W [onehot(v); emb(k)] + b for every variant: a table of the S * S possible results, then a look-up
        S = self.n_keys
        table = W[:, :, :S].transpose(1, 2).unsqueeze(2) + (self.emb @ W[:, :, S:].transpose(1, 2)
                                                            + b.unsqueeze(1)).unsqueeze(1)      # [V, S(v), S(k), out]
        return table.reshape(len(self.variants), S * S, -1)[:, values * S + keys]              # [V, B, L, out]

    def forward(self, keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Predicted value vectors of every variant, ``[V, B, S]``."""
        _check_retrieval_inputs(keys, values, query, self.n_keys)
        S = self.n_keys
        k = self._lookup(self.W_k, self.b_k, keys, values)                                      # [V, B, L, d]
        q = torch.baddbmm(self.b_q.unsqueeze(1), self.emb, self.W_q.transpose(1, 2))[:, query]  # [V, B, d]
        beta = torch.sigmoid(self._lookup(self.W_b, self.b_b, keys, values)).squeeze(-1) if self.delta else None
        out = []
        for i, (attention, rule) in enumerate(self.variants):
            if attention == "softmax":
                a = torch.softmax((k[i] @ q[i].unsqueeze(-1)).squeeze(-1) / math.sqrt(self.d_key), dim=1)
                out.append(a.new_zeros(a.shape[0], S).scatter_add(1, values, a))
                continue
            fk, fq = self.phis[i](k[i]), self.phis[i](q[i])
            if rule == "sum":
                a = (fk @ fq.unsqueeze(-1)).squeeze(-1)
                out.append(a.new_zeros(a.shape[0], S).scatter_add(1, values, a) / (a.sum(1, keepdim=True) + EPS))
            else:
                fk, fq = _sum_normalize(fk), fq / (fq.sum(-1, keepdim=True) + EPS)
                U = _delta_updates(fk, F.one_hot(values, S).to(fk.dtype), beta[i])
                out.append(((fk @ fq.unsqueeze(-1)).transpose(1, 2) @ U).squeeze(1))
        return torch.stack(out)

    def losses(self, keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor,
               target: torch.Tensor) -> torch.Tensor:
        """Each variant's :func:`retrieval_loss`, ``[V]``."""
        y_hat = self(keys, values, query)
        onehot = F.one_hot(target, self.n_keys).to(y_hat.dtype).expand_as(y_hat)
        return F.mse_loss(y_hat, onehot, reduction="none").sum(-1).mean(-1) * 0.5


def _stream(batch_size: int, n_keys: int, seed: int, replace: bool):
    g = torch.Generator().manual_seed(seed)
    while True:
        yield retrieval_batch(batch_size, n_keys, g, replace=replace)


def train_retrieval_group(n_keys: int, variants: Sequence[tuple[str, str]], d_key: int = 8, steps: int = 1500,
                          lr: float = 3e-3, batch_size: int = 32, replace: bool = False, eval_size: int = 1024,
                          seed: int = 0, device=None, progress: bool = True) -> list[RetrievalResult]:
    """Train the memories ``variants`` = [(attention, rule), ...] side by side (a :class:`RetrievalGroup`) on the
    retrieval task of Schlag et al. (2021, Figs. 2-3 in miniature); one :class:`RetrievalResult` per variant.

    Adam(``lr``) on the sum of their losses (Adam is per parameter, so each memory trains as if alone),
    ``batch_size`` fresh sequences per step, a fixed ``steps`` (no early stopping), then each memory's loss on
    ``eval_size`` fresh sequences from a separate stream. Same ``seed``, same numbers.
    """
    for name, value in (("n_keys", n_keys), ("d_key", d_key), ("steps", steps), ("eval_size", eval_size),
                        ("batch_size", batch_size)):
        _positive_int(name, value)
    if not lr > 0:
        raise ValueError(f"lr: expected a positive learning rate, got {lr!r}")
    dev = resolve_device(device)
    reproducible(seed)
    model = RetrievalGroup(n_keys, variants, d_key, init_seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    history: list[torch.Tensor] = []

    def loss_fn(m, *batch):
        per_variant = m.losses(*batch)
        history.append(per_variant.detach())
        return per_variant.sum()

    names = ", ".join(f"{a}/{r}" for a, r in model.variants)
    train(model, _stream(batch_size, n_keys, seed, replace), opt, steps, loss_fn=loss_fn, device=dev,
          progress=progress, desc=f"S={n_keys}: {names}")
    model.eval()
    g = torch.Generator().manual_seed(1_000_003 + seed)
    with torch.no_grad():
        evals = model.losses(*(t.to(dev) for t in retrieval_batch(eval_size, n_keys, g, replace=replace))).tolist()
    curves = torch.stack(history).T.tolist() if history else [[] for _ in model.variants]
    return [RetrievalResult(a, r, n_keys, d, e, c)
            for (a, r), d, e, c in zip(model.variants, model.d_dots, evals, curves)]


def train_retrieval(n_keys: int, attention: str = "linear", rule: str = "sum", d_key: int = 8, steps: int = 1500,
                    lr: float = 3e-3, batch_size: int = 32, replace: bool = False, eval_size: int = 1024,
                    seed: int = 0, device=None, progress: bool = True) -> RetrievalResult:
    """Train one :class:`RetrievalModel` on the retrieval task (Schlag et al. 2021, Fig. 2 / Fig. 3 in miniature):
    :func:`train_retrieval_group` with a single variant. Adam(``lr``), ``batch_size`` fresh sequences per step for a
    fixed ``steps``, then the loss on ``eval_size`` fresh sequences. Same ``seed``, same numbers."""
    return train_retrieval_group(n_keys, [(attention, rule)], d_key, steps, lr, batch_size, replace, eval_size, seed,
                                 device, progress)[0]


def _sweep(groups, seed, device, progress, desc, replace, **kwargs) -> dict:
    out = {}
    for s, variants, keys in progress_bar(groups, desc, progress):
        results = train_retrieval_group(s, variants, replace=replace, seed=seed, device=device, progress=False,
                                        **kwargs)
        out.update(zip(keys, results))
    return out


def capacity_sweep(seed: int = 0, n_keys: Sequence[int] = (8, 16, 32, 48),
                   attentions: Sequence[str] = ("softmax", "linear", "dpfp1", "dpfp2", "dpfp3"),
                   cells: Sequence[tuple[str, int]] | None = None, device=None, progress: bool = True,
                   **kwargs) -> dict[tuple[str, int], RetrievalResult]:
    """Schlag et al.'s Fig. 2 in miniature: final retrieval loss for every (attention, S), sum rule, S unique keys.

    Runs every pair of ``attentions`` x ``n_keys`` (or only the ``cells`` given), keyed ``(attention, S)``; the
    memories of one S train side by side (:func:`train_retrieval_group`). ``kwargs`` go to that function (d_key 8,
    Adam 3e-3, batch 32, 1500 steps by default).
    """
    if cells is None:
        cells = [(a, s) for a in attentions for s in n_keys]
    if not cells:
        raise ValueError("cells: expected at least one (attention, n_keys) pair")
    sizes = sorted({s for _, s in cells})
    groups = [(s, [(a, "sum") for a, t in cells if t == s], [(a, t) for a, t in cells if t == s]) for s in sizes]
    out = _sweep(groups, seed, device, progress, "Fig. 2 grid", replace=False, **kwargs)
    return {cell: out[cell] for cell in cells}


def overwrite_sweep(seed: int = 0, n_keys: Sequence[int] = (4, 8, 12), rules: Sequence[str] = ("sum", "delta"),
                    attention: str = "dpfp1", device=None, progress: bool = True,
                    **kwargs) -> dict[tuple[str, int], RetrievalResult]:
    """Schlag et al.'s Fig. 3 setting in miniature: keys drawn with replacement (2S pairs), the query asks for the
    latest value; final loss for every (rule, S) with ``attention`` (DPFP-1 by default), keyed ``(rule, S)``."""
    if not n_keys or not rules:
        raise ValueError(f"n_keys, rules: expected non-empty sequences, got {n_keys!r}, {rules!r}")
    groups = [(s, [(attention, r) for r in rules], [(r, s) for r in rules]) for s in n_keys]
    out = _sweep(groups, seed, device, progress, "Fig. 3 setting", replace=True, **kwargs)
    return {(r, s): out[(r, s)] for r in rules for s in n_keys}


def closed_form_retrieval(n_pairs: int, d: int, rule: str = "sum", replace: bool = True, n_trials: int = 64,
                          seed: int = 0) -> float:
    """Retrieval error of a fast weight memory written without training (Schlag et al. 2021: capacity, delta rule).

    Keys are ``n_pairs`` = S random unit vectors in R^d (identity features), values random unit vectors in R^d.
    ``replace=True`` (their Fig. 3 setting): 2S writes, keys drawn with replacement, each with a fresh value; every
    key seen is queried for its latest value. ``replace=False``: each key written once. The memory is written by the
    ``"sum"`` rule (W += v (x) k) or the ``"delta"`` rule with beta = 1 (W += (v - W k) (x) k). Returns the mean of
    ||W k - v_latest||^2 (0: perfect; 1: as bad as retrieving nothing), averaged over queries and ``n_trials``.
    """
    _positive_int("n_pairs", n_pairs)
    _positive_int("d", d)
    _positive_int("n_trials", n_trials)
    if rule not in RULES:
        raise ValueError(f"rule: expected one of {RULES}, got {rule!r}")
    g = torch.Generator().manual_seed(seed)
    S, L = n_pairs, 2 * n_pairs if replace else n_pairs
    keys = F.normalize(torch.randn(n_trials, S, d, generator=g, dtype=torch.float64), dim=-1)
    idx = torch.randint(S, (n_trials, L), generator=g) if replace else torch.arange(S).expand(n_trials, S)
    k = keys.gather(1, idx.unsqueeze(-1).expand(-1, -1, d))                       # [n, L, d]
    v = F.normalize(torch.randn(n_trials, L, d, generator=g, dtype=torch.float64), dim=-1)
    W = k.new_zeros(n_trials, d, d)
    for k_t, v_t in zip(k.unbind(1), v.unbind(1)):
        if rule == "delta":
            v_t = v_t - (W @ k_t.unsqueeze(-1)).squeeze(-1)                        # v - W k (beta = 1)
        W = W + v_t.unsqueeze(-1) * k_t.unsqueeze(1)                               # W += (.) (x) k
    latest = torch.where(idx.unsqueeze(-1) == torch.arange(S), torch.arange(L).view(1, L, 1), -1).amax(1)  # [n, S]
    seen = latest >= 0
    v_latest = v.gather(1, latest.clamp(min=0).unsqueeze(-1).expand(-1, -1, d))
    err = ((keys @ W.transpose(1, 2)) - v_latest).pow(2).sum(-1)                 # ||W k_s - v_latest(s)||^2
    return float(err[seen].mean())


# --------------------------------------------------------------------------------------------------------------
# Timing (Katharopoulos et al. 2020, Fig. 1 in miniature)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimingRow:
    """One measurement: ``method`` (``"sdpa"`` or ``"chunked"``), length ``n``, ``mode`` (``"fwd"`` or
    ``"fwdbwd"``), CPU seconds per call (median of the repeats)."""

    method: str
    n: int
    mode: str
    seconds: float


def time_call(fn: Callable[[], object], repeats: int = 3, min_block: float = 0.05,
              clock: Callable[[], float] = time.process_time, warmup: bool = True) -> float:
    """Seconds per call of ``fn``: ``repeats`` blocks of enough calls to last ``min_block`` seconds each; the median
    block time divided by its calls. A first call sizes the blocks; with ``warmup`` it is not counted, without it a
    first call that fills a block on its own counts as the first block (for slow calls run after a warm-up
    elsewhere). The default clock is this process's CPU time, which other processes sharing the machine change little
    (run torch on one thread, so CPU time = compute time)."""
    _positive_int("repeats", repeats)
    if not min_block >= 0:
        raise ValueError(f"min_block: expected a non-negative number of seconds, got {min_block!r}")
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


def _attention_call(method: str, n: int, mode: str, heads: int, d_head: int, chunk_size: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, heads, n, d_head, generator=g) for _ in range(3))
    if method == "sdpa":
        def attend(q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        def attend(q, k, v):
            return chunked_linear_attention(q, k, v, chunk_size=chunk_size)
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


def attention_timings(ns: Sequence[int] = (256, 512, 1024, 2048, 4096, 8192), modes: Sequence[str] = ("fwd", "fwdbwd"),
                      methods: Sequence[str] = ("sdpa", "chunked"), heads: int = 4, d_head: int = 64,
                      chunk_size: int = 64, repeats: int = 3, min_block: float = 0.05, seed: int = 0,
                      progress: bool = True) -> list[TimingRow]:
    """Katharopoulos et al.'s Fig. 1 in miniature: CPU seconds per call of causal softmax attention
    (``F.scaled_dot_product_attention``, ``"sdpa"``) and :func:`chunked_linear_attention` (``"chunked"``), batch 1,
    ``heads`` x ``d_head``, for every length in ``ns``, forward (``"fwd"``, no grad) and forward + backward
    (``"fwdbwd"``). Rows in the order method, mode, n; one warm-up call per method and mode, then
    :func:`time_call` without its own warm-up. Timings vary from run to run."""
    if not ns or any(not isinstance(n, int) or n < 1 for n in ns):
        raise ValueError(f"ns: expected positive sequence lengths, got {ns!r}")
    if not modes or any(m not in ("fwd", "fwdbwd") for m in modes):
        raise ValueError(f"modes: expected 'fwd' and/or 'fwdbwd', got {modes!r}")
    if not methods or any(m not in ("sdpa", "chunked") for m in methods):
        raise ValueError(f"methods: expected 'sdpa' and/or 'chunked', got {methods!r}")
    _positive_int("heads", heads)
    _positive_int("d_head", d_head)
    _positive_int("chunk_size", chunk_size)
    jobs = [(m, mode, n) for m in methods for mode in modes for n in ns]
    rows = []
    for method, mode, n in progress_bar(jobs, "timing", progress):
        if n == ns[0]:  # one untimed call per method and mode warms up kernels and allocator
            _attention_call(method, min(ns), mode, heads, d_head, chunk_size, seed)()
        call = _attention_call(method, n, mode, heads, d_head, chunk_size, seed)
        rows.append(TimingRow(method, n, mode, time_call(call, repeats=repeats, min_block=min_block, warmup=False)))
    return rows


def matmul_gflops(size: int = 1024, repeats: int = 3, min_block: float = 0.1) -> float:
    """This machine's fp32 matmul throughput in GFLOP/s (2 size^3 FLOPs per ``size x size`` product, CPU time):
    the roofline that :func:`chunked_flops` is compared with."""
    _positive_int("size", size)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, size, generator=g), torch.randn(size, size, generator=g)
    return 2 * size**3 / time_call(lambda: a @ b, repeats=repeats, min_block=min_block) / 1e9


def chunked_flops(n: int, heads: int = 4, d_key: int = 64, d_value: int = 64, chunk_size: int = 64,
                  mode: str = "fwdbwd") -> float:
    """The matmul FLOPs :func:`chunked_linear_attention` does (batch 1, normalised, so d_value + 1 value columns):
    per head and chunk of C, 2 C^2 d_key (phiQ phiK^T) + 2 C^2 (d_value + 1) (. V') + 2 C d_key (d_value + 1) (the
    chunk's write) + 2 C d_key (d_value + 1) (the read of the carried fast weights). The backward pass does twice the
    forward's matmul FLOPs (``"fwdbwd"``: 3x the forward)."""
    for name, value in (("n", n), ("heads", heads), ("d_key", d_key), ("d_value", d_value), ("chunk_size", chunk_size)):
        _positive_int(name, value)
    if mode not in ("fwd", "fwdbwd"):
        raise ValueError(f"mode: expected 'fwd' or 'fwdbwd', got {mode!r}")
    C = min(chunk_size, n)
    n_pad = -(-n // C) * C
    dv1 = d_value + 1
    fwd = heads * n_pad * (2 * C * (d_key + dv1) + 4 * d_key * dv1)
    return float(fwd if mode == "fwd" else 3 * fwd)


def crossover(rows: Sequence[TimingRow], mode: str = "fwdbwd", margin: float = 0.0) -> int | None:
    """The smallest measured N from which ``"chunked"`` is faster than ``"sdpa"`` by more than ``margin`` (a
    fraction: 0.1 = chunked takes under 1 / 1.1 of the softmax time) at that N and every larger one (``None`` if it
    never is). A margin keeps a tie within timing noise from counting as a crossover (Katharopoulos et al., Fig. 1)."""
    if mode not in ("fwd", "fwdbwd"):
        raise ValueError(f"mode: expected 'fwd' or 'fwdbwd', got {mode!r}")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ValueError(f"margin: expected a number >= 0, got {margin!r}")
    t = {(r.method, r.n): r.seconds for r in rows if r.mode == mode}
    ns = sorted({n for m, n in t if (("sdpa", n) in t and ("chunked", n) in t)})
    if not ns:
        raise ValueError(f"rows: expected 'sdpa' and 'chunked' timings for mode {mode!r}")
    best = None
    for n in reversed(ns):
        if t[("chunked", n)] * (1 + margin) < t[("sdpa", n)]:
            best = n
        else:
            break
    return best
