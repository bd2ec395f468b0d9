"""Every sentence the app shows a visitor: titles, explanations, labels, notices, messages and table headers.

Kept in one place so that the wording can be read, checked and changed without reading any computation. Texts with
``{placeholders}`` are filled with :meth:`str.format` by the tab modules (:mod:`attention_demo.ui.tabs`) and
:mod:`attention_demo.ui.wiring`.
"""

from __future__ import annotations

from attention_demo.agreement import AGREEMENT_SUFFIX
from attention_demo.evidence import DROPPED_BELOW, REPEATED_ABOVE
from attention_demo.inspection import SCORE_EXPLANATIONS, SCORE_FORMULAS, SCORE_FORMULAS_PLAIN
from attention_demo.live import BUDGET_S as LIVE_BUDGET_S

TITLE = "attention-demo: attention in neural machine translation"
LANGUAGE_NAMES = {"cs": "Czech", "de": "German", "en": "English", "fr": "French"}  # Multi30k's languages
DIRECTION = "{source} → {target}"  # a page of the app (the navigation bar), one per direction

INTRO = """# attention-demo: inside neural machine translation with attention
A GRU encoder–decoder translates {source} to {target}. At every output word, **attention** scores the decoder's state
against every source word (**Align**), turns the scores into weights that sum to 1 (**Weight**), and reads a weighted
average of the encoder's annotations (**Combine**). The **baseline** is the same network without attention: it must
squeeze the whole sentence into one fixed vector."""

# -- where the models came from (the header line) --------------------------------------------------------------------
MODELS_BUNDLED = "Models: the bundled Multi30k {source}→{target} models."
MODELS_LOADED = "Models: {model}."
MODELS_FALLBACK = "Could not load {model} ({error}); showing the bundled models instead."

# -- notices of a translation ---------------------------------------------------------------------------------------
EMPTY_INPUT_MESSAGE = "Type a sentence (or pick an example) and press Translate."
ERROR_MESSAGE = "Sorry, something went wrong while {what} ({error}). Please try again, or try a shorter sentence."
TRANSLATE_FIRST = "Translate a sentence first."
TRANSLATE_FIRST_STEP = "Translate a sentence on the first tab, then come back here."
INVALID_UNICODE = "Some characters were not valid Unicode and were replaced by \ufffd."
INPUT_CUT = "The input had {length:,} characters; only the first {kept} were translated."
INPUT_TRUNCATED = "The input is longer than the model's {pieces} subwords; the rest was left out."
MANY_UNKNOWN = (
    "Many characters are unknown to the model (it was trained on image captions), so this translation is a "
    "guess; unknown characters appear as <unk>."
)
NO_SUCH_MODEL = "There is no {name} model here; used {used} instead."
TRANSLATED_WITH = "Translated with {search}."
GREEDY = "greedy search"
BEAM = "beam size {beam}"
NO_ATTENTION_MODEL = "(this model folder has no attention model)"
NO_BASELINE_MODEL = "(this model folder has no baseline model)"
CHRF_LINE = "Sentence chrF against the reference: {scores}"
CHRF_ATTENTION = "with attention ({name}): {score:.1f}"
CHRF_BASELINE = "baseline: {score:.1f}"
HYPOTHESIS_CHOICE = "#{rank}: {text}  ({per_token:.2f} per token)"
BASELINE_HAS_NO_ATTENTION = "The baseline has no attention: it reads one fixed summary vector."
FOCUS = "“{word}” attends to: {strongest}"
EMPTY_HYPOTHESIS = "This hypothesis is empty."

# -- the heatmap ----------------------------------------------------------------------------------------------------
OUTPUT_AXIS = "output"
SOURCE_AXIS = "source"
ATTENTION_WEIGHT = "attention weight α"
SALIENCY_SHARE = "share of ‖grad × input‖"
POSITIVE_SHARE = "share of the positive {method}"  # signed attributions, drawn as the shares of their positive part
SHARE = "share of {method}"  # an unsigned attribution other than gradient x input (SALIENCY_SHARE)
HEATMAP_TITLE = "{name} attention, hypothesis #{rank} ({unit})"
SUBWORDS = "subwords"
WORDS = "words"
SALIENCY_TITLE = "{name}: {method}"
SALIENCY_TITLE_BASELINE = "{name}: {method} (no attention)"
EVOLUTION_TITLE = "{name} after epoch {epoch}"
EVOLUTION_TEXT = "Epoch {epoch}: {words}"
NO_SNAPSHOTS = "No attention snapshots (attention_evolution.json) for this model."
EMPTY_SNAPSHOT = "This snapshot holds no sentences."

