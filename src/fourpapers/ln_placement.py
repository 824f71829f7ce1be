"""Chapter 1, where LayerNorm goes: Post-LN vs Pre-LN (Xiong et al. 2020) and ResiDual (Xie et al. 2023).

Three experiments, all on the character LM of :mod:`fourpapers.models` over :func:`~fourpapers.data.pydoc_corpus`
(d=64, 4 heads, d_ff=256, Xavier weights, zero biases, no dropout, no clipping):

* :func:`ffn_grad_norms` -- Xiong et al.'s quantity: per layer, ||dL/dW^2||_F of the FFN's second weight matrix.
* :func:`init_sweep` -- models at initialization, averaged over draws: Xiong et al. Fig. 3 in miniature (that
  gradient against depth L, :func:`post_pre_ratio`) and ResiDual's two claims (Pre-LN's "representation
  collapse", Post-LN's vanishing gradient toward the input), measured at initialization.
* :func:`warmup_run` / :func:`warmup_experiment` -- Xiong et al. Fig. 2 in miniature: Adam with and without a
  linear learning-rate warmup.

:func:`block_graph` and :func:`draw_block` draw a block from the model's own ``Block.forward``, traced with
``torch.fx``, so the picture cannot drift from the code.
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from . import plotting
from .data import CharVocab, batches, pydoc_corpus, random_windows, split_ids, unigram_entropy
from .models import NORM_POSITIONS, Block, CausalSelfAttention, FeedForward, RMSNorm, TransformerLM
from .training import lm_loss, progress_bar, reproducible, resolve_device, train, warmup_schedule

__all__ = [
    "UNIT_INPUT_EMB_STD", "lemma2_growth", "ffn_grad_norms", "init_tokens", "InitStats", "init_stats", "init_sweep",
    "mean_profile", "post_pre_ratio",
    "mean_last_over_first", "most_balanced", "WarmupRun", "warmup_run", "WARMUP_CONFIGS", "warmup_experiment", "BlockOp",
    "block_graph", "draw_block", "plot_profile", "plot_depth_sweep", "plot_ratio_growth", "plot_warmup",
    "plot_init_analysis",
]

# The miniature's model size, as calibrated for this chapter.
D_MODEL, N_HEADS, D_FF = 64, 4, 256
# Xiong et al. Fig. 2 in miniature: the runs the chapter and its claims compare, as (norm_position, warmup steps).
WARMUP_CONFIGS = (("post", 0), ("post", 200), ("pre", 0), ("pre", 200), ("resi", 0))
_NAMES = {"post": "Post-LN", "pre": "Pre-LN", "resi": "ResiDual"}
_GRAD = r"$\|\partial\mathcal{L}/\partial W^2\|_F$"  # axis label: the gradient norm of Xiong et al. Theorem 1
# Lemma 2's input: x_0 = token embedding + position embedding, each N(0, 1/2) per coordinate, so x_0 ~ N(0, 1).
# (emb_std=1.0 draws both from N(0, 1) and so gives an input of variance 2, not Lemma 2's setting.)
UNIT_INPUT_EMB_STD = 2 ** -0.5


def lemma2_growth(depth: int, base: int = 1, input_var: float = 1.0) -> float:
    """How much the Post/Pre ratio of the last layer's ||dL/dW^{2,L}||_F should grow from depth ``base`` to
    ``depth`` by Xiong et al. 2020, Lemma 2 with Lemma 3: Pre-LN's stream has E||x_L||^2 >= (v + L/2) d for inputs of
    variance v (Lemma 2, v = 1), the final LN's Jacobian scales its gradient by sqrt(d)/||x_L|| (Lemma 3), and
    Post-LN's does not depend on L (Theorem 1), so the ratio grows like sqrt((v + L/2) / (v + base/2)).

    ``depth`` and ``base`` are layer counts (positive integers); ``input_var`` is v, the per-coordinate variance
    of the input x_0 (Lemma 2 assumes 1)."""
    _check_positive_int("depth", depth)
    _check_positive_int("base", base)
    if isinstance(input_var, bool) or not isinstance(input_var, (int, float)) or not input_var > 0:
        raise ValueError(f"input_var: expected a positive variance, got {input_var!r}")
    return _lemma2(depth, base, input_var)


def _lemma2(depth: float, base: float, input_var: float) -> float:
    return math.sqrt((input_var + depth / 2) / (input_var + base / 2))  # sqrt((v + L/2) / (v + L0/2))


# --------------------------------------------------------------------------------------------------------------
# Data and the measured quantity
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _char_data(text: str) -> tuple[int, torch.Tensor]:
    """Vocabulary size and the training ids (the leading 90 %) of a character corpus."""
    vocab = CharVocab.from_text(text)
    train_ids, _ = split_ids(vocab.encode(text), valid_frac=0.1)
    return len(vocab), train_ids


def _check_position(norm_position: str) -> None:
    if norm_position not in NORM_POSITIONS:
        raise ValueError(f"norm_position: expected one of {NORM_POSITIONS}, got {norm_position!r}")


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")


def _check_seed(seed) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")


def _check_tokens(tokens) -> None:
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[1] < 2 or tokens.dtype != torch.long:
        shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise ValueError(f"tokens: expected a long tensor [batch, time + 1] with time >= 1, got {shape}")


def _check_model(model) -> None:
    blocks = getattr(model, "blocks", None)
    if not isinstance(model, nn.Module) or blocks is None or not all(isinstance(b, Block) for b in blocks):
        raise ValueError(f"model: expected a TransformerLM (blocks of fourpapers.models.Block), "
                         f"got {type(model).__name__}")


def ffn_grad_norms(model: TransformerLM, tokens: torch.Tensor) -> list[float]:
    """Per layer, ||dL/dW^{2,l}||_F: the Frobenius norm of the gradient of the FFN's second weight matrix
    (``ffn.fc2.weight``; Xiong et al. 2020, Theorem 1 and Fig. 3) under the next-token loss on one batch.

    ``tokens[B, T + 1]`` are windows of text: the model reads ``tokens[:, :-1]`` and predicts ``tokens[:, 1:]``.
    The gradients are taken with ``torch.autograd.grad``, so the model's ``.grad`` fields are left untouched.
    """
    _check_model(model)
    _check_tokens(tokens)
    return _grads_and_states(model, tokens)[0]


def _grads_and_states(model: TransformerLM, tokens: torch.Tensor) -> tuple[list[float], list[torch.Tensor]]:
    """One forward and backward pass: the per-layer ||dL/dW^2||_F and the hidden states of ``hidden_states``."""
    states: list[torch.Tensor] = []
    hooks = [model.blocks[0].register_forward_pre_hook(lambda m, args: states.append(args[0].detach()))]
    hooks += [b.register_forward_hook(lambda m, args, out: states.append(out[0].detach())) for b in model.blocks]
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
    return [float(F.cosine_similarity(a, b, dim=-1).mean()) for a, b in zip(states[:-1], states[1:])]


def init_tokens(seed: int, batch_size: int = 32, seq_len: int = 64, text: str | None = None) -> torch.Tensor:
    """One batch ``[batch_size, seq_len + 1]`` of character windows of ``text`` (default: the pydoc topics), drawn
    with a generator seeded by ``seed``: the batch Xiong et al.'s Fig. 3 gradient is measured on."""
    _check_seed(seed)
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("seq_len", seq_len)
    _, ids = _char_data(pydoc_corpus() if text is None else text)
    x, y = random_windows(ids, batch_size, seq_len, torch.Generator().manual_seed(seed))
    return torch.cat([x, y[:, -1:]], dim=1)


