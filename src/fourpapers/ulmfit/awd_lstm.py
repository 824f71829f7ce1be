"""The mini AWD-LSTM (Merity et al. 2017) and the concat-pool classifier (Eq. 4)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from .._checks import positive as _positive
from .._checks import positive_int as _positive_int
from .._checks import probability as _probability
from ..models import check_token_ids


def _tune_malloc() -> bool:
    """Keep glibc from returning freed LSTM buffers to the OS after every step (perf
    notes, section 4).

    In a fresh process the LSTM steps otherwise spend 10-35 % of their time in page
    faults. Sets M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 2 GiB and M_TOP_PAD 256 MiB
    once; numerics are unchanged. A no-op without glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return all(
            libc.mallopt(opt, val) == 1
            for opt, val in ((-3, 32 << 20), (-1, 2**31 - 1), (-2, 256 << 20))
        )
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False


_MALLOC_TUNED = _tune_malloc()


# --------------------------------------------------------------------------------------
# The mini AWD-LSTM and the concat-pool classifier
# --------------------------------------------------------------------------------------


DROPOUT_NAMES = ("embed_p", "input_p", "weight_p", "hidden_p", "output_p")
# fastai's AWD-LSTM presets (awd_lstm_lm_config / awd_lstm_clas_config); ULMFiT scales
# them by a ``drop_mult``.
LM_DROPOUTS = {
    "embed_p": 0.02,
    "input_p": 0.25,
    "weight_p": 0.2,
    "hidden_p": 0.15,
    "output_p": 0.1,
}
CLAS_DROPOUTS = {
    "embed_p": 0.05,
    "input_p": 0.4,
    "weight_p": 0.5,
    "hidden_p": 0.3,
    "output_p": 0.4,
}


