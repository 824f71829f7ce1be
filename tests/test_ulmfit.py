"""Chapter 3 (ULMFiT): exact checks of the schedules, the model pieces and the two worlds; then the claims."""
import collections
import copy
import math

import numpy as np
import pytest
import torch

from fourpapers import ulmfit as u

# --------------------------------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------------------------------


def test_stlr_paper_values():
    got = [u.stlr(t, 1000, lr_max=0.01) for t in (0, 50, 100, 550, 1000)]
    assert got == pytest.approx([3.125e-4, 5.15625e-3, 1e-2, 5.15625e-3, 3.125e-4], rel=1e-12)


@pytest.mark.parametrize("T", [10, 100, 1000, 250])
def test_stlr_equals_one_cycle_lr_when_T_cut_frac_is_an_integer(T):
    lr, ratio, cut_frac = 0.01, 32, 0.1
    cut = math.floor(T * cut_frac)
    assert T * cut_frac == cut
    p = torch.nn.Parameter(torch.zeros(1))
    ref_opt = torch.optim.SGD([p], lr=lr)
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=lr, total_steps=T + 1, pct_start=(cut + 1) / (T + 1),
                                              anneal_strategy="linear", div_factor=ratio, final_div_factor=1,
                                              cycle_momentum=False)
    opt = torch.optim.SGD([p], lr=lr)
    ours = u.stlr_scheduler(opt, T, cut_frac, ratio)
    for t in range(T + 1):
        a, b = ref_opt.param_groups[0]["lr"], opt.param_groups[0]["lr"]
        assert a == pytest.approx(b, abs=1e-15) and b == pytest.approx(u.stlr(t, T, lr, cut_frac, ratio), abs=1e-15)
        if t < T:
            ref_opt.step(); ref.step(); opt.step(); ours.step()


def test_stlr_never_below_floor_but_the_printed_formula_goes_negative():
    for T in range(1, 400):
        assert min(u.stlr(t, T) for t in range(T + 1)) >= 0.01 / 32 - 1e-15
        if T >= 2:                                          # T = 1: one update up, none left to come down
            assert u.stlr(T, T) == pytest.approx(0.01 / 32)
    assert u.stlr(237, 237, paper_form=True) == pytest.approx(-1.5097e-5, rel=1e-3)
    assert u.stlr(100, 1000, paper_form=True) == u.stlr(100, 1000)


def test_stlr_schedule_multiplies_and_holds_after_T():
    m = u.stlr_schedule(99)
    assert m(0) == pytest.approx(1 / 32) and m(9) == pytest.approx(1.0) and m(500) == pytest.approx(1 / 32)


def test_one_cycle_shape():
    assert u.one_cycle(0, 100, 0.01) == pytest.approx(0.01 / 25)
    assert u.one_cycle(25, 100, 0.01) == pytest.approx(0.01)
    assert u.one_cycle(100, 100, 0.01) == pytest.approx(0.01 / 1e5)


def test_discriminative_lrs():
    lrs = u.discriminative_lrs(0.01, 5)
    assert lrs[-1] == 0.01 and len(lrs) == 5
    assert all(b / a == pytest.approx(2.6) for a, b in zip(lrs, lrs[1:]))
    assert lrs[0] == pytest.approx(0.01 / 2.6 ** 4)
    assert u.discriminative_lrs(0.01, 1) == [0.01]


# --------------------------------------------------------------------------------------------------------------
# Model pieces
# --------------------------------------------------------------------------------------------------------------


def _tiny_lm(**kw):
    torch.manual_seed(0)
    return u.AWDLSTM(50, emb_size=8, hidden_size=12, n_layers=kw.pop("n_layers", 2), **kw)


def test_awd_lstm_shapes_tied_weights_and_dropouts():
    lm = _tiny_lm()
    x = torch.randint(0, 50, (3, 7))
    assert lm(x).shape == (3, 7, 50) and lm.encode(x).shape == (3, 7, 8)
    assert lm.decoder.weight is lm.encoder.weight
    assert [r.hidden_size for r in lm.rnns] == [12, 8]
    lm.eval()
    assert torch.equal(lm(x), lm(x))                       # no dropout in eval mode
    lm.train()
    assert not torch.equal(lm(x), lm(x))                   # dropouts (incl. weight drop) in training mode
    lm.set_dropouts(embed_p=0.0, input_p=0.0, weight_p=0.0, hidden_p=0.0, output_p=0.0)
    assert torch.equal(lm(x), lm(x))


