"""At initialization: Xiong et al. Theorem 1, Lemma 2 and Fig. 3 against depth."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._checks import positive_int
from ..data import pydoc_corpus, random_windows
from ..models import NORM_POSITIONS, Block, TransformerLM
from ..training import lm_loss, progress_bar, resolve_device
from ._common import _char_data, _check_position, _check_seed, _seeded_model

# Lemma 2's input: x_0 = token embedding + position embedding, each N(0, 1/2) per
# coordinate, so x_0 ~ N(0, 1). (emb_std=1.0 draws both from N(0, 1) and so gives an
# input of variance 2, not Lemma 2's setting.)
UNIT_INPUT_EMB_STD = 2**-0.5


def lemma2_growth(depth: int, base: int = 1, input_var: float = 1.0) -> float:
    """How much the Post/Pre ratio of the last layer's ||dL/dW^{2,L}||_F should grow
    from depth ``base`` to ``depth`` by Xiong et al. 2020, Lemma 2 with Lemma 3:
    Pre-LN's stream has E||x_L||^2 >= (v + L/2) d for inputs of variance v (Lemma 2, v =
    1), the final LN's Jacobian scales its gradient by sqrt(d)/||x_L|| (Lemma 3), and
    Post-LN's does not depend on L (Theorem 1), so the ratio grows like sqrt((v + L/2) /
    (v + base/2)).

    ``depth`` and ``base`` are layer counts (positive integers); ``input_var`` is v, the
    per-coordinate variance of the input x_0 (Lemma 2 assumes 1)."""
    positive_int("depth", depth)
    positive_int("base", base)
    if (
        isinstance(input_var, bool)
        or not isinstance(input_var, (int, float))
        or not input_var > 0
    ):
        raise ValueError(f"input_var: expected a positive variance, got {input_var!r}")
    return _lemma2(depth, base, input_var)


def _lemma2(depth: float, base: float, input_var: float) -> float:
    return math.sqrt(
        (input_var + depth / 2) / (input_var + base / 2)
    )  # sqrt((v + L/2) / (v + L0/2))


# --------------------------------------------------------------------------------------


def _check_tokens(tokens) -> None:
    if (
        not isinstance(tokens, torch.Tensor)
        or tokens.dim() != 2
        or tokens.shape[1] < 2
        or tokens.dtype != torch.long
    ):
        shape = (
            tuple(tokens.shape)
            if isinstance(tokens, torch.Tensor)
            else type(tokens).__name__
        )
        raise ValueError(
            f"tokens: expected a long tensor [batch, time + 1] with time >= 1, got "
            f"{shape}"
        )


def _check_model(model) -> None:
    blocks = getattr(model, "blocks", None)
    if (
        not isinstance(model, nn.Module)
        or blocks is None
        or not all(isinstance(b, Block) for b in blocks)
    ):
        raise ValueError(
            f"model: expected a TransformerLM (blocks of fourpapers.models.Block), "
            f"got {type(model).__name__}"
        )


def ffn_grad_norms(model: TransformerLM, tokens: torch.Tensor) -> list[float]:
    """Per layer, ||dL/dW^{2,l}||_F: the Frobenius norm of the gradient of the FFN's
    second weight matrix (``ffn.fc2.weight``; Xiong et al. 2020, Theorem 1 and Fig. 3)
    under the next-token loss on one batch.

    ``tokens[B, T + 1]`` are windows of text: the model reads ``tokens[:, :-1]`` and
    predicts ``tokens[:, 1:]``. The gradients are taken with ``torch.autograd.grad``, so
    the model's ``.grad`` fields are left untouched.
    """
    _check_model(model)
    _check_tokens(tokens)
    return _grads_and_states(model, tokens)[0]


def _grads_and_states(
    model: TransformerLM, tokens: torch.Tensor
) -> tuple[list[float], list[torch.Tensor]]:
    """One forward and backward pass: the per-layer ||dL/dW^2||_F and the hidden states
    of ``hidden_states``."""
    states: list[torch.Tensor] = []
    hooks = [
        model.blocks[0].register_forward_pre_hook(
            lambda m, args: states.append(args[0].detach())
        )
    ]
    hooks += [
        b.register_forward_hook(lambda m, args, out: states.append(out[0].detach()))
        for b in model.blocks
    ]
    try:
        loss = lm_loss(model, tokens[:, :-1], tokens[:, 1:])
    finally:
        for h in hooks:
            h.remove()
    weights = [b.ffn.fc2.weight for b in model.blocks]
    grads = torch.autograd.grad(loss, weights)
    return [float(g.norm()) for g in grads], states


def _cosines(states: list[torch.Tensor]) -> list[float]:
    """cos(h_{l-1}, h_l) per token, averaged over tokens, for l = 1..L."""
    return [
        float(F.cosine_similarity(a, b, dim=-1).mean())
        for a, b in zip(states[:-1], states[1:])
    ]


def init_tokens(
    seed: int, batch_size: int = 32, seq_len: int = 64, text: str | None = None
) -> torch.Tensor:
    """One batch ``[batch_size, seq_len + 1]`` of character windows of ``text``
    (default: the pydoc topics), drawn with a generator seeded by ``seed``: the batch
    Xiong et al.'s Fig. 3 gradient is measured on."""
    _check_seed(seed)
    positive_int("batch_size", batch_size)
    positive_int("seq_len", seq_len)
    _, ids = _char_data(pydoc_corpus() if text is None else text)
    x, y = random_windows(ids, batch_size, seq_len, torch.Generator().manual_seed(seed))
    return torch.cat([x, y[:, -1:]], dim=1)


