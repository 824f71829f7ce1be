"""Training the retrieval memories of Schlag et al. 2021 side by side, and the sweeps of
their Fig. 2 (capacity: S grows) and Appendix D.2 (overwriting keys)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._checks import positive_int as _positive_int
from ..training import progress_bar, reproducible, resolve_device, train
from .delta_rule import _delta_updates, _sum_normalize
from .forms import EPS
from .retrieval import (
    RetrievalModel,
    _check_retrieval_inputs,
    retrieval_batch,
)


@dataclass
class RetrievalResult:
    """One training run of the retrieval task: the final evaluation loss and the
    per-step training losses."""

    attention: str
    rule: str
    n_keys: int
    d_dot: int
    eval_loss: float
    losses: list[float] = field(repr=False)


class RetrievalGroup(nn.Module):
    """Several :class:`RetrievalModel` memories of the same S, trained side by side on
    the same batches.

    Their parameters are stacked along a first "variant" dimension, so the work they
    share (the key and query look-ups, the loss, Adam) runs once per step instead of
    once per memory: about twice as fast on a CPU, where these tiny models are bound by
    per-operation overhead. Variant i computes exactly what a :class:`RetrievalModel`
    with the same parameters computes (tested), and is initialised as one built right
    after ``torch.manual_seed(init_seed)``, so a cell's result does not depend on which
    other cells share its group. ``variants`` is a sequence of ``(attention, rule)``.
    """

    def __init__(
        self,
        n_keys: int,
        variants: Sequence[tuple[str, str]],
        d_key: int = 8,
        init_seed: int = 0,
    ):
        super().__init__()
        if not variants:
            raise ValueError("variants: expected at least one (attention, rule) pair")
        members = []
        for attention, rule in variants:
            torch.manual_seed(init_seed)
            member = RetrievalModel(
                n_keys, attention, rule, d_key, feature_seed=init_seed
            )
            members.append(member)
        self.n_keys, self.d_key, self.variants = (
            n_keys,
            d_key,
            [tuple(v) for v in variants],
        )
        self.features = [m.features for m in members]
        self.d_dots = [m.d_dot for m in members]

        def stack(get):
            return nn.Parameter(torch.stack([get(m).detach().clone() for m in members]))

        self.emb = stack(lambda m: m.emb.weight)  # [V, S, e]
        self.W_k, self.b_k = (
            stack(lambda m: m.W_k.weight),
            stack(lambda m: m.W_k.bias),
        )  # [V, d, S + e], [V, d]
        self.W_q, self.b_q = (
            stack(lambda m: m.W_q.weight),
            stack(lambda m: m.W_q.bias),
        )  # [V, d, e], [V, d]
        self.delta = [i for i, (_, rule) in enumerate(self.variants) if rule == "delta"]
        if self.delta:
            unused = nn.Linear(
                self.emb.shape[-1] + n_keys, 1
            )  # for the sum-rule variants
            self.W_b = stack(lambda m: (m.W_b or unused).weight)  # [V, 1, S + e]
            self.b_b = stack(lambda m: (m.W_b or unused).bias)

    def _lookup(
        self, W: torch.Tensor, b: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> torch.Tensor:
        # W [onehot(v); emb(k)] + b for every variant: a table of the S * S possible
        # results, then a look-up
        S = self.n_keys
        table = W[:, :, :S].transpose(1, 2).unsqueeze(2) + (
            self.emb @ W[:, :, S:].transpose(1, 2) + b.unsqueeze(1)
        ).unsqueeze(1)  # [V, S(v), S(k), out]
        return table.reshape(len(self.variants), S * S, -1)[
            :, values * S + keys
        ]  # [V, B, L, out]

    def forward(
        self, keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor
    ) -> torch.Tensor:
        """Predicted value vectors of every variant, ``[V, B, S]``."""
        _check_retrieval_inputs(keys, values, query, self.n_keys)
        S = self.n_keys
        k = self._lookup(self.W_k, self.b_k, keys, values)  # [V, B, L, d]
        q = torch.baddbmm(self.b_q.unsqueeze(1), self.emb, self.W_q.transpose(1, 2))[
            :, query
        ]  # [V, B, d]
        beta = (
            torch.sigmoid(self._lookup(self.W_b, self.b_b, keys, values)).squeeze(-1)
            if self.delta
            else None
        )
        out = []
        for i, (attention, rule) in enumerate(self.variants):
            if attention == "softmax":
                a = torch.softmax(
                    (k[i] @ q[i].unsqueeze(-1)).squeeze(-1) / math.sqrt(self.d_key),
                    dim=1,
                )
                out.append(a.new_zeros(a.shape[0], S).scatter_add(1, values, a))
                continue
            fk, fq = self.features[i](k[i], q[i])
            if rule == "sum":
                a = (fk @ fq.unsqueeze(-1)).squeeze(-1)
                out.append(
                    a.new_zeros(a.shape[0], S).scatter_add(1, values, a)
                    / (a.sum(1, keepdim=True) + EPS)
                )
            else:
                fk, fq = _sum_normalize(fk), fq / (fq.sum(-1, keepdim=True) + EPS)
                U = _delta_updates(fk, F.one_hot(values, S).to(fk.dtype), beta[i])
                out.append(((fk @ fq.unsqueeze(-1)).transpose(1, 2) @ U).squeeze(1))
        return torch.stack(out)

    def losses(
        self,
        keys: torch.Tensor,
        values: torch.Tensor,
        query: torch.Tensor,
        target: torch.Tensor,
    ) -> torch.Tensor:
        """Each variant's :func:`retrieval_loss`, ``[V]``."""
        y_hat = self(keys, values, query)
        onehot = F.one_hot(target, self.n_keys).to(y_hat.dtype).expand_as(y_hat)
        return F.mse_loss(y_hat, onehot, reduction="none").sum(-1).mean(-1) * 0.5


