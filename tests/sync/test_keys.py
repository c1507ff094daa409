"""The API key: keyring when there is one, a 0600 file when not; never in the database, the
settings, the outbox, logs, repr() or error messages."""

import logging
import stat

import pytest

from memory.settings import Settings, save_settings
from sync import keys
from sync.cloud import CloudClient, CloudError
from sync.service import CloudAssist
from tests.sync.conftest import sample_payload

URL = "http://127.0.0.1:8000/v1"
SECRET = "sk-test-5f1d3c9a7be24e10aa77"


def test_the_key_goes_to_the_keyring(memory_keyring, hearth_home):
    where = keys.set_api_key(URL + "/", SECRET)
    assert "system keyring" in where and "MemoryKeyring" in where
    assert memory_keyring.data == {("hearth-cloud", URL): SECRET}
    assert keys.get_api_key(URL) == SECRET
    assert not keys.key_file().exists()
    assert keys.delete_api_key(URL)
    assert keys.get_api_key(URL) is None and not keys.delete_api_key(URL)


def test_without_a_keyring_the_key_goes_to_a_private_file(no_keyring, hearth_home):
    where = keys.set_api_key(URL, SECRET)
    path = hearth_home / "cloud-keys.json"
    assert where.startswith(f"file {path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.get_api_key(URL) == SECRET
    keys.set_api_key("http://127.0.0.1:9000/v1", "other")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.get_api_key(URL) == SECRET
    assert keys.delete_api_key(URL) and keys.get_api_key(URL) is None
    assert keys.delete_api_key("http://127.0.0.1:9000/v1") and not path.exists()


def test_a_broken_key_file_is_a_clear_error(no_keyring, hearth_home):
    keys.key_file().write_text("{not json")
    with pytest.raises(keys.KeyStoreError, match="can't be read.*delete it"):
        keys.get_api_key(URL)


def test_empty_keys_and_urls_are_refused():
    with pytest.raises(keys.KeyStoreError, match="empty"):
        keys.set_api_key(URL, "  ")
    with pytest.raises(keys.KeyStoreError, match="endpoint URL"):
        keys.set_api_key("", SECRET)


def test_the_key_is_sent_but_never_stored_logged_or_shown(db, store, fault_server, caplog):
    caplog.set_level(logging.DEBUG)
    settings = Settings(cloud_enabled=True, cloud_base_url=fault_server.base_url,
                        cloud_model="fake")
    save_settings(db, settings)
    cloud = CloudAssist(db, lambda: settings)
    cloud.set_api_key(SECRET)
    conv = store.create()
    cloud.outbox.add(kind="answer", endpoint=fault_server.base_url, model="fake",
                     payload=sample_payload(fault_server.base_url), mapping={},
                     status="queued", conversation_id=conv.id)
    (sent,) = cloud.process_due()
    assert sent.status == "sent"
    (post,) = fault_server.posts()
    assert post["headers"]["authorization"] == f"Bearer {SECRET}"  # it does reach the endpoint

    fault_server.mode = "401"
    cloud.outbox.add(kind="answer", endpoint=fault_server.base_url, model="fake",
                     payload=sample_payload(fault_server.base_url), mapping={}, status="queued")
    (refused,) = cloud.process_due()
    with pytest.raises(CloudError) as excinfo:
        cloud.test_connection()
    client = cloud.client()
    cloud.close()
    db.close()

    shown = [repr(client), repr(cloud), str(excinfo.value), refused.last_error, str(sent.to_dict()),
             caplog.text]
    assert all(SECRET not in text for text in shown)
    for path in db.path.parent.glob("hearth.db*"):  # the database, its WAL and backups
        assert SECRET.encode() not in path.read_bytes(), path.name
    assert not keys.key_file().exists()


def test_client_errors_name_the_host_not_the_key():
    client = CloudClient("http://127.0.0.1:1/v1", "m", SECRET, timeout=1)
    with pytest.raises(CloudError) as excinfo:
        client.complete([{"role": "user", "content": "hi"}])
    assert "Could not reach 127.0.0.1:1" in str(excinfo.value) and SECRET not in str(excinfo.value)
    assert excinfo.value.retryable
    client.close()


def test_test_connection_uses_a_key_typed_but_not_saved(db, fault_server, memory_keyring):
    """The dialog's "Test connection" before OK: the typed key goes in the request, nothing is
    stored, and without it the stored key (none here) is used."""
    settings = Settings(cloud_base_url=fault_server.base_url, cloud_model="fake")
    cloud = CloudAssist(db, lambda: settings)
    try:
        assert cloud.test_connection(settings, api_key="typed-key-123").startswith("Connected")
        cloud.test_connection(settings)
    finally:
        cloud.close()
    typed, stored = [r["headers"].get("authorization") for r in fault_server.requests]
    assert typed == "Bearer typed-key-123"
    assert stored != typed
    assert memory_keyring.data == {}
