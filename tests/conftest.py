"""Test-wide rules: no network but loopback, every test in its own HEARTH_HOME, Qt offscreen."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

# Before anything imports llama.cpp or Qt: stable timings on shared 2-core machines, no screen.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app import offline  # noqa: E402

offline.apply()


class NetworkBlocked(OSError):
    pass


def _is_loopback_host(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard_address(address) -> None:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return
    if not _is_loopback_host(address[0]):
        raise NetworkBlocked(f"test tried to reach {address!r}: only loopback is allowed")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_getaddrinfo = socket.getaddrinfo


def _connect(self, address):
    _guard_address(address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _guard_address(address)
    return _real_connect_ex(self, address)


def _sendto(self, data, *args):
    _guard_address(args[-1])
    return _real_sendto(self, data, *args)


def _getaddrinfo(host, *args, **kwargs):
    if not _is_loopback_host(host.decode() if isinstance(host, bytes) else host):
        raise NetworkBlocked(f"test tried to resolve {host!r}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def block_network():
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.socket.sendto = _sendto
    socket.getaddrinfo = _getaddrinfo
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex
    socket.socket.sendto = _real_sendto
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(scope="session")
def shared_models_dir(tmp_path_factory):
    """Assembled models are big: one folder for the whole run instead of one per test."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def hearth_home(tmp_path, monkeypatch, shared_models_dir):
    home = tmp_path / "hearth-home"
    monkeypatch.setenv("HEARTH_HOME", str(home))
    monkeypatch.setenv("HEARTH_MODELS_DIR", str(shared_models_dir))
    return home


@pytest.fixture
def db(hearth_home):
    from memory.db import Database

    database = Database()
    yield database
    database.close()


@pytest.fixture
def store(db):
    from memory.conversations import ConversationStore

    return ConversationStore(db)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    from tests.tiny_gguf import write_tiny_llama

    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama.gguf")


@pytest.fixture(scope="session")
def smollm2_path():
    from agent.model_registry import get_model

    return get_model("smollm2-135m").resolve()
