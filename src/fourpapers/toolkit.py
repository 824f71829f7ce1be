"""Chapter 0, "Working with this book": the tiny character LM that shows the shared
pieces working together."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .data import CharVocab, batches, pydoc_corpus, split_ids, unigram_entropy
from .models import TransformerLM
from .training import evaluate, reproducible, train, warmup_schedule

__all__ = ["TinyLMResult", "tiny_char_lm"]


@dataclass
class TinyLMResult:
    """What :func:`tiny_char_lm` measured: per-step training losses, held-out loss, and
    the unigram baseline."""

    losses: list[float]
    valid_loss: float
    unigram_entropy: float
    n_params: int
    vocab_size: int


def tiny_char_lm(
    seed: int = 0,
    steps: int = 300,
    batch_size: int = 32,
    seq_len: int = 64,
    lr: float = 3e-3,
    warmup: int = 30,
    text: str | None = None,
    device: str | None = None,
    progress: bool = True,
) -> TinyLMResult:
    """Train a 2-layer Pre-LN character LM (d=64) on ``text`` (default
    :func:`~fourpapers.data.pydoc_corpus`).

    The last 10 % of the text is held out. The claim of chapter 0: its held-out loss
    falls below the unigram entropy H = -sum p(c) ln p(c) of the training text, the best
    loss a model that ignores context can reach. Runs on the CPU unless ``device`` (or
    ``FOURPAPERS_DEVICE``) names another.
    """
    if steps < 1:
        raise ValueError(f"steps: expected a positive integer, got {steps}")
    text = pydoc_corpus() if text is None else text
    vocab = CharVocab.from_text(text)
    train_ids, valid_ids = split_ids(vocab.encode(text), valid_frac=0.1)
    reproducible(seed)
    model = TransformerLM(
        len(vocab), d_model=64, n_heads=4, d_ff=256, n_layers=2, max_len=seq_len
    )
    opt = torch.optim.AdamW(
        model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.0
    )
    losses = train(
        model,
        batches(train_ids, batch_size, seq_len, seed=seed),
        opt,
        steps,
        schedule=warmup_schedule(warmup, steps, decay="cosine"),
        clip=1.0,
        device=device,
        progress=progress,
        desc="tiny char LM",
    )
    valid = evaluate(
        model,
        batches(valid_ids, 64, seq_len, seed=10_000 + seed),
        n_batches=8,
        device=device,
    )
    return TinyLMResult(
        losses, valid, unigram_entropy(train_ids), model.num_parameters(), len(vocab)
    )