MERGE_NOTE = (
    "**Merged view:** the subwords of one source word are summed (each row still sums to 1) and the rows of one "
    "output word are averaged."
)
INSPECT_HINT = (
    "Click a word of the translation with attention, or a row of the heatmap, to see where that word looks; hover a "
    "cell for its exact weight."
)
AGREED_MARKERS = "both directions agree"
TWIN_NOTE = (
    "**Rings: where both directions agree.** The {back} model reads this translation and is made to produce the "
    "input; a cell is ringed when each direction's strongest weight links the same two words (the output word looks "
    "hardest at that source word, and the source word at that output word). Two models that learned to attend "
    "independently agree there. Such links are more often right than either direction's alone (against a word "
    "aligner; README, *Does attention align words?*), and word aligners start from them when they combine two "
    "directions (grow-diag-final-and)."
)
AGREEMENT_NOTE = (
    "**“+ agreement” models** were trained together with their {back} twin, with one more term in the loss that "
    "rewards the two attention matrices for agreeing (one ≈ the other transposed, over real words only). No "
    "alignment labels are used. The models without it show what attention learns from the translation loss alone."
)

# -- labels of the first tab ------------------------------------------------------------------------------------------
TAB_TRANSLATE = "Translate"
SOURCE_LABEL = "{source} sentence"
SOURCE_PLACEHOLDER = "Ein Hund rennt über die Wiese."
TRANSLATE_BUTTON = "Translate"
RANDOM_BUTTON = "Random test sentence"
ATTENTION_TYPE_LABEL = "Attention type"
ATTENTION_TYPE_INFO = "the score function; “+ agreement”: trained together with the other direction (below)"
BEAM_LABEL = "Beam size"
BEAM_INFO = "1 = greedy search"
MERGE_LABEL = "Merge subwords into words"
MERGE_INFO = "source: summed · output: averaged"
EXAMPLES_LABEL = "Examples, short to long (click one to translate it)"
NOTES_LABEL = "Notes"
WITH_ATTENTION_LABEL = "With attention (click a word to inspect it)"
BASELINE_LABEL = "Baseline (no attention)"
REFERENCE_LABEL = "Reference (test sentences only)"
CHRF_LABEL = "Sentence chrF (0-100, higher is better)"
HYPOTHESIS_LABEL = "Attention map of hypothesis"
HIGHLIGHT_LABEL = "Source, coloured by the chosen output word's attention (weights sum to 1)"
FOCUS_LABEL = "Where that word looks"
BEAMS_ACCORDION = "Beam alternatives"
BEAMS_LABEL = "Beam alternatives of the attention model, best first (scores are log-probabilities)"
INSPECTED = "inspected"  # the category of the chosen output word in the clickable output