# --------------------------------------------------------------------------------------
# At initialization: gradients and representations
# --------------------------------------------------------------------------------------


@dataclass
class InitStats:
    """One freshly initialized model measured on one batch: per-layer ||dL/dW^{2,l}||_F
    and cos(h_{l-1}, h_l) for l = 1..L (for ResiDual, h is the x_a stream)."""

    norm_position: str
    grad_norms: list[float]
    cosines: list[float]

    @property
    def first_over_last(self) -> float:
        """||dL/dW^{2,1}|| / ||dL/dW^{2,L}||: < 1 when gradients vanish toward the
        input, > 1 toward the output."""
        return self.grad_norms[0] / self.grad_norms[-1]

    def late_cosine(self, last: int = 4) -> float:
        """Mean cos(h_{l-1}, h_l) over the last ``last`` layers: near 1 means they
        barely change the representation (ResiDual's "representation collapse" of
        Pre-LN, Xie et al. 2023, Sec. 3)."""
        if (
            not isinstance(last, int)
            or isinstance(last, bool)
            or not 1 <= last <= len(self.cosines)
        ):
            raise ValueError(
                f"last: expected an integer in [1, {len(self.cosines)}], got {last!r}"
            )
        return sum(self.cosines[-last:]) / last


def init_stats(
    norm_position: str,
    n_layers: int,
    seed: int = 0,
    emb_std: float | None = None,
    norm: str = "layernorm",
    batch_size: int = 32,
    seq_len: int = 64,
    text: str | None = None,
    device: str | torch.device | None = None,
) -> InitStats:
    """One draw: build the chapter's model (d=64, 4 heads, d_ff=256, Xavier) with
    ``seed`` and measure it at initialization on :func:`init_tokens` (``seed``): the
    per-layer FFN gradient norms of Xiong et al. Fig. 3 and the cosines between
    consecutive hidden states (for ResiDual: the x_a stream).

    The same seed gives the same weights for every ``norm_position`` (the norms have no
    random parameters), so placements are compared on identical weights and data.
    ``emb_std`` replaces the Xavier init of the two embeddings by N(0, emb_std^2);
    ``max_len`` is ``seq_len``, which sets the Xavier scale of the position table.
    """
    _check_position(norm_position)
    positive_int("n_layers", n_layers)
    tokens = init_tokens(seed, batch_size, seq_len, text)
    vocab_size, _ = _char_data(pydoc_corpus() if text is None else text)
    dev = resolve_device(device)
    model = _seeded_model(
        vocab_size, n_layers, seq_len, norm_position, norm, seed, emb_std
    ).to(dev)
    grads, states = _grads_and_states(model, tokens.to(dev))
    return InitStats(norm_position, grads, _cosines(states))


