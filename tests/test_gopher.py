"""Chapter 4 (Gopher): RMSNorm's exact checks, Transformer-XL relative attention, the probe suite, and the claims."""
import functools
import math
import statistics

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from fourpapers import claims, gopher, models
from fourpapers.gopher import RMSNorm, rms_norm, rms_norm_zhang
from fourpapers.models import RelativeSelfAttention, TransformerLM, rel_shift, sinusoid_positions

# --------------------------------------------------------------------------------------------------------------
# RMSNorm
# --------------------------------------------------------------------------------------------------------------


def test_gopher_reexports_the_models_rmsnorm():
    assert gopher.RMSNorm is models.RMSNorm and gopher.rms_norm is models.rms_norm
    model = TransformerLM(10, d_model=16, n_heads=2, d_ff=32, n_layers=1, norm="rmsnorm")
    assert isinstance(model.blocks[0].norm1, RMSNorm) and isinstance(model.final_norm, RMSNorm)


@pytest.mark.parametrize("eps", [1e-5, 1e-6, 0.0])
def test_rmsnorm_forward_equals_torch_exactly(eps):
    torch.manual_seed(0)
    x = torch.randn(4, 7, 32) * 3
    mine, ref = RMSNorm(32, eps=eps), nn.RMSNorm(32, eps=eps)
    with torch.no_grad():
        mine.weight.uniform_(0.5, 1.5)
        ref.weight.copy_(mine.weight)
    assert torch.equal(mine(x), ref(x))
    assert torch.equal(rms_norm(x, mine.weight, eps), F.rms_norm(x, (32,), mine.weight, eps))
    assert torch.equal(rms_norm(x, None, eps), F.rms_norm(x, (32,), None, eps))


def test_rmsnorm_gradients_match_torch_autograd():
    torch.manual_seed(1)
    x = torch.randn(6, 5, 24)
    grad = torch.randn(6, 5, 24)
    mine, ref = RMSNorm(24), nn.RMSNorm(24, eps=1e-5)
    with torch.no_grad():
        mine.weight.uniform_(0.5, 1.5)
        ref.weight.copy_(mine.weight)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    mine(xa).backward(grad)
    ref(xb).backward(grad)
    assert torch.allclose(xa.grad, xb.grad, atol=1e-6, rtol=1e-5)
    assert torch.allclose(mine.weight.grad, ref.weight.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("with_weight", [True, False])
@pytest.mark.parametrize("eps", [1e-3, 0.0])
def test_rmsnorm_hand_derived_backward_passes_gradcheck(with_weight, eps):
    torch.manual_seed(2)
    x = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(6, dtype=torch.float64) + 0.5).requires_grad_() if with_weight else None
    inputs = (x, w) if with_weight else (x,)
    assert torch.autograd.gradcheck(lambda *a: rms_norm(a[0], a[1] if with_weight else None, eps), inputs)


def test_rmsnorm_only_input_or_only_weight_needs_grad():
    x = torch.randn(5, 8)
    w = nn.Parameter(torch.rand(8) + 0.5)
    rms_norm(x, w).sum().backward()  # x needs no grad
    assert w.grad is not None and w.grad.shape == (8,)
    xr = x.clone().requires_grad_()
    rms_norm(xr, w.detach()).sum().backward()
    assert xr.grad is not None and torch.isfinite(xr.grad).all()


def test_rmsnorm_is_rescaling_invariant_but_not_recentering_invariant():
    torch.manual_seed(3)
    x = torch.randn(8, 16)
    w = torch.rand(16) + 0.5
    for c in (0.01, 3.0, 250.0):
        assert torch.allclose(rms_norm(x * c, w, 0.0), rms_norm(x, w, 0.0), atol=1e-6)
    assert not torch.allclose(rms_norm(x + 1.0, w), rms_norm(x, w), atol=1e-2)


def test_rmsnorm_on_zero_mean_input_equals_bias_free_layernorm():
    torch.manual_seed(4)
    x = torch.randn(8, 32)
    x = x - x.mean(-1, keepdim=True)
    w = torch.rand(32) + 0.5
    assert torch.allclose(rms_norm(x, w, 1e-5), F.layer_norm(x, (32,), w, None, 1e-5), atol=1e-6)


