"""Chapter 1: exact checks of the three blocks; Fig. 1's traced diagrams."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.func import functional_call  # noqa: E402

from fourpapers import ln_placement as ln  # noqa: E402
from fourpapers.models import Block, TransformerLM  # noqa: E402


def _random_norms(block: Block) -> None:
    """Non-trivial gains and biases, so LN(LN(x)) is not just LN(x)."""
    with torch.no_grad():
        for n in (block.norm1, block.norm2):
            n.weight.uniform_(0.5, 1.5)
            n.bias.normal_(0, 0.3)


def _zero_output_projections(block: Block) -> None:
    with torch.no_grad():
        for lin in (block.attn.proj, block.ffn.fc2):
            lin.weight.zero_()
            lin.bias.zero_()


# --------------------------------------------------------------------------------------
# Exact checks of the blocks
# --------------------------------------------------------------------------------------


def test_zeroed_output_projections_make_pre_ln_the_identity_and_post_ln_two_norms():
    torch.manual_seed(0)
    x, x_d = torch.randn(3, 7, 16), torch.randn(3, 7, 16)
    blocks = {p: Block(16, 4, 32, norm_position=p) for p in ("post", "pre", "resi")}
    for b in blocks.values():
        _random_norms(b)
        _zero_output_projections(b)
    pre, _ = blocks["pre"](x)
    assert torch.equal(pre, x)  # h = x + 0; x' = h + 0
    post, _ = blocks["post"](x)
    torch.testing.assert_close(
        post, blocks["post"].norm2(blocks["post"].norm1(x)), atol=1e-6, rtol=0
    )
    resi_a, resi_d = blocks["resi"](x, x_d)
    torch.testing.assert_close(
        resi_a, blocks["resi"].norm2(blocks["resi"].norm1(x)), atol=1e-6, rtol=0
    )
    assert torch.equal(resi_d, x_d)  # x_d + 0 + 0


def test_layernorm_is_idempotent_and_post_ln_output_has_zero_mean_and_fixed_norm():
    torch.manual_seed(0)
    d, eps = 32, 1e-5
    ln_ = nn.LayerNorm(d, eps=eps)
    x = torch.randn(4, 9, d) * 3 + 1
    torch.testing.assert_close(ln_(ln_(x)), ln_(x), atol=2e-5, rtol=0)
    block = Block(d, 4, 64, norm_position="post")
    out, _ = block(x)
    h = block.norm1(x + block.attn(x))
    z = h + block.ffn(h)  # the input of the last LN
    var = z.var(-1, unbiased=False)
    torch.testing.assert_close(out.mean(-1), torch.zeros_like(var), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        out.pow(2).sum(-1), d * var / (var + eps), atol=0, rtol=1e-5
    )


@pytest.mark.parametrize("position", ["post", "pre", "resi"])
def test_block_float64_gradcheck(position):
    torch.manual_seed(0)
    block = Block(8, 2, 16, norm_position=position).double()
    _random_norms(block)
    x = torch.randn(2, 5, 8, dtype=torch.float64, requires_grad=True)
    if position == "resi":
        x_d = torch.randn(2, 5, 8, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda a, b: block(a, b), (x, x_d))
    else:
        assert torch.autograd.gradcheck(lambda a: block(a)[0], (x,))


@pytest.mark.parametrize("position", ["post", "pre", "resi"])
def test_lm_float64_gradcheck_of_the_measured_weight(position):
    """The quantity of Xiong et al. Fig. 3, dL/dW^2 of the last FFN, checked against
    finite differences."""
    torch.manual_seed(0)
    model = TransformerLM(
        7, d_model=8, n_heads=2, d_ff=16, n_layers=2, max_len=6, norm_position=position
    ).double()
    tokens = torch.randint(0, 7, (2, 6))
    name = "blocks.1.ffn.fc2.weight"
    w = dict(model.named_parameters())[name].detach().clone().requires_grad_(True)

    def loss(weight):
        logits = functional_call(model, {name: weight}, (tokens[:, :-1],))
        return nn.functional.cross_entropy(
            logits.reshape(-1, 7), tokens[:, 1:].reshape(-1)
        )

    assert torch.autograd.gradcheck(loss, (w,))


def test_residual_x_a_stream_is_the_post_ln_stream():
    """Same seed, same weights: ResiDual's forward x_a stream equals Post-LN's, bit for
    bit."""
    states = {}
    tokens = torch.randint(0, 11, (2, 9), generator=torch.Generator().manual_seed(1))
    for p in ("post", "resi"):
        torch.manual_seed(0)
        model = TransformerLM(
            11, d_model=16, n_heads=2, d_ff=32, n_layers=4, max_len=9, norm_position=p
        )
        states[p] = model.hidden_states(tokens)
    assert all(torch.equal(a, b) for a, b in zip(states["post"], states["resi"]))


def test_pre_ln_residual_stream_grows_roughly_linearly_with_depth():
    """Xiong et al. Lemma: E||x_l||^2 grows linearly in l for Pre-LN (Post-LN keeps it
    fixed). One draw is noisy per layer, so: a straight line fits ||x_l||^2/d (R^2 >
    0.95), and layers 9-16 add within 2x what layers 1-8 add."""
    torch.manual_seed(0)
    model = TransformerLM(
        50,
        d_model=64,
        n_heads=4,
        d_ff=256,
        n_layers=16,
        max_len=64,
        norm_position="pre",
    )
    tokens = torch.randint(0, 50, (16, 64))
    with torch.no_grad():
        sq = torch.tensor(
            [float(h.pow(2).sum(-1).mean()) / 64 for h in model.hidden_states(tokens)]
        )
    layer = torch.arange(17.0)
    slope = float(
        ((layer - layer.mean()) * (sq - sq.mean())).sum()
        / ((layer - layer.mean()) ** 2).sum()
    )
    resid = sq - (sq.mean() + slope * (layer - layer.mean()))
    r2 = 1 - float(resid.pow(2).sum() / (sq - sq.mean()).pow(2).sum())
    assert slope > 0 and r2 > 0.95
    early, late = float(sq[8] - sq[0]), float(sq[16] - sq[8])
    assert 0.5 < late / early < 2.0


@pytest.mark.parametrize(
    "position, kinds",
    [
        ("post", ["input", "attn", "add", "norm", "ffn", "add", "norm", "output"]),
        ("pre", ["input", "norm", "attn", "add", "norm", "ffn", "add", "output"]),
        (
            "resi",
            [
                "input",
                "input",
                "attn",
                "add",
                "norm",
                "add",
                "ffn",
                "add",
                "norm",
                "add",
                "output",
                "output",
            ],
        ),
    ],
)
def test_block_graph_is_traced_from_the_model(position, kinds):
    ops = ln.block_graph(position)
    assert [o.kind for o in ops] == kinds
    by_name = {o.name: o for o in ops}
    adds = [o for o in ops if o.kind == "add"]
    if position == "post":  # h = LN(x + Attn(x)): the first add feeds the first norm
        assert by_name["norm1"].inputs == ("add",) and set(adds[0].inputs) == {
            "x",
            "attn",
        }
    if (
        position == "pre"
    ):  # h = x + Attn(LN(x)): the norm feeds attention, the add takes x itself
        assert by_name["attn"].inputs == ("norm1",) and set(adds[0].inputs) == {
            "x",
            "attn",
        }
    if (
        position == "resi"
        # x_d <- x_d + f(x_a): the x_d stream adds the same sublayer outputs,
        # un-normalised
    ):
        assert {"x_d", "attn"} in [set(a.inputs) for a in adds]
    assert [
        o.label for o in ln.block_graph(position, norm="rmsnorm") if o.kind == "norm"
    ] == ["RMSNorm"] * 2


@pytest.mark.parametrize("position", ["post", "pre", "resi"])
def test_draw_block_draws_every_operation(position):
    fig, ax = plt.subplots()
    assert ln.draw_block(position, ax=ax) is ax
    ops = ln.block_graph(position)
    boxes = sum(o.kind in ("attn", "ffn", "norm") for o in ops)
    adds = sum(o.kind == "add" for o in ops)
    edges = sum(len(o.inputs) for o in ops)
    assert len(ax.patches) == boxes + adds + edges
    plt.close(fig)


def test_draw_block_rejects_an_unknown_position():
    with pytest.raises(ValueError, match="norm_position"):
        ln.draw_block("middle")
