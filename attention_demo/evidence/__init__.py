"""Evidence beyond heatmaps: attribution (gradient x input, Integrated Gradients, occlusion), agreement, attention
surgery and coverage.

A heatmap shows where attention *looked*; it does not show what the output *depended on*. Whether attention weights
explain a prediction is disputed (Jain & Wallace 2019, "Attention is not Explanation"; Wiegreffe & Pinter 2019,
"Attention is not not Explanation"), so this package measures the claim instead of assuming it. One module per job:

- :mod:`~attention_demo.evidence.attribution_methods`: the attributions, through captum on the source embeddings,
  for attention models and the baseline alike, all explaining the teacher-forced log-probability of each output
  token: :func:`saliency` (gradient x input), :func:`integrated_gradients`, :func:`occlusion`; :func:`attribution`
  picks one by name, :func:`attributions` does many sentences at once. ``ATTRIBUTION_METHODS`` is the registry: name
  -> :class:`AttributionMethod` (its function, its key in ``metrics.json``, its label, whether it is signed).
- :mod:`~attention_demo.evidence.agreement_measures`: :func:`agreement` (Kendall tau, top-1 agreement and
  Jensen-Shannon divergence between two rows) and :func:`per_step_agreement` (every output step of a hypothesis).
- :mod:`~attention_demo.evidence.attention_surgery`: :func:`surgery`, replace the attention weights of one target
  step before the Combine step and greedy-decode on.
- :mod:`~attention_demo.evidence.coverage_and_distance`: :func:`coverage` (how much attention every source piece
  received: dropped / repeated words) and :func:`gradient_by_distance` (mean saliency by ``|i - t|``).
- :mod:`~attention_demo.evidence.corpus`: the corpus evaluation (:func:`evaluate_folder`, stored under
  ``"evidence"`` in ``metrics.json``) and its command line::

    OMP_NUM_THREADS=1 python -m attention_demo.evidence --model models/multi30k-de-en \\
        --dataset_name ../shared/data/multi30k

The public names of every module are importable from here (``from attention_demo import evidence``;
``evidence.attribution(...)``). Module constants that tune the computation (``PASS_BUDGET``, ``LOGIT_BUDGET``) are
read from their own module: change them there.

Shapes: ``T`` output positions (the hypothesis, usually ending in ``</s>``), ``S`` source pieces (ending in ``</s>``).
"""

from attention_demo.evidence.agreement_measures import (
    agreement,
    as_distribution,
    jensen_shannon,
    kendall_tau,
    per_step_agreement,
)
from attention_demo.evidence.attention_surgery import SURGERY_MODES, SurgeryResult, surgery, surgery_weights
from attention_demo.evidence.attribution_methods import (
    ATTENTION,
    ATTRIBUTION_METHODS,
    COMPLETENESS_TOLERANCE,
    IG_MAX_STEPS,
    IG_QUADRATURE,
    IG_STEPS,
    Attributed,
    AttributionMethod,
    Completeness,
    agreement_pairs,
    attribution,
    attributions,
    integrated_gradients,
    measure_labels,
    measures,
    method_choices,
    occlusion,
    row_shares,
    saliency,
    token_logprobs,
)
from attention_demo.evidence.corpus import JSD_BINS, SENTENCE_BATCH, TAU_BINS, evaluate_folder, evaluate_model, main
from attention_demo.evidence.coverage_and_distance import (
    DROPPED_BELOW,
    MAX_DISTANCE,
    REPEATED_ABOVE,
    Coverage,
    coverage,
    gradient_by_distance,
)
from attention_demo.model_repo import EVIDENCE_KEY

__all__ = [
    "ATTENTION",
    "ATTRIBUTION_METHODS",
    "COMPLETENESS_TOLERANCE",
    "DROPPED_BELOW",
    "EVIDENCE_KEY",
    "IG_MAX_STEPS",
    "IG_QUADRATURE",
    "IG_STEPS",
    "JSD_BINS",
    "MAX_DISTANCE",
    "REPEATED_ABOVE",
    "SENTENCE_BATCH",
    "SURGERY_MODES",
    "TAU_BINS",
    "Attributed",
    "AttributionMethod",
    "Completeness",
    "Coverage",
    "SurgeryResult",
    "agreement",
    "agreement_pairs",
    "as_distribution",
    "attribution",
    "attributions",
    "coverage",
    "evaluate_folder",
    "evaluate_model",
    "gradient_by_distance",
    "integrated_gradients",
    "jensen_shannon",
    "kendall_tau",
    "main",
    "measure_labels",
    "measures",
    "method_choices",
    "occlusion",
    "per_step_agreement",
    "row_shares",
    "saliency",
    "surgery",
    "surgery_weights",
    "token_logprobs",
]
