"""Small hand-written fakes (no MagicMock trees)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from agent.llm import LLM, GenerationStats, Messages


class ScriptedLLM(LLM):
    """Answers with queued replies, word by word; records every prompt it was given."""

    def __init__(self, replies: list[str] | None = None, *, delay_s: float = 0.0,
                 n_ctx: int = 2048, fail_with: Exception | None = None, name: str = "scripted"):
        super().__init__()
        self.replies = list(replies or ["Hello from the scripted model."])
        self.delay_s = delay_s
        self.n_ctx = n_ctx
        self.fail_with = fail_with
        self.name = name
        self.prompts: list[Messages] = []
        self.closed = 0

    def stream(self, messages: Messages, *, max_tokens: int = 512, temperature: float = 0.7,
               cancel: threading.Event | None = None) -> Iterator[str]:
        self.prompts.append(messages)
        stats = GenerationStats()
        self.last_stats = stats
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        start = time.perf_counter()
        for i, word in enumerate(reply.split(" ")):
            if cancel is not None and cancel.is_set():
                stats.finish_reason = "cancelled"
                break
            if self.fail_with is not None and i == 2:
                raise self.fail_with
            if self.delay_s:
                time.sleep(self.delay_s)
            if i == 0:
                stats.time_to_first_token_s = time.perf_counter() - start
            stats.completion_tokens += 1
            yield word if i == 0 else " " + word
        else:
            stats.finish_reason = "stop"
        stats.total_s = time.perf_counter() - start

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        self.closed += 1


from experts.base import Expert, ExpertError, ExpertResult  # noqa: E402


class FakeTranscriber(Expert):
    name = "speech-to-text"
    description = "fake"
    inputs = {"audio": "audio"}
    loads = 0

    def load(self):
        type(self).loads += 1
        return "weights"

    def run(self, audio):
        assert self.model == "weights"
        text = open(audio, "rb").read().decode(errors="replace").strip()
        return ExpertResult(self.name, {"text": text, "language": "en", "segments": []})


class FakeDetector(Expert):
    name = "object-detection"
    description = "fake"
    inputs = {"image": "image"}

    def run(self, image):
        return ExpertResult(self.name, {"objects": [{"label": "person", "confidence": 0.9, "box": [0, 0, 1, 1]}] * 4
                                        + [{"label": "bus", "confidence": 0.8, "box": [0, 0, 2, 2]}]})


class FailingExpert(Expert):
    description = "fake"
    inputs = {"image": "image"}

    def run(self, image):
        raise ExpertError(f"{self.name}: the image is damaged.")


class SlowExpert(Expert):
    description = "fake"
    inputs = {"image": "image"}
    timeout_s = 0.2

    def run(self, image):
        time.sleep(1.0)
        return ExpertResult(self.name, {})


def fake_expert_classes(**overrides) -> dict:
    from experts.memory_tools import MemorySave, MemorySearch

    classes = {"memory-search": MemorySearch, "memory-save": MemorySave,"speech-to-text": FakeTranscriber, "object-detection": FakeDetector,
               "pose-estimation": type("FakePose", (FailingExpert,), {"name": "pose-estimation"}),
               "face-recognition": type("FakeFaces", (FailingExpert,), {"name": "face-recognition"})}
    classes.update(overrides)
    return classes


def scripted(replies, delay_s=0.0):
    """An llm_factory whose model is one ScriptedLLM (for windows and assistants)."""
    llm = ScriptedLLM(replies, delay_s=delay_s)
    return lambda _settings: llm
