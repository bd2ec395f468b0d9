#!/usr/bin/env bash
# Trains the four bundled models as the README's "Reproducing the bundled models" says: two train.py processes side
# by side (one per core; the second reuses the tokenizers the first one writes and merges its entries into the same
# metrics.json / history.json), then one evaluation pass that re-evaluates all four best checkpoints and writes the
# metrics and the model card. Resumable: run it again after an interruption.
# Usage: scripts/train_bundled.sh DATASET OUTPUT_DIR; TRAIN_FLAGS replaces the flags below. Logs: OUTPUT_DIR.*.log.
set -euo pipefail
dataset=${1:?usage: scripts/train_bundled.sh DATASET OUTPUT_DIR}
output=${2:?usage: scripts/train_bundled.sh DATASET OUTPUT_DIR}
python=${PYTHON:-.venv/bin/python}
# The bundled design (README, "Does attention align words?") and schedule.
read -r -a flags <<< "${TRAIN_FLAGS:---num_train_epochs 12 --annotation_dropout false --summary_input false}"
common=(--dataset_name "$dataset" --dataset_hub_id bentrevett/multi30k --output_dir "$output" "${flags[@]}")
trap 'kill 0' INT TERM
mkdir -p "$output"
started=$(date +%s)
OMP_NUM_THREADS=1 "$python" train.py "${common[@]}" --attention additive baseline --resume_from_checkpoint \
  > "$output.first.log" 2>&1 &
first=$!
until [[ -f $output/tokenizer.en.json ]]; do  # written after tokenizer.de.json
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