@pytest.mark.parametrize("x, expected", [
    (torch.tensor([[0, 50]]), r"x: expected token ids in \[0, 50\).*from 0 to 50"),
    (torch.tensor([[-3, 2]]), r"x: expected token ids in \[0, 50\).*from -3 to 2"),
    (torch.tensor([[1.0, 2.0]]), r"x: expected integer token ids.*float32"),
])
def test_awd_lstm_and_classifier_reject_bad_token_ids(x, expected):
    lm = _tiny_lm()
    with pytest.raises(ValueError, match=expected):
        lm(x)
    clf = u.ConcatPoolClassifier(lm, n_classes=3)
    with pytest.raises(ValueError, match=expected):
        clf(x, torch.tensor([2]))


def test_classifier_rejects_float_lengths():
    clf = u.ConcatPoolClassifier(_tiny_lm(), n_classes=3)
    with pytest.raises(ValueError, match="lengths: expected an integer tensor"):
        clf(torch.tensor([[1, 2, 3]]), torch.tensor([3.0]))


def test_weight_drop_trains_the_raw_hidden_weights():
    lm = _tiny_lm(embed_p=0.0, input_p=0.0, hidden_p=0.0, output_p=0.0, weight_p=0.5)
    x = torch.randint(0, 50, (2, 5))
    assert not torch.equal(lm(x), lm(x))                   # DropConnect alone changes the outputs
    torch.manual_seed(3)
    dropped = lm(x)
    torch.manual_seed(3)
    masks = [torch.nn.functional.dropout(r.weight_hh_l0, 0.5, training=True) for r in lm.rnns]
    h = lm.encoder(x)
    for r, w in zip(lm.rnns, masks):                       # the same masks, applied by hand to a copy
        ref = copy.deepcopy(r)
        with torch.no_grad():
            ref.weight_hh_l0.copy_(w)
        h, _ = ref(h)
    assert torch.allclose(dropped, lm.decoder(h), atol=1e-6)
    lm(torch.randint(0, 50, (2, 5))).sum().backward()
    assert all(r.weight_hh_l0.grad is not None and r.weight_hh_l0.grad.abs().sum() > 0 for r in lm.rnns)


def test_concat_pool_width_and_padding_invariance():
    lm = _tiny_lm()
    clf = u.ConcatPoolClassifier(lm, n_classes=3).eval()
    docs = [torch.randint(3, 50, (k,)) for k in (4, 9, 1, 6)]
    x, lengths = u.pad_batch(docs, pad_id=1)
    feats = clf.features(x, lengths)
    assert feats.shape == (4, 3 * lm.output_size)
    for i, d in enumerate(docs):
        alone = clf.features(d[None], torch.tensor([len(d)]))
        assert torch.allclose(alone[0], feats[i], atol=1e-6)
    H = lm.encode(docs[1][None])[0]
    assert torch.allclose(feats[1], torch.cat([H[-1], H.max(0).values, H.mean(0)]), atol=1e-6)   # Eq. 4


def test_gradual_unfreezing_changes_exactly_the_unfrozen_groups():
    lm = _tiny_lm(n_layers=2)
    clf = u.ConcatPoolClassifier(lm, n_classes=2)
    groups = clf.groups()
    G = len(groups)
    assert G == 4                                           # embedding, 2 LSTMs, head
    snap = lambda: [[p.detach().clone() for p in g] for g in groups]  # noqa: E731
    before = [snap()]
    stages = []

    def on_stage(n_trainable):
        after = snap()
        changed = [any(not torch.equal(a, b) for a, b in zip(ga, gb)) for ga, gb in zip(before[0], after)]
        stages.append((n_trainable, changed))
        before[0] = after

    torch.manual_seed(0)
    docs = [torch.randint(3, 50, (int(k),)) for k in torch.randint(3, 9, (12,))]
    labels = torch.arange(12) % 2
    u.finetune_classifier(clf, docs, labels, docs[:4], labels[:4], pad_id=1, lr=0.05, final_epochs=1, batch_size=4,
                          min_steps=2, n_checkpoints=1, weight_decay=0.1, on_stage=on_stage)
    assert [s for s, _ in stages] == [1, 2, 3, 4]
    for s, changed in stages:
        assert changed == [i >= G - s for i in range(G)], (s, changed)


