"""Gopher Fig. 4 in miniature: the world (words, entities, facts) and its corpus."""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass

import torch

from ..data import WordVocab, tokenize_words

__all__ = [
    "CITIES",
    "JOBS",
    "NAMES",
    "TEMPLATE_WORDS",
    "DIGITS",
    "CATEGORIES",
    "World",
    "build_world",
    "Corpus",
    "build_corpus",
]

CITIES = (
    "rome paris oslo lima cairo delhi tokyo berlin madrid vienna dublin prague lisbon "
    "athens warsaw moscow seoul quito "
    "dakar accra nairobi havana manila hanoi sydney boston denver austin miami dallas "
    "toronto ottawa bogota caracas "
    "tunis riga minsk kyiv lyon zagreb"
).split()
JOBS = (
    "baker farmer doctor nurse teacher pilot sailor tailor painter singer dancer "
    "lawyer judge miner plumber carpenter "
    "butcher barber chef cook driver hunter fisher potter weaver mason clerk banker "
    "poet soldier"
).split()
NAMES = (
    "anna ben clara david emma felix grace henry iris jack kate leo mia noah olga paul "
    "quinn rosa sam tina umar vera "
    "walt xena yuri zoe adam bella carl dora eric fiona george hana ivan julia karl "
    "lena marco nina oscar petra rafael "
    "sofia tom ursula victor wanda yusuf zara alan beth colin diana ethan freya gavin "
    "helen igor jane kevin laura "
    "milo nora otto pia ross sara theo una vince willa amir bruno cora dean elsa frank "
    "gina hugo ines joel kira liam "
    "maya nils orla pedro rita simon tara ugo viola abel bea cyrus dina eli flora gus"
).split()
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
TEMPLATE_WORDS = (
    "lives",
    "in",
    "works",
    "as",
    "a",
    "where",
    "does",
    "live",
    "?",
    "is",
    "north",
    "of",
    "so",
    "+",
    "=",
    ".",
    "and",
)
DIGITS = tuple("0123456789")
CATEGORIES = ("knowledge", "reading", "maths", "logic")


def _pydoc_tokens(text: str) -> list[str]:
    """Words and punctuation (``tokenize_words``), with every number split into single
    digits."""
    out: list[str] = []
    for t in tokenize_words(text):
        if t.isdigit():
            out.extend(t)
        else:
            out.append(t)
    return out


def _number(n: int) -> list[str]:
    return list(str(n))


@dataclass
class World:
    """The miniature's fixed world: a word vocabulary and 200 invented entities, each
    with one city and one job.

    ``entities[i]`` is a pair of invented syllables (two tokens); ``city[i]`` /
    ``job[i]`` its facts; entity i is mentioned with probability proportional to 1/(i+1)
    (Zipf, exponent 1). ``train_topics`` / ``valid_topics`` are the pydoc help topics
    used for training text and held out (every 10th, starting with the first).
    """

    vocab: WordVocab
    entities: list[tuple[str, str]]
    city: list[str]
    job: list[str]
    syllables: list[str]
    train_topics: list[str]
    valid_topics: list[str]
    seed: int


