"""Labeled text tasks: world A (real docstrings) and a user's own labeled texts."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .._checks import positive_int as _positive_int
from ..data import WordVocab, docstring_corpus, pydoc_corpus, tokenize_words

# --------------------------------------------------------------------------------------
# Labeled text tasks
# --------------------------------------------------------------------------------------

SPECIALS = ("<unk>", "<pad>", "<bos>")


@dataclass
class TextTask:
    """A text-classification task with the corpora transfer needs, all as word ids of
    one vocabulary.

    ``general`` is the general-domain LM corpus (stage 1), one 1-D id tensor with
    ``<bos>`` before every document; ``pool`` / ``pool_labels`` the labeled training
    pool (its texts are also the task's unlabeled text, stage 2 of the semi-supervised
    arm); ``valid`` / ``valid_labels`` the fixed validation set. Each document is a 1-D
    id tensor starting with ``<bos>``. :meth:`labeled` draws the class-balanced, nested
    subsets of Fig. 3.
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

    def labeled(
        self, n: int | None, seed: int = 0
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The first ``n`` examples of a seeded, class-interleaved order of the pool
        (``None``: the whole pool).

        Classes take turns, so every prefix is as balanced as the pool allows and a
        smaller ``n`` is a subset of a larger one (the nested subsets of Fig. 3).
        """
        total = len(self.pool)
        if n is None:
            n = total
        if (
            isinstance(n, bool)
            or not isinstance(n, (int, np.integer))
            or not self.n_classes <= n <= total
        ):
            raise ValueError(
                f"n: expected an integer in [{self.n_classes}, {total}] or None, got "
                f"{n!r}"
            )
        g = torch.Generator().manual_seed(10_007 * seed + 17)
        per_class = [
            torch.nonzero(self.pool_labels == c).flatten()
            for c in range(self.n_classes)
        ]
        per_class = [
            idx[torch.randperm(len(idx), generator=g)].tolist() for idx in per_class
        ]
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


# --------------------------------------------------------------------------------------
# World A: real docstrings, and any labeled texts of your own
# --------------------------------------------------------------------------------------

# The four module families of world A, by top-level module. The other docstrings go to
# the general corpus.
DOCSTRING_FAMILIES = {
    "files and OS": (
        "os",
        "posix",
        "posixpath",
        "ntpath",
        "genericpath",
        "pathlib",
        "shutil",
        "tempfile",
        "glob",
        "fnmatch",
        "filecmp",
        "fileinput",
        "tarfile",
        "zipfile",
        "gzip",
        "bz2",
        "lzma",
        "stat",
        "io",
    ),
    "networking": (
        "socket",
        "ssl",
        "http",
        "urllib",
        "smtplib",
        "imaplib",
        "poplib",
        "ftplib",
        "nntplib",
        "telnetlib",
        "socketserver",
        "xmlrpc",
        "email",
        "mailbox",
        "wsgiref",
        "cgi",
        "ipaddress",
        "select",
        "selectors",
    ),
    "numbers and time": (
        "math",
        "cmath",
        "decimal",
        "fractions",
        "numbers",
        "statistics",
        "random",
        "datetime",
        "calendar",
    ),
    "data structures and functional": (
        "collections",
        "itertools",
        "functools",
        "operator",
        "heapq",
        "bisect",
        "array",
        "queue",
        "weakref",
        "copy",
        "enum",
        "dataclasses",
        "graphlib",
        "typing",
        "contextlib",
    ),
}
# Placeholders (fastai's xx* convention: they survive ``tokenize_words`` as single
# words).
PLACEHOLDERS = ("xxref", "xxcall", "xxid", "xxname")

_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_CALL = re.compile(r"\b[A-Za-z_]\w*\(")
_SNAKE = re.compile(r"\b\w*[A-Za-z]\w*_\w*\b|\b_\w+\b")
_CAMEL = re.compile(r"\b[A-Za-z][A-Za-z0-9]*\b")


def clean_docstring(
    text: str, banned: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """World A's name stripping (the label must not leak through names); returns
    lower-cased word tokens.

    Doctest examples (a ``>>>`` line up to the next blank line) are dropped; dotted
    references (``os.path.join``) become ``xxref``, calls ``name(`` become ``xxcall (``,
    snake_case and camelCase identifiers ``xxid``, and every word in ``banned`` (the
    target modules' and classes' names, lower case) ``xxname``.
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
        return (
            m.group(0) if all(len(p) == 1 for p in parts) else " xxref "
        )  # keep "e.g", "i.e"

    text = _DOTTED.sub(dotted, text)  # os.path.join -> xxref
    text = _CALL.sub(" xxcall (", text)  # name( -> xxcall (
    text = _SNAKE.sub(" xxid ", text)  # snake_case -> xxid

    def camel(m: re.Match) -> str:
        w = m.group(0)
        return (
            " xxid "
            if any(c.isupper() for c in w[1:]) and any(c.islower() for c in w)
            else w
        )

    text = _CAMEL.sub(camel, text)  # camelCase, OrderedDict -> xxid
    return ["xxname" if t in banned else t for t in tokenize_words(text)]


def _target_names(records) -> set[str]:
    """Lower-cased names that would give a world-A label away: every dotted part of each
    target module's name, and every class defined there (a record ``mod.Class.method``,
    or ``mod.Name`` with a capital first letter)."""
    names: set[str] = set()
    for r in records:
        names.update(part.lower() for part in r.module.split("."))
        rest = (
            r.name[len(r.module) + 1 :].split(".")
            if r.name.startswith(r.module + ".")
            else []
        )
        if len(rest) >= 2 or (len(rest) == 1 and rest[0][:1].isupper()):
            names.add(rest[0].lower())
    return names


def texts_task(
    general: str | Sequence[str],
    texts: Sequence[Sequence[str] | str],
    labels: Sequence,
    valid_per_class: int = 75,
    max_size: int = 3000,
    max_tokens: int | None = None,
    seed: int = 0,
    name: str = "texts",
    info: dict | None = None,
) -> TextTask:
    """A :class:`TextTask` from your own data: a general corpus (one text or a list of
    documents) and labeled texts.

    Texts may be strings (split with ``data.tokenize_words``) or token lists. The
    vocabulary (``max_size`` words, specials included) comes from the general corpus
    only, so the task's text cannot leak into it; a fixed, seeded ``valid_per_class``
    examples per class form the validation set. ``max_tokens`` truncates each example.
    """
    if len(texts) == 0 or len(texts) != len(labels):
        raise ValueError(
            f"texts, labels: expected equally many (>= 1), got {len(texts)} and "
            f"{len(labels)}"
        )
    classes = sorted({str(y) for y in labels})
    if len(classes) < 2:
        raise ValueError(f"labels: expected at least two classes, got {classes!r}")
    if (
        isinstance(valid_per_class, bool)
        or not isinstance(valid_per_class, int)
        or valid_per_class < 1
    ):
        raise ValueError(
            f"valid_per_class: expected a positive integer, got {valid_per_class!r}"
        )
    if max_tokens is not None:
        _positive_int("max_tokens", max_tokens, minimum=2)
    general_docs = [general] if isinstance(general, str) else list(general)
    general_tokens = [
        tokenize_words(d) if isinstance(d, str) else list(d) for d in general_docs
    ]
    if not any(general_tokens):
        raise ValueError("general: expected a non-empty general corpus")
    vocab = WordVocab.from_tokens(
        [t for d in general_tokens for t in d],
        max_size=_positive_int("max_size", max_size, 4),
        specials=SPECIALS,
    )
    bos = vocab.stoi["<bos>"]
    general_ids = torch.cat(
        [torch.cat([torch.tensor([bos]), vocab.encode(d)]) for d in general_tokens if d]
    )
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
            raise ValueError(
                f"valid_per_class: class {classes[c]!r} has only {len(idx)} examples, "
                f"expected more than {valid_per_class}"
            )
        is_valid[idx[torch.randperm(len(idx), generator=g)[:valid_per_class]]] = True
    return TextTask(
        name=name,
        vocab=vocab,
        classes=classes,
        general=general_ids,
        pool=[d for d, v in zip(docs, is_valid) if not v],
        pool_labels=y_all[~is_valid],
        valid=[d for d, v in zip(docs, is_valid) if v],
        valid_labels=y_all[is_valid],
        info=dict(info or {}),
    )


def load_labeled_csv(
    path: str | Path, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[str]]:
    """Read a labeled CSV (a header row, UTF-8) into ``(texts, labels)`` for
    :func:`texts_task` (e.g. IMDb)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path: expected an existing CSV file, got {str(p)!r}")
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if (
            reader.fieldnames is None
            or text_column not in reader.fieldnames
            or label_column not in reader.fieldnames
        ):
            raise ValueError(
                f"text_column, label_column: expected columns {text_column!r} and "
                f"{label_column!r} in "
                f"{str(p)!r}, found {reader.fieldnames}"
            )
        rows = [(r[text_column], r[label_column]) for r in reader]
    if not rows:
        raise ValueError(f"path: {str(p)!r} holds no rows")
    return [r[0] for r in rows], [r[1] for r in rows]


def docstring_task(
    valid_per_class: int = 75,
    max_size: int = 3000,
    max_tokens: int = 40,
    families: dict[str, Sequence[str]] | None = None,
) -> TextTask:
    """World A (chapter 3): standard-library docstrings labeled by module family, names
    stripped.

    Targets are the docstrings of the modules in ``families`` (default
    :data:`DOCSTRING_FAMILIES`), cleaned by :func:`clean_docstring` with every target
    module and class name banned, deduplicated after cleaning, at least 3 tokens,
    truncated to ``max_tokens``. The general corpus is the pydoc topics plus every other
    docstring, cleaned alike; the vocabulary (``max_size``) comes from it only. The
    validation set is fixed (seed 0).
    """
    families = DOCSTRING_FAMILIES if families is None else families
    if len(families) < 2:
        raise ValueError(
            f"families: expected at least two families of modules, got "
            f"{list(families)!r}"
        )
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
        clean_docstring(r.text, banned)
        for r in records
        if r.module.split(".")[0] not in family_of
    ]
    return texts_task(
        general,
        texts,
        labels,
        valid_per_class=valid_per_class,
        max_size=max_size,
        max_tokens=max_tokens,
        seed=0,
        name="docstrings",
        info={"banned": banned},
    )
