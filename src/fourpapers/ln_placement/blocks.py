"""Xiong et al. Fig. 1's blocks, drawn from a trace of the model's Block.forward."""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch.fx as fx
import torch.nn as nn

from .. import plotting
from ..models import Block, CausalSelfAttention, FeedForward, RMSNorm
from ._common import _NAMES, _check_position

# The block diagram, traced from Block.forward
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockOp:
    """One step of a traced block: ``kind`` in input / attn / ffn / norm / add / output,
    and its inputs' names."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    label: str


class _BlockTracer(fx.Tracer):
    """Keeps attention, FFN and the norms whole, so the graph is the block's diagram
    rather than its arithmetic."""

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
    """The operations of one ``Block(norm_position)`` in execution order, traced from
    ``Block.forward`` with ``torch.fx`` (Vaswani et al. 2017 Fig. 1 for ``"post"``;
    Xiong et al. 2020 Fig. 1 for ``"pre"``; Xie et al. 2023 Fig. 2 for ``"resi"``).
    Inputs are ``x`` (and ResiDual's ``x_d``); outputs are named ``out`` / ``out_d``."""
    _check_position(norm_position)
    block = Block(8, 2, 16, norm_position=norm_position, norm=norm)
    graph = _BlockTracer().trace(
        block, concrete_args=None if norm_position == "resi" else {"x_d": None}
    )
    modules = dict(block.named_modules())
    norm_label = "RMSNorm" if norm == "rmsnorm" else "LayerNorm"
    ops: list[BlockOp] = []
    for node in graph.nodes:
        ins = tuple(_flatten_names(node.args))
        used = any(
            u.op == "call_module" or u.target is operator.add for u in node.users
        )
        if (
            node.op == "placeholder" and used
        ):  # the specialised x_d=None of post/pre is used by no operation
            label = (
                "$x_d$"
                if node.name == "x_d"
                else ("$x_a$" if norm_position == "resi" else "$x$")
            )
            ops.append(BlockOp(node.name, "input", (), label))
        elif node.op == "call_module":
            mod = modules[node.target]
            kind = (
                "attn"
                if isinstance(mod, CausalSelfAttention)
                else "ffn"
                if isinstance(mod, FeedForward)
                else "norm"
            )
            label = {
                "attn": "Multi-head\nattention",
                "ffn": "Feed-\nforward",
                "norm": norm_label,
            }[kind]
            ops.append(BlockOp(node.name, kind, ins, label))
        elif node.op == "call_function" and node.target is operator.add:
            ops.append(BlockOp(node.name, "add", ins, "+"))
        elif node.op == "output":
            for name, src in zip(("out", "out_d"), _flatten_names(node.args)):
                ops.append(
                    BlockOp(
                        name,
                        "output",
                        (src,),
                        "$x_d'$"
                        if name == "out_d"
                        else ("$x_a'$" if norm_position == "resi" else "$x'$"),
                    )
                )
    return ops


def _layout(ops: list[BlockOp]) -> dict[str, tuple[int, int]]:
    """Row = longest path from the inputs; column 1 for ResiDual's x_d stream (ops fed
    only by it), else 0."""
    pos: dict[str, tuple[int, int]] = {}
    d_stream: set[str] = set()
    for op in ops:
        row = 1 + max((pos[i][0] for i in op.inputs), default=-1)
        if op.name == "x_d" or (
            op.kind in ("add", "output") and any(i in d_stream for i in op.inputs)
        ):
            d_stream.add(op.name)
        pos[op.name] = (row, 1 if op.name in d_stream else 0)
    return pos


def _edge_path(
    src: tuple[float, float, float],
    dst: tuple[float, float, float],
    side: float,
    straight: bool,
):
    """Vertices of one arrow from ``src`` to ``dst``, each (x, y, half height): straight
    up when nothing lies between, a residual branch on the ``side`` (-1 left, +1 right)
    when something does, an elbow across streams."""
    (x0, y0, h0), (x1, y1, h1) = src, dst
    if x0 == x1 and straight:
        return [(x0, y0 + h0), (x1, y1 - h1)]
    if (
        x0 == x1
        # the residual: branch off just above the source, run beside the sublayers,
        # enter the "+" sideways
    ):
        xb = x0 + side * 1.2
        return [
            (x0, y0 + h0 + 0.12),
            (xb, y0 + h0 + 0.12),
            (xb, y1),
            (x1 + side * 0.17, y1),
        ]
    step = (
        1.0 if x1 > x0 else -1.0
    )  # across streams: leave sideways, rise beside the target, enter sideways
    xm = x1 - step * 0.5
    return [(x0 + step * 1.0, y0), (xm, y0), (xm, y1), (x1 - step * 0.17, y1)]


def draw_block(norm_position: str, ax=None, norm: str = "layernorm"):
    """Draw one block as traced by :func:`block_graph` (input at the bottom, as in
    Vaswani et al. 2017 Fig. 1): boxes for attention, FFN and norms (the norms outlined
    in the placement's colour), circles for residual additions, one arrow per data
    dependency of ``Block.forward``. Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    ops = block_graph(norm_position, norm)
    pos = _layout(ops)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.4, 4.8))
    colour = plotting.color(norm_position)
    fill = {"attn": "#FCE9C8", "ffn": "#D8ECF8", "norm": "#E6F4EA"}
    half = {
        "attn": 0.3,
        "ffn": 0.3,
        "norm": 0.3,
        "add": 0.17,
        "input": 0.22,
        "output": 0.22,
    }
    xy = {
        op.name: (2.6 * pos[op.name][1], 1.0 * pos[op.name][0], half[op.kind])
        for op in ops
    }
    for op in ops:
        x, y, _ = xy[op.name]
        if op.kind in fill:
            ax.add_patch(
                FancyBboxPatch(
                    (x - 1.0, y - 0.3),
                    2.0,
                    0.6,
                    boxstyle="round,pad=0.02,rounding_size=0.08",
                    fc=fill[op.kind],
                    ec=colour if op.kind == "norm" else "#444444",
                    lw=2.2 if op.kind == "norm" else 1.0,
                )
            )
            ax.text(
                x, y, op.label, ha="center", va="center", fontsize=12, linespacing=1.0
            )
        elif op.kind == "add":
            ax.add_patch(plt.Circle((x, y), 0.17, fc="white", ec="#444444", lw=1.0))
            ax.text(x, y, "+", ha="center", va="center", fontsize=13)
        else:
            ax.text(x, y, op.label, ha="center", va="center", fontsize=13)
    for op in ops:
        for src in op.inputs:
            (r0, c0), (r1, _) = pos[src], pos[op.name]
            between = any(c == c0 and r0 < r < r1 for r, c in pos.values())
            verts = _edge_path(
                xy[src],
                xy[op.name],
                side=-1.0 if c0 == 0 else 1.0,
                straight=not between,
            )
            codes = [Path.MOVETO] + [Path.LINETO] * (len(verts) - 1)
            ax.add_patch(
                FancyArrowPatch(
                    path=Path(verts, codes),
                    arrowstyle="-|>",
                    mutation_scale=9,
                    lw=1.0,
                    color="#666666",
                    shrinkA=0,
                    shrinkB=0,
                )
            )
    xs = [v[0] for v in xy.values()]
    ys = [v[1] for v in xy.values()]
    ax.set_xlim(min(xs) - 1.45, max(xs) + 1.45)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(_NAMES[norm_position], color=colour)
    return ax


# --------------------------------------------------------------------------------------
