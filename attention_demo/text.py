"""Cleaning user text before it reaches a tokenizer: the one rule shared by the app and the command lines.

The tokenizers accept only valid Unicode strings. Two things that are not arrive in practice: lone UTF-16 surrogates
(half of a pair, possible in JSON sent to the app) and, on a command line's stdin, bytes that are not UTF-8 (Python's
``surrogateescape`` error handler turns each such byte into a lone surrogate, so both cases are one case here). Each
becomes U+FFFD, the Unicode replacement character, which the tokenizer maps to ``<unk>``.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> tuple[str, int]:
    """``text`` with every lone surrogate replaced by U+FFFD, and the number of characters replaced.

    >>> clean_text("Hund\\udcff")
    ('Hund\\ufffd', 1)
    """
    cleaned, count = _SURROGATE.subn(REPLACEMENT, text)
    return cleaned, count
