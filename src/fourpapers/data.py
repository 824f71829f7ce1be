"""Text that ships with CPython, vocabularies, and deterministic batches.

Nothing here downloads anything. Two real English corpora come with every CPython:

* :func:`pydoc_corpus` -- the help topics of ``pydoc_data.topics`` (what ``help("FOR")``
  prints);
* :func:`docstring_corpus` -- the docstrings of the public standard library.

A user with a bigger corpus passes a file or folder to :func:`load_text` (or
``corpus(path)``), and every chapter runs on it unchanged.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

__all__ = [
    "pydoc_corpus",
    "docstring_corpus",
    "Docstring",
    "load_text",
    "corpus",
    "CharVocab",
    "WordVocab",
    "tokenize_words",
    "unigram_entropy",
    "split_ids",
    "random_windows",
    "batches",
]


# --------------------------------------------------------------------------------------
# Corpora
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def pydoc_corpus() -> str:
    """The text of ``pydoc_data.topics``: every help topic, in sorted topic order,
    separated by blank lines.

    About 465k characters / 65k words of technical English on CPython 3.11.
    Deterministic for a Python version.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip() for name in sorted(topics))


@dataclass(frozen=True)
class Docstring:
    """One public docstring of the standard library: the module it belongs to, the
    object's name, the text."""

    module: str
    name: str
    text: str


# Modules whose import has side effects (opens a browser, prints, needs a display) or
# that are not a library's documentation (test suites, IDLE, codecs tables).
_SKIP_MODULES = {
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "test",
    "lib2to3",
    "pydoc_data",
    "ensurepip",
    "venv",
    "encodings",
    "msilib",
    "winreg",
    "winsound",
    "msvcrt",
    "nt",
    "__hello__",
    "__phello__",
    "xxsubtype",
    "xxlimited",
    "xxlimited_35",
    "curses",
    "readline",
    "distutils",
    "pydoc",
    "sre_compile",
    "sre_parse",
    "sre_constants",
}


def _public_modules() -> list[str]:
    names = sorted(
        n for n in getattr(sys, "stdlib_module_names", ()) if not n.startswith("_")
    )
    out: list[str] = []
    for name in names:
        if name in _SKIP_MODULES:
            continue
        out.append(name)
        mod = _quiet_import(name)
        path = getattr(mod, "__path__", None)
        if path is None:
            continue
        for info in pkgutil.iter_modules(path, prefix=name + "."):
            leaf = info.name.rsplit(".", 1)[-1]
            if leaf.startswith("_") or leaf in {"tests", "test", "__main__"}:
                continue
            out.append(info.name)
    return out


