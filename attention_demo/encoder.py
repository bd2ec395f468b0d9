"""The encoder: a bidirectional GRU that reads the source sentence (Bahdanau et al. 2015, section 3.2).

Each source position j gets an annotation ``h_j = [h_fwd_j ; h_bwd_j]`` that summarises the words around it, and the
sentence as a whole gets a fixed-size *summary* ``[h_fwd_S ; h_bwd_1]`` (the last forward and the last backward
state). The attention decoder reads all the annotations; the baseline reads only the summary (the bottleneck).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Encoder(nn.Module):
    """Bidirectional GRU encoder.

    Args:
        vocab_size: source vocabulary size.
        embedding_size: size of the source word embeddings.
        hidden_size: GRU size per direction; annotations have ``2 * hidden_size`` features.
        num_layers: stacked GRU layers.
        dropout: dropout on embeddings and between layers.
        pad_id: padding token id (its embedding stays zero).
        annotation_dropout: also apply dropout to the annotations (the keys and values of attention).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        pad_id: int,
        annotation_dropout: bool = True,
    ) -> None:
        super().__init__()
        self.annotation_dropout = annotation_dropout
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(
            embedding_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )

    def forward(
        self, src: torch.Tensor, src_mask: torch.Tensor, embedded: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a padded batch.

        Args:
            src: ``(batch, src_len)`` token ids.
            src_mask: ``(batch, src_len)`` bool, True for real tokens.
            embedded: ``(batch, src_len, emb)`` source embeddings to read instead of ``embedding(src)``: attribution
                differentiates with respect to them as an input, so nothing is hooked into the shared module.

        Returns:
            annotations ``(batch, src_len, 2*hidden)`` (zeros at padding) and summary ``(batch, 2*hidden)``.
        """
        if embedded is None:
            embedded = self.embedding(src)
        embedded = self.dropout(embedded)  # (batch, src_len, emb)
        if bool(src_mask.all()):
            # No padding (one sentence, or copies of one as in the evidence views): packing would change nothing
            # and costs more than the GRU itself in a backward pass.
            annotations, h_n = self.rnn(embedded)  # h_n: (num_layers*2, batch, hidden)
        else:
            lengths = src_mask.sum(dim=1).cpu()
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            packed_out, h_n = self.rnn(packed)
            annotations, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src.size(1))
        summary = torch.cat([h_n[-2], h_n[-1]], dim=-1)  # (batch, 2*hidden): last forward, last backward
        return (self.dropout(annotations) if self.annotation_dropout else annotations), summary
