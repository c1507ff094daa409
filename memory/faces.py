"""Enrolled faces: who the user taught Hearth to recognise. Embeddings never leave SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, select

from memory.db import Database
from memory.tables import Face


@dataclass(frozen=True)
class FaceRecord:
    id: int
    name: str
    model: str
    source: str | None
    created_at: datetime


@dataclass(frozen=True)
class Person:
    name: str
    samples: int


class FaceStore:
    def __init__(self, db: Database):
        self.db = db

    def add(self, name: str, embedding: np.ndarray, *, model: str, source: str | None = None) -> int:
        name = " ".join(name.split())
        if not name:
            raise ValueError("A face needs a name.")
        blob = np.asarray(embedding, dtype="<f4").tobytes()
        with self.db.session() as s:
            face = Face(name=name, embedding=blob, model=model, source=source)
            s.add(face)
            s.flush()
            return face.id

    def people(self) -> list[Person]:
        stmt = select(Face.name, func.count()).group_by(Face.name).order_by(Face.name)
        with self.db.session() as s:
            return [Person(n, c) for n, c in s.execute(stmt)]

    def list(self) -> list[FaceRecord]:
        with self.db.session() as s:
            return [FaceRecord(f.id, f.name, f.model, f.source, f.created_at)
                    for f in s.scalars(select(Face).order_by(Face.name, Face.id))]

    def embeddings(self, model: str) -> tuple[list[str], np.ndarray]:
        """Names and an (n, d) matrix of every enrolled embedding made by `model`."""
        with self.db.session() as s:
            rows = s.execute(select(Face.name, Face.embedding).where(Face.model == model)).all()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows])

    def delete(self, face_id: int) -> bool:
        with self.db.session() as s:
            return bool(s.execute(delete(Face).where(Face.id == face_id)).rowcount)

    def forget(self, name: str) -> int:
        """Delete every sample of a person; returns how many were deleted."""
        with self.db.session() as s:
            return s.execute(delete(Face).where(Face.name == " ".join(name.split()))).rowcount or 0