# --------------------------------------------------------------------------------------------------------------
# At initialization: gradients and representations
# --------------------------------------------------------------------------------------------------------------


@dataclass
class InitStats:
    """One freshly initialized model measured on one batch: per-layer ||dL/dW^{2,l}||_F and cos(h_{l-1}, h_l)
    for l = 1..L (for ResiDual, h is the x_a stream)."""

    norm_position: str
    grad_norms: list[float]
    cosines: list[float]

    @property
    def first_over_last(self) -> float:
        """||dL/dW^{2,1}|| / ||dL/dW^{2,L}||: < 1 when gradients vanish toward the input, > 1 toward the output."""
        return self.grad_norms[0] / self.grad_norms[-1]

    def late_cosine(self, last: int = 4) -> float:
        """Mean cos(h_{l-1}, h_l) over the last ``last`` layers: near 1 means they barely change the representation
        (ResiDual's "representation collapse" of Pre-LN, Xie et al. 2023, Sec. 3)."""
        if not isinstance(last, int) or isinstance(last, bool) or not 1 <= last <= len(self.cosines):
            raise ValueError(f"last: expected an integer in [1, {len(self.cosines)}], got {last!r}")
        return sum(self.cosines[-last:]) / last


def init_stats(norm_position: str, n_layers: int, seed: int = 0, emb_std: float | None = None,
               norm: str = "layernorm", batch_size: int = 32, seq_len: int = 64, text: str | None = None,
               device: str | torch.device | None = None) -> InitStats:
    """One draw: build the chapter's model (d=64, 4 heads, d_ff=256, Xavier) with ``seed`` and measure it at
    initialization on :func:`init_tokens` (``seed``): the per-layer FFN gradient norms of Xiong et al. Fig. 3 and
    the cosines between consecutive hidden states (for ResiDual: the x_a stream).

    The same seed gives the same weights for every ``norm_position`` (the norms have no random parameters), so
    placements are compared on identical weights and data. ``emb_std`` replaces the Xavier init of the two
    embeddings by N(0, emb_std^2); ``max_len`` is ``seq_len``, which sets the Xavier scale of the position table.
    """
    _check_position(norm_position)
    _check_positive_int("n_layers", n_layers)
    tokens = init_tokens(seed, batch_size, seq_len, text)
    vocab_size, _ = _char_data(pydoc_corpus() if text is None else text)
    dev = resolve_device(device)
    reproducible(seed)
    model = TransformerLM(vocab_size, D_MODEL, N_HEADS, D_FF, n_layers, max_len=seq_len, norm_position=norm_position,
                          norm=norm, emb_std=emb_std).to(dev)
    grads, states = _grads_and_states(model, tokens.to(dev))
    return InitStats(norm_position, grads, _cosines(states))


