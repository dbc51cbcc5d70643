"""Loading a model once, from a Hugging Face id (with revision) or a local folder, without
ever hanging: every failure becomes one clear `ModelUnavailable` line for the operator."""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

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


def looks_local(model: str) -> bool:
    # A hub id is "name" or "org/name"; anything path-like must never be sent to the hub.
    return (
        os.path.exists(model)
        or os.path.isabs(model)
        or model.startswith((".", "~"))
        or model.count("/") > 1
        or (os.sep != "/" and os.sep in model)
    )


def pretrained_kwargs(model: str, revision: str | None) -> dict:
    """`from_pretrained` arguments: a folder is read as it is, a hub id at its revision."""
    if Path(model).is_dir():
        return {"local_files_only": True}
    return {"revision": revision} if revision else {}


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


def load_with_deadline(what: str, model: str, revision: str | None, build: Callable[[str], T], timeout: float) -> T:
    """``build(model)`` in a thread, given up after ``timeout`` seconds; ``what`` names the model kind."""
    if not model or not model.strip():
        raise ModelUnavailable(f"no {what} model configured")
    model = os.path.expanduser(model.strip())
    where = model if not revision or Path(model).is_dir() else f"{model}@{revision}"
    if looks_local(model) and not Path(model).is_dir():
        raise ModelUnavailable(f"{what} model folder does not exist: {model}")
    box: dict = {}

    def load() -> None:
        try:
            box["model"] = build(model)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes ModelUnavailable below
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
        raise ModelUnavailable(f"cannot load {what} model {where}: {one_line(box['error'])}")
    log.info("loaded %s model %s in %.1fs", what, where, time.monotonic() - started)
    return box["model"]
