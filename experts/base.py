"""One abstraction for every expert: declared inputs, `run()`, weights loaded on first use,
`close()` to free them (smolagents' Tool: attributes + forward + setup on first call)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


class ExpertError(Exception):
    """An expert could not do its job; the message is meant for the user."""


class InputError(ExpertError):
    """The input file is missing, empty, too big, damaged or of a kind the expert can't read."""


@dataclass
class ExpertResult:
    expert: str
    data: dict[str, Any]  # the JSON that ../shared/spec/plan-format.md fixes for this expert
    annotated: Path | None = None  # a copy of the input image with boxes / skeletons / names
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {"expert": self.expert, **self.data, "seconds": round(self.seconds, 3)}
        if self.annotated is not None:
            out["annotated"] = str(self.annotated)
        return out


class Expert(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    inputs: ClassVar[dict[str, str]]  # argument name -> kind: "audio" | "image" | "text"
    max_bytes: ClassVar[int] = 50 * 1024 * 1024
    timeout_s: ClassVar[float] = 120.0

    def __init__(self) -> None:
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The loaded weights; loaded on first use, not at construction."""
        if self._model is None:
            self._model = self.load()
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Any:
        """Load and return the weights. Experts with weights override this."""
        return True

    @abstractmethod
    def run(self, **args: Any) -> ExpertResult:
        """Do the work on validated arguments and return the spec's JSON."""

    def __call__(self, **args: Any) -> ExpertResult:
        unknown = set(args) - set(self.inputs)
        missing = set(self.inputs) - set(args)
        if unknown or missing:
            raise ExpertError(f"{self.name} takes {sorted(self.inputs)}; got {sorted(args)}")
        start = time.perf_counter()
        result = self.run(**args)
        result.seconds = time.perf_counter() - start
        return result

    def close(self) -> None:
        self._model = None

    @classmethod
    def weights(cls, verify: bool = False) -> list[tuple[str, Path]]:
        """(title, path) of each weight file or folder this expert uses, checked as on load
        (sha256 too when `verify`); raises ExpertError naming the package to reinstall."""
        return []

    @classmethod
    def tool_spec(cls) -> dict[str, Any]:
        return {"name": cls.name, "description": cls.description, "args": dict(cls.inputs)}