def _locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Variational ("locked") dropout (Merity et al. 2017, Sec. 4.2): one mask per
    sequence, shared over time."""
    if not training or p == 0.0:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)
    return x * mask


class AWDLSTM(nn.Module):
    """A mini AWD-LSTM language model (Merity et al. 2017; the LM of ULMFiT, Sec. 3.1):
    ``forward(x[B, T]) -> logits``.

    An embedding of ``emb_size``, ``n_layers`` LSTMs of ``hidden_size`` units (the last
    one of ``emb_size`` units, so the decoder can reuse the embedding matrix: tied
    weights), and a linear decoder. The embedding is initialised U(-init_range,
    init_range), the LSTMs as PyTorch does. The AWD-LSTM dropouts, all arguments:
    ``embed_p`` (drops whole words of the embedding), ``input_p`` (locked dropout on the
    embedded input), ``weight_p`` (DropConnect on each LSTM's hidden-to-hidden weights),
    ``hidden_p`` (locked dropout between LSTMs) and ``output_p`` (locked dropout before
    the decoder).
    """

    def __init__(
        self,
        vocab_size: int,
        emb_size: int = 64,
        hidden_size: int = 128,
        n_layers: int = 3,
        init_range: float = 0.1,
        embed_p: float = 0.02,
        input_p: float = 0.25,
        weight_p: float = 0.2,
        hidden_p: float = 0.15,
        output_p: float = 0.1,
    ):
        super().__init__()
        self.vocab_size = _positive_int("vocab_size", vocab_size, minimum=2)
        self.emb_size = _positive_int("emb_size", emb_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.n_layers = _positive_int("n_layers", n_layers)
        _positive("init_range", init_range)
        for name, p in (
            ("embed_p", embed_p),
            ("input_p", input_p),
            ("weight_p", weight_p),
            ("hidden_p", hidden_p),
            ("output_p", output_p),
        ):
            _probability(name, p)
        self.embed_p, self.input_p, self.weight_p, self.hidden_p, self.output_p = (
            embed_p,
            input_p,
            weight_p,
            hidden_p,
            output_p,
        )
        self.encoder = nn.Embedding(vocab_size, emb_size)
        nn.init.uniform_(self.encoder.weight, -init_range, init_range)
        sizes = [emb_size] + [hidden_size] * (n_layers - 1) + [emb_size]
        self.rnns = nn.ModuleList(
            nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(n_layers)
        )
        self.decoder = nn.Linear(emb_size, vocab_size)
        self.decoder.weight = self.encoder.weight  # tied input and output embeddings
        nn.init.zeros_(self.decoder.bias)

    @property
    def output_size(self) -> int:
        return self.emb_size

    def set_dropouts(self, **ps: float) -> "AWDLSTM":
        """Change dropout probabilities by name (``embed_p``, ``input_p``, ``weight_p``,
        ``hidden_p``, ``output_p``)."""
        for name, p in ps.items():
            if name not in DROPOUT_NAMES:
                raise ValueError(f"{name}: expected one of {DROPOUT_NAMES}")
            setattr(self, name, _probability(name, p))
        return self

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        check_token_ids("x", x, self.vocab_size)  # integer ids in [0, vocab_size)
        if x.dim() != 2:
            raise ValueError(
                f"x: expected token ids of shape [batch, time], got {tuple(x.shape)}"
            )
        w = self.encoder.weight
        if self.training and self.embed_p > 0:  # embedding dropout: drop whole words
            mask = w.new_empty(w.shape[0], 1).bernoulli_(1 - self.embed_p) / (
                1 - self.embed_p
            )
            w = w * mask
        return F.embedding(x, w)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The last LSTM's outputs H = (h_1, ..., h_T), shape [B, T, emb_size] (what the
        classifier pools)."""
        h = _locked_dropout(self._embed(x), self.input_p, self.training)
        for i, rnn in enumerate(self.rnns):
            if self.training and self.weight_p > 0:  # DropConnect on W_hh (weight drop)
                w_hh = F.dropout(rnn.weight_hh_l0, self.weight_p, training=True)
                h, _ = functional_call(rnn, {"weight_hh_l0": w_hh}, (h,))
            else:
                h, _ = rnn(h)
            if i < self.n_layers - 1:
                h = _locked_dropout(h, self.hidden_p, self.training)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(
            _locked_dropout(self.encode(x), self.output_p, self.training)
        )

    def lm_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups for LM fine-tuning, bottom to top: each LSTM, then the
        (tied) embedding and decoder."""
        return [list(r.parameters()) for r in self.rnns] + [
            [self.encoder.weight, self.decoder.bias]
        ]


class ConcatPoolClassifier(nn.Module):
    """ULMFiT's classifier (Sec. 3.3): the LM's encoder, concat pooling, two BatchNorm +
    dropout linear blocks.

    h_c = [h_T, maxpool(H), meanpool(H)] (Eq. 4) over the real tokens of each document
    (padding masked), then BN -> dropout(p0) -> Linear(3H, hidden) -> ReLU -> BN ->
    dropout(p1) -> Linear(hidden, n_classes). ``forward(x[B, T], lengths[B]) ->
    logits[B, n_classes]``; documents are padded on the right.
    """

    def __init__(
        self,
        lm: AWDLSTM,
        n_classes: int,
        hidden: int = 50,
        drops: tuple[float, float] = (0.2, 0.1),
    ):
        super().__init__()
        if not isinstance(lm, AWDLSTM):
            raise ValueError(f"lm: expected an AWDLSTM, got {type(lm).__name__}")
        n_classes = _positive_int("n_classes", n_classes, minimum=2)
        hidden = _positive_int("hidden", hidden)
        if len(drops) != 2:
            raise ValueError(
                f"drops: expected two dropout probabilities, got {drops!r}"
            )
        for p in drops:
            _probability("drops", p)
        self.lm = lm
        width = 3 * lm.output_size
        self.head = nn.Sequential(
            nn.BatchNorm1d(width),
            nn.Dropout(drops[0]),
            nn.Linear(width, hidden),
            nn.ReLU(),
            nn.BatchNorm1d(hidden),
            nn.Dropout(drops[1]),
            nn.Linear(hidden, n_classes),
        )

    def features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """h_c = [h_T, maxpool(H), meanpool(H)] (Eq. 4), shape [B, 3H], over the first
        ``lengths`` tokens."""
        if not isinstance(lengths, torch.Tensor) or lengths.dtype not in (
            torch.int64,
            torch.int32,
        ):
            raise ValueError(
                f"lengths: expected an integer tensor of document lengths, got "
                f"{getattr(lengths, 'dtype', type(lengths).__name__)}"
            )
        if (
            lengths.shape != (x.shape[0],)
            or int(lengths.min()) < 1
            or int(lengths.max()) > x.shape[1]
        ):
            raise ValueError(
                f"lengths: expected one length in [1, {x.shape[1]}] per document, got "
                f"{lengths.tolist()}"
            )
        H = self.lm.encode(x)  # [B, T, H]
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None])[
            ..., None
        ]
        h_last = H[torch.arange(x.shape[0], device=x.device), lengths - 1]  # h_T
        h_max = H.masked_fill(~mask, float("-inf")).amax(1)  # maxpool(H)
        h_mean = (H * mask).sum(1) / lengths[:, None].to(H.dtype)  # meanpool(H)
        return torch.cat([h_last, h_max, h_mean], dim=1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, lengths))

    def groups(self) -> list[list[nn.Parameter]]:
        """Layer groups, bottom to top: embedding, each LSTM, the head (gradual
        unfreezing thaws them top first)."""
        return (
            [[self.lm.encoder.weight]]
            + [list(r.parameters()) for r in self.lm.rnns]
            + [list(self.head.parameters())]
        )


def pad_batch(
    docs: Sequence[torch.Tensor], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad 1-D id tensors into ``x[B, T_max]`` with ``pad_id``; returns ``(x,
    lengths)``, the lengths that mask the padding out of concat pooling (Eq. 4).
    (ULMFiT's BPT3C is not needed: our documents fit in one window.)"""
    if len(docs) == 0:
        raise ValueError("docs: expected at least one document")
    if any(d.dim() != 1 or d.numel() == 0 for d in docs):
        raise ValueError("docs: expected non-empty 1-D id tensors")
    lengths = torch.tensor([len(d) for d in docs])
    x = torch.full((len(docs), int(lengths.max())), pad_id, dtype=torch.long)
    for i, d in enumerate(docs):
        x[i, : len(d)] = d
    return x, lengths
