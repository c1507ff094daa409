"""User settings: a validated model, stored one key per row in the settings table."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from memory.db import Database
from memory.tables import Setting

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
CONTEXT_SIZES = (2048, 4096, 8192, 16384, 32768)


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str = DEFAULT_MODEL
    n_threads: int = Field(default_factory=default_threads, ge=1, le=64)
    n_ctx: int = Field(default=4096, ge=512, le=32768)
    max_tokens: int = Field(default=512, ge=16, le=4096)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    speech_model: Literal["english-fast", "multilingual"] = "english-fast"
    use_memory: bool = True
    # After an answer, facts the user stated about themselves: off, proposed for the user to
    # accept in the memory window ("ask"), or kept at once ("auto").
    propose_memories: Literal["off", "ask", "auto"] = "ask"
    memory_budget_tokens: int = Field(default=200, ge=0, le=2000)
    # Cloud assist (sync/): off by default; nothing leaves the machine unless it is on, an
    # endpoint is set and the policy allows it. The API key lives in the OS keyring (sync.keys).
    cloud_enabled: bool = False
    cloud_base_url: str = Field(default="", max_length=500)
    cloud_model: str = Field(default="", max_length=200)
    # never | ask (every answer is offered; the user previews and approves each send) |
    # fallback (only when the local plan failed or the user's own words ask for the cloud)
    cloud_policy: Literal["never", "ask", "fallback"] = "ask"
    cloud_timeout_s: float = Field(default=30.0, gt=0.0, le=600.0)
    # Whether the cloud's answers may be used to train the local model (stored either way,
    # anonymized; the flag travels with each training example).
    cloud_training_consent: bool = False
    # Nightly learning (sync/learning/): an automatic night starts inside these hours (local
    # time, may wrap past midnight) once the user has been idle this long, on mains power
    # only unless told otherwise, and only when there are new examples to learn from.
    learning_auto: bool = True
    learning_hours: str = Field(default="01:00-06:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    learning_power_only: bool = True
    learning_idle_minutes: int = Field(default=15, ge=0, le=24 * 60)
    learning_memory_mib: int = Field(default=4096, ge=1024, le=262144)


def load_settings(db: Database) -> Settings:
    with db.session() as s:
        stored = {row.key: row.value for row in s.scalars(select(Setting))}
    known = {k: v for k, v in stored.items() if k in Settings.model_fields}
    try:
        return Settings(**known)
    except ValidationError:
        # A value from an older version that no longer validates: fall back per field.
        settings = Settings()
        for key, value in known.items():
            try:
                setattr(settings, key, value)
            except ValidationError:
                pass
        return settings


def save_settings(db: Database, settings: Settings) -> None:
    with db.session() as s:
        for key, value in settings.model_dump().items():
            s.merge(Setting(key=key, value=value))
