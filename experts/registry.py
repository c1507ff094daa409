"""The experts the agent may call. Built-ins are listed here by import path so that listing
them (names, descriptions, arguments) imports no model library."""

from __future__ import annotations

import importlib
from typing import Any

from experts.base import Expert, ExpertError

BUILTIN: dict[str, str] = {
    "speech-to-text": "experts.speech:SpeechToText",
    "object-detection": "experts.detection:ObjectDetection",
    "pose-estimation": "experts.pose:PoseEstimation",
    "face-recognition": "experts.faces:FaceRecognition",
    "memory-search": "experts.memory_tools:MemorySearch",
    "memory-save": "experts.memory_tools:MemorySave",
}


def expert_class(name: str) -> type[Expert]:
    try:
        target = BUILTIN[name]
    except KeyError:
        raise ExpertError(f"Unknown expert {name!r}. Experts: {', '.join(BUILTIN)}.") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class ExpertRegistry:
    """Owns one instance per expert (weights load on first run) and closes them all."""

    def __init__(self, db: Any = None, classes: dict[str, type[Expert]] | None = None,
                 options: dict[str, dict[str, Any]] | None = None, memory: Any = None):
        """`classes` replaces the built-ins (tests register small fakes this way); `options`
        are constructor arguments per expert (the speech model variant, say); `memory`
        returns the personal memory (or None) for the memory experts."""
        self.db = db
        self.memory = memory
        self._classes = classes
        self._options = options or {}
        self._instances: dict[str, Expert] = {}

    def names(self) -> list[str]:
        return list(self._classes if self._classes is not None else BUILTIN)

    def _class(self, name: str) -> type[Expert]:
        if self._classes is None:
            return expert_class(name)
        if name not in self._classes:
            raise ExpertError(f"Unknown expert {name!r}. Experts: {', '.join(self._classes)}.")
        return self._classes[name]

    def get(self, name: str) -> Expert:
        if name not in self._instances:
            cls = self._class(name)
            kwargs = dict(self._options.get(name, {}))
            if getattr(cls, "needs_db", False):
                kwargs["db"] = self.db
            if getattr(cls, "needs_memory", False):
                kwargs["memory"] = self.memory
            self._instances[name] = cls(**kwargs)
        return self._instances[name]

    def tool_specs(self) -> list[dict[str, Any]]:
        return [self._class(n).tool_spec() for n in self.names()]

    def close(self) -> None:
        for expert in self._instances.values():
            expert.close()
        self._instances.clear()
