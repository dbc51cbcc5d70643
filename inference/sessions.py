"""One session per runtime: a model's forward pass (a `Graph`) as numpy arrays in, float32 arrays out.

`TorchSession` runs the PyTorch module (bf16 autocast where the plan says); `OpenVINOSession`
converts the module once, keeps the converted model under the plan's cache folder (keyed by the
weights, the input spec, the precision and the OpenVINO version; a stale or corrupt entry is
rebuilt), and compiles it for the CPU: once with dynamic shapes, or once per distinct input shape
for graphs whose shapes come from a small set (DETR's aspect buckets). `open_session` falls back
to PyTorch, saying so once, when OpenVINO is missing or cannot convert the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .runtime import BF16_BOUND, Plan, autocast, exclusive

log = logging.getLogger("viewfinder.inference")
CACHE_FORMAT = 1
MAX_COMPILED_SHAPES = 16


@dataclass(frozen=True)
class Input:
    name: str
    shape: tuple[int, ...]  # -1 where the size varies
    dtype: str  # numpy dtype name: "float32", "int64", "bool"


@dataclass
class Graph:
    """A forward pass to run: ``module(*inputs)`` returns a tuple of tensors."""

    name: str  # "detr", "clip-image", ...: names the cache entry
    module: Any  # torch.nn.Module
    inputs: tuple[Input, ...]
    example: tuple[np.ndarray, ...]  # traced by the converter, and the warm-up input
    identity: dict = field(default_factory=dict)  # what names the weights: model id, revision, files
    static: bool = False  # compile one model per input shape (a few known shapes) instead of one dynamic model


# Token ids and their attention mask: the inputs of every text graph.
TOKEN_INPUTS = (Input("input_ids", (-1, -1), "int64"), Input("attention_mask", (-1, -1), "int64"))


def forward_of(model, call) -> Any:
    """``model`` as a torch module whose forward is ``call(model, *inputs)``, returning a tuple of tensors:
    the module a Graph runs and converts (the module holds ``model``, so its weights trace with it)."""
    import torch

    class Forward(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return call(self.model, *inputs)

    return Forward()


class Session(Protocol):
    runtime: str
    precision: str

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]: ...


def weights_identity(source: str, revision: str | None = None) -> dict:
    """What identifies a model's weights: a folder by its files' names, sizes and times; a hub id by id and revision."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        return {
            "source": str(path.resolve()),
            "files": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files],
        }
    return {"source": source, "revision": revision or ""}


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| over max |a|: how far ``b`` strays from ``a``, relative to the outputs' scale."""
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else float(np.max(np.abs(b), initial=0.0))


class TorchSession:
    runtime = "torch"

    def __init__(self, graph: Graph, plan: Plan):
        import torch

        self.graph, self.plan, self.precision = graph, plan, plan.precision
        self._torch = torch
        if plan.device == "cpu":
            torch.set_num_threads(plan.threads)
        graph.module.to(plan.device).eval()

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        torch = self._torch
        tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(self.plan.device) for a in arrays]
        with exclusive(), torch.inference_mode(), autocast(self.plan):
            outputs = self.graph.module(*tensors)
        # Post-processing in float32: bf16 scores would make thresholds coarse.
        return [o.float().cpu().numpy() for o in outputs]


