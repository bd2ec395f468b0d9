"""attention-demo: translate German to English with and without attention, and look inside the attention.

    python app.py                      # bundled models (models/multi30k-de-en), http://127.0.0.1:7860
    python app.py --model user/repo    # a Hub model repo or a local folder (also: MODEL_REPO=...)
    python app.py --reverse_model user/repo-en-de   # the other direction's page (default: models/multi30k-en-de)

The Spaces entry point. The app itself is the package ``attention_demo.ui`` (see its docstring for the modules).
The server listens on ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``.
"""

from __future__ import annotations

import os

from attention_demo import cli


def main(argv: list[str] | None = None) -> None:
    parser = cli.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        type=cli.nonempty,
        default=os.environ.get("MODEL_REPO") or None,
        help="Hub model repo id or local folder (default: MODEL_REPO, else the bundled models); if it cannot be "
        "loaded, the app serves the bundled models and says so",
    )
    parser.add_argument(
        "--reverse_model",
        type=cli.nonempty,
        default=os.environ.get("REVERSE_MODEL_REPO") or None,
        help="the other direction's models (Hub model repo id or local folder; default: REVERSE_MODEL_REPO, else the "
        "bundled models/multi30k-en-de), shown on a second page; they must use the same two tokenizers",
    )
    args = parser.parse_args(argv)
    from attention_demo.ui.serving import serve  # after parsing: --help stays instant

    serve(args.model, args.reverse_model, debug=args.debug)


if __name__ == "__main__":
    main()