def test_paper_eps_convention_agrees_at_eps_zero_and_differs_otherwise():
    torch.manual_seed(5)
    x = torch.randn(8, 16) * 0.01
    w = torch.rand(16) + 0.5
    assert torch.allclose(rms_norm_zhang(x, w, eps=0.0), rms_norm(x, w, eps=0.0), atol=1e-6)
    assert not torch.allclose(rms_norm_zhang(x, w, eps=1e-2), rms_norm(x, w, eps=1e-2), atol=1e-4)


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: rms_norm(torch.randn(2, 4), torch.ones(5)), "weight"),
        (lambda: rms_norm(torch.randn(2, 4), None, -1.0), "eps"),
        (lambda: rms_norm(torch.ones(2, 4, dtype=torch.long)), "x"),
        (lambda: rms_norm([1.0, 2.0]), "x"),
        (lambda: RMSNorm(0), "d"),
        (lambda: RMSNorm(4, eps=-1e-3), "eps"),
        (lambda: rms_norm_zhang(torch.randn(2, 4), torch.ones(3)), "weight"),
        (lambda: rms_norm_zhang(torch.randn(2, 4), eps=-1.0), "eps"),
        (lambda: gopher.norm_benchmark(ds=()), "ds"),
        (lambda: gopher.norm_benchmark(rows=0), "rows"),
        (lambda: gopher.norm_benchmark(repeats=0), "repeats"),
        (lambda: gopher.step_benchmark(d_model=0), "d_model"),
        (lambda: gopher.step_benchmark(repeats=0), "repeats"),
    ],
)
def test_norm_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_norm_benchmark_times_all_three_side_by_side():
    out = gopher.norm_benchmark(ds=(8, 16), rows=32, repeats=2)
    assert [(t.d, t.mode) for t in out] == [(8, "forward"), (8, "forward+backward"), (16, "forward"),
                                            (16, "forward+backward")]
    assert all(t.layernorm > 0 and t.torch_rmsnorm > 0 and t.ours > 0 for t in out)
    assert all(t.ours_ratio == t.ours / t.layernorm and t.torch_ratio > 0 for t in out)


def test_step_benchmark_and_swapping_in_torch_rmsnorm():
    s = gopher.step_benchmark(d_model=16, n_layers=1, vocab_size=20, batch_size=2, seq_len=8, repeats=1)
    assert s.layernorm > 0 and s.ours > 0 and s.torch_rmsnorm > 0 and s.ours_ratio > 0
    torch.manual_seed(0)
    model = gopher.make_model(20, 16, 2, seq_len=8)
    tokens = torch.randint(0, 20, (2, 8))
    before = model(tokens)
    gopher.use_torch_rmsnorm(model)
    assert not any(isinstance(m, RMSNorm) for m in model.modules())
    assert sum(isinstance(m, nn.RMSNorm) for m in model.modules()) == 5
    assert torch.equal(model(tokens), before)


# --------------------------------------------------------------------------------------------------------------
# Transformer-XL relative attention, init
# --------------------------------------------------------------------------------------------------------------


def test_rel_shift_moves_each_distance_to_its_key():
    T = 5
    # column m holds distance T-1-m; after the shift entry (i, j) must hold distance i-j for j <= i
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
            wr = att.r_proj(sinusoid_positions(torch.tensor([i - j]), D)[0]).view(H, dh)  # W_R R_{i-j}
            for h in range(H):
                a = (q[:, i, h] * k[:, j, h]).sum(-1) + (q[:, i, h] * wr[h]).sum(-1) \
                    + (u[h] * k[:, j, h]).sum(-1) + (v[h] * wr[h]).sum(-1)
                worst = max(worst, float((a / math.sqrt(dh) - logits[:, h, i, j]).abs().max()))
    assert worst < 1e-6


def _lm(positions, **kw):
    torch.manual_seed(7)
    return TransformerLM(30, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=24, norm="rmsnorm",
                         positions=positions, **kw)


def test_relative_outputs_are_invariant_to_a_global_position_shift():
    tokens = torch.randint(0, 30, (2, 10))
    rel, learned = _lm("relative"), _lm("learned")
    assert rel.pos_emb is None
    assert torch.equal(rel(tokens, offset=0), rel(tokens, offset=7))
    assert not torch.allclose(learned(tokens, offset=0), learned(tokens, offset=7))


def test_relative_model_is_causal_and_runs_beyond_max_len():
    model = _lm("relative")
    tokens = torch.randint(0, 30, (2, 40))  # longer than max_len=24: relative positions have no table
    logits = model(tokens)
    changed = tokens.clone()
    changed[:, 25:] = (changed[:, 25:] + 1) % 30
    after = model(changed)
    assert torch.allclose(after[:, :25], logits[:, :25], atol=1e-6)
    assert not torch.allclose(after[:, 25:], logits[:, 25:])


