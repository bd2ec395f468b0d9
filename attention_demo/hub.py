"""The Hugging Face Hub round trip: is the Hub reachable, download a model repo, push a model repo.

An unreachable Hub costs ``huggingface_hub`` and ``datasets`` many seconds of retries per call. We therefore probe
the Hub's host once with a short TCP connect and, when it is unreachable, fail at once with a message that says what
to do (or, for downloads, fall back to the local cache in offline mode).
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from attention_demo.cli import folder_or_hub_id
from attention_demo.model_repo import CHECKPOINT_DIR

HUB_PROBE_TIMEOUT_S = 3.0
# Never uploaded: resumable training state is large and only useful locally.
PUSH_IGNORE_PATTERNS = [f"{CHECKPOINT_DIR}/*", f"{CHECKPOINT_DIR}/**", "*.tmp"]


class HubUnreachableError(ConnectionError):
    """The Hugging Face Hub cannot be reached from this machine."""


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


@functools.cache
def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """True if a TCP connection to the Hub endpoint opens within ``timeout`` seconds (cached per process).

    ``HF_HUB_OFFLINE=1`` means "do not try": it returns False without touching the network.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    url = urlparse(_endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_hub(what: str, alternative: str) -> None:
    """Raise :class:`HubUnreachableError` naming ``what`` needed the Hub and what to do instead."""
    if not hub_reachable():
        raise HubUnreachableError(
            f"The Hugging Face Hub ({_endpoint()}) is not reachable, so {what} cannot be downloaded; {alternative}."
        )


def resolve_model_folder(path_or_repo_id: str, revision: str | None = None) -> Path:
    """Return a local folder for a model repo: the path itself, or a downloaded (or cached) Hub snapshot.

    Which one ``path_or_repo_id`` names is decided by :func:`attention_demo.cli.folder_or_hub_id`.

    Raises:
        FileNotFoundError: a folder that does not exist, or a Hub id that could not be downloaded.
        HubUnreachableError: a Hub id that is not in the local cache while the Hub is unreachable.
    """
    source = folder_or_hub_id(path_or_repo_id, "model")
    if isinstance(source, Path):
        return source

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    online = hub_reachable()
    try:
        return Path(snapshot_download(path_or_repo_id, revision=revision, local_files_only=not online))
    except LocalEntryNotFoundError as error:
        raise HubUnreachableError(
            f"The Hugging Face Hub is not reachable and {path_or_repo_id!r} is not in the local cache; "
            "pass a local model folder instead (for example models/multi30k-de-en)."
        ) from error
    except (HfHubHTTPError, ValueError) as error:
        raise FileNotFoundError(f"Could not download model repo {path_or_repo_id!r} from the Hub: {error}") from error


def push_folder(folder: str | Path, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Upload a model folder to the Hub repo ``repo_id`` (created if needed); returns the commit URL.

    The token comes from ``token``, else ``HF_TOKEN``, else a saved ``hf auth login``. Local files are never
    changed, so a failed push leaves the folder complete.
    """
    from huggingface_hub import HfApi

    require_hub(f"the model repo {repo_id!r}", "push later with --push_to_hub when online")
    api = HfApi(token=token or os.environ.get("HF_TOKEN"))
    api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        ignore_patterns=PUSH_IGNORE_PATTERNS,
        commit_message="Upload attention-demo models",
    )
    return str(getattr(commit, "commit_url", commit))