# -- the evidence tab -------------------------------------------------------------------------------------------------
TAB_EVIDENCE = "Evidence"
EVIDENCE_TAB_INTRO = """The translation and hypothesis of the first tab, tested three ways: does the heatmap show
what the prediction depended on? Computed when you open this tab (a few teacher-forced passes over the sentence)."""
EVIDENCE_STATUS_LABEL = "Evidence beyond the heatmap"
COVERAGE_LABEL = "Coverage"
COVERAGE_TABLE_LABEL = (
    f"Coverage: total attention per source piece (dropped < {DROPPED_BELOW}, repeated > {REPEATED_ABOVE}; </s> not "
    "flagged)"
)
SALIENCY_ACCORDION = "Attribution and agreement (is attention an explanation?)"
METHOD_LABEL = "Attribution method"
# What each attribution method is called (in titles, notices, tables and the method picker) is part of its entry in
# the registry, attention_demo.evidence.ATTRIBUTION_METHODS (label, note), so that a method is added in one place;
# evidence.measure_labels() names every compared row, evidence.method_choices() lists the picker's choices.
PAIR_LABEL = "{first} vs {second}"
AGREEMENT_TABLE_LABEL = "Agreement of each attention row with the chosen attribution (subwords)"
EVIDENCE_NOTE = """**Attribution** (left: the attention model, right: the baseline, each on its own best
translation): how much each output word's log-probability owes to each source piece, by the method you pick, each
computed with captum on the source embeddings. **Gradient × input**: ‖gradient × input‖, a quick local estimate.
**Integrated Gradients**: the gradient integrated from an all-`<pad>` (zero) source to the real one, so that a row adds
up to the change of the log-probability (Sundararajan et al. 2017); many passes, so much slower. **Occlusion**: the
drop of the log-probability when that source piece is replaced by `<unk>`. Integrated Gradients and occlusion are
signed; the maps show each row's positive part as shares of it. The baseline has no attention, but it has
attributions. The table compares every attention row with the attribution: Kendall τ (rank agreement, −1..1), top-1
(same strongest piece) and Jensen–Shannon divergence (0 = same distribution, 1 = disjoint). Agreement is evidence that
the heatmap shows what the prediction used, not proof; whether attention is an explanation is disputed (Jain & Wallace
2019, *Attention is not Explanation*; Wiegreffe & Pinter 2019, *Attention is not not Explanation*)."""
EVIDENCE_SUMMARY = (
    "Mean agreement of the attention rows with {method}: τ = {tau:.2f}, top-1 = {top1:.2f}.{corpus} Coverage flags: "
    "{flags}. Agreement is evidence that a heatmap points at what the prediction used, not proof."
)
EVIDENCE_CORPUS_MEANS = (
    " Over {sentences} test sentences (metrics.json), {name} agrees with {method} at τ = {tau:.2f}, top-1 = {top1:.2f}."
)
NO_FLAGS = "none"
ONLY_BASELINE_EVIDENCE = "This folder has no attention model: only the baseline's attribution is shown."
COVERAGE_TITLE = "Coverage (red: probably dropped, orange: probably repeated)"
FLAG_DROPPED = "dropped"
FLAG_REPEATED = "repeated"
NOT_AVAILABLE = "n/a"
MEAN_ROW = "mean"

SURGERY_ACCORDION = "Attention surgery"
SURGERY_NOTE = """Replace the attention weights α of one output step before the **Combine** step, keep the words before
it, and let the model decode greedily from there. The control row uses the model's own weights (it reproduces greedy
decoding exactly), so any difference between control and operated output is caused by the surgery."""
SURGERY_STEP_LABEL = "Output step to operate on"
SURGERY_MODE_LABEL = "Replace its weights with"
SURGERY_SOURCE_LABEL = "Source word (for 'all on one source word')"
SURGERY_BUTTON = "Operate"
SURGERY_STATUS_LABEL = "What changed"
SURGERY_TABLE_LABEL = "Original, control and operated output"
SURGERY_MODE_CHOICES = [
    ("uniform over the source", "uniform"),
    ("all on one source word", "one_word"),
    ("random permutation of the learned weights", "permuted"),
    ("the model's own weights (control)", "own"),
]
SURGERY_NO_ATTENTION = "The baseline has no attention weights to operate on."
SURGERY_SHOWN = "shown hypothesis"
SURGERY_CONTROL = "own weights at step {step}, then greedy (control)"
SURGERY_OPERATED = "{mode} at step {step}, then greedy"
SURGERY_SAME = "the same output as"
SURGERY_DIFFERENT = "a different output from"
SURGERY_SUMMARY = (
    "Step {step} (“{word}”): the model's own weights put {own:.2f} on “{own_source}”; the operated weights put "
    "{used:.2f} on “{used_source}”. The surgery gives {changed} the control, with log-probability {logprob:.2f} "
    "instead of {control:.2f}."
)

# -- inside one step ------------------------------------------------------------------------------------------------
TAB_STEP = "Align → Weight → Combine"
STEP_INTRO = (
    "Pick an output position of the translation on the first tab (the hypothesis chosen there). The decoder is re-run "
    "over that hypothesis (teacher forcing) and the attention of that one step is taken apart. The step works on "
    "subwords, the model's own units."
)
POSITION_LABEL = "Output position"
STEP_CHECK_LABEL = "Check"
STEP_PLOT_LABEL = "Align → Weight → Combine"
STEP_TABLE_LABEL = "Main contributors to the context c (share of c = (α_j h_j · c) / ‖c‖², the shares sum to 1)"
STEP_NO_ATTENTION = "The baseline has no attention step to show."
STEP_SUMMARY = (
    "Output position {position} (“{word}”): Σ α_j = {total:.4f}; the context c has {dims} dimensions, "
    "‖c‖ = {norm:.3f}; max |c − Σ α_j h_j| = {check:.1e}."
)

