"""Chapter 4, Gopher (Rae et al. 2021): RMSNorm instead of LayerNorm, and which abilities scale buys.

Two halves:

* **RMSNorm** (Zhang & Sennrich 2019, Eq. 4): :func:`rms_norm` / :class:`RMSNorm` (defined with the models, re-exported
  here), the paper's own eps convention :func:`rms_norm_zhang`, and two benchmarks measured side by side in one run:
  the norm alone (:func:`norm_benchmark`) and one training step of a model with each norm (:func:`step_benchmark`).
* **Scaling in miniature** (Gopher, Fig. 4): a word-level world (:func:`build_world`) with one corpus of five equal
  parts -- real pydoc text, knowledge (fact checking), reading comprehension, maths and logic documents
  (:func:`build_corpus`) --, a synthetic multiple-choice probe suite for the four abilities (:func:`make_probes`),
  zero-shot scoring by length-normalised log-likelihood (:func:`score_task`), a model family (:func:`family`), and
  the experiment that trains the family on the same tokens and probes every size (:func:`scaling_run`).
"""

from __future__ import annotations

import collections
import math
import random
import time
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import WordVocab, batches, tokenize_words
from .models import RMSNorm, TransformerLM, rms_norm
from .training import reproducible, resolve_device, train, warmup_schedule

__all__ = [
    "RMSNorm", "rms_norm", "rms_norm_zhang", "NormTiming", "norm_benchmark", "StepTiming", "step_benchmark",
    "use_torch_rmsnorm", "World", "build_world", "Corpus", "build_corpus", "Probe", "ProbeTask", "make_probes",
    "CATEGORIES", "CHANCE", "TASK_CATEGORY", "CITIES", "JOBS", "NAMES", "probe_scores", "score_task", "FAMILY",
    "family", "make_model", "ScalingResult", "scaling_run",
    "power_law_fit", "fig4_changes", "binomial_se", "best_of_bias", "Fig4Bar", "fig4_bars", "TokenBatchNorm",
    "NORM_KINDS", "causal_lm_with_norm", "NormLeak", "norm_leak", "category_accuracy", "category_chance", "heldout_loss", "knowledge_by_frequency", "maths_choices",
]


# --------------------------------------------------------------------------------------------------------------
# RMSNorm: the paper's convention and the benchmarks
# --------------------------------------------------------------------------------------------------------------


def rms_norm_zhang(x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-8) -> torch.Tensor:
    """RMSNorm with the eps convention of the paper's reference code (Zhang & Sennrich 2019, Eq. 4):
    a_i / (RMS(a) + eps) * g_i with RMS(a) = sqrt(mean(a^2)). Plain autograd; equals :func:`rms_norm` at eps = 0."""
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError(f"x: expected a tensor with at least one dimension, got {type(x).__name__}")
    if weight is not None and tuple(weight.shape) != (x.shape[-1],):
        raise ValueError(f"weight: expected shape ({x.shape[-1]},), got {tuple(weight.shape)}")
    if not isinstance(eps, (int, float)) or eps < 0:
        raise ValueError(f"eps: expected a number >= 0, got {eps!r}")
    y = x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps)  # a / (RMS(a) + eps)
    return y * weight if weight is not None else y


@dataclass
class NormTiming:
    """Median seconds of one call on x of shape ``[rows, d]`` (``mode`` "forward" or "forward+backward")."""

    d: int
    mode: str
    layernorm: float
    torch_rmsnorm: float
    ours: float

    @property
    def torch_ratio(self) -> float:
        """time(torch.nn.RMSNorm) / time(nn.LayerNorm)."""
        return self.torch_rmsnorm / self.layernorm

    @property
    def ours_ratio(self) -> float:
        """time(our RMSNorm) / time(nn.LayerNorm)."""
        return self.ours / self.layernorm


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def norm_benchmark(ds: Sequence[int] = (64, 256, 1024), rows: int = 4096, repeats: int = 15,
                   seed: int = 0) -> list[NormTiming]:
    """Time ``nn.LayerNorm``, ``torch.nn.RMSNorm`` and our :class:`RMSNorm` side by side in one run (Zhang & Sennrich
    2019 claim 7-64 % less running time than LayerNorm).

    For each ``d``: x of shape ``[rows, d]``; each repeat times the three norms back to back, in a rotating order, on
    the forward alone and on forward + backward, so machine load hits all three alike. One timing covers enough calls
    to touch about a million numbers (at most 16 calls; with the default rows 4 at d = 64, 1 from d = 256), which
    steadies small sizes. Returns the medians per call, one :class:`NormTiming` per (d, mode). Runs on the calling
    thread count (the book pins one).
    """
    if not ds or any(not isinstance(d, int) or d < 1 for d in ds):
        raise ValueError(f"ds: expected a non-empty list of positive feature sizes, got {ds!r}")
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows: expected a positive integer, got {rows!r}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive integer, got {repeats!r}")
    g = torch.Generator().manual_seed(seed)
    out: list[NormTiming] = []
    for d in ds:
        x = torch.randn(rows, d, generator=g)
        grad = torch.randn(rows, d, generator=g)
        number = min(16, max(1, 2 ** 20 // (rows * d)))
        norms = {"layernorm": nn.LayerNorm(d), "torch_rmsnorm": nn.RMSNorm(d, eps=1e-5), "ours": RMSNorm(d, eps=1e-5)}
        names = list(norms)
        times = {(name, mode): [] for name in names for mode in ("forward", "forward+backward")}
        for rep in range(repeats + 1):  # the first round warms up and is not counted
            order = names[rep % 3:] + names[: rep % 3]
            for name in order:
                norm = norms[name]
                with torch.no_grad():
                    t0 = time.perf_counter()
                    for _ in range(number):
                        norm(x)
                    t1 = time.perf_counter()
                t2 = time.perf_counter()
                for _ in range(number):
                    torch.autograd.backward(norm(x.detach().requires_grad_(True)), grad)
                t3 = time.perf_counter()
                norm.zero_grad(set_to_none=True)
                if rep:
                    times[(name, "forward")].append((t1 - t0) / number)
                    times[(name, "forward+backward")].append((t3 - t2) / number)
        for mode in ("forward", "forward+backward"):
            out.append(NormTiming(d, mode, *(_median(times[(n, mode)]) for n in names)))
    return out


def use_torch_rmsnorm(model: nn.Module) -> nn.Module:
    """Replace every :class:`RMSNorm` in ``model`` (in place) by a ``torch.nn.RMSNorm`` with the same gain and eps.

    The two compute the same function (the forward is bitwise equal); only the backward's implementation differs,
    which is what :func:`step_benchmark` compares. Returns ``model``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    for name, child in list(model.named_children()):
        if isinstance(child, RMSNorm):
            ref = nn.RMSNorm(child.weight.shape[0], eps=child.eps)
            with torch.no_grad():
                ref.weight.copy_(child.weight)
            setattr(model, name, ref)
        else:
            use_torch_rmsnorm(child)
    return model


@dataclass
class StepTiming:
    """Median seconds of one training step (forward, backward, clipping, AdamW) of the same model with each norm."""

    d_model: int
    n_layers: int
    layernorm: float
    torch_rmsnorm: float
    ours: float

    @property
    def torch_ratio(self) -> float:
        return self.torch_rmsnorm / self.layernorm

    @property
    def ours_ratio(self) -> float:
        return self.ours / self.layernorm


def step_benchmark(d_model: int = 96, n_layers: int = 3, vocab_size: int = 830, batch_size: int = 8,
                   seq_len: int = 64, repeats: int = 12, seed: int = 0) -> StepTiming:
    """Time one training step of the chapter's model (pre-norm, Transformer-XL attention, GELU; see :func:`make_model`)
    with LayerNorm, ``torch.nn.RMSNorm`` and our :class:`RMSNorm`, interleaved in one run; medians of ``repeats``."""
    for name, value in (("d_model", d_model), ("n_layers", n_layers), ("vocab_size", vocab_size),
                        ("batch_size", batch_size), ("seq_len", seq_len), ("repeats", repeats)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab_size, (batch_size, seq_len), generator=g)
    y = torch.randint(0, vocab_size, (batch_size, seq_len), generator=g)
    models = {
        "layernorm": make_model(vocab_size, d_model, n_layers, norm="layernorm", seq_len=seq_len),
        "torch_rmsnorm": use_torch_rmsnorm(make_model(vocab_size, d_model, n_layers, seq_len=seq_len)),
        "ours": make_model(vocab_size, d_model, n_layers, seq_len=seq_len),
    }
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-3) for k, m in models.items()}
    names = list(models)
    times: dict[str, list[float]] = {k: [] for k in names}
    for rep in range(repeats + 2):  # two warm-up rounds
        for name in names[rep % 3:] + names[: rep % 3]:
            model, opt = models[name], opts[name]
            t0 = time.perf_counter()
            train(model, iter([(x, y)]), opt, 1, clip=1.0, progress=False)
            if rep >= 2:
                times[name].append(time.perf_counter() - t0)
    return StepTiming(d_model, n_layers, *(_median(times[k]) for k in names))


# --------------------------------------------------------------------------------------------------------------
# The world: vocabulary, entities, corpus
# --------------------------------------------------------------------------------------------------------------

CITIES = (
    "rome paris oslo lima cairo delhi tokyo berlin madrid vienna dublin prague lisbon athens warsaw moscow seoul quito "
    "dakar accra nairobi havana manila hanoi sydney boston denver austin miami dallas toronto ottawa bogota caracas "
    "tunis riga minsk kyiv lyon zagreb"
).split()
JOBS = (
    "baker farmer doctor nurse teacher pilot sailor tailor painter singer dancer lawyer judge miner plumber carpenter "
    "butcher barber chef cook driver hunter fisher potter weaver mason clerk banker poet soldier"
).split()
NAMES = (
    "anna ben clara david emma felix grace henry iris jack kate leo mia noah olga paul quinn rosa sam tina umar vera "
    "walt xena yuri zoe adam bella carl dora eric fiona george hana ivan julia karl lena marco nina oscar petra rafael "
    "sofia tom ursula victor wanda yusuf zara alan beth colin diana ethan freya gavin helen igor jane kevin laura "
    "milo nora otto pia ross sara theo una vince willa amir bruno cora dean elsa frank gina hugo ines joel kira liam "
    "maya nils orla pedro rita simon tara ugo viola abel bea cyrus dina eli flora gus"
).split()
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
TEMPLATE_WORDS = ("lives", "in", "works", "as", "a", "where", "does", "live", "?", "is", "north", "of", "so", "+", "=",
                  ".", "and")
DIGITS = tuple("0123456789")
CATEGORIES = ("knowledge", "reading", "maths", "logic")
#: chance accuracy of each probe task: the reciprocal of its number of options.
CHANCE = {"fact_city": 0.5, "fact_job": 0.25, "reading_4": 0.25, "reading_6": 0.25,
          "maths_2digit": 0.25, "maths_3digit": 0.25, "logic_2hop": 0.5, "logic_3hop": 0.5}
TASK_CATEGORY = {"fact_city": "knowledge", "fact_job": "knowledge", "reading_4": "reading", "reading_6": "reading",
                 "maths_2digit": "maths", "maths_3digit": "maths", "logic_2hop": "logic", "logic_3hop": "logic"}


def _pydoc_tokens(text: str) -> list[str]:
    """Words and punctuation (``tokenize_words``), with every number split into single digits."""
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
    """The miniature's fixed world: a word vocabulary and 200 invented entities, each with one city and one job.

    ``entities[i]`` is a pair of invented syllables (two tokens); ``city[i]`` / ``job[i]`` its facts; entity i is
    mentioned with probability proportional to 1/(i+1) (Zipf, exponent 1). ``train_topics`` / ``valid_topics`` are
    the pydoc help topics used for training text and held out (every 10th, starting with the first).
    """

    vocab: WordVocab
    entities: list[tuple[str, str]]
    city: list[str]
    job: list[str]
    syllables: list[str]
    train_topics: list[str]
    valid_topics: list[str]
    seed: int


def build_world(seed: int = 0, n_entities: int = 200, n_pydoc_words: int = 600, n_syllables: int = 40) -> World:
    """The vocabulary (the ``n_pydoc_words`` most frequent words of the training pydoc topics, digits as single tokens,
    ``n_syllables`` invented syllables, 40 cities, 30 jobs, 100 names, the template words, ``<unk>``) and the
    entities with their facts, drawn with ``seed``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if not isinstance(n_syllables, int) or n_syllables < 4:
        raise ValueError(f"n_syllables: expected an integer >= 4, got {n_syllables!r}")
    if not isinstance(n_entities, int) or not 1 <= n_entities <= n_syllables * (n_syllables - 1):
        raise ValueError(f"n_entities: expected 1..{n_syllables * (n_syllables - 1)}, got {n_entities!r}")
    if not isinstance(n_pydoc_words, int) or n_pydoc_words < 1:
        raise ValueError(f"n_pydoc_words: expected a positive integer, got {n_pydoc_words!r}")
    from pydoc_data.topics import topics

    names = sorted(topics)
    valid_topics = [n for i, n in enumerate(names) if i % 10 == 0]
    train_topics = [n for i, n in enumerate(names) if i % 10 != 0]
    counts = collections.Counter(t for n in train_topics for t in _pydoc_tokens(topics[n].strip()))
    reserved = set(CITIES) | set(JOBS) | set(NAMES) | set(TEMPLATE_WORDS) | set(DIGITS) | {"<unk>"}
    ranked = sorted((w for w in counts if w not in reserved), key=lambda w: (-counts[w], w))
    pydoc_words = ranked[:n_pydoc_words]
    taken = reserved | set(counts)
    syllables = [c + v + e for c in _CONSONANTS for v in _VOWELS for e in "nrxz"]
    syllables = sorted(s for s in syllables if s not in taken)
    rng = random.Random(f"world-{seed}")
    syllables = sorted(rng.sample(syllables, n_syllables))
    words = ["<unk>", *TEMPLATE_WORDS, *DIGITS, *pydoc_words, *syllables, *CITIES, *JOBS, *NAMES]
    vocab = WordVocab(list(dict.fromkeys(words)))
    pairs = [(a, b) for a in syllables for b in syllables if a != b]
    entities = rng.sample(pairs, n_entities)
    city = [rng.choice(CITIES) for _ in entities]
    job = [rng.choice(JOBS) for _ in entities]
    return World(vocab, entities, city, job, syllables, train_topics, valid_topics, seed)


def _knowledge_doc(world: World, rng: random.Random, weights: list[float], n_facts: int) -> list[str]:
    out: list[str] = []
    idx = rng.choices(range(len(world.entities)), weights=weights, k=n_facts)
    for i in idx:
        e = list(world.entities[i])
        if rng.random() < 0.5:
            out += e + ["lives", "in", world.city[i], "."]             # e lives in c .
        else:
            out += e + ["works", "as", "a", world.job[i], "."]         # e works as a j .
    return out


def _passage(rng: random.Random, n_people: int) -> tuple[list[str], list[str], list[str]]:
    people = rng.sample(NAMES, n_people)
    cities = rng.sample(CITIES, n_people)
    text: list[str] = []
    for p, c in zip(people, cities):
        text += [p, "lives", "in", c, "."]                             # n lives in c .
    return text, people, cities


def _reading_doc(rng: random.Random) -> list[str]:
    text, people, cities = _passage(rng, rng.randint(3, 6))
    for i in rng.sample(range(len(people)), rng.randint(1, 2)):
        text += ["where", "does", people[i], "live", "?", cities[i], "."]  # where does n live ? c .
    return text


def _addition(rng: random.Random) -> tuple[int, int]:
    da, db = rng.randint(1, 3), rng.randint(1, 3)
    low = {1: 0, 2: 10, 3: 100}
    return rng.randint(low[da], 10 ** da - 1), rng.randint(low[db], 10 ** db - 1)


def _maths_doc(rng: random.Random, n_sums: int) -> list[str]:
    out: list[str] = []
    for _ in range(n_sums):
        a, b = _addition(rng)
        out += _number(a) + ["+"] + _number(b) + ["="] + _number(a + b) + ["."]  # a + b = s .
    return out


_CHAIN = 7  # nodes per logic chain: n0 is north of n1, ..., n5 is north of n6


def _chain(rng: random.Random) -> tuple[list[str], list[str]]:
    nodes = rng.sample(NAMES, _CHAIN)
    stmts = [[nodes[i], "is", "north", "of", nodes[i + 1], "."] for i in range(_CHAIN - 1)]
    rng.shuffle(stmts)
    return nodes, [t for s in stmts for t in s]


def _logic_doc(rng: random.Random) -> list[str]:
    nodes, text = _chain(rng)
    for _ in range(rng.randint(1, 3)):
        hop = rng.randint(1, 3)
        i = rng.randint(0, _CHAIN - 1 - hop)
        text += ["so", nodes[i], "is", "north", "of", nodes[i + hop], "."]  # so a is north of c .
    return text


@dataclass
class Corpus:
    """One training stream for every model size, and the held-out pydoc text for the loss-vs-size curve."""

    train_ids: torch.Tensor
    valid_ids: torch.Tensor
    tokens_per_category: dict[str, int]
    unk_rate_valid: float


def build_corpus(world: World, tokens_per_category: int = 87_500, chunk: int = 120, seed: int = 0) -> Corpus:
    """Five equal parts, shuffled together document by document with ``seed``: pydoc help text of the training topics
    in ``chunk``-token pieces, and generated knowledge, reading-comprehension, maths and logic documents (the
    templates are in the chapter). The held-out validation text is the held-out pydoc topics."""
    if not isinstance(tokens_per_category, int) or tokens_per_category < chunk:
        raise ValueError(f"tokens_per_category: expected an integer >= chunk={chunk}, got {tokens_per_category!r}")
    if not isinstance(chunk, int) or chunk < 8:
        raise ValueError(f"chunk: expected an integer >= 8, got {chunk!r}")
    from pydoc_data.topics import topics

    rng = random.Random(f"corpus-{world.seed}-{seed}")
    docs: dict[str, list[list[str]]] = {c: [] for c in ("pydoc", *CATEGORIES)}
    pydoc = [t for n in world.train_topics for t in _pydoc_tokens(topics[n].strip())]
    pieces = [pydoc[i:i + chunk] for i in range(0, len(pydoc) - chunk + 1, chunk)]
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
    valid_tokens = [t for n in world.valid_topics for t in _pydoc_tokens(topics[n].strip())]
    valid_ids = world.vocab.encode(valid_tokens)
    unk = float((valid_ids == world.vocab.unk_id).float().mean())
    return Corpus(train_ids, valid_ids, counts, unk)


# --------------------------------------------------------------------------------------------------------------
# Probes and scoring
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Probe:
    """One multiple-choice question: a context, the options (each a list of tokens) and the index of the right one."""

    context: list[str]
    options: list[list[str]]
    answer: int


@dataclass
class ProbeTask:
    """A named set of probes of one category, with its chance accuracy."""

    name: str
    category: str
    probes: list[Probe]

    @property
    def chance(self) -> float:
        return CHANCE[self.name]


def _shuffled(rng: random.Random, right: list[str], wrong: list[list[str]]) -> tuple[list[list[str]], int]:
    options = [right] + wrong
    order = list(range(len(options)))
    rng.shuffle(order)
    return [options[i] for i in order], order.index(0)


def make_probes(world: World, n: int = 200, seed: int = 0) -> list[ProbeTask]:
    """The synthetic probe suite: ``n`` probes for each of eight tasks, two per category, drawn with ``seed``.

    * knowledge (fact checking): "e lives in" -> the true city vs one other city (chance 1/2); "e works as a" -> the
      true job vs three others (1/4). Entities are drawn uniformly, so the rare ones of the Zipf tail count as much.
    * reading comprehension: a fresh passage of 4 or 6 "n lives in c ." pairs, "where does n live ?" -> the right city
      among 4 cities of the passage (1/4).
    * maths: 2- and 3-digit additions whose units (2-digit) or any column (3-digit) carries; the sum vs three
      distractors from s +- 1, s +- 10, s +- 100 (1/4).
    * logic: a shuffled 7-node chain of "a is north of b ." statements; "so x is north of" -> the node 2 or 3 steps
      south vs a node north of x (1/2). Neither option is an end of the chain, so no endpoint shortcut works.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    rng = random.Random(f"probes-{world.seed}-{seed}")
    tasks: dict[str, list[Probe]] = {name: [] for name in CHANCE}
    E = len(world.entities)
    ents = [rng.randrange(E) for _ in range(n)] if n > E else rng.sample(range(E), n)
    for i in ents:  # fact checking: city
        other = rng.choice([c for c in CITIES if c != world.city[i]])
        opts, a = _shuffled(rng, [world.city[i]], [[other]])
        tasks["fact_city"].append(Probe([".", *world.entities[i], "lives", "in"], opts, a))
    ents = [rng.randrange(E) for _ in range(n)] if n > E else rng.sample(range(E), n)
    for i in ents:  # knowledge: job
        others = rng.sample([j for j in JOBS if j != world.job[i]], 3)
        opts, a = _shuffled(rng, [world.job[i]], [[j] for j in others])
        tasks["fact_job"].append(Probe([".", *world.entities[i], "works", "as", "a"], opts, a))
    for people_n, name in ((4, "reading_4"), (6, "reading_6")):
        for _ in range(n):
            text, people, cities = _passage(rng, people_n)
            q = rng.randrange(people_n)
            wrong = rng.sample([c for k, c in enumerate(cities) if k != q], 3)
            opts, a = _shuffled(rng, [cities[q]], [[c] for c in wrong])
            tasks[name].append(Probe([".", *text, "where", "does", people[q], "live", "?"], opts, a))
    for digits, name in ((2, "maths_2digit"), (3, "maths_3digit")):
        while len(tasks[name]) < n:
            a_, b_ = (rng.randint(10 ** (digits - 1), 10 ** digits - 1) for _ in range(2))
            carry = (a_ % 10 + b_ % 10 >= 10) if digits == 2 else any(
                (a_ // 10 ** k) % 10 + (b_ // 10 ** k) % 10 >= 10 for k in range(digits))
            if not carry:
                continue
            s = a_ + b_
            pool = [s + dlt for dlt in (-1, 1, -10, 10, -100, 100) if s + dlt > 0]
            wrong = rng.sample(pool, 3)
            opts, a = _shuffled(rng, _number(s), [_number(w) for w in wrong])
            tasks[name].append(Probe([".", *_number(a_), "+", *_number(b_), "="], opts, a))
    for hop, name in ((2, "logic_2hop"), (3, "logic_3hop")):
        for _ in range(n):
            nodes, text = _chain(rng)
            i = rng.randint(2, _CHAIN - 2 - hop)        # x = nodes[i]; its answer nodes[i + hop] is not the last node
            false = nodes[rng.randint(1, i - 1)]         # north of x, and not the first node
            opts, a = _shuffled(rng, [nodes[i + hop]], [[false]])
            tasks[name].append(Probe([".", *text, "so", nodes[i], "is", "north", "of"], opts, a))
    return [ProbeTask(name, TASK_CATEGORY[name], probes) for name, probes in tasks.items()]


@torch.no_grad()
def probe_scores(model: nn.Module, vocab: WordVocab, task: ProbeTask, batch_size: int = 256, normalise: bool = True,
                 device: str | torch.device | None = None) -> list[list[float]]:
    """Each option's score: its length-normalised log-likelihood, the mean of log p(option token | context, earlier
    option tokens) over its tokens (``normalise=False``: the sum). Returns one list of option scores per probe.

    Every (context, option) pair is one sequence; sequences are right-padded (the model is causal, so padding after
    a token does not change its prediction) and run in batches of ``batch_size``. A probe whose options are all one
    token long needs only one sequence (the context), read at its last position.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    if not task.probes:
        raise ValueError("task: expected at least one probe")
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    seqs: list[list[int]] = []
    spans: list[tuple[int, int, int, list[int]]] = []  # (probe, option, sequence index, option token ids)
    ctx_len: list[int] = []
    for p_i, probe in enumerate(task.probes):
        ctx = vocab.encode(probe.context).tolist()
        ctx_len.append(len(ctx))
        opts = [vocab.encode(o).tolist() for o in probe.options]
        if all(len(o) == 1 for o in opts):
            seqs.append(ctx)
            spans += [(p_i, o_i, len(seqs) - 1, o) for o_i, o in enumerate(opts)]
        else:
            for o_i, o in enumerate(opts):
                seqs.append(ctx + o[:-1])
                spans.append((p_i, o_i, len(seqs) - 1, o))
    T = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), T, dtype=torch.long)
    for r, s in enumerate(seqs):
        x[r, : len(s)] = torch.tensor(s)
    logp = torch.cat([F.log_softmax(model(x[i:i + batch_size].to(dev)).float(), dim=-1).cpu()
                      for i in range(0, len(seqs), batch_size)])
    scores = [[0.0] * len(p.options) for p in task.probes]
    for p_i, o_i, s_i, o in spans:
        first = ctx_len[p_i] - 1  # the position that predicts the option's first token
        total = float(logp[s_i, torch.arange(first, first + len(o)), torch.tensor(o)].sum())
        scores[p_i][o_i] = total / len(o) if normalise else total
    model.train(was_training)
    return scores