def test_last_only_leaves_the_encoder_bit_identical_with_weight_decay():
    lm = _tiny_lm()
    clf = u.ConcatPoolClassifier(lm, n_classes=2)
    enc = [p.detach().clone() for g in clf.groups()[:-1] for p in g]
    docs = [torch.randint(3, 50, (5,)) for _ in range(8)]
    labels = torch.arange(8) % 2
    u.finetune_classifier(clf, docs, labels, docs, labels, pad_id=1, unfreeze="last", final_epochs=1, batch_size=4,
                          min_steps=2, n_checkpoints=1, weight_decay=0.5)
    assert all(torch.equal(a, b) for a, b in zip(enc, [p for g in clf.groups()[:-1] for p in g]))
    assert all(p.requires_grad for p in clf.parameters())   # everything thawed again afterwards


def test_freeze_to():
    clf = u.ConcatPoolClassifier(_tiny_lm(), n_classes=2)
    groups = clf.groups()
    u.freeze_to(groups, 2)
    assert [all(p.requires_grad for p in g) for g in groups] == [False, False, True, True]
    with pytest.raises(ValueError, match="n_trainable"):
        u.freeze_to(groups, 5)


def test_linear_probe_separates_separable_data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(80) % 4
    x = torch.randn(80, 6, generator=g) * 0.1 + torch.nn.functional.one_hot(y, 6).float()
    assert u.linear_probe(x[:40], y[:40], x[40:], y[40:]) == 0.0


def test_labels_to_match_interpolates_in_log_n():
    assert u.labels_to_match([10, 100], [50.0, 10.0], 30.0) == pytest.approx(math.sqrt(10 * 100))
    assert u.labels_to_match([10, 100], [50.0, 40.0], 5.0) == math.inf
    assert u.labels_to_match([10, 100], [5.0, 1.0], 8.0) == 10.0


# --------------------------------------------------------------------------------------------------------------
# The two worlds
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_b():
    return u.topic_world_task(seed=0)


def test_topic_world_is_deterministic_per_seed():
    a, b, c = (u.topic_world_task(seed=s, n_general_docs=200) for s in (3, 3, 4))
    assert torch.equal(a.general, b.general) and all(torch.equal(x, y) for x, y in zip(a.pool, b.pool))
    assert not torch.equal(a.general[:500], c.general[:500])


def test_topic_world_statistics_match_the_recipe(world_b):
    w = world_b.info["world"]
    assert len(w) == 1542 and len(world_b.vocab) == 1542 + len(u.SPECIALS)
    assert w.words[:12] == list(u.FUNCTION_WORDS) and len(set(w.words)) == 1542
    for pos, (a, b, c) in zip("NVJ", zip((40, 20, 15), (150, 60, 45), (40, 20, 15))):
        assert w.topic_words[pos].shape == (16, a) and len(w.shared_words[pos]) == b and len(w.generic_words[pos]) == c
        assert w.shared_groups[pos].shape == (b, 4)
        assert all(len(set(g)) == 4 for g in w.shared_groups[pos].tolist())
    assert len(w.templates) == 8
    # the slot sources: topic 0.35, shared 0.40, generic 0.25 (empirically, over the general corpus)
    rng = np.random.default_rng(0)
    topics = rng.integers(0, 16, 10_000)
    sents = w.sentences(topics, rng)
    own = [set().union(*(w.topic_words[p][t].tolist() for p in "NVJ")) for t in range(16)]
    shared = [set().union(*(w.shared_of[p][t].tolist() for p in "NVJ")) for t in range(16)]
    generic = set().union(*(w.generic_words[p].tolist() for p in "NVJ"))
    kinds = collections.Counter()
    for t, sent in zip(topics.tolist(), sents):
        for word in sent.tolist():
            if word < 12:
                continue
            kind = "topic" if word in own[t] else "shared" if word in shared[t] else "generic"
            assert kind != "generic" or word in generic
            kinds[kind] += 1
    total = sum(kinds.values())
    assert kinds["topic"] / total == pytest.approx(0.35, abs=0.01)
    assert kinds["shared"] / total == pytest.approx(0.40, abs=0.01)
    assert kinds["generic"] / total == pytest.approx(0.25, abs=0.01)
    assert 2.0 < w.topic_information() < 2.5                # bits of topic per content word
    # corpora: ~1M general words in 20,000 documents; 4 classes x 600 -> 300 validation + 2,100 pool
    bos = world_b.vocab.stoi["<bos>"]
    assert int((world_b.general == bos).sum()) == 20_000
    assert 0.95e6 < world_b.general.numel() < 1.2e6
    assert len(world_b.valid) == 300 and len(world_b.pool) == 2100
    assert world_b.valid_labels.bincount().tolist() == [75] * 4
    assert world_b.pool_labels.bincount().tolist() == [525] * 4
    assert all(d[0] == bos and 2 * 5 <= len(d) - 1 <= 4 * 11 for d in world_b.pool)


