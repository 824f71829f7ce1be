"""Shared by the chapter's files: model size, placement names, data, checks."""

from __future__ import annotations

import functools

import torch

from ..data import CharVocab, split_ids
from ..models import NORM_POSITIONS, TransformerLM
from ..training import reproducible

# The miniature's model size, as calibrated for this chapter.
D_MODEL, N_HEADS, D_FF = 64, 4, 256
# How the figures and the block diagrams name each placement.
_NAMES = {"post": "Post-LN", "pre": "Pre-LN", "resi": "ResiDual"}


@functools.lru_cache(maxsize=2)
def _char_data(text: str) -> tuple[int, torch.Tensor]:
    """Vocabulary size and the training ids (the leading 90 %) of a character corpus."""
    vocab = CharVocab.from_text(text)
    train_ids, _ = split_ids(vocab.encode(text), valid_frac=0.1)
    return len(vocab), train_ids


def _seeded_model(
    vocab_size: int,
    n_layers: int,
    seq_len: int,
    norm_position: str,
    norm: str,
    seed: int,
    emb_std: float | None = None,
) -> TransformerLM:
    """The chapter's model (D_MODEL, N_HEADS, D_FF) at ``n_layers``, with the weights
    that ``seed`` draws: the same for every ``norm_position``."""
    reproducible(seed)
    return TransformerLM(
        vocab_size,
        D_MODEL,
        N_HEADS,
        D_FF,
        n_layers,
        max_len=seq_len,
        norm_position=norm_position,
        norm=norm,
        emb_std=emb_std,
    )


def _check_position(norm_position: str) -> None:
    if norm_position not in NORM_POSITIONS:
        raise ValueError(
            f"norm_position: expected one of {NORM_POSITIONS}, got {norm_position!r}"
        )


def _check_seed(seed) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
