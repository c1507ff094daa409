"""The personal memory as two experts of the plan format: `memory-search` and `memory-save`.

They work through `memory.service.Memory`, handed in as a provider because the memory opens
lazily (and may be unavailable: another Hearth process holds its lock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from experts.base import Expert, ExpertError, ExpertResult

MemoryProvider = Callable[[], Any]  # returns a Memory, or None when it can't be opened


class _MemoryExpert(Expert):
    inputs = {"text": "text"}
    needs_memory = True
    timeout_s = 30.0

    def __init__(self, memory: MemoryProvider | None = None):
        super().__init__()
        self._provider = memory

    def _memory(self):
        memory = self._provider() if self._provider is not None else None
        if memory is None:
            raise ExpertError("Personal memory is not available right now.")
        return memory

    def _text(self, text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise ExpertError(f"{self.name} needs some text.")
        return text


class MemorySearch(_MemoryExpert):
    name = "memory-search"
    description = "finds what the user told Hearth before (personal facts, notes, documents)"

    def run(self, text: str) -> ExpertResult:
        hits = self._memory().search(self._text(text), k=5)
        return ExpertResult(self.name, {"memories": [
            {"id": r.id, "text": r.text, "created": r.created_at.isoformat(timespec="seconds"),
             "score": round(score, 3)} for r, score in hits]})


class MemorySave(_MemoryExpert):
    name = "memory-save"
    description = "stores a fact the user asked Hearth to remember"

    def run(self, text: str) -> ExpertResult:
        from memory.service import DuplicateResult

        try:
            result = self._memory().remember(self._text(text), kind="note", source="agent plan")
        except ValueError as exc:
            raise ExpertError(f"Could not save to memory: {exc}") from exc
        record = result.existing if isinstance(result, DuplicateResult) else result
        return ExpertResult(self.name, {"id": record.id, "text": record.text,
                                        "duplicate": isinstance(result, DuplicateResult)})