def score_task(model: nn.Module, vocab: WordVocab, task: ProbeTask, batch_size: int = 256, normalise: bool = True,
               device: str | torch.device | None = None) -> float:
    """Zero-shot accuracy on ``task`` (Gopher's multiple-choice scoring): the option with the highest length-normalised
    log-likelihood (:func:`probe_scores`) is the model's answer; returns the fraction of probes answered right."""
    scores = probe_scores(model, vocab, task, batch_size, normalise, device)
    return sum(max(range(len(s)), key=s.__getitem__) == p.answer for s, p in zip(scores, task.probes)) / len(scores)


# --------------------------------------------------------------------------------------------------------------
# The model family and the experiment
# --------------------------------------------------------------------------------------------------------------

#: (d_model, n_layers) of the family: 3.4k to 361k non-embedding parameters; the largest is 13x the next.
FAMILY = ((16, 1), (16, 2), (24, 2), (32, 2), (96, 3))


def make_model(vocab_size: int, d_model: int, n_layers: int, norm: str = "rmsnorm", positions: str = "relative",
               seq_len: int = 64) -> TransformerLM:
    """One member of the family: a pre-norm decoder (RMSNorm by default), Transformer-XL relative attention, GELU MLP
    of width 4d, max(1, d/16) heads, untied embeddings, every weight matrix N(0, 1/d) (Gopher's recipe in miniature)."""
    if not isinstance(d_model, int) or d_model < 2 or d_model % 2:
        raise ValueError(f"d_model: expected a positive even integer, got {d_model!r}")
    return TransformerLM(vocab_size, d_model=d_model, n_heads=max(1, d_model // 16), d_ff=4 * d_model,
                         n_layers=n_layers, max_len=seq_len, norm_position="pre", norm=norm, activation="gelu",
                         positions=positions, init="normal")


def family(vocab_size: int, sizes: Sequence[tuple[int, int]] = FAMILY, norm: str = "rmsnorm",
           positions: str = "relative") -> list[TransformerLM]:
    """The model family (Gopher, Table 1, in miniature): one :func:`make_model` per (d_model, n_layers) in ``sizes``."""
    if not sizes:
        raise ValueError("sizes: expected at least one (d_model, n_layers) pair")
    for s in sizes:
        if not (isinstance(s, (tuple, list)) and len(s) == 2 and all(isinstance(v, int) and v > 0 for v in s)):
            raise ValueError(f"sizes: expected (d_model, n_layers) pairs of positive integers, got {s!r}")
    return [make_model(vocab_size, d, L, norm=norm, positions=positions) for d, L in sizes]


def _optimizer(model: nn.Module, lr: float, weight_decay: float = 0.1) -> torch.optim.AdamW:
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": matrices, "weight_decay": weight_decay},
                              {"params": others, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95), fused=True)


