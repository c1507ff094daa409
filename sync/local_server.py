"""An OpenAI-compatible endpoint on a local GGUF model: llama-cpp-python's own server
(`python -m llama_cpp.server`) on a free 127.0.0.1 port. The real cloud that the cloud-assist
tests, the planning benchmark's endpoint test and the thesis's teacher talk to; nothing
leaves the machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LocalServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str  # the alias the server answers to
    started_s: float  # from start to the first answer of /v1/models
    proc: subprocess.Popen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(model_path: Path | str, alias: str, log_path: Path, *, n_ctx: int = 4096,
          n_threads: int = 2, timeout: float = 180.0) -> Iterator[LocalServer]:
    """Start the server, wait until it answers, yield it; always stops it. Raises
    RuntimeError with the end of its log when it exits or does not come up in `timeout` s."""
    port = free_port()
    start = time.perf_counter()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
             "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", str(n_ctx), "--n_threads", str(n_threads), "--seed", "0"],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited ({proc.returncode}):\n"
                                   f"{Path(log_path).read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not come up within {timeout:.0f} s")
            time.sleep(0.3)
        yield LocalServer(url, alias, time.perf_counter() - start, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