def test_topic_world_mixes_a_quarter_of_general_documents():
    w = u.TopicWorld(seed=1)
    rng = np.random.default_rng(1)
    docs, first = w.documents(4000, (3, 10), range(16), rng, mix_frac=0.25)
    own = [set().union(*(w.topic_words[p][t].tolist() for p in "NVJ")) for t in range(16)]
    any_topic = set().union(*own)
    mixed = sum(any(x in any_topic and x not in own[t] for x in d.tolist()) for d, t in zip(docs, first.tolist()))
    assert 0.20 < mixed / 4000 < 0.27                      # a few mixed documents happen to draw one topic only


def test_labeled_subsets_are_balanced_and_nested(world_b):
    d20, y20 = world_b.labeled(20, seed=0)
    d48, y48 = world_b.labeled(48, seed=0)
    assert y20.bincount().tolist() == [5] * 4 and y48.bincount().tolist() == [12] * 4
    assert all(a is b for a, b in zip(d20, d48[:20]))
    assert len(world_b.labeled(None)[0]) == 2100


def test_no_label_leakage_in_world_a():
    task = u.docstring_task()
    banned = task.info["banned"]
    families = {m for mods in u.DOCSTRING_FAMILIES.values() for m in mods}
    assert families <= banned
    assert {"socket", "decimal", "pathlib", "collections", "itertools", "datetime", "email", "http"} <= banned
    for d in task.pool + task.valid:
        words = set(task.vocab.decode(d))
        assert not words & banned
    assert task.n_classes == 4 and task.valid_labels.bincount().tolist() == [75] * 4
    assert len(task.vocab) == 3000 and max(len(d) for d in task.pool) <= 40


def test_clean_docstring_strips_names():
    text = ("Return os.path.join(a, b) via join_paths() or makeDirs.\n>>> shutil.copy('a', 'b')\n'b'\n\n"
            "See the Decimal class, e.g. here.")
    toks = u.clean_docstring(text, banned={"decimal"})
    assert "xxref" in toks and "xxcall" in toks and "xxid" in toks and "xxname" in toks
    assert not {"os", "shutil", "join_paths", "makedirs", "decimal", "copy"} & set(toks)
    assert "e" in toks and "g" in toks                      # "e.g." is not a dotted reference


def test_texts_task_from_a_labeled_csv(tmp_path):
    path = tmp_path / "data.csv"
    rows = ["text,label"] + [f"{'good fine' if i % 2 else 'bad awful'} movie {i},{'pos' if i % 2 else 'neg'}"
                             for i in range(40)]
    path.write_text("\n".join(rows), encoding="utf-8")
    texts, labels = u.load_labeled_csv(path)
    task = u.texts_task("a good movie and a bad movie , fine or awful", texts, labels, valid_per_class=5)
    assert task.classes == ["neg", "pos"] and len(task.valid) == 10 and len(task.pool) == 30
    assert "<bos>" in task.vocab.stoi and task.vocab.decode(task.valid[0])[0] == "<bos>"