def init_sweep(seed: int = 0, depths=(1, 2, 4, 8, 16), positions=("post", "pre"), n_draws: int = 5,
               emb_std: float | None = None, norm: str = "layernorm", batch_size: int = 32, seq_len: int = 64,
               text: str | None = None, device: str | torch.device | None = None,
               progress: bool = True) -> dict[tuple[str, int], list[InitStats]]:
    """Every placement at every depth at initialization, on ``n_draws`` draws (model init and batch) with seeds
    ``seed * n_draws + i``, i < ``n_draws``. Returns ``{(norm_position, L): [InitStats of each draw]}``.

    With the defaults it is Xiong et al. Fig. 3 in miniature (see :func:`mean_profile`, :func:`post_pre_ratio`,
    :func:`mean_last_over_first`); at depths 16 and 48 with ``"resi"`` it is the setting of ResiDual's two claims
    (Xie et al. 2023, Sec. 3): Pre-LN's late layers barely change the representation, Post-LN's gradient vanishes
    toward the input. Within a draw all depths and placements see the same batch, and the placements of one depth
    share their weights. ResiDual follows the official code (x_d starts as the embedding, output x_a + LN(x_d));
    its x_a stream computes exactly the Post-LN stream in the forward pass, only its gradient path differs.
    """
    _check_seed(seed)
    _check_positive_int("n_draws", n_draws)
    depths = tuple(depths)
    if not depths or any(not isinstance(L, int) or isinstance(L, bool) or L < 1 for L in depths):
        raise ValueError(f"depths: expected positive integers, got {depths!r}")
    positions = tuple(positions)
    if not positions:
        raise ValueError("positions: expected at least one norm position")
    for p in positions:
        _check_position(p)
    out: dict[tuple[str, int], list[InitStats]] = {(p, L): [] for L in depths for p in positions}
    jobs = [(i, L, p) for i in range(n_draws) for L in depths for p in positions]
    for i, L, p in progress_bar(jobs, "models at init", progress):
        out[(p, L)].append(init_stats(p, L, seed * n_draws + i, emb_std=emb_std, norm=norm, batch_size=batch_size,
                                      seq_len=seq_len, text=text, device=device))
    return out