def _stream(batch_size: int, n_keys: int, seed: int, replace: bool):
    g = torch.Generator().manual_seed(seed)
    while True:
        yield retrieval_batch(batch_size, n_keys, g, replace=replace)


def train_retrieval_group(
    n_keys: int,
    variants: Sequence[tuple[str, str]],
    d_key: int = 8,
    steps: int = 1500,
    lr: float = 3e-3,
    batch_size: int = 32,
    replace: bool = False,
    eval_size: int = 1024,
    seed: int = 0,
    device=None,
    progress: bool = True,
) -> list[RetrievalResult]:
    """Train the memories ``variants`` = [(attention, rule), ...] side by side (a
    :class:`RetrievalGroup`) on the retrieval task of Schlag et al. (2021, Figs. 2-3 in
    miniature); one :class:`RetrievalResult` per variant.

    Adam(``lr``) on the sum of their losses (Adam is per parameter, so each memory
    trains as if alone), ``batch_size`` fresh sequences per step, a fixed ``steps`` (no
    early stopping), then each memory's loss on ``eval_size`` fresh sequences from a
    separate stream. Same ``seed``, same numbers.
    """
    for name, value in (
        ("n_keys", n_keys),
        ("d_key", d_key),
        ("steps", steps),
        ("eval_size", eval_size),
        ("batch_size", batch_size),
    ):
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
    train(
        model,
        _stream(batch_size, n_keys, seed, replace),
        opt,
        steps,
        loss_fn=loss_fn,
        device=dev,
        progress=progress,
        desc=f"S={n_keys}: {names}",
    )
    model.eval()
    g = torch.Generator().manual_seed(1_000_003 + seed)
    with torch.no_grad():
        evals = model.losses(
            *(t.to(dev) for t in retrieval_batch(eval_size, n_keys, g, replace=replace))
        ).tolist()
    curves = (
        torch.stack(history).T.tolist() if history else [[] for _ in model.variants]
    )
    return [
        RetrievalResult(a, r, n_keys, d, e, c)
        for (a, r), d, e, c in zip(model.variants, model.d_dots, evals, curves)
    ]


