"""fourpapers.gopher.probes: the probe suite, zero-shot scoring, the readouts."""

import pytest
import torch
import torch.nn as nn

from fourpapers import gopher

from .helpers import Fixed as _Fixed
from .helpers import world as _world


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
        a, is_, north, of, b, dot = stmts[k : k + 6]
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
            assert (
                len({tuple(o) for o in p.options})
                == len(p.options)
                == round(1 / task.chance)
            )
            ctx = p.context
            if task.name == "fact_city":
                assert right == [w.city[entity[tuple(ctx[1:3])]]] and ctx[3:] == [
                    "lives",
                    "in",
                ]
            elif task.name == "fact_job":
                assert right == [w.job[entity[tuple(ctx[1:3])]]] and ctx[3:] == [
                    "works",
                    "as",
                    "a",
                ]
            elif task.category == "reading":
                n_people = int(task.name[-1])
                passage = {ctx[1 + 5 * k]: ctx[4 + 5 * k] for k in range(n_people)}
                assert (
                    len(passage) == n_people
                    and ctx[-5:-3] == ["where", "does"]
                    and ctx[-2:] == ["live", "?"]
                )
                assert right == [passage[ctx[-3]]]
                assert all(o[0] in passage.values() for o in p.options)
            elif task.category == "maths":
                plus, eq = ctx.index("+"), ctx.index("=")
                a, b = int("".join(ctx[1:plus])), int("".join(ctx[plus + 1 : eq]))
                assert right == list(str(a + b)) and len(ctx[1:plus]) == int(
                    task.name[6]
                )
                assert all(
                    abs(int("".join(o)) - (a + b)) in (1, 10, 100)
                    for o in p.options
                    if o != right
                )
            else:
                hop = int(task.name[6])
                south = _north_of(ctx[1:-5])
                x = ctx[-4]
                chain = [x]
                for _ in range(hop):
                    chain.append(south[chain[-1]])
                assert right == [chain[-1]]
                wrong = [o[0] for o in p.options if o != right][0]
                # the wrong option lies north of x: walking south from it reaches x
                node = wrong
                while node != x:
                    node = south[node]
                first = (set(south) - set(south.values())).pop()
                last = (set(south.values()) - set(south)).pop()
                assert {right[0], wrong}.isdisjoint({first, last})


def test_scoring_uses_length_normalised_log_likelihood():
    vocab = _world(0).vocab
    table = torch.full((len(vocab),), -10.0)
    table[vocab.stoi["1"]] = -1.0
    table[vocab.stoi["2"]] = -3.0
    table[vocab.stoi["rome"]] = -0.5
    model = _Fixed(table)
    # "1 2" has mean log p -2.0; "2" alone -3.0 (sum would prefer "2"), "1 1 1" -1.0 is
    # best
    task = gopher.ProbeTask(
        "maths_2digit",
        "maths",
        [
            gopher.Probe(
                [".", "3", "="], [["1", "2"], ["2"], ["1", "1", "1"], ["2", "2"]], 2
            ),
            gopher.Probe(
                [".", "3", "="], [["1", "2"], ["2"], ["2", "2"], ["2", "2", "2"]], 0
            ),
        ],
    )
    assert gopher.score_task(model, vocab, task) == 1.0
    city = gopher.ProbeTask(
        "fact_city",
        "knowledge",
        [
            gopher.Probe([".", "lives", "in"], [["oslo"], ["rome"]], 1),
            gopher.Probe([".", "lives", "in"], [["rome"], ["oslo"]], 1),
        ],
    )
    assert gopher.score_task(model, vocab, city) == 0.5


def test_scoring_a_real_model_is_batch_independent():
    w = _world(0)
    tasks = gopher.make_probes(w, n=12, seed=0)
    model = gopher.make_model(len(w.vocab), 16, 1)
    for task in tasks:
        a = gopher.score_task(model, w.vocab, task, batch_size=5)
        assert (
            a == gopher.score_task(model, w.vocab, task, batch_size=64)
            and 0.0 <= a <= 1.0
        )


def test_category_chance_averages_the_tasks_chance():
    assert gopher.category_chance("knowledge") == (0.5 + 0.25) / 2
    assert (
        gopher.category_chance("maths") == 0.25
        and gopher.category_chance("logic") == 0.5
    )
    with pytest.raises(ValueError, match="category"):
        gopher.category_chance("poetry")


def test_category_accuracy_averages_a_category_s_tasks():
    acc = {
        "fact_city": [0.5, 0.7],
        "fact_job": [0.3, 0.5],
        "maths_2digit": [0.25, 0.25],
    }
    assert gopher.category_accuracy(acc, "knowledge") == pytest.approx([0.4, 0.6])


def test_knowledge_by_frequency_and_maths_choices_on_a_stand_in_model():
    w = _world(0)
    tasks = {t.name: t for t in gopher.make_probes(w, n=40, seed=0)}
    table = torch.zeros(len(w.vocab))
    table[w.vocab.stoi["1"]] = 5.0  # prefers the digit 1 everywhere
    model = _Fixed(table)
    bands = gopher.knowledge_by_frequency(
        model, w, tasks["fact_city"], edges=(0, 100, 200)
    )
    assert len(bands) == 2 and all(0.0 <= b <= 1.0 for b in bands)
    picks = gopher.maths_choices(model, w.vocab, tasks["maths_2digit"])
    assert (
        sum(p for p, _ in picks.values()) == 40
        and sum(o for _, o in picks.values()) == 160
    )
    assert set(picks) <= {0, 1, -1, 10, -10, 100, -100} and picks[0][1] == 40
    with pytest.raises(ValueError, match="task"):
        gopher.knowledge_by_frequency(model, w, tasks["maths_2digit"])
    with pytest.raises(ValueError, match="edges"):
        gopher.knowledge_by_frequency(model, w, tasks["fact_city"], edges=(5, 5))
    with pytest.raises(ValueError, match="task"):
        gopher.maths_choices(model, w.vocab, tasks["fact_city"])


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: gopher.make_probes(_world(0), n=0), "n"),
        (lambda: gopher.make_probes(_world(0), seed=-2), "seed"),
        (
            lambda: gopher.score_task(
                nn.Identity(),
                _world(0).vocab,
                gopher.ProbeTask("fact_city", "knowledge", []),
            ),
            "task",
        ),
        (
            lambda: gopher.score_task(
                nn.Identity(), _world(0).vocab, None, batch_size=0
            ),
            "batch_size",
        ),
        (lambda: gopher.category_accuracy({"fact_city": [0.5]}, "music"), "category"),
        (lambda: gopher.category_accuracy({"fact_city": [0.5]}, "maths"), "accuracy"),
    ],
)
def test_probes_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
