import math

import pytest
import torch
import torch.nn as nn

from fourpapers.models import (
    Block,
    RelativeSelfAttention,
    RMSNorm,
    TransformerLM,
    check_token_ids,
    rel_shift,
    sinusoid_positions,
)


def _copy_into_reference(block: Block, ref: nn.TransformerEncoderLayer) -> None:
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(block.attn.qkv.weight)
        ref.self_attn.in_proj_bias.copy_(block.attn.qkv.bias)
        ref.self_attn.out_proj.weight.copy_(block.attn.proj.weight)
        ref.self_attn.out_proj.bias.copy_(block.attn.proj.bias)
        ref.linear1.weight.copy_(block.ffn.fc1.weight)
        ref.linear1.bias.copy_(block.ffn.fc1.bias)
        ref.linear2.weight.copy_(block.ffn.fc2.weight)
        ref.linear2.bias.copy_(block.ffn.fc2.bias)
        for mine, theirs in ((block.norm1, ref.norm1), (block.norm2, ref.norm2)):
            mine.weight.copy_(torch.rand_like(mine.weight) + 0.5)
            mine.bias.copy_(torch.randn_like(mine.bias) * 0.1)
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)


@pytest.mark.parametrize("position, norm_first", [("post", False), ("pre", True)])
def test_block_equals_torch_transformer_encoder_layer(position, norm_first):
    torch.manual_seed(0)
    block = Block(32, 4, 64, norm_position=position)
    for p in block.parameters():  # non-zero biases too
        nn.init.normal_(p, 0, 0.2)
    ref = nn.TransformerEncoderLayer(
        32,
        4,
        64,
        dropout=0.0,
        activation="relu",
        batch_first=True,
        norm_first=norm_first,
    )
    _copy_into_reference(block, ref)
    x = torch.randn(3, 10, 32)
    mask = nn.Transformer.generate_square_subsequent_mask(10)
    ref.eval()
    expected = ref(x, src_mask=mask, is_causal=True)
    got, _ = block(x)
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("position", ["post", "pre", "resi"])
@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_lm_shapes_and_causality(position, norm):
    torch.manual_seed(0)
    model = TransformerLM(
        11,
        d_model=16,
        n_heads=2,
        d_ff=32,
        n_layers=3,
        max_len=12,
        norm_position=position,
        norm=norm,
    )
    tokens = torch.randint(0, 11, (2, 12))
    logits = model(tokens)
    assert logits.shape == (2, 12, 11)
    changed = tokens.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 11
    assert torch.allclose(model(changed)[:, :7], logits[:, :7], atol=1e-6)
    assert not torch.allclose(model(changed)[:, 7:], logits[:, 7:])


def test_init_is_xavier_with_zero_biases_and_hidden_states_count():
    model = TransformerLM(20, d_model=16, n_heads=2, d_ff=32, n_layers=4, max_len=8)
    w = model.blocks[0].ffn.fc2.weight
    bound = (6 / (w.shape[0] + w.shape[1])) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.8 * bound
    assert all(torch.count_nonzero(b.ffn.fc2.bias) == 0 for b in model.blocks)
    assert len(model.hidden_states(torch.zeros(1, 8, dtype=torch.long))) == 5
    small = TransformerLM(
        20, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=8, emb_std=0.02
    )
    assert small.tok_emb.weight.std() < 0.03


def test_rmsnorm_equals_torch_rmsnorm():
    x = torch.randn(4, 7, 16)
    mine, ref = RMSNorm(16, eps=1e-6), nn.RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        mine.weight.uniform_(0.5, 1.5)
        ref.weight.copy_(mine.weight)
    assert torch.allclose(mine(x), ref(x), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(d_model=30, n_heads=4), "n_heads"),
        (dict(norm_position="middle"), "norm_position"),
        (dict(norm="batchnorm"), "norm"),
        (dict(positions="rotary"), "positions"),
        (dict(n_layers=0), "n_layers"),
        (dict(emb_std=0.0), "emb_std"),
        (dict(activation="tanh"), "activation"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        TransformerLM(10, **kwargs)


def test_too_long_input_is_rejected():
    model = TransformerLM(10, d_model=16, n_heads=2, d_ff=16, n_layers=1, max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 5, dtype=torch.long))


