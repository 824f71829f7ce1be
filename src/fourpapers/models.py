"""The models the chapters share: one concept per class.

:class:`TransformerLM` is a causal decoder-only language model whose blocks put
LayerNorm where each paper puts it:

* ``"post"`` -- Vaswani et al. 2017, Fig. 1 ("Add & Norm"): h = LN(x + Attn(x)); x' =
  LN(h + FFN(h)).
* ``"pre"``  -- tensor2tensor's later default (Xiong et al. 2020): h = x + Attn(LN(x));
  x' = h + FFN(LN(h)); plus a final LN before the output projection.
* ``"resi"`` -- ResiDual (Xie et al. 2023, official code): x_a <- LN(x_a + f(x_a)); x_d
  <- x_d + f(x_a); output x_a + LN(x_d).

``norm="rmsnorm"`` swaps every LayerNorm for RMSNorm (Zhang & Sennrich 2019; Gopher,
chapter 4): a custom autograd function with a hand-derived backward (:func:`rms_norm`).
``positions="relative"`` replaces the learned absolute positions by Transformer-XL
relative attention (Dai et al. 2019, Sec. 3.3; Gopher), and ``init="normal"`` draws
every weight matrix from N(0, 1/d_model) instead of Xavier-uniform.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "check_token_ids",
    "rms_norm",
    "RMSNorm",
    "make_norm",
    "CausalSelfAttention",
    "RelativeSelfAttention",
    "rel_shift",
    "sinusoid_positions",
    "FeedForward",
    "Block",
    "TransformerLM",
]

NORM_POSITIONS = ("post", "pre", "resi")
NORMS = ("layernorm", "rmsnorm")
ACTIVATIONS = ("relu", "gelu")
POSITIONS = ("learned", "relative")
INITS = ("xavier", "normal")
#: The index dtypes ``nn.Embedding`` / ``F.embedding`` accept.
TOKEN_DTYPES = (torch.int64, torch.int32)


def check_token_ids(name: str, ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Reject what an embedding look-up (``emb(ids)``, a row of the table per id) would
    fail on with an opaque ``IndexError`` or ``RuntimeError``, or, when ids are combined
    into one index, silently get wrong: anything but an integer tensor, and ids outside
    ``[0, vocab_size)``. Returns ``ids`` unchanged.

    Cheap enough for every training step: one dtype check, then one min/max pass
    (``torch.aminmax``) over the ids.
    """
    if not isinstance(ids, torch.Tensor):
        raise ValueError(
            f"{name}: expected a tensor of integer token ids, got {type(ids).__name__}"
        )
    if ids.dtype not in TOKEN_DTYPES:
        raise ValueError(
            f"{name}: expected integer token ids (torch.long or torch.int), got dtype "
            f"{ids.dtype}"
        )
    if ids.numel():
        lo, hi = (int(v) for v in torch.aminmax(ids))
        if lo < 0 or hi >= vocab_size:
            raise ValueError(
                f"{name}: expected token ids in [0, {vocab_size}) (the vocabulary size "
                f"is {vocab_size}), "
                f"got ids from {lo} to {hi}"
            )
    return ids


class _RMSNormFunction(torch.autograd.Function):
    """y = x * r * g with r = (mean(x^2) + eps)^(-1/2), and its backward derived by hand
    (one formula each way).

    With c = sum_j dy_j g_j x_j (one dot product per row):
        dx = r * (dy * g) - x * r^3 * c / d          (d = feature size)
        dg = sum over rows of dy * x * r
    The forward repeats ``torch.nn.RMSNorm``'s own operations in the same order, so its
    output is bitwise equal.
    """

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, weight: torch.Tensor | None, eps: float
    ) -> torch.Tensor:
        r = torch.rsqrt(
            x.pow(2).mean(-1, keepdim=True) + eps
        )  # r = 1 / sqrt(mean(a^2) + eps)
        y = torch.mul(x, r)  # a / RMS(a)
        if weight is not None:
            y.mul_(weight)  # ... * g   (in place: no extra tensor)
        ctx.save_for_backward(x, weight, r)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, weight, r = ctx.saved_tensors
        d = x.shape[-1]
        g2, x2, r1 = grad.reshape(-1, d), x.reshape(-1, d), r.reshape(-1)
        gx = g2 * x2  # dy * x, shared by dx and dg
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            c = (
                gx @ weight if weight is not None else gx.sum(-1)
            )  # c = sum_j dy_j g_j x_j
            c = c.mul_(r1.pow(3)).div_(-d).unsqueeze(-1)  # -r^3 c / d
            dx = torch.mul(g2, weight) if weight is not None else g2.clone()
            grad_x = (
                dx.mul_(r1.unsqueeze(-1)).addcmul_(x2, c).reshape(x.shape)
            )  # r (dy g) - x r^3 c / d
        if weight is not None and ctx.needs_input_grad[1]:
            grad_w = r1 @ gx  # dg = sum_rows dy x r
        return grad_x, grad_w, None