def _draws(sweep: dict[tuple[str, int], list[InitStats]], position: str, depth: int) -> list[InitStats]:
    if not isinstance(sweep, dict) or (position, depth) not in sweep or not sweep[(position, depth)]:
        have = sorted(sweep) if isinstance(sweep, dict) else type(sweep).__name__
        raise ValueError(f"position, depth: expected a key of the init_sweep result {have}, got {(position, depth)!r}")
    return sweep[(position, depth)]


def mean_profile(sweep: dict[tuple[str, int], list[InitStats]], position: str, depth: int) -> list[float]:
    """Per layer l = 1..L, the mean over draws of ||dL/dW^{2,l}||_F (Xiong et al. 2020, Fig. 3)."""
    rows = [s.grad_norms for s in _draws(sweep, position, depth)]
    return [sum(col) / len(rows) for col in zip(*rows)]


def post_pre_ratio(sweep: dict[tuple[str, int], list[InitStats]], depth: int) -> float:
    """Mean last-layer ||dL/dW^{2,L}||_F of Post-LN over that of Pre-LN at depth L (Xiong et al. 2020, Theorem 1:
    O(d sqrt(ln d)) against O(d sqrt(ln d / L)), so the ratio grows with L)."""
    return mean_profile(sweep, "post", depth)[-1] / mean_profile(sweep, "pre", depth)[-1]


def mean_last_over_first(sweep: dict[tuple[str, int], list[InitStats]], position: str, depth: int) -> float:
    """Mean over draws of ||dL/dW^{2,L}|| / ||dL/dW^{2,1}||: > 1 when the gradient grows toward the output (Post-LN
    in Xiong et al. Fig. 3), < 1 when it falls (Pre-LN)."""
    draws = _draws(sweep, position, depth)
    return sum(1 / s.first_over_last for s in draws) / len(draws)


def most_balanced(sweep: dict[tuple[str, int], list[InitStats]], depth: int) -> str:
    """The placement whose first draw at ``depth`` has the smallest |log(first/last)| of its FFN gradients: the
    flattest gradient profile, neither vanishing toward the input nor toward the output (ResiDual's claim, Xie et
    al. 2023, is that it is ResiDual)."""
    positions = [p for p in NORM_POSITIONS if isinstance(sweep, dict) and (p, depth) in sweep]
    if not positions:
        have = sorted({k[1] for k in sweep}) if isinstance(sweep, dict) else type(sweep).__name__
        raise ValueError(f"depth: expected a depth of the init_sweep result {have}, got {depth!r}")
    return min(positions, key=lambda p: abs(math.log(_draws(sweep, p, depth)[0].first_over_last)))


# --------------------------------------------------------------------------------------------------------------
# Training with and without warmup
# --------------------------------------------------------------------------------------------------------------


@dataclass
class WarmupRun:
    """One training run of :func:`warmup_run`: the loss of every step and the unigram entropy of the text."""

    norm_position: str
    warmup: int
    losses: list[float] = field(repr=False)
    unigram_entropy: float
    tail: int = 20

    @property
    def final_loss(self) -> float:
        """Mean training loss of the last ``tail`` steps (nats)."""
        return sum(self.losses[-self.tail:]) / len(self.losses[-self.tail:])


