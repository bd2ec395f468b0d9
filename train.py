"""Train GRU translation models with and without attention, evaluate them and write (or push) the model repo.

Examples:
    python train.py --dataset_name ../shared/data/multi30k --output_dir outputs/multi30k-de-en
    python train.py --output_dir outputs/multi30k-de-en --resume_from_checkpoint
    accelerate launch train.py --dataset_name bentrevett/multi30k --push_to_hub --hub_model_id you/attention-demo
    python train.py --source_lang en --target_lang de --output_dir outputs/multi30k-en-de   # the other direction
    # agreement training: general in both directions at once, saved as general-agreement in both folders
    python train.py --attention general --agreement_weight 5 --output_dir outputs/multi30k-de-en \
        --reverse_output_dir outputs/multi30k-en-de --resume_from_checkpoint

Run ``python train.py --help`` for every option and what it allows. A bad value or combination of values stops at
once with one ``error:`` line (exit status 2), before any data is loaded; an expected failure (a missing folder, an
unreachable Hub, a corrupt checkpoint, ...) prints one ``error:`` line (exit status 1); ``--debug`` adds the
traceback.

Afterwards, two more commands over the same folder add their numbers to its metrics.json: the corpus-level evidence
(attribution by gradient x input, Integrated Gradients and occlusion, and its agreement with attention; see
``attention_demo.evidence``) and the alignment of attention with a word aligner (``attention_demo.alignment``):
    python -m attention_demo.evidence --model outputs/multi30k-de-en --dataset_name bentrevett/multi30k
    python -m attention_demo.alignment --model outputs/multi30k-de-en --dataset_name bentrevett/multi30k \
        --reverse_model outputs/multi30k-en-de   # optional: each model's twin and the two-way AER
"""

import sys

from attention_demo.training import main

if __name__ == "__main__":
    sys.exit(main())