@torch.no_grad()
def heldout_loss(model: nn.Module, ids: torch.Tensor, seq_len: int = 64,
                 device: str | torch.device | None = None) -> float:
    """Mean next-token loss (nats) over every non-overlapping ``seq_len`` window of ``ids`` (the held-out text)."""
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len: expected a positive integer, got {seq_len!r}")
    n = (len(ids) - 1) // seq_len
    if n < 1:
        raise ValueError(f"ids: expected more than seq_len={seq_len} tokens, got {len(ids)}")
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    x = ids[: n * seq_len].view(n, seq_len)
    y = ids[1: n * seq_len + 1].view(n, seq_len)
    total = 0.0
    for s in range(0, n, 64):
        logits = model(x[s:s + 64].to(dev))
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[s:s + 64].reshape(-1).to(dev),
                                       reduction="sum"))
    model.train(was_training)
    return total / (n * seq_len)


@dataclass
class ScalingResult:
    """What :func:`scaling_run` measured for one seed."""

    seed: int
    sizes: list[tuple[int, int]]
    params: list[int]                       # non-embedding parameters
    valid_loss: list[float]                 # held-out pydoc loss (nats)
    accuracy: dict[str, list[float]]        # task -> accuracy per size
    losses: list[list[float]]               # training loss per step, per size
    norm_size: tuple[int, int] | None = None
    norm_losses: dict[str, list[float]] = field(default_factory=dict)  # "rmsnorm"/"layernorm" -> per-step loss
    seconds: dict[str, float] = field(default_factory=dict)
    models: list[TransformerLM] = field(default_factory=list, repr=False)  # the trained family (keep_models=True)
    world: World | None = field(default=None, repr=False)
    corpus: Corpus | None = field(default=None, repr=False)
    tasks: list[ProbeTask] = field(default_factory=list, repr=False)

    def final_loss(self, norm: str, last: int = 50) -> float:
        """Mean training loss of the last ``last`` steps of the norm comparison (``"rmsnorm"`` or ``"layernorm"``)."""
        if norm not in self.norm_losses:
            raise ValueError(f"norm: expected one of {sorted(self.norm_losses)}, got {norm!r}")
        h = self.norm_losses[norm]
        return sum(h[-last:]) / len(h[-last:])


