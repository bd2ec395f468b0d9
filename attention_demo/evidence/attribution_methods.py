"""Attribution through captum: gradient x input, Integrated Gradients and occlusion, and the registry of methods.

All three explain the same number, the teacher-forced log-probability of each output token (:func:`token_logprobs`),
and all work for attention models and the baseline alike:

- :func:`saliency` (method ``gradient_x_input``): how strongly each output word's log-probability reacts to each
  source piece, ``||x_i * grad||`` (Simonyan et al. 2014 / Shrikumar et al. 2017). Cheap, but only a local
  linearisation: it does not add up to anything.
- :func:`integrated_gradients`: the path integral of the gradient from a baseline to the input (Sundararajan et al.
  2017), signed and *complete*: a row adds up to the log-probability's change from the baseline to the input, up to
  the quadrature error that :class:`Completeness` reports.
- :func:`occlusion`: how much each output word's log-probability drops when one source piece is replaced by
  ``<unk>`` (leave-one-out, teacher-forced).

Gradient x input and Integrated Gradients take the source embeddings as captum's input and cut the decoder's output
at each row's own position (``Seq2Seq.decode(positions=)``): no hook is ever registered on a model, so concurrent
requests that share one model never see each other's attribution.

**Adding a method.** ``ATTRIBUTION_METHODS`` (at the end) is the one registry: write the batched function (sources and
outputs of many sentences -> :class:`Attributed`) and add one :class:`AttributionMethod` entry. From the entry alone
:func:`attribution` computes it, the corpus command stores its rows and every agreement pair with them in
``metrics.json``, and the app offers it in the evidence tab's picker with its label.

Shapes: ``T`` output positions (the hypothesis, usually ending in ``</s>``), ``S`` source pieces (ending in ``</s>``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from captum.attr import FeatureAblation, InputXGradient, IntegratedGradients

from attention_demo.data import decoder_input, pad
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import PAD_ID, UNK_ID

# Integrated Gradients: Gauss-Legendre quadrature (captum's default rule, far more exact than a Riemann sum with as
# many points) with IG_STEPS points; an output step whose completeness error |sum(IG) - (f(x) - f(x'))| /
# |f(x) - f(x')| is not under COMPLETENESS_TOLERANCE is computed again with twice the points, up to IG_MAX_STEPS.
IG_STEPS = 16
IG_MAX_STEPS = 128
IG_QUADRATURE = "gausslegendre"
COMPLETENESS_TOLERANCE = 0.05
# Rows x (source length + decoder length) per gradient pass (IG: also x steps): bounds the activations kept for the
# backward pass, lets short sentences share a pass, and splits a long output into passes that each decode only as far
# as their own positions.
PASS_BUDGET = 8192
LOGIT_BUDGET = 4096  # (row, output position) pairs per occlusion pass; bounds the (rows, T, vocab) logits
ATTENTION = "attention"  # the measure every attribution is compared with (attention models only)


def _device(model: Seq2Seq) -> torch.device:
    return next(model.parameters()).device


def _tensor(ids: Sequence[int], device: torch.device) -> torch.Tensor:
    return torch.tensor([list(ids)], dtype=torch.long, device=device)


@dataclass
class _Rows:
    """A batch of (sentence, output position) pairs, one per row: what one attribution pass scores.

    Every row is a whole teacher-forced copy of its sentence whose forward pass returns one number, the
    log-probability of the output token at its own position, so that one backward pass gives each row its own
    gradient.
    """

    sentence: list[int]  # (N,) which sentence each row belongs to
    position: torch.Tensor  # (N,) the output position t of each row
    src: torch.Tensor  # (N, S) source ids, right-padded with <pad>
    src_mask: torch.Tensor  # (N, S) True for real pieces
    tgt_in: torch.Tensor  # (N, L) decoder input <s> y_1 .. y_{L-1}, L = the largest position + 1
    token: torch.Tensor  # (N,) the output token y_t of each row


def _row_batches(
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    pairs: Iterable[tuple[int, int]],
    budget: int,
    device: torch.device,
) -> Iterator[_Rows]:
    """The (sentence, output position) ``pairs`` sorted by source length and then by position (a batch decodes no
    further than its largest position), in batches of sources of one length (no padding, so the encoder need not pack
    them) and of as many rows as keep rows x (source length + largest position + 1) within ``budget`` (at least one
    row)."""
    pairs = sorted(pairs, key=lambda pair: (len(sources[pair[0]]), pair[1]))
    start = 0
    while start < len(pairs):
        end, widest, source_length = start, 0, len(sources[pairs[start][0]])
        while end < len(pairs):
            k, t = pairs[end]
            wider = max(widest, len(sources[k]) + t + 1)
            if end > start and (len(sources[k]) != source_length or (end - start + 1) * wider > budget):
                break
            end, widest = end + 1, wider
        chunk, start = pairs[start:end], end
        length = max(t for _, t in chunk) + 1
        src, src_mask = pad([sources[k] for k, _ in chunk])
        tgt, _ = pad([targets[k][:length] for k, _ in chunk])
        yield _Rows(
            sentence=[k for k, _ in chunk],
            position=torch.tensor([t for _, t in chunk], device=device),
            src=src.to(device),
            src_mask=src_mask.to(device),
            tgt_in=decoder_input(tgt).to(device),
            token=torch.tensor([targets[k][t] for k, t in chunk], device=device),
        )


def _all_pairs(targets: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Every (sentence, output position) pair."""
    return [(k, t) for k, target in enumerate(targets) for t in range(len(target))]


