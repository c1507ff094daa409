"""The SQLite database: one engine, WAL, migrations (with a backup first) on open."""

from __future__ import annotations

import os
import sqlite3
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
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(resources.files("memory") / "migrations"))
        head = ScriptDirectory.from_config(config).get_current_head()
        with _exclusive(self.path.with_name(self.path.name + ".migrate-lock")):
            # Under the lock: a second process opening a new database at the same moment
            # (the window and `hearth ask`) waits here, then finds it already at head.
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
            if current != head:
                self._upgrade(config, current, head)

    def _upgrade(self, config, current: str | None, head: str) -> None:
        from alembic import command

        if current is not None:
            # Vorta's rule: a copy of the database before any schema change touches it.
            # SQLite's backup API, not a file copy: with WAL the newest pages may not be in
            # the main file yet.
            backup = self.path.with_name(f"{self.path.name}.before-{head}")
            with sqlite3.connect(self.path) as src, sqlite3.connect(backup) as dst:
                src.backup(dst)
        try:
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except Exception as exc:  # noqa: BLE001 - any failure here must name the file
            raise DatabaseError(f"Could not upgrade the database {self.path}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """A blocking cross-process lock (an OS file lock: it dies with its process)."""
    with open(lock_path, "a+b") as f:
        if os.name == "nt":
            import msvcrt
            import time

            for _ in range(600):  # LK_LOCK itself gives up after 10 s; keep trying for a minute
                try:
                    msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.1)
        else:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        yield


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