def warmup_run(norm_position: str = "post", warmup: int = 0, seed: int = 0, n_layers: int = 12, steps: int = 400,
               lr: float = 1e-3, batch_size: int = 16, seq_len: int = 32, tail: int = 20, norm: str = "layernorm",
               text: str | None = None, device: str | torch.device | None = None,
               progress: bool = True) -> WarmupRun:
    """Xiong et al. Fig. 2 in miniature: train the chapter's LM with Adam(0.9, 0.98, eps=1e-9; the fused kernel) at
    a constant ``lr`` after a linear warmup of ``warmup`` steps (0: none; Vaswani et al. 2017, Sec. 5.3), without
    gradient clipping.

    Calibrated defaults: L=12, batches of 16 x 32 characters, 400 steps. The same ``seed`` gives every placement
    the same initial weights and the same batches. ``final_loss`` is the mean of the last ``tail`` training losses.
    """
    _check_position(norm_position)
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(f"warmup: expected a non-negative integer number of steps, got {warmup!r}")
    _check_seed(seed)
    _check_positive_int("n_layers", n_layers)
    _check_positive_int("steps", steps)
    _check_positive_int("tail", tail)
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr: expected a positive learning rate, got {lr!r}")
    vocab_size, ids = _char_data(pydoc_corpus() if text is None else text)
    reproducible(seed)
    model = TransformerLM(vocab_size, D_MODEL, N_HEADS, D_FF, n_layers, max_len=seq_len, norm_position=norm_position,
                          norm=norm)
    dev = resolve_device(device)
    # fused: the same Adam update in one kernel per step (5x cheaper than the per-tensor loop for 150 small tensors)
    opt = torch.optim.Adam(model.to(dev).parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9, fused=True)
    losses = train(model, batches(ids, batch_size, seq_len, seed=seed), opt, steps, schedule=warmup_schedule(warmup),
                   clip=None, device=dev, progress=progress, desc=f"{_NAMES[norm_position]}, warmup {warmup}")
    return WarmupRun(norm_position, warmup, losses, unigram_entropy(ids), tail)


def warmup_experiment(seed: int = 0, configs=WARMUP_CONFIGS, **kwargs) -> dict[tuple[str, int], WarmupRun]:
    """Run :func:`warmup_run` for each ``(norm_position, warmup)`` of ``configs`` with one seed (Fig. 2 in
    miniature); keyword arguments pass through. Returns ``{(norm_position, warmup): WarmupRun}``."""
    configs = tuple(configs)
    if not configs or any(not (isinstance(c, tuple) and len(c) == 2) for c in configs):
        raise ValueError(f"configs: expected (norm_position, warmup) pairs, got {configs!r}")
    return {(p, w): warmup_run(p, w, seed=seed, **kwargs) for p, w in configs}


# --------------------------------------------------------------------------------------------------------------
# The block diagram, traced from Block.forward
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockOp:
    """One step of a traced block: ``kind`` in input / attn / ffn / norm / add / output, and its inputs' names."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    label: str


class _BlockTracer(fx.Tracer):
    """Keeps attention, FFN and the norms whole, so the graph is the block's diagram rather than its arithmetic."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        whole = (CausalSelfAttention, FeedForward, nn.LayerNorm, RMSNorm)
        return isinstance(m, whole) or super().is_leaf_module(m, qualname)


def _flatten_names(arg) -> list[str]:
    if isinstance(arg, fx.Node):
        return [arg.name]
    if isinstance(arg, (tuple, list)):
        return [n for a in arg for n in _flatten_names(a)]
    return []


def block_graph(norm_position: str, norm: str = "layernorm") -> list[BlockOp]:
    """The operations of one ``Block(norm_position)`` in execution order, traced from ``Block.forward`` with
    ``torch.fx`` (Vaswani et al. 2017 Fig. 1 for ``"post"``; Xiong et al. 2020 Fig. 1 for ``"pre"``; Xie et al. 2023
    Fig. 2 for ``"resi"``). Inputs are ``x`` (and ResiDual's ``x_d``); outputs are named ``out`` / ``out_d``."""
    _check_position(norm_position)
    block = Block(8, 2, 16, norm_position=norm_position, norm=norm)
    graph = _BlockTracer().trace(block, concrete_args=None if norm_position == "resi" else {"x_d": None})
    modules = dict(block.named_modules())
    norm_label = "RMSNorm" if norm == "rmsnorm" else "LayerNorm"
    ops: list[BlockOp] = []
    for node in graph.nodes:
        ins = tuple(_flatten_names(node.args))
        used = any(u.op == "call_module" or u.target is operator.add for u in node.users)
        if node.op == "placeholder" and used:  # the specialised x_d=None of post/pre is used by no operation
            label = "$x_d$" if node.name == "x_d" else ("$x_a$" if norm_position == "resi" else "$x$")
            ops.append(BlockOp(node.name, "input", (), label))
        elif node.op == "call_module":
            mod = modules[node.target]
            kind = ("attn" if isinstance(mod, CausalSelfAttention) else "ffn" if isinstance(mod, FeedForward)
                    else "norm")
            label = {"attn": "Multi-head\nattention", "ffn": "Feed-\nforward", "norm": norm_label}[kind]
            ops.append(BlockOp(node.name, kind, ins, label))
        elif node.op == "call_function" and node.target is operator.add:
            ops.append(BlockOp(node.name, "add", ins, "+"))
        elif node.op == "output":
            for name, src in zip(("out", "out_d"), _flatten_names(node.args)):
                ops.append(BlockOp(name, "output", (src,), "$x_d'$" if name == "out_d" else
                                   ("$x_a'$" if norm_position == "resi" else "$x'$")))
    return ops


