"""Memory tests share one real embedder: loading torch + MiniLM takes seconds on 2 cores."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    from memory.embeddings import Embedder

    model = Embedder()
    model.embed(["warm up"])
    yield model
    model.close()


@pytest.fixture
def memory(db, embedder):
    from memory.service import Memory

    mem = Memory(db, embedder)
    yield mem
    mem.close()
