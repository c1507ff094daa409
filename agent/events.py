"""What the assistant reports while it answers. The GUI, `hearth ask` and tests consume the same stream."""

from __future__ import annotations

from dataclasses import dataclass, field

from memory.conversations import MessageRecord


@dataclass(frozen=True)
class UserMessageSaved:
    message: MessageRecord


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not part of the answer (trimmed history, loading)."""
    text: str


@dataclass(frozen=True)
class AnswerStarted:
    message_id: int
    model: str


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class AnswerFinished:
    message_id: int
    status: str  # done | stopped
    content: str
    stats: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PlanStarted:
    """The planner is writing the plan (the model reads the request and the examples)."""
    files: list


@dataclass(frozen=True)
class PlanReady:
    """The validated plan: `trace` is the stored trace ({plan, source, seconds, error, tasks})."""
    trace: dict

    @property
    def tasks(self) -> list:
        return self.trace["tasks"]


@dataclass(frozen=True)
class TaskStarted:
    """A step began: `task` is its record ({id, task, step, args, inputs, status, ...})."""
    task: dict


@dataclass(frozen=True)
class TaskFinished:
    """A step ended: status done, failed, skipped or stopped; output or error in the record."""
    task: dict


@dataclass(frozen=True)
class MemorySaved:
    """The user asked Hearth to remember something; `duplicate` when it already knew it."""
    memory_id: int
    text: str
    duplicate: bool = False
    conflicts_with: int | None = None


@dataclass(frozen=True)
class MemoriesProposed:
    """After the answer: facts from the user's message, stored as `status` (proposed/active)."""
    memories: list
    status: str


@dataclass(frozen=True)
class MemoriesUsed:
    """Memories put into the prompt for this answer: [{id, text, kind, score}]."""
    memories: list


@dataclass(frozen=True)
class CloudQueued:
    """After the local answer: an outbox entry was prepared for the cloud (`record`, a
    sync.outbox.OutboxRecord): awaiting the user's approval, or queued to send."""
    record: object


@dataclass(frozen=True)
class CloudAnswered:
    """The cloud's reply arrived, restored on this machine and stored as message `message_id`
    (None for a plan, which is kept as a training label only)."""
    record: object
    message_id: int | None


@dataclass(frozen=True)
class Failed:
    message_id: int | None
    error: str


Event = (UserMessageSaved | Notice | PlanStarted | PlanReady | TaskStarted | TaskFinished
         | MemorySaved | MemoriesUsed
         | AnswerStarted | Token | AnswerFinished | MemoriesProposed | CloudQueued | CloudAnswered
         | Failed)
