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

    def __init__(self, db: Any = None):
        self.db = db
        self._instances: dict[str, Expert] = {}

    @staticmethod
    def names() -> list[str]:
        return list(BUILTIN)

    def get(self, name: str) -> Expert:
        if name not in self._instances:
            cls = expert_class(name)
            self._instances[name] = cls(db=self.db) if getattr(cls, "needs_db", False) else cls()
        return self._instances[name]

    def tool_specs(self) -> list[dict[str, Any]]:
        return [expert_class(n).tool_spec() for n in BUILTIN]

    def close(self) -> None:
        for expert in self._instances.values():
            expert.close()
        self._instances.clear()
