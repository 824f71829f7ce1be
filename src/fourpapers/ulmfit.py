"""Chapter 3, ULMFiT (Howard & Ruder 2018): the three-stage recipe, Fig. 3 in miniature, and when transfer pays.

The recipe, Sec. 3 of the paper:

1. pretrain a language model (an AWD-LSTM, Merity et al. 2017) on general-domain text;
2. fine-tune the LM on the target task's text with discriminative learning rates (Eq. 2, eta^{l-1} = eta^l / 2.6)
   and slanted triangular learning rates (STLR, Eq. 3);
3. fine-tune a classifier (concat pooling h_c = [h_T, maxpool(H), meanpool(H)], Eq. 4, into two BatchNorm +
   dropout linear blocks) with gradual unfreezing, discriminative rates and STLR.

Two worlds to run it in:

* world A, :func:`docstring_task` -- real text: standard-library docstrings classified by module family, names
  stripped; the general corpus is the pydoc topics plus the other docstrings;
* world B, :class:`TopicWorld` -- a generated language in which predicting the next word needs the document's topic.

Importing this module tunes glibc's malloc for LSTM training (:func:`_tune_malloc`; the results do not change).
Every function also takes a user's own corpus and labeled CSV (:func:`load_labeled_csv`, :func:`texts_task`), so the
same code runs at full scale (e.g. IMDb on a GPU).
"""

from __future__ import annotations

import copy
import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from .data import WordVocab, batches, docstring_corpus, pydoc_corpus, tokenize_words
from .models import check_token_ids
from .training import progress_bar, resolve_device, train

__all__ = [
    "stlr", "stlr_schedule", "stlr_scheduler", "one_cycle", "discriminative_lrs", "plot_schedule",
    "TextTask", "TopicWorld", "topic_world_task", "docstring_task", "texts_task", "load_labeled_csv", "clean_docstring",
    "AWDLSTM", "ConcatPoolClassifier", "pad_batch", "freeze_to",
    "pretrain_lm", "finetune_lm", "finetune_classifier", "classifier_error", "perplexity",
    "Recipe", "WORLD_A", "WORLD_B", "pretrained_lm", "target_lm",
    "ArmResult", "scratch_arm", "supervised_arm", "semi_supervised_arm",
    "Fig3Result", "labels_to_match", "fig3_experiment", "probe_features", "linear_probe", "probe_experiment",
    "ABLATION_ROWS", "NO_LM_FT", "ablation_experiment",
]


def _tune_malloc() -> bool:
    """Keep glibc from returning freed LSTM buffers to the OS after every step (perf notes, section 4).

    In a fresh process the LSTM steps otherwise spend 10-35 % of their time in page faults. Sets M_MMAP_THRESHOLD
    32 MiB, M_TRIM_THRESHOLD 2 GiB and M_TOP_PAD 256 MiB once; numerics are unchanged. A no-op without glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return all(libc.mallopt(opt, val) == 1 for opt, val in ((-3, 32 << 20), (-1, 2**31 - 1), (-2, 256 << 20)))
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False


_MALLOC_TUNED = _tune_malloc()


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return float(value)


def _update(t, T) -> tuple[int, int]:
    """Validate a schedule's update index ``t`` in [0, T] (T >= 1); returns (t, T)."""
    T = _positive_int("T", T)
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= T:
        raise ValueError(f"t: expected an integer in [0, T={T}], got {t!r}")
    return int(t), T


def _open_fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")
    return float(value)


