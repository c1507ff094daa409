"""The SQLite database: one engine, WAL, migrations (with a backup first) on open."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from memory import paths


class DatabaseError(RuntimeError):
    """The database could not be opened or upgraded; the message says what to do."""


class Database:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else paths.database_path()
        self.engine = _make_engine(self.path)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.migrate()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(resources.files("memory") / "migrations"))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        if current is not None:
            # Vorta's rule: a copy of the database before any schema change touches it.
            backup = self.path.with_name(f"{self.path.name}.before-{head}")
            shutil.copy2(self.path, backup)
        try:
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except Exception as exc:  # noqa: BLE001 - any failure here must name the file
            raise DatabaseError(f"Could not upgrade the database {self.path}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()


def _make_engine(path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False,
                                                              "timeout": 10})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine
