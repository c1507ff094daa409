"""Training examples for the local model: (anonymized instruction, target) pairs from the
cloud's replies or the user's corrections, each with its source and the user's consent.

Labels stay anonymized: a placeholder such as <PERSON_1> teaches the model as well as a name,
and a training set that leaves the machine later (a shared adapter) carries no one's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory.db import Database
from memory.tables import TrainingExample

ROLES = ("planner", "summarizer")


@dataclass(frozen=True)
class TrainingRecord:
    id: int
    created_at: datetime
    role: str
    instruction: str
    target: str
    source: str
    consent: bool
    outbox_id: int | None


def _record(t: TrainingExample) -> TrainingRecord:
    return TrainingRecord(t.id, t.created_at, t.role, t.instruction, t.target, t.source,
                          bool(t.consent), t.outbox_id)


def new_example(*, role: str, instruction: str, target: str, source: str, consent: bool,
                outbox_id: int | None = None) -> TrainingExample:
    """The row, unsaved: the cloud worker adds it in the same transaction as the reply."""
    if role not in ROLES:
        raise ValueError(f"Unknown training role {role!r} (planner or summarizer).")
    if not instruction.strip() or not target.strip():
        raise ValueError("A training example needs an instruction and a target.")
    return TrainingExample(role=role, instruction=instruction, target=target, source=source,
                           consent=consent, outbox_id=outbox_id)


class TrainingExamples:
    def __init__(self, db: Database):
        self.db = db

    def add(self, role: str, instruction: str, target: str, source: str, consent: bool,
            outbox_id: int | None = None, *, session: Session | None = None) -> TrainingRecord:
        row = new_example(role=role, instruction=instruction, target=target, source=source,
                          consent=consent, outbox_id=outbox_id)
        if session is not None:
            session.add(row)
            session.flush()
            return _record(row)
        with self.db.session() as s:
            s.add(row)
            s.flush()
            return _record(row)

    def list(self, consented_only: bool = True, role: str | None = None) -> list[TrainingRecord]:
        stmt = select(TrainingExample).order_by(TrainingExample.id)
        if consented_only:
            stmt = stmt.where(TrainingExample.consent.is_(True))
        if role is not None:
            stmt = stmt.where(TrainingExample.role == role)
        with self.db.session() as s:
            return [_record(t) for t in s.scalars(stmt)]