@pytest.mark.parametrize("positions", ["learned", "relative"])
@pytest.mark.parametrize(
    "tokens, expected",
    [
        (
            torch.tensor([[0, 3, 10]]),
            r"tokens: expected token ids in \[0, 10\).*from 0 to 10",
        ),  # id = vocab size
        (
            torch.tensor([[2, -1, 4]]),
            r"tokens: expected token ids in \[0, 10\).*from -1 to 4",
        ),  # negative id
        (
            torch.tensor([[0.0, 3.0]]),
            r"tokens: expected integer token ids.*torch.float32",
        ),  # float tokens
        (
            torch.tensor([[True, False]]),
            r"tokens: expected integer token ids.*torch.bool",
        ),
        ([[0, 1]], r"tokens: expected a tensor of integer token ids, got list"),
    ],
)
def test_bad_tokens_raise_value_error_naming_the_argument(positions, tokens, expected):
    """Before: IndexError ("index out of range in self") from the embedding,
    RuntimeError for float ids."""
    model = TransformerLM(
        10, d_model=16, n_heads=2, d_ff=16, n_layers=1, max_len=8, positions=positions
    )
    with pytest.raises(ValueError, match=expected):
        model(tokens)
    with pytest.raises(ValueError, match=expected):
        model.hidden_states(tokens)


def test_valid_tokens_pass_unchanged_and_int32_gives_the_same_logits():
    model = TransformerLM(10, d_model=16, n_heads=2, d_ff=16, n_layers=1, max_len=8)
    tokens = torch.tensor([[0, 9, 5, 9], [1, 2, 3, 0]])
    assert check_token_ids("tokens", tokens, 10) is tokens
    assert (
        check_token_ids("tokens", torch.zeros(0, 3, dtype=torch.long), 10).numel() == 0
    )  # empty: nothing to check
    assert torch.equal(model(tokens), model(tokens.to(torch.int32)))
    with pytest.raises(ValueError, match=r"ids: expected token ids in \[0, 5\)"):
        check_token_ids("ids", torch.tensor([5]), 5)


# --------------------------------------------------------------------------------------
# Transformer-XL relative attention and the normal init (chapter 4's model)
# --------------------------------------------------------------------------------------


def test_rel_shift_moves_each_distance_to_its_key():
    T = 5
    # column m holds distance T-1-m; after the shift entry (i, j) must hold distance i-j
    # for j <= i
    x = torch.tensor([[float(T - 1 - m + 10 * i) for m in range(T)] for i in range(T)])
    out = rel_shift(x)
    for i in range(T):
        for j in range(i + 1):
            assert out[i, j] == (i - j) + 10 * i


@torch.no_grad()
def test_relative_logits_equal_a_naive_loop():
    torch.manual_seed(6)
    att = RelativeSelfAttention(16, 2)
    with torch.no_grad():
        att.pos_bias_u.normal_()
        att.pos_bias_v.normal_()
    x = torch.randn(2, 9, 16)
    logits, _ = att.scores(x)
    B, T, D = x.shape
    H, dh = 2, 8
    q, k, _ = att.qkv(x).split(D, -1)
    q, k = q.view(B, T, H, dh), k.view(B, T, H, dh)
    u, v = att.pos_bias_u, att.pos_bias_v
    worst = 0.0
    for i in range(T):
        for j in range(i + 1):
            wr = att.r_proj(sinusoid_positions(torch.tensor([i - j]), D)[0]).view(
                H, dh
            )  # W_R R_{i-j}
            for h in range(H):
                a = (
                    (q[:, i, h] * k[:, j, h]).sum(-1)
                    + (q[:, i, h] * wr[h]).sum(-1)
                    + (u[h] * k[:, j, h]).sum(-1)
                    + (v[h] * wr[h]).sum(-1)
                )
                worst = max(
                    worst, float((a / math.sqrt(dh) - logits[:, h, i, j]).abs().max())
                )
    assert worst < 1e-6


