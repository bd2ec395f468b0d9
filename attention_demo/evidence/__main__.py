"""``python -m attention_demo.evidence``: the corpus evidence command (:func:`attention_demo.evidence.corpus.main`)."""

import sys

from attention_demo.evidence.corpus import main

if __name__ == "__main__":
    sys.exit(main())
