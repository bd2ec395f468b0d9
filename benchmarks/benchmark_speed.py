"""Speed benchmark: training throughput per attention type, the step-by-step (Bahdanau-placement) loop, and
translation latency. Prints a table of measured numbers.

    python benchmarks/benchmark_speed.py                 # default model sizes, bundled models for latency
    python benchmarks/benchmark_speed.py --steps 5       # quicker, noisier

Training throughput uses synthetic batches shaped like Multi30k (64 sentences of 16 source and 16 target subwords)
and the default model sizes of ``train.py``. The step-by-step loop is the classic Bahdanau et al. (2015) decoder:
attention is computed from the *previous* state ``s_{t-1}`` and the context is fed into the GRU, so target steps run
one after another; it has the same sizes and the same additive score function.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from attention_demo import cli
from attention_demo.attention import Attention
from attention_demo.model import ModelConfig, Seq2Seq
from attention_demo.translate import Translator

SENTENCE_15_WORDS = "Ein kleines Mädchen in einem rosa Kleid klettert die Treppe zu einem Spielhaus aus Holz hinauf ."


class BahdanauDecoder(nn.Module):
    """Bahdanau's placement: ``c_t = Attention(s_{t-1}, H)``, then ``s_t = GRU([E y ; c_t], s_{t-1})``.

    Used only to measure what the step-by-step loop costs; sizes match ``decoder.Decoder``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        context = 2 * config.encoder_hidden_size
        hidden = config.decoder_hidden_size
        self.embedding = nn.Embedding(config.tgt_vocab_size, config.embedding_size)
        self.init_hidden = nn.Linear(context, hidden)
        self.cell = nn.GRUCell(config.embedding_size + context, hidden)
        self.attention = Attention("additive", hidden, context, config.attention_size)
        self.combine_context = nn.Linear(hidden + context, config.embedding_size)
        self.output = nn.Linear(config.embedding_size, config.tgt_vocab_size)

    def forward(self, tgt_in: torch.Tensor, annotations: torch.Tensor, summary: torch.Tensor, mask: torch.Tensor):
        memory = self.attention.prepare(annotations, mask)
        state = torch.tanh(self.init_hidden(summary))  # (batch, hidden)
        embedded = self.embedding(tgt_in)  # (batch, tgt_len, emb)
        logits = []
        for t in range(tgt_in.size(1)):  # the loop Luong's placement avoids
            context, _, _ = self.attention(state.unsqueeze(1), memory)  # from s_{t-1}
            state = self.cell(torch.cat([embedded[:, t], context[:, 0]], dim=-1), state)
            attentional = torch.tanh(self.combine_context(torch.cat([state, context[:, 0]], dim=-1)))
            logits.append(self.output(attentional))
        return torch.stack(logits, dim=1)  # (batch, tgt_len, vocab)


def synthetic_batch(vocab: int, batch: int = 64, src_len: int = 16, tgt_len: int = 16) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "src": torch.randint(4, vocab, (batch, src_len), generator=generator),
        "src_mask": torch.ones(batch, src_len, dtype=torch.bool),
        "tgt_in": torch.randint(4, vocab, (batch, tgt_len), generator=generator),
        "tgt_out": torch.randint(4, vocab, (batch, tgt_len), generator=generator),
    }


def training_tokens_per_second(
    step: Callable[[dict], torch.Tensor], params: Iterable[torch.Tensor], batch: dict[str, torch.Tensor], steps: int
) -> float:
    """Time ``steps`` forward+backward+Adam updates after two warm-up steps; target tokens per second."""
    optimizer = torch.optim.Adam(params, lr=1e-4)
    for i in range(steps + 2):
        if i == 2:
            started = time.perf_counter()
        logits = step(batch)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), batch["tgt_out"].flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return batch["tgt_out"].numel() * steps / (time.perf_counter() - started)


def latency_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and 95th percentile of ``fn()`` wall time in milliseconds."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    parser.add_argument("--repeats", type=int, default=20, help="timed translations per setting")
    parser.add_argument("--model", default=str(cli.BUNDLED_MODELS), help="model folder for the latency rows")
    args = parser.parse_args()
    torch.manual_seed(0)
    cpu = platform.processor() or platform.machine()
    print(f"# {cpu}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    base = {"src_vocab_size": 6000, "tgt_vocab_size": 6000}
    batch = synthetic_batch(6000)
    rows = []
    for name in ("additive", "dot", "general", "baseline"):
        model = Seq2Seq(ModelConfig(**base, attention_type=None if name == "baseline" else name)).train()

        def step(b: dict, model: Seq2Seq = model) -> torch.Tensor:
            return model(b["src"], b["src_mask"], b["tgt_in"]).logits

        rows.append(
            (
                f"train {name} (Luong placement, all steps at once)",
                training_tokens_per_second(step, model.parameters(), batch, args.steps),
            )
        )

    config = ModelConfig(**base, attention_type="additive")
    encoder_model = Seq2Seq(config).train()
    loop_decoder = BahdanauDecoder(config).train()

    def loop_step(b: dict) -> torch.Tensor:
        annotations, summary = encoder_model.encoder(b["src"], b["src_mask"])
        return loop_decoder(b["tgt_in"], annotations, summary, b["src_mask"])

    loop_rate = training_tokens_per_second(
        loop_step, list(encoder_model.encoder.parameters()) + list(loop_decoder.parameters()), batch, args.steps
    )
    rows.append(("train additive (Bahdanau placement, step-by-step loop)", loop_rate))

    print("\n| training | target tokens/s | vs step-by-step loop |\n|---|---|---|")
    for label, rate in rows:
        print(f"| {label} | {rate:,.0f} | {rate / loop_rate:.2f}x |")

    if Path(args.model).is_dir():
        translator = Translator(args.model)
        print(f"\n| translating a 15-word sentence ({args.model}) | p50 ms | p95 ms |\n|---|---|---|")
        with torch.inference_mode():
            for name in translator.models:
                for beam in (1, 5):
                    p50, p95 = latency_ms(
                        lambda n=name, k=beam: translator.translate([SENTENCE_15_WORDS], n, k), args.repeats
                    )
                    print(f"| {name}, {'greedy' if beam == 1 else f'beam {beam}'} | {p50:.1f} | {p95:.1f} |")
    else:
        print(f"\n(no model folder at {args.model}: latency rows skipped)")


if __name__ == "__main__":
    main()
