"""The app as a server: no process outlives it, and it deploys as the README's front matter declares.

- ``python app.py`` is stopped with SIGTERM and with SIGKILL; afterwards no process that it started remains. Every
  process it starts inherits its environment, so a marker variable finds them all, even re-parented ones.
- The Space's Python version (``python_version`` in README.md's front matter) satisfies the ``Requires-Python`` of
  every installed requirement and of their dependencies.
- The app starts as a Space starts it: a fresh virtual environment with ``requirements.txt`` alone (pip's cache is
  reused; torch comes from the local wheel directory when pip is configured with one), ``SYSTEM=spaces``,
  ``GRADIO_SERVER_NAME=0.0.0.0``, from the repository root, and answers ``/translate``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from benchmarks.app_server import free_port, stop, translate_request, wait_for_first_answer

STARTUP_TIMEOUT_S = 180.0
MARKER = "ATTENTION_DEMO_TEST_PROCESS"


def front_matter(field: str) -> str:
    """A field of README.md's YAML front matter (the Space configuration)."""
    header = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split("---")[1]
    match = re.search(rf"^{field}:\s*\"?([^\"\n]+)\"?\s*$", header, flags=re.MULTILINE)
    assert match, f"README.md's front matter has no {field}"
    return match.group(1).strip()


def processes_with(marker: str) -> list[int]:
    """The pids of the running processes whose environment holds ``MARKER=marker``."""
    found = []
    needle = f"{MARKER}={marker}".encode()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return found


def wait_until_gone(marker: str, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture(scope="module")
def app_folder(tiny_model_folder: Path) -> Path:
    return tiny_model_folder


@pytest.fixture
def running_app(app_folder: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python app.py`` on the tiny models, answering; yields the process and its marker."""
    from benchmarks.app_server import start_app

    marker = uuid.uuid4().hex
    port = free_port()
    process = start_app(str(app_folder), port, tmp_path / "app.log", **{MARKER: marker})
    try:
        wait_for_first_answer(process, f"http://127.0.0.1:{port}/", STARTUP_TIMEOUT_S)
        yield process, marker
    finally:
        if process.poll() is None:
            stop(process)
        for pid in processes_with(marker):  # never leave a process behind, even when the test fails
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_process_outlives_the_server(running_app: tuple[subprocess.Popen, str], how: signal.Signals) -> None:
    process, marker = running_app
    assert processes_with(marker) == [process.pid]  # the server alone: nothing forked or spawned beside it
    process.send_signal(how)
    process.wait(timeout=30)
    assert wait_until_gone(marker) == []


def test_the_declared_python_satisfies_every_requirement() -> None:
    """Every distribution that ``pip install -r requirements.txt`` installs accepts the Space's Python."""
    declared = front_matter("python_version")
    assert Version(declared).release[:2] == sys.version_info[:2], "the tests run on the Python the Space declares"
    running = Version(".".join(map(str, sys.version_info[:3])))
    environment = {"python_version": declared, "python_full_version": str(running)}
    lines = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    todo = [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]
    seen: dict[str, str] = {}
    while todo:
        requirement = todo.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen:
            continue
        distribution = metadata.distribution(requirement.name)
        seen[name] = distribution.metadata.get("Requires-Python") or ""
        for extra in ["", *requirement.extras]:
            for dependency in map(Requirement, distribution.requires or []):
                if dependency.marker is None or dependency.marker.evaluate({**environment, "extra": extra}):
                    todo.append(dependency)
    assert {"torch", "gradio", "numpy", "pandas", "matplotlib"} <= set(seen)
    refused = {
        name: spec
        for name, spec in seen.items()
        if not (SpecifierSet(spec).contains(Version(declared)) and SpecifierSet(spec).contains(running))
    }
    assert not refused, f"python_version {declared} is refused by {refused}"


@pytest.mark.slow
def test_the_app_starts_as_a_space_does(tmp_path: Path) -> None:
    """A fresh environment from requirements.txt alone (no test packages, the project not installed), then
    ``python app.py`` as Spaces runs it. Installing the requirements dominates (README, developer notes)."""
    venv = tmp_path / "space-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run(
        # --no-compile: byte-compiling every installed module took most of the time; imports compile what they use.
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check", "-r",
         "requirements.txt"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
    assert "attention-demo" not in installed.stdout.lower() and "pytest" not in installed.stdout.lower()

    marker = uuid.uuid4().hex
    port = free_port()
    space_env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    from benchmarks.app_server import start_app

    process = start_app(
        None, port, tmp_path / "space.log", python=python, base_env=space_env, SYSTEM="spaces",
        GRADIO_SERVER_NAME="0.0.0.0", **{MARKER: marker},
    )  # fmt: skip
    try:
        wait_for_first_answer(process, f"http://127.0.0.1:{port}/", STARTUP_TIMEOUT_S)
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        result = translate_request(client, "Ein Hund rennt über die Wiese.")
        assert result["notice"].startswith("Translated with") and result["heatmap"]["rows"]
        assert processes_with(marker) == [process.pid]  # no Node.js server (SSR) or other process beside it
    finally:
        stop(process)
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
    assert "Traceback" not in (tmp_path / "space.log").read_text(encoding="utf-8")
