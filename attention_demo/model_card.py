"""The model card (README.md of the model repo), with every model's test scores as model-index eval results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from huggingface_hub import EvalResult, ModelCard, ModelCardData

if TYPE_CHECKING:
    from attention_demo.model_repo import Metrics

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

GRU encoder-decoder translation models **with attention** ({{ attention_names }}) and the same model **without
attention** (`baseline`), trained with [attention-demo](https://github.com/attention-demo/attention-demo) on
[{{ dataset }}](https://huggingface.co/datasets/{{ dataset }}), {{ source_lang }} -> {{ target_lang }}.
They exist to show what attention does; they are small and not meant for production translation.

## Results ({{ split }} split, beam size {{ beam_size }}, sacreBLEU on detokenized text)

| model | BLEU | BLEU (lowercased) | chrF | parameters | training time |
|---|---|---|---|---|---|
{% for row in rows -%}
| {{ row.name }} | {{ row.bleu }} | {{ row.bleu_lc }} | {{ row.chrf }} | {{ row.parameters }} | {{ row.time }} |
{% endfor %}
Signatures: `{{ bleu_signature }}`, `{{ chrf_signature }}`.
Hardware: {{ hardware }}.

BLEU by source length (words):

| model | {{ bucket_labels | join(' | ') }} |
|---|{% for _ in bucket_labels %}---|{% endfor %}
{% for row in rows -%}
| {{ row.name }} | {{ row.buckets | join(' | ') }} |
{% endfor %}
## How the models differ

All models share the tokenizers, the sizes, the seed, the data order and the training budget: a bidirectional GRU
encoder and a GRU decoder whose output layer reads `tanh(W_c [s_t ; c_t])`. The attention models make the context
`c_t` by attention over the encoder's annotations; the baseline uses the encoder's fixed summary vector at every step.
Each `<name>/config.json` gives the full design.
{% if agreement %}
{% for row in agreement -%}
`{{ row.name }}` is `{{ row.base }}` trained **jointly with its {{ target_lang }} -> {{ source_lang }} twin** (agreement
training, Cheng et al. 2016): the loss adds {{ row.weight }} x the mean squared difference between the two directions'
attention over word pairs (`</s>` and padding left out). No alignment labels are used; each direction's attention is
the other's only teacher. Its training time is that of both directions together.
{% endfor -%}
The other models learn their attention from the translation loss alone.
{% endif %}
{% if alignment %}
## Does attention align words?

Each output word of the {{ split }} references, read with teacher forcing, is linked to the source word it attends to
most (`</s>` never counts) and compared with {{ alignment.aligner }}. AER = 1 - F1 (lower is better); `</s>` sink:
the share of output words whose largest weight falls on `</s>`.

{% if alignment.two_way %}Twin: the model of the same name that translates the other way, read on the same pairs;
two-way: both directions' links symmetrised with grow-diag-final-and.
{% endif %}
| {{ alignment.header | join(' | ') }} |
|{% for _ in alignment.header %}---|{% endfor %}
{% for row in alignment.rows -%}
| {{ row | join(' | ') }} |
{% endfor %}{% endif %}
## How to load

```python
from attention_demo.translate import Translator

translator = Translator.from_pretrained("{{ repo_id }}")  # a Hub id or a local folder
print(translator.translate(["{{ example }}"], name="{{ first_attention }}", beam_size=5)[0].text)
```

Or from the command line:
`python -m attention_demo.translate --model {{ repo_id }} --name {{ first_attention }} --beam_size 5 < input.txt`

## Files

- `<name>/config.json`, `<name>/model.safetensors`: one folder per model (fp16 weights).
- `tokenizer.{{ source_lang }}.json`, `tokenizer.{{ target_lang }}.json`: BPE tokenizers (`tokenizers` library).
- `metrics.json`: test scores, by-length buckets, sacreBLEU signatures. `history.json`: per-epoch training curves.
- `attention_evolution.json`: attention maps of fixed validation sentences after every epoch.
{% if alignment %}- `alignment_links.json`: the word aligner's links for the {{ split }} references (drawn by the app).
{% endif %}
## Limits

- Trained on {{ num_train }} sentence pairs of image captions: expect poor translations far from that domain.
- Inputs longer than {{ max_tokens }} subwords are truncated; unknown characters (e.g. emoji) become `<unk>`.
- Attention weights are evidence about what the model reads, not a complete explanation of its decisions.
"""