def _logprobs(
    model: Seq2Seq,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    tgt_in: torch.Tensor,
    tokens: torch.Tensor,
    positions: torch.Tensor | None = None,
    embedded: torch.Tensor | None = None,
) -> torch.Tensor:
    """Teacher-forced log-probabilities of output tokens: the function every attribution method explains.

    Args:
        src, src_mask: ``(N, S)`` source ids and mask.
        tgt_in: ``(N, L)`` decoder input.
        tokens: ``(N, L)`` the output token at every position, or ``(N,)`` with ``positions``.
        positions: ``(N,)`` one output position per row, or None for all positions.
        embedded: ``(N, S, emb)`` the source embeddings to read instead of looking ``src`` up.

    Returns:
        ``(N, L)`` log p(tokens[n, t] | src[n], tgt_in[n, :t+1]), or ``(N,)`` at ``positions``.
    """
    memory = model.encode(src, src_mask, embedded)
    if positions is None:
        logits = model.decode(tgt_in, memory).logits  # (N, L, V)
        return torch.log_softmax(logits.float(), dim=-1).gather(2, tokens.unsqueeze(2)).squeeze(2)
    logits = model.decode(tgt_in, memory, positions=positions).logits[:, 0]  # (N, V): each row at its own position
    return torch.log_softmax(logits.float(), dim=-1).gather(1, tokens.unsqueeze(1)).squeeze(1)


