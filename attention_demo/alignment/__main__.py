"""``python -m attention_demo.alignment``: the corpus alignment command (:func:`.command.main`)."""

import sys

from attention_demo.alignment.command import main

if __name__ == "__main__":
    sys.exit(main())
