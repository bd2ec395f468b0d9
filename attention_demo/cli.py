"""What the command lines share: checked argument types, the one-line error rule, folder-vs-Hub-id, and the
arguments and logging set-up that several commands take.

Every command line of the project (``train.py``, ``python -m attention_demo.translate``, ``python -m
attention_demo.evidence``, ``python -m attention_demo.alignment``; the app, the benchmarks and the scripts can reuse
the same pieces) fails the same way:

- **Usage errors** (a value out of range, an unknown choice, two arguments that do not fit together) are found while
  the arguments are parsed, before anything is loaded: one line ``error: argument --flag: ...`` that names the flag,
  the value and what is allowed, and exit status 2 (:class:`ArgumentParser`, :class:`Number`).
- **Expected failures** (a missing folder, an unreachable Hub, a corrupt file, ...) print one line ``error: ...``
  and exit with status 1; ``--debug`` prints the traceback above it (:func:`report_failures`). Anything else is a
  bug and still shows its traceback.
- **A folder or a Hub id** is told apart by one rule (:func:`folder_or_hub_id`).

The arguments the commands share are added by one function each (``add_model_argument``, ``add_beam_size_argument``,
...), so that they have one name, type, default and range everywhere; the corpus commands (evidence, alignment) share
their whole set-up: :func:`corpus_command_parser` and :func:`run_corpus_command`.

This module imports nothing heavy (no torch), so that it costs nothing to the tools that use it.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

# Beyond a few dozen hypotheses beam search only gets slower (and its translations often worse); 500 is a typo.
MAX_BEAM_SIZE = 50
MAX_ERROR_CHARS = 600  # a longer error message is cut (the whole message: --debug)
EXIT_FAILURE = 1  # an expected failure (usage errors exit with argparse's 2)
DEFAULT_MODEL_FOLDER = "models/multi30k-de-en"  # the bundled models, from the repository root (where commands run)
# The bundled models wherever the command runs: German -> English, and its English -> German twin.
BUNDLED_MODELS = Path(__file__).resolve().parents[1] / DEFAULT_MODEL_FOLDER
BUNDLED_REVERSE_MODELS = BUNDLED_MODELS.with_name("multi30k-en-de")
DEFAULT_BEAM_SIZE = 5
# Corpus commands log their progress with times; translate only warns, on stderr beside the translations on stdout.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WARNING_FORMAT = "%(levelname)s: %(message)s"


class CommandLineError(Exception):
    """An expected failure whose message tells the user what to do; reported as one ``error:`` line."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with a ``--debug`` flag and one-line usage errors (exit status 2).

    argparse prints the whole usage before an error; for ``train.py`` that is a screen of options above the one
    line that matters, so only the line is printed, with a pointer to ``--help``.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", help="on an error, also print its traceback")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


