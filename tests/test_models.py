import pytest
import torch
import torch.nn as nn

from fourpapers.models import Block, RMSNorm, TransformerLM, check_token_ids


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
    ref = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, activation="relu", batch_first=True, norm_first=norm_first)
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
    model = TransformerLM(11, d_model=16, n_heads=2, d_ff=32, n_layers=3, max_len=12, norm_position=position, norm=norm)
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
    small = TransformerLM(20, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=8, emb_std=0.02)
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
@pytest.mark.parametrize("tokens, expected", [
    (torch.tensor([[0, 3, 10]]), r"tokens: expected token ids in \[0, 10\).*from 0 to 10"),     # id = vocab size
    (torch.tensor([[2, -1, 4]]), r"tokens: expected token ids in \[0, 10\).*from -1 to 4"),     # negative id
    (torch.tensor([[0.0, 3.0]]), r"tokens: expected integer token ids.*torch.float32"),          # float tokens
    (torch.tensor([[True, False]]), r"tokens: expected integer token ids.*torch.bool"),
    ([[0, 1]], r"tokens: expected a tensor of integer token ids, got list"),
])
def test_bad_tokens_raise_value_error_naming_the_argument(positions, tokens, expected):
    """Before: IndexError ("index out of range in self") from the embedding, RuntimeError for float ids."""
    model = TransformerLM(10, d_model=16, n_heads=2, d_ff=16, n_layers=1, max_len=8, positions=positions)
    with pytest.raises(ValueError, match=expected):
        model(tokens)
    with pytest.raises(ValueError, match=expected):
        model.hidden_states(tokens)


def test_valid_tokens_pass_unchanged_and_int32_gives_the_same_logits():
    model = TransformerLM(10, d_model=16, n_heads=2, d_ff=16, n_layers=1, max_len=8)
    tokens = torch.tensor([[0, 9, 5, 9], [1, 2, 3, 0]])
    assert check_token_ids("tokens", tokens, 10) is tokens
    assert check_token_ids("tokens", torch.zeros(0, 3, dtype=torch.long), 10).numel() == 0   # empty: nothing to check
    assert torch.equal(model(tokens), model(tokens.to(torch.int32)))
    with pytest.raises(ValueError, match=r"ids: expected token ids in \[0, 5\)"):
        check_token_ids("ids", torch.tensor([5]), 5)
