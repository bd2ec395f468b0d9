"""The sequence-to-sequence model: ``Encoder`` + ``Decoder``, with or without attention, saved/loaded via the Hub.

``Seq2Seq.save_pretrained(folder)`` writes ``config.json`` and ``model.safetensors``;
``Seq2Seq.from_pretrained(folder_or_hub_id)`` reads them back (``model_repo.load_model`` loads strictly, with clear
errors).
"""

# No ``from __future__ import annotations`` here: PyTorchModelHubMixin reads the real ``ModelConfig`` annotation of
# ``__init__`` to turn config.json back into a dataclass.
from dataclasses import dataclass

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from attention_demo.attention import ATTENTION_INITS, ATTENTION_TYPES
from attention_demo.decoder import Decoder, DecoderOutput, DecoderState, EncoderMemory
from attention_demo.encoder import Encoder

BASELINE = "baseline"  # the model name (and --attention value) for the model without attention
# Every model a folder may hold, in display order (the app, tables, training): the Bahdanau score first.
MODEL_NAMES = ("additive", "general", "dot", BASELINE)
assert set(MODEL_NAMES) == {*ATTENTION_TYPES, BASELINE}, "every attention type has a model name"


@dataclass
class ModelConfig:
    """Every hyper-parameter that fixes the architecture; stored as the model's config.json."""

    src_vocab_size: int
    tgt_vocab_size: int
    attention_type: str | None = "additive"  # "dot", "general", "additive", or None for the baseline
    embedding_size: int = 256
    encoder_hidden_size: int = 192  # per direction
    decoder_hidden_size: int = 384  # = 2 * encoder_hidden_size, so that dot attention needs no projection
    attention_size: int = 192  # hidden size of the additive score network
    num_layers: int = 1
    dropout: float = 0.3
    tie_embeddings: bool = True
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3
    source_lang: str = "de"
    target_lang: str = "en"
    # The decoder's design (see decoder.py); the defaults are the design of the first bundled models.
    attention_placement: str = "luong"  # "luong": attend from s_t; "bahdanau": from s_{t-1}, context into the GRU
    input_feeding: bool = False  # feed s~_{t-1} into the GRU (Luong et al. 2015, section 3.3)
    summary_input: bool = True  # the GRU reads the encoder summary z at every step
    null_slot: bool = False  # a learned "no source word" position for attention
    attend_eos: bool = True  # whether </s> is among the positions attention may read
    annotation_dropout: bool = True  # dropout on the encoder annotations (attention's keys and values)
    # Remedies for the </s> sink (issue 19; decoder.py); the defaults change nothing. The baseline ignores both.
    attention_init: str = "default"  # "bahdanau": v_a = 0, W_q, W_k ~ N(0, 0.001^2) (appendix B.1; additive only)
    context_gate: bool = False  # c_t <- sigmoid(w_g^T [s_t ; c_t] + b_g) c_t: a way to take nothing from the source

    def __post_init__(self) -> None:
        if self.attention_type is not None and self.attention_type not in ATTENTION_TYPES:
            raise ValueError(
                f"Unknown attention type {self.attention_type!r}; choose one of {', '.join(ATTENTION_TYPES)} "
                "or None for the baseline."
            )
        if self.attention_init not in ATTENTION_INITS:
            raise ValueError(
                f"Unknown attention_init {self.attention_init!r}; choose one of {', '.join(ATTENTION_INITS)}."
            )
        if self.attention_init == "bahdanau" and self.attention_type not in ("additive", None):
            raise ValueError(
                f"attention_init 'bahdanau' initialises the additive score (v_a, W_q, W_k); {self.attention_type!r} "
                "attention has none of these. Use attention_type 'additive' or attention_init 'default'."
            )


class Seq2Seq(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="attention-demo",
    tags=["translation", "seq2seq", "gru", "attention"],
    repo_url="https://github.com/attention-demo/attention-demo",
):
    """GRU encoder-decoder; ``config.attention_type=None`` gives the no-attention baseline."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        context_size = 2 * config.encoder_hidden_size
        self.encoder = Encoder(
            config.src_vocab_size,
            config.embedding_size,
            config.encoder_hidden_size,
            config.num_layers,
            config.dropout,
            config.pad_id,
            annotation_dropout=config.annotation_dropout,
        )
        self.decoder = Decoder(
            config.tgt_vocab_size,
            config.embedding_size,
            config.decoder_hidden_size,
            context_size,
            config.num_layers,
            config.attention_type,
            config.attention_size,
            config.dropout,
            config.tie_embeddings,
            config.pad_id,
            placement=config.attention_placement,
            input_feeding=config.input_feeding,
            summary_input=config.summary_input,
            null_slot=config.null_slot,
            attention_init=config.attention_init,
            context_gate=config.context_gate,
        )

    @property
    def has_attention(self) -> bool:
        return self.config.attention_type is not None

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor, embedded: torch.Tensor | None = None) -> EncoderMemory:
        """src ``(batch, src_len)`` ids, src_mask ``(batch, src_len)`` bool -> what the decoder reads.

        ``embedded`` ``(batch, src_len, emb)``: source embeddings to read instead of looking ``src`` up (attribution
        takes them as its input; see ``Encoder.forward``).
        """
        # (batch, src_len, 2*enc_hidden), (batch, 2*enc_hidden)
        annotations, summary = self.encoder(src, src_mask, embedded)
        return self.decoder.memory(annotations, summary, self.attention_mask(src, src_mask))

    def attention_mask(self, src: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """``(batch, src_len)`` bool: the positions attention may read (without ``</s>`` unless ``attend_eos``).

        A source that is only ``</s>`` keeps it, so that every row has a position to attend to.
        """
        if self.config.attend_eos:
            return src_mask
        mask = src_mask & (src != self.config.eos_id)
        return torch.where(mask.any(dim=1, keepdim=True), mask, src_mask)

    def decode(
        self,
        tgt_in: torch.Tensor,
        memory: EncoderMemory,
        hidden: DecoderState | None = None,
        weights_override: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        logits: bool = True,
    ) -> DecoderOutput:
        """tgt_in ``(batch, tgt_len)`` -> logits ``(batch, tgt_len, vocab)``, new hidden state, attention.

        ``positions`` ``(batch,)``: only row ``n``'s output at position ``positions[n]``, logits ``(batch, 1, vocab)``
        (see ``Decoder.forward``). ``logits=False``: skip the output layer (``logits`` is None).
        """
        return self.decoder(tgt_in, memory, hidden, weights_override, positions, logits)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor) -> DecoderOutput:
        """Teacher-forced pass over all target steps at once.

        Args:
            src: ``(batch, src_len)`` source ids ending in ``</s>``.
            src_mask: ``(batch, src_len)`` bool, True for real tokens.
            tgt_in: ``(batch, tgt_len)`` target ids starting with ``<s>`` (the target shifted right).

        Returns:
            ``DecoderOutput`` with logits ``(batch, tgt_len, vocab)`` and attention weights
            ``(batch, tgt_len, src_len)`` (None for the baseline).
        """
        return self.decode(tgt_in, self.encode(src, src_mask))