def _embedded_logprobs(model: Seq2Seq, embedded: torch.Tensor, src: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
    """:func:`_logprobs` with the source embeddings first: the input that gradient x input and Integrated Gradients
    differentiate. Taking them as an input (captum's non-layer classes) instead of hooking the shared embedding layer
    keeps every request's attribution to itself (many visitors share one model)."""
    return _logprobs(model, src, *rest, embedded=embedded)


@dataclass
class Completeness:
    """How well Integrated Gradients satisfies completeness, per output position of one sentence.

    Completeness (Sundararajan et al. 2017): a row of attributions sums to ``f(x) - f(baseline)``, where ``f`` is
    the output token's log-probability. ``delta`` is captum's convergence delta, ``sum(attributions) - gap``: the
    error of the path integral's quadrature with ``steps`` points.
    """

    delta: np.ndarray  # (T,) captum's convergence delta, in nats
    gap: np.ndarray  # (T,) f(x) - f(baseline), in nats
    steps: np.ndarray  # (T,) the quadrature points each row was computed with

    @property
    def relative_error(self) -> np.ndarray:
        """``(T,)`` |delta| / |gap| (inf where the gap is exactly 0 and delta is not)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.delta == 0, 0.0, np.abs(self.delta) / np.abs(self.gap))


@dataclass
class Attributed:
    """What one attribution method gives for a batch of sentences (:attr:`AttributionMethod.compute`)."""

    matrices: list[np.ndarray]  # one (T_k, S_k) per sentence, as attribution() returns it: compared and drawn
    raw: list[np.ndarray] | None = None  # before a method's own normalisation (gradient x input's rows); else None
    completeness: list[Completeness] | None = None  # Integrated Gradients' quadrature check, one per sentence


def _check_method(method: str) -> None:
    if method not in ATTRIBUTION_METHODS:
        raise ValueError(f"Unknown attribution method {method!r}; choose one of {', '.join(ATTRIBUTION_METHODS)}.")


@torch.inference_mode(False)  # gradients are needed even when the caller runs under inference_mode (the app does)
def _gradient_x_input(
    model: Seq2Seq, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
) -> list[np.ndarray]:
    """``||x_i * d log p(y_t) / d x_i||`` of every output token of every sentence (captum's
    ``InputXGradient`` on the source embeddings), batched over (sentence, output position) rows.

    Returns:
        one ``(T_k, S_k)`` matrix per sentence (not normalised).
    """
    explain = InputXGradient(partial(_embedded_logprobs, model))
    matrices = [np.zeros((len(t), len(s))) for s, t in zip(sources, targets, strict=True)]
    with torch.enable_grad():
        for rows in _row_batches(sources, targets, _all_pairs(targets), PASS_BUDGET, _device(model)):
            attributions = explain.attribute(
                model.encoder.embedding(rows.src).detach().requires_grad_(),
                additional_forward_args=(rows.src, rows.src_mask, rows.tgt_in, rows.token, rows.position),
            )  # (N, S, emb): x_i * d log p(y_t) / d x_i
            values = attributions.norm(dim=-1).detach().double().cpu().numpy()  # (N, S)
            for n, (k, t) in enumerate(zip(rows.sentence, rows.position.tolist(), strict=True)):
                matrices[k][t] = values[n, : len(sources[k])]
    return matrices


@torch.inference_mode(False)
def _integrated_gradients(
    model: Seq2Seq,
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    n_steps: int = IG_STEPS,
    max_steps: int = IG_MAX_STEPS,
) -> tuple[list[np.ndarray], list[Completeness]]:
    """Integrated Gradients of every output token of every sentence (captum's ``IntegratedGradients`` on the
    source embeddings, from the all-``<pad>`` source's embeddings), batched over (sentence, output position) rows.

    Every row starts with ``n_steps`` quadrature points; a row whose completeness error is not under
    ``COMPLETENESS_TOLERANCE`` is computed again with twice as many, up to ``max_steps``.

    Returns:
        one ``(T_k, S_k)`` matrix per sentence (signed, in nats) and its :class:`Completeness`.
    """
    device = _device(model)
    explain = IntegratedGradients(partial(_embedded_logprobs, model))
    matrices = [np.zeros((len(t), len(s))) for s, t in zip(sources, targets, strict=True)]
    checks = [Completeness(np.zeros(len(t)), np.zeros(len(t)), np.zeros(len(t), dtype=int)) for t in targets]
    pairs, steps = _all_pairs(targets), n_steps
    with torch.enable_grad():
        while pairs:
            for rows in _row_batches(sources, targets, pairs, PASS_BUDGET // steps, device):
                embedding = model.encoder.embedding
                attributions, delta = explain.attribute(
                    embedding(rows.src).detach().requires_grad_(),
                    baselines=embedding(torch.full_like(rows.src, PAD_ID)).detach(),  # the zero vector
                    additional_forward_args=(rows.src, rows.src_mask, rows.tgt_in, rows.token, rows.position),
                    n_steps=steps,
                    method=IG_QUADRATURE,
                    return_convergence_delta=True,
                )  # (N, S, emb), (N,)
                values = attributions.sum(dim=-1).detach().double().cpu().numpy()  # (N, S): sums to the gap
                delta = delta.detach().double().cpu().numpy()
                for n, (k, t) in enumerate(zip(rows.sentence, rows.position.tolist(), strict=True)):
                    matrices[k][t] = values[n, : len(sources[k])]
                    checks[k].delta[t], checks[k].gap[t] = delta[n], values[n].sum() - delta[n]
                    checks[k].steps[t] = steps
            steps *= 2
            if steps > max_steps:
                break
            pairs = [(k, t) for k, t in pairs if not checks[k].relative_error[t] < COMPLETENESS_TOLERANCE]
    return matrices, checks


@torch.inference_mode()
def _occlusions(
    model: Seq2Seq, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], mask_id: int = UNK_ID
) -> list[np.ndarray]:
    """Occlusion of every output token of every sentence, by captum's FeatureAblation: source position ``i`` of
    every sentence of a batch is replaced by ``mask_id`` at once (the sentences do not interact), and the drop of
    every teacher-forced log-probability is recorded.

    Returns:
        one ``(T_k, S_k)`` matrix per sentence: ``log p(y_t | x) - log p(y_t | x with piece i -> mask_id)``.
    """
    device = _device(model)
    forward = partial(_logprobs, model)
    matrices = [np.zeros((len(t), len(s))) for s, t in zip(sources, targets, strict=True)]
    order = [k for k in sorted(range(len(sources)), key=lambda k: len(sources[k])) if targets[k]]
    start = 0
    while start < len(order):
        # As many sentences as keep one pass's logits within LOGIT_BUDGET (at least one).
        batch, widest = [], 0
        for k in order[start:]:
            widest = max(widest, len(targets[k]))
            if batch and (len(batch) + 1) * widest > LOGIT_BUDGET:
                break
            batch.append(k)
        start += len(batch)
        src, src_mask = pad([sources[k] for k in batch])
        tgt, _ = pad([targets[k] for k in batch])  # (K, L); <pad> past a sentence's end, never read
        src, src_mask, tgt = src.to(device), src_mask.to(device), tgt.to(device)
        occluded = FeatureAblation(forward).attribute(
            src,
            baselines=mask_id,
            additional_forward_args=(src_mask, decoder_input(tgt), tgt),
            feature_mask=torch.arange(src.size(1), device=device).unsqueeze(0),  # piece i of every sentence at once
            perturbations_per_eval=max(1, LOGIT_BUDGET // tgt.numel()),
        )  # (K * L, S): for output (k, t), the drop when piece i is replaced
        occluded = occluded.view(len(batch), tgt.size(1), src.size(1)).double().cpu().numpy()
        for row, k in enumerate(batch):
            matrices[k] = occluded[row, : len(targets[k]), : len(sources[k])]
    return matrices


def attributions(
    model: Seq2Seq,
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    method: str,
    n_steps: int = IG_STEPS,
) -> list[np.ndarray]:
    """:func:`attribution` of many sentences at once (batched, so much faster than one by one).

    Args:
        sources: source id lists, each ending with ``</s>``.
        targets: one output id list (a hypothesis) per source; may be empty.
        method: a name of ``ATTRIBUTION_METHODS``.
        n_steps: Integrated Gradients' starting number of quadrature points (see :func:`integrated_gradients`).

    Returns:
        one ``(T_k, S_k)`` array per sentence, as :func:`attribution` returns it.
    """
    _check_method(method)
    sources, targets = [list(s) for s in sources], [list(t) for t in targets]
    return ATTRIBUTION_METHODS[method].compute(model, sources, targets, n_steps).matrices


def attribution(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], method: str) -> np.ndarray:
    """The attribution of every output token to every source piece by ``method`` (a name of ``ATTRIBUTION_METHODS``).

    ``gradient_x_input``: :func:`saliency` (rows sum to 1); ``integrated_gradients``: :func:`integrated_gradients`
    (signed, in nats); ``occlusion``: :func:`occlusion` (signed, in nats).

    Returns:
        ``(T, S)`` array.
    """
    return attributions(model, [src_ids], [tgt_ids], method)[0]


def row_shares(matrix: np.ndarray) -> np.ndarray:
    """``(T, S)`` -> ``(T, S)``: every row's positive part as shares of its sum (negative values count as 0), so that
    any attribution can be drawn like attention; a row without positive values stays zero."""
    matrix = np.clip(np.asarray(matrix, dtype=float), 0.0, None)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def saliency(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], normalise: bool = True) -> np.ndarray:
    """Gradient x input saliency of every output token with respect to every source piece (teacher-forced).

    For output position ``t`` (which produced ``tgt_ids[t]`` from ``<s> y_1 .. y_{t-1}``) and source piece ``i``:
    ``sal[t, i] = || x_i * d log p(y_t) / d x_i ||_2`` where ``x_i`` is the source embedding of piece ``i``
    (captum's ``InputXGradient`` with the source embeddings as the input, then the L2 norm over the embedding).

    Args:
        model: any model (attention or baseline); it should be in eval mode (dropout off).
        src_ids: ``S`` source ids ending with ``</s>``.
        tgt_ids: ``T`` output ids (a hypothesis).
        normalise: divide every row by its sum (rows sum to 1, comparable with attention rows); an all-zero row
            stays zero.

    Returns:
        ``(T, S)`` array.
    """
    (matrix,) = _gradient_x_input(model, [list(src_ids)], [list(tgt_ids)])
    return row_shares(matrix) if normalise else matrix


def integrated_gradients(
    model: Seq2Seq,
    src_ids: Sequence[int],
    tgt_ids: Sequence[int],
    n_steps: int = IG_STEPS,
    return_completeness: bool = False,
    max_steps: int = IG_MAX_STEPS,
) -> np.ndarray | tuple[np.ndarray, Completeness]:
    """Integrated Gradients (Sundararajan et al. 2017) of every output token on every source piece.

    ``ig[t, i] = sum_e (x_ie - x'_ie) * integral_0^1 d log p(y_t | x' + a (x - x')) / d x_ie da`` on the source
    embeddings ``x`` (captum's ``IntegratedGradients`` with the source embeddings as the input, Gauss-Legendre
    quadrature), summed over the embedding dimensions ``e``. The baseline ``x'`` is the same source with
    every piece, ``</s>`` included, replaced by ``<pad>``, whose embedding is the zero vector (``padding_idx``): the
    zero-embedding baseline, with the source length and mask unchanged. Unlike gradient x input the values are
    signed (negative: the piece speaks against ``y_t``) and complete: row ``t`` sums to
    ``log p(y_t | x) - log p(y_t | x')`` up to the quadrature error. Works for the baseline model too.

    Args:
        model: any model, in eval mode.
        src_ids: ``S`` source ids ending with ``</s>``.
        tgt_ids: ``T`` output ids (a hypothesis).
        n_steps: quadrature points to start with. A row whose completeness error (captum's convergence delta
            relative to the gap) is not under ``COMPLETENESS_TOLERANCE`` is computed again with twice as many
            points, up to ``max_steps`` (``n_steps = max_steps``: exactly ``n_steps`` points for every row).
        return_completeness: also return the :class:`Completeness` of every row.
        max_steps: the most quadrature points a row gets.

    Returns:
        ``(T, S)`` array in nats, and with ``return_completeness`` its :class:`Completeness`.
    """
    (matrix,), (check,) = _integrated_gradients(model, [list(src_ids)], [list(tgt_ids)], n_steps, max_steps)
    return (matrix, check) if return_completeness else matrix


@torch.inference_mode()
def token_logprobs(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int]) -> np.ndarray:
    """``(T,)`` teacher-forced log-probabilities of ``tgt_ids`` given ``src_ids``."""
    device = _device(model)
    src, tgt = _tensor(src_ids, device), _tensor(tgt_ids, device)  # (1, S), (1, T)
    logp = _logprobs(model, src, torch.ones_like(src, dtype=torch.bool), decoder_input(tgt), tgt)
    return logp[0].double().cpu().numpy()


def occlusion(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], mask_id: int = UNK_ID) -> np.ndarray:
    """Leave-one-out occlusion: how much each output token's log-probability drops without each source piece.

    ``occ[t, i] = log p(y_t | x) - log p(y_t | x with piece i replaced by <unk>)``, teacher-forced on ``tgt_ids``
    (the prefix stays the same, so only the effect on word ``t`` itself is measured; captum's ``FeatureAblation``
    with ``mask_id`` as the replacement). Positive: the piece supported that word. Every piece is occluded,
    ``</s>`` included. Works for the baseline too.

    Returns:
        ``(T, S)`` array (not normalised; may be negative).
    """
    return _occlusions(model, [list(src_ids)], [list(tgt_ids)], mask_id)[0]


# ---------------------------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------------------------


def _gradient_x_input_rows(
    model: Seq2Seq, sources: list[list[int]], targets: list[list[int]], n_steps: int
) -> Attributed:
    """Gradient x input, every row normalised to sum 1 (:func:`saliency`); the raw rows are kept for the corpus
    numbers (the gradient by distance, unnormalised)."""
    raw = _gradient_x_input(model, sources, targets)
    return Attributed([row_shares(m) for m in raw], raw=raw)


def _integrated_gradients_rows(
    model: Seq2Seq, sources: list[list[int]], targets: list[list[int]], n_steps: int
) -> Attributed:
    """Integrated Gradients from ``n_steps`` quadrature points on (:func:`integrated_gradients`), with its
    completeness check."""
    matrices, checks = _integrated_gradients(model, sources, targets, n_steps)
    return Attributed(matrices, completeness=checks)


def _occlusion_rows(model: Seq2Seq, sources: list[list[int]], targets: list[list[int]], n_steps: int) -> Attributed:
    """Occlusion by ``<unk>`` (:func:`occlusion`); ``n_steps`` is not used."""
    return Attributed(_occlusions(model, sources, targets))


@dataclass(frozen=True)
class AttributionMethod:
    """One attribution method: everything the corpus command, ``metrics.json`` and the app need to know about it."""

    name: str  # what attribution(method=) and the app's picker take
    # (model, source id lists, output id lists, Integrated Gradients' starting steps) -> the sentences' attributions
    compute: Callable[[Seq2Seq, list[list[int]], list[list[int]], int], Attributed]
    key: str  # the name of its rows in metrics.json: agreement pairs "<a>_vs_<b>", top1_on_eos, "method"
    label: str  # what people read: titles, notices, table rows, the picker
    signed: bool  # values can be negative (the piece speaks against the word); the app draws the positive part
    description: str  # metrics.json's "method" entry for it; "{n_steps}" is replaced by the starting IG steps
    note: str = ""  # what the picker adds after the label, in brackets (its cost)

    @property
    def choice(self) -> str:
        """The picker's label: the label and the note."""
        return f"{self.label} ({self.note})" if self.note else self.label


# Name -> method, in the order of the picker, of metrics.json and of the agreement pairs. The first is the cheapest.
ATTRIBUTION_METHODS: dict[str, AttributionMethod] = {
    method.name: method
    for method in (
        AttributionMethod(
            name="gradient_x_input",
            compute=_gradient_x_input_rows,
            key="saliency",  # metrics.json's name since before the other methods existed
            label="gradient × input",
            signed=False,
            description="gradient x input (captum InputXGradient on the source embeddings), L2 norm over the "
            "embedding, teacher-forced on the greedy output, each output row normalised to sum 1",
            note="fast",
        ),
        AttributionMethod(
            name="integrated_gradients",
            compute=_integrated_gradients_rows,
            key="integrated_gradients",
            label="Integrated Gradients",
            signed=True,
            description="captum IntegratedGradients on the source embeddings, {n_steps} "
            f"{IG_QUADRATURE} steps, doubled for an output step until its completeness error is under "
            f"{COMPLETENESS_TOLERANCE:.0%} (at most {IG_MAX_STEPS}), summed over the embedding (signed, nats); "
            "baseline: every source piece, </s> included, replaced by <pad>, whose embedding is the zero vector (same "
            "length and mask)",
            note="slow: computed when picked",
        ),
        AttributionMethod(
            name="occlusion",
            compute=_occlusion_rows,
            key="occlusion",
            label="occlusion",
            signed=True,
            description="drop in the output token's teacher-forced log-probability when one source piece is "
            "replaced by <unk> (captum FeatureAblation; every piece, </s> included)",
        ),
    )
}


def measures() -> tuple[str, ...]:
    """Every kind of row the corpus command compares: ``ATTENTION`` and each method's key, in registry order."""
    return (ATTENTION, *(method.key for method in ATTRIBUTION_METHODS.values()))


def agreement_pairs() -> list[tuple[str, str]]:
    """The compared pairs of :func:`measures`, in the order of ``metrics.json`` (each stored as
    ``"<first>_vs_<second>"``): attention against every method, then every two methods."""
    keys = [method.key for method in ATTRIBUTION_METHODS.values()]
    return [(ATTENTION, key) for key in keys] + list(itertools.combinations(keys, 2))


def measure_labels() -> dict[str, str]:
    """What people read for each measure key (:func:`measures`)."""
    return {ATTENTION: "attention", **{method.key: method.label for method in ATTRIBUTION_METHODS.values()}}


def method_choices() -> list[tuple[str, str]]:
    """The app's method picker: ``(label, name)`` per method, in registry order."""
    return [(method.choice, name) for name, method in ATTRIBUTION_METHODS.items()]