# -- compare attention types ----------------------------------------------------------------------------------------
TAB_COMPARE = "Attention types"
COMPARE_INTRO = (
    "The sentence of the first tab through every attention model, with the beam size and the word merging "
    "chosen there. Only the **Align** step (the score function) differs between them."
)
COMPARE_BUTTON = "Compare"
COMPARE_NOTICE = "The same sentence through {count} attention models ({search})."
COMPARE_TEXT_LABEL = "{name}: {formula}"

# -- why attention helps --------------------------------------------------------------------------------------------
TAB_WHY = "Why attention helps"
WHY_INTRO = (
    "Measured when the models were trained (read from the model folder's metrics.json, history.json and "
    "attention_evolution.json; nothing is recomputed here). The baseline must squeeze a whole sentence into one fixed "
    "vector, so if attention removes that bottleneck its advantage should grow with the length of the sentence: "
    "compare the gain per length bucket. The training curves show whether the attention models also learn faster, "
    "and the snapshots show the attention of a fixed validation sentence turning from a blur into a near-diagonal "
    "alignment."
)
RESULTS_TABLE_LABEL = "Test set scores"
BLEU_BY_LENGTH_LABEL = "BLEU by source length"
CURVES_LABEL = "Training curves"
ALIGNER_HEADING = (
    "**Does attention align words?** Each output word is linked to the source word it attends to most (`</s>` never "
    "counts) and compared with the links of a statistical word aligner (eflomal) on the test set: the alignment "
    "error rate AER is 0 when they agree on every link, 1 when on none. A straight diagonal is the floor to beat. "
    "`</s>` sink: the share of output words whose largest weight falls on `</s>`. Last source word: the share whose "
    "link is the sentence's last word (usually the full stop). Mean largest weight: 1 when every row puts all its "
    "weight on one position."
)
ALIGNMENT_TABLE_LABEL = "Attention against a word aligner (test set, reading the reference translation)"
DIAGONAL_ROW = "a straight diagonal"
ALIGNER_MODEL_LABEL = "Model"
ALIGNER_SENTENCE_LABEL = "Test sentence"
ALIGNER_TITLE = "{name} reading the reference; rings: the word aligner's links"
ALIGNER_MARKER_LABEL = "a word aligner's link (eflomal)"
ALIGNER_TEXT = (
    "On this sentence {hits} of the attention's {links} links are among the aligner's {gold} (AER {aer:.2f}); "
    "{sink} of {words} output words look hardest at </s>."
)
ALIGNER_TEXT_LABEL = "Attention against the aligner on this sentence"
NO_ALIGNER_LINKS = "No word aligner links are stored with these models (alignment_links.json)."
ALIGNER_WORDS_DIFFER = (
    "The stored links were made for other words than these models' tokenizers give; rerun the alignment command."
)
ABLATION_HEADING = """**What made attention align? A lesson from the ablations.** The additive model was trained at
one short budget (3 epochs, same seed and data) with design changes one at a time and combined (the table; the README
has every row). No change made the heatmap an alignment at that budget. The `</s>` sink did not come from the summary
`z`, the placement or input feeding. Take `</s>` out of the keys and the same share of words moves to the last source
word, usually the full stop. Give the model a learned "no source word" slot and it puts most of the weight there for
every word. So the sink is where the decoder parks the weight it does not need: the translation loss never asks for a
peaked distribution, and a small weight on the right word carries enough of it. What sharpened attention was training
longer and taking dropout off the annotations; the bundled models keep `</s>` among the keys so that the parked weight
stays visible where it is, not hidden in the full stop. Where a model still puts its largest weight on `</s>` (the
sink column above), its brightest cell among the words is where it aligns, and that is the link its AER counts."""
ABLATION_TABLE_LABEL = "Decoder-design ablations"
EVOLUTION_HEADING = "**How attention sharpened during training** (a fixed validation sentence after each epoch)"
EVOLUTION_MODEL_LABEL = "Model"
EVOLUTION_SENTENCE_LABEL = "Sentence"
EVOLUTION_EPOCH_LABEL = "Epoch"
EVOLUTION_TEXT_LABEL = "Greedy translation at that epoch"
EVIDENCE_CORPUS_NOTE = """**Does the heatmap show what the model used?** Computed once by `python -m
attention_demo.evidence` (see the README) on the test sentences with greedy decoding, stored in metrics.json under
"evidence". The table gives, per model, the mean agreement of every pair: attention with gradient × input, Integrated
Gradients and occlusion, and the three attribution methods with each other (the baseline has only the last three). The
curve shows how the gradient that reaches a source piece falls with its distance from the output position, for the
attention models and the baseline; the histograms show, per output step, how well the attention row agrees with
gradient × input and with occlusion (and, for every model including the baseline, gradient × input with occlusion).
Agreement is evidence, not proof (Jain & Wallace 2019; Wiegreffe & Pinter 2019)."""
EVIDENCE_SUMMARY_LABEL = "Agreement over the test sentences"
DISTANCE_LABEL = "Gradient by distance"
AGREEMENT_LABEL = "Agreement"

