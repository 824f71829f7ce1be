"""Why not BatchNorm (Ioffe & Szegedy 2015, Alg. 1): what leaks in a causal LM."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..models import TransformerLM
from .scaling import make_model

__all__ = [
    "TokenBatchNorm",
    "NORM_KINDS",
    "causal_lm_with_norm",
    "NormLeak",
    "norm_leak",
]


class TokenBatchNorm(nn.Module):
    """BatchNorm (Ioffe & Szegedy 2015, Alg. 1) over the tokens of a (batch, time, d)
    tensor: in training each channel is normalised with the mean and variance over every
    token of every sequence in the batch; in evaluation with running averages of them.
    Placed where a Transformer puts LayerNorm."""

    def __init__(self, d: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(
                f"x: expected a (batch, time, d) tensor, got shape {tuple(x.shape)}"
            )
        return self.bn(x.transpose(1, 2)).transpose(
            1, 2
        )  # x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps) * g + b


NORM_KINDS = ("layernorm", "rmsnorm", "batchnorm")


def causal_lm_with_norm(
    norm: str,
    vocab_size: int = 50,
    d_model: int = 16,
    n_layers: int = 2,
    seq_len: int = 16,
    seed: int = 0,
) -> TransformerLM:
    """A small member of the family (:func:`make_model`) with ``norm`` in every norm
    slot; ``"batchnorm"`` puts :class:`TokenBatchNorm` where the pre-norm decoder has
    LayerNorm."""
    if norm not in NORM_KINDS:
        raise ValueError(f"norm: expected one of {NORM_KINDS}, got {norm!r}")
    torch.manual_seed(seed)
    model = make_model(
        vocab_size,
        d_model,
        n_layers,
        norm="layernorm" if norm == "batchnorm" else norm,
        seq_len=seq_len,
    )
    if norm == "batchnorm":
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.LayerNorm):
                    setattr(parent, name, TokenBatchNorm(child.normalized_shape[0]))
    return model


@dataclass
class NormLeak:
    """Largest change of one sequence's logits at positions 0..t (see
    :func:`norm_leak`)."""

    norm: str
    other_sequences: float  # when the other sequences of the batch change
    later_positions: float  # when this sequence's tokens after position t change
    train_vs_eval: float  # between model.train() and model.eval() on the same batch


def norm_leak(
    norm: str, batch_size: int = 4, seq_len: int = 16, t: int = 7, seed: int = 0
) -> NormLeak:
    """Why Transformers normalise per token: in a causal LM
    (:func:`causal_lm_with_norm`, training mode) compare the logits of sequence 0 at
    positions 0..t for one batch against (a) the same batch with sequences 1.. replaced
    and
    (b) the same batch with sequence 0's tokens after t replaced; and (c) the logits in
        training vs evaluation mode. A per-token norm (LayerNorm, RMSNorm) gives exactly
        0 for all three; BatchNorm's batch statistics mix tokens across sequences and
        across time, which the causal mask cannot stop."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 2
    ):
        raise ValueError(
            f"batch_size: expected an integer >= 2 (other sequences to change), got "
            f"{batch_size!r}"
        )
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 2:
        raise ValueError(f"seq_len: expected an integer >= 2, got {seq_len!r}")
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < seq_len - 1:
        raise ValueError(
            f"t: expected a position in [0, {seq_len - 2}] (later positions must "
            f"exist), got {t!r}"
        )
    vocab = 50
    model = causal_lm_with_norm(norm, vocab_size=vocab, seq_len=seq_len, seed=seed)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch_size, seq_len), generator=g)
    others = ids.clone()
    others[1:] = torch.randint(0, vocab, (batch_size - 1, seq_len), generator=g)
    later = ids.clone()
    later[0, t + 1 :] = torch.randint(0, vocab, (seq_len - t - 1,), generator=g)

    def logits(x: torch.Tensor, train: bool) -> torch.Tensor:
        model.train(train)
        with torch.no_grad():
            return model(x)[0, : t + 1]

    base = logits(ids, True)
    return NormLeak(
        norm,
        other_sequences=(logits(others, True) - base).abs().max().item(),
        later_positions=(logits(later, True) - base).abs().max().item(),
        train_vs_eval=(logits(ids, False) - base).abs().max().item(),
    )