EXAMPLE_SENTENCES = {"de": "Ein Hund läuft über die Wiese.", "en": "A dog runs across the meadow."}  # the card's


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "-"
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def build_model_card(metrics: dict, repo_id: str) -> ModelCard:
    """Render the model card from ``metrics.json``'s content."""
    from attention_demo.agreement import AGREEMENT_SUFFIX
    from attention_demo.data import MAX_SOURCE_TOKENS
    from attention_demo.evaluation import LENGTH_BUCKETS
    from attention_demo.model import BASELINE
    from attention_demo.model_repo import Metrics, model_order

    found = Metrics.from_json(metrics)
    dataset, split = metrics["dataset"], metrics["split"]
    models = found.models
    eval_results = []
    rows = []
    bucket_labels = [label for label, _, _ in LENGTH_BUCKETS]
    for name, m in sorted(models.items(), key=lambda item: model_order(item[0])):
        for metric_type, key, pretty in (("bleu", "bleu", "BLEU"), ("chrf", "chrf", "chrF")):
            eval_results.append(
                EvalResult(
                    task_type="translation",
                    task_name="Translation",
                    dataset_type=dataset,
                    dataset_name=dataset,
                    dataset_split=split,
                    metric_type=metric_type,
                    metric_value=m[key],
                    metric_name=f"{pretty} ({name})",
                    verified=False,
                )
            )
        by_bucket = {b["bucket"]: b["bleu"] for b in m.get("by_length", [])}
        rows.append(
            {
                "name": name,
                "bleu": m["bleu"],
                "bleu_lc": m["bleu_lc"],
                "chrf": m["chrf"],
                "parameters": f"{m.get('num_parameters', 0) / 1e6:.2f} M",
                "time": _duration(m.get("train_seconds")),
                "buckets": [by_bucket.get(label, "-") for label in bucket_labels],
            }
        )
    first = next(iter(models.values()))
    alignment = _alignment_section(found)
    agreement = [
        {"name": name, "base": name.removesuffix(AGREEMENT_SUFFIX), "weight": m["agreement_weight"]}
        for name, m in sorted(models.items(), key=lambda item: model_order(item[0]))
        if m.get("agreement_weight")
    ]
    card_data = ModelCardData(
        language=[metrics["source_lang"], metrics["target_lang"]],
        license="mit",
        library_name="attention-demo",
        datasets=None if Path(dataset).exists() else [dataset],
        tags=["translation", "attention", "seq2seq", "gru"],
        pipeline_tag="translation",
        model_name=repo_id,
        eval_results=eval_results,
    )
    return ModelCard.from_template(
        card_data,
        template_str=CARD_TEMPLATE,
        title=f"attention-demo: {repo_id}",
        dataset=dataset,
        split=split,
        source_lang=metrics["source_lang"],
        target_lang=metrics["target_lang"],
        beam_size=metrics["beam_size"],
        attention_names=", ".join(f"`{n}`" for n in sorted(models, key=model_order) if n != BASELINE) or "none",
        rows=rows,
        bleu_signature=first["signatures"]["bleu"],
        chrf_signature=first["signatures"]["chrf"],
        hardware=metrics.get("hardware", "unknown"),
        bucket_labels=bucket_labels,
        repo_id=repo_id,
        num_train=metrics.get("num_train_samples", "?"),
        max_tokens=MAX_SOURCE_TOKENS,
        alignment=alignment,
        agreement=agreement,
        example=EXAMPLE_SENTENCES.get(metrics["source_lang"], "..."),
        first_attention=next((n for n in sorted(models, key=model_order) if n != BASELINE), BASELINE),
    )


def _alignment_section(metrics: Metrics) -> dict | None:
    """The card's alignment table from ``metrics.json["alignment"]`` (None when it has no models or no diagonal)."""
    from attention_demo.model_repo import get_dict

    found = metrics.alignment
    if not metrics.alignment_models or not found.get("diagonal"):
        return None
    two_way = any("two_way" in numbers for numbers in metrics.alignment_models.values())
    header = ["model", "AER", "precision", "recall", "`</s>` sink", "AER (own translation)"]
    header += ["AER (twin)", "AER (two-way)"] if two_way else []
    rows = []
    for name, numbers in metrics.alignment_models.items():
        reference = numbers["reference"]
        row = [name, reference["aer"], reference["precision"], reference["recall"], f"{reference['eos_sink']:.0%}"]
        row.append(get_dict(numbers, "translation").get("aer", "-"))
        if two_way:
            row += [get_dict(numbers, key).get("aer", "-") for key in ("reverse", "two_way")]
        rows.append(row)
    diagonal = found["diagonal"]
    rows.append(["a straight diagonal", diagonal["aer"], diagonal["precision"], diagonal["recall"]])
    rows[-1] += [""] * (len(header) - len(rows[-1]))
    return {"aligner": found.get("aligner", "a word aligner"), "header": header, "rows": rows, "two_way": two_way}


def refresh_model_card(folder: str | Path) -> Path | None:
    """Re-render a model folder's card (README.md) from its current ``metrics.json``, keeping its repo id.

    Commands that add to ``metrics.json`` after training (the alignment evaluation) call this so that the card shows
    what the folder holds. Returns the card's path, or None when the folder has no card or no test scores.
    """
    from attention_demo.model_repo import MODEL_CARD_FILE, read_metrics

    path = Path(folder) / MODEL_CARD_FILE
    metrics = read_metrics(folder)
    if not path.is_file() or not metrics.models:
        return None
    repo_id = ModelCard.load(path).data.model_name or Path(folder).name
    build_model_card(metrics.content, repo_id).save(path)
    return path