# --------------------------------------------------------------------------------------------------------------
# Bad arguments name the argument
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, arg", [
    (lambda: u.stlr(5, 0), "T"),
    (lambda: u.stlr(11, 10), "t"),
    (lambda: u.stlr(1, 10, lr_max=0), "lr_max"),
    (lambda: u.stlr(1, 10, cut_frac=1.0), "cut_frac"),
    (lambda: u.stlr(1, 10, ratio=0.5), "ratio"),
    (lambda: u.one_cycle(1, 10, pct_start=0), "pct_start"),
    (lambda: u.discriminative_lrs(0.01, 0), "n_groups"),
    (lambda: u.discriminative_lrs(-1, 3), "lr"),
    (lambda: u.discriminative_lrs(0.01, 3, factor=0), "factor"),
    (lambda: u.stlr_scheduler("opt", 10), "optimizer"),
    (lambda: u.AWDLSTM(1), "vocab_size"),
    (lambda: u.AWDLSTM(50, n_layers=0), "n_layers"),
    (lambda: u.AWDLSTM(50, weight_p=1.0), "weight_p"),
    (lambda: u.AWDLSTM(50, init_range=0), "init_range"),
    (lambda: u.AWDLSTM(50).set_dropouts(foo_p=0.1), "foo_p"),
    (lambda: u.AWDLSTM(50)(torch.zeros(3, dtype=torch.long)), "x"),
    (lambda: u.ConcatPoolClassifier(torch.nn.Linear(2, 2), 2), "lm"),
    (lambda: u.ConcatPoolClassifier(u.AWDLSTM(50), 1), "n_classes"),
    (lambda: u.pad_batch([], 1), "docs"),
    (lambda: u.TopicWorld(seed=-1), "seed"),
    (lambda: u.TopicWorld(topic_sizes=(1, 2)), "topic_sizes"),
    (lambda: u.TopicWorld(group_size=17), "group_size"),
    (lambda: u.TopicWorld(p_topic=0.7, p_shared=0.4), "p_shared"),
    (lambda: u.TopicWorld(zipf=-1), "zipf"),
    (lambda: u.TopicWorld().word_distribution("X", 0), "pos"),
    (lambda: u.TopicWorld().documents(3, (0, 2), [0], np.random.default_rng(0)), "sentences"),
    (lambda: u.TopicWorld().documents(3, (1, 2), [16], np.random.default_rng(0)), "topics"),
    (lambda: u.topic_world_task(valid_per_class=600), "valid_per_class"),
    (lambda: u.topic_world_task(classes=((0,),)), "classes"),
    (lambda: u.texts_task("a b", ["a"], ["x"]), "labels"),
    (lambda: u.texts_task("a b", ["a", "b"], ["x"]), "texts"),
    (lambda: u.texts_task("a b", ["a", "b"], ["x", "y"], valid_per_class=1), "valid_per_class"),
    (lambda: u.load_labeled_csv("/nonexistent.csv"), "path"),
    (lambda: u.clean_docstring(3), "text"),
    (lambda: u.linear_probe(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), torch.zeros(4, 3),
                            torch.zeros(4, dtype=torch.long)), "train_x"),
    (lambda: u.probe_features([torch.tensor([1, 2])], "tfidf", 0), "kind"),
    (lambda: u.labels_to_match([100, 10], [1.0, 2.0], 1.0), "ns"),
    (lambda: u.Fig3Result({}).error("semi", 20), "arm"),
    (lambda: u.Fig3Result({}).error("best_scratch", 20), "n"),
    (lambda: u.pad_batch([torch.zeros(2, 2, dtype=torch.long)], 1), "docs"),
    (lambda: u.perplexity(torch.nn.Linear(2, 2), torch.arange(100)), "lm"),
    (lambda: u.perplexity(u.AWDLSTM(50), torch.arange(10)), "ids"),
    (lambda: u.probe_features([torch.tensor([1, 2])], "lm", 0), "lm"),
    (lambda: u.probe_features([], "bow", 0, vocab_size=5), "docs"),
    (lambda: u.linear_probe(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), torch.zeros(4, 2),
                            torch.zeros(4, dtype=torch.long), l2s=()), "l2s"),
    (lambda: u.texts_task("a b", ["a", "b"] * 5, ["x", "y"] * 5, valid_per_class=1, max_tokens=1), "max_tokens"),
    (lambda: u.texts_task("", ["a", "b"] * 5, ["x", "y"] * 5, valid_per_class=1), "general"),
    (lambda: u.docstring_task(families={"only": ("os",)}), "families"),
    (lambda: u.classifier_error(u.ConcatPoolClassifier(u.AWDLSTM(50), 2), [torch.tensor([1])], torch.tensor([0, 1]), 0),
     "docs"),
    (lambda: u.finetune_lm(torch.nn.Linear(2, 2), torch.arange(40), steps=5), "lm"),
    (lambda: u.finetune_lm(u.AWDLSTM(50), torch.arange(2), steps=5), "ids"),
    (lambda: u.pretrain_lm(torch.nn.Linear(2, 2), torch.arange(40), steps=5, warmup=1), "lm"),
])
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_text_task_subsets_and_stream_reject_bad_sizes(world_b):
    with pytest.raises(ValueError, match="n"):
        world_b.labeled(3)
    with pytest.raises(ValueError, match="n"):
        world_b.labeled(2101)
    with pytest.raises(ValueError, match="docs"):
        world_b.stream([])


