#!/usr/bin/env bash
# Trains the four bundled models as the README's "Reproducing the bundled models" says: two train.py processes side
# by side (one per core; the second reuses the tokenizers the first one writes and merges its entries into the same
# metrics.json / history.json), then one evaluation pass that re-evaluates all four best checkpoints and writes the
# metrics and the model card. Resumable: run it again after an interruption.
# Usage: scripts/train_bundled.sh DATASET OUTPUT_DIR [SOURCE_LANG TARGET_LANG] (default de en); TRAIN_FLAGS replaces
# the design flags below. Logs: OUTPUT_DIR.*.log. The agreement models come after both directions (README).
set -euo pipefail
usage="usage: scripts/train_bundled.sh DATASET OUTPUT_DIR [SOURCE_LANG TARGET_LANG]"
dataset=${1:?$usage}
output=${2:?$usage}
source_lang=${3:-de}
target_lang=${4:-en}
python=${PYTHON:-.venv/bin/python}
# The bundled design (README, "Does attention align words?": the context gate of round two) and schedule.
design="--num_train_epochs 12 --annotation_dropout false --summary_input false --context_gate"
read -r -a flags <<< "${TRAIN_FLAGS:-$design}"
common=(--dataset_name "$dataset" --dataset_hub_id bentrevett/multi30k --output_dir "$output"
  --source_lang "$source_lang" --target_lang "$target_lang" "${flags[@]}")
trap 'kill 0' INT TERM
mkdir -p "$output"
started=$(date +%s)
OMP_NUM_THREADS=1 "$python" train.py "${common[@]}" --attention additive baseline --resume_from_checkpoint \
  > "$output.first.log" 2>&1 &
first=$!
until [[ -f $output/tokenizer.$target_lang.json ]]; do  # written after the source language's
  kill -0 "$first" 2>/dev/null || { echo "the first train.py stopped; see $output.first.log" >&2; exit 1; }
  sleep 5
done
OMP_NUM_THREADS=1 "$python" train.py "${common[@]}" --attention general dot --resume_from_checkpoint \
  > "$output.second.log" 2>&1 &
second=$!
wait "$first"
wait "$second"
"$python" train.py "${common[@]}" --attention additive general dot baseline --resume_from_checkpoint \
  > "$output.final.log" 2>&1
echo "wall time: $(( ($(date +%s) - started) / 60 )) minutes"