def test_relative_model_trains_after_a_first_call_in_inference_mode():
    model = TransformerLM(30, d_model=16, n_heads=2, d_ff=32, n_layers=1, positions="relative")
    tokens = torch.randint(0, 30, (2, 13))  # a length no other test uses, so the cached tables are built here
    with torch.inference_mode():
        model(tokens)
    model(tokens).sum().backward()
    assert model.blocks[0].attn.r_proj.weight.grad is not None


def test_normal_init_has_std_one_over_sqrt_d_and_zero_biases():
    model = TransformerLM(500, d_model=64, n_heads=4, d_ff=256, n_layers=2, positions="relative", init="normal")
    w = torch.cat([model.blocks[0].ffn.fc2.weight.flatten(), model.tok_emb.weight.flatten()]).detach()
    assert abs(float(w.std()) - 64 ** -0.5) < 0.005
    assert torch.count_nonzero(model.blocks[1].attn.qkv.bias) == 0
    assert torch.count_nonzero(model.blocks[1].attn.pos_bias_u) == 0
    xavier = TransformerLM(500, d_model=64, n_heads=4, d_ff=256, n_layers=1)
    bound = (6 / (64 + 256)) ** 0.5
    assert float(xavier.blocks[0].ffn.fc2.weight.detach().abs().max()) <= bound


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: TransformerLM(10, init="kaiming"), "init"),
        (lambda: TransformerLM(10, d_model=16, n_heads=2, positions="relative")(torch.zeros(1, 4, dtype=torch.long),
                                                                                 offset=-1), "offset"),
        (lambda: RelativeSelfAttention(16, 3), "n_heads"),
        (lambda: rel_shift(torch.zeros(3, 4)), "x"),
        (lambda: sinusoid_positions(torch.arange(3), 5), "d_model"),
        (lambda: sinusoid_positions(torch.zeros(2, 2), 4), "distances"),
        (lambda: TransformerLM(10, d_model=16, n_heads=2, max_len=8)(torch.zeros(1, 4, dtype=torch.long), offset=5),
         "max_len"),
    ],
)
def test_model_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


# --------------------------------------------------------------------------------------------------------------
# World, corpus, probes, scoring
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _world(seed=0):
    return gopher.build_world(seed)


def test_world_is_deterministic_and_its_word_lists_are_disjoint():
    a, b = gopher.build_world(0), _world(0)
    assert a.vocab.itos == b.vocab.itos and a.entities == b.entities and a.city == b.city
    assert a.entities != _world(1).entities
    assert 800 <= len(a.vocab) <= 860 and len(set(a.entities)) == 200
    lists = [set(gopher.CITIES), set(gopher.JOBS), set(gopher.NAMES), set(a.syllables), set(gopher.TEMPLATE_WORDS)]
    assert sum(len(s) for s in lists) == len(set().union(*lists))
    assert (len(gopher.CITIES), len(gopher.JOBS), len(gopher.NAMES)) == (40, 30, 100)
    assert all(w in a.vocab.stoi for s in lists for w in s)
    assert set(a.valid_topics).isdisjoint(a.train_topics)


def test_corpus_has_five_equal_parts_and_held_out_topics():
    world = _world(0)
    c = gopher.build_corpus(world, tokens_per_category=3000, seed=0)
    assert set(c.tokens_per_category) == {"pydoc", "knowledge", "reading", "maths", "logic"}
    assert all(3000 <= n < 3200 for n in c.tokens_per_category.values())
    assert len(c.train_ids) == sum(c.tokens_per_category.values())
    assert torch.equal(c.train_ids, gopher.build_corpus(world, tokens_per_category=3000, seed=0).train_ids)
    assert len(c.valid_ids) > 5000 and 0 < c.unk_rate_valid < 0.3


def test_probes_are_deterministic_for_a_seed():
    w = _world(0)
    a, b = gopher.make_probes(w, n=20, seed=3), gopher.make_probes(w, n=20, seed=3)
    c = gopher.make_probes(w, n=20, seed=4)
    assert [t.probes for t in a] == [t.probes for t in b]
    assert [t.probes for t in a] != [t.probes for t in c]
    assert [t.name for t in a] == list(gopher.CHANCE)
    assert all(len(t.probes) == 20 for t in a)