# -- what an error says, per event ------------------------------------------------------------------------------------
DOING_TRANSLATE = "translating"
DOING_HEATMAP = "drawing the attention map"
DOING_STEP = "taking the step apart"
DOING_EVIDENCE = "computing the evidence"
DOING_SURGERY = "operating on the attention"
DOING_COMPARE = "comparing the attention types"
DOING_ALIGNER = "comparing attention with the word aligner"
DOING_EVOLUTION = "drawing the attention snapshot"
DOING_TRAINING_PLOTS = "drawing the training plots"
DOING_RANDOM = "picking a sentence"

# -- table headers ----------------------------------------------------------------------------------------------------
BEAM_COLUMNS = ["rank", "translation", "log-probability", "per token", "tokens", "finished"]
BEAM_FINISHED = "yes"
BEAM_UNFINISHED = "no (length limit)"
STEP_COLUMNS = ["source piece", "α_j", "‖α_j h_j‖", "share of c"]
COVERAGE_COLUMNS = ["source", "total attention", "flag"]
AGREEMENT_COLUMNS = ["output", "Kendall τ", "top-1", "JSD"]
SURGERY_COLUMNS = ["version", "translation", "log-probability", "per token", "tokens"]
ALIGNMENT_COLUMNS = ["model", "AER", "precision", "recall", "</s> sink", "last source word", "mean largest weight",
                     "AER (own translation)"]  # fmt: skip
ABLATION_COLUMNS = ["decoder design (additive, short budget)", "</s> sink", "null slot", "last source word",
                    "mean largest weight", "AER", "test BLEU"]  # fmt: skip
RESULTS_COLUMNS = ["model", "test BLEU", "test chrF", "best epoch", "parameters"]
EVIDENCE_SUMMARY_COLUMNS = ["model", "comparison", "mean Kendall τ", "top-1 agreement", "chance top-1", "mean JSD",
                            "output steps"]  # fmt: skip

# Used when the model folder has no test_examples.json: Multi30k-style German sentences, short to long, no references.
BUILTIN_EXAMPLES = [
    "Ein Hund rennt über die Wiese.",
    "Zwei Kinder spielen am Strand.",
    "Eine Frau mit einem roten Hut liest ein Buch.",
    "Ein Mann in einem blauen Hemd fährt mit dem Fahrrad durch die Stadt.",
    "Eine Gruppe junger Leute sitzt an einem Tisch und isst gemeinsam zu Abend.",
    "Ein kleines Mädchen in einem rosa Kleid springt in einen Haufen Herbstlaub, während sein Vater ein Foto macht.",
    "Zwei Männer in orangefarbenen Westen arbeiten auf einer Baustelle neben einer belebten Straße, während im "
    "Hintergrund ein Bus vorbeifährt und Fußgänger an der Ampel warten.",
]


def model_label(name: str | None) -> str:
    """A model's name as the page shows it: ``general-agreement`` -> ``general + agreement``."""
    name = name or ""
    base = name.removesuffix(AGREEMENT_SUFFIX)
    return f"{base} + agreement" if base != name else name


def language(code: str) -> str:
    """A language's name ("German") from its code ("de"); an unknown code as itself."""
    return LANGUAGE_NAMES.get(code, code)


