"""The night's process, seen from the window: start it, follow its events, pause it while the
chat model answers, cancel it.

The night runs in its own process group at the lowest priority (it lowers its own), so pausing (SIGSTOP) and
cancelling (SIGTERM, then SIGKILL) reach the training process it starts as well.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FINAL = ("done", "error")


class NightProcess:
    def __init__(self, argv: list[str] | None = None, env: dict[str, str] | None = None):
        self.argv = argv or [sys.executable, "-m", "sync.learning.app_night"]
        self.env = env
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._stderr_reader: threading.Thread | None = None
        self._paused = False
        self._stderr_tail: list[str] = []

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused and self.running

    def start(self, on_event: Callable[[dict], None]) -> None:
        if self.running:
            raise RuntimeError("A night is already running.")
        env = {**os.environ, **(self.env or {}), "OMP_WAIT_POLICY": "PASSIVE",
               "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        self._paused = False
        self._stderr_tail = []  # the last night's words are not this one's
        self._stderr_reader = threading.Thread(target=self._drain_stderr, args=(self._proc,),
                                               name="night-stderr", daemon=True)
        self._stderr_reader.start()
        self._reader = threading.Thread(target=self._read, args=(self._proc, on_event),
                                        name="night-events", daemon=True)
        self._reader.start()

    def _drain_stderr(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:  # a full stderr pipe would block the night
            self._stderr_tail = (self._stderr_tail + [line.rstrip()])[-20:]

    def _read(self, proc: subprocess.Popen, on_event: Callable[[dict], None]) -> None:
        final = False
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a library printing to stdout
            if not isinstance(event, dict) or "event" not in event:
                continue
            final = final or event["event"] in FINAL
            on_event(event)
        code = proc.wait()
        if not final:
            # the process's last words may still be in the pipe (a loaded machine), and a
            # child that inherited stderr could hold it open: wait for them, not forever
            self._stderr_reader.join(timeout=5)
            tail = "\n".join(self._stderr_tail[-5:])
            on_event({"event": "error",
                      "message": f"The learning process ended (exit code {code}) without a "
                                 f"result; the active adapter is unchanged."
                                 + (f"\n{tail}" if tail else "")})

    def _signal(self, sig: int) -> None:
        if self.running:
            try:
                os.killpg(self._proc.pid, sig)
            except ProcessLookupError:
                pass

    def pause(self) -> None:
        if self.running and not self._paused:
            self._signal(signal.SIGSTOP)
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._signal(signal.SIGCONT)
            self._paused = False

    def cancel(self, grace_s: float = 10.0) -> None:
        """Stop the night; it records itself as cancelled if it can within `grace_s`."""
        if not self.running:
            return
        self._signal(signal.SIGTERM)
        self.resume()  # a stopped process can't handle SIGTERM
        try:
            self._proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._proc.wait()

    def wait(self, timeout: float | None = None) -> int | None:
        if self._proc is None:
            return None
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code
