"""One process at a time owns the memory index.

Two processes opening the same Chroma folder can hang (chroma-core/chroma#7040), so the
second one must fail at once with a message a person understands. The lock is an OS file
lock: it dies with the process, even after kill -9, so there is no stale lock to clean up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Windows locks byte ranges and refuses reads inside them: lock a byte past the pid text.
_WINDOWS_LOCK_OFFSET = 64


class MemoryLockedError(RuntimeError):
    """Another Hearth process holds the memory index."""

    def __init__(self, path: Path, pid: int | None):
        self.path = path
        self.pid = pid
        who = f"pid {pid}" if pid else "unknown pid"
        if pid == os.getpid():
            where = f"Hearth's memory is already open in this process ({who})"
        else:
            where = f"Hearth's memory is open in another Hearth window ({who})"
        super().__init__(f"{where}. Close that window, or wait for it to finish, and try "
                         f"again. (Lock file: {path})")


class SingleWriterLock:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Non-blocking: raises MemoryLockedError instead of waiting."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            raise MemoryLockedError(self.path, pid) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> SingleWriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
