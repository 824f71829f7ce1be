"""Linear probes on frozen features: what pretraining put into them."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .._checks import positive_int as _positive_int
from .arms import Recipe
from .awd_lstm import AWDLSTM, ConcatPoolClassifier, pad_batch
from .tasks import TextTask

# --------------------------------------------------------------------------------------
# Linear probes (why transfer pays, or does not)
# --------------------------------------------------------------------------------------


@torch.no_grad()
def probe_features(
    docs: Sequence[torch.Tensor],
    kind: str,
    pad_id: int,
    lm: AWDLSTM | None = None,
    vocab_size: int | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Frozen document features for a linear probe: ``"lm"`` -> the concat-pooled LSTM
    states h_c of ``lm`` (Eq. 4, eval mode; pass a pretrained or a random LM), ``"bow"``
    -> bag-of-words frequencies over ``vocab_size`` words. The LM runs on the device its
    parameters are on; the features come back on the CPU."""
    if kind not in ("lm", "bow"):
        raise ValueError(f"kind: expected 'lm' or 'bow', got {kind!r}")
    if len(docs) == 0:
        raise ValueError("docs: expected at least one document")
    if kind == "bow":
        vocab_size = _positive_int("vocab_size", vocab_size)
        out = torch.zeros(len(docs), vocab_size)
        for i, d in enumerate(docs):
            out[i].index_add_(0, d, torch.ones(len(d)))
        return out / out.sum(1, keepdim=True)
    if not isinstance(lm, AWDLSTM):
        raise ValueError(f"lm: kind='lm' needs an AWDLSTM, got {type(lm).__name__}")
    clf = ConcatPoolClassifier(lm, n_classes=2)
    dev = next(
        lm.parameters()
    ).device  # wherever the LM is (e.g. left on CUDA by perplexity)
    was = lm.training
    lm.eval()
    parts = [
        clf.features(
            *(t.to(dev) for t in pad_batch(docs[s : s + batch_size], pad_id))
        ).cpu()
        for s in range(0, len(docs), batch_size)
    ]
    lm.train(was)
    return torch.cat(parts)


def linear_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    valid_x: torch.Tensor,
    valid_y: torch.Tensor,
    l2s: Sequence[float] = (1e-4, 1e-3, 1e-2),
    max_iter: int = 200,
) -> float:
    """Validation error (%) of multinomial logistic regression on frozen features, best
    of the ``l2s`` penalties.

    Features are standardised with the training statistics; each fit is full-batch
    L-BFGS on mean cross-entropy + l2 * ||W||^2. Every feature set gets the same
    penalties, so the comparison is fair.
    """
    if train_x.dim() != 2 or valid_x.dim() != 2 or train_x.shape[1] != valid_x.shape[1]:
        raise ValueError(
            f"train_x, valid_x: expected 2-D features of equal width, got "
            f"{tuple(train_x.shape)} and "
            f"{tuple(valid_x.shape)}"
        )
    if len(train_x) != len(train_y) or len(valid_x) != len(valid_y):
        raise ValueError("train_y, valid_y: expected one label per feature row")
    if len(l2s) == 0 or any(not l2 >= 0 for l2 in l2s):
        raise ValueError(f"l2s: expected one or more penalties >= 0, got {l2s!r}")
    mu, sd = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xt, xv = ((train_x - mu) / sd).double(), ((valid_x - mu) / sd).double()
    n_classes = int(max(train_y.max(), valid_y.max())) + 1
    best = 100.0
    for l2 in l2s:
        W = torch.zeros(xt.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS(
            [W, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe"
        )

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(xt @ W + b, train_y) + l2 * W.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            err = 100.0 * float(((xv @ W + b).argmax(1) != valid_y).double().mean())
        best = min(best, err)
    return best


def probe_experiment(
    task: TextTask, lm: AWDLSTM, recipe: Recipe, n: int = 200, seed: int = 0
) -> dict[str, float]:
    """Linear probes on frozen features of ``n`` labeled documents: what did pretraining
    put into the features?

    Validation error (%) of :func:`linear_probe` on the pretrained LM's concat-pooled
    states, on a random LM's (same shape, the recipe's init) and on bag-of-words
    frequencies.
    """
    docs, labels = task.labeled(n, seed)
    torch.manual_seed(20_000 + seed)
    random_lm = recipe.new_lm(len(task.vocab))
    out = {}
    for name, kind, model in (
        ("pretrained LM", "lm", lm),
        ("random LM", "lm", random_lm),
        ("bag of words", "bow", None),
    ):
        kw = {"lm": model} if kind == "lm" else {"vocab_size": len(task.vocab)}
        out[name] = linear_probe(
            probe_features(docs, kind, task.pad_id, **kw),
            labels,
            probe_features(task.valid, kind, task.pad_id, **kw),
            task.valid_labels,
        )
    return out