def _north_of(stmts):
    south = {}
    for k in range(0, len(stmts), 6):
        a, is_, north, of, b, dot = stmts[k:k + 6]
        assert (is_, north, of, dot) == ("is", "north", "of", ".")
        south[a] = b
    return south


def test_every_probe_answer_is_correct():
    w = _world(0)
    entity = {e: i for i, e in enumerate(w.entities)}
    for task in gopher.make_probes(w, n=200, seed=0):
        assert len(task.probes) == 200
        for p in task.probes:
            right = p.options[p.answer]
            assert len({tuple(o) for o in p.options}) == len(p.options) == round(1 / task.chance)
            ctx = p.context
            if task.name == "fact_city":
                assert right == [w.city[entity[tuple(ctx[1:3])]]] and ctx[3:] == ["lives", "in"]
            elif task.name == "fact_job":
                assert right == [w.job[entity[tuple(ctx[1:3])]]] and ctx[3:] == ["works", "as", "a"]
            elif task.category == "reading":
                n_people = int(task.name[-1])
                passage = {ctx[1 + 5 * k]: ctx[4 + 5 * k] for k in range(n_people)}
                assert len(passage) == n_people and ctx[-5:-3] == ["where", "does"] and ctx[-2:] == ["live", "?"]
                assert right == [passage[ctx[-3]]]
                assert all(o[0] in passage.values() for o in p.options)
            elif task.category == "maths":
                plus, eq = ctx.index("+"), ctx.index("=")
                a, b = int("".join(ctx[1:plus])), int("".join(ctx[plus + 1:eq]))
                assert right == list(str(a + b)) and len(ctx[1:plus]) == int(task.name[6])
                assert all(abs(int("".join(o)) - (a + b)) in (1, 10, 100) for o in p.options if o != right)
            else:
                hop = int(task.name[6])
                south = _north_of(ctx[1:-5])
                x = ctx[-4]
                chain = [x]
                for _ in range(hop):
                    chain.append(south[chain[-1]])
                assert right == [chain[-1]]
                wrong = [o[0] for o in p.options if o != right][0]
                node = wrong  # the wrong option lies north of x: walking south from it reaches x
                while node != x:
                    node = south[node]
                first = (set(south) - set(south.values())).pop()
                last = (set(south.values()) - set(south)).pop()
                assert {right[0], wrong}.isdisjoint({first, last})


class _Fixed(nn.Module):
    """A stand-in language model whose next-token log-probabilities are the same table at every position."""

    def __init__(self, logprobs):
        super().__init__()
        self.table = logprobs

    def forward(self, tokens):
        return self.table.expand(*tokens.shape, -1).clone()


def test_scoring_uses_length_normalised_log_likelihood():
    vocab = _world(0).vocab
    table = torch.full((len(vocab),), -10.0)
    table[vocab.stoi["1"]] = -1.0
    table[vocab.stoi["2"]] = -3.0
    table[vocab.stoi["rome"]] = -0.5
    model = _Fixed(table)
    # "1 2" has mean log p -2.0; "2" alone -3.0 (sum would prefer "2"), "1 1 1" -1.0 is best
    task = gopher.ProbeTask("maths_2digit", "maths", [
        gopher.Probe([".", "3", "="], [["1", "2"], ["2"], ["1", "1", "1"], ["2", "2"]], 2),
        gopher.Probe([".", "3", "="], [["1", "2"], ["2"], ["2", "2"], ["2", "2", "2"]], 0),
    ])
    assert gopher.score_task(model, vocab, task) == 1.0
    city = gopher.ProbeTask("fact_city", "knowledge", [gopher.Probe([".", "lives", "in"], [["oslo"], ["rome"]], 1),
                                                        gopher.Probe([".", "lives", "in"], [["rome"], ["oslo"]], 1)])
    assert gopher.score_task(model, vocab, city) == 0.5


def test_scoring_a_real_model_is_batch_independent():
    w = _world(0)
    tasks = gopher.make_probes(w, n=12, seed=0)
    model = gopher.make_model(len(w.vocab), 16, 1)
    for task in tasks:
        a = gopher.score_task(model, w.vocab, task, batch_size=5)
        assert a == gopher.score_task(model, w.vocab, task, batch_size=64) and 0.0 <= a <= 1.0


def test_category_chance_averages_the_tasks_chance():
    assert gopher.category_chance("knowledge") == (0.5 + 0.25) / 2
    assert gopher.category_chance("maths") == 0.25 and gopher.category_chance("logic") == 0.5
    with pytest.raises(ValueError, match="category"):
        gopher.category_chance("poetry")


def test_analysis_helpers_on_known_numbers():
    params = [1e3, 1e4, 1e5, 1e6]
    a, alpha, r2 = gopher.power_law_fit(params, [3.0 * p ** -0.1 for p in params])
    assert a == pytest.approx(3.0) and alpha == pytest.approx(0.1) and r2 == pytest.approx(1.0)
    assert gopher.power_law_fit(params, [3.0, 2.0, 2.5, 1.0])[2] < 0.9
    changes = gopher.fig4_changes({"fact_city": [0.5, 0.6, 0.9], "maths_2digit": [0.25, 0.2, 0.25]})
    assert changes["fact_city"] == pytest.approx(50.0) and changes["maths_2digit"] == pytest.approx(0.0)
    acc = {"fact_city": [0.5, 0.7], "fact_job": [0.3, 0.5], "maths_2digit": [0.25, 0.25]}
    assert gopher.category_accuracy(acc, "knowledge") == pytest.approx([0.4, 0.6])


def test_family_sizes_and_parameter_counts():
    models_ = gopher.family(838)
    params = [m.num_parameters(non_embedding=True) for m in models_]
    assert params == sorted(params) and 3_000 < params[0] < 4_000 and 340_000 < params[-1] < 380_000
    assert params[-1] / params[-2] > 10
    m = models_[-1]
    assert m.positions == "relative" and isinstance(m.final_norm, RMSNorm)
    assert m.blocks[0].ffn.fc1.out_features == 4 * 96
    assert m.blocks[0].attn.n_heads == 6 and m.head.weight.data_ptr() != m.tok_emb.weight.data_ptr()


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: gopher.build_world(-1), "seed"),
        (lambda: gopher.build_world(0, n_entities=0), "n_entities"),
        (lambda: gopher.build_world(0, n_syllables=2), "n_syllables"),
        (lambda: gopher.build_world(0, n_pydoc_words=0), "n_pydoc_words"),
        (lambda: gopher.build_corpus(_world(0), tokens_per_category=10), "tokens_per_category"),
        (lambda: gopher.build_corpus(_world(0), chunk=2), "chunk"),
        (lambda: gopher.make_probes(_world(0), n=0), "n"),
        (lambda: gopher.make_probes(_world(0), seed=-2), "seed"),
        (lambda: gopher.score_task(nn.Identity(), _world(0).vocab, gopher.ProbeTask("fact_city", "knowledge", [])),
         "task"),
        (lambda: gopher.score_task(nn.Identity(), _world(0).vocab, None, batch_size=0), "batch_size"),
        (lambda: gopher.family(50, sizes=[]), "sizes"),
        (lambda: gopher.family(50, sizes=[(16, 0)]), "sizes"),
        (lambda: gopher.make_model(50, 15, 1), "d_model"),
        (lambda: gopher.scaling_run(steps=10), "steps"),
        (lambda: gopher.scaling_run(norm_size=(8, 8)), "norm_size"),
        (lambda: gopher.heldout_loss(nn.Identity(), torch.arange(10), seq_len=64), "ids"),
        (lambda: gopher.heldout_loss(nn.Identity(), torch.arange(10), seq_len=0), "seq_len"),
        (lambda: gopher.power_law_fit([1, 2], [1, 2]), "params"),
        (lambda: gopher.power_law_fit([1, 2, -3], [1, 2, 3]), "params"),
        (lambda: gopher.fig4_changes({"fact_city": [0.5]}), "accuracy"),
        (lambda: gopher.fig4_changes({"fact_city": [0.0, 0.5]}), "accuracy"),
        (lambda: gopher.category_accuracy({"fact_city": [0.5]}, "music"), "category"),
        (lambda: gopher.category_accuracy({"fact_city": [0.5]}, "maths"), "accuracy"),
        (lambda: gopher.use_torch_rmsnorm("model"), "model"),
        (lambda: gopher.ScalingResult(0, [(16, 1)], [1], [1.0], {}, [[1.0]]).final_loss("rmsnorm"), "norm"),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_knowledge_by_frequency_and_maths_choices_on_a_stand_in_model():
    w = _world(0)
    tasks = {t.name: t for t in gopher.make_probes(w, n=40, seed=0)}
    table = torch.zeros(len(w.vocab))
    table[w.vocab.stoi["1"]] = 5.0  # prefers the digit 1 everywhere
    model = _Fixed(table)
    bands = gopher.knowledge_by_frequency(model, w, tasks["fact_city"], edges=(0, 100, 200))
    assert len(bands) == 2 and all(0.0 <= b <= 1.0 for b in bands)
    picks = gopher.maths_choices(model, w.vocab, tasks["maths_2digit"])
    assert sum(p for p, _ in picks.values()) == 40 and sum(o for _, o in picks.values()) == 160
    assert set(picks) <= {0, 1, -1, 10, -10, 100, -100} and picks[0][1] == 40
    with pytest.raises(ValueError, match="task"):
        gopher.knowledge_by_frequency(model, w, tasks["maths_2digit"])
    with pytest.raises(ValueError, match="edges"):
        gopher.knowledge_by_frequency(model, w, tasks["fact_city"], edges=(5, 5))
    with pytest.raises(ValueError, match="task"):
        gopher.maths_choices(model, w.vocab, tasks["fact_city"])