def train_retrieval(
    n_keys: int,
    attention: str = "linear",
    rule: str = "sum",
    d_key: int = 8,
    steps: int = 1500,
    lr: float = 3e-3,
    batch_size: int = 32,
    replace: bool = False,
    eval_size: int = 1024,
    seed: int = 0,
    device=None,
    progress: bool = True,
) -> RetrievalResult:
    """Train one :class:`RetrievalModel` on the retrieval task (Schlag et al. 2021, Fig.
    2 / Fig. 3 in miniature): :func:`train_retrieval_group` with a single variant.
    Adam(``lr``), ``batch_size`` fresh sequences per step for a fixed ``steps``, then
    the loss on ``eval_size`` fresh sequences. Same ``seed``, same numbers."""
    return train_retrieval_group(
        n_keys,
        [(attention, rule)],
        d_key,
        steps,
        lr,
        batch_size,
        replace,
        eval_size,
        seed,
        device,
        progress,
    )[0]


def _sweep(groups, seed, device, progress, desc, replace, **kwargs) -> dict:
    out = {}
    for s, variants, keys in progress_bar(groups, desc, progress):
        results = train_retrieval_group(
            s,
            variants,
            replace=replace,
            seed=seed,
            device=device,
            progress=False,
            **kwargs,
        )
        out.update(zip(keys, results))
    return out


def capacity_sweep(
    seed: int = 0,
    n_keys: Sequence[int] = (8, 16, 32, 48),
    attentions: Sequence[str] = ("softmax", "linear", "dpfp1", "dpfp2", "dpfp3"),
    cells: Sequence[tuple[str, int]] | None = None,
    device=None,
    progress: bool = True,
    **kwargs,
) -> dict[tuple[str, int], RetrievalResult]:
    """Schlag et al.'s Fig. 2 in miniature: final retrieval loss for every (attention,
    S), sum rule, S unique keys.

    Runs every pair of ``attentions`` x ``n_keys`` (or only the ``cells`` given), keyed
    ``(attention, S)``; the memories of one S train side by side
    (:func:`train_retrieval_group`). ``kwargs`` go to that function (d_key 8, Adam 3e-3,
    batch 32, 1500 steps by default).
    """
    if cells is None:
        cells = [(a, s) for a in attentions for s in n_keys]
    if not cells:
        raise ValueError("cells: expected at least one (attention, n_keys) pair")
    sizes = sorted({s for _, s in cells})
    groups = [
        (
            s,
            [(a, "sum") for a, t in cells if t == s],
            [(a, t) for a, t in cells if t == s],
        )
        for s in sizes
    ]
    out = _sweep(groups, seed, device, progress, "Fig. 2 grid", replace=False, **kwargs)
    return {cell: out[cell] for cell in cells}


def overwrite_sweep(
    seed: int = 0,
    n_keys: Sequence[int] = (4, 8, 12),
    rules: Sequence[str] = ("sum", "delta"),
    attention: str = "dpfp1",
    device=None,
    progress: bool = True,
    **kwargs,
) -> dict[tuple[str, int], RetrievalResult]:
    """Schlag et al.'s Fig. 3 setting in miniature: keys drawn with replacement (2S
    pairs), the query asks for the latest value; final loss for every (rule, S) with
    ``attention`` (DPFP-1 by default), keyed ``(rule, S)``."""
    if not n_keys or not rules:
        raise ValueError(
            f"n_keys, rules: expected non-empty sequences, got {n_keys!r}, {rules!r}"
        )
    groups = [
        (s, [(attention, r) for r in rules], [(r, s) for r in rules]) for s in n_keys
    ]
    out = _sweep(
        groups, seed, device, progress, "Fig. 3 setting", replace=True, **kwargs
    )
    return {(r, s): out[(r, s)] for r in rules for s in n_keys}
