"""Chapter 3, world B: the generated topic world."""

import collections

import numpy as np
import pytest
import torch

from fourpapers import ulmfit as u

# --------------------------------------------------------------------------------------
# The two worlds
# --------------------------------------------------------------------------------------


def test_topic_world_is_deterministic_per_seed():
    a, b, c = (u.topic_world_task(seed=s, n_general_docs=200) for s in (3, 3, 4))
    assert torch.equal(a.general, b.general) and all(
        torch.equal(x, y) for x, y in zip(a.pool, b.pool)
    )
    assert not torch.equal(a.general[:500], c.general[:500])


def test_topic_world_statistics_match_the_recipe(world_b):
    w = world_b.info["world"]
    assert len(w) == 1542 and len(world_b.vocab) == 1542 + len(u.SPECIALS)
    assert w.words[:12] == list(u.FUNCTION_WORDS) and len(set(w.words)) == 1542
    for pos, (a, b, c) in zip("NVJ", zip((40, 20, 15), (150, 60, 45), (40, 20, 15))):
        assert (
            w.topic_words[pos].shape == (16, a)
            and len(w.shared_words[pos]) == b
            and len(w.generic_words[pos]) == c
        )
        assert w.shared_groups[pos].shape == (b, 4)
        assert all(len(set(g)) == 4 for g in w.shared_groups[pos].tolist())
    assert len(w.templates) == 8
    # the slot sources: topic 0.35, shared 0.40, generic 0.25 (empirically, over the
    # general corpus)
    rng = np.random.default_rng(0)
    topics = rng.integers(0, 16, 10_000)
    sents = w.sentences(topics, rng)
    own = [
        set().union(*(w.topic_words[p][t].tolist() for p in "NVJ")) for t in range(16)
    ]
    shared = [
        set().union(*(w.shared_of[p][t].tolist() for p in "NVJ")) for t in range(16)
    ]
    generic = set().union(*(w.generic_words[p].tolist() for p in "NVJ"))
    kinds = collections.Counter()
    for t, sent in zip(topics.tolist(), sents):
        for word in sent.tolist():
            if word < 12:
                continue
            kind = (
                "topic"
                if word in own[t]
                else "shared"
                if word in shared[t]
                else "generic"
            )
            assert kind != "generic" or word in generic
            kinds[kind] += 1
    total = sum(kinds.values())
    assert kinds["topic"] / total == pytest.approx(0.35, abs=0.01)
    assert kinds["shared"] / total == pytest.approx(0.40, abs=0.01)
    assert kinds["generic"] / total == pytest.approx(0.25, abs=0.01)
    assert 2.0 < w.topic_information() < 2.5  # bits of topic per content word
    # corpora: ~1M general words in 20,000 documents; 4 classes x 600 -> 300 validation
    # + 2,100 pool
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
    own = [
        set().union(*(w.topic_words[p][t].tolist() for p in "NVJ")) for t in range(16)
    ]
    any_topic = set().union(*own)
    mixed = sum(
        any(x in any_topic and x not in own[t] for x in d.tolist())
        for d, t in zip(docs, first.tolist())
    )
    assert (
        0.20 < mixed / 4000 < 0.27
    )  # a few mixed documents happen to draw one topic only


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: u.TopicWorld(seed=-1), "seed"),
        (lambda: u.TopicWorld(topic_sizes=(1, 2)), "topic_sizes"),
        (lambda: u.TopicWorld(group_size=17), "group_size"),
        (lambda: u.TopicWorld(p_topic=0.7, p_shared=0.4), "p_shared"),
        (lambda: u.TopicWorld(zipf=-1), "zipf"),
        (lambda: u.TopicWorld().word_distribution("X", 0), "pos"),
        (
            lambda: u.TopicWorld().documents(3, (0, 2), [0], np.random.default_rng(0)),
            "sentences",
        ),
        (
            lambda: u.TopicWorld().documents(3, (1, 2), [16], np.random.default_rng(0)),
            "topics",
        ),
        (lambda: u.topic_world_task(valid_per_class=600), "valid_per_class"),
        (lambda: u.topic_world_task(classes=((0,),)), "classes"),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
