"""Where models run, chosen in one place: the GPU when there is one, with bfloat16 autocast
(measured ×1.6 on an H200 for DETR at the same labels), else the CPU in float32."""

from __future__ import annotations

import contextlib

import torch


def device(wanted: str | None = None) -> torch.device:
    """``wanted`` ("cpu", "cuda"), else the GPU when there is one."""
    return torch.device(wanted or ("cuda" if torch.cuda.is_available() else "cpu"))


def autocast(on: torch.device):
    """The precision context for a forward pass on ``on``. Post-processing stays in float32."""
    if on.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