# --------------------------------------------------------------------------------------------------------------
# The claims (issue 6), over seeds 0, 1, 2: one scaling run per seed, shared by the claims below. Two claims of the
# issue are not shown by this miniature and have no test here; the chapter states them with their numbers:
# knowledge rises >= 20 points (measured +26.5 / +13.0 / +11.5 on seeds 0 / 1 / 2 on an AVX2 processor, +26.3 / +13.3 /
# +12.8 on an AVX-512 one) and the power law of held-out loss has R^2 >= 0.9 (0.86 / 0.91 / 0.82, and 0.84 / 0.85 /
# 0.88).
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _run(seed):
    return gopher.scaling_run(seed=seed, keep_models=True, progress=False)


_chance = gopher.category_chance


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_maths_never_rises_above_chance_and_logic_stays_within_10_points(seed):
    """No size scores more than 5 points above chance (0.25) on maths, and every size is within 10 points of chance
    (0.5) on logic. Calibration (seeds 0-9 here, 0-4 on the other float path): the best maths accuracy of any size is
    0.230, 7 points inside the bound (maths sits *below* chance, down to 0.150: the models pick distractors); logic's
    worst distance is 4.5 points. ("Maths within 10 points of chance" was dropped: it reached 10.0 on seed 6.)"""
    r = _run(seed)
    maths = gopher.category_accuracy(r.accuracy, "maths")
    logic = gopher.category_accuracy(r.accuracy, "logic")
    claims.report("maths <= chance + 0.05 at every size; logic within 10 points of chance (0.5)", seed,
                  **{f"maths_d{d}L{L}": a for (d, L), a in zip(r.sizes, maths)},
                  **{f"logic_d{d}L{L}": a for (d, L), a in zip(r.sizes, logic)},
                  maths_best_minus_chance=100 * (max(maths) - _chance("maths")),
                  logic_worst_points=100 * max(abs(a - _chance("logic")) for a in logic))
    assert max(maths) <= _chance("maths") + 0.05
    assert max(abs(a - _chance("logic")) for a in logic) <= 0.10


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_reading_comprehension_stays_within_10_points_of_chance(seed):
    """Not shown (Gopher's gain does not appear at this compute): every size within 10 points of chance (0.25).
    Calibration (AVX-512, 2026-12-07; seeds 0-9, and 0-4 on the other float path): at most 6.25 points from chance
    (5.0 on the other path), a margin of 3.75 points."""
    r = _run(seed)
    acc = gopher.category_accuracy(r.accuracy, "reading")
    worst = max(abs(a - _chance("reading")) for a in acc)
    claims.report("reading comprehension within 10 points of chance (0.25) at every size", seed,
                  **{f"d{d}L{L}": a for (d, L), a in zip(r.sizes, acc)}, worst_points=100 * worst)
    assert worst <= 0.10


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_frequent_entities_are_known_better_than_rare_ones_by_every_size(seed):
    """The frequency-band figure (bands of entity rank 1-25, 26-50, 51-100, 101-200): for both knowledge tasks, every
    size is more accurate on the top band than on the bottom one. Calibration (seeds 0-9 here, 0-4 on the other float
    path): the smallest gap of any size, task and seed is 0.19. (That the largest model gains most in a middle band
    held on 7 of 10 seeds and flipped with the float path on seed 3: the chapter reports it as a tendency.)"""
    r = _run(seed)
    for task in (t for t in r.tasks if t.category == "knowledge"):
        bands = [gopher.knowledge_by_frequency(m, r.world, task, (0, 25, 50, 100, 200)) for m in r.models]
        gain = [big - small for big, small in zip(bands[-1], bands[0])]
        claims.report(f"{task.name}: top band > bottom band at every size", seed,
                      **{f"d{d}L{L}": f"{b[0]:.2f}>{b[-1]:.2f}" for (d, L), b in zip(r.sizes, bands)},
                      gain_by_band="/".join(f"{g:+.2f}" for g in gain))
        assert all(b[0] > b[-1] for b in bands)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_heldout_loss_is_lowest_for_the_largest_and_width_buys_more_than_depth_at_d16(seed):
    """The loss-vs-size figure, as the chapter describes it: the largest model has the lowest held-out loss, and at
    d = 16 widening the second model (16x2 -> 24x2) lowers the held-out loss by more than adding its layer
    (16x1 -> 16x2) moves it, either way. Calibration (seeds 0-9 here, 0-4 on the other float path): the largest
    model beats the next best by 0.022 nats at least; widening gains 0.096-0.150 nats, the added layer moves the
    loss by -0.043 to +0.028, so the worst seed keeps 0.053 nats of margin. ("16x2 is no better than 16x1" was
    dropped: 16x2 was better on seeds 6, 7 and 8. The power law's R^2 >= 0.9 is not shown; see above.)"""
    r = _run(seed)
    a, alpha, r2 = gopher.power_law_fit(r.params, r.valid_loss)
    loss = dict(zip(r.sizes, r.valid_loss))
    depth, width = loss[(16, 2)] - loss[(16, 1)], loss[(16, 2)] - loss[(24, 2)]
    claims.report("held-out loss: largest lowest; 16x2 -> 24x2 gains more than |16x1 -> 16x2|", seed,
                  **{f"d{d}L{L}": v for (d, L), v in loss.items()}, depth_step=depth, width_step=width, alpha=alpha,
                  r2=r2)
    assert r.valid_loss[-1] == min(r.valid_loss)
    assert r.sizes[:3] == [(16, 1), (16, 2), (24, 2)] and width > abs(depth)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_knowledge_gains_more_from_scale_than_maths_and_logic(seed):
    """Gopher's relative claim in miniature: from the smallest to the largest model, knowledge accuracy (mean of the
    two knowledge tasks) rises by more points than maths and than logic. Calibration (seeds 0-9 here, 0-4 on the
    other float path): knowledge gains +9.2 to +26.5 points, maths -3.2 to +5.0, logic -2.5 to +5.2; the worst seed
    keeps 8.5 points of margin. The median Fig.-4 bar (largest against the best smaller model), which the chapter
    draws, put knowledge above maths and logic on 14 of 15 seed-paths and below logic once (seed 2, other float
    path: -3.5 against -2.0), so it is drawn, not claimed. Medians are reported here for the record."""
    r = _run(seed)
    gain = {c: 100 * (gopher.category_accuracy(r.accuracy, c)[-1] - gopher.category_accuracy(r.accuracy, c)[0])
            for c in ("knowledge", "maths", "logic")}
    bars = gopher.fig4_changes(r.accuracy)
    med = {f"median_bar_{c}": statistics.median(v for t, v in bars.items() if gopher.TASK_CATEGORY[t] == c)
           for c in ("knowledge", "maths", "logic")}
    knowledge = gopher.category_accuracy(r.accuracy, "knowledge")
    claims.report("gain smallest -> largest (points): knowledge > maths and knowledge > logic", seed,
                  **{f"gain_{c}": g for c, g in gain.items()}, **med,
                  **{f"knowledge_d{d}L{L}": a for (d, L), a in zip(r.sizes, knowledge)})
    assert gain["knowledge"] > gain["maths"] and gain["knowledge"] > gain["logic"]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_rmsnorm_final_loss_within_01_of_layernorm_every_seed(seed):
    """Calibration (AVX-512, 2026-12-07; seeds 0-9, and 0-4 on the other float path, identical to 4 digits): RMSNorm -
    LayerNorm final loss between -0.0186 and +0.0156 nats, a margin of 0.081."""
    r = _run(seed)
    rms, ln = r.final_loss("rmsnorm"), r.final_loss("layernorm")
    claims.report("RMSNorm - LayerNorm final loss (mean of last 50 steps)", seed, rmsnorm=rms, layernorm=ln,
                  diff=rms - ln)
    assert abs(rms - ln) <= 0.1


