"""Chapter 1: Post-LN vs Pre-LN (Xiong et al. 2020) and ResiDual (Xie et al. 2023).

Three experiments, all on the character LM of :mod:`fourpapers.models` over
:func:`~fourpapers.data.pydoc_corpus` (d=64, 4 heads, d_ff=256, Xavier weights, zero
biases, no dropout, no clipping):

* :func:`ffn_grad_norms` -- Xiong et al.'s quantity: per layer, ||dL/dW^2||_F of the
  FFN's second weight matrix.
* :func:`init_sweep` -- models at initialization, averaged over draws: Xiong et al. Fig.
  3 in miniature (that gradient against depth L, :func:`post_pre_ratio`) and ResiDual's
  two claims (Pre-LN's "representation collapse", Post-LN's vanishing gradient toward
  the input), measured at initialization.
* :func:`warmup_run` / :func:`warmup_experiment` -- Xiong et al. Fig. 2 in miniature:
  Adam with and without a linear learning-rate warmup.

:func:`block_graph` and :func:`draw_block` draw a block from the model's own
``Block.forward``, traced with ``torch.fx``, so the picture cannot drift from the code.

One file per part: ``at_init`` -- Theorem 1, Lemma 2 and Fig. 3 at initialization;
``warmup`` -- Fig. 2's training runs; ``blocks`` -- Fig. 1's block diagrams, traced;
``figures`` -- the chapter's plots.
"""

from .at_init import (
    UNIT_INPUT_EMB_STD,
    InitStats,
    ffn_grad_norms,
    init_stats,
    init_sweep,
    init_tokens,
    lemma2_growth,
    mean_last_over_first,
    mean_profile,
    most_balanced,
    post_pre_ratio,
)
from .blocks import BlockOp, block_graph, draw_block
from .figures import (
    plot_depth_sweep,
    plot_init_analysis,
    plot_profile,
    plot_ratio_growth,
    plot_warmup,
)
from .warmup import WARMUP_CONFIGS, WarmupRun, warmup_experiment, warmup_run

__all__ = [
    "UNIT_INPUT_EMB_STD",
    "lemma2_growth",
    "ffn_grad_norms",
    "init_tokens",
    "InitStats",
    "init_stats",
    "init_sweep",
    "mean_profile",
    "post_pre_ratio",
    "mean_last_over_first",
    "most_balanced",
    "WarmupRun",
    "warmup_run",
    "WARMUP_CONFIGS",
    "warmup_experiment",
    "BlockOp",
    "block_graph",
    "draw_block",
    "plot_profile",
    "plot_depth_sweep",
    "plot_ratio_growth",
    "plot_warmup",
    "plot_init_analysis",
]
