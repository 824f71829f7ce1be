"""The models the chapters share: one concept per class.

:class:`TransformerLM` is a causal decoder-only language model whose blocks put LayerNorm where each paper puts it:

* ``"post"`` -- Vaswani et al. 2017, Fig. 1 ("Add & Norm"): h = LN(x + Attn(x)); x' = LN(h + FFN(h)).
* ``"pre"``  -- tensor2tensor's later default (Xiong et al. 2020): h = x + Attn(LN(x)); x' = h + FFN(LN(h));
  plus a final LN before the output projection.
* ``"resi"`` -- ResiDual (Xie et al. 2023, official code): x_a <- LN(x_a + f(x_a)); x_d <- x_d + f(x_a);
  output x_a + LN(x_d).

``norm="rmsnorm"`` swaps every LayerNorm for RMSNorm (Zhang & Sennrich 2019; Gopher, chapter 4).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["RMSNorm", "make_norm", "CausalSelfAttention", "FeedForward", "Block", "TransformerLM"]

NORM_POSITIONS = ("post", "pre", "resi")
NORMS = ("layernorm", "rmsnorm")
ACTIVATIONS = ("relu", "gelu")
POSITIONS = ("learned",)


class RMSNorm(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019, Eq. 4): a_i / RMS(a) * g_i with RMS(a) = sqrt(mean(a^2) + eps).

    The eps convention is ``torch.nn.RMSNorm``'s (inside the square root). No bias, no re-centering.
    """

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        if d < 1:
            raise ValueError(f"d: expected a positive feature size, got {d}")
        if eps < 0:
            raise ValueError(f"eps: expected >= 0, got {eps}")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight  # a / RMS(a) * g


