"""attention-demo: translate German to English with and without attention, and look inside the attention.

    python app.py                      # bundled models (models/multi30k-de-en), http://127.0.0.1:7860
    python app.py --model user/repo    # a Hub model repo or a local folder (also: MODEL_REPO=...)

The Spaces entry point. The app itself is the package ``attention_demo.ui`` (see its docstring for the modules).
The server listens on ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``.
"""

from __future__ import annotations

import os
from pathlib import Path

from attention_demo import cli

BUNDLED_MODELS = Path(__file__).resolve().parent / "models" / "multi30k-de-en"


def main(argv: list[str] | None = None) -> None:
    parser = cli.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        type=cli.nonempty,
        default=os.environ.get("MODEL_REPO") or None,
        help="Hub model repo id or local folder (default: MODEL_REPO, else the bundled models); if it cannot be "
        "loaded, the app serves the bundled models and says so",
    )
    args = parser.parse_args(argv)
    from attention_demo.ui.serving import serve  # after parsing: --help stays instant

    serve(args.model, BUNDLED_MODELS, debug=args.debug)


if __name__ == "__main__":
    main()