def test_the_whole_pipeline_runs_end_to_end_in_miniature():
    """A seconds-long run of every stage and experiment (the claims run the real sizes)."""
    import dataclasses

    task = u.topic_world_task(seed=0, n_general_docs=300, per_class=40, valid_per_class=10)
    recipe = dataclasses.replace(u.WORLD_B, pretrain_steps=30, warmup=5, lm_ft_min_steps=2, lm_ft_max_steps=3,
                                 clf_lrs=(1e-2,), min_steps=2, n_checkpoints=2, batch_size=8, seq_len=12)
    lm, losses = u.pretrained_lm(task, recipe, seed=0, progress=False)
    assert len(losses) == 30 and losses[-1] < losses[0]
    before = [p.detach().clone() for p in lm.parameters()]
    fig3 = u.fig3_experiment(task, lm, recipe, {"supervised": [8, 16], "semi": [8], "scratch_full": [8, 16]},
                             progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, lm.parameters()))   # the shared LM is left untouched
    assert fig3.ns("supervised") == [8, 16] and len(fig3.results["supervised"][8].errors[1e-2]) == 2
    assert 0 <= fig3.error("best_scratch", 8) <= 100 and fig3.results["semi"][8].best_lr == 1e-2
    probe = u.probe_experiment(task, lm, recipe, n=16)
    assert set(probe) == {"pretrained LM", "random LM", "bag of words"}
    rows = u.ablation_experiment(task, lm, recipe, n=8, rows=("Last",), progress=False)
    assert 0 <= rows["Last"].error <= 100
    # Table 6's "no LM fine-tuning": the full classifier recipe on the stage-1 LM itself, the LM left untouched
    no_ft = u.ablation_experiment(task, lm, recipe, n=8, rows=(u.NO_LM_FT,), progress=False)[u.NO_LM_FT]
    assert no_ft.errors == u._tuned("x", task, lm, 8, recipe, 0, None).errors
    assert all(torch.equal(a, b) for a, b in zip(before, lm.parameters()))
    assert 1.0 < u.perplexity(lm, task.stream(task.valid), seq_len=12) < len(task.vocab)
    again = u.fig3_experiment(task, lm, recipe, {"supervised": [8]}, progress=False)
    assert again.results["supervised"][8].errors == fig3.results["supervised"][8].errors     # deterministic


def test_finetune_rejects_bad_settings():
    clf = u.ConcatPoolClassifier(_tiny_lm(), 2)
    docs, y = [torch.tensor([2, 5, 6])] * 4, torch.tensor([0, 1, 0, 1])
    for kw, arg in (({"unfreeze": "chain"}, "unfreeze"), ({"schedule": "warm"}, "schedule"),
                    ({"n_checkpoints": 9}, "n_checkpoints"), ({"lr": 0}, "lr"), ({"batch_size": 1}, "batch_size")):
        with pytest.raises(ValueError, match=arg):
            u.finetune_classifier(clf, docs, y, docs, y, pad_id=1, **kw)
    with pytest.raises(ValueError, match="steps"):
        u.finetune_lm(_tiny_lm(), torch.arange(3, 40), steps=1)
    with pytest.raises(ValueError, match="warmup"):
        u.pretrain_lm(_tiny_lm(), torch.arange(3, 40), steps=5, warmup=5)
    with pytest.raises(ValueError, match="plan"):
        u.fig3_experiment(None, None, u.WORLD_B, {"bert": [20]})
    with pytest.raises(ValueError, match="rows"):
        u.ablation_experiment(None, None, u.WORLD_B, 20, rows=("Chain-thaw",))
    with pytest.raises(ValueError, match="variant"):
        u.scratch_arm(None, 20, u.WORLD_B, variant="bow")


# --------------------------------------------------------------------------------------------------------------
# The claims (fixed by issue 5; the chapter states them). Seeds from FOURPAPERS_SEEDS, else 0, 1, 2.
# One world-B run per seed is shared by the world-B claims; world A shares one pretrained LM (seed 0) across
# seeds to fit the test budget, while the labeled subsets, the scratch initialisation and fine-tuning vary.
# --------------------------------------------------------------------------------------------------------------

import functools  # noqa: E402

from fourpapers import claims  # noqa: E402

SMALL_NS = (20, 48, 100)


@functools.lru_cache(maxsize=None)
def _world_b_lm(seed):
    task = u.topic_world_task(seed=seed)
    lm, losses = u.pretrained_lm(task, u.WORLD_B, seed=seed, progress=False)
    return task, lm, losses


@functools.lru_cache(maxsize=None)
def _world_b(seed):
    task, lm, _ = _world_b_lm(seed)
    # no semi-supervised arm: the chapter reports it on seed 0 and its calibration, it asserts nothing about it
    plan = {"supervised": SMALL_NS, "scratch": SMALL_NS, "scratch_nodrop": SMALL_NS, "scratch_full": SMALL_NS + (200,)}
    fig3 = u.fig3_experiment(task, lm, u.WORLD_B, plan, seed=seed, progress=False)
    probe = u.probe_experiment(task, lm, u.WORLD_B, n=200, seed=seed)
    return fig3, probe