def _quiet_import(name: str):
    """Import a module with its output and warnings swallowed; ``None`` if it cannot be
    imported here."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - platform modules raise ImportError, OSError, even SystemExit
            return None


def _docstrings_of(modname: str, mod) -> Iterator[tuple[str, str]]:
    doc = inspect.getdoc(mod)
    if doc:
        yield modname, doc
    public = getattr(mod, "__all__", None)
    names = (
        sorted(public)
        if isinstance(public, (list, tuple))
        else sorted(n for n in vars(mod) if not n.startswith("_"))
    )
    for name in names:
        obj = getattr(mod, name, None)
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        if (
            getattr(obj, "__module__", None) != modname
        ):  # re-exported from elsewhere: counted where it is defined
            continue
        own = obj.__doc__ if isinstance(obj.__doc__, str) else None
        if own:
            yield f"{modname}.{name}", inspect.cleandoc(own)
        if inspect.isclass(obj):
            for attr in sorted(vars(obj)):
                if attr.startswith("_"):
                    continue
                member = vars(obj)[attr]
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if isinstance(member, property):
                    member = member.fget
                mdoc = getattr(member, "__doc__", None)
                if (
                    (inspect.isroutine(member))
                    and isinstance(mdoc, str)
                    and mdoc.strip()
                ):
                    yield f"{modname}.{name}.{attr}", inspect.cleandoc(mdoc)


def _collect_docstrings() -> list[tuple[str, str, str]]:
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    for modname in _public_modules():
        mod = _quiet_import(modname)
        if mod is None:
            continue
        for name, text in _docstrings_of(modname, mod):
            text = text.strip()
            if (
                len(text) < 20 or text in seen
            ):  # deduplicate: inherited and aliased docstrings repeat
                continue
            seen.add(text)
            out.append((modname, name, text))
    return out


@functools.lru_cache(maxsize=1)
def _docstring_corpus_cached() -> tuple[Docstring, ...]:
    # Collected in a fresh interpreter: a notebook kernel or a test runner patches
    # builtins.input, pdb, getpass..., which would change what this process sees and so
    # the corpus.
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
        PYTHONIOENCODING="utf-8",
    )
    code = (
        "import json, sys; from fourpapers.data import _collect_docstrings; "
        "json.dump(_collect_docstrings(), sys.stdout)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"collecting the standard library's docstrings failed: {proc.stderr[-500:]}"
        )
    return tuple(Docstring(*row) for row in json.loads(proc.stdout))


def docstring_corpus() -> list[Docstring]:
    """Public standard-library docstrings, deduplicated, each with its module name, in a
    deterministic order.

    Walks ``sys.stdlib_module_names`` (and the public submodules of packages) in sorted
    order, skipping modules whose import has side effects; collects the docstrings of
    each module, its public classes and functions, and the public methods of those
    classes. A text seen before (inherited or aliased) is kept only the first time.
    Depends on the Python version, so tests assert relative effects only.
    """
    return list(_docstring_corpus_cached())


def load_text(path: str | os.PathLike) -> str:
    """Read your own corpus: a UTF-8 text file, or a folder whose ``*.txt`` files are
    joined in sorted order."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*.txt"))
        if not files:
            raise ValueError(f"path: folder {str(p)!r} holds no *.txt files")
        text = "\n\n".join(f.read_text(encoding="utf-8") for f in files)
    elif p.is_file():
        text = p.read_text(encoding="utf-8")
    else:
        raise ValueError(
            f"path: expected an existing text file or folder, got {str(p)!r}"
        )
    if not text.strip():
        raise ValueError(f"path: {str(p)!r} holds no text")
    return text


def corpus(name: str = "pydoc") -> str:
    """A corpus by name: ``"pydoc"``, ``"docstrings"`` (joined by blank lines), or a
    path to your own text."""
    if name == "pydoc":
        return pydoc_corpus()
    if name == "docstrings":
        return "\n\n".join(d.text for d in docstring_corpus())
    if os.path.exists(name):
        return load_text(name)
    raise ValueError(
        f"name: expected 'pydoc', 'docstrings' or an existing path, got {name!r}"
    )


# --------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"\w+|[^\w\s]")


def tokenize_words(text: str, lower: bool = True) -> list[str]:
    """Split text into words and single punctuation marks (``\\w+|[^\\w\\s]``),
    lower-cased by default."""
    return _WORD_RE.findall(text.lower() if lower else text)


class CharVocab:
    """A character vocabulary: one id per distinct character of the text, in sorted
    character order."""

    def __init__(self, chars: Sequence[str]):
        if not chars:
            raise ValueError("chars: expected at least one character")
        self.itos = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        if not text:
            raise ValueError("text: expected a non-empty string")
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> torch.Tensor:
        """Text to a 1-D ``long`` tensor of ids; raises ``ValueError`` on a character
        not in the vocabulary."""
        try:
            return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        except KeyError as exc:
            raise ValueError(
                f"text: character {exc.args[0]!r} is not in the vocabulary"
            ) from None

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] for i in ids)