def scaling_run(seed: int = 0, sizes: Sequence[tuple[int, int]] = FAMILY, steps: int = 800, batch_size: int = 8,
                seq_len: int = 64, lr: float = 1e-2, warmup: int = 40, n_probes: int = 200,
                norm_size: tuple[int, int] | None = (16, 2), tokens_per_category: int = 87_500,
                keep_models: bool = False, device: str | torch.device | None = None,
                progress: bool = True) -> ScalingResult:
    """Train every size on the same tokens in the same order (AdamW lr ``lr``, betas (0.9, 0.95), weight decay 0.1 on
    matrices, ``warmup`` linear warmup steps then cosine to 10 %, clipping 1.0), then measure each one's held-out
    pydoc loss and its zero-shot accuracy on every probe task. With ``norm_size`` = (d, L) in ``sizes``, that member
    is trained again with LayerNorm instead of RMSNorm, same seed, same batches: the norm comparison.
    ``keep_models=True`` keeps the trained family (and the world, corpus and probes) on the result."""
    if not isinstance(steps, int) or steps <= warmup:
        raise ValueError(f"steps: expected an integer > warmup={warmup}, got {steps!r}")
    if norm_size is not None and tuple(norm_size) not in [tuple(s) for s in sizes]:
        raise ValueError(f"norm_size: expected one of sizes {list(sizes)} or None, got {norm_size!r}")
    dev = resolve_device(device)
    clock = time.perf_counter()
    world = build_world(seed)
    corpus = build_corpus(world, tokens_per_category=tokens_per_category, seed=seed)
    tasks = make_probes(world, n=n_probes, seed=seed)
    seconds = {"data": time.perf_counter() - clock}
    V = len(world.vocab)
    family(V, sizes)  # validates sizes
    res = ScalingResult(seed, [tuple(s) for s in sizes], [], [], {t.name: [] for t in tasks}, [],
                        tuple(norm_size) if norm_size else None)
    if keep_models:
        res.world, res.corpus, res.tasks = world, corpus, tasks
    t_train = t_probe = 0.0

    def fit(d: int, L: int, norm: str) -> tuple[TransformerLM, list[float]]:
        reproducible(seed)
        model = make_model(V, d, L, norm=norm, seq_len=seq_len)
        opt = _optimizer(model, lr)
        hist = train(model, batches(corpus.train_ids, batch_size, seq_len, seed=seed), opt, steps,
                     schedule=warmup_schedule(warmup, steps, decay="cosine", final_frac=0.1), clip=1.0,
                     device=dev, progress=progress, desc=f"d={d} L={L} {norm}")
        return model, hist

    for d, L in sizes:
        t0 = time.perf_counter()
        model, hist = fit(d, L, "rmsnorm")
        t1 = time.perf_counter()
        res.params.append(model.num_parameters(non_embedding=True))
        res.losses.append(hist)
        res.valid_loss.append(heldout_loss(model, corpus.valid_ids, seq_len, device=dev))
        for task in tasks:
            res.accuracy[task.name].append(score_task(model, world.vocab, task, device=dev))
        t_train += t1 - t0
        t_probe += time.perf_counter() - t1
        if norm_size is not None and (d, L) == tuple(norm_size):
            res.norm_losses["rmsnorm"] = hist
        if keep_models:
            res.models.append(model)
    if norm_size is not None:
        t0 = time.perf_counter()
        _, res.norm_losses["layernorm"] = fit(*norm_size, "layernorm")
        seconds["norm rerun"] = time.perf_counter() - t0
    seconds.update({"family": t_train, "probes": t_probe, "total": time.perf_counter() - clock})
    res.seconds = seconds
    return res