def build_world(
    seed: int = 0,
    n_entities: int = 200,
    n_pydoc_words: int = 600,
    n_syllables: int = 40,
) -> World:
    """The vocabulary (the ``n_pydoc_words`` most frequent words of the training pydoc
    topics, digits as single tokens, ``n_syllables`` invented syllables, 40 cities, 30
    jobs, 100 names, the template words, ``<unk>``) and the entities with their facts,
    drawn with ``seed``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if not isinstance(n_syllables, int) or n_syllables < 4:
        raise ValueError(f"n_syllables: expected an integer >= 4, got {n_syllables!r}")
    if not isinstance(n_entities, int) or not 1 <= n_entities <= n_syllables * (
        n_syllables - 1
    ):
        raise ValueError(
            f"n_entities: expected 1..{n_syllables * (n_syllables - 1)}, got "
            f"{n_entities!r}"
        )
    if not isinstance(n_pydoc_words, int) or n_pydoc_words < 1:
        raise ValueError(
            f"n_pydoc_words: expected a positive integer, got {n_pydoc_words!r}"
        )
    from pydoc_data.topics import topics

    names = sorted(topics)
    valid_topics = [n for i, n in enumerate(names) if i % 10 == 0]
    train_topics = [n for i, n in enumerate(names) if i % 10 != 0]
    counts = collections.Counter(
        t for n in train_topics for t in _pydoc_tokens(topics[n].strip())
    )
    reserved = (
        set(CITIES)
        | set(JOBS)
        | set(NAMES)
        | set(TEMPLATE_WORDS)
        | set(DIGITS)
        | {"<unk>"}
    )
    ranked = sorted(
        (w for w in counts if w not in reserved), key=lambda w: (-counts[w], w)
    )
    pydoc_words = ranked[:n_pydoc_words]
    taken = reserved | set(counts)
    syllables = [c + v + e for c in _CONSONANTS for v in _VOWELS for e in "nrxz"]
    syllables = sorted(s for s in syllables if s not in taken)
    rng = random.Random(f"world-{seed}")
    syllables = sorted(rng.sample(syllables, n_syllables))
    words = [
        "<unk>",
        *TEMPLATE_WORDS,
        *DIGITS,
        *pydoc_words,
        *syllables,
        *CITIES,
        *JOBS,
        *NAMES,
    ]
    vocab = WordVocab(list(dict.fromkeys(words)))
    pairs = [(a, b) for a in syllables for b in syllables if a != b]
    entities = rng.sample(pairs, n_entities)
    city = [rng.choice(CITIES) for _ in entities]
    job = [rng.choice(JOBS) for _ in entities]
    return World(
        vocab, entities, city, job, syllables, train_topics, valid_topics, seed
    )


def _knowledge_doc(
    world: World, rng: random.Random, weights: list[float], n_facts: int
) -> list[str]:
    out: list[str] = []
    idx = rng.choices(range(len(world.entities)), weights=weights, k=n_facts)
    for i in idx:
        e = list(world.entities[i])
        if rng.random() < 0.5:
            out += e + ["lives", "in", world.city[i], "."]  # e lives in c .
        else:
            out += e + ["works", "as", "a", world.job[i], "."]  # e works as a j .
    return out


def _passage(
    rng: random.Random, n_people: int
) -> tuple[list[str], list[str], list[str]]:
    people = rng.sample(NAMES, n_people)
    cities = rng.sample(CITIES, n_people)
    text: list[str] = []
    for p, c in zip(people, cities):
        text += [p, "lives", "in", c, "."]  # n lives in c .
    return text, people, cities


def _reading_doc(rng: random.Random) -> list[str]:
    text, people, cities = _passage(rng, rng.randint(3, 6))
    for i in rng.sample(range(len(people)), rng.randint(1, 2)):
        text += [
            "where",
            "does",
            people[i],
            "live",
            "?",
            cities[i],
            ".",
        ]  # where does n live ? c .
    return text


def _addition(rng: random.Random) -> tuple[int, int]:
    da, db = rng.randint(1, 3), rng.randint(1, 3)
    low = {1: 0, 2: 10, 3: 100}
    return rng.randint(low[da], 10**da - 1), rng.randint(low[db], 10**db - 1)


def _maths_doc(rng: random.Random, n_sums: int) -> list[str]:
    out: list[str] = []
    for _ in range(n_sums):
        a, b = _addition(rng)
        out += (
            _number(a) + ["+"] + _number(b) + ["="] + _number(a + b) + ["."]
        )  # a + b = s .
    return out


_CHAIN = 7  # nodes per logic chain: n0 is north of n1, ..., n5 is north of n6


def _chain(rng: random.Random) -> tuple[list[str], list[str]]:
    nodes = rng.sample(NAMES, _CHAIN)
    stmts = [
        [nodes[i], "is", "north", "of", nodes[i + 1], "."] for i in range(_CHAIN - 1)
    ]
    rng.shuffle(stmts)
    return nodes, [t for s in stmts for t in s]


def _logic_doc(rng: random.Random) -> list[str]:
    nodes, text = _chain(rng)
    for _ in range(rng.randint(1, 3)):
        hop = rng.randint(1, 3)
        i = rng.randint(0, _CHAIN - 1 - hop)
        text += [
            "so",
            nodes[i],
            "is",
            "north",
            "of",
            nodes[i + hop],
            ".",
        ]  # so a is north of c .
    return text


@dataclass
class Corpus:
    """One training stream for every model size, and held-out text for the loss-vs-size
    curve."""

    train_ids: torch.Tensor
    valid_ids: torch.Tensor
    tokens_per_category: dict[str, int]
    unk_rate_valid: float
    # held-out text of the whole mixture: valid_ids, then fresh documents of the four
    # synthetic parts (heldout_per_category tokens each), from an rng of their own
    valid_mix_ids: torch.Tensor | None = None


def build_corpus(
    world: World,
    tokens_per_category: int = 87_500,
    chunk: int = 120,
    seed: int = 0,
    heldout_per_category: int = 8000,
) -> Corpus:
    """Five parts, shuffled together document by document with ``seed``: pydoc help text
    of the training topics in ``chunk``-token pieces (``tokens_per_category`` of it, or
    all of it, about 107k tokens, when that asks for more), and ``tokens_per_category``
    tokens each of generated knowledge, reading-comprehension, maths and logic documents
    (the templates are in the chapter). The held-out validation text is the held-out
    pydoc topics; the held-out text of the whole mixture adds fresh synthetic documents,
    ``heldout_per_category`` tokens of each part, drawn after the training stream with
    an rng of their own (the facts are the world's, the documents new)."""
    if not isinstance(heldout_per_category, int) or heldout_per_category < 1:
        raise ValueError(
            f"heldout_per_category: expected a positive integer, got "
            f"{heldout_per_category!r}"
        )
    if not isinstance(tokens_per_category, int) or tokens_per_category < chunk:
        raise ValueError(
            f"tokens_per_category: expected an integer >= chunk={chunk}, got "
            f"{tokens_per_category!r}"
        )
    if not isinstance(chunk, int) or chunk < 8:
        raise ValueError(f"chunk: expected an integer >= 8, got {chunk!r}")
    from pydoc_data.topics import topics

    rng = random.Random(f"corpus-{world.seed}-{seed}")
    docs: dict[str, list[list[str]]] = {c: [] for c in ("pydoc", *CATEGORIES)}
    pydoc = [t for n in world.train_topics for t in _pydoc_tokens(topics[n].strip())]
    pieces = [pydoc[i : i + chunk] for i in range(0, len(pydoc) - chunk + 1, chunk)]
    rng.shuffle(pieces)
    weights = [1.0 / (r + 1) for r in range(len(world.entities))]  # Zipf(1)
    makers = {
        "knowledge": lambda: _knowledge_doc(world, rng, weights, rng.randint(4, 12)),
        "reading": lambda: _reading_doc(rng),
        "maths": lambda: _maths_doc(rng, rng.randint(3, 8)),
        "logic": lambda: _logic_doc(rng),
    }
    counts = {}
    n = 0
    for p in pieces:
        if n >= tokens_per_category:
            break
        docs["pydoc"].append(p)
        n += len(p)
    counts["pydoc"] = n
    for cat, make in makers.items():
        n = 0
        while n < tokens_per_category:
            d = make()
            docs[cat].append(d)
            n += len(d)
        counts[cat] = n
    everything = [d for c in docs for d in docs[c]]
    rng.shuffle(everything)
    train_ids = world.vocab.encode([t for d in everything for t in d])
    valid_tokens = [
        t for n in world.valid_topics for t in _pydoc_tokens(topics[n].strip())
    ]
    valid_ids = world.vocab.encode(valid_tokens)
    unk = float((valid_ids == world.vocab.unk_id).float().mean())
    held = random.Random(f"heldout-{world.seed}-{seed}")
    held_makers = {
        "knowledge": lambda: _knowledge_doc(world, held, weights, held.randint(4, 12)),
        "reading": lambda: _reading_doc(held),
        "maths": lambda: _maths_doc(held, held.randint(3, 8)),
        "logic": lambda: _logic_doc(held),
    }
    fresh: list[list[str]] = []
    for make in held_makers.values():
        n = 0
        while n < heldout_per_category:
            fresh.append(make())
            n += len(fresh[-1])
    held.shuffle(fresh)
    mix = torch.cat([valid_ids, world.vocab.encode([t for d in fresh for t in d])])
    return Corpus(train_ids, valid_ids, counts, unk, mix)