@pytest.mark.claims
def test_claim_rmsnorm_final_loss_within_005_of_layernorm_on_average():
    """Calibration (as above): the per-seed differences lie within +-0.019 nats, so any mean over seeds is at least
    0.031 inside the bound (seeds 0-2: -0.00003)."""
    diffs = [_run(seed).final_loss("rmsnorm") - _run(seed).final_loss("layernorm") for seed in claims.seeds([0, 1, 2])]
    claims.report("RMSNorm - LayerNorm final loss, mean over seeds", "all", mean_diff=sum(diffs) / len(diffs))
    assert abs(sum(diffs) / len(diffs)) <= 0.05


# --- Fig. 4 with its noise ---------------------------------------------------------------------------------------


def test_binomial_se_and_best_of_bias():
    assert gopher.binomial_se(0.25, 200) == pytest.approx(math.sqrt(0.25 * 0.75 / 200))
    assert abs(gopher.best_of_bias(1, 0.25, 200)) < 1e-12           # one model: no selection, no bias
    b2, b4 = gopher.best_of_bias(2, 0.25, 200), gopher.best_of_bias(4, 0.25, 200)
    assert 0 < b2 < b4                                                 # more candidates, more bias
    # for large n the max of 4 normals sits 1.029 standard deviations above the mean
    assert b4 / gopher.binomial_se(0.25, 200) == pytest.approx(1.029, abs=0.05)
    for (k, p, n), name in (((0, 0.25, 200), "^k:"), ((2, 1.5, 200), "^p:"), ((2, 0.25, 0), "^n:")):
        with pytest.raises(ValueError, match=name):
            gopher.best_of_bias(k, p, n)


