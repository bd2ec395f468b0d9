#!/usr/bin/env bash
# The decoder-design ablations of the README's "What made attention align" table: the additive model trained with
# one design change at a time, at one fixed short budget (same seed, data, tokenizers and epochs), two at a time
# (one per core). Usage: scripts/ablations.sh DATASET [variant ...]; results in runs/ablation/<variant>/.
# Then: python -m attention_demo.alignment --model runs/ablation/<variant> ... scores each one.
set -euo pipefail
dataset=${1:?usage: scripts/ablations.sh DATASET [variant ...]}
shift
if (($#)); then variants=("$@"); else variants=(today no_summary_input no_eos_key null_slot bahdanau input_feeding); fi
epochs=${EPOCHS:-3}
python=${PYTHON:-.venv/bin/python}

flags() {
  case $1 in
    today) echo "" ;;
    no_summary_input) echo "--summary_input false" ;;
    no_eos_key) echo "--attend_eos false" ;;
    null_slot) echo "--null_slot" ;;
    bahdanau) echo "--attention_placement bahdanau" ;;
    input_feeding) echo "--input_feeding" ;;
    input_feeding_null_slot) echo "--input_feeding --null_slot" ;;
    bahdanau_null_slot) echo "--attention_placement bahdanau --null_slot" ;;
    no_annotation_dropout) echo "--annotation_dropout false" ;;
    no_annotation_dropout_no_summary_input) echo "--annotation_dropout false --summary_input false" ;;
    no_annotation_dropout_no_summary_input_no_eos_key)
      echo "--annotation_dropout false --summary_input false --attend_eos false" ;;
    no_annotation_dropout_no_summary_input_null_slot)
      echo "--annotation_dropout false --summary_input false --null_slot" ;;
    # Sink remedies (issue 19) on top of the bundled design, its flags spelt out so that they do not hang on train.py's
    # defaults: Bahdanau et al.'s initialisation of the additive score, a gate on the context, and both.
    no_annotation_dropout_no_summary_input_bahdanau_init)
      echo "--annotation_dropout false --summary_input false --attention_init bahdanau" ;;
    no_annotation_dropout_no_summary_input_context_gate)
      echo "--annotation_dropout false --summary_input false --context_gate" ;;
    no_annotation_dropout_no_summary_input_bahdanau_init_context_gate)
      echo "--annotation_dropout false --summary_input false --attention_init bahdanau --context_gate" ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}

run() {
  local name=$1 out=runs/ablation/$1
  mkdir -p "$out"
  # shellcheck disable=SC2046
  OMP_NUM_THREADS=1 "$python" train.py --dataset_name "$dataset" --dataset_hub_id bentrevett/multi30k \
    --output_dir "$out" --attention additive --num_train_epochs "$epochs" --resume_from_checkpoint \
    $(flags "$name") > "$out.log" 2>&1
}
export -f run flags
export dataset epochs python
trap 'kill 0' INT TERM
printf '%s\n' "${variants[@]}" | xargs -P 2 -I{} bash -c 'run {}'