# --------------------------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------------------------


def power_law_fit(params: Sequence[float], losses: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares fit of L(N) = a * N^(-alpha) in log-log space (Kaplan et al. 2020, Eq. 1.1 form); returns
    ``(a, alpha, r2)`` with r2 the coefficient of determination of log L."""
    if len(params) != len(losses) or len(params) < 3:
        raise ValueError(f"params, losses: expected two sequences of the same length >= 3, "
                         f"got {len(params)}, {len(losses)}")
    if any(p <= 0 for p in params) or any(v <= 0 for v in losses):
        raise ValueError("params, losses: expected positive numbers (they are fitted in log space)")
    xs = [math.log(p) for p in params]
    ys = [math.log(v) for v in losses]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    intercept = my - slope * mx
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return math.exp(intercept), -slope, r2


def fig4_changes(accuracy: dict[str, Sequence[float]]) -> dict[str, float]:
    """Gopher's Fig. 4 in miniature: per task, the % change of the largest model's accuracy over the best accuracy of
    the smaller ones, 100 * (acc_largest - best_smaller) / best_smaller."""
    out = {}
    for task, accs in accuracy.items():
        if len(accs) < 2:
            raise ValueError(f"accuracy: task {task!r} needs at least two sizes, got {len(accs)}")
        best = max(accs[:-1])
        if best <= 0:
            raise ValueError(f"accuracy: task {task!r} has no positive accuracy among the smaller sizes")
        out[task] = 100.0 * (accs[-1] - best) / best
    return out


def category_accuracy(accuracy: dict[str, Sequence[float]], category: str) -> list[float]:
    """Mean accuracy of a category's tasks, per size (and :data:`CHANCE` likewise averaged gives its chance level)."""
    if category not in CATEGORIES:
        raise ValueError(f"category: expected one of {CATEGORIES}, got {category!r}")
    tasks = [t for t in accuracy if TASK_CATEGORY.get(t) == category]
    if not tasks:
        raise ValueError(f"accuracy: no task of category {category!r}")
    n = len(accuracy[tasks[0]])
    return [sum(accuracy[t][i] for t in tasks) / len(tasks) for i in range(n)]


def category_chance(category: str) -> float:
    """A category's chance accuracy: the mean :data:`CHANCE` of its tasks (what :func:`category_accuracy` is compared
    with)."""
    if category not in CATEGORIES:
        raise ValueError(f"category: expected one of {CATEGORIES}, got {category!r}")
    tasks = [t for t, c in TASK_CATEGORY.items() if c == category]
    return sum(CHANCE[t] for t in tasks) / len(tasks)


def knowledge_by_frequency(model: nn.Module, world: World, task: ProbeTask,
                           edges: Sequence[int] = (0, 25, 50, 100, 200)) -> list[float]:
    """Accuracy on a knowledge task (``fact_city`` or ``fact_job``) per band of entity frequency rank: entities
    ``edges[k] <= rank < edges[k+1]`` (rank 0 is the most mentioned; mentions fall as 1/(rank+1))."""
    if task.category != "knowledge":
        raise ValueError(f"task: expected a knowledge task, got {task.name!r}")
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0:
        raise ValueError(f"edges: expected increasing non-negative rank boundaries, got {edges!r}")
    rank = {e: i for i, e in enumerate(world.entities)}
    scores = probe_scores(model, world.vocab, task)
    right = [max(range(len(s)), key=s.__getitem__) == p.answer for s, p in zip(scores, task.probes)]
    ranks = [rank[tuple(p.context[1:3])] for p in task.probes]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        band = [ok for ok, r in zip(right, ranks) if lo <= r < hi]
        out.append(sum(band) / len(band) if band else float("nan"))
    return out


def maths_choices(model: nn.Module, vocab: WordVocab, task: ProbeTask) -> dict[int, tuple[int, int]]:
    """What the model picks on a maths task, per kind of option: offset (option - true sum: 0 is the right answer,
    +-1, +-10, +-100 the distractors) -> (times picked, times offered). Picked / offered is 1/4 for a guesser."""
    if task.category != "maths":
        raise ValueError(f"task: expected a maths task, got {task.name!r}")
    scores = probe_scores(model, vocab, task)
    picked: collections.Counter = collections.Counter()
    offered: collections.Counter = collections.Counter()
    for s, p in zip(scores, task.probes):
        right = int("".join(p.options[p.answer]))
        offsets = [int("".join(o)) - right for o in p.options]
        offered.update(offsets)
        picked[offsets[max(range(len(s)), key=s.__getitem__)]] += 1
    return {k: (picked[k], offered[k]) for k in sorted(offered)}


# --------------------------------------------------------------------------------------------------------------
# Fig. 4 with its noise: binomial error bars, the bias of a best-of-k baseline, chance-level tasks
# --------------------------------------------------------------------------------------------------------------


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` independent probes: sqrt(p (1 - p) / n)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected an accuracy in [0, 1], got {p!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive number of probes, got {n!r}")
    return math.sqrt(p * (1.0 - p) / n)


def best_of_bias(k: int, p: float, n: int) -> float:
    """Upward bias of "the best of k models" as a baseline: E[max of k accuracies] - p, exactly, when the k accuracies
    are independent Binomial(n, p) / n draws with the same true accuracy p (E[max] = sum_j P(max >= j) / n). Models
    scored on the same probes make correlated errors, so for them this is an upper estimate."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected a positive number of models, got {k!r}")
    binomial_se(p, n)  # validates p and n
    pmf = [math.comb(n, j) * p ** j * (1.0 - p) ** (n - j) for j in range(n + 1)]
    cdf, acc = [], 0.0
    for q in pmf:
        acc += q
        cdf.append(min(acc, 1.0))
    # E[max] = sum_{j=1..n} P(max >= j) = sum_{j=1..n} (1 - F(j - 1)^k)
    expected_max = sum(1.0 - cdf[j - 1] ** k for j in range(1, n + 1))
    return expected_max / n - p


@dataclass
class Fig4Bar:
    """One bar of Fig. 4 in miniature: the % change of the largest model over a baseline, with its standard error."""

    task: str
    largest: float        # accuracy of the largest model
    baseline: float       # accuracy of the baseline (best smaller model, or the next-largest)
    change: float         # 100 (largest - baseline) / baseline
    se: float             # its standard error in the same units (binomial, delta method)
    above_chance: bool    # largest model more than z binomial standard errors above chance


def fig4_bars(accuracy: dict[str, Sequence[float]], n: int, baseline: str = "best", z: float = 2.0
              ) -> dict[str, Fig4Bar]:
    """Gopher's Fig. 4 in miniature with its noise. ``baseline="best"``: the best accuracy among the smaller sizes
    (Gopher's rule: 280B against the best model up to 7.1B); ``"next"``: the next-largest size. The standard error of
    100 (a - b) / b, with a and b binomial over ``n`` probes, by the delta method:
    100 / b * sqrt(se_a^2 + (a / b)^2 se_b^2). A task counts as above chance only if the largest model's accuracy
    exceeds chance by more than ``z`` standard errors of an accuracy at chance, sqrt(c (1 - c) / n)."""
    if baseline not in ("best", "next"):
        raise ValueError(f"baseline: expected 'best' or 'next', got {baseline!r}")
    if not z > 0:
        raise ValueError(f"z: expected a positive number of standard errors, got {z!r}")
    out = {}
    for task, accs in accuracy.items():
        if len(accs) < 2:
            raise ValueError(f"accuracy: task {task!r} needs at least two sizes, got {len(accs)}")
        if task not in CHANCE:
            raise ValueError(f"accuracy: unknown task {task!r}, expected one of {sorted(CHANCE)}")
        a = float(accs[-1])
        b = float(max(accs[:-1]) if baseline == "best" else accs[-2])
        if b <= 0:
            raise ValueError(f"accuracy: task {task!r} has a baseline accuracy of {b}, expected > 0")
        se = 100.0 / b * math.sqrt(binomial_se(a, n) ** 2 + (a / b) ** 2 * binomial_se(b, n) ** 2)
        c = CHANCE[task]
        out[task] = Fig4Bar(task, a, b, 100.0 * (a - b) / b, se, a - c > z * binomial_se(c, n))
    return out


# --------------------------------------------------------------------------------------------------------------
# Why not BatchNorm: what a norm that pools over the batch does inside a causal LM
# --------------------------------------------------------------------------------------------------------------


class TokenBatchNorm(nn.Module):
    """BatchNorm (Ioffe & Szegedy 2015, Alg. 1) over the tokens of a (batch, time, d) tensor: in training each
    channel is normalised with the mean and variance over every token of every sequence in the batch; in evaluation
    with running averages of them. Placed where a Transformer puts LayerNorm."""

    def __init__(self, d: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"x: expected a (batch, time, d) tensor, got shape {tuple(x.shape)}")
        return self.bn(x.transpose(1, 2)).transpose(1, 2)  # x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps) * g + b


NORM_KINDS = ("layernorm", "rmsnorm", "batchnorm")


def causal_lm_with_norm(norm: str, vocab_size: int = 50, d_model: int = 16, n_layers: int = 2, seq_len: int = 16,
                        seed: int = 0) -> TransformerLM:
    """A small member of the family (:func:`make_model`) with ``norm`` in every norm slot; ``"batchnorm"`` puts
    :class:`TokenBatchNorm` where the pre-norm decoder has LayerNorm."""
    if norm not in NORM_KINDS:
        raise ValueError(f"norm: expected one of {NORM_KINDS}, got {norm!r}")
    torch.manual_seed(seed)
    model = make_model(vocab_size, d_model, n_layers, norm="layernorm" if norm == "batchnorm" else norm,
                       seq_len=seq_len)
    if norm == "batchnorm":
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.LayerNorm):
                    setattr(parent, name, TokenBatchNorm(child.normalized_shape[0]))
    return model


@dataclass
class NormLeak:
    """Largest change of one sequence's logits at positions 0..t (see :func:`norm_leak`)."""

    norm: str
    other_sequences: float   # when the other sequences of the batch change
    later_positions: float   # when this sequence's tokens after position t change
    train_vs_eval: float     # between model.train() and model.eval() on the same batch


def norm_leak(norm: str, batch_size: int = 4, seq_len: int = 16, t: int = 7, seed: int = 0) -> NormLeak:
    """Why Transformers normalise per token: in a causal LM (:func:`causal_lm_with_norm`, training mode) compare the
    logits of sequence 0 at positions 0..t for one batch against (a) the same batch with sequences 1.. replaced and
    (b) the same batch with sequence 0's tokens after t replaced; and (c) the logits in training vs evaluation mode.
    A per-token norm (LayerNorm, RMSNorm) gives exactly 0 for all three; BatchNorm's batch statistics mix tokens
    across sequences and across time, which the causal mask cannot stop."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size: expected an integer >= 2 (other sequences to change), got {batch_size!r}")
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 2:
        raise ValueError(f"seq_len: expected an integer >= 2, got {seq_len!r}")
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < seq_len - 1:
        raise ValueError(f"t: expected a position in [0, {seq_len - 2}] (later positions must exist), got {t!r}")
    vocab = 50
    model = causal_lm_with_norm(norm, vocab_size=vocab, seq_len=seq_len, seed=seed)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch_size, seq_len), generator=g)
    others = ids.clone()
    others[1:] = torch.randint(0, vocab, (batch_size - 1, seq_len), generator=g)
    later = ids.clone()
    later[0, t + 1:] = torch.randint(0, vocab, (seq_len - t - 1,), generator=g)

    def logits(x: torch.Tensor, train: bool) -> torch.Tensor:
        model.train(train)
        with torch.no_grad():
            return model(x)[0, :t + 1]

    base = logits(ids, True)
    return NormLeak(norm,
                    other_sequences=(logits(others, True) - base).abs().max().item(),
                    later_positions=(logits(later, True) - base).abs().max().item(),
                    train_vs_eval=(logits(ids, False) - base).abs().max().item())
