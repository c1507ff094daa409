from memory.conversations import TITLE_LENGTH, ConversationStore
from memory.db import Database
from memory.settings import Settings, load_settings, save_settings


def test_a_new_database_is_migrated_private_and_in_wal_mode(db, hearth_home):
    assert db.path == hearth_home / "hearth.db"
    assert hearth_home.stat().st_mode & 0o077 == 0
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0004"
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"conversations", "messages", "attachments", "settings", "faces"} <= tables


def test_upgrading_an_old_database_keeps_a_copy_first(hearth_home):
    from importlib import resources

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    path = hearth_home / "hearth.db"
    hearth_home.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(resources.files("memory") / "migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.exec_driver_sql("INSERT INTO conversations (title, created_at, updated_at) "
                             "VALUES ('from 0001', '2026-01-01', '2026-01-01')")
    engine.dispose()
    db = Database()
    try:
        (backup,) = hearth_home.glob("hearth.db.before-*")  # named after the new head revision
        assert backup.stat().st_size > 0
        assert [c.title for c in ConversationStore(db).list()] == ["from 0001"]
    finally:
        db.close()


def test_reopening_keeps_everything(db, store):
    conv = store.create()
    store.add_message(conv.id, "user", "remember the milk")
    db.close()
    again = ConversationStore(Database())
    assert [m.content for m in again.messages(conv.id)] == ["remember the milk"]


def test_first_user_message_names_the_conversation(store):
    conv = store.create()
    store.add_message(conv.id, "user", "  How do   I bake bread?\nThanks")
    assert store.get(conv.id).title == "How do I bake bread? Thanks"
    long = store.create()
    store.add_message(long.id, "user", "word " * 100)
    assert len(store.get(long.id).title) == TITLE_LENGTH
    store.add_message(conv.id, "user", "another question")
    assert store.get(conv.id).title == "How do I bake bread? Thanks"


def test_list_is_newest_first_and_search_looks_in_titles_and_messages(store):
    a = store.create("Garden plans")
    b = store.create("Taxes")
    store.add_message(a.id, "user", "tomatoes or peppers?")
    assert [c.id for c in store.list()] == [a.id, b.id]
    assert [c.id for c in store.list("tax")] == [b.id]
    assert [c.id for c in store.list("PEPPERS")] == [a.id]
    assert store.list("nothing like this") == []


def test_rename_and_delete_cascade(db, store):
    conv = store.create()
    msg = store.add_message(conv.id, "user", "hi")
    store.rename(conv.id, "  Greetings ")
    assert store.get(conv.id).title == "Greetings"
    store.delete(conv.id)
    assert store.get(conv.id) is None
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM messages WHERE id={msg.id}").scalar() == 0


def test_rename_refuses_an_empty_title(store):
    conv = store.create()
    try:
        store.rename(conv.id, "   ")
    except ValueError as exc:
        assert "title" in str(exc)
    else:
        raise AssertionError("empty title accepted")


def test_streaming_answers_left_by_a_crash_are_marked_interrupted(store):
    conv = store.create()
    msg = store.add_message(conv.id, "assistant", "half an ans", status="streaming")
    assert store.mark_interrupted() == 1
    (m,) = store.messages(conv.id)
    assert (m.id, m.status, m.content) == (msg.id, "interrupted", "half an ans")


def test_settings_round_trip_and_survive_bad_stored_values(db):
    assert load_settings(db) == Settings()
    save_settings(db, Settings(model="smollm2-135m", n_threads=1, n_ctx=2048))
    loaded = load_settings(db)
    assert (loaded.model, loaded.n_threads, loaded.n_ctx) == ("smollm2-135m", 1, 2048)
    from memory.tables import Setting
    with db.session() as s:
        s.merge(Setting(key="n_ctx", value=-5))
        s.merge(Setting(key="removed_in_an_old_version", value=1))
    loaded = load_settings(db)
    assert loaded.n_ctx == Settings().n_ctx and loaded.model == "smollm2-135m"


def test_processes_opening_a_new_database_at_once_all_succeed(hearth_home):
    import subprocess
    import sys

    code = ("from memory.db import Database; from memory.conversations import ConversationStore; "
            "db = Database(); ConversationStore(db).create('from a racer'); db.close()")
    racers = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
              for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in racers]
    assert [p.returncode for p in racers] == [0] * 4, errors
    db = Database()
    try:
        assert len(ConversationStore(db).list()) == 4
    finally:
        db.close()