def make_norm(norm: str, d: int) -> nn.Module:
    """``"layernorm"`` -> ``nn.LayerNorm(d)`` (Ba et al. 2016); ``"rmsnorm"`` -> :class:`RMSNorm`."""
    if norm == "layernorm":
        return nn.LayerNorm(d)
    if norm == "rmsnorm":
        return RMSNorm(d)
    raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, softmax(QK^T / sqrt(d_head) + mask) V (Vaswani et al. 2017, Eq. 1).

    The fused ``qkv`` projection is laid out [W_q; W_k; W_v] like ``nn.MultiheadAttention.in_proj_weight``, so
    weights copy across. Attention runs through ``F.scaled_dot_product_attention`` (flash kernel on CPU).
    """

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(f"n_heads: expected a divisor of d_model={d_model}, got {n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=-1)
        q, k, v = (t.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2) for t in (q, k, v))  # [B, H, T, dh]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class FeedForward(nn.Module):
    """FFN(x) = act(x W^1 + b^1) W^2 + b^2 (Vaswani et al. 2017, Eq. 2); ``fc2.weight`` is Xiong's W^2."""

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {activation!r}")
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.act = nn.ReLU() if activation == "relu" else nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """One Transformer block with its norms placed as ``norm_position`` says (see the module docstring).

    ``forward(x, x_d=None)`` returns ``(x, x_d)``: ``x_d`` is ResiDual's second (un-normalised) stream and passes
    through as ``None`` for ``"post"`` and ``"pre"``.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, norm_position: str = "pre", norm: str = "layernorm",
                 activation: str = "relu"):
        super().__init__()
        if norm_position not in NORM_POSITIONS:
            raise ValueError(f"norm_position: expected one of {NORM_POSITIONS}, got {norm_position!r}")
        self.norm_position = norm_position
        self.attn = CausalSelfAttention(d_model, n_heads)
        self.ffn = FeedForward(d_model, d_ff, activation)
        self.norm1 = make_norm(norm, d_model)
        self.norm2 = make_norm(norm, d_model)

    def forward(self, x: torch.Tensor, x_d: torch.Tensor | None = None):
        if self.norm_position == "post":
            h = self.norm1(x + self.attn(x))                  # h  = LN(x + Attn(x))
            return self.norm2(h + self.ffn(h)), None          # x' = LN(h + FFN(h))
        if self.norm_position == "pre":
            h = x + self.attn(self.norm1(x))                  # h  = x + Attn(LN(x))
            return h + self.ffn(self.norm2(h)), None          # x' = h + FFN(LN(h))
        if x_d is None:
            raise ValueError("x_d: a ResiDual block needs the second stream x_d (start it as the embedding)")
        f = self.attn(x)
        x, x_d = self.norm1(x + f), x_d + f                   # x_a <- LN(x_a + f(x_a));  x_d <- x_d + f(x_a)
        f = self.ffn(x)
        return self.norm2(x + f), x_d + f


class TransformerLM(nn.Module):
    """A causal decoder-only language model: ``forward(tokens[B, T]) -> logits[B, T, V]``.

    Token and learned position embeddings, ``n_layers`` :class:`Block` s, a final norm where the placement needs
    one (Pre-LN: LN(x); ResiDual: x_a + LN(x_d); Post-LN: none, every block already ends in LN), and an untied
    output projection. Weights Xavier-uniform, biases zero, no dropout. ``emb_std`` replaces the Xavier init of the
    two embeddings by N(0, emb_std^2) (chapter 1 compares inits).
    """

    def __init__(self, vocab_size: int, d_model: int = 64, n_heads: int = 4, d_ff: int = 256, n_layers: int = 6,
                 max_len: int = 128, norm_position: str = "pre", norm: str = "layernorm", activation: str = "relu",
                 positions: str = "learned", emb_std: float | None = None):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("d_model", d_model), ("d_ff", d_ff),
                            ("n_layers", n_layers), ("max_len", max_len)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(f"n_heads: expected a divisor of d_model={d_model}, got {n_heads}")
        if norm_position not in NORM_POSITIONS:
            raise ValueError(f"norm_position: expected one of {NORM_POSITIONS}, got {norm_position!r}")
        if norm not in NORMS:
            raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")
        if positions not in POSITIONS:
            raise ValueError(f"positions: expected one of {POSITIONS}, got {positions!r}")
        if emb_std is not None and not emb_std > 0:
            raise ValueError(f"emb_std: expected a positive number or None, got {emb_std!r}")
        self.norm_position, self.norm, self.max_len = norm_position, norm, max_len
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, d_ff, norm_position, norm, activation) for _ in range(n_layers)
        )
        self.final_norm = make_norm(norm, d_model) if norm_position != "post" else nn.Identity()
        self.head = nn.Linear(d_model, vocab_size)
        self.reset_parameters(emb_std)

    def reset_parameters(self, emb_std: float | None = None) -> None:
        """Xavier-uniform for every weight matrix, zeros for biases, ones for norm gains."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.xavier_uniform_(module.weight)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        for emb in (self.tok_emb, self.pos_emb):
            if emb_std is not None:
                nn.init.normal_(emb.weight, 0.0, emb_std)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2:
            raise ValueError(f"tokens: expected shape [batch, time], got {tuple(tokens.shape)}")
        T = tokens.shape[1]
        if T > self.max_len:
            raise ValueError(f"tokens: sequence length {T} exceeds max_len={self.max_len}")
        return self.tok_emb(tokens) + self.pos_emb(torch.arange(T, device=tokens.device))

    def hidden_states(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """The residual stream after the embedding and after every block (ResiDual: the x_a stream)."""
        x = self.embed(tokens)
        x_d = x if self.norm_position == "resi" else None  # ResiDual's x_d starts as the embedding
        states = [x]
        for block in self.blocks:
            x, x_d = block(x, x_d)
            states.append(x)
        return states

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        x_d = x if self.norm_position == "resi" else None
        for block in self.blocks:
            x, x_d = block(x, x_d)
        if self.norm_position == "resi":
            x = x + self.final_norm(x_d)                      # y = x_a + LN(x_d)
        else:
            x = self.final_norm(x)                            # Pre-LN: LN(x_L); Post-LN: identity
        return self.head(x)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameter count; ``non_embedding=True`` leaves out the two embedding tables and the output head."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= sum(p.numel() for m in (self.tok_emb, self.pos_emb, self.head) for p in m.parameters())
        return total