def _layout(ops: list[BlockOp]) -> dict[str, tuple[int, int]]:
    """Row = longest path from the inputs; column 1 for ResiDual's x_d stream (ops fed only by it), else 0."""
    pos: dict[str, tuple[int, int]] = {}
    d_stream: set[str] = set()
    for op in ops:
        row = 1 + max((pos[i][0] for i in op.inputs), default=-1)
        if op.name == "x_d" or (op.kind in ("add", "output") and any(i in d_stream for i in op.inputs)):
            d_stream.add(op.name)
        pos[op.name] = (row, 1 if op.name in d_stream else 0)
    return pos


def _edge_path(src: tuple[float, float, float], dst: tuple[float, float, float], side: float, straight: bool):
    """Vertices of one arrow from ``src`` to ``dst``, each (x, y, half height): straight up when nothing lies
    between, a residual branch on the ``side`` (-1 left, +1 right) when something does, an elbow across streams."""
    (x0, y0, h0), (x1, y1, h1) = src, dst
    if x0 == x1 and straight:
        return [(x0, y0 + h0), (x1, y1 - h1)]
    if x0 == x1:  # the residual: branch off just above the source, run beside the sublayers, enter the "+" sideways
        xb = x0 + side * 1.2
        return [(x0, y0 + h0 + 0.12), (xb, y0 + h0 + 0.12), (xb, y1), (x1 + side * 0.17, y1)]
    step = 1.0 if x1 > x0 else -1.0  # across streams: leave sideways, rise beside the target, enter sideways
    xm = x1 - step * 0.5
    return [(x0 + step * 1.0, y0), (xm, y0), (xm, y1), (x1 - step * 0.17, y1)]