@functools.lru_cache(maxsize=None)
def _world_a_lm():
    task = u.docstring_task()
    lm, _ = u.pretrained_lm(task, u.WORLD_A, seed=0, progress=False)
    return task, lm


@functools.lru_cache(maxsize=None)
def _world_a(seed):
    task, lm = _world_a_lm()
    fig3 = u.fig3_experiment(task, lm, u.WORLD_A, {"supervised": [100], "scratch_full": [100]}, seed=seed,
                             progress=False)
    probe = u.probe_experiment(task, lm, u.WORLD_A, n=200, seed=seed)
    return fig3, probe


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_world_b_lm_ends_below_the_syntax_only_loss(seed):
    """The stage-1 figure: the world-B LM's training loss (mean of its last 50 updates) ends below the best loss a
    model can reach that knows the grammar but not the topic, so the LM infers topics."""
    task, _, losses = _world_b_lm(seed)
    ref = task.info["world"].reference_losses()
    final = sum(losses[-50:]) / 50
    claims.report("world B: LM training loss ends below the syntax-only loss", seed, final=final,
                  syntax_only=ref["syntax only"], topic_known=ref["topic known"])
    assert final < ref["syntax only"]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_world_b_ulmfit_beats_the_best_scratch_by_10_points_when_labels_are_few(seed):
    fig3, _ = _world_b(seed)
    sup = {n: fig3.error("supervised", n) for n in SMALL_NS}
    scratch = {n: fig3.error("best_scratch", n) for n in SMALL_NS}
    claims.report("world B: supervised ULMFiT <= best scratch - 10 at n <= 100", seed,
                  **{f"sup{n}": sup[n] for n in SMALL_NS}, **{f"scratch{n}": scratch[n] for n in SMALL_NS})
    assert all(sup[n] <= scratch[n] - 10 for n in SMALL_NS)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_world_b_scratch_needs_4x_the_labels_to_match_ulmfit_at_48(seed):
    fig3, _ = _world_b(seed)
    target = fig3.error("supervised", 48)
    ns, errs = fig3.curve("best_scratch")
    need = u.labels_to_match(ns, errs, target)
    claims.report("world B: scratch needs >= 4x the labels of supervised ULMFiT at n=48", seed,
                  sup48=target, **{f"scratch{n}": e for n, e in zip(ns, errs)},
                  ratio=need / 48 if math.isfinite(need) else f"> {max(ns) / 48:.2f}")
    assert need >= 4 * 48


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_lm_probe_beats_bag_of_words_in_world_b_and_loses_in_world_a(seed):
    _, probe_b = _world_b(seed)
    _, probe_a = _world_a(seed)
    claims.report("probe: LM < BoW in world B, LM > BoW in world A", seed,
                  b_lm=probe_b["pretrained LM"], b_bow=probe_b["bag of words"], b_random=probe_b["random LM"],
                  a_lm=probe_a["pretrained LM"], a_bow=probe_a["bag of words"], a_random=probe_a["random LM"])
    assert probe_b["pretrained LM"] < probe_b["bag of words"]
    assert probe_a["pretrained LM"] > probe_a["bag of words"]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_world_a_supervised_ulmfit_does_not_beat_scratch_at_100(seed):
    fig3, _ = _world_a(seed)
    sup, scratch = fig3.error("supervised", 100), fig3.error("scratch_full", 100)
    claims.report("world A: supervised ULMFiT >= scratch at n=100", seed, sup100=sup, scratch100=scratch)
    assert sup >= scratch


@functools.lru_cache(maxsize=None)
def _table7(seed):
    """Table 7 in miniature (world B, n = 20): validation error % of each fine-tuning row, and the best scratch."""
    task, lm, _ = _world_b_lm(seed)
    fig3, _ = _world_b(seed)
    rows = {k: v.error for k, v in u.ablation_experiment(task, lm, u.WORLD_B, n=20, seed=seed,
                                                         rows=("Full", "Last", "Freez"), progress=False).items()}
    rows["Freez+discr+stlr"] = fig3.error("supervised", 20)   # the full recipe is the supervised arm itself
    return rows, fig3.error("best_scratch", 20)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_table7_rows_all_beat_scratch(seed):
    """Table 7 in miniature (world B, n = 20): every fine-tuning row is >= 10 points below the best scratch."""
    rows, scratch = _table7(seed)
    claims.report("Table 7 rows at n=20 <= best scratch - 10", seed, **rows, scratch=scratch)
    assert all(e <= scratch - 10 for e in rows.values())


