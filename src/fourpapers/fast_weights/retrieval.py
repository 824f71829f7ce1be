"""The associative-retrieval task of Schlag et al. 2021 (Figs. 2-3, Appendix D.2)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._checks import positive_int as _positive_int
from ..models import check_token_ids
from .delta_rule import RULES, _delta_updates, _sum_normalize
from .feature_maps import favor_pm, feature_size, get_feature_map, orthogonal_gaussian
from .forms import EPS

ATTENTIONS = ("softmax", "linear", "dpfp1", "dpfp2", "dpfp3", "favor", "favor_redrawn")


def retrieval_batch(
    batch_size: int,
    n_keys: int,
    generator: torch.Generator | None = None,
    replace: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch of the retrieval task of Schlag et al. (2021, Figs. 2-3): ``(keys,
    values, query, target)``.

    ``replace=False`` (their Setting 1, Fig. 2): each sequence is a random permutation
    of the ``n_keys`` = S keys, paired with a random permutation of S values (length S).
    ``replace=True`` (Setting 2, Fig. 3): 2S pairs, keys and values drawn with
    replacement; the target is the value of the query key's *latest* occurrence. The
    query is a key of the sequence, drawn uniformly among its positions. Shapes: ``[B,
    L]``, ``[B, L]``, ``[B]``, ``[B]``.
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
    latest = torch.where(keys == query[:, None], torch.arange(L), -1).amax(
        dim=1
    )  # last occurrence of the query key
    target = values.gather(1, latest[:, None]).squeeze(1)
    return keys, values, query, target


def _check_retrieval_inputs(
    keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor, n_keys: int
) -> None:
    """keys, values ``[B, L]`` and query ``[B]``: integer ids in ``[0, n_keys)``. (An id
    out of range would not even fail: row ``value * S + key`` of the look-up table is
    another pair's row.)"""
    for name, ids in (("keys", keys), ("values", values), ("query", query)):
        check_token_ids(name, ids, n_keys)
    if keys.dim() != 2 or keys.shape != values.shape or query.shape != keys.shape[:1]:
        raise ValueError(
            f"keys, values, query: expected shapes [B, L], [B, L], [B], got "
            f"{tuple(keys.shape)}, "
            f"{tuple(values.shape)}, {tuple(query.shape)}"
        )


class RetrievalModel(nn.Module):
    """The one-layer key-value memory of Schlag et al.'s retrieval experiments (their
    Figs. 2-3; official code).

    Values are frozen one-hot vectors v = onehot(value) in R^S. A key is k = W_k
    [onehot(value); emb(key)] in R^{d_key} (embedding size floor(2.2 S)); the query is q
    = W_q emb(query key). The memory is written with the whole sequence, then read once
    with q:

    * ``"softmax"``: y = sum_t softmax_t(k_t^T q / sqrt(d_key)) v_t (the control: no
      capacity limit here);
    * linear (``"linear"`` = elu + 1, ``"dpfp<nu>"``, ``"favor"``) with the ``"sum"``
      rule: the fast weights W = sum_t v_t (x) phi(k_t), z = sum_t phi(k_t), y = W
      phi(q) / (z^T phi(q) + eps);
    * with the ``"delta"`` rule: :func:`delta_rule`'s update with sum-normalised
      features and beta_t = sigma(W_b x_t).

    ``"favor"`` is the book's :func:`favor` (d_key features drawn once, seed 0);
    ``"favor_redrawn"`` is FAVOR+ as Schlag et al. ran it (:func:`favor_pm` with
    m = d_key, so d_dot = 2 d_key; their m = d = 64 scaled down), its projection drawn
    afresh at every forward pass from a generator seeded with ``feature_seed``.
    """

    def __init__(
        self,
        n_keys: int,
        attention: str = "linear",
        rule: str = "sum",
        d_key: int = 8,
        feature_seed: int = 0,
    ):
        super().__init__()
        _positive_int("n_keys", n_keys)
        _positive_int("d_key", d_key)
        if attention not in ATTENTIONS:
            raise ValueError(
                f"attention: expected one of {ATTENTIONS}, got {attention!r}"
            )
        if rule not in RULES:
            raise ValueError(f"rule: expected one of {RULES}, got {rule!r}")
        if attention == "softmax" and rule != "sum":
            raise ValueError(
                f"rule: softmax attention has no fast weights to update by the delta "
                f"rule, got {rule!r}"
            )
        self.n_keys, self.attention, self.rule, self.d_key = (
            n_keys,
            attention,
            rule,
            d_key,
        )
        if (
            isinstance(feature_seed, bool)
            or not isinstance(feature_seed, int)
            or feature_seed < 0
        ):
            raise ValueError(
                f"feature_seed: expected a non-negative integer, got {feature_seed!r}"
            )
        if attention == "favor_redrawn":
            self.d_dot, self.phi = 2 * d_key, None
            self._omega_generator = torch.Generator().manual_seed(feature_seed)
        else:
            fmap = "elu" if attention == "linear" else attention
            self.d_dot = d_key if attention == "softmax" else feature_size(fmap, d_key)
            self.phi = None if attention == "softmax" else get_feature_map(fmap)
        e = int(2.2 * n_keys)  # key embedding size floor(1.1 (S + S))
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
        self.features = _features_of(self)  # (k, q) -> (phi(k), phi(q))

    def forward(
        self, keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor
    ) -> torch.Tensor:
        """Predicted value vectors ``[B, S]`` for ``keys``, ``values`` ``[B, L]`` and
        ``query`` ``[B]``."""
        _check_retrieval_inputs(keys, values, query, self.n_keys)
        S = self.n_keys
        # k_t = W_k [onehot(v_t); emb(k_t)] + b_k takes one of S * S values: look it up
        # in a table of all of them (row v * S + k; the same function with far fewer
        # FLOPs); likewise q = W_q emb(q) + b_q.
        Wk = self.W_k.weight
        table = Wk[:, :S].T.unsqueeze(1) + (
            self.emb.weight @ Wk[:, S:].T + self.W_k.bias
        ).unsqueeze(0)
        k = F.embedding(values * S + keys, table.reshape(S * S, -1))  # [B, L, d_key]
        q = F.embedding(
            query, torch.addmm(self.W_q.bias, self.emb.weight, self.W_q.weight.T)
        )  # [B, d_key]
        if self.attention == "softmax":
            a = torch.softmax(
                (k @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(self.d_key), dim=1
            )
            return a.new_zeros(a.shape[0], S).scatter_add(
                1, values, a
            )  # sum_t a_t onehot(v_t)
        fk, fq = self.features(k, q)
        if self.rule == "sum":
            # W phi(q) / (z^T phi(q)) with W = sum_t onehot(v_t) (x) phi(k_t), z = sum_t
            # phi(k_t), evaluated in its attention form sum_t onehot(v_t) [phi(k_t)^T
            # phi(q)] / sum_t phi(k_t)^T phi(q): the same numbers (section 1 of the
            # chapter), fewer FLOPs.
            a = (fk @ fq.unsqueeze(-1)).squeeze(-1)  # phi(k_t)^T phi(q), [B, L]
            return a.new_zeros(a.shape[0], S).scatter_add(1, values, a) / (
                a.sum(1, keepdim=True) + EPS
            )
        Wb = self.W_b.weight  # beta_t = sigma(W_b x_t), as above
        table = Wb[:, :S].T.unsqueeze(1) + (
            self.emb.weight @ Wb[:, S:].T + self.W_b.bias
        ).unsqueeze(0)
        beta = torch.sigmoid(
            F.embedding(values * S + keys, table.reshape(S * S, 1)).squeeze(-1)
        )
        fk, fq = _sum_normalize(fk), fq / (fq.sum(-1, keepdim=True) + EPS)
        v = F.one_hot(values, S).to(fk.dtype)  # the one-hot values v_t
        U = _delta_updates(fk, v, beta)  # W_L = sum_t u_t (x) phi(k_t)
        return ((fk @ fq.unsqueeze(-1)).transpose(1, 2) @ U).squeeze(
            1
        )  # y = W_L phi(q)


def _features_of(model: RetrievalModel):
    """A memory's feature map as a function of (keys, query): favor_redrawn draws one
    omega per call."""
    if model.attention != "favor_redrawn":
        return lambda k, q: (model.phi(k), model.phi(q))
    gen, d = model._omega_generator, model.d_key

    def redrawn(k, q):
        omega = orthogonal_gaussian(d, d, gen)  # fresh every forward pass (mini-batch)
        return favor_pm(k, omega), favor_pm(q, omega)

    return redrawn


def retrieval_loss(
    model: nn.Module,
    keys: torch.Tensor,
    values: torch.Tensor,
    query: torch.Tensor,
    target: torch.Tensor,
) -> torch.Tensor:
    """1/2 ||onehot(y) - y_hat||^2, summed over the S value dimensions, averaged over
    the batch (Schlag et al. Figs. 2-3). Predicting nothing (y_hat = 0) gives 0.5,
    predicting 1/S everywhere 0.5 (1 - 1/S): 0.5 is chance."""
    y_hat = model(keys, values, query)
    onehot = F.one_hot(target, y_hat.shape[-1]).to(y_hat.dtype)
    return F.mse_loss(y_hat, onehot, reduction="sum") * (
        0.5 / y_hat.shape[0]
    )  # 1/2 ||onehot(y) - y_hat||^2
