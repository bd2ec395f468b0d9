"""Train GRU translation models with and without attention, evaluate them and write (or push) the model repo.

Examples:
    python train.py --dataset_name ../shared/data/multi30k --output_dir outputs/multi30k-de-en
    python train.py --output_dir outputs/multi30k-de-en --resume_from_checkpoint
    accelerate launch train.py --dataset_name bentrevett/multi30k --push_to_hub --hub_model_id you/attention-demo

Run ``python train.py --help`` for every option.
"""

from attention_demo.training import main

if __name__ == "__main__":
    main()
