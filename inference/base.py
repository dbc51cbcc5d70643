"""The model layer every model goes through: load once per process (from a folder or a hub id,
within a deadline, else one clear `ModelUnavailable`), then predict through sessions of the
runtime the plan names; `warm_up` converts and compiles ahead of the first real input."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import ClassVar, TypeVar

from .loading import load_with_deadline
from .runtime import Plan, plan_for
from .sessions import Graph, Session, open_session, weights_identity

log = logging.getLogger("viewfinder.inference")
M = TypeVar("M", bound="InferenceModel")


class InferenceModel:
    """One model's weights and its forward passes (graphs, built on first use), run by sessions."""

    kind: ClassVar[str] = "model"  # names the model in every message: "detection", "image embedding", ...

    def __init__(self, source: str, pretrained: dict | None = None, plan: Plan | None = None):
        self.model_name = source
        self.pretrained = pretrained or {}
        self.plan = plan or default_plan()
        self.identity = weights_identity(source, self.pretrained.get("revision"))
        self._graphs: dict[str, Graph] = {}
        self._sessions: dict[str, Session] = {}
        self._opening = threading.Lock()

    def graph_builders(self) -> dict[str, Callable[[], Graph]]:
        """The model's forward passes by name; each builds a `Graph` when its session first opens."""
        raise NotImplementedError

    def session(self, name: str) -> Session:
        with self._opening:
            if name not in self._sessions:
                graph = self.graph_builders()[name]()
                graph.identity = {**self.identity, **graph.identity}
                self._graphs[name] = graph
                self._sessions[name] = open_session(graph, self.plan)
                log.info("%s %s runs on %s", self.kind, name, self.runtime(name))
        return self._sessions[name]

    def runtime(self, name: str) -> str:
        session = self._sessions[name]
        return f"{session.runtime} {session.precision}, {self.plan.threads} threads"

    def warm_up(self) -> dict[str, str]:
        """Open every session and run its example once (converting and compiling as needed); what runs where."""
        out = {}
        for name in self.graph_builders():
            session = self.session(name)
            session.run(*self._graphs[name].example)
            out[name] = self.runtime(name)
        return out

    @classmethod
    def load(cls: type[M], model, revision: str | None, timeout: float, plan: Plan | None = None, **options) -> M:
        """The process's instance for these weights and options, loading it within ``timeout`` seconds."""
        return load_with_deadline(
            cls.kind,
            model,
            revision,
            lambda source, pretrained: shared(cls, source, pretrained, plan, **options),
            timeout,
        )


_instances: dict[tuple, InferenceModel] = {}
_key_locks: dict[tuple, threading.Lock] = {}
_registry_lock = threading.Lock()


def shared(cls: type[M], source: str, pretrained: dict | None, plan: Plan | None, **options) -> M:
    """One instance per process for (class, weights, plan, options): the gateway's handlers and a worker's
    stages share it. A load that fails is not remembered, so the next attempt tries again."""
    plan = plan or default_plan()
    key = (cls, source, tuple(sorted((pretrained or {}).items())), plan, tuple(sorted(options.items())))
    with _registry_lock:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _instances:
            _instances[key] = cls(source, pretrained, plan, **options)
        return _instances[key]  # type: ignore[return-value]


_default: list[Plan] = []


def default_plan() -> Plan:
    """The plan from this process's VIEWFINDER_ variables, worked out once."""
    if not _default:
        from core.settings import Settings

        _default.append(plan_for(Settings.from_env(dict(os.environ))))
    return _default[0]