class WordVocab:
    """A word vocabulary: specials first, then words by falling frequency (ties
    alphabetical); rare ones -> ``<unk>``."""

    def __init__(self, words: Sequence[str], unk: str = "<unk>"):
        if unk not in words:
            raise ValueError(
                f"words: expected the unknown token {unk!r} among the words"
            )
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.unk = unk
        self.unk_id = self.stoi[unk]

    @classmethod
    def from_tokens(
        cls,
        tokens: Sequence[str],
        max_size: int | None = None,
        min_freq: int = 1,
        specials: Sequence[str] = ("<unk>",),
    ) -> "WordVocab":
        if not tokens:
            raise ValueError("tokens: expected a non-empty sequence of words")
        if max_size is not None and max_size <= len(specials):
            raise ValueError(
                f"max_size: expected more than {len(specials)} (the specials), got "
                f"{max_size}"
            )
        if min_freq < 1:
            raise ValueError(f"min_freq: expected >= 1, got {min_freq}")
        counts = collections.Counter(tokens)
        ranked = sorted(
            (w for w, c in counts.items() if c >= min_freq and w not in specials),
            key=lambda w: (-counts[w], w),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        return cls(list(specials) + ranked, unk=specials[0])

    @classmethod
    def from_text(cls, text: str, **kwargs) -> "WordVocab":
        if not text.strip():
            raise ValueError("text: expected a non-empty string")
        return cls.from_tokens(tokenize_words(text), **kwargs)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str] | str) -> torch.Tensor:
        if isinstance(tokens, str):
            tokens = tokenize_words(tokens)
        return torch.tensor(
            [self.stoi.get(t, self.unk_id) for t in tokens], dtype=torch.long
        )

    def decode(self, ids) -> list[str]:
        return [self.itos[int(i)] for i in ids]


# --------------------------------------------------------------------------------------
# Statistics and batches
# --------------------------------------------------------------------------------------


def unigram_entropy(ids: torch.Tensor) -> float:
    """H = -sum_c p(c) ln p(c) in nats, p the empirical unigram frequency: the loss of
    the best context-free model."""
    ids = torch.as_tensor(ids)
    if ids.numel() == 0:
        raise ValueError("ids: expected a non-empty sequence")
    p = torch.bincount(ids.flatten()).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


def split_ids(
    ids: torch.Tensor, valid_frac: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a 1-D id sequence into a leading training part and a trailing validation
    part (no shuffling)."""
    if not 0.0 < valid_frac < 1.0:
        raise ValueError(f"valid_frac: expected a number in (0, 1), got {valid_frac}")
    cut = int(len(ids) * (1 - valid_frac))
    if cut < 2 or len(ids) - cut < 2:
        raise ValueError(
            f"ids: too short ({len(ids)}) to split with valid_frac={valid_frac}"
        )
    return ids[:cut], ids[cut:]


def random_windows(
    ids: torch.Tensor,
    batch_size: int,
    seq_len: int,
    generator: torch.Generator | None = None,
):
    """One batch of contiguous windows: inputs ``x[B, T]`` and next-token targets ``y[B,
    T]`` (``y = x`` shifted by 1).

    Window starts are drawn uniformly with ``generator``, so a seeded generator gives
    the same batch every time.
    """
    ids = torch.as_tensor(ids)
    if ids.dim() != 1:
        raise ValueError(f"ids: expected a 1-D tensor, got shape {tuple(ids.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
    if seq_len < 1:
        raise ValueError(f"seq_len: expected >= 1, got {seq_len}")
    if seq_len + 1 > len(ids):
        raise ValueError(
            f"seq_len: window of {seq_len}+1 tokens is longer than the text "
            f"({len(ids)} tokens)"
        )
    starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)
    offsets = torch.arange(seq_len + 1)
    win = ids[starts[:, None] + offsets[None, :]]
    return win[:, :-1].contiguous(), win[:, 1:].contiguous()


def batches(
    ids: torch.Tensor, batch_size: int, seq_len: int, seed: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An endless, deterministic stream of :func:`random_windows` batches drawn from a
    generator seeded with ``seed``."""
    random_windows(
        ids, batch_size, seq_len, torch.Generator().manual_seed(seed)
    )  # validate arguments eagerly
    g = torch.Generator().manual_seed(seed)

    def stream():
        while True:
            yield random_windows(ids, batch_size, seq_len, g)

    return stream()
