"""The cloud endpoint's API key: in the OS keyring (service "hearth-cloud", one entry per
endpoint), or, where the system has no usable keyring (a server, a bare container), a JSON file
in the data folder readable only by the user (0600).

Never in the database, the settings, the outbox, logs, repr() or error messages: functions
here return the key only to the caller that sends it, and their errors name the endpoint and
the store, never the key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from memory.paths import user_dir

SERVICE = "hearth-cloud"
KEY_FILE = "cloud-keys.json"


class KeyStoreError(RuntimeError):
    """The key could not be stored or read; the text says where and why (never the key)."""


def _username(base_url: str) -> str:
    return base_url.strip().rstrip("/")


def key_file() -> Path:
    return user_dir() / KEY_FILE


def _keyring():
    """The OS keyring backend, or None where keyring has nothing usable (its fail backend, or a
    chainer with no backend to chain)."""
    import keyring
    from keyring.backends import chainer, fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def store_name() -> str:
    """Where keys go on this machine, for `hearth cloud status` and the settings dialog."""
    backend = _keyring()
    if backend is None:
        return f"file {key_file()} (no system keyring available)"
    return f"system keyring ({type(backend).__module__}.{type(backend).__name__})"


def get_api_key(base_url: str) -> str | None:
    from keyring.errors import KeyringError, NoKeyringError

    user = _username(base_url)
    backend = _keyring()
    if backend is not None:
        try:
            key = backend.get_password(SERVICE, user)
        except NoKeyringError:
            key = None
        except KeyringError as exc:
            raise KeyStoreError(f"The system keyring could not be read for {user}: "
                                f"{type(exc).__name__}.") from None
        if key:
            return key
    return _read_file().get(user) or None


def set_api_key(base_url: str, key: str) -> str:
    """Stores the key; returns where (store_name())."""
    from keyring.errors import KeyringError, NoKeyringError

    user = _username(base_url)
    key = key.strip()
    if not user:
        raise KeyStoreError("Set the endpoint URL before its API key.")
    if not key:
        raise KeyStoreError("The API key is empty.")
    backend = _keyring()
    if backend is not None:
        try:
            backend.set_password(SERVICE, user, key)
            _drop_from_file(user)  # one copy, in the better place
            return store_name()
        except NoKeyringError:
            pass
        except KeyringError as exc:
            raise KeyStoreError(f"The system keyring refused the key for {user}: "
                                f"{type(exc).__name__}.") from None
    stored = _read_file()
    stored[user] = key
    _write_file(stored)
    return f"file {key_file()} (no system keyring available)"


def delete_api_key(base_url: str) -> bool:
    """Forgets the key wherever it is; True if there was one."""
    from keyring.errors import KeyringError, PasswordDeleteError

    user = _username(base_url)
    found = False
    backend = _keyring()
    if backend is not None:
        try:
            if backend.get_password(SERVICE, user) is not None:
                backend.delete_password(SERVICE, user)
                found = True
        except PasswordDeleteError:
            pass
        except KeyringError as exc:
            raise KeyStoreError(f"The system keyring could not delete the key for {user}: "
                                f"{type(exc).__name__}.") from None
    return _drop_from_file(user) or found


def _read_file() -> dict[str, str]:
    path = key_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise KeyStoreError(f"The key file {path} can't be read ({type(exc).__name__}); "
                            f"delete it and set the key again.") from None
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(data, dict) else {}


def _write_file(data: dict[str, str]) -> None:
    path = key_file()
    tmp = path.with_name(path.name + ".tmp")
    try:
        # Created 0600 from the first byte (a chmod after writing leaves a window).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a file that already existed
        os.replace(tmp, path)
    except OSError as exc:
        raise KeyStoreError(f"Could not write the key file {path}: {exc.strerror}.") from None


def _drop_from_file(user: str) -> bool:
    stored = _read_file()
    if user not in stored:
        return False
    del stored[user]
    if stored:
        _write_file(stored)
    else:
        key_file().unlink(missing_ok=True)
    return True