def rms_norm(
    x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-5
) -> torch.Tensor:
    """RMSNorm over the last dimension (Zhang & Sennrich 2019, Eq. 4): a_i / RMS(a) *
    g_i, RMS(a) = sqrt(mean(a^2) + eps).

    ``eps`` sits inside the square root, as in ``torch.nn.RMSNorm`` / ``F.rms_norm``
    (the reference code of the paper divides by RMS(a) + eps instead; the two agree at
    eps = 0). The forward is bitwise equal to ``F.rms_norm``; the backward is the
    hand-derived one of :class:`_RMSNormFunction`, so autograd records one node instead
    of six.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] < 1:
        raise ValueError(
            f"x: expected a tensor with a non-empty last dimension, got "
            f"{getattr(x, 'shape', type(x))}"
        )
    if not x.is_floating_point():
        raise ValueError(f"x: expected a floating-point tensor, got {x.dtype}")
    if weight is not None and tuple(weight.shape) != (x.shape[-1],):
        raise ValueError(
            f"weight: expected shape ({x.shape[-1]},) to match x's last dimension, "
            f"got {tuple(weight.shape)}"
        )
    if not isinstance(eps, (int, float)) or eps < 0:
        raise ValueError(f"eps: expected a number >= 0, got {eps!r}")
    return _RMSNormFunction.apply(x, weight, float(eps))


class RMSNorm(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019, Eq. 4): a_i / RMS(a) * g_i with RMS(a) =
    sqrt(mean(a^2) + eps).

    The eps convention is ``torch.nn.RMSNorm``'s (inside the square root). No bias, no
    re-centering. Runs :func:`rms_norm`: the same output as ``torch.nn.RMSNorm``, with a
    hand-derived backward.
    """

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"d: expected a positive feature size, got {d!r}")
        if not isinstance(eps, (int, float)) or eps < 0:
            raise ValueError(f"eps: expected >= 0, got {eps!r}")
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)  # a / RMS(a) * g

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def make_norm(norm: str, d: int) -> nn.Module:
    """``"layernorm"`` -> ``nn.LayerNorm(d)`` (Ba et al. 2016); ``"rmsnorm"`` ->
    :class:`RMSNorm`."""
    if norm == "layernorm":
        return nn.LayerNorm(d)
    if norm == "rmsnorm":
        return RMSNorm(d)
    raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, softmax(QK^T / sqrt(d_head) + mask) V (Vaswani
    et al. 2017, Eq. 1).

    The fused ``qkv`` projection is laid out [W_q; W_k; W_v] like
    ``nn.MultiheadAttention.in_proj_weight``, so weights copy across. Attention runs
    through ``F.scaled_dot_product_attention`` (flash kernel on CPU).
    """

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(
                f"n_heads: expected a divisor of d_model={d_model}, got {n_heads}"
            )
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=-1)
        q, k, v = (
            t.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)
            for t in (q, k, v)
        )  # [B, H, T, dh]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


def sinusoid_positions(distances: torch.Tensor, d_model: int) -> torch.Tensor:
    """R_k = [sin(k w_i), cos(k w_i)] with w_i = 10000^(-2i/d) (Vaswani et al. 2017,
    Sec. 3.5), for each distance k.

    Transformer-XL (Dai et al. 2019) feeds these for the *relative* distances i - j
    instead of absolute positions. Returns ``[len(distances), d_model]``.
    """
    if not isinstance(d_model, int) or d_model < 2 or d_model % 2:
        raise ValueError(f"d_model: expected a positive even integer, got {d_model!r}")
    if distances.dim() != 1:
        raise ValueError(
            f"distances: expected a 1-D tensor, got shape {tuple(distances.shape)}"
        )
    inv_freq = 1.0 / (
        10000
        ** (
            torch.arange(0, d_model, 2, dtype=torch.float32, device=distances.device)
            / d_model
        )
    )
    angles = distances.to(torch.float32)[:, None] * inv_freq[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def rel_shift(x: torch.Tensor) -> torch.Tensor:
    """Transformer-XL's shift (Dai et al. 2019, App. B): turn scores indexed by (query
    i, distance column m) into scores indexed by (query i, key j).

    ``x[..., i, m]`` holds the score of query i with the distance T-1-m (columns run
    from the longest distance down to 0). After the shift, ``out[..., i, j] = x[..., i,
    j + T-1-i]``, the score for distance i - j, for every j <= i; entries above the
    diagonal (j > i) are left-over values that the causal mask removes. Pad one zero
    column on the left, view the rows one longer, drop the first row: no gather, no
    loop.
    """
    if x.dim() < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"x: expected [..., T, T] scores, got shape {tuple(x.shape)}")
    *lead, T, _ = x.shape
    padded = F.pad(x, (1, 0))  # [..., T, T+1]
    padded = padded.reshape(*lead, T + 1, T)  # the same numbers, rows one shorter
    return padded[..., 1:, :].reshape(*lead, T, T)


@functools.lru_cache(maxsize=32)
def _relative_table(
    T: int, d_model: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """R_k for the distances T-1, ..., 0 (cached: the same constant for every layer and
    step). Built outside any inference mode, so a first call under
    ``torch.inference_mode()`` does not poison later training."""
    with torch.inference_mode(False):
        return sinusoid_positions(
            torch.arange(T - 1, -1, -1, device=device), d_model
        ).to(dtype)


@functools.lru_cache(maxsize=32)
def _future(T: int, device: torch.device) -> torch.Tensor:
    """The causal mask: True where key j lies after query i (cached; built outside any
    inference mode)."""
    with torch.inference_mode(False):
        return torch.ones(T, T, dtype=torch.bool, device=device).triu(1)


class RelativeSelfAttention(nn.Module):
    """Multi-head causal self-attention with Transformer-XL relative positions (Dai et
    al. 2019, Sec. 3.3), as in Gopher (Rae et al. 2021). The logit of query i for key j
    (j <= i) is

        A_ij = q_i^T k_j + q_i^T W_R R_{i-j} + u^T k_j + v^T W_R R_{i-j}
             = (q_i + u)^T k_j + (q_i + v)^T W_R R_{i-j},

    scaled by 1/sqrt(d_head), with R the sinusoid of the distance i - j, W_R a learned
    projection and u, v learned per-head biases (``pos_bias_u``, ``pos_bias_v``, zero at
    init). No absolute position enters anywhere, so the output depends on positions only
    through i - j, and any sequence length works.
    """

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(
                f"n_heads: expected a divisor of d_model={d_model}, got {n_heads}"
            )
        if d_model % 2:
            raise ValueError(
                f"d_model: relative positions need an even d_model, got {d_model}"
            )
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.r_proj = nn.Linear(d_model, d_model, bias=False)  # W_R
        d_head = d_model // n_heads
        self.pos_bias_u = nn.Parameter(torch.zeros(n_heads, d_head))  # u
        self.pos_bias_v = nn.Parameter(torch.zeros(n_heads, d_head))  # v

    def scores(self, x: torch.Tensor):
        """The pre-softmax logits A_ij / sqrt(d_head) ``[B, H, T, T]`` (entries j > i
        undefined) and the values."""
        B, T, D = x.shape
        H = self.n_heads
        dh = D // H
        q, k, v = self.qkv(x).split(D, dim=-1)
        q, k, v = (
            t.view(B, T, H, dh).transpose(1, 2) for t in (q, k, v)
        )  # [B, H, T, dh]
        r = self.r_proj(_relative_table(T, D, x.device, x.dtype))  # W_R R_k   [T, D]
        r = r.view(T, H, dh).transpose(0, 1)  # [H, T, dh]
        scale = dh**-0.5
        bd = rel_shift(
            ((q + self.pos_bias_v[:, None, :]) * scale) @ r.transpose(-1, -2)
        )  # (q_i + v)^T W_R R_{i-j}
        ac = ((q + self.pos_bias_u[:, None, :]) * scale) @ k.transpose(
            -1, -2
        )  # (q_i + u)^T k_j
        return ac + bd, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        logits, v = self.scores(x)
        attn = logits.masked_fill_(_future(T, x.device), float("-inf")).softmax(
            -1
        )  # in place: logits is new
        y = attn @ v  # [B, H, T, dh]
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class FeedForward(nn.Module):
    """FFN(x) = act(x W^1 + b^1) W^2 + b^2 (Vaswani et al. 2017, Eq. 2); ``fc2.weight``
    is Xiong's W^2."""

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation: expected one of {ACTIVATIONS}, got {activation!r}"
            )
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.act = nn.ReLU() if activation == "relu" else nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """One Transformer block with its norms placed as ``norm_position`` says (see the
    module docstring).

    ``forward(x, x_d=None)`` returns ``(x, x_d)``: ``x_d`` is ResiDual's second
    (un-normalised) stream and passes through as ``None`` for ``"post"`` and ``"pre"``.
    ``positions="relative"`` uses :class:`RelativeSelfAttention`.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        norm_position: str = "pre",
        norm: str = "layernorm",
        activation: str = "relu",
        positions: str = "learned",
    ):
        super().__init__()
        if norm_position not in NORM_POSITIONS:
            raise ValueError(
                f"norm_position: expected one of {NORM_POSITIONS}, got "
                f"{norm_position!r}"
            )
        if positions not in POSITIONS:
            raise ValueError(
                f"positions: expected one of {POSITIONS}, got {positions!r}"
            )
        self.norm_position = norm_position
        attention = (
            RelativeSelfAttention if positions == "relative" else CausalSelfAttention
        )
        self.attn = attention(d_model, n_heads)
        self.ffn = FeedForward(d_model, d_ff, activation)
        self.norm1 = make_norm(norm, d_model)
        self.norm2 = make_norm(norm, d_model)

    def forward(self, x: torch.Tensor, x_d: torch.Tensor | None = None):
        if self.norm_position == "post":
            h = self.norm1(x + self.attn(x))  # h  = LN(x + Attn(x))
            return self.norm2(h + self.ffn(h)), None  # x' = LN(h + FFN(h))
        if self.norm_position == "pre":
            h = x + self.attn(self.norm1(x))  # h  = x + Attn(LN(x))
            return h + self.ffn(self.norm2(h)), None  # x' = h + FFN(LN(h))
        if x_d is None:
            raise ValueError(
                "x_d: a ResiDual block needs the second stream x_d (start it as the "
                "embedding)"
            )
        f = self.attn(x)
        x, x_d = (
            self.norm1(x + f),
            x_d + f,
        )  # x_a <- LN(x_a + f(x_a));  x_d <- x_d + f(x_a)
        f = self.ffn(x)
        return self.norm2(x + f), x_d + f


class TransformerLM(nn.Module):
    """A causal decoder-only language model: ``forward(tokens[B, T]) -> logits[B, T,
    V]``.

    Token embeddings, position information, ``n_layers`` :class:`Block` s, a final norm
    where the placement needs one (Pre-LN: LN(x); ResiDual: x_a + LN(x_d); Post-LN:
    none, every block already ends in LN), and an untied output projection. No dropout.

    * ``positions="learned"`` (default): a learned absolute position embedding is added
      to the token embedding; sequences may be at most ``max_len`` long. ``"relative"``:
      no position embedding; every attention layer is Transformer-XL relative attention
      (:class:`RelativeSelfAttention`), so any length works.
    * ``init="xavier"`` (default): every weight matrix Xavier-uniform; ``"normal"``:
      every weight matrix and embedding N(0, 1/d_model), i.e. standard deviation
      1/sqrt(d_model). Biases zero, norm gains one, Transformer-XL biases u, v zero.
      ``emb_std`` then replaces the init of the embeddings by N(0, emb_std^2) (chapter 1
      compares inits).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        n_heads: int = 4,
        d_ff: int = 256,
        n_layers: int = 6,
        max_len: int = 128,
        norm_position: str = "pre",
        norm: str = "layernorm",
        activation: str = "relu",
        positions: str = "learned",
        emb_std: float | None = None,
        init: str = "xavier",
    ):
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("d_model", d_model),
            ("d_ff", d_ff),
            ("n_layers", n_layers),
            ("max_len", max_len),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(
                f"n_heads: expected a divisor of d_model={d_model}, got {n_heads}"
            )
        if norm_position not in NORM_POSITIONS:
            raise ValueError(
                f"norm_position: expected one of {NORM_POSITIONS}, got "
                f"{norm_position!r}"
            )
        if norm not in NORMS:
            raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")
        if positions not in POSITIONS:
            raise ValueError(
                f"positions: expected one of {POSITIONS}, got {positions!r}"
            )
        if init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {init!r}")
        if emb_std is not None and not emb_std > 0:
            raise ValueError(
                f"emb_std: expected a positive number or None, got {emb_std!r}"
            )
        self.norm_position, self.norm, self.max_len, self.positions = (
            norm_position,
            norm,
            max_len,
            positions,
        )
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = (
            nn.Embedding(max_len, d_model) if positions == "learned" else None
        )
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, d_ff, norm_position, norm, activation, positions)
            for _ in range(n_layers)
        )
        self.final_norm = (
            make_norm(norm, d_model) if norm_position != "post" else nn.Identity()
        )
        self.head = nn.Linear(d_model, vocab_size)
        self.reset_parameters(emb_std, init)

    def reset_parameters(
        self, emb_std: float | None = None, init: str = "xavier"
    ) -> None:
        """Every weight matrix Xavier-uniform (``init="xavier"``) or N(0, 1/d_model)
        (``init="normal"``); biases zero; norm gains one; ``emb_std`` (if given)
        re-draws the embeddings from N(0, emb_std^2)."""
        if init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {init!r}")
        std = self.tok_emb.embedding_dim**-0.5  # 1/sqrt(d_model)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                if init == "xavier":
                    nn.init.xavier_uniform_(module.weight)
                else:
                    nn.init.normal_(module.weight, 0.0, std)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, RelativeSelfAttention):
                nn.init.zeros_(module.pos_bias_u)
                nn.init.zeros_(module.pos_bias_v)
        for emb in (self.tok_emb, self.pos_emb):
            if emb is not None and emb_std is not None:
                nn.init.normal_(emb.weight, 0.0, emb_std)

    def embed(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Token embeddings, plus the learned embeddings of positions ``offset, ...,
        offset + T - 1`` (learned positions only: a window that starts ``offset`` tokens
        into a text). Relative models add nothing here. ``tokens`` must be integer ids
        in ``[0, vocab_size)`` (:func:`check_token_ids`)."""
        check_token_ids("tokens", tokens, self.tok_emb.num_embeddings)
        if tokens.dim() != 2:
            raise ValueError(
                f"tokens: expected shape [batch, time], got {tuple(tokens.shape)}"
            )
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset: expected a non-negative integer, got {offset!r}")
        x = self.tok_emb(tokens)
        if self.pos_emb is None:
            return x  # relative: positions enter only as i - j
        T = tokens.shape[1]
        if offset + T > self.max_len:
            raise ValueError(
                f"tokens: sequence length {T} (offset {offset}) exceeds "
                f"max_len={self.max_len}"
            )
        return x + self.pos_emb(torch.arange(offset, offset + T, device=tokens.device))

    def hidden_states(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """The residual stream after the embedding and after every block (ResiDual: the
        x_a stream)."""
        x = self.embed(tokens)
        x_d = (
            x if self.norm_position == "resi" else None
        )  # ResiDual's x_d starts as the embedding
        states = [x]
        for block in self.blocks:
            x, x_d = block(x, x_d)
            states.append(x)
        return states

    def forward(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        x = self.embed(tokens, offset)
        x_d = x if self.norm_position == "resi" else None
        for block in self.blocks:
            x, x_d = block(x, x_d)
        if self.norm_position == "resi":
            x = x + self.final_norm(x_d)  # y = x_a + LN(x_d)
        else:
            x = self.final_norm(x)  # Pre-LN: LN(x_L); Post-LN: identity
        return self.head(x)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameter count; ``non_embedding=True`` leaves out the embedding tables and
        the output head."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            tables = [
                m for m in (self.tok_emb, self.pos_emb, self.head) if m is not None
            ]
            total -= sum(p.numel() for m in tables for p in m.parameters())
        return total