def init_sweep(
    seed: int = 0,
    depths=(1, 2, 4, 8, 16),
    positions=("post", "pre"),
    n_draws: int = 5,
    emb_std: float | None = None,
    norm: str = "layernorm",
    batch_size: int = 32,
    seq_len: int = 64,
    text: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[tuple[str, int], list[InitStats]]:
    """Every placement at every depth at initialization, on ``n_draws`` draws (model
    init and batch) with seeds ``seed * n_draws + i``, i < ``n_draws``. Returns
    ``{(norm_position, L): [InitStats of each draw]}``.

    With the defaults it is Xiong et al. Fig. 3 in miniature (see :func:`mean_profile`,
    :func:`post_pre_ratio`, :func:`mean_last_over_first`); at depths 16 and 48 with
    ``"resi"`` it is the setting of ResiDual's two claims (Xie et al. 2023, Sec. 3):
    Pre-LN's late layers barely change the representation, Post-LN's gradient vanishes
    toward the input. Within a draw all depths and placements see the same batch, and
    the placements of one depth share their weights. ResiDual follows the official code
    (x_d starts as the embedding, output x_a + LN(x_d)); its x_a stream computes exactly
    the Post-LN stream in the forward pass, only its gradient path differs.
    """
    _check_seed(seed)
    positive_int("n_draws", n_draws)
    depths = tuple(depths)
    if not depths or any(
        not isinstance(L, int) or isinstance(L, bool) or L < 1 for L in depths
    ):
        raise ValueError(f"depths: expected positive integers, got {depths!r}")
    positions = tuple(positions)
    if not positions:
        raise ValueError("positions: expected at least one norm position")
    for p in positions:
        _check_position(p)
    out: dict[tuple[str, int], list[InitStats]] = {
        (p, L): [] for L in depths for p in positions
    }
    jobs = [(i, L, p) for i in range(n_draws) for L in depths for p in positions]
    for i, L, p in progress_bar(jobs, "models at init", progress):
        out[(p, L)].append(
            init_stats(
                p,
                L,
                seed * n_draws + i,
                emb_std=emb_std,
                norm=norm,
                batch_size=batch_size,
                seq_len=seq_len,
                text=text,
                device=device,
            )
        )
    return out


def _draws(
    sweep: dict[tuple[str, int], list[InitStats]], position: str, depth: int
) -> list[InitStats]:
    if (
        not isinstance(sweep, dict)
        or (position, depth) not in sweep
        or not sweep[(position, depth)]
    ):
        have = sorted(sweep) if isinstance(sweep, dict) else type(sweep).__name__
        raise ValueError(
            f"position, depth: expected a key of the init_sweep result {have}, got "
            f"{(position, depth)!r}"
        )
    return sweep[(position, depth)]


def mean_profile(
    sweep: dict[tuple[str, int], list[InitStats]], position: str, depth: int
) -> list[float]:
    """Per layer l = 1..L, the mean over draws of ||dL/dW^{2,l}||_F (Xiong et al. 2020,
    Fig. 3)."""
    rows = [s.grad_norms for s in _draws(sweep, position, depth)]
    return [sum(col) / len(rows) for col in zip(*rows)]


def post_pre_ratio(sweep: dict[tuple[str, int], list[InitStats]], depth: int) -> float:
    """Mean last-layer ||dL/dW^{2,L}||_F of Post-LN over that of Pre-LN at depth L
    (Xiong et al. 2020, Theorem 1: O(d sqrt(ln d)) against O(d sqrt(ln d / L)), so the
    ratio grows with L)."""
    return (
        mean_profile(sweep, "post", depth)[-1] / mean_profile(sweep, "pre", depth)[-1]
    )


def mean_last_over_first(
    sweep: dict[tuple[str, int], list[InitStats]], position: str, depth: int
) -> float:
    """Mean over draws of ||dL/dW^{2,L}|| / ||dL/dW^{2,1}||: > 1 when the gradient grows
    toward the output (Post-LN in Xiong et al. Fig. 3), < 1 when it falls (Pre-LN)."""
    draws = _draws(sweep, position, depth)
    return sum(1 / s.first_over_last for s in draws) / len(draws)


def most_balanced(sweep: dict[tuple[str, int], list[InitStats]], depth: int) -> str:
    """The placement whose first draw at ``depth`` has the smallest |log(first/last)| of
    its FFN gradients: the flattest gradient profile, neither vanishing toward the input
    nor toward the output (ResiDual's claim, Xie et al. 2023, is that it is
    ResiDual)."""
    positions = [
        p for p in NORM_POSITIONS if isinstance(sweep, dict) and (p, depth) in sweep
    ]
    if not positions:
        have = (
            sorted({k[1] for k in sweep})
            if isinstance(sweep, dict)
            else type(sweep).__name__
        )
        raise ValueError(
            f"depth: expected a depth of the init_sweep result {have}, got {depth!r}"
        )
    return min(
        positions,
        key=lambda p: abs(math.log(_draws(sweep, p, depth)[0].first_over_last)),
    )


# --------------------------------------------------------------------------------------
