"""World B: a generated language whose next word needs the document's topic."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from .._checks import positive_int as _positive_int
from .._checks import probability as _probability
from ..data import WordVocab
from .tasks import SPECIALS, TextTask

# --------------------------------------------------------------------------------------
# World B: a generated topic world
# --------------------------------------------------------------------------------------

FUNCTION_WORDS = (
    "the",
    "a",
    "of",
    "it",
    "and",
    ",",
    ".",
    "in",
    "with",
    "this",
    "is",
    "to",
)
TEMPLATES = (
    "the N V a J N .",
    "the N of the N V .",
    "it V the N , and a N V .",
    "a J N V with the N .",
    "this N is J .",
    "the J N V the N in a N .",
    "it is to V the N of a J N .",
    "the N and the N V this J N .",
)
_POS = ("N", "V", "J")


class TopicWorld:
    """World B: a generated language in which the next word depends on the document's
    topic (chapter 3).

    The lexicon (deterministic per ``seed``): 12 function words; ``n_topics`` topics,
    each with its own ``topic_sizes`` = (nouns, verbs, adjectives); ``shared_sizes``
    shared words, each belonging to a random group of ``group_size`` topics;
    ``generic_sizes`` generic words. Every list is sampled with Zipf(``zipf``) weights
    p(rank r) ~ r^-zipf. A sentence is one of 8 templates (``TEMPLATES``); each content
    slot (N, V, J) of a sentence about topic t takes a topic word of t with probability
    ``p_topic``, a shared word of t's groups with ``p_shared``, otherwise a generic
    word. So no content word alone is certain to name the topic, while a document's
    topic is clear from a handful of them -- and an LM predicts the next word better
    once it infers it.
    """

    def __init__(
        self,
        seed: int = 0,
        n_topics: int = 16,
        topic_sizes: Sequence[int] = (40, 20, 15),
        shared_sizes: Sequence[int] = (150, 60, 45),
        group_size: int = 4,
        generic_sizes: Sequence[int] = (40, 20, 15),
        p_topic: float = 0.35,
        p_shared: float = 0.40,
        zipf: float = 1.0,
    ):
        self.seed = _positive_int("seed", seed, minimum=0)
        self.n_topics = _positive_int("n_topics", n_topics, minimum=2)
        for name, sizes in (
            ("topic_sizes", topic_sizes),
            ("shared_sizes", shared_sizes),
            ("generic_sizes", generic_sizes),
        ):
            if len(sizes) != 3 or any(
                isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes
            ):
                raise ValueError(
                    f"{name}: expected three positive integers (nouns, verbs, "
                    f"adjectives), got {sizes!r}"
                )
        if (
            isinstance(group_size, bool)
            or not isinstance(group_size, int)
            or not 1 <= group_size <= n_topics
        ):
            raise ValueError(
                f"group_size: expected an integer in [1, n_topics={n_topics}], got "
                f"{group_size!r}"
            )
        _probability("p_topic", p_topic, upper_open=False)
        _probability("p_shared", p_shared, upper_open=False)
        if p_topic + p_shared > 1.0 + 1e-12:
            raise ValueError(
                f"p_shared: expected p_topic + p_shared <= 1, got {p_topic} + "
                f"{p_shared}"
            )
        if isinstance(zipf, bool) or not isinstance(zipf, (int, float)) or zipf < 0:
            raise ValueError(f"zipf: expected a number >= 0, got {zipf!r}")
        self.topic_sizes, self.shared_sizes, self.generic_sizes = (
            tuple(topic_sizes),
            tuple(shared_sizes),
            tuple(generic_sizes),
        )
        self.group_size, self.p_topic, self.p_shared, self.zipf = (
            group_size,
            float(p_topic),
            float(p_shared),
            float(zipf),
        )
        self.p_generic = 1.0 - self.p_topic - self.p_shared
        rng = np.random.default_rng([self.seed, 1])
        n_content = sum(
            n_topics * a + b + c
            for a, b, c in zip(topic_sizes, shared_sizes, generic_sizes)
        )
        self.words: list[str] = list(FUNCTION_WORDS) + _pseudo_words(
            n_content, rng, exclude=set(FUNCTION_WORDS)
        )
        nxt = len(FUNCTION_WORDS)
        self.topic_words: dict[
            str, np.ndarray
        ] = {}  # pos -> [n_topics, size] word indices
        self.shared_words: dict[str, np.ndarray] = {}  # pos -> [size] word indices
        self.shared_groups: dict[
            str, np.ndarray
        ] = {}  # pos -> [size, group_size] topics of each shared word
        self.generic_words: dict[str, np.ndarray] = {}
        for k, pos in enumerate(_POS):
            a, b, c = topic_sizes[k], shared_sizes[k], generic_sizes[k]
            self.topic_words[pos] = np.arange(nxt, nxt + n_topics * a).reshape(
                n_topics, a
            )
            nxt += n_topics * a
            self.shared_words[pos] = np.arange(nxt, nxt + b)
            nxt += b
            self.shared_groups[pos] = np.stack(
                [
                    np.sort(rng.choice(n_topics, group_size, replace=False))
                    for _ in range(b)
                ]
            )
            self.generic_words[pos] = np.arange(nxt, nxt + c)
            nxt += c
        # the shared words of each topic, in the order of the shared list (Zipf rank =
        # position in that order)
        self.shared_of: dict[str, list[np.ndarray]] = {
            pos: [
                self.shared_words[pos][np.any(self.shared_groups[pos] == t, axis=1)]
                for t in range(n_topics)
            ]
            for pos in _POS
        }
        self.templates = [t.split() for t in TEMPLATES]

    def __len__(self) -> int:
        return len(self.words)

    def _zipf(self, size: int) -> np.ndarray:
        w = 1.0 / np.arange(1, size + 1) ** self.zipf  # p(rank r) ~ r^-zipf
        return w / w.sum()

    def word_distribution(self, pos: str, topic: int) -> np.ndarray:
        """p(word | slot ``pos``, topic) over the whole word list (the generator's exact
        distribution)."""
        if pos not in _POS:
            raise ValueError(f"pos: expected one of {_POS}, got {pos!r}")
        if (
            isinstance(topic, bool)
            or not isinstance(topic, (int, np.integer))
            or not 0 <= topic < self.n_topics
        ):
            raise ValueError(
                f"topic: expected an integer in [0, {self.n_topics}), got {topic!r}"
            )
        p = np.zeros(len(self.words))
        p[self.topic_words[pos][topic]] += self.p_topic * self._zipf(
            self.topic_words[pos].shape[1]
        )
        shared = self.shared_of[pos][topic]
        p[shared] += self.p_shared * self._zipf(len(shared))
        p[self.generic_words[pos]] += self.p_generic * self._zipf(
            len(self.generic_words[pos])
        )
        return p

    def topic_information(self) -> float:
        """I(topic; word) in bits for one content slot, topics uniform, slot types
        weighted as the templates use them."""
        counts = {pos: sum(t.count(pos) for t in self.templates) for pos in _POS}
        total = sum(counts.values())
        mi = 0.0
        for pos in _POS:
            P = np.stack(
                [self.word_distribution(pos, t) for t in range(self.n_topics)]
            )  # [topics, words]
            pw = P.mean(0)
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(P > 0, P * np.log2(P / pw), 0.0)
            mi += counts[pos] / total * terms.sum() / self.n_topics
        return float(mi)

    def reference_losses(self) -> dict[str, float]:
        """Two yardsticks for an LM of this world, in nats per word (the ``<bos>``
        tokens left out).

        ``"syntax only"``: the best loss of a model that knows the templates but not the
        topic (each content slot predicted with p(word | slot) averaged over topics);
        ``"topic known"``: the same with the sentence's topic given. Per sentence the
        template costs ln 8 and each slot its entropy; divided by the mean sentence
        length. An LM whose loss falls well below the first has learned to infer the
        topic.
        """

        def entropy(p: np.ndarray) -> float:
            p = p[p > 0]
            return float(-(p * np.log(p)).sum())

        h_slot = {}
        for pos in _POS:
            P = np.stack([self.word_distribution(pos, t) for t in range(self.n_topics)])
            h_slot[pos] = (entropy(P.mean(0)), float(np.mean([entropy(p) for p in P])))
        total_len = sum(len(t) for t in self.templates)
        out = {}
        for k, name in enumerate(("syntax only", "topic known")):
            nats = sum(h_slot[w][k] for t in self.templates for w in t if w in h_slot)
            out[name] = (
                len(self.templates) * math.log(len(self.templates)) + nats
            ) / total_len
        return out

    def sentences(
        self, topics: np.ndarray, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """One sentence (an array of word indices) per entry of ``topics``, templates
        uniform (vectorised)."""
        topics = np.asarray(topics, dtype=np.int64)
        n = len(topics)
        tmpl = rng.integers(0, len(self.templates), n)
        lengths = np.array([len(t) for t in self.templates])[tmpl]
        max_len = max(len(t) for t in self.templates)
        # slot codes: >= 0 a function word index, -1/-2/-3 a noun/verb/adjective slot
        code = np.full((len(self.templates), max_len), -9, dtype=np.int64)
        fw = {w: i for i, w in enumerate(FUNCTION_WORDS)}
        for i, t in enumerate(self.templates):
            code[i, : len(t)] = [fw[w] if w in fw else -1 - _POS.index(w) for w in t]
        slots = code[tmpl]  # [n, max_len]
        out = slots.copy()
        row_topic = np.broadcast_to(topics[:, None], slots.shape)
        for k, pos in enumerate(_POS):
            mask = slots == -1 - k
            m = int(mask.sum())
            t_of = row_topic[mask]
            source = rng.choice(
                3, size=m, p=[self.p_topic, self.p_shared, self.p_generic]
            )
            words = np.empty(m, dtype=np.int64)
            sel = source == 0  # a topic word of t
            tw = self.topic_words[pos]
            words[sel] = tw[
                t_of[sel],
                rng.choice(tw.shape[1], size=int(sel.sum()), p=self._zipf(tw.shape[1])),
            ]
            sel = source == 2  # a generic word
            gw = self.generic_words[pos]
            words[sel] = gw[
                rng.choice(len(gw), size=int(sel.sum()), p=self._zipf(len(gw)))
            ]
            for t in range(self.n_topics):  # a shared word of one of t's groups
                sel = (source == 1) & (t_of == t)
                sw = self.shared_of[pos][t]
                words[sel] = sw[
                    rng.choice(len(sw), size=int(sel.sum()), p=self._zipf(len(sw)))
                ]
            out[mask] = words
        return [out[i, : lengths[i]] for i in range(n)]

    def documents(
        self,
        n_docs: int,
        sentences: tuple[int, int],
        topics: Sequence[int],
        rng: np.random.Generator,
        mix_frac: float = 0.0,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """``n_docs`` documents of ``sentences`` = (min, max) sentences each, the topic
        uniform over ``topics``.

        A ``mix_frac`` share of documents mixes two topics, each sentence picking one of
        the two (the second uniform over the other ``topics``). Returns the documents
        (word-index arrays) and each one's first topic.
        """
        n_docs = _positive_int("n_docs", n_docs)
        lo, hi = sentences
        if not 1 <= lo <= hi:
            raise ValueError(
                f"sentences: expected (min, max) with 1 <= min <= max, got "
                f"{sentences!r}"
            )
        topics = np.asarray(list(topics), dtype=np.int64)
        if len(topics) == 0 or topics.min() < 0 or topics.max() >= self.n_topics:
            raise ValueError(
                f"topics: expected topic numbers in [0, {self.n_topics}), got "
                f"{topics.tolist()!r}"
            )
        _probability("mix_frac", mix_frac, upper_open=False)
        n_sent = rng.integers(lo, hi + 1, n_docs)
        first = topics[rng.integers(0, len(topics), n_docs)]
        mixed = rng.random(n_docs) < mix_frac
        second = first.copy()
        if len(topics) > 1:
            other = rng.integers(0, len(topics) - 1, n_docs)
            pos_first = np.searchsorted(np.sort(topics), first)
            order = np.sort(topics)
            second = np.where(mixed, order[other + (other >= pos_first)], first)
        doc_of = np.repeat(np.arange(n_docs), n_sent)
        pick_second = rng.random(len(doc_of)) < 0.5
        sent_topic = np.where(pick_second, second[doc_of], first[doc_of])
        sents = self.sentences(sent_topic, rng)
        bounds = np.concatenate([[0], np.cumsum(n_sent)])
        docs = [np.concatenate(sents[bounds[i] : bounds[i + 1]]) for i in range(n_docs)]
        return docs, first


def _pseudo_words(n: int, rng: np.random.Generator, exclude: set[str]) -> list[str]:
    """``n`` distinct pronounceable pseudo-words of 2-3 consonant-vowel syllables."""
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    syllables = [c + v for c in consonants for v in vowels]
    seen: set[str] = set(exclude)
    out: list[str] = []
    while len(out) < n:
        k = 2 if rng.random() < 0.6 else 3
        w = "".join(syllables[i] for i in rng.integers(0, len(syllables), k))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def topic_world_task(
    seed: int = 0,
    n_general_docs: int = 20_000,
    per_class: int = 600,
    valid_per_class: int = 75,
    classes: Sequence[Sequence[int]] = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)),
    general_sentences: tuple[int, int] = (3, 10),
    task_sentences: tuple[int, int] = (2, 4),
    mix_frac: float = 0.25,
    **world_kwargs,
) -> TextTask:
    """World B's corpora (chapter 3): a general LM corpus over all topics and a 4-class
    topic-group task.

    General corpus: ``n_general_docs`` documents of 3-10 sentences, topics uniform over
    all of them, a quarter mixing two topics sentence by sentence (about 1.04M words at
    the defaults). Task: class c is the group of topics ``classes[c]``; documents of 2-4
    sentences on one topic of the group; ``per_class`` per class, of which
    ``valid_per_class`` form the fixed validation set and the rest the labeled pool.
    Deterministic per ``seed``.
    """
    world = TopicWorld(seed=seed, **world_kwargs)
    _positive_int("n_general_docs", n_general_docs)
    _positive_int("per_class", per_class, minimum=2)
    if not isinstance(valid_per_class, int) or not 1 <= valid_per_class < per_class:
        raise ValueError(
            f"valid_per_class: expected an integer in [1, per_class={per_class}), got "
            f"{valid_per_class!r}"
        )
    if len(classes) < 2 or any(len(c) == 0 for c in classes):
        raise ValueError(
            f"classes: expected at least two non-empty groups of topics, got "
            f"{classes!r}"
        )
    rng = np.random.default_rng([seed, 2])
    vocab = WordVocab(list(SPECIALS) + world.words)
    shift, bos = len(SPECIALS), vocab.stoi["<bos>"]
    general_docs, _ = world.documents(
        n_general_docs, general_sentences, range(world.n_topics), rng, mix_frac
    )
    general = torch.from_numpy(
        np.concatenate([np.concatenate([[bos], d + shift]) for d in general_docs])
    )
    docs, labels = [], []
    for c, group in enumerate(classes):
        ds, _ = world.documents(per_class, task_sentences, group, rng)
        docs.extend(torch.from_numpy(np.concatenate([[bos], d + shift])) for d in ds)
        labels.extend([c] * per_class)
    labels_t = torch.tensor(labels)
    is_valid = torch.zeros(len(docs), dtype=torch.bool)
    for c in range(len(classes)):
        is_valid[c * per_class : c * per_class + valid_per_class] = True
    pool = [d for d, v in zip(docs, is_valid) if not v]
    valid = [d for d, v in zip(docs, is_valid) if v]
    return TextTask(
        name="topic world",
        vocab=vocab,
        classes=["topics " + "/".join(map(str, g)) for g in classes],
        general=general,
        pool=pool,
        pool_labels=labels_t[~is_valid],
        valid=valid,
        valid_labels=labels_t[is_valid],
        info={"world": world, "n_general_docs": n_general_docs},
    )