class OpenVINOSession:
    runtime = "openvino"

    def __init__(self, graph: Graph, plan: Plan):
        import openvino as ov

        self.graph, self.plan = graph, plan
        self._core = ov.Core()
        self._model = self._cached_model(ov)
        self.precision = plan.precision
        self._compiled: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        if plan.verify_bf16 and plan.precision == "bf16":
            if not self._bf16_holds():
                self.precision = "f32"
            # The check compiled both precisions: keep only the one that runs (DETR-R50's is ~170 MB).
            self._compiled = {key: c for key, c in self._compiled.items() if key[0] == self.precision}

    # -- the converted model, cached on disk ------------------------------------------------
    def cache_key(self, version: str) -> dict:
        return {
            "format": CACHE_FORMAT,
            "graph": self.graph.name,
            "weights": self.graph.identity,
            "inputs": [[i.name, list(i.shape), i.dtype] for i in self.graph.inputs],
            "precision": self.plan.precision,
            "openvino": version,
        }

    def _cached_model(self, ov):
        key = self.cache_key(ov.get_version())
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        root = Path(self.plan.cache_dir or Path(tempfile.gettempdir()) / "viewfinder-models")
        self.folder = folder = root / f"{self.graph.name}-{digest}"
        meta = folder / "meta.json"
        if meta.is_file():
            try:
                stored = json.loads(meta.read_text())
                if stored.get("key") != key:
                    raise ValueError("the key differs")
                if stored.get("files") != _digests(folder):
                    raise ValueError("its files differ from what was written")
                return self._core.read_model(str(folder / "model.xml"))
            except Exception as exc:  # corrupt XML, truncated weights, unreadable meta: convert afresh
                log.warning("converted %s model in %s is unusable, rebuilding: %s", self.graph.name, folder, exc)
                shutil.rmtree(folder, ignore_errors=True)
        started = time.monotonic()
        model = self._convert(ov)
        root.mkdir(parents=True, exist_ok=True)
        # Written beside, then renamed into place: a reader sees a whole entry or none. When two
        # processes convert at once, the first rename wins and the second finds the folder taken.
        building = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
        try:
            ov.save_model(model, str(building / "model.xml"), compress_to_fp16=False)
            meta_text = json.dumps({"key": key, "files": _digests(building), "seconds": time.monotonic() - started})
            (building / "meta.json").write_text(meta_text)
            os.replace(building, folder)
        except OSError as exc:
            if not (folder / "meta.json").is_file():
                log.warning("cannot keep the converted %s model in %s: %s", self.graph.name, root, exc)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        log.info("converted %s for OpenVINO in %.1fs", self.graph.name, time.monotonic() - started)
        return model

    def _convert(self, ov):
        import torch

        shapes = [ov.PartialShape(list(i.shape)) for i in self.graph.inputs]
        example = tuple(torch.from_numpy(a) for a in self.graph.example)
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # The tracer warns of every Python branch on a shape;
            # tests/unit/test_inference.py shows the graphs hold across shapes.
            warnings.simplefilter("ignore")
            model = ov.convert_model(self.graph.module.eval(), example_input=example, input=shapes)
        for port, spec in zip(model.inputs, self.graph.inputs):
            port.get_tensor().set_names({spec.name})
        return model

    # -- compiled models, by precision and (for static graphs) input shape ---------------------
    def _compiled_for(self, arrays: tuple[np.ndarray, ...], precision: str):
        shapes = tuple(a.shape for a in arrays) if self.graph.static else ()
        key = (precision, shapes)
        with self._lock:
            compiled = self._compiled.get(key)
            if compiled is None:
                if len(self._compiled) >= MAX_COMPILED_SHAPES:
                    self._compiled.pop(next(iter(self._compiled)))
                model = self._model
                if shapes:
                    model = self._model.clone()
                    model.reshape({spec.name: list(shape) for spec, shape in zip(self.graph.inputs, shapes)})
                config = {
                    "INFERENCE_PRECISION_HINT": precision,
                    "INFERENCE_NUM_THREADS": self.plan.threads,
                    "PERFORMANCE_HINT": "LATENCY",
                    # Compiled blobs too: a restarted worker is ready in a fraction of the compile time.
                    "CACHE_DIR": str(self.folder / "compiled"),
                }
                compiled = self._compiled[key] = self._core.compile_model(model, "CPU", config)
            return compiled

    def _infer(self, arrays: tuple[np.ndarray, ...], precision: str) -> list[np.ndarray]:
        compiled = self._compiled_for(arrays, precision)
        request = compiled.create_infer_request()
        with exclusive():
            request.infer({spec.name: np.ascontiguousarray(a) for spec, a in zip(self.graph.inputs, arrays)})
        return [
            np.asarray(request.get_output_tensor(i).data, dtype=np.float32).copy() for i in range(len(compiled.outputs))
        ]

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        if not self.graph.static or len(arrays[0]) <= 1:
            return self._infer(arrays, self.precision)
        # One image at a time: a CPU gains nothing from batching DETR, and every batch size
        # would be another shape to compile (seconds each).
        rows = [self._infer(tuple(a[i : i + 1] for a in arrays), self.precision) for i in range(len(arrays[0]))]
        return [np.concatenate(parts) for parts in zip(*rows)]

    def _bf16_holds(self) -> bool:
        """bf16 on the example input against f32: within BF16_BOUND, remembered beside the converted model."""
        verdict = self.folder / "bf16.json"
        try:
            return bool(json.loads(verdict.read_text())["holds"])
        except (OSError, ValueError, KeyError):
            pass
        f32 = self._infer(self.graph.example, "f32")
        bf16 = self._infer(self.graph.example, "bf16")
        worst = max(relative_difference(a, b) for a, b in zip(f32, bf16))
        holds = worst <= BF16_BOUND
        if not holds:
            log.warning(
                "%s in bf16 strays %.3g from f32 (bound %g): running it in f32", self.graph.name, worst, BF16_BOUND
            )
        try:
            verdict.write_text(json.dumps({"holds": holds, "difference": worst}))
        except OSError:
            pass
        return holds


def _digests(folder: Path) -> dict[str, str]:
    """SHA-256 of the converted model's files: a flipped bit is caught, not only a truncation."""
    out = {}
    for name in ("model.xml", "model.bin"):
        digest = hashlib.sha256()
        with open(folder / name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        out[name] = digest.hexdigest()
    return out


_said: set[str] = set()


def open_session(graph: Graph, plan: Plan) -> Session:
    """The session ``plan`` asks for; PyTorch, said once per reason, when OpenVINO cannot run ``graph``."""
    if plan.runtime == "openvino":
        try:
            return OpenVINOSession(graph, plan)
        except Exception as exc:
            from .loading import one_line

            reason = f"OpenVINO cannot run {graph.name}, using PyTorch: {one_line(exc)}"
            if reason not in _said:
                _said.add(reason)
                log.warning(reason)
    return TorchSession(graph, plan)
