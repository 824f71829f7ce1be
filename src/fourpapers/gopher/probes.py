"""Gopher Sec. 4 in miniature: zero-shot multiple-choice probes, scoring, readouts."""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import WordVocab
from ..training import resolve_device
from .world import _CHAIN, CATEGORIES, CITIES, JOBS, World, _chain, _number, _passage

__all__ = [
    "CHANCE",
    "TASK_CATEGORY",
    "Probe",
    "ProbeTask",
    "make_probes",
    "probe_scores",
    "score_task",
    "category_accuracy",
    "category_chance",
    "knowledge_by_frequency",
    "maths_choices",
]

#: chance accuracy of each probe task: the reciprocal of its number of options.
CHANCE = {
    "fact_city": 0.5,
    "fact_job": 0.25,
    "reading_4": 0.25,
    "reading_6": 0.25,
    "maths_2digit": 0.25,
    "maths_3digit": 0.25,
    "logic_2hop": 0.5,
    "logic_3hop": 0.5,
}
TASK_CATEGORY = {
    "fact_city": "knowledge",
    "fact_job": "knowledge",
    "reading_4": "reading",
    "reading_6": "reading",
    "maths_2digit": "maths",
    "maths_3digit": "maths",
    "logic_2hop": "logic",
    "logic_3hop": "logic",
}


@dataclass
class Probe:
    """One multiple-choice question: a context, the options (each a list of tokens) and
    the index of the right one."""

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


def _shuffled(
    rng: random.Random, right: list[str], wrong: list[list[str]]
) -> tuple[list[list[str]], int]:
    options = [right] + wrong
    order = list(range(len(options)))
    rng.shuffle(order)
    return [options[i] for i in order], order.index(0)


def make_probes(world: World, n: int = 200, seed: int = 0) -> list[ProbeTask]:
    """The synthetic probe suite: ``n`` probes for each of eight tasks, two per
    category, drawn with ``seed``.

    * knowledge (fact checking): "e lives in" -> the true city vs one other city (chance
      1/2); "e works as a" -> the true job vs three others (1/4). Entities are drawn
      uniformly, so the rare ones of the Zipf tail count as much.
    * reading comprehension: a fresh passage of 4 or 6 "n lives in c ." pairs, "where
      does n live ?" -> the right city among 4 cities of the passage (1/4).
    * maths: 2- and 3-digit additions whose units (2-digit) or any column (3-digit)
      carries; the sum vs three distractors from s +- 1, s +- 10, s +- 100 (1/4).
    * logic: a shuffled 7-node chain of "a is north of b ." statements; "so x is north
      of" -> the node 2 or 3 steps south vs a node north of x (1/2). Neither option is
      an end of the chain, so no endpoint shortcut works.
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
        tasks["fact_city"].append(
            Probe([".", *world.entities[i], "lives", "in"], opts, a)
        )
    ents = [rng.randrange(E) for _ in range(n)] if n > E else rng.sample(range(E), n)
    for i in ents:  # knowledge: job
        others = rng.sample([j for j in JOBS if j != world.job[i]], 3)
        opts, a = _shuffled(rng, [world.job[i]], [[j] for j in others])
        tasks["fact_job"].append(
            Probe([".", *world.entities[i], "works", "as", "a"], opts, a)
        )
    for people_n, name in ((4, "reading_4"), (6, "reading_6")):
        for _ in range(n):
            text, people, cities = _passage(rng, people_n)
            q = rng.randrange(people_n)
            wrong = rng.sample([c for k, c in enumerate(cities) if k != q], 3)
            opts, a = _shuffled(rng, [cities[q]], [[c] for c in wrong])
            tasks[name].append(
                Probe([".", *text, "where", "does", people[q], "live", "?"], opts, a)
            )
    for digits, name in ((2, "maths_2digit"), (3, "maths_3digit")):
        while len(tasks[name]) < n:
            a_, b_ = (rng.randint(10 ** (digits - 1), 10**digits - 1) for _ in range(2))
            carry = (
                (a_ % 10 + b_ % 10 >= 10)
                if digits == 2
                else any(
                    (a_ // 10**k) % 10 + (b_ // 10**k) % 10 >= 10 for k in range(digits)
                )
            )
            if not carry:
                continue
            s = a_ + b_
            pool = [s + dlt for dlt in (-1, 1, -10, 10, -100, 100) if s + dlt > 0]
            wrong = rng.sample(pool, 3)
            opts, a = _shuffled(rng, _number(s), [_number(w) for w in wrong])
            tasks[name].append(
                Probe([".", *_number(a_), "+", *_number(b_), "="], opts, a)
            )
    for hop, name in ((2, "logic_2hop"), (3, "logic_3hop")):
        for _ in range(n):
            nodes, text = _chain(rng)
            i = rng.randint(
                2, _CHAIN - 2 - hop
            )  # x = nodes[i]; its answer nodes[i + hop] is not the last node
            false = nodes[rng.randint(1, i - 1)]  # north of x, and not the first node
            opts, a = _shuffled(rng, [nodes[i + hop]], [[false]])
            tasks[name].append(
                Probe([".", *text, "so", nodes[i], "is", "north", "of"], opts, a)
            )
    return [
        ProbeTask(name, TASK_CATEGORY[name], probes) for name, probes in tasks.items()
    ]


@torch.no_grad()
def probe_scores(
    model: nn.Module,
    vocab: WordVocab,
    task: ProbeTask,
    batch_size: int = 256,
    normalise: bool = True,
    device: str | torch.device | None = None,
) -> list[list[float]]:
    """Each option's score: its length-normalised log-likelihood, the mean of log
    p(option token | context, earlier option tokens) over its tokens
    (``normalise=False``: the sum). Returns one list of option scores per probe.

    Every (context, option) pair is one sequence; sequences are right-padded (the model
    is causal, so padding after a token does not change its prediction) and run in
    batches of ``batch_size``. A probe whose options are all one token long needs only
    one sequence (the context), read at its last position.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    if not task.probes:
        raise ValueError("task: expected at least one probe")
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    seqs: list[list[int]] = []
    spans: list[
        tuple[int, int, int, list[int]]
    ] = []  # (probe, option, sequence index, option token ids)
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
    logp = torch.cat(
        [
            F.log_softmax(model(x[i : i + batch_size].to(dev)).float(), dim=-1).cpu()
            for i in range(0, len(seqs), batch_size)
        ]
    )
    scores = [[0.0] * len(p.options) for p in task.probes]
    for p_i, o_i, s_i, o in spans:
        first = ctx_len[p_i] - 1  # the position that predicts the option's first token
        total = float(
            logp[s_i, torch.arange(first, first + len(o)), torch.tensor(o)].sum()
        )
        scores[p_i][o_i] = total / len(o) if normalise else total
    model.train(was_training)
    return scores