def test_fig4_bars_baselines_error_bars_and_chance():
    acc = {"fact_city": [0.6, 0.8, 0.7, 0.9], "maths_3digit": [0.10, 0.14, 0.12, 0.16]}
    best = gopher.fig4_bars(acc, n=200)
    nxt = gopher.fig4_bars(acc, n=200, baseline="next")
    assert best["fact_city"].change == pytest.approx(100 * (0.9 - 0.8) / 0.8)
    assert nxt["fact_city"].change == pytest.approx(100 * (0.9 - 0.7) / 0.7)
    assert best["fact_city"].change == pytest.approx(gopher.fig4_changes(acc)["fact_city"])
    se = 100 / 0.8 * math.sqrt(0.9 * 0.1 / 200 + (0.9 / 0.8) ** 2 * 0.8 * 0.2 / 200)
    assert best["fact_city"].se == pytest.approx(se)
    assert best["fact_city"].above_chance                 # 0.9 against chance 0.5
    assert not best["maths_3digit"].above_chance          # a +14 % bar below chance is not a gain
    assert best["maths_3digit"].change > 0
    for kwargs, name in ((dict(baseline="worst"), "baseline"), (dict(z=0), "z")):
        with pytest.raises(ValueError, match=name):
            gopher.fig4_bars(acc, n=200, **kwargs)
    with pytest.raises(ValueError, match="accuracy"):
        gopher.fig4_bars({"fact_city": [0.5]}, n=200)


# --- Why not BatchNorm --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_batchnorm_leaks_across_the_batch_and_the_future_and_per_token_norms_do_not(seed):
    for norm in ("layernorm", "rmsnorm"):
        r = gopher.norm_leak(norm, seed=seed)
        assert (r.other_sequences, r.later_positions, r.train_vs_eval) == (0.0, 0.0, 0.0), r
    r = gopher.norm_leak("batchnorm", seed=seed)
    assert r.other_sequences > 1e-2 and r.later_positions > 1e-2 and r.train_vs_eval > 1e-2, r


def test_batchnorm_helpers_reject_bad_arguments():
    for kwargs, name in ((dict(norm="groupnorm"), "norm"), (dict(norm="layernorm", batch_size=1), "batch_size"),
                         (dict(norm="layernorm", t=15), "t"), (dict(norm="layernorm", seq_len=1), "seq_len")):
        with pytest.raises(ValueError, match=name):
            gopher.norm_leak(**kwargs)
    with pytest.raises(ValueError, match="x"):
        gopher.TokenBatchNorm(4)(torch.zeros(2, 4))
    model = gopher.causal_lm_with_norm("batchnorm")
    assert any(isinstance(m, gopher.TokenBatchNorm) for m in model.modules())
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in model.modules())
