"""How many requests run a model at once, in one place: the serving limits, the model threads and the event groups.

Gradio limits each event listener on its own (``concurrency_limit``) unless listeners share a ``concurrency_id``:
then the group as a whole runs at most its limit at once. Every event that runs a model (translate, the examples,
random, compare, evidence, surgery, the step view, the aligner view, the hypothesis picker, which may have the other
direction read a hypothesis) joins :data:`MODEL_GROUP`, so :data:`CONCURRENCY_LIMIT` bounds the model runs of the
whole server, whatever the visitors click. Events that run no model (opening the page, clicking a word, words instead
of subwords, the epoch slider) are unlimited and never wait behind them.

No request changes state another request can see: models are only read (eval mode, no hooks; attribution takes the
source embeddings as an input, ``attention_demo.evidence``), ``torch.inference_mode`` and ``torch.enable_grad`` are
thread-local, and random choices use a generator of their own.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

CONCURRENCY_LIMIT = 2  # model-running requests computed at once (translation is CPU-bound; 2 cores)
QUEUE_SIZE = 32  # requests waiting beyond that; more are turned away with a "queue full" message
MODEL_GROUP = "models"  # the concurrency_id of every event that runs a model
# The most models one request runs at once: compare runs the three attention models side by side (translate runs two).
MODELS_PER_REQUEST = 3

# The keyword arguments of an event listener: one shared group for everything that runs a model, no limit otherwise.
MODEL_EVENT: dict[str, Any] = {"concurrency_id": MODEL_GROUP, "concurrency_limit": CONCURRENCY_LIMIT}
CHEAP_EVENT: dict[str, Any] = {"concurrency_limit": None}

# The threads that run a request's models beside its own thread (AttentionDemo.translate_with): enough for every
# request the group lets run at once, so no request waits for another's models.
MODEL_THREADS = ThreadPoolExecutor(max_workers=CONCURRENCY_LIMIT * (MODELS_PER_REQUEST - 1), thread_name_prefix="model")


def torch_threads() -> int:
    """Torch threads for each request: an equal share of the cores this process may use, at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // CONCURRENCY_LIMIT)