def draw_block(norm_position: str, ax=None, norm: str = "layernorm"):
    """Draw one block as traced by :func:`block_graph` (input at the bottom, as in Vaswani et al. 2017 Fig. 1):
    boxes for attention, FFN and norms (the norms outlined in the placement's colour), circles for residual
    additions, one arrow per data dependency of ``Block.forward``. Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    ops = block_graph(norm_position, norm)
    pos = _layout(ops)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.4, 4.8))
    colour = plotting.color(norm_position)
    fill = {"attn": "#FCE9C8", "ffn": "#D8ECF8", "norm": "#E6F4EA"}
    half = {"attn": 0.3, "ffn": 0.3, "norm": 0.3, "add": 0.17, "input": 0.22, "output": 0.22}
    xy = {op.name: (2.6 * pos[op.name][1], 1.0 * pos[op.name][0], half[op.kind]) for op in ops}
    for op in ops:
        x, y, _ = xy[op.name]
        if op.kind in fill:
            ax.add_patch(FancyBboxPatch((x - 1.0, y - 0.3), 2.0, 0.6, boxstyle="round,pad=0.02,rounding_size=0.08",
                                        fc=fill[op.kind], ec=colour if op.kind == "norm" else "#444444",
                                        lw=2.2 if op.kind == "norm" else 1.0))
            ax.text(x, y, op.label, ha="center", va="center", fontsize=12, linespacing=1.0)
        elif op.kind == "add":
            ax.add_patch(plt.Circle((x, y), 0.17, fc="white", ec="#444444", lw=1.0))
            ax.text(x, y, "+", ha="center", va="center", fontsize=13)
        else:
            ax.text(x, y, op.label, ha="center", va="center", fontsize=13)
    for op in ops:
        for src in op.inputs:
            (r0, c0), (r1, c1) = pos[src], pos[op.name]
            between = any(c == c0 and r0 < r < r1 for r, c in pos.values())
            verts = _edge_path(xy[src], xy[op.name], side=-1.0 if c0 == 0 else 1.0, straight=not between)
            codes = [Path.MOVETO] + [Path.LINETO] * (len(verts) - 1)
            ax.add_patch(FancyArrowPatch(path=Path(verts, codes), arrowstyle="-|>", mutation_scale=9, lw=1.0,
                                         color="#666666", shrinkA=0, shrinkB=0))
    xs = [v[0] for v in xy.values()]
    ys = [v[1] for v in xy.values()]
    ax.set_xlim(min(xs) - 1.45, max(xs) + 1.45)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(_NAMES[norm_position], color=colour)
    return ax


# --------------------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------------------



def _integer_ticks(ax, depth: int) -> None:
    """Layer ticks at whole numbers only (at most 9 of them, always including 1 and ``depth``)."""
    step = max(1, math.ceil((depth - 1) / 8))
    ax.set_xticks(sorted(set(range(1, depth + 1, step)) | {depth}))


def _check_axes(axes, n: int) -> None:
    if len(axes) != n:
        raise ValueError(f"axes: expected {n} matplotlib Axes, got {len(axes)}")


def plot_profile(sweep: dict[tuple[str, int], list[InitStats]], ax, depth: int) -> None:
    """Xiong et al. Fig. 3 (per layer) on one Axes: the mean over draws of ||dL/dW^{2,l}||_F for l = 1..L, one line
    per placement measured at ``depth`` by :func:`init_sweep`."""
    if not isinstance(sweep, dict) or not sweep:
        raise ValueError(f"sweep: expected the result of init_sweep, got {type(sweep).__name__}")
    positions = [p for p in NORM_POSITIONS if (p, depth) in sweep]
    if not positions:
        raise ValueError(f"depth: expected one of {sorted({k[1] for k in sweep})}, got {depth!r}")
    for p in positions:
        ax.plot(range(1, depth + 1), mean_profile(sweep, p, depth), "o-", ms=3.5, color=plotting.color(p),
                label=_NAMES[p])
    ax.set(xlabel="layer l (1 = next to the input)", ylabel=f"{_GRAD} (mean over draws)",
           title=f"FFN gradient per layer at init, L = {depth}")
    _integer_ticks(ax, depth)
    ax.set_ylim(bottom=0)
    ax.legend()


def plot_depth_sweep(sweep: dict[tuple[str, int], list[InitStats]], axes, profile_depth: int | None = None) -> None:
    """Xiong et al. Fig. 3 in miniature on two Axes, from :func:`init_sweep`: the last layer's ||dL/dW^2||_F
    against depth L (left) and the per-layer profile at ``profile_depth`` (right; default the deepest)."""
    _check_axes(axes, 2)
    if not isinstance(sweep, dict) or not sweep:
        raise ValueError(f"sweep: expected the result of init_sweep, got {type(sweep).__name__}")
    depths = sorted({k[1] for k in sweep})
    L = max(depths) if profile_depth is None else profile_depth
    if L not in depths:
        raise ValueError(f"profile_depth: expected one of {depths}, got {profile_depth!r}")
    left, right = axes
    for p in [p for p in NORM_POSITIONS if any(k[0] == p for k in sweep)]:
        ds = [d for d in depths if (p, d) in sweep]
        left.plot(ds, [mean_profile(sweep, p, d)[-1] for d in ds], "o-", color=plotting.color(p), label=_NAMES[p])
    left.set_xscale("log", base=2)
    left.set_xticks(depths, [str(d) for d in depths])
    left.set(xlabel="depth L (layers)", ylabel=f"last layer {_GRAD} (mean)", title="Last layer, against depth")
    left.set_ylim(bottom=0)
    left.legend()
    plot_profile(sweep, right, L)


def plot_ratio_growth(sweeps: dict[str, dict[tuple[str, int], list[InitStats]]], ax, input_var: float = 1.0) -> None:
    """The growth of the Post/Pre ratio of the last layer's ||dL/dW^{2,L}||_F from the shallowest depth, ratio(L) /
    ratio(L_min), for each labelled :func:`init_sweep` result of ``sweeps`` ({label: sweep}), beside Xiong et al.'s
    Lemma 2 value sqrt((v + L/2) / (v + L_min/2)) (:func:`lemma2_growth`, v = ``input_var``) as a dashed line."""
    if not isinstance(sweeps, dict) or not sweeps or not all(isinstance(v, dict) and v for v in sweeps.values()):
        raise ValueError(f"sweeps: expected {{label: init_sweep result}}, got {type(sweeps).__name__}")
    styles = ["o-", "s--", "^:"]
    depths: list[int] = []
    for i, (label, sweep) in enumerate(sweeps.items()):
        depths = sorted({k[1] for k in sweep if ("post", k[1]) in sweep and ("pre", k[1]) in sweep})
        if len(depths) < 2:
            raise ValueError(f"sweeps: {label!r} needs Post-LN and Pre-LN at two depths or more")
        r0 = post_pre_ratio(sweep, depths[0])
        ax.plot(depths, [post_pre_ratio(sweep, L) / r0 for L in depths], styles[i % 3], color="#333333" if i == 0
                else "#999999", label=label)
    fine = [depths[0] + (depths[-1] - depths[0]) * i / 60 for i in range(61)]
    base = depths[0]
    ax.plot(fine, [_lemma2(L, base, input_var) for L in fine], color=plotting.color("pre"),
            ls="--", lw=2.2, label=f"Lemma 2: $\\sqrt{{({input_var:g} + L/2)/({input_var:g} + {base}/2)}}$")
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set(xlabel="depth L (layers)", ylabel=f"Post/Pre ratio at L / at L = {base}",
           title="Growth of the Post/Pre ratio with depth")
    ax.set_ylim(bottom=0)
    ax.legend()


def plot_warmup(runs: dict[tuple[str, int], WarmupRun], ax, smooth: int = 10) -> None:
    """Xiong et al. Fig. 2 in miniature: training loss against step for each run (a running mean over ``smooth``
    steps), with the unigram entropy as a dashed line."""
    if not runs:
        raise ValueError("runs: expected at least one WarmupRun")
    _check_positive_int("smooth", smooth)
    for (p, w), run in runs.items():
        xs, ys = plotting.running_mean(run.losses, smooth)
        ax.plot(xs, ys, color=plotting.color(p), ls="-" if w == 0 else "--",
                label=f"{_NAMES[p]}, {'no warmup' if w == 0 else f'warmup {w}'}")
    H = next(iter(runs.values())).unigram_entropy
    ax.axhline(H, color=plotting.color("reference"), ls=":", label=f"unigram entropy H = {H:.2f}")
    ax.set(xlabel="training step", ylabel=f"training loss (nats, mean of {smooth} steps)", title="Training loss")
    ax.legend()


def plot_init_analysis(sweep: dict[tuple[str, int], list[InitStats]], axes, depth: int) -> None:
    """ResiDual's claims at initialization on two Axes, for one ``depth`` of an :func:`init_sweep` result (first
    draw): cos(h_{l-1}, h_l) per layer (left; near 1 = collapse) and ||dL/dW^{2,l}||_F per layer on a log scale
    (right; the slope shows vanishing)."""
    if not isinstance(sweep, dict) or not any(k[1] == depth for k in sweep):
        have = sorted({k[1] for k in sweep}) if isinstance(sweep, dict) else type(sweep).__name__
        raise ValueError(f"depth: expected one of {have}, got {depth!r}")
    _check_axes(axes, 2)
    left, right = axes
    for p in [p for p in NORM_POSITIONS if (p, depth) in sweep]:
        s = sweep[(p, depth)][0]
        style = dict(color=plotting.color(p), label=_NAMES[p], ls=":" if p == "resi" else "-",
                     lw=2.6 if p == "resi" else 1.6)
        left.plot(range(1, depth + 1), s.cosines, **style)
        right.plot(range(1, depth + 1), s.grad_norms, **style)
    left.set(xlabel="layer l", ylabel=r"$\cos(h_{l-1}, h_l)$", title=f"Consecutive hidden states, L = {depth}",
             ylim=(0, 1.02))
    right.set(xlabel="layer l (1 = next to the input)", ylabel=_GRAD, yscale="log",
              title=f"FFN gradient per layer, L = {depth}")
    for ax in axes:
        _integer_ticks(ax, depth)
        ax.legend()