def score_task(
    model: nn.Module,
    vocab: WordVocab,
    task: ProbeTask,
    batch_size: int = 256,
    normalise: bool = True,
    device: str | torch.device | None = None,
) -> float:
    """Zero-shot accuracy on ``task`` (Gopher's multiple-choice scoring): the option
    with the highest length-normalised log-likelihood (:func:`probe_scores`) is the
    model's answer; returns the fraction of probes answered right."""
    scores = probe_scores(model, vocab, task, batch_size, normalise, device)
    return sum(
        max(range(len(s)), key=s.__getitem__) == p.answer
        for s, p in zip(scores, task.probes)
    ) / len(scores)


def category_accuracy(
    accuracy: dict[str, Sequence[float]], category: str
) -> list[float]:
    """Mean accuracy of a category's tasks, per size (and :data:`CHANCE` likewise
    averaged gives its chance level)."""
    if category not in CATEGORIES:
        raise ValueError(f"category: expected one of {CATEGORIES}, got {category!r}")
    tasks = [t for t in accuracy if TASK_CATEGORY.get(t) == category]
    if not tasks:
        raise ValueError(f"accuracy: no task of category {category!r}")
    n = len(accuracy[tasks[0]])
    return [sum(accuracy[t][i] for t in tasks) / len(tasks) for i in range(n)]


def category_chance(category: str) -> float:
    """A category's chance accuracy: the mean :data:`CHANCE` of its tasks (what
    :func:`category_accuracy` is compared with)."""
    if category not in CATEGORIES:
        raise ValueError(f"category: expected one of {CATEGORIES}, got {category!r}")
    tasks = [t for t, c in TASK_CATEGORY.items() if c == category]
    return sum(CHANCE[t] for t in tasks) / len(tasks)


def knowledge_by_frequency(
    model: nn.Module,
    world: World,
    task: ProbeTask,
    edges: Sequence[int] = (0, 25, 50, 100, 200),
) -> list[float]:
    """Accuracy on a knowledge task (``fact_city`` or ``fact_job``) per band of entity
    frequency rank: entities ``edges[k] <= rank < edges[k+1]`` (rank 0 is the most
    mentioned; mentions fall as 1/(rank+1))."""
    if task.category != "knowledge":
        raise ValueError(f"task: expected a knowledge task, got {task.name!r}")
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0:
        raise ValueError(
            f"edges: expected increasing non-negative rank boundaries, got {edges!r}"
        )
    rank = {e: i for i, e in enumerate(world.entities)}
    scores = probe_scores(model, world.vocab, task)
    right = [
        max(range(len(s)), key=s.__getitem__) == p.answer
        for s, p in zip(scores, task.probes)
    ]
    ranks = [rank[tuple(p.context[1:3])] for p in task.probes]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        band = [ok for ok, r in zip(right, ranks) if lo <= r < hi]
        out.append(sum(band) / len(band) if band else float("nan"))
    return out


def maths_choices(
    model: nn.Module, vocab: WordVocab, task: ProbeTask
) -> dict[int, tuple[int, int]]:
    """What the model picks on a maths task, per kind of option: offset (option - true
    sum: 0 is the right answer, +-1, +-10, +-100 the distractors) -> (times picked,
    times offered). Picked / offered is 1/4 for a guesser."""
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