@dataclass(frozen=True)
class Number:
    """An argparse ``type``: an integer (``kind=int``) or a finite number (``kind=float``) inside a range.

    ``minimum``/``maximum`` are inclusive bounds, ``above``/``below`` exclusive ones; None means unbounded. A bad
    value raises ``argparse.ArgumentTypeError`` saying what is allowed, which argparse reports with the flag's name.

    >>> Number(int, minimum=1, maximum=50).describe()
    'an integer from 1 to 50'
    >>> Number(float, minimum=0, below=1).describe()
    'a number >= 0 and < 1'
    """

    kind: type = int
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None

    def describe(self) -> str:
        """What is allowed, in words."""
        noun = "an integer" if self.kind is int else "a number"
        if self.minimum is not None and self.maximum is not None:
            return f"{noun} from {self.minimum} to {self.maximum}"
        bounds = [
            f"{sign} {bound}"
            for sign, bound in ((">=", self.minimum), (">", self.above), ("<=", self.maximum), ("<", self.below))
            if bound is not None
        ]
        return f"{noun} {' and '.join(bounds)}" if bounds else noun

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            value = None
        if (
            value is None
            or not math.isfinite(value)
            or (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
            or (self.above is not None and value <= self.above)
            or (self.below is not None and value >= self.below)
        ):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {text!r}")
        return value


def boolean(text: str) -> bool:
    """An argparse ``type`` for true/false flags (``--flag``, ``--flag true``, ``--flag no``, ...)."""
    if text.lower() in {"1", "true", "yes", "y"}:
        return True
    if text.lower() in {"0", "false", "no", "n"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def nonempty(text: str) -> str:
    """An argparse ``type`` for a text that must not be empty or blank (a path, a name)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a non-empty value, got {text!r}")
    return text


def language_code(text: str) -> str:
    """An argparse ``type`` for a language code such as ``de`` or ``pt_br``: it names the dataset's columns and
    the tokenizer file (``tokenizer.<code>.json``), so it is letters, digits, ``-`` and ``_`` only."""
    if not text or not all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
        raise argparse.ArgumentTypeError(
            f"expected a language code such as de or en (letters, digits, '-' or '_'), got {text!r}"
        )
    return text


def _hub_id_problem(text: str) -> str | None:
    """Why ``text`` is not a valid Hub repo id (``name`` or ``owner/name``), or None if it is one."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError as error:
        return str(error)
    return None


def hub_id(text: str) -> str:
    """An argparse ``type`` for a Hub repo id, ``name`` or ``owner/name``."""
    if _hub_id_problem(text):
        raise argparse.ArgumentTypeError(
            f"expected a Hub repo id such as your-name/attention-demo (name or owner/name of letters, digits, '-', "
            f"'_' and '.'), got {text!r}"
        )
    return text


def folder_or_hub_id(argument: str, what: str) -> Path | str:
    """The one rule that tells a local folder from a Hub repo id (datasets and models alike).

    - ``argument`` exists locally (after ``~`` expansion): it is a folder; the returned :class:`~pathlib.Path`.
    - It starts with ``/``, ``.`` or ``~``, has more than one ``/``, or is no valid Hub id: it is a folder that does
      not exist, which raises.
    - Otherwise it is ``name`` or ``owner/name``: a Hub id, returned unchanged as a ``str`` (whether the Hub can be
      reached is the caller's question).

    Args:
        argument: the command-line value (or ``from_pretrained`` argument).
        what: what it names, for the message ("dataset", "model").

    Raises:
        FileNotFoundError: a local path that does not exist or is a file, with a message that says so.
    """
    if not argument.strip():
        raise FileNotFoundError(f"No {what} folder or Hub id given (the value is empty).")
    path = Path(argument).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise FileNotFoundError(f"The {what} folder {argument!r} does not exist: {argument!r} is a file.")
    if argument.startswith(("/", ".", "~")):
        raise FileNotFoundError(f"The {what} folder {argument!r} does not exist.")
    if argument.count("/") > 1 or _hub_id_problem(argument):
        raise FileNotFoundError(
            f"The {what} folder {argument!r} does not exist, and it is not a Hub id either (those are name or "
            "owner/name, of letters, digits, '-', '_' and '.')."
        )
    return argument


def local_model_folder(argument: str, written: str) -> Path:
    """A model folder that a command writes into (``written`` says what, for the message): it must be local.

    Raises:
        FileNotFoundError: a local path that does not exist (see :func:`folder_or_hub_id`).
        CommandLineError: a Hub id.
    """
    folder = folder_or_hub_id(argument, "model")
    if not isinstance(folder, Path):
        raise CommandLineError(
            f"--model {argument!r} is a Hub id, but {written} is written into the model folder: pass a local model "
            "folder."
        )
    return folder


def one_line(error: BaseException) -> str:
    """An exception's message on one line (whitespace runs become one space), cut at ``MAX_ERROR_CHARS``."""
    text = " ".join(str(error).split()) or type(error).__name__
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "… (--debug shows the whole message)"
    return text


def report_failures(
    work: Callable[[], int | None], debug: bool = False, expected: tuple[type[BaseException], ...] = ()
) -> int:
    """Run ``work`` and return its exit status (None counts as 0).

    An expected failure (:class:`CommandLineError`, any ``OSError``, which covers missing files and an
    unreachable Hub, and the types in ``expected``) prints one line ``error: <message>`` to stderr and returns 1;
    with ``debug`` the traceback is printed above that line. Other exceptions propagate: they are bugs and keep
    their traceback.
    """
    try:
        return work() or 0
    except (CommandLineError, OSError, *expected) as error:
        if debug:
            traceback.print_exc()
        print(f"error: {one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE


# ---------------------------------------------------------------------------------------------------------------------
# Arguments and set-up that several commands share
# ---------------------------------------------------------------------------------------------------------------------


def add_model_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--model``: a model folder (or, where the command allows it, a Hub id); the bundled models by default."""
    parser.add_argument("--model", type=nonempty, default=DEFAULT_MODEL_FOLDER, help=help_text)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dataset_name`` (required) and ``--dataset_config_name``, read as train.py reads them."""
    parser.add_argument(
        "--dataset_name", type=nonempty, required=True, help="Hub dataset id or local folder (as for train.py)"
    )
    parser.add_argument("--dataset_config_name", type=nonempty, default=None)


def add_beam_size_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--beam_size``: an integer from 1 to ``MAX_BEAM_SIZE``, ``DEFAULT_BEAM_SIZE`` unless given."""
    beam = Number(int, minimum=1, maximum=MAX_BEAM_SIZE)
    parser.add_argument("--beam_size", type=beam, default=DEFAULT_BEAM_SIZE, help=f"{help_text}; {beam.describe()}")


def add_max_samples_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--max_samples N``: only the first N ``what`` (all by default)."""
    samples = Number(int, minimum=1)
    parser.add_argument(
        "--max_samples", type=samples, default=None, help=f"the first N {what} (default: all); {samples.describe()}"
    )


def add_names_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--names NAME...``: which models of the folder (``default`` says which when it is not given)."""
    parser.add_argument("--names", nargs="*", type=nonempty, default=None, help=f"models (default: {default})")


def set_up_logging(level: int = logging.INFO, log_format: str = LOG_FORMAT) -> None:
    """Log to stderr from ``level`` on: called once a command's arguments are parsed (``--help`` logs nothing)."""
    logging.basicConfig(level=level, format=log_format)


def corpus_command_parser(prog: str, description: str, names_default: str, samples: str) -> ArgumentParser:
    """The parser of a command that computes numbers over a dataset split and writes them into a model folder: with
    ``--model`` (a local folder, written to), ``--dataset_name``, ``--dataset_config_name``, ``--max_samples`` (the
    first N ``samples``) and ``--names`` (``names_default`` when not given). The command adds its own arguments."""
    parser = ArgumentParser(prog=prog, description=description)
    add_model_argument(parser, "a local model folder (written to)")
    add_dataset_arguments(parser)
    add_max_samples_argument(parser, samples)
    add_names_argument(parser, names_default)
    return parser


def run_corpus_command(
    args: argparse.Namespace,
    written: str,
    work: Callable[[Path], int | None],
    expected: tuple[type[BaseException], ...] = (),
) -> int:
    """A corpus command after parsing: set up logging, check the cheap things first (``--model`` is a local folder,
    ``--dataset_name`` a folder that exists or a Hub id while the Hub is reachable), then ``work(folder)``; returns
    the exit status, every expected failure reported in one line (:func:`report_failures`).

    Args:
        args: from :func:`corpus_command_parser`.
        written: what the command writes into the folder, for the message when ``--model`` is a Hub id.
        work: the computation, given the model folder.
        expected: failures to report in one line besides ``CommandLineError`` and ``OSError`` (a dataset error,
            a corrupt model file, ...); the missing-dataset and unreachable-Hub errors are always among them.
    """
    from attention_demo.data import DatasetError, dataset_source  # torch: only once the arguments are parsed
    from attention_demo.model_repo import ModelLoadError

    set_up_logging()

    def checked_work() -> int | None:
        folder = local_model_folder(args.model, written)
        dataset_source(args.dataset_name)  # a missing folder or an unreachable Hub fails before any model is loaded
        return work(folder)

    return report_failures(checked_work, debug=args.debug, expected=(ModelLoadError, DatasetError, *expected))
