"""Chapter 4, Gopher (Rae et al. 2021): RMSNorm for LayerNorm, and what scale buys.

One file per part of the chapter:

* :mod:`.rmsnorm` -- RMSNorm (Zhang & Sennrich 2019, Eq. 4): :func:`rms_norm` and
  :class:`RMSNorm` (defined with the models, re-exported here), the eps convention of
  the authors' ``rmsnorm_torch.py`` (:func:`rms_norm_zhang`), and two benchmarks run
  side by side: the norm alone (:func:`norm_benchmark`) and one training step
  (:func:`step_benchmark`).
* :mod:`.batchnorm` -- why Transformers do not use BatchNorm: what batch statistics
  leak in a causal LM (:func:`norm_leak`).
* :mod:`.world` -- the miniature's world (:func:`build_world`) and its one corpus of
  five equal parts: pydoc text, knowledge (closed-book facts), reading comprehension,
  maths and logic documents (:func:`build_corpus`).
* :mod:`.probes` -- the multiple-choice probes of the four abilities
  (:func:`make_probes`), zero-shot scoring (:func:`score_task`), per-ability readouts.
* :mod:`.scaling` -- the model family (:func:`family`), the run that trains it on the
  same tokens and probes every size (:func:`scaling_run`), the power law
  (:func:`power_law_fit`).
* :mod:`.fig4` -- Gopher's Fig. 4 in miniature with its noise (:func:`fig4_bars`).
"""

from .batchnorm import (
    NORM_KINDS,
    NormLeak,
    TokenBatchNorm,
    causal_lm_with_norm,
    norm_leak,
)
from .fig4 import Fig4Bar, best_of_bias, binomial_se, fig4_bars, fig4_changes, plot_fig4
from .probes import (
    CHANCE,
    TASK_CATEGORY,
    Probe,
    ProbeTask,
    category_accuracy,
    category_chance,
    knowledge_by_frequency,
    make_probes,
    maths_choices,
    probe_scores,
    score_task,
)
from .rmsnorm import (
    NormTiming,
    RMSNorm,
    StepTiming,
    norm_benchmark,
    rms_norm,
    rms_norm_zhang,
    step_benchmark,
    use_torch_rmsnorm,
)
from .scaling import (
    FAMILY,
    ScalingResult,
    family,
    heldout_loss,
    make_model,
    power_law_fit,
    scaling_run,
)
from .world import (
    CATEGORIES,
    CITIES,
    DIGITS,
    JOBS,
    NAMES,
    TEMPLATE_WORDS,
    Corpus,
    World,
    build_corpus,
    build_world,
)

__all__ = [
    # rmsnorm
    "RMSNorm",
    "rms_norm",
    "rms_norm_zhang",
    "NormTiming",
    "norm_benchmark",
    "StepTiming",
    "step_benchmark",
    "use_torch_rmsnorm",
    # batchnorm
    "TokenBatchNorm",
    "NORM_KINDS",
    "causal_lm_with_norm",
    "NormLeak",
    "norm_leak",
    # world
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
    # probes
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
    # scaling
    "FAMILY",
    "make_model",
    "family",
    "heldout_loss",
    "ScalingResult",
    "scaling_run",
    "power_law_fit",
    # fig4
    "fig4_changes",
    "binomial_se",
    "best_of_bias",
    "Fig4Bar",
    "fig4_bars",
    "plot_fig4",
]
