"""Chapter 3, ULMFiT (Howard & Ruder 2018): the recipe, Fig. 3 in miniature.

The recipe, Sec. 3 of the paper:

1. pretrain a language model (an AWD-LSTM, Merity et al. 2017) on general-domain text;
2. fine-tune the LM on the target task's text with discriminative learning rates (Eq. 2,
   eta^{l-1} = eta^l / 2.6) and slanted triangular learning rates (STLR, Eq. 3);
3. fine-tune a classifier (concat pooling h_c = [h_T, maxpool(H), meanpool(H)], Eq. 4,
   into two BatchNorm + dropout linear blocks) with gradual unfreezing, discriminative
   rates and STLR.

Two worlds to run it in:

* world A, :func:`docstring_task` -- real text: standard-library docstrings classified
  by module family, names stripped; the general corpus is the pydoc topics plus the
  other docstrings;
* world B, :class:`TopicWorld` -- a generated language in which predicting the next word
  needs the document's topic.

Importing this package tunes glibc's malloc for LSTM training
(``awd_lstm._tune_malloc``; the results do not change). Every function also takes a
user's own corpus and labeled CSV (:func:`load_labeled_csv`, :func:`texts_task`), so the
same code runs at full scale (e.g. IMDb on a GPU).

One file per part:

* ``recipe`` -- the paper's contribution (Sec. 3): STLR, discriminative rates, gradual
  unfreezing;
* ``awd_lstm`` -- the mini AWD-LSTM and the concat-pool classifier (Eq. 4);
* ``tasks`` -- labeled text tasks, world A and a user's own data; ``topic_world`` --
  world B;
* ``stages`` -- the three stages; ``arms`` -- the worlds' settings and the arms of Fig.
  3;
* ``probes`` -- linear probes; ``experiments`` -- Fig. 3 and the Table 6/7 ablation.
"""

from .arms import (
    ARMS,
    WORLD_A,
    WORLD_B,
    ArmResult,
    Recipe,
    pretrained_lm,
    scratch_arm,
    semi_supervised_arm,
    supervised_arm,
    target_lm,
)
from .awd_lstm import (
    AWDLSTM,
    CLAS_DROPOUTS,
    DROPOUT_NAMES,
    LM_DROPOUTS,
    ConcatPoolClassifier,
    pad_batch,
)
from .experiments import (
    ABLATION_ROWS,
    NO_LM_FT,
    SCRATCH_VARIANTS,
    Fig3Result,
    ablation_experiment,
    fig3_experiment,
    labels_to_match,
)
from .probes import linear_probe, probe_experiment, probe_features
from .recipe import (
    discriminative_lrs,
    freeze_to,
    one_cycle,
    plot_schedule,
    stlr,
    stlr_schedule,
    stlr_scheduler,
)
from .stages import (
    BETAS,
    SCHEDULES,
    UNFREEZE,
    classifier_error,
    finetune_classifier,
    finetune_lm,
    perplexity,
    pretrain_lm,
)
from .tasks import (
    DOCSTRING_FAMILIES,
    PLACEHOLDERS,
    SPECIALS,
    TextTask,
    clean_docstring,
    docstring_task,
    load_labeled_csv,
    texts_task,
)
from .topic_world import FUNCTION_WORDS, TEMPLATES, TopicWorld, topic_world_task

__all__ = [
    # recipe (Sec. 3)
    "stlr",
    "stlr_schedule",
    "stlr_scheduler",
    "one_cycle",
    "discriminative_lrs",
    "freeze_to",
    "plot_schedule",
    # tasks and worlds
    "TextTask",
    "SPECIALS",
    "DOCSTRING_FAMILIES",
    "PLACEHOLDERS",
    "clean_docstring",
    "texts_task",
    "load_labeled_csv",
    "docstring_task",
    "TopicWorld",
    "FUNCTION_WORDS",
    "TEMPLATES",
    "topic_world_task",
    # models
    "AWDLSTM",
    "ConcatPoolClassifier",
    "pad_batch",
    "DROPOUT_NAMES",
    "LM_DROPOUTS",
    "CLAS_DROPOUTS",
    # stages
    "pretrain_lm",
    "finetune_lm",
    "finetune_classifier",
    "classifier_error",
    "perplexity",
    "BETAS",
    "UNFREEZE",
    "SCHEDULES",
    # settings and arms
    "Recipe",
    "WORLD_A",
    "WORLD_B",
    "pretrained_lm",
    "target_lm",
    "ArmResult",
    "ARMS",
    "scratch_arm",
    "supervised_arm",
    "semi_supervised_arm",
    # probes and experiments
    "probe_features",
    "linear_probe",
    "probe_experiment",
    "Fig3Result",
    "SCRATCH_VARIANTS",
    "labels_to_match",
    "fig3_experiment",
    "ABLATION_ROWS",
    "NO_LM_FT",
    "ablation_experiment",
]
