"""Where and how models run, chosen in one place.

A GPU runs PyTorch with bfloat16 autocast (measured ×1.6 on an H200 for DETR at the same labels).
A CPU runs OpenVINO (measured 2.5× PyTorch fp32 for DETR-R50 on 2 cores at f32, 4.8× at bf16),
in bf16 where the CPU computes it natively and the model's outputs stay within `BF16_BOUND` of
f32, else f32. Intra-op threads are sized so that the worker processes together use the cores
once: several models in one process take turns (`exclusive`) rather than split the cores.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

# The largest difference bf16 may make to a model's outputs, relative to their largest magnitude,
# for `precision=auto` to keep bf16; measured 2.2e-2 on DETR-R50's logits (docs/benchmarks.md).
BF16_BOUND = 0.05
RUNTIMES = ("auto", "openvino", "torch")
PRECISIONS = ("auto", "f32", "bf16")


@dataclass(frozen=True)
class Plan:
    runtime: str  # "openvino" | "torch"
    device: str  # "cpu" | "cuda"
    precision: str  # "f32" | "bf16"
    threads: int  # intra-op threads per forward pass
    cache_dir: Path | None = None  # where converted models are kept (OpenVINO)
    why: str = ""  # one line for the log: how the choice was made
    verify_bf16: bool = False  # precision was "auto": bf16 holds only if the outputs stay within BF16_BOUND

    def describe(self) -> str:
        return f"{self.runtime} on {self.device}, {self.precision}, {self.threads} threads ({self.why})"


def choose(
    runtime: str = "auto",
    precision: str = "auto",
    *,
    cuda: bool,
    bf16_native: bool,
    cpus: int,
    processes: int = 1,
    threads: int = 0,
    cache_dir: Path | None = None,
) -> Plan:
    """The plan for a process, from the settings and what the machine has (pure: tested as is)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"inference runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    share = threads if threads > 0 else max(1, cpus // max(1, processes))
    if cuda and runtime != "openvino":
        # The GPU path as it always was: PyTorch, bf16 autocast unless f32 is asked for.
        chosen = "f32" if precision == "f32" else "bf16"
        return Plan("torch", "cuda", chosen, share, cache_dir, "CUDA device present")
    backend = "torch" if runtime == "torch" else "openvino"
    why = f"{'asked for' if runtime != 'auto' else 'CPU'}; {share} of {cpus} cores for each of {processes} processes"
    if precision == "auto":
        if bf16_native:
            return Plan(backend, "cpu", "bf16", share, cache_dir, why + "; native bf16", verify_bf16=True)
        return Plan(backend, "cpu", "f32", share, cache_dir, why + "; no native bf16")
    return Plan(backend, "cpu", precision, share, cache_dir, why)


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU computes bf16 in hardware (AVX-512 BF16 or AMX): elsewhere bf16 is emulated, slower than f32."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def plan_for(settings, processes: int | None = None) -> Plan:
    """The plan for this process from ``settings`` (``processes``: how many share the cores; the workers by default)."""
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    return choose(
        settings.inference,
        settings.precision,
        cuda=cuda,
        bf16_native=native_bf16(),
        cpus=usable_cpus(),
        processes=settings.workers if processes is None else processes,
        threads=settings.inference_threads,
        cache_dir=model_cache(settings),
    )


def model_cache(settings) -> Path:
    return Path(settings.model_cache) if settings.model_cache else Path(settings.data_dir) / "models"


# One forward pass at a time in a process: DETR and CLIP sharing a worker each get all its
# threads in turn instead of halving them at once (which oversubscribes the cores).
_turn = threading.Lock()


def exclusive():
    return _turn


def autocast(plan: Plan):
    """PyTorch's precision context for a forward pass under ``plan``; post-processing stays in float32."""
    import torch

    if plan.precision == "bf16":
        return torch.autocast(plan.device, dtype=torch.bfloat16)
    return contextlib.nullcontext()
