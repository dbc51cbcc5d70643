"""Loading a model once, from a Hugging Face id (with revision) or a local folder, without
ever hanging: every failure becomes one clear `ModelUnavailable` line for the operator."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# Exiting while an abandoned load is inside torch aborts the process (SIGABRT, "terminate called without an
# active exception"), so exit waits this long for such loads to finish before giving up on them.
EXIT_GRACE_S = 10.0
_abandoned: list[threading.Thread] = []


@atexit.register
def _await_abandoned_loads() -> None:
    deadline = time.monotonic() + EXIT_GRACE_S
    for thread in _abandoned:
        thread.join(max(0.0, deadline - time.monotonic()))


class ModelUnavailable(RuntimeError):
    """A model cannot be loaded; the message is a one-line reason for the operator."""


def model_source(what: str, model: str | os.PathLike | None, revision: str | None) -> tuple[str, dict]:
    """Where `from_pretrained` reads a model, and its keyword arguments. One rule for every model:
    an existing folder is read as it is, offline; "name" or "org/name" is a Hugging Face id at
    ``revision``; anything else path-like is a folder that does not exist, and is never sent to the hub."""
    text = os.path.expanduser(str(model or "").strip())
    if not text:
        raise ModelUnavailable(f"no {what} model configured")
    path = Path(text)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelUnavailable(f"{what} model folder {path} has no config.json")
        return str(path), {"local_files_only": True}
    if path.exists() or path.is_absolute() or text.startswith((".", "~")) or text.count("/") > 1 or "\\" in text:
        raise ModelUnavailable(f"{what} model folder does not exist: {text}")
    return text, ({"revision": revision} if revision else {})


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


def _quiet_transformers() -> None:
    # Logs are structured and quiet: no progress bars of weights loading into them.
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def load_with_deadline(
    what: str, model: str | os.PathLike | None, revision: str | None, build: Callable[[str, dict], T], timeout: float
) -> T:
    """``build(source, from_pretrained kwargs)`` in a thread, given up after ``timeout`` seconds;
    ``what`` names the model kind in every message."""
    source, kwargs = model_source(what, model, revision)
    where = f"{source}@{revision}" if "revision" in kwargs else source
    box: dict = {}

    def load() -> None:
        try:
            _quiet_transformers()
            box["model"] = build(source, kwargs)
        except BaseException as exc:  # every failure becomes ModelUnavailable below
            box["error"] = exc

    started = time.monotonic()
    # A thread, not a signal: works off the main thread, and a load stuck on the network cannot hold the worker.
    thread = threading.Thread(target=load, name=f"{what}-load", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _abandoned.append(thread)
        raise ModelUnavailable(f"loading {what} model {where} timed out after {timeout:g}s")
    if "error" in box:
        error = box["error"]
        if isinstance(error, ModelUnavailable):
            raise ModelUnavailable(f"{what} model {where}: {error}")
        raise ModelUnavailable(f"cannot load {what} model {where}: {one_line(error)}")
    log.info("loaded %s model %s in %.1fs", what, where, time.monotonic() - started)
    return box["model"]