def _lm(positions, **kw):
    torch.manual_seed(7)
    return TransformerLM(
        30,
        d_model=16,
        n_heads=2,
        d_ff=32,
        n_layers=2,
        max_len=24,
        norm="rmsnorm",
        positions=positions,
        **kw,
    )


def test_relative_outputs_are_invariant_to_a_global_position_shift():
    tokens = torch.randint(0, 30, (2, 10))
    rel, learned = _lm("relative"), _lm("learned")
    assert rel.pos_emb is None
    assert torch.equal(rel(tokens, offset=0), rel(tokens, offset=7))
    assert not torch.allclose(learned(tokens, offset=0), learned(tokens, offset=7))


def test_relative_model_is_causal_and_runs_beyond_max_len():
    model = _lm("relative")
    tokens = torch.randint(
        0, 30, (2, 40)
    )  # longer than max_len=24: relative positions have no table
    logits = model(tokens)
    changed = tokens.clone()
    changed[:, 25:] = (changed[:, 25:] + 1) % 30
    after = model(changed)
    assert torch.allclose(after[:, :25], logits[:, :25], atol=1e-6)
    assert not torch.allclose(after[:, 25:], logits[:, 25:])


def test_relative_model_trains_after_a_first_call_in_inference_mode():
    model = TransformerLM(
        30, d_model=16, n_heads=2, d_ff=32, n_layers=1, positions="relative"
    )
    tokens = torch.randint(
        0, 30, (2, 13)
    )  # a length no other test uses, so the cached tables are built here
    with torch.inference_mode():
        model(tokens)
    model(tokens).sum().backward()
    assert model.blocks[0].attn.r_proj.weight.grad is not None


def test_normal_init_has_std_one_over_sqrt_d_and_zero_biases():
    model = TransformerLM(
        500,
        d_model=64,
        n_heads=4,
        d_ff=256,
        n_layers=2,
        positions="relative",
        init="normal",
    )
    w = torch.cat(
        [model.blocks[0].ffn.fc2.weight.flatten(), model.tok_emb.weight.flatten()]
    ).detach()
    assert abs(float(w.std()) - 64**-0.5) < 0.005
    assert torch.count_nonzero(model.blocks[1].attn.qkv.bias) == 0
    assert torch.count_nonzero(model.blocks[1].attn.pos_bias_u) == 0
    xavier = TransformerLM(500, d_model=64, n_heads=4, d_ff=256, n_layers=1)
    bound = (6 / (64 + 256)) ** 0.5
    assert float(xavier.blocks[0].ffn.fc2.weight.detach().abs().max()) <= bound


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: TransformerLM(10, init="kaiming"), "init"),
        (
            lambda: TransformerLM(10, d_model=16, n_heads=2, positions="relative")(
                torch.zeros(1, 4, dtype=torch.long), offset=-1
            ),
            "offset",
        ),
        (lambda: RelativeSelfAttention(16, 3), "n_heads"),
        (lambda: rel_shift(torch.zeros(3, 4)), "x"),
        (lambda: sinusoid_positions(torch.arange(3), 5), "d_model"),
        (lambda: sinusoid_positions(torch.zeros(2, 2), 4), "distances"),
        (
            lambda: TransformerLM(10, d_model=16, n_heads=2, max_len=8)(
                torch.zeros(1, 4, dtype=torch.long), offset=5
            ),
            "max_len",
        ),
    ],
)
def test_model_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
