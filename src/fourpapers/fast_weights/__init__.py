"""Chapter 2, "Fast weight programmers are linear Transformers" (Schlag et al. 2021).

Schmidhuber 1991/92; Katharopoulos et al. 2020; Choromanski et al. 2020; Schlag, Irie &
Schmidhuber 2021. One file per part of the story:

* :mod:`.feature_maps` -- phi by name: ``"elu"`` (elu + 1), ``"dpfp"``/``"dpfp2"``/...,
  ``"favor"``/``"favor<m>"``, ``"identity"``; d_dot = :func:`feature_size`; FAVOR+ as
  Schlag et al. ran it, 2m features redrawn every call (:func:`favor_pm`).
* :mod:`.forms` -- three computations of the same causal linear attention, tensors
  laid out ``[batch, heads, time, dim]``: :func:`fast_weight_recurrence` (the fast
  weight programmer step by step: ``W_t = W_{t-1} + v_t (x) phi(k_t)``,
  ``y_t = W_t phi(q_t)``), :func:`linear_attention` (the masked parallel form
  ``Y = [(phiQ phiK^T . M) V] / [(phiQ phiK^T . M) 1]``) and
  :func:`chunked_linear_attention` (O(N): the masked form inside chunks, the fast
  weights carried between them, all chunks at once as batched matmuls).
* :mod:`.delta_rule` -- the delta rule step by step (:func:`delta_rule`) and chunkwise
  (:func:`chunked_delta_rule`: its writes per chunk by a triangular solve), and the
  closed-form retrieval error (:func:`closed_form_retrieval`).
* :mod:`.retrieval` -- the associative-retrieval task of Schlag et al.'s Figs. 2-3:
  :class:`RetrievalModel`, :func:`train_retrieval`, :func:`capacity_sweep`,
  :func:`overwrite_sweep`.
* :mod:`.timing` -- the timing of Katharopoulos et al.'s Fig. 1 in miniature
  (:func:`attention_timings`) and the matmul roofline (:func:`matmul_gflops`).
"""

from __future__ import annotations

from .capacity import (
    RetrievalGroup,
    RetrievalResult,
    capacity_sweep,
    overwrite_sweep,
    train_retrieval,
    train_retrieval_group,
)
from .delta_rule import RULES, chunked_delta_rule, closed_form_retrieval, delta_rule
from .feature_maps import (
    FEATURE_MAPS,
    dpfp,
    elu_feature_map,
    favor,
    favor_pm,
    feature_size,
    get_feature_map,
    orthogonal_gaussian,
)
from .forms import (
    EPS,
    chunked_linear_attention,
    fast_weight_recurrence,
    linear_attention,
)
from .retrieval import ATTENTIONS, RetrievalModel, retrieval_batch, retrieval_loss
from .timing import (
    TimingRow,
    attention_timings,
    chunked_flops,
    crossover,
    matmul_gflops,
    time_call,
)

__all__ = [
    "FEATURE_MAPS",
    "EPS",
    "ATTENTIONS",
    "RULES",
    "elu_feature_map",
    "dpfp",
    "favor",
    "favor_pm",
    "orthogonal_gaussian",
    "get_feature_map",
    "feature_size",
    "fast_weight_recurrence",
    "linear_attention",
    "chunked_linear_attention",
    "delta_rule",
    "chunked_delta_rule",
    "closed_form_retrieval",
    "retrieval_batch",
    "RetrievalModel",
    "RetrievalGroup",
    "retrieval_loss",
    "RetrievalResult",
    "train_retrieval",
    "train_retrieval_group",
    "capacity_sweep",
    "overwrite_sweep",
    "TimingRow",
    "time_call",
    "attention_timings",
    "matmul_gflops",
    "chunked_flops",
    "crossover",
]