def _probability(name: str, value, upper_open: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value and (
        value < 1.0 if upper_open else value <= 1.0)
    if not ok:
        raise ValueError(f"{name}: expected a number in [0, 1{')' if upper_open else ']'}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------------------------
# Schedules: STLR (Eq. 3), fastai's one-cycle shape, discriminative rates (Eq. 2)
# --------------------------------------------------------------------------------------------------------------


def stlr(t: int, T: int, lr_max: float = 0.01, cut_frac: float = 0.1, ratio: float = 32.0,
         paper_form: bool = False) -> float:
    """Slanted triangular learning rate, Howard & Ruder 2018, Eq. 3, at update ``t`` of ``T``.

    cut = floor(T * cut_frac); p = t / cut while t < cut, else 1 - (t - cut) / (cut * (1/cut_frac - 1));
    eta_t = lr_max * (1 + p (ratio - 1)) / ratio. It rises linearly from lr_max/ratio to lr_max over the first
    ``cut`` updates, then falls linearly back to lr_max/ratio at t = T.

    The paper's decay denominator cut * (1/cut_frac - 1) equals T - cut only when T * cut_frac is an integer;
    otherwise p turns negative before t = T and eta can go below zero (T = 237: eta_T = -1.51e-5). By default we
    divide by T - cut instead (identical when T * cut_frac is an integer) and floor p at 0, so eta never drops below
    lr_max / ratio. ``paper_form=True`` returns the formula exactly as printed, negative values included.
    """
    t, T = _update(t, T)
    lr_max = _positive("lr_max", lr_max)
    cut_frac = _open_fraction("cut_frac", cut_frac)
    if not isinstance(ratio, (int, float)) or not ratio >= 1.0:
        raise ValueError(f"ratio: expected a number >= 1, got {ratio!r}")
    cut = max(1, math.floor(T * cut_frac))                          # cut = floor(T cut_frac), at least one update
    if t < cut:
        p = t / cut                                                 # p = t / cut
    elif paper_form:
        p = 1 - (t - cut) / (cut * (1 / cut_frac - 1))              # p = 1 - (t - cut) / (cut (1/cut_frac - 1))
    else:
        p = max(0.0, 1 - (t - cut) / max(1, T - cut))               # same line, ending exactly at t = T
    return lr_max * (1 + p * (ratio - 1)) / ratio                   # eta_t = eta_max (1 + p (ratio - 1)) / ratio


def stlr_schedule(T: int, cut_frac: float = 0.1, ratio: float = 32.0) -> Callable[[int], float]:
    """STLR (Eq. 3) as a learning-rate *multiplier* ``m(t) = stlr(t, T, 1, ...)`` for ``training.train``.

    Each parameter group's own rate (e.g. a discriminative rate) is scaled by ``m(t)``; steps past ``T`` keep
    the final value lr/ratio.
    """
    stlr(0, T, 1.0, cut_frac, ratio)  # validate eagerly
    return lambda t: stlr(min(int(t), T), T, 1.0, cut_frac, ratio)


def stlr_scheduler(optimizer: torch.optim.Optimizer, T: int, cut_frac: float = 0.1,
                   ratio: float = 32.0) -> torch.optim.lr_scheduler.LambdaLR:
    """STLR (Eq. 3) as a ``torch.optim.lr_scheduler``: every group's lr follows ``group_lr * stlr(t, T, 1)``.

    With T * cut_frac an integer it reproduces ``OneCycleLR(max_lr, total_steps=T + 1, pct_start=(cut + 1)/(T + 1),
    anneal_strategy="linear", div_factor=ratio, final_div_factor=1, cycle_momentum=False)``.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, stlr_schedule(T, cut_frac, ratio))


def one_cycle(t: int, T: int, lr_max: float = 0.01, pct_start: float = 0.25, div: float = 25.0,
              div_final: float = 1e5) -> float:
    """fastai's ``fit_one_cycle`` learning-rate shape at update ``t`` of ``T`` (not the paper's STLR).

    Cosine from lr_max/div up to lr_max over the first ``pct_start`` of training, then cosine down to
    lr_max/div_final: lr(pos) = a + (1 + cos(pi (1 - pos'))) (b - a) / 2 on each phase, pos = t / T.
    """
    t, T = _update(t, T)
    lr_max = _positive("lr_max", lr_max)
    pct_start = _open_fraction("pct_start", pct_start)
    div, div_final = _positive("div", div), _positive("div_final", div_final)
    pos = t / T

    def cos_anneal(a: float, b: float, x: float) -> float:
        return a + (1 + math.cos(math.pi * (1 - x))) * (b - a) / 2

    if pos < pct_start:
        return cos_anneal(lr_max / div, lr_max, pos / pct_start)
    return cos_anneal(lr_max, lr_max / div_final, (pos - pct_start) / (1 - pct_start))


def discriminative_lrs(lr: float, n_groups: int, factor: float = 2.6) -> list[float]:
    """Discriminative fine-tuning, Eq. 2 and Sec. 3.2: eta^{l-1} = eta^l / factor, the last (top) group gets ``lr``.

    Returns ``[lr / factor**(n-1), ..., lr / factor, lr]``, the rates of fastai's ``slice(lr / factor**(n-1), lr)``.
    """
    lr = _positive("lr", lr)
    n_groups = _positive_int("n_groups", n_groups)
    factor = _positive("factor", factor)
    return [lr / factor ** (n_groups - 1 - i) for i in range(n_groups)]


# --------------------------------------------------------------------------------------------------------------
# Labeled text tasks
# --------------------------------------------------------------------------------------------------------------

SPECIALS = ("<unk>", "<pad>", "<bos>")


@dataclass
class TextTask:
    """A text-classification task with the corpora transfer needs, all as word ids of one vocabulary.

    ``general`` is the general-domain LM corpus (stage 1), one 1-D id tensor with ``<bos>`` before every document;
    ``pool`` / ``pool_labels`` the labeled training pool (its texts are also the task's unlabeled text, stage 2 of
    the semi-supervised arm); ``valid`` / ``valid_labels`` the fixed validation set. Each document is a 1-D id
    tensor starting with ``<bos>``. :meth:`labeled` draws the class-balanced, nested subsets of Fig. 3.
    """

    name: str
    vocab: WordVocab
    classes: list[str]
    general: torch.Tensor
    pool: list[torch.Tensor]
    pool_labels: torch.Tensor
    valid: list[torch.Tensor]
    valid_labels: torch.Tensor
    info: dict = field(default_factory=dict)

    @property
    def pad_id(self) -> int:
        return self.vocab.stoi["<pad>"]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def labeled(self, n: int | None, seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The first ``n`` examples of a seeded, class-interleaved order of the pool (``None``: the whole pool).

        Classes take turns, so every prefix is as balanced as the pool allows and a smaller ``n`` is a subset of a
        larger one (the nested subsets of Fig. 3).
        """
        total = len(self.pool)
        if n is None:
            n = total
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not self.n_classes <= n <= total:
            raise ValueError(f"n: expected an integer in [{self.n_classes}, {total}] or None, got {n!r}")
        g = torch.Generator().manual_seed(10_007 * seed + 17)
        per_class = [torch.nonzero(self.pool_labels == c).flatten() for c in range(self.n_classes)]
        per_class = [idx[torch.randperm(len(idx), generator=g)].tolist() for idx in per_class]
        order: list[int] = []
        for r in range(max(len(p) for p in per_class)):
            order.extend(p[r] for p in per_class if r < len(p))
        chosen = order[:n]
        return [self.pool[i] for i in chosen], self.pool_labels[chosen]

    def stream(self, docs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Documents joined into one LM stream (each already starts with ``<bos>``)."""
        if len(docs) == 0:
            raise ValueError("docs: expected at least one document")
        return torch.cat(list(docs))


# --------------------------------------------------------------------------------------------------------------
# World A: real docstrings, and any labeled texts of your own
# --------------------------------------------------------------------------------------------------------------

# The four module families of world A, by top-level module. The other docstrings go to the general corpus.
DOCSTRING_FAMILIES = {
    "files and OS": ("os", "posix", "posixpath", "ntpath", "genericpath", "pathlib", "shutil", "tempfile", "glob",
                     "fnmatch", "filecmp", "fileinput", "tarfile", "zipfile", "gzip", "bz2", "lzma", "stat", "io"),
    "networking": ("socket", "ssl", "http", "urllib", "smtplib", "imaplib", "poplib", "ftplib", "nntplib", "telnetlib",
                   "socketserver", "xmlrpc", "email", "mailbox", "wsgiref", "cgi", "ipaddress", "select", "selectors"),
    "numbers and time": ("math", "cmath", "decimal", "fractions", "numbers", "statistics", "random", "datetime",
                         "calendar"),
    "data structures and functional": ("collections", "itertools", "functools", "operator", "heapq", "bisect", "array",
                                       "queue", "weakref", "copy", "enum", "dataclasses", "graphlib", "typing",
                                       "contextlib"),
}
# Placeholders (fastai's xx* convention: they survive ``tokenize_words`` as single words).
PLACEHOLDERS = ("xxref", "xxcall", "xxid", "xxname")

_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_CALL = re.compile(r"\b[A-Za-z_]\w*\(")
_SNAKE = re.compile(r"\b\w*[A-Za-z]\w*_\w*\b|\b_\w+\b")
_CAMEL = re.compile(r"\b[A-Za-z][A-Za-z0-9]*\b")


def clean_docstring(text: str, banned: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """World A's name stripping (the label must not leak through names); returns lower-cased word tokens.

    Doctest examples (a ``>>>`` line up to the next blank line) are dropped; dotted references (``os.path.join``)
    become ``xxref``, calls ``name(`` become ``xxcall (``, snake_case and camelCase identifiers ``xxid``, and every
    word in ``banned`` (the target modules' and classes' names, lower case) ``xxname``.
    """
    if not isinstance(text, str):
        raise ValueError(f"text: expected a string, got {type(text).__name__}")
    kept, in_doctest = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            in_doctest = True
        elif not stripped:
            in_doctest = False
        if not in_doctest:
            kept.append(line)
    text = "\n".join(kept)

    def dotted(m: re.Match) -> str:
        parts = m.group(0).split(".")
        return m.group(0) if all(len(p) == 1 for p in parts) else " xxref "   # keep "e.g", "i.e"

    text = _DOTTED.sub(dotted, text)                                   # os.path.join -> xxref
    text = _CALL.sub(" xxcall (", text)                                # name( -> xxcall (
    text = _SNAKE.sub(" xxid ", text)                                  # snake_case -> xxid

    def camel(m: re.Match) -> str:
        w = m.group(0)
        return " xxid " if any(c.isupper() for c in w[1:]) and any(c.islower() for c in w) else w

    text = _CAMEL.sub(camel, text)                                     # camelCase, OrderedDict -> xxid
    return ["xxname" if t in banned else t for t in tokenize_words(text)]


def _target_names(records) -> set[str]:
    """Lower-cased names that would give a world-A label away: every dotted part of each target module's name, and
    every class defined there (a record ``mod.Class.method``, or ``mod.Name`` with a capital first letter)."""
    names: set[str] = set()
    for r in records:
        names.update(part.lower() for part in r.module.split("."))
        rest = r.name[len(r.module) + 1:].split(".") if r.name.startswith(r.module + ".") else []
        if len(rest) >= 2 or (len(rest) == 1 and rest[0][:1].isupper()):
            names.add(rest[0].lower())
    return names


def texts_task(general: str | Sequence[str], texts: Sequence[Sequence[str] | str], labels: Sequence,
               valid_per_class: int = 75, max_size: int = 3000, max_tokens: int | None = None, seed: int = 0,
               name: str = "texts", info: dict | None = None) -> TextTask:
    """A :class:`TextTask` from your own data: a general corpus (one text or a list of documents) and labeled texts.

    Texts may be strings (split with ``data.tokenize_words``) or token lists. The vocabulary (``max_size`` words,
    specials included) comes from the general corpus only, so the task's text cannot leak into it; a fixed,
    seeded ``valid_per_class`` examples per class form the validation set. ``max_tokens`` truncates each example.
    """
    if len(texts) == 0 or len(texts) != len(labels):
        raise ValueError(f"texts, labels: expected equally many (>= 1), got {len(texts)} and {len(labels)}")
    classes = sorted({str(y) for y in labels})
    if len(classes) < 2:
        raise ValueError(f"labels: expected at least two classes, got {classes!r}")
    if isinstance(valid_per_class, bool) or not isinstance(valid_per_class, int) or valid_per_class < 1:
        raise ValueError(f"valid_per_class: expected a positive integer, got {valid_per_class!r}")
    if max_tokens is not None:
        _positive_int("max_tokens", max_tokens, minimum=2)
    general_docs = [general] if isinstance(general, str) else list(general)
    general_tokens = [tokenize_words(d) if isinstance(d, str) else list(d) for d in general_docs]
    if not any(general_tokens):
        raise ValueError("general: expected a non-empty general corpus")
    vocab = WordVocab.from_tokens([t for d in general_tokens for t in d], max_size=_positive_int("max_size", max_size, 4),
                                  specials=SPECIALS)
    bos = vocab.stoi["<bos>"]
    general_ids = torch.cat([torch.cat([torch.tensor([bos]), vocab.encode(d)]) for d in general_tokens if d])
    y_all = torch.tensor([classes.index(str(y)) for y in labels])
    docs = []
    for t in texts:
        toks = tokenize_words(t) if isinstance(t, str) else list(t)
        toks = toks[: max_tokens - 1] if max_tokens is not None else toks
        docs.append(torch.cat([torch.tensor([bos]), vocab.encode(toks)]))
    g = torch.Generator().manual_seed(seed)
    is_valid = torch.zeros(len(docs), dtype=torch.bool)
    for c in range(len(classes)):
        idx = torch.nonzero(y_all == c).flatten()
        if len(idx) <= valid_per_class:
            raise ValueError(f"valid_per_class: class {classes[c]!r} has only {len(idx)} examples, "
                             f"expected more than {valid_per_class}")
        is_valid[idx[torch.randperm(len(idx), generator=g)[:valid_per_class]]] = True
    return TextTask(
        name=name, vocab=vocab, classes=classes, general=general_ids,
        pool=[d for d, v in zip(docs, is_valid) if not v], pool_labels=y_all[~is_valid],
        valid=[d for d, v in zip(docs, is_valid) if v], valid_labels=y_all[is_valid], info=dict(info or {}),
    )


def load_labeled_csv(path: str | Path, text_column: str = "text", label_column: str = "label") -> tuple[list[str], list[str]]:
    """Read a labeled CSV (a header row, UTF-8) into ``(texts, labels)`` for :func:`texts_task` (e.g. IMDb)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path: expected an existing CSV file, got {str(p)!r}")
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or text_column not in reader.fieldnames or label_column not in reader.fieldnames:
            raise ValueError(f"text_column, label_column: expected columns {text_column!r} and {label_column!r} in "
                             f"{str(p)!r}, found {reader.fieldnames}")
        rows = [(r[text_column], r[label_column]) for r in reader]
    if not rows:
        raise ValueError(f"path: {str(p)!r} holds no rows")
    return [r[0] for r in rows], [r[1] for r in rows]


def docstring_task(valid_per_class: int = 75, max_size: int = 3000, max_tokens: int = 40,
                   families: dict[str, Sequence[str]] | None = None) -> TextTask:
    """World A (chapter 3): standard-library docstrings labeled by module family, names stripped.

    Targets are the docstrings of the modules in ``families`` (default :data:`DOCSTRING_FAMILIES`), cleaned by
    :func:`clean_docstring` with every target module and class name banned, deduplicated after cleaning, at least
    3 tokens, truncated to ``max_tokens``. The general corpus is the pydoc topics plus every other docstring,
    cleaned alike; the vocabulary (``max_size``) comes from it only. The validation set is fixed (seed 0).
    """
    families = DOCSTRING_FAMILIES if families is None else families
    if len(families) < 2:
        raise ValueError(f"families: expected at least two families of modules, got {list(families)!r}")
    family_of = {m: f for f, mods in families.items() for m in mods}
    records = docstring_corpus()
    targets = [r for r in records if r.module.split(".")[0] in family_of]
    banned = frozenset(_target_names(targets))
    texts, labels, seen = [], [], set()
    for r in targets:
        toks = clean_docstring(r.text, banned)
        key = tuple(toks)
        if len(toks) < 3 or key in seen:
            continue
        seen.add(key)
        texts.append(toks)
        labels.append(family_of[r.module.split(".")[0]])
    general = [clean_docstring(pydoc_corpus(), banned)] + [
        clean_docstring(r.text, banned) for r in records if r.module.split(".")[0] not in family_of]
    return texts_task(general, texts, labels, valid_per_class=valid_per_class, max_size=max_size,
                      max_tokens=max_tokens, seed=0, name="docstrings", info={"banned": banned})


# --------------------------------------------------------------------------------------------------------------
# World B: a generated topic world
# --------------------------------------------------------------------------------------------------------------

FUNCTION_WORDS = ("the", "a", "of", "it", "and", ",", ".", "in", "with", "this", "is", "to")
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
    """World B: a generated language in which the next word depends on the document's topic (chapter 3).

    The lexicon (deterministic per ``seed``): 12 function words; ``n_topics`` topics, each with its own
    ``topic_sizes`` = (nouns, verbs, adjectives); ``shared_sizes`` shared words, each belonging to a random group of
    ``group_size`` topics; ``generic_sizes`` generic words. Every list is sampled with Zipf(``zipf``) weights
    p(rank r) ~ r^-zipf. A sentence is one of 8 templates (``TEMPLATES``); each content slot (N, V, J) of a
    sentence about topic t takes a topic word of t with probability ``p_topic``, a shared word of t's groups with
    ``p_shared``, otherwise a generic word. So no content word alone is certain to name the topic, while a
    document's topic is clear from a handful of them -- and an LM predicts the next word better once it infers it.
    """

    def __init__(self, seed: int = 0, n_topics: int = 16, topic_sizes: Sequence[int] = (40, 20, 15),
                 shared_sizes: Sequence[int] = (150, 60, 45), group_size: int = 4,
                 generic_sizes: Sequence[int] = (40, 20, 15), p_topic: float = 0.35, p_shared: float = 0.40,
                 zipf: float = 1.0):
        self.seed = _positive_int("seed", seed, minimum=0)
        self.n_topics = _positive_int("n_topics", n_topics, minimum=2)
        for name, sizes in (("topic_sizes", topic_sizes), ("shared_sizes", shared_sizes),
                            ("generic_sizes", generic_sizes)):
            if len(sizes) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
                raise ValueError(f"{name}: expected three positive integers (nouns, verbs, adjectives), got {sizes!r}")
        if isinstance(group_size, bool) or not isinstance(group_size, int) or not 1 <= group_size <= n_topics:
            raise ValueError(f"group_size: expected an integer in [1, n_topics={n_topics}], got {group_size!r}")
        _probability("p_topic", p_topic, upper_open=False)
        _probability("p_shared", p_shared, upper_open=False)
        if p_topic + p_shared > 1.0 + 1e-12:
            raise ValueError(f"p_shared: expected p_topic + p_shared <= 1, got {p_topic} + {p_shared}")
        if isinstance(zipf, bool) or not isinstance(zipf, (int, float)) or zipf < 0:
            raise ValueError(f"zipf: expected a number >= 0, got {zipf!r}")
        self.topic_sizes, self.shared_sizes, self.generic_sizes = tuple(topic_sizes), tuple(shared_sizes), tuple(generic_sizes)
        self.group_size, self.p_topic, self.p_shared, self.zipf = group_size, float(p_topic), float(p_shared), float(zipf)
        self.p_generic = 1.0 - self.p_topic - self.p_shared
        rng = np.random.default_rng([self.seed, 1])
        n_content = sum(n_topics * a + b + c for a, b, c in zip(topic_sizes, shared_sizes, generic_sizes))
        self.words: list[str] = list(FUNCTION_WORDS) + _pseudo_words(n_content, rng, exclude=set(FUNCTION_WORDS))
        nxt = len(FUNCTION_WORDS)
        self.topic_words: dict[str, np.ndarray] = {}    # pos -> [n_topics, size] word indices
        self.shared_words: dict[str, np.ndarray] = {}   # pos -> [size] word indices
        self.shared_groups: dict[str, np.ndarray] = {}  # pos -> [size, group_size] topics of each shared word
        self.generic_words: dict[str, np.ndarray] = {}
        for k, pos in enumerate(_POS):
            a, b, c = topic_sizes[k], shared_sizes[k], generic_sizes[k]
            self.topic_words[pos] = np.arange(nxt, nxt + n_topics * a).reshape(n_topics, a); nxt += n_topics * a
            self.shared_words[pos] = np.arange(nxt, nxt + b); nxt += b
            self.shared_groups[pos] = np.stack([np.sort(rng.choice(n_topics, group_size, replace=False)) for _ in range(b)])
            self.generic_words[pos] = np.arange(nxt, nxt + c); nxt += c
        # the shared words of each topic, in the order of the shared list (Zipf rank = position in that order)
        self.shared_of: dict[str, list[np.ndarray]] = {
            pos: [self.shared_words[pos][np.any(self.shared_groups[pos] == t, axis=1)] for t in range(n_topics)]
            for pos in _POS
        }
        self.templates = [t.split() for t in TEMPLATES]

    def __len__(self) -> int:
        return len(self.words)

    def _zipf(self, size: int) -> np.ndarray:
        w = 1.0 / np.arange(1, size + 1) ** self.zipf                   # p(rank r) ~ r^-zipf
        return w / w.sum()

    def word_distribution(self, pos: str, topic: int) -> np.ndarray:
        """p(word | slot ``pos``, topic) over the whole word list (the generator's exact distribution)."""
        if pos not in _POS:
            raise ValueError(f"pos: expected one of {_POS}, got {pos!r}")
        if isinstance(topic, bool) or not isinstance(topic, (int, np.integer)) or not 0 <= topic < self.n_topics:
            raise ValueError(f"topic: expected an integer in [0, {self.n_topics}), got {topic!r}")
        p = np.zeros(len(self.words))
        p[self.topic_words[pos][topic]] += self.p_topic * self._zipf(self.topic_words[pos].shape[1])
        shared = self.shared_of[pos][topic]
        p[shared] += self.p_shared * self._zipf(len(shared))
        p[self.generic_words[pos]] += self.p_generic * self._zipf(len(self.generic_words[pos]))
        return p

    def topic_information(self) -> float:
        """I(topic; word) in bits for one content slot, topics uniform, slot types weighted as the templates use them."""
        counts = {pos: sum(t.count(pos) for t in self.templates) for pos in _POS}
        total = sum(counts.values())
        mi = 0.0
        for pos in _POS:
            P = np.stack([self.word_distribution(pos, t) for t in range(self.n_topics)])  # [topics, words]
            pw = P.mean(0)
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(P > 0, P * np.log2(P / pw), 0.0)
            mi += counts[pos] / total * terms.sum() / self.n_topics
        return float(mi)

    def reference_losses(self) -> dict[str, float]:
        """Two yardsticks for an LM of this world, in nats per word (the ``<bos>`` tokens left out).

        ``"syntax only"``: the best loss of a model that knows the templates but not the topic (each content slot
        predicted with p(word | slot) averaged over topics); ``"topic known"``: the same with the sentence's topic
        given. Per sentence the template costs ln 8 and each slot its entropy; divided by the mean sentence length.
        An LM whose loss falls well below the first has learned to infer the topic.
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
            out[name] = (len(self.templates) * math.log(len(self.templates)) + nats) / total_len
        return out

    def sentences(self, topics: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """One sentence (an array of word indices) per entry of ``topics``, templates uniform (vectorised)."""
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
        slots = code[tmpl]                                               # [n, max_len]
        out = slots.copy()
        row_topic = np.broadcast_to(topics[:, None], slots.shape)
        for k, pos in enumerate(_POS):
            mask = slots == -1 - k
            m = int(mask.sum())
            t_of = row_topic[mask]
            source = rng.choice(3, size=m, p=[self.p_topic, self.p_shared, self.p_generic])
            words = np.empty(m, dtype=np.int64)
            sel = source == 0                                            # a topic word of t
            tw = self.topic_words[pos]
            words[sel] = tw[t_of[sel], rng.choice(tw.shape[1], size=int(sel.sum()), p=self._zipf(tw.shape[1]))]
            sel = source == 2                                            # a generic word
            gw = self.generic_words[pos]
            words[sel] = gw[rng.choice(len(gw), size=int(sel.sum()), p=self._zipf(len(gw)))]
            for t in range(self.n_topics):                               # a shared word of one of t's groups
                sel = (source == 1) & (t_of == t)
                sw = self.shared_of[pos][t]
                words[sel] = sw[rng.choice(len(sw), size=int(sel.sum()), p=self._zipf(len(sw)))]
            out[mask] = words
        return [out[i, : lengths[i]] for i in range(n)]

    def documents(self, n_docs: int, sentences: tuple[int, int], topics: Sequence[int], rng: np.random.Generator,
                  mix_frac: float = 0.0) -> tuple[list[np.ndarray], np.ndarray]:
        """``n_docs`` documents of ``sentences`` = (min, max) sentences each, the topic uniform over ``topics``.

        A ``mix_frac`` share of documents mixes two topics, each sentence picking one of the two (the second
        uniform over the other ``topics``). Returns the documents (word-index arrays) and each one's first topic.
        """
        n_docs = _positive_int("n_docs", n_docs)
        lo, hi = sentences
        if not 1 <= lo <= hi:
            raise ValueError(f"sentences: expected (min, max) with 1 <= min <= max, got {sentences!r}")
        topics = np.asarray(list(topics), dtype=np.int64)
        if len(topics) == 0 or topics.min() < 0 or topics.max() >= self.n_topics:
            raise ValueError(f"topics: expected topic numbers in [0, {self.n_topics}), got {topics.tolist()!r}")
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
        docs = [np.concatenate(sents[bounds[i]: bounds[i + 1]]) for i in range(n_docs)]
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


def topic_world_task(seed: int = 0, n_general_docs: int = 20_000, per_class: int = 600, valid_per_class: int = 75,
                     classes: Sequence[Sequence[int]] = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)),
                     general_sentences: tuple[int, int] = (3, 10), task_sentences: tuple[int, int] = (2, 4),
                     mix_frac: float = 0.25, **world_kwargs) -> TextTask:
    """World B's corpora (chapter 3): a general LM corpus over all topics and a 4-class topic-group task.

    General corpus: ``n_general_docs`` documents of 3-10 sentences, topics uniform over all of them, a quarter
    mixing two topics sentence by sentence (about 1.04M words at the defaults). Task: class c is the group of topics
    ``classes[c]``; documents of 2-4 sentences on one topic of the group; ``per_class`` per class, of which
    ``valid_per_class`` form the fixed validation set and the rest the labeled pool. Deterministic per ``seed``.
    """
    world = TopicWorld(seed=seed, **world_kwargs)
    _positive_int("n_general_docs", n_general_docs)
    _positive_int("per_class", per_class, minimum=2)
    if not isinstance(valid_per_class, int) or not 1 <= valid_per_class < per_class:
        raise ValueError(f"valid_per_class: expected an integer in [1, per_class={per_class}), got {valid_per_class!r}")
    if len(classes) < 2 or any(len(c) == 0 for c in classes):
        raise ValueError(f"classes: expected at least two non-empty groups of topics, got {classes!r}")
    rng = np.random.default_rng([seed, 2])
    vocab = WordVocab(list(SPECIALS) + world.words)
    shift, bos = len(SPECIALS), vocab.stoi["<bos>"]
    general_docs, _ = world.documents(n_general_docs, general_sentences, range(world.n_topics), rng, mix_frac)
    general = torch.from_numpy(np.concatenate([np.concatenate([[bos], d + shift]) for d in general_docs]))
    docs, labels = [], []
    for c, group in enumerate(classes):
        ds, _ = world.documents(per_class, task_sentences, group, rng)
        docs.extend(torch.from_numpy(np.concatenate([[bos], d + shift])) for d in ds)
        labels.extend([c] * per_class)
    labels_t = torch.tensor(labels)
    is_valid = torch.zeros(len(docs), dtype=torch.bool)
    for c in range(len(classes)):
        is_valid[c * per_class: c * per_class + valid_per_class] = True
    pool = [d for d, v in zip(docs, is_valid) if not v]
    valid = [d for d, v in zip(docs, is_valid) if v]
    return TextTask(
        name="topic world", vocab=vocab, classes=["topics " + "/".join(map(str, g)) for g in classes],
        general=general, pool=pool, pool_labels=labels_t[~is_valid], valid=valid, valid_labels=labels_t[is_valid],
        info={"world": world, "n_general_docs": n_general_docs},
    )


# --------------------------------------------------------------------------------------------------------------
# The mini AWD-LSTM and the concat-pool classifier
# --------------------------------------------------------------------------------------------------------------


DROPOUT_NAMES = ("embed_p", "input_p", "weight_p", "hidden_p", "output_p")
# fastai's AWD-LSTM presets (awd_lstm_lm_config / awd_lstm_clas_config); ULMFiT scales them by a ``drop_mult``.
LM_DROPOUTS = {"embed_p": 0.02, "input_p": 0.25, "weight_p": 0.2, "hidden_p": 0.15, "output_p": 0.1}
CLAS_DROPOUTS = {"embed_p": 0.05, "input_p": 0.4, "weight_p": 0.5, "hidden_p": 0.3, "output_p": 0.4}


def _locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Variational ("locked") dropout (Merity et al. 2017, Sec. 4.2): one mask per sequence, shared over time."""
    if not training or p == 0.0:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)
    return x * mask


class AWDLSTM(nn.Module):
    """A mini AWD-LSTM language model (Merity et al. 2017; the LM of ULMFiT, Sec. 3.1): ``forward(x[B, T]) -> logits``.

    An embedding of ``emb_size``, ``n_layers`` LSTMs of ``hidden_size`` units (the last one of ``emb_size`` units, so
    the decoder can reuse the embedding matrix: tied weights), and a linear decoder. The embedding is initialised
    U(-init_range, init_range), the LSTMs as PyTorch does. The AWD-LSTM dropouts, all arguments: ``embed_p``
    (drops whole words of the embedding), ``input_p`` (locked dropout on the embedded input), ``weight_p``
    (DropConnect on each LSTM's hidden-to-hidden weights), ``hidden_p`` (locked dropout between LSTMs) and
    ``output_p`` (locked dropout before the decoder).
    """

    def __init__(self, vocab_size: int, emb_size: int = 64, hidden_size: int = 128, n_layers: int = 3,
                 init_range: float = 0.1, embed_p: float = 0.02, input_p: float = 0.25, weight_p: float = 0.2,
                 hidden_p: float = 0.15, output_p: float = 0.1):
        super().__init__()
        self.vocab_size = _positive_int("vocab_size", vocab_size, minimum=2)
        self.emb_size = _positive_int("emb_size", emb_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.n_layers = _positive_int("n_layers", n_layers)
        _positive("init_range", init_range)
        for name, p in (("embed_p", embed_p), ("input_p", input_p), ("weight_p", weight_p), ("hidden_p", hidden_p),
                        ("output_p", output_p)):
            _probability(name, p)
        self.embed_p, self.input_p, self.weight_p, self.hidden_p, self.output_p = (
            embed_p, input_p, weight_p, hidden_p, output_p)
        self.encoder = nn.Embedding(vocab_size, emb_size)
        nn.init.uniform_(self.encoder.weight, -init_range, init_range)
        sizes = [emb_size] + [hidden_size] * (n_layers - 1) + [emb_size]
        self.rnns = nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(n_layers))
        self.decoder = nn.Linear(emb_size, vocab_size)
        self.decoder.weight = self.encoder.weight                      # tied input and output embeddings
        nn.init.zeros_(self.decoder.bias)

    @property
    def output_size(self) -> int:
        return self.emb_size

    def set_dropouts(self, **ps: float) -> "AWDLSTM":
        """Change dropout probabilities by name (``embed_p``, ``input_p``, ``weight_p``, ``hidden_p``, ``output_p``)."""
        for name, p in ps.items():
            if name not in DROPOUT_NAMES:
                raise ValueError(f"{name}: expected one of {DROPOUT_NAMES}")
            setattr(self, name, _probability(name, p))
        return self

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        check_token_ids("x", x, self.vocab_size)                       # integer ids in [0, vocab_size)
        if x.dim() != 2:
            raise ValueError(f"x: expected token ids of shape [batch, time], got {tuple(x.shape)}")
        w = self.encoder.weight
        if self.training and self.embed_p > 0:                         # embedding dropout: drop whole words
            mask = w.new_empty(w.shape[0], 1).bernoulli_(1 - self.embed_p) / (1 - self.embed_p)
            w = w * mask
        return F.embedding(x, w)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The last LSTM's outputs H = (h_1, ..., h_T), shape [B, T, emb_size] (what the classifier pools)."""
        h = _locked_dropout(self._embed(x), self.input_p, self.training)
        for i, rnn in enumerate(self.rnns):
            if self.training and self.weight_p > 0:                    # DropConnect on W_hh (weight drop)
                w_hh = F.dropout(rnn.weight_hh_l0, self.weight_p, training=True)
                h, _ = functional_call(rnn, {"weight_hh_l0": w_hh}, (h,))
            else:
                h, _ = rnn(h)
            if i < self.n_layers - 1:
                h = _locked_dropout(h, self.hidden_p, self.training)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(_locked_dropout(self.encode(x), self.output_p, self.training))

    def lm_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups for LM fine-tuning, bottom to top: each LSTM, then the (tied) embedding and decoder."""
        return [list(r.parameters()) for r in self.rnns] + [[self.encoder.weight, self.decoder.bias]]


class ConcatPoolClassifier(nn.Module):
    """ULMFiT's classifier (Sec. 3.3): the LM's encoder, concat pooling, two BatchNorm + dropout linear blocks.

    h_c = [h_T, maxpool(H), meanpool(H)] (Eq. 4) over the real tokens of each document (padding masked), then
    BN -> dropout(p0) -> Linear(3H, hidden) -> ReLU -> BN -> dropout(p1) -> Linear(hidden, n_classes).
    ``forward(x[B, T], lengths[B]) -> logits[B, n_classes]``; documents are padded on the right.
    """

    def __init__(self, lm: AWDLSTM, n_classes: int, hidden: int = 50, drops: tuple[float, float] = (0.2, 0.1)):
        super().__init__()
        if not isinstance(lm, AWDLSTM):
            raise ValueError(f"lm: expected an AWDLSTM, got {type(lm).__name__}")
        n_classes = _positive_int("n_classes", n_classes, minimum=2)
        hidden = _positive_int("hidden", hidden)
        if len(drops) != 2:
            raise ValueError(f"drops: expected two dropout probabilities, got {drops!r}")
        for p in drops:
            _probability("drops", p)
        self.lm = lm
        width = 3 * lm.output_size
        self.head = nn.Sequential(
            nn.BatchNorm1d(width), nn.Dropout(drops[0]), nn.Linear(width, hidden), nn.ReLU(),
            nn.BatchNorm1d(hidden), nn.Dropout(drops[1]), nn.Linear(hidden, n_classes),
        )

    def features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """h_c = [h_T, maxpool(H), meanpool(H)] (Eq. 4), shape [B, 3H], over the first ``lengths`` tokens."""
        if not isinstance(lengths, torch.Tensor) or lengths.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"lengths: expected an integer tensor of document lengths, got "
                             f"{getattr(lengths, 'dtype', type(lengths).__name__)}")
        if lengths.shape != (x.shape[0],) or int(lengths.min()) < 1 or int(lengths.max()) > x.shape[1]:
            raise ValueError(f"lengths: expected one length in [1, {x.shape[1]}] per document, got {lengths.tolist()}")
        H = self.lm.encode(x)                                          # [B, T, H]
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None])[..., None]
        h_last = H[torch.arange(x.shape[0], device=x.device), lengths - 1]           # h_T
        h_max = H.masked_fill(~mask, float("-inf")).amax(1)                           # maxpool(H)
        h_mean = (H * mask).sum(1) / lengths[:, None].to(H.dtype)                     # meanpool(H)
        return torch.cat([h_last, h_max, h_mean], dim=1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, lengths))

    def groups(self) -> list[list[nn.Parameter]]:
        """Layer groups, bottom to top: embedding, each LSTM, the head (gradual unfreezing thaws them top first)."""
        return ([[self.lm.encoder.weight]] + [list(r.parameters()) for r in self.lm.rnns]
                + [list(self.head.parameters())])


def freeze_to(groups: Sequence[Sequence[nn.Parameter]], n_trainable: int) -> None:
    """Gradual unfreezing (Sec. 3.3): only the top ``n_trainable`` groups get gradients, the rest are frozen."""
    n_trainable = _positive_int("n_trainable", n_trainable)
    if n_trainable > len(groups):
        raise ValueError(f"n_trainable: expected at most {len(groups)} (the number of groups), got {n_trainable}")
    for i, g in enumerate(groups):
        for p in g:
            p.requires_grad_(i >= len(groups) - n_trainable)


def pad_batch(docs: Sequence[torch.Tensor], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad 1-D id tensors into ``x[B, T_max]`` with ``pad_id``; returns ``(x, lengths)``, the lengths that mask
    the padding out of concat pooling (Eq. 4). (ULMFiT's BPT3C is not needed: our documents fit in one window.)"""
    if len(docs) == 0:
        raise ValueError("docs: expected at least one document")
    if any(d.dim() != 1 or d.numel() == 0 for d in docs):
        raise ValueError("docs: expected non-empty 1-D id tensors")
    lengths = torch.tensor([len(d) for d in docs])
    x = torch.full((len(docs), int(lengths.max())), pad_id, dtype=torch.long)
    for i, d in enumerate(docs):
        x[i, : len(d)] = d
    return x, lengths


# --------------------------------------------------------------------------------------------------------------
# Linear probes (why transfer pays, or does not)
# --------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def probe_features(docs: Sequence[torch.Tensor], kind: str, pad_id: int, lm: AWDLSTM | None = None,
                   vocab_size: int | None = None, batch_size: int = 256) -> torch.Tensor:
    """Frozen document features for a linear probe: ``"lm"`` -> the concat-pooled LSTM states h_c of ``lm`` (Eq. 4,
    eval mode; pass a pretrained or a random LM), ``"bow"`` -> bag-of-words frequencies over ``vocab_size`` words.
    The LM runs on the device its parameters are on; the features come back on the CPU."""
    if kind not in ("lm", "bow"):
        raise ValueError(f"kind: expected 'lm' or 'bow', got {kind!r}")
    if len(docs) == 0:
        raise ValueError("docs: expected at least one document")
    if kind == "bow":
        vocab_size = _positive_int("vocab_size", vocab_size)
        out = torch.zeros(len(docs), vocab_size)
        for i, d in enumerate(docs):
            out[i].index_add_(0, d, torch.ones(len(d)))
        return out / out.sum(1, keepdim=True)
    if not isinstance(lm, AWDLSTM):
        raise ValueError(f"lm: kind='lm' needs an AWDLSTM, got {type(lm).__name__}")
    clf = ConcatPoolClassifier(lm, n_classes=2)
    dev = next(lm.parameters()).device           # wherever the LM is (e.g. left on CUDA by perplexity)
    was = lm.training
    lm.eval()
    parts = [clf.features(*(t.to(dev) for t in pad_batch(docs[s: s + batch_size], pad_id))).cpu()
             for s in range(0, len(docs), batch_size)]
    lm.train(was)
    return torch.cat(parts)


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, valid_x: torch.Tensor, valid_y: torch.Tensor,
                 l2s: Sequence[float] = (1e-4, 1e-3, 1e-2), max_iter: int = 200) -> float:
    """Validation error (%) of multinomial logistic regression on frozen features, best of the ``l2s`` penalties.

    Features are standardised with the training statistics; each fit is full-batch L-BFGS on
    mean cross-entropy + l2 * ||W||^2. Every feature set gets the same penalties, so the comparison is fair.
    """
    if train_x.dim() != 2 or valid_x.dim() != 2 or train_x.shape[1] != valid_x.shape[1]:
        raise ValueError(f"train_x, valid_x: expected 2-D features of equal width, got {tuple(train_x.shape)} and "
                         f"{tuple(valid_x.shape)}")
    if len(train_x) != len(train_y) or len(valid_x) != len(valid_y):
        raise ValueError("train_y, valid_y: expected one label per feature row")
    if len(l2s) == 0 or any(not l2 >= 0 for l2 in l2s):
        raise ValueError(f"l2s: expected one or more penalties >= 0, got {l2s!r}")
    mu, sd = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xt, xv = ((train_x - mu) / sd).double(), ((valid_x - mu) / sd).double()
    n_classes = int(max(train_y.max(), valid_y.max())) + 1
    best = 100.0
    for l2 in l2s:
        W = torch.zeros(xt.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(xt @ W + b, train_y) + l2 * W.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            err = 100.0 * float(((xv @ W + b).argmax(1) != valid_y).double().mean())
        best = min(best, err)
    return best


# --------------------------------------------------------------------------------------------------------------
# The three stages
# --------------------------------------------------------------------------------------------------------------

BETAS = (0.7, 0.99)  # Adam's betas in the paper (Sec. 4)


def pretrain_lm(lm: AWDLSTM, ids: torch.Tensor, steps: int, lr: float = 3e-2, batch_size: int = 32,
                seq_len: int = 35, warmup: int = 100, clip: float | None = 1.0, seed: int = 0,
                device: str | torch.device | None = None, progress: bool = True) -> list[float]:
    """Stage 1, general-domain LM pretraining (Sec. 3.1): ``steps`` Adam updates on random windows of ``ids``.

    Adam(0.7, 0.99), a linear warmup of ``warmup`` steps then a cosine decay to a tenth (``training.warmup_schedule``).
    Returns the training loss of every step.
    """
    from .training import warmup_schedule

    if not isinstance(lm, AWDLSTM):
        raise ValueError(f"lm: expected an AWDLSTM, got {type(lm).__name__}")
    steps = _positive_int("steps", steps)
    warmup = _positive_int("warmup", warmup, minimum=0)
    if warmup >= steps:
        raise ValueError(f"warmup: expected fewer than steps={steps} warmup steps, got {warmup}")
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(lm.parameters(), lr=_positive("lr", lr), betas=BETAS, weight_decay=0.0)
    return train(lm, batches(ids, batch_size, seq_len, seed=seed), opt, steps,
                 schedule=warmup_schedule(warmup, steps, decay="cosine"), clip=clip, device=device,
                 progress=progress, desc="stage 1: general LM")


def finetune_lm(lm: AWDLSTM, ids: torch.Tensor, steps: int, lr: float = 1e-2, discr: bool = True,
                factor: float = 2.6, batch_size: int = 32, seq_len: int = 35, clip: float | None = 1.0,
                seed: int = 0, device: str | torch.device | None = None, progress: bool = True) -> list[float]:
    """Stage 2, target-task LM fine-tuning (Sec. 3.2): discriminative rates (Eq. 2) and STLR (Eq. 3).

    The groups of :meth:`AWDLSTM.lm_groups` get ``discriminative_lrs(lr, n_groups, factor)`` (``discr=False``: all
    ``lr``), each scaled by the STLR multiplier over the ``steps`` updates. ``seq_len`` is cut to fit short texts.
    """
    if not isinstance(lm, AWDLSTM):
        raise ValueError(f"lm: expected an AWDLSTM, got {type(lm).__name__}")
    steps = _positive_int("steps", steps, minimum=2)
    if ids.dim() != 1 or len(ids) < 3:
        raise ValueError(f"ids: expected a 1-D stream of at least 3 ids, got shape {tuple(ids.shape)}")
    groups = lm.lm_groups()
    lrs = discriminative_lrs(lr, len(groups), factor) if discr else [_positive("lr", lr)] * len(groups)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW([{"params": g, "lr": r} for g, r in zip(groups, lrs)], betas=BETAS, weight_decay=0.0)
    seq_len = min(seq_len, len(ids) - 1)
    return train(lm, batches(ids, batch_size, seq_len, seed=seed), opt, steps, schedule=stlr_schedule(steps - 1),
                 clip=clip, device=device, progress=progress, desc="stage 2: target LM")


@torch.no_grad()
def perplexity(lm: AWDLSTM, ids: torch.Tensor, seq_len: int = 35, batch_size: int = 64,
               device: str | torch.device | None = None) -> float:
    """Perplexity exp(-1/N sum_t ln p(w_t | w_<t)) of ``lm`` over ``ids`` cut into consecutive windows of ``seq_len``
    (eval mode, zero initial state): how well stage 1 or 2 predicts a text."""
    if not isinstance(lm, AWDLSTM):
        raise ValueError(f"lm: expected an AWDLSTM, got {type(lm).__name__}")
    if ids.dim() != 1 or len(ids) < seq_len + 1:
        raise ValueError(f"ids: expected a 1-D stream longer than seq_len={seq_len}, got shape {tuple(ids.shape)}")
    dev = resolve_device(device)
    n_win = (len(ids) - 1) // seq_len
    x = ids[: n_win * seq_len].view(n_win, seq_len)
    y = ids[1: n_win * seq_len + 1].view(n_win, seq_len)
    was = lm.training
    lm.to(dev).eval()
    total = 0.0
    for s in range(0, n_win, batch_size):
        logits = lm(x[s: s + batch_size].to(dev))
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[s: s + batch_size].reshape(-1).to(dev),
                                       reduction="sum"))
    lm.train(was)
    return math.exp(total / (n_win * seq_len))


def _doc_batches(docs: Sequence[torch.Tensor], labels: torch.Tensor, batch_size: int, pad_id: int, seed: int):
    """Endless stream of padded (x, lengths, y), "sortish" like fastai's classifier loader: each epoch a seeded
    permutation is sorted by length, cut into near-equal batches of similar lengths (less padding), and the batches
    are visited in a seeded random order."""
    g = torch.Generator().manual_seed(seed)
    n = len(docs)
    n_batches = max(1, math.ceil(n / batch_size))
    lengths = torch.tensor([len(d) for d in docs])
    while True:
        perm = torch.randperm(n, generator=g)
        perm = perm[torch.sort(lengths[perm], stable=True).indices]
        chunks = torch.tensor_split(perm, n_batches)
        for b in torch.randperm(n_batches, generator=g).tolist():
            idx = chunks[b].tolist()
            x, lens = pad_batch([docs[i] for i in idx], pad_id)
            yield x, lens, labels[chunks[b]]


def _clf_loss(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x, lengths), y)


@torch.no_grad()
def classifier_error(clf: ConcatPoolClassifier, docs: Sequence[torch.Tensor], labels: torch.Tensor, pad_id: int,
                     batch_size: int = 256, device: str | torch.device | None = None) -> float:
    """Validation error (%) of ``clf`` in eval mode, the y-axis of Fig. 3 (BatchNorm uses its running statistics,
    dropout is off)."""
    if len(docs) == 0 or len(docs) != len(labels):
        raise ValueError(f"docs, labels: expected equally many (>= 1), got {len(docs)} and {len(labels)}")
    dev = resolve_device(device)
    was = clf.training
    clf.to(dev).eval()
    wrong = 0
    for s in range(0, len(docs), batch_size):
        x, lengths = pad_batch(docs[s: s + batch_size], pad_id)
        wrong += int((clf(x.to(dev), lengths.to(dev)).argmax(1).cpu() != labels[s: s + batch_size]).sum())
    clf.train(was)
    return 100.0 * wrong / len(docs)


UNFREEZE = ("gradual", "full", "last")
SCHEDULES = ("stlr", "cos", "const")


def finetune_classifier(clf: ConcatPoolClassifier, docs: Sequence[torch.Tensor], labels: torch.Tensor,
                        valid_docs: Sequence[torch.Tensor], valid_labels: torch.Tensor, pad_id: int, lr: float = 1e-2,
                        unfreeze: str = "gradual", discr: bool = True, schedule: str = "stlr", final_epochs: int = 2,
                        batch_size: int = 32, min_steps: int = 10, n_checkpoints: int = 4, weight_decay: float = 0.01,
                        clip: float | None = None, seed: int = 0, device: str | torch.device | None = None,
                        progress: bool = False, on_stage: Callable[[int], None] | None = None) -> list[float]:
    """Stage 3, classifier fine-tuning (Sec. 3.3); returns the validation error (%) at each checkpoint.

    ``unfreeze="gradual"``: with G layer groups (:meth:`ConcatPoolClassifier.groups`), stage s = 1..G trains the top s
    groups for one epoch, the last stage for ``final_epochs``; ``"full"`` trains all groups and ``"last"`` only the
    head, for the same number of epochs. ``discr``: group rates ``discriminative_lrs(lr, G)`` (Eq. 2), else all ``lr``;
    ``schedule``: one STLR cycle per stage (Eq. 3), a cosine decay per stage, or a constant rate. An epoch is
    ceil(n / batch_size) updates but at least ``min_steps`` (tiny labeled sets). AdamW(0.7, 0.99) with decoupled
    ``weight_decay``; frozen parameters get no gradient, so neither Adam nor weight decay touches them. The
    checkpoints are the ends of the last ``n_checkpoints`` epochs. ``on_stage(n_trainable)`` is called after each
    stage (the tests use it to check that exactly the unfrozen groups changed).
    """
    if not isinstance(clf, ConcatPoolClassifier):
        raise ValueError(f"clf: expected a ConcatPoolClassifier, got {type(clf).__name__}")
    if unfreeze not in UNFREEZE:
        raise ValueError(f"unfreeze: expected one of {UNFREEZE}, got {unfreeze!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
    if len(docs) < 2 or len(docs) != len(labels):
        raise ValueError(f"docs, labels: expected equally many (>= 2), got {len(docs)} and {len(labels)}")
    lr = _positive("lr", lr)
    final_epochs = _positive_int("final_epochs", final_epochs)
    batch_size = _positive_int("batch_size", batch_size, minimum=2)
    min_steps = _positive_int("min_steps", min_steps)
    groups = clf.groups()
    G = len(groups)
    total_epochs = G - 1 + final_epochs
    n_checkpoints = _positive_int("n_checkpoints", n_checkpoints)
    if n_checkpoints > total_epochs:
        raise ValueError(f"n_checkpoints: expected at most {total_epochs} (the number of epochs), got {n_checkpoints}")
    if unfreeze == "gradual":
        stages = [(s, 1) for s in range(1, G)] + [(G, final_epochs)]    # (trainable top groups, epochs)
    else:
        stages = [(G if unfreeze == "full" else 1, total_epochs)]
    rates = discriminative_lrs(lr, G) if discr else [lr] * G
    steps_per_epoch = max(math.ceil(len(docs) / batch_size), min_steps)
    torch.manual_seed(seed)
    stream = _doc_batches(docs, labels, batch_size, pad_id, seed)
    errors: list[float] = []
    epoch = 0
    for n_trainable, epochs in stages:
        freeze_to(groups, n_trainable)
        opt = torch.optim.AdamW([{"params": g, "lr": r} for g, r in zip(groups[G - n_trainable:], rates[G - n_trainable:])],
                                betas=BETAS, weight_decay=weight_decay)
        T = epochs * steps_per_epoch
        if schedule == "stlr":
            mult = stlr_schedule(T - 1)
        elif schedule == "cos":
            mult = lambda t, T=T: max(1 / 32, 0.5 * (1 + math.cos(math.pi * t / T)))  # noqa: E731
        else:
            mult = lambda t: 1.0  # noqa: E731
        for e in range(epochs):
            offset = e * steps_per_epoch
            train(clf, stream, opt, steps_per_epoch, schedule=lambda t, o=offset, m=mult: m(t + o), clip=clip,
                  loss_fn=_clf_loss, device=device, progress=progress, desc="stage 3: classifier")
            epoch += 1
            if epoch > total_epochs - n_checkpoints:
                errors.append(classifier_error(clf, valid_docs, valid_labels, pad_id, device=device))
        if on_stage is not None:
            on_stage(n_trainable)
    freeze_to(groups, G)
    return errors


# --------------------------------------------------------------------------------------------------------------
# Recipes (a world's calibrated settings) and the arms of Fig. 3
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """Every setting of a ULMFiT run; :data:`WORLD_A` and :data:`WORLD_B` are the chapter's calibrated presets.

    LM: ``n_layers`` LSTMs (``hidden_size`` units, the last ``emb_size``), embedding U(+-``init_range``), AWD
    dropouts ``LM_DROPOUTS`` x ``lm_drop_mult`` while training the LM. Stage 1: ``pretrain_steps`` x
    ``batch_size`` x ``seq_len`` at ``pretrain_lr``. Stage 2: ``lm_ft_epochs`` passes over the target text at
    ``lm_ft_lr`` (between ``lm_ft_min_steps`` and ``lm_ft_max_steps`` updates). Stage 3: dropouts
    ``CLAS_DROPOUTS`` x ``clf_drop_mult``, each arm tuned over ``clf_lrs`` x ``n_checkpoints`` checkpoints.
    """

    n_layers: int = 3
    emb_size: int = 64
    hidden_size: int = 128
    init_range: float = 0.1
    lm_drop_mult: float = 0.0
    pretrain_steps: int = 700
    pretrain_lr: float = 1e-2
    warmup: int = 100
    batch_size: int = 32
    seq_len: int = 35
    lm_ft_lr: float = 1e-2
    lm_ft_epochs: float = 4.0
    lm_ft_min_steps: int = 20
    lm_ft_max_steps: int = 200
    clf_lrs: tuple[float, ...] = (1e-2, 3e-2, 1e-1)
    clf_drop_mult: float = 0.5
    clf_hidden: int = 50
    final_epochs: int = 2
    clf_batch_size: int = 32
    min_steps: int = 25
    n_checkpoints: int = 4

    def new_lm(self, vocab_size: int) -> AWDLSTM:
        """A fresh (random) LM of this recipe's shape with its LM-training dropouts."""
        return AWDLSTM(vocab_size, self.emb_size, self.hidden_size, self.n_layers, self.init_range,
                       **{k: v * self.lm_drop_mult for k, v in LM_DROPOUTS.items()})

    def new_classifier(self, lm: AWDLSTM, n_classes: int, drop_mult: float | None = None) -> ConcatPoolClassifier:
        """The concat-pool classifier on ``lm`` (not copied), with the classifier dropouts."""
        dm = self.clf_drop_mult if drop_mult is None else drop_mult
        lm.set_dropouts(**{k: v * dm for k, v in CLAS_DROPOUTS.items()})
        return ConcatPoolClassifier(lm, n_classes, self.clf_hidden, drops=(CLAS_DROPOUTS["output_p"] * dm, 0.1 * dm))


# World B, calibrated for chapter 3 (3 seeds): one LSTM layer, embedding U(+-1), no dropout, 1,200 updates at a peak
# of 3e-2 (at 3e-3 or with AWD dropouts the LM stayed near the syntax-only loss much longer). Every arm is tuned over
# the same three rates; scratch's optimum (1e-1) sits inside the grid's reach (3e-1 was worse).
WORLD_B = Recipe(n_layers=1, init_range=1.0, pretrain_steps=1200, pretrain_lr=3e-2)
# World A, the design of the chapter's issue: LSTMs 128/128/64, embedding U(+-0.1), 700 updates.
WORLD_A = Recipe(n_layers=3, init_range=0.1, pretrain_steps=700, pretrain_lr=1e-2)


def pretrained_lm(task: TextTask, recipe: Recipe, seed: int = 0, device: str | torch.device | None = None,
                  progress: bool = True) -> tuple[AWDLSTM, list[float]]:
    """Stage 1 for a task: a fresh LM of ``recipe`` pretrained on ``task.general``; returns (lm, per-step losses)."""
    torch.manual_seed(seed)
    lm = recipe.new_lm(len(task.vocab))
    losses = pretrain_lm(lm, task.general, recipe.pretrain_steps, lr=recipe.pretrain_lr, batch_size=recipe.batch_size,
                         seq_len=recipe.seq_len, warmup=recipe.warmup, seed=seed, device=device, progress=progress)
    return lm.cpu(), losses


def target_lm(lm: AWDLSTM, task: TextTask, docs: Sequence[torch.Tensor], recipe: Recipe, seed: int = 0,
              discr: bool = True, device: str | torch.device | None = None, progress: bool = False) -> AWDLSTM:
    """Stage 2: a copy of ``lm`` fine-tuned on the text of ``docs`` (``recipe.lm_ft_epochs`` passes, STLR, discr)."""
    ids = task.stream(docs)
    tokens_per_step = recipe.batch_size * recipe.seq_len
    steps = int(min(recipe.lm_ft_max_steps, max(recipe.lm_ft_min_steps, round(recipe.lm_ft_epochs * len(ids) / tokens_per_step))))
    out = copy.deepcopy(lm)
    finetune_lm(out, ids, steps, lr=recipe.lm_ft_lr, discr=discr, batch_size=recipe.batch_size,
                seq_len=recipe.seq_len, seed=seed, device=device, progress=progress)
    return out.cpu()


@dataclass
class ArmResult:
    """One arm at one labeled-set size: the validation error (%) at every learning rate and checkpoint."""

    arm: str
    n: int
    errors: dict[float, list[float]]

    @property
    def error(self) -> float:
        """The tuned error: the best over learning rates and checkpoints (every arm is tuned alike)."""
        return min(min(v) for v in self.errors.values())

    @property
    def best_lr(self) -> float:
        return min(self.errors, key=lambda lr: (min(self.errors[lr]), lr))


ARMS = ("scratch", "scratch_full", "scratch_nodrop", "supervised", "semi")


def _tuned(arm: str, task: TextTask, lm: AWDLSTM, n: int, recipe: Recipe, seed: int, device, drop_mult=None,
           **ft) -> ArmResult:
    docs, labels = task.labeled(n, seed)
    errors = {}
    for lr in recipe.clf_lrs:
        torch.manual_seed(seed)
        clf = recipe.new_classifier(copy.deepcopy(lm), task.n_classes, drop_mult)
        errors[lr] = finetune_classifier(
            clf, docs, labels, task.valid, task.valid_labels, task.pad_id, lr=lr, final_epochs=recipe.final_epochs,
            batch_size=recipe.clf_batch_size, min_steps=recipe.min_steps, n_checkpoints=recipe.n_checkpoints,
            seed=seed, device=device, **ft)
    return ArmResult(arm, len(docs), errors)


def scratch_arm(task: TextTask, n: int | None, recipe: Recipe, seed: int = 0, variant: str = "scratch",
                device: str | torch.device | None = None) -> ArmResult:
    """Fig. 3's "from scratch": the same classifier with a *random* LM, tuned like the other arms.

    Variants (all tuned alike, the chapter keeps the best, a strong baseline): ``"scratch"`` -- ULMFiT's stage 3
    (gradual unfreezing, discriminative rates, STLR) on random weights; ``"scratch_full"`` -- every layer trained
    from the start with one rate and STLR; ``"scratch_nodrop"`` -- the same without dropout.
    """
    if variant not in ("scratch", "scratch_full", "scratch_nodrop"):
        raise ValueError(f"variant: expected 'scratch', 'scratch_full' or 'scratch_nodrop', got {variant!r}")
    torch.manual_seed(10_000 + seed)
    lm = recipe.new_lm(len(task.vocab))
    if variant == "scratch":
        return _tuned(variant, task, lm, n, recipe, seed, device)
    return _tuned(variant, task, lm, n, recipe, seed, device, drop_mult=0.0 if variant == "scratch_nodrop" else None,
                  unfreeze="full", discr=False)


def supervised_arm(task: TextTask, lm: AWDLSTM, n: int | None, recipe: Recipe, seed: int = 0,
                   device: str | torch.device | None = None, **ft) -> ArmResult:
    """ULMFiT supervised (Fig. 3): the pretrained ``lm`` fine-tuned as an LM on the ``n`` labeled documents only,
    then the classifier recipe (gradual unfreezing, discriminative rates, STLR; override with ``unfreeze=`` etc.)."""
    docs, _ = task.labeled(n, seed)
    tuned = target_lm(lm, task, docs, recipe, seed=seed, device=device)
    return _tuned(ft.pop("arm", "supervised"), task, tuned, n, recipe, seed, device, **ft)


def semi_supervised_arm(task: TextTask, target: AWDLSTM, n: int | None, recipe: Recipe, seed: int = 0,
                        device: str | torch.device | None = None) -> ArmResult:
    """ULMFiT semi-supervised (Fig. 3): ``target`` is the LM fine-tuned on *all* the task's unlabeled text
    (:func:`target_lm` on ``task.pool``, shared by every n); then the classifier recipe on the ``n`` labeled ones."""
    return _tuned("semi", task, target, n, recipe, seed, device)


# --------------------------------------------------------------------------------------------------------------
# Experiments: Fig. 3, the probes, the Table 7 ablation
# --------------------------------------------------------------------------------------------------------------

SCRATCH_VARIANTS = ("scratch", "scratch_full", "scratch_nodrop")


@dataclass
class Fig3Result:
    """Fig. 3 in miniature: ``results[arm][n]`` is the :class:`ArmResult` of ``arm`` with ``n`` labeled examples."""

    results: dict[str, dict[int, ArmResult]]

    def error(self, arm: str, n: int) -> float:
        """The tuned validation error (%) of ``arm`` at ``n``; ``arm="best_scratch"``: the best scratch variant."""
        if arm == "best_scratch":
            errs = [self.results[v][n].error for v in SCRATCH_VARIANTS if n in self.results.get(v, {})]
            if not errs:
                raise ValueError(f"n: no scratch variant was run at n={n}")
            return min(errs)
        if arm not in self.results or n not in self.results[arm]:
            raise ValueError(f"arm, n: no result for arm {arm!r} at n={n}")
        return self.results[arm][n].error

    def ns(self, arm: str) -> list[int]:
        """The labeled-set sizes at which ``arm`` ran (``"best_scratch"``: where any scratch variant ran)."""
        if arm == "best_scratch":
            return sorted({n for v in SCRATCH_VARIANTS for n in self.results.get(v, {})})
        return sorted(self.results.get(arm, {}))

    def curve(self, arm: str) -> tuple[list[int], list[float]]:
        ns = self.ns(arm)
        return ns, [self.error(arm, n) for n in ns]


def labels_to_match(ns: Sequence[int], errors: Sequence[float], target: float) -> float:
    """How many labels a curve needs to reach ``target`` error: the first grid point at or below it, interpolated
    linearly in log n from the point before (Fig. 3's "matches scratch trained on k x more data"); ``inf`` if the
    curve never reaches it, ``ns[0]`` if it starts there."""
    if len(ns) == 0 or len(ns) != len(errors) or list(ns) != sorted(ns) or min(ns) < 1:
        raise ValueError(f"ns, errors: expected increasing sizes >= 1 with one error each, got {ns!r}, {errors!r}")
    for i, (n, e) in enumerate(zip(ns, errors)):
        if e <= target:
            if i == 0:
                return float(n)
            n0, e0 = ns[i - 1], errors[i - 1]
            frac = (e0 - target) / (e0 - e)
            return float(math.exp(math.log(n0) + frac * (math.log(n) - math.log(n0))))
    return math.inf


def fig3_experiment(task: TextTask, lm: AWDLSTM, recipe: Recipe, plan: dict[str, Sequence[int]], seed: int = 0,
                    device: str | torch.device | None = None, progress: bool = True) -> Fig3Result:
    """Run Fig. 3's arms: ``plan`` maps an arm (``"supervised"``, ``"semi"`` or a scratch variant) to its sizes n.

    ``lm`` is the pretrained LM (stage 1), shared by every arm and left untouched; the semi-supervised arm's LM is
    fine-tuned once on all of ``task.pool`` and shared by its sizes. One progress bar over all runs.
    """

    for arm in plan:
        if arm not in ARMS:
            raise ValueError(f"plan: expected arms among {ARMS}, got {arm!r}")
    jobs = [(arm, n) for arm, ns in plan.items() for n in ns]
    results: dict[str, dict[int, ArmResult]] = {arm: {} for arm in plan}
    semi_lm = None
    bar = progress_bar(jobs, "Fig. 3 arms", progress)
    for arm, n in bar:
        if arm == "supervised":
            r = supervised_arm(task, lm, n, recipe, seed, device)
        elif arm == "semi":
            if semi_lm is None:
                semi_lm = target_lm(lm, task, task.pool, recipe, seed=seed, device=device)
            r = semi_supervised_arm(task, semi_lm, n, recipe, seed, device)
        else:
            r = scratch_arm(task, n, recipe, seed, variant=arm, device=device)
        results[arm][n] = r
    return Fig3Result(results)


def probe_experiment(task: TextTask, lm: AWDLSTM, recipe: Recipe, n: int = 200, seed: int = 0) -> dict[str, float]:
    """Linear probes on frozen features of ``n`` labeled documents: what did pretraining put into the features?

    Validation error (%) of :func:`linear_probe` on the pretrained LM's concat-pooled states, on a random LM's (same
    shape, the recipe's init) and on bag-of-words frequencies.
    """
    docs, labels = task.labeled(n, seed)
    torch.manual_seed(20_000 + seed)
    random_lm = recipe.new_lm(len(task.vocab))
    out = {}
    for name, kind, model in (("pretrained LM", "lm", lm), ("random LM", "lm", random_lm), ("bag of words", "bow", None)):
        kw = {"lm": model} if kind == "lm" else {"vocab_size": len(task.vocab)}
        out[name] = linear_probe(probe_features(docs, kind, task.pad_id, **kw), labels,
                                 probe_features(task.valid, kind, task.pad_id, **kw), task.valid_labels)
    return out


# Table 7's rows (classifier fine-tuning): unfreezing, discriminative rates, schedule. "const": a constant rate.
ABLATION_ROWS = {
    "Full": {"unfreeze": "full", "discr": False, "schedule": "const"},
    "Last": {"unfreeze": "last", "discr": False, "schedule": "const"},
    "Freez": {"unfreeze": "gradual", "discr": False, "schedule": "const"},
    "Freez+discr+stlr": {"unfreeze": "gradual", "discr": True, "schedule": "stlr"},
}


# Table 6's first row: stage 2 skipped, the full classifier recipe (Freez+discr+stlr) on the pretrained LM itself.
NO_LM_FT = "no LM fine-tuning"


def ablation_experiment(task: TextTask, lm: AWDLSTM, recipe: Recipe, n: int, seed: int = 0,
                        rows: Sequence[str] = tuple(ABLATION_ROWS), device: str | torch.device | None = None,
                        progress: bool = True) -> dict[str, ArmResult]:
    """Tables 6 and 7 in miniature: classifier fine-tuning variants (Table 7's rows, :data:`ABLATION_ROWS`) on one
    stage-2 LM fine-tuned on the n labeled docs; the row :data:`NO_LM_FT` (Table 6's "No LM fine-tuning") runs the
    full classifier recipe on the stage-1 ``lm`` instead (no stage 2)."""
    for r in rows:
        if r not in ABLATION_ROWS and r != NO_LM_FT:
            raise ValueError(f"rows: expected names among {tuple(ABLATION_ROWS) + (NO_LM_FT,)}, got {r!r}")
    docs, _ = task.labeled(n, seed)
    tuned = target_lm(lm, task, docs, recipe, seed=seed, device=device) if set(rows) - {NO_LM_FT} else None
    return {r: (_tuned(r, task, lm, n, recipe, seed, device) if r == NO_LM_FT
                else _tuned(r, task, tuned, n, recipe, seed, device, **ABLATION_ROWS[r]))
            for r in progress_bar(rows, "Table 6/7 rows", progress)}


def plot_schedule(ax, T: int = 1000, lr_max: float = 0.01, cut_frac: float = 0.1, ratio: float = 32.0,
                  n_groups: int = 5, factor: float = 2.6) -> list[list[float]]:
    """Draw STLR (Eq. 3) for each of ``n_groups`` layer groups with discriminative rates (Eq. 2) on ``ax`` (log y).

    Group l runs stlr(t, T, lr_l, ...) with lr_l = lr_max / factor^(n_groups - 1 - l); returns the curves.
    """
    from . import plotting

    lrs = discriminative_lrs(lr_max, n_groups, factor)
    ts = list(range(T + 1))
    curves = [[stlr(t, T, lr, cut_frac, ratio) for t in ts] for lr in lrs]
    shades = plotting.color("supervised")
    for i, (lr, curve) in enumerate(zip(lrs, curves)):
        top = i == n_groups - 1
        label = f"group {i + 1}{' (top)' if top else ''}: peak {lr:.2g}"
        ax.plot(ts, curve, color=shades, alpha=0.35 + 0.65 * (i + 1) / n_groups, label=label)
    ax.set_yscale("log")
    ax.set(xlabel="update t", ylabel="learning rate (log scale)",
           title=f"STLR per layer group (T={T}, cut_frac={cut_frac:g}, ratio={ratio:g}, factor {factor:g})")
    ax.legend(ncol=1 if n_groups <= 5 else 2)  # default size: legible at phone width
    return curves