@pytest.mark.claims
def test_table7_rows_tie_with_each_other():
    """The rows tie: averaged over the seeds (pass at least 3), the four rows' mean errors lie within 5 points of
    each other, against about 38 points between them and the best scratch. Calibration: the spread of the row
    means is 1.1 / 1.1 / 1.7 / 1.2 / 3.6 / 3.4 / 3.6 / 2.2 over the triples of consecutive seeds 0-2 ... 7-9, 2.0
    over all ten; on the other float path 1.2 / 1.9 / 1.3 (seeds 0-2, 1-3, 2-4). (The statistic used before, the
    smallest spread of a row across seeds against the largest spread within one seed, flipped between CPUs.)"""
    seeds = claims.seeds([0, 1, 2])
    assert len(seeds) >= 3, "a claim over seeds: pass at least 3 seeds in FOURPAPERS_SEEDS"
    table = {seed: _table7(seed)[0] for seed in seeds}
    means = {row: sum(t[row] for t in table.values()) / len(seeds) for row in table[seeds[0]]}
    spread = max(means.values()) - min(means.values())
    claims.report("Table 7 rows tie: the row means over seeds lie within 5 points", "all", **means, spread=spread)
    assert spread <= 5


@functools.lru_cache(maxsize=None)
def _no_lm_ft(seed):
    """Table 6's "no LM fine-tuning" row in miniature (world B, n = 20): the full classifier recipe on the stage-1
    LM, stage 2 skipped; with the full recipe (the supervised arm) and the best scratch at n = 20."""
    task, lm, _ = _world_b_lm(seed)
    fig3, _ = _world_b(seed)
    row = u.ablation_experiment(task, lm, u.WORLD_B, n=20, seed=seed, rows=(u.NO_LM_FT,), progress=False)
    return row[u.NO_LM_FT].error, fig3.error("supervised", 20), fig3.error("best_scratch", 20)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_no_lm_finetuning_row_beats_scratch_by_10_points(seed):
    """Table 6's first row in miniature (world B, n = 20): without stage 2 the classifier is still at least 10 points
    below the best scratch. Calibration (issue 14), best scratch minus the row: seeds 0-9 29.3, 42.7, 39.3,
    33.3, 42.0, 48.7, 28.3, 51.3, 33.0, 40.3; seeds 0-4 on the other float path 37.3, 37.0, 35.3, 36.7, 44.7;
    worst 28.3, a margin of 18.3 points over the bound."""
    no_ft, full, scratch = _no_lm_ft(seed)
    claims.report("no LM fine-tuning at n=20 <= best scratch - 10", seed, no_lm_ft=no_ft, ulmfit=full,
                  scratch=scratch)
    assert no_ft <= scratch - 10


@pytest.mark.claims
def test_no_lm_finetuning_ties_with_the_full_recipe():
    """Stage 2 buys nothing the miniature resolves: averaged over the seeds (pass at least 3), the "no LM fine-tuning"
    row's error is within 5 points of the full recipe's (supervised ULMFiT), either way; in the paper stage 2 is
    worth 0.69 to 1.99 points (Table 6). Calibration (issue 14), row minus full recipe: per seed, seeds 0-9
    +4.3, +0.3, -1.0, +0.0, -4.0, -1.3, -6.0, -0.7, +0.3, +2.7; seeds 0-4 on the other float path +0.3, +2.3,
    -1.0, +3.7, -2.7. Means over consecutive triples 0-2 ... 7-9: +1.2, -0.2, -1.7, -1.8, -3.8, -2.7, -2.1,
    +0.8; on the other float path (0-2, 1-3, 2-4) +0.6, +1.7, +0.0; worst 3.78 (seeds 4-6), a margin of 1.22
    points; on the default seeds 0-2 the margin is 3.78 here and 4.44 on the other float path."""
    seeds = claims.seeds([0, 1, 2])
    assert len(seeds) >= 3, "a claim over seeds: pass at least 3 seeds in FOURPAPERS_SEEDS"
    diffs = [_no_lm_ft(seed)[0] - _no_lm_ft(seed)[1] for seed in seeds]
    mean = sum(diffs) / len(diffs)
    claims.report("no LM fine-tuning - full recipe at n=20, mean over seeds", "all", mean_diff=mean,
                  worst_seed=max(diffs, key=abs))
    assert abs(mean) <= 5
