"""fourpapers.gopher.world: the world (vocabulary, entities, facts), the corpus."""

import pytest
import torch

from fourpapers import gopher

from .helpers import world as _world


def test_world_is_deterministic_and_its_word_lists_are_disjoint():
    a, b = gopher.build_world(0), _world(0)
    assert (
        a.vocab.itos == b.vocab.itos and a.entities == b.entities and a.city == b.city
    )
    assert a.entities != _world(1).entities
    assert 800 <= len(a.vocab) <= 860 and len(set(a.entities)) == 200
    lists = [
        set(gopher.CITIES),
        set(gopher.JOBS),
        set(gopher.NAMES),
        set(a.syllables),
        set(gopher.TEMPLATE_WORDS),
    ]
    assert sum(len(s) for s in lists) == len(set().union(*lists))
    assert (len(gopher.CITIES), len(gopher.JOBS), len(gopher.NAMES)) == (40, 30, 100)
    assert all(w in a.vocab.stoi for s in lists for w in s)
    assert set(a.valid_topics).isdisjoint(a.train_topics)


def test_corpus_has_five_equal_parts_and_held_out_topics():
    world = _world(0)
    c = gopher.build_corpus(world, tokens_per_category=3000, seed=0)
    assert set(c.tokens_per_category) == {
        "pydoc",
        "knowledge",
        "reading",
        "maths",
        "logic",
    }
    assert all(3000 <= n < 3200 for n in c.tokens_per_category.values())
    assert len(c.train_ids) == sum(c.tokens_per_category.values())
    assert torch.equal(
        c.train_ids,
        gopher.build_corpus(world, tokens_per_category=3000, seed=0).train_ids,
    )
    assert len(c.valid_ids) > 5000 and 0 < c.unk_rate_valid < 0.3


def test_heldout_mixture_is_the_heldout_pydoc_then_fresh_documents_of_each_part():
    world = _world(0)
    c = gopher.build_corpus(
        world, tokens_per_category=3000, seed=0, heldout_per_category=500
    )
    n = len(c.valid_ids)
    assert torch.equal(c.valid_mix_ids[:n], c.valid_ids)
    assert 4 * 500 <= len(c.valid_mix_ids) - n < 4 * 600
    fresh = set(world.vocab.decode(c.valid_mix_ids[n:]))
    assert {"lives", "where", "+", "north"} <= fresh  # knowledge/reading, maths, logic
    again = gopher.build_corpus(
        world, tokens_per_category=3000, seed=0, heldout_per_category=500
    )
    assert torch.equal(again.valid_mix_ids, c.valid_mix_ids)
    other = gopher.build_corpus(
        world, tokens_per_category=3000, seed=1, heldout_per_category=500
    )
    assert not torch.equal(
        other.valid_mix_ids[n : n + 200], c.valid_mix_ids[n : n + 200]
    )
    with pytest.raises(ValueError, match="heldout_per_category"):
        gopher.build_corpus(world, tokens_per_category=3000, heldout_per_category=0)


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: gopher.build_world(-1), "seed"),
        (lambda: gopher.build_world(0, n_entities=0), "n_entities"),
        (lambda: gopher.build_world(0, n_syllables=2), "n_syllables"),
        (lambda: gopher.build_world(0, n_pydoc_words=0), "n_pydoc_words"),
        (
            lambda: gopher.build_corpus(_world(0), tokens_per_category=10),
            "tokens_per_category",
        ),
        (lambda: gopher.build_corpus(_world(0), chunk=2), "chunk"),
    ],
)
def test_world_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
