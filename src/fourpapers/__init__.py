"""fourpapers: why the Transformer diagram disagrees with its code, in four papers, each
an executable chapter.

The notebooks tell the story, this package does the work, and ``tests/`` proves it.
Start a chapter with::

    import fourpapers as fp
    device = fp.setup(seed=0)
"""

from __future__ import annotations

import torch

from . import book, claims, data, models, plotting, training
from .training import reproducible, resolve_device

__version__ = "0.1.0"
__all__ = [
    "setup",
    "book",
    "reproducible",
    "resolve_device",
    "claims",
    "data",
    "models",
    "plotting",
    "training",
    "__version__",
]


def setup(seed: int = 0, device: str | None = None, threads: int = 1) -> torch.device:
    """The notebooks' setup helper: seeds everything, pins torch to one thread, applies
    the figure style.

    One thread makes tiny models lose little, lets two notebooks run side by side on a
    2-core machine, and keeps results bitwise reproducible (they differ between 1 and 2
    threads). Returns the device to use: the CPU unless ``device`` (or the
    ``FOURPAPERS_DEVICE`` environment variable) asks for another, e.g. ``"cuda"``.
    """
    reproducible(seed, threads=threads)
    plotting.use_style()
    return resolve_device(device)