def search_name(beam: int) -> str:
    """ "greedy search" or "beam size N"."""
    return GREEDY if beam == 1 else BEAM.format(beam=beam)


def formula_markdown(attention_type: str) -> str:
    """The score function of ``attention_type`` and the two shared steps, in LaTeX with a plain-text line."""
    return (
        f"**Align** with the `{attention_type}` score function: {SCORE_EXPLANATIONS[attention_type]}\n\n"
        f"$${SCORE_FORMULAS[attention_type]}$$\n\n"
        r"**Weight** (softmax over the source) and **Combine** (weighted sum of the encoder annotations):"
        "\n\n"
        r"$$\alpha_{tj} = \frac{\exp(e_{tj})}{\sum_i \exp(e_{ti})} \qquad "
        r"\mathbf{c}_t = \sum_j \alpha_{tj}\,\mathbf{h}_j$$"
        "\n\n"
        f"In plain text: `{SCORE_FORMULAS_PLAIN[attention_type]}`, `α = softmax(e)`, `c = Σ_j α_j h_j`, with the "
        "query q = s_t (the decoder state at this step) and the keys k = h_j (the encoder annotations, which are "
        "also the values)."
    )


def compare_label(name: str, attention_type: str) -> str:
    """The label of one model's translation on the compare tab: its name and its score function's formula."""
    return COMPARE_TEXT_LABEL.format(name=model_label(name), formula=SCORE_FORMULAS_PLAIN.get(attention_type, ""))


# -- Watch attention learn --------------------------------------------------------------------------------------------

TAB_LIVE = "Watch attention learn"
LIVE_INTRO = (
    "Train a small attention model and the same model **without attention** from scratch, here and now, on a task "
    "whose true alignment is known. Watch the attention map of one probe sequence go from uniform to the true "
    "alignment (the rings), and watch the model without attention fall behind as the sequences get longer: it has "
    "to squeeze the whole sequence into one vector. Both models are the app's own encoder-decoder (the same "
    "attention code as the translation models), trained on one CPU core for at most "
    f"{LIVE_BUDGET_S:.0f} seconds. One run trains at a time; if someone else's run is training, you wait in the queue."
)
LIVE_TASKS = {"copy": "copy (the diagonal)", "reverse": "reverse (the anti-diagonal)", "sort": "sort (a permutation)"}
LIVE_TASK_LABEL = "Task"
LIVE_LENGTH_LABEL = "Sequence length (symbols)"
LIVE_ATTENTION_LABEL = "Attention type (score function)"
LIVE_TRAIN = "Train"
LIVE_STOP = "Stop"
LIVE_STATUS_LABEL = "Training"
LIVE_READY = "Pick a task, a length and an attention type, then press Train."
LIVE_HEATMAP_TITLE = "Attention of the {attention} model on a probe sequence ({task}), after {step} training steps"
LIVE_MARKER_LABEL = "the true alignment"
LIVE_OUTPUT_AXIS = "output symbol"
LIVE_SOURCE_AXIS = "input symbol"
LIVE_ACCURACY_TITLE = "Sequences exactly right (held-out)"
LIVE_LOSS_TITLE = "Training loss per symbol"
LIVE_ALIGNMENT_TITLE = "Alignment error of the attention model"
LIVE_PROGRESS = (
    "{seconds:.0f} s, {step} steps: sequences right {attention:.0%} with attention, {baseline:.0%} without; "
    "alignment error {error:.0%}."
)
LIVE_FINISHED = {
    "budget": "Finished: the time budget is used up.",
    "solved": "Finished: both models get every held-out sequence right.",
    "stopped": "Stopped.",
    "steps": "Finished: the step budget is used up.",
}
DOING_LIVE = "training"


# -- Links ------------------------------------------------------------------------------------------------------------

LINK_BUTTON = "Link to this view"
LINK_PLACEHOLDER = "A link that reopens this page as you see it: sentence, model, beam, hypothesis, word, tab, method"
LINK_LEFT_OUT = "The link's {names} could not be used, so the page's default is shown for {them}."
LINK_NAMES = {
    "sentence": "sentence", "model": "model", "beam": "beam size", "hypothesis": "hypothesis", "word": "output word",
    "tab": "tab", "method": "evidence method",
}  # fmt: skip
DOING_LINK = "opening the link"
