"""The planning benchmark's runner, report, matrix and `hearth bench` (scripted model, fast),
plus one real run through llama-cpp-python's OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.planbench import metrics
from agent.planbench.report import (load_run, matrix, matrix_markdown, newest_report,
                                    write_comparison, write_matrix, write_run_report)
from agent.planbench.runner import (PREDICTIONS, RULE_RAW, SUMMARY, BenchmarkError, app_tools,
                                    load_records, read_predictions, run, score_file)
from agent.planner import Planner, train_examples
from tests.fakes import ScriptedLLM

PNG = b"\x89PNG\r\n\x1a\n"


def rec(rid, scenario, instruction, attachments=(), tasks=(), steps=None):
    tasks = [dict(t) for t in tasks]
    return {"id": rid, "scenario": scenario, "instruction": instruction,
            "attachments": list(attachments),
            "plan": {"steps": steps if steps is not None else [f"step {i}" for i in range(len(tasks))],
                     "tasks": tasks}}


def task(name, tid, dep=(-1,), **args):
    return {"task": name, "id": tid, "dep": list(dep), "args": args}


MEMO = rec("audio-1", "audio", "What did I say in memo.wav?", ["memo.wav"],
           [task("speech-to-text", 0, audio="memo.wav")], ["Transcribe memo.wav"])
SAVE = rec("audio-2", "audio", "Transcribe memo.wav and save it to my notes", ["memo.wav"],
           [task("speech-to-text", 0, audio="memo.wav"),
            task("memory-save", 1, [0], text="<GENERATED>-0")],
           ["Transcribe memo.wav", "Save the transcript"])
POSE = rec("posture-1", "posture", "Am I sitting in desk.jpg?", ["desk.jpg"],
           [task("pose-estimation", 0, image="desk.jpg")], ["Check the posture in desk.jpg"])
MATH = rec("memory-1", "memory", "What's 12 times 7?")
DENTIST = rec("memory-2", "memory", "What did I tell you about the dentist?", (),
              [task("memory-search", 0, text="the dentist")], ["Search my memories"])
RECORDS = [MEMO, SAVE, POSE, MATH, DENTIST]
# The planned records, in order: MEMO (right), SAVE (not JSON), POSE (wrong expert), DENTIST.
REPLIES = [json.dumps(MEMO["plan"]), "Sure! I will transcribe it.",
           json.dumps({"steps": ["Find objects"],
                       "tasks": [task("object-detection", 0, image="desk.jpg")]}),
           json.dumps(DENTIST["plan"])]
CONFIG = {"label": "scripted", "model": "scripted", "adapter": None, "endpoint": None,
          "split": "unit", "data": None}


def run_scripted(out, records=RECORDS, replies=REPLIES, **kw):
    llm = ScriptedLLM(list(replies))
    planner = Planner(llm, n_examples=kw.pop("n_examples", 1))
    summary = run(records, planner, out, {**CONFIG, **kw.pop("config", {})}, bertscore=False,
                  progress=False, **kw)
    return summary, llm


def test_one_prediction_per_record_with_the_models_raw_text(tmp_path):
    summary, llm = run_scripted(tmp_path / "run")
    preds = read_predictions(tmp_path / "run" / PREDICTIONS)
    assert [p["id"] for p in preds] == [r["id"] for r in RECORDS]
    by_id = {p["id"]: p for p in preds}
    assert set(by_id["audio-1"]) >= {"id", "scenario", "raw", "plan", "source", "seconds",
                                     "decoding", "examples"}
    assert by_id["audio-1"]["source"] == "model" and by_id["audio-1"]["plan"] == MEMO["plan"]
    assert by_id["audio-1"]["decoding"] == "free"
    # an unusable output: its text is kept and scored, the fallback plan is not
    bad = by_id["audio-2"]
    assert bad["source"] == "fallback" and bad["raw"] == "Sure! I will transcribe it."
    assert bad["plan"] is None and bad["error"]
    assert by_id["posture-1"]["source"] == "model"  # valid, but the wrong expert
    assert summary["sources"] == {"model": 3, "fallback": 1, "rule": 1}
    assert len(llm.prompts) == 4
    assert (tmp_path / "run" / SUMMARY).is_file() and (tmp_path / "run" / "run.json").is_file()


def test_summary_numbers_are_metrics_score_on_the_same_data(tmp_path):
    summary, _ = run_scripted(tmp_path / "run")
    preds = {p["id"]: p for p in read_predictions(tmp_path / "run" / PREDICTIONS)}
    expected = metrics.score([r["plan"] for r in RECORDS], [preds[r["id"]]["raw"] for r in RECORDS],
                             scenarios=[r["scenario"] for r in RECORDS], bertscore=False,
                             attachments=[r["attachments"] for r in RECORDS])
    saved = json.loads((tmp_path / "run" / SUMMARY).read_text())
    assert saved["metrics"]["overall"] == expected["overall"]
    assert saved["metrics"]["per_scenario"] == expected["per_scenario"]
    assert summary["metrics"]["overall"]["validity"] == pytest.approx(4 / 5)
    assert saved["n"] == 5 and saved["decoding"] == "free" and saved["n_examples"] == 1
    assert saved["split"] == "unit" and saved["label"] == "scripted"
    for key in ("wall_seconds", "median_seconds", "machine", "git_commit", "encoder"):
        assert key in saved
    assert saved["machine"]["cpu_count"] and "platform" in saved["machine"]


def test_a_request_the_app_would_not_plan_gets_the_empty_plan_without_the_model(tmp_path):
    summary, llm = run_scripted(tmp_path / "run", records=[MATH], replies=["never used"])
    (pred,) = read_predictions(tmp_path / "run" / PREDICTIONS)
    assert pred["source"] == "rule" and pred["raw"] == RULE_RAW
    assert pred["plan"] == {"steps": [], "tasks": []}
    assert llm.prompts == []
    assert summary["metrics"]["overall"]["node_f1"] == 1.0 and summary["gate_effects"]["not_planned"] == 1


def test_without_the_gate_every_record_is_planned_with_all_experts(tmp_path):
    _, llm = run_scripted(tmp_path / "run", records=[MATH], replies=[RULE_RAW], gate=False)
    assert len(llm.prompts) == 1
    assert "memory-save(text)" in llm.prompts[0][0]["content"]


def test_offered_experts_mirror_the_app(tmp_path):
    _, llm = run_scripted(tmp_path / "run", records=[MEMO, SAVE], replies=[RULE_RAW])
    plain, save = (p[0]["content"] for p in llm.prompts)
    assert "memory-save" not in plain and "memory-search(text)" in plain
    assert "memory-save(text)" in save
    # image experts are not offered without an image; descriptions are the planner prompt's
    assert "pose-estimation" not in plain
    assert "what is said in an audio file (transcript)" in plain
    assert list(app_tools("save this")) == ["speech-to-text", "object-detection",
                                            "pose-estimation", "face-recognition",
                                            "memory-search", "memory-save"]


def test_examples_come_from_train_and_never_the_record_itself(tmp_path):
    train = list(train_examples())
    some = [r for r in train if r["attachments"]][:3]
    _, llm = run_scripted(tmp_path / "run", records=some, replies=[RULE_RAW], n_examples=2)
    train_ids = {r["id"] for r in train}
    for p in read_predictions(tmp_path / "run" / PREDICTIONS):
        assert len(p["examples"]) == 2 and set(p["examples"]) <= train_ids
        assert p["id"] not in p["examples"]
    _, llm = run_scripted(tmp_path / "zero", records=[MEMO], replies=[RULE_RAW], n_examples=0)
    assert len(llm.prompts[0]) == 2  # system + request: zero-shot


def test_an_interrupted_run_resumes_and_another_run_is_refused(tmp_path):
    out = tmp_path / "run"
    run_scripted(out, records=RECORDS[:2], replies=REPLIES[:2])
    with open(out / PREDICTIONS, "a") as f:
        f.write('{"id": "posture-1", "raw": "", "source": "error"}\n')  # the endpoint was down
        f.write('{"id": "memory-2", "raw": "half a li')  # killed mid-write
    summary, llm = run_scripted(out, replies=REPLIES[2:])
    assert len(llm.prompts) == 2  # POSE and DENTIST only
    assert [p["id"] for p in read_predictions(out / PREDICTIONS)] == [r["id"] for r in RECORDS]
    assert summary["resumed_records"] == 2 and summary["n"] == 5
    with pytest.raises(BenchmarkError, match="another run"):
        run_scripted(out, config={"model": "other"})


def test_a_model_that_keeps_failing_stops_the_run(tmp_path):
    llm = ScriptedLLM(["a b c d"], fail_with=ConnectionError("endpoint down"))
    records = [dict(MEMO, id=f"audio-{i}") for i in range(8)]
    with pytest.raises(BenchmarkError, match="5 records in a row"):
        run(records, Planner(llm), tmp_path / "run", CONFIG, bertscore=False, progress=False)
    preds = read_predictions(tmp_path / "run" / PREDICTIONS)
    assert len(preds) == 5 and all(p["source"] == "error" and "endpoint down" in p["error"]
                                   for p in preds)


def test_scoring_a_predictions_file_made_elsewhere(tmp_path):
    path = tmp_path / "cloud.jsonl"
    lines = [{"id": "audio-1", "raw": "```json\n" + json.dumps(MEMO["plan"]) + "\n```"},
             {"id": "posture-1", "plan": POSE["plan"]},
             {"id": "memory-1", "output": RULE_RAW}]  # audio-2 and memory-2 missing
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    summary = score_file(path, RECORDS, tmp_path / "scored", {**CONFIG, "label": "cloud"},
                         bertscore=False)
    expected = metrics.score([r["plan"] for r in RECORDS],
                             [lines[0]["raw"], "", POSE["plan"], RULE_RAW, ""],
                             scenarios=[r["scenario"] for r in RECORDS], bertscore=False,
                             attachments=[r["attachments"] for r in RECORDS])
    assert summary["metrics"]["overall"] == expected["overall"]
    assert summary["n_missing"] == 2 and summary["label"] == "cloud"
    assert summary["scored_from"] == str(path.resolve())
    report = write_run_report(tmp_path / "scored")
    assert "cloud" in report.read_text()
    path.write_text(json.dumps({"id": "nope-9", "raw": "{}"}) + "\n")
    with pytest.raises(BenchmarkError, match="not in"):
        score_file(path, RECORDS, tmp_path / "x", CONFIG, bertscore=False)


def _png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 2000 and path.read_bytes()[:8] == PNG


def test_the_report_has_tables_and_plots(tmp_path):
    run_scripted(tmp_path / "run")
    report = write_run_report(tmp_path / "run")
    text = report.read_text()
    for part in ("# Planning benchmark: scripted", "## Overall", "## Per scenario",
                 "Node F1", "Validity", "per_scenario.png", "overall.png",
                 "## Where the plans came from", "## Records planned worst", "posture-1"):
        assert part in text
    assert _png(tmp_path / "run" / "per_scenario.png") and _png(tmp_path / "run" / "overall.png")


def test_comparison_and_matrix_of_runs(tmp_path):
    run_scripted(tmp_path / "a")
    run_scripted(tmp_path / "b", replies=[RULE_RAW], config={"label": "other + lora",
                                                             "adapter": "/x/lora.gguf"})
    runs = [load_run(tmp_path / "a"), load_run(tmp_path / "b")]
    rows, cols, cells = matrix(runs)
    assert rows == ["scripted", "other + lora"]
    assert cols == ["audio", "posture", "memory", "all"]
    assert len(cells) == 2 and all(len(row) == len(cols) for row in cells)
    assert cells[0][0] == "0.50 / 0.50"  # audio: MEMO right, SAVE not JSON
    assert cells[0][2] == "1.00 / 1.00" and cells[1][1] == "0.00 / 0.00"
    md = matrix_markdown(runs)
    assert md.count("\n|") == 4 and "Node F1 / Value F1" in md
    report = write_comparison([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp")
    text = report.read_text()
    assert "## Scenario matrix" in text and "comparison.png" in text and "other + lora" in text
    assert _png(tmp_path / "cmp" / "comparison.png") and _png(tmp_path / "cmp" / "matrix.png")
    md_path, png = write_matrix([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    assert md_path.is_file() and _png(png)
    # same label twice: the rows are told apart
    run_scripted(tmp_path / "c")
    assert matrix([runs[0], load_run(tmp_path / "c")])[0] == [
        "scripted (free, 1-shot) [a]", "scripted (free, 1-shot) [c]"]


def test_newest_report(tmp_path):
    assert newest_report(tmp_path / "none") is None
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.md").write_text(name)
        time.sleep(0.02)
    os.utime(tmp_path / "old" / "report.md", (1, 1))
    assert newest_report(tmp_path) == tmp_path / "new" / "report.md"


def test_load_records_of_splits_and_files(tmp_path):
    records, label = load_records("test")
    assert label == "test" and len(records) == 129
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(MEMO) + "\n\n" + json.dumps(MATH) + "\n")
    records, label = load_records(data=path)
    assert [r["id"] for r in records] == ["audio-1", "memory-1"] and label == str(path.resolve())
    path.write_text(json.dumps({"id": "x"}) + "\n")
    with pytest.raises(BenchmarkError, match="instruction"):
        load_records(data=path)


def test_cli_score_report_and_matrix(tmp_path, capsys):
    from app.cli import main

    run_scripted(tmp_path / "a")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    assert main(["bench", "score", str(tmp_path / "a" / PREDICTIONS), "--data", str(data),
                 "--no-bertscore", "--out", str(tmp_path / "s"), "--label", "again"]) == 0
    out = capsys.readouterr().out
    assert f"Report: {tmp_path / 's' / 'report.md'}" in out
    again = json.loads((tmp_path / "s" / SUMMARY).read_text())
    first = json.loads((tmp_path / "a" / SUMMARY).read_text())
    assert again["metrics"]["overall"] == first["metrics"]["overall"]
    assert main(["bench", "report", str(tmp_path / "a"), str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "compare-" in out and out.strip().endswith("report.md")
    assert main(["bench", "matrix", str(tmp_path / "a"), str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "| scripted |" in out and "| again |" in out
    assert main(["bench", "matrix", str(tmp_path / "nothing")]) == 1
    assert "no summary.json" in capsys.readouterr().err


def test_cli_plan_refuses_bad_combinations(capsys):
    from app.cli import main

    assert main(["bench", "plan", "--endpoint", "http://127.0.0.1:9/v1"]) == 1
    assert "--api-model" in capsys.readouterr().err
    assert main(["bench", "plan", "--endpoint", "http://127.0.0.1:9/v1", "--api-model", "m",
                 "--decoding", "guided"]) == 1
    assert "guided" in capsys.readouterr().err


def test_endpoint_key_comes_from_the_named_variable_and_is_never_shown(monkeypatch):
    from agent.llm import ModelLoadError
    from agent.openai_llm import OpenAICompatLLM

    monkeypatch.delenv("HEARTH_TEST_KEY", raising=False)
    with pytest.raises(ModelLoadError, match="HEARTH_TEST_KEY"):
        OpenAICompatLLM.from_env("http://127.0.0.1:9/v1", "m", "HEARTH_TEST_KEY")
    monkeypatch.setenv("HEARTH_TEST_KEY", "sk-secret-123")
    llm = OpenAICompatLLM.from_env("http://127.0.0.1:9/v1", "m", "HEARTH_TEST_KEY")
    assert "sk-secret" not in repr(llm) and not llm.supports_grammar
    with pytest.raises(ModelLoadError) as exc:  # nothing listens on port 9
        OpenAICompatLLM("http://127.0.0.1:9/v1", "m", api_key="sk-secret-123", timeout=2,
                        max_retries=0).complete([{"role": "user", "content": "hi"}])
    assert "sk-secret" not in str(exc.value)


def test_an_adapter_is_handed_to_llama_cpp(monkeypatch, tmp_path):
    import ctypes
    from types import SimpleNamespace

    import llama_cpp

    from agent.llama_cpp_llm import LlamaCppLLM
    from agent.llm import ModelLoadError

    seen = {"init": [], "set": 0}

    class Loads:
        _model = SimpleNamespace(model="model")
        _ctx = SimpleNamespace(ctx="ctx")

        def __init__(self, **kw):
            seen["llama"] = kw

        def reset(self):
            pass

        def close(self):
            pass

    def init(model, path):
        seen["init"].append(path.decode())
        return ctypes.pointer(ctypes.c_void_p(1))  # llama.cpp loaded it (NULL is falsy)

    def apply(ctx, adapters, n, scales):
        seen["set"] += n
        return 0

    monkeypatch.setattr(llama_cpp, "Llama", Loads)
    monkeypatch.setattr(llama_cpp, "llama_adapter_lora_init", init)
    monkeypatch.setattr(llama_cpp, "llama_set_adapters_lora", apply)
    monkeypatch.setattr(llama_cpp, "llama_adapter_lora_free", lambda handle: None)
    model, adapter = tmp_path / "m.gguf", tmp_path / "planner-lora.gguf"
    model.write_bytes(b"m")
    adapter.write_bytes(b"a")
    LlamaCppLLM(model, lora_path=adapter).load()
    assert seen["init"] == [str(adapter)] and seen["set"] == 1
    assert "lora_path" not in seen["llama"]  # ours, not llama-cpp-python's (mmap stays on)
    LlamaCppLLM(model).load()
    assert seen["init"] == [str(adapter)] and seen["set"] == 1
    with pytest.raises(ModelLoadError, match="LoRA adapter not found"):
        LlamaCppLLM(model, lora_path=tmp_path / "missing.gguf").load()


# --- the window's menu --------------------------------------------------------------------------

@pytest.mark.gui
def test_the_menu_opens_the_newest_report_or_says_how_to_make_one(qtbot, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    from agent.assistant import Assistant
    from app.main_window import MainWindow
    from app.model_queue import ModelQueue
    from memory.conversations import ConversationStore
    from memory.db import Database
    from memory.paths import user_dir
    from memory.settings import load_settings

    db = Database()
    store = ConversationStore(db)
    settings = load_settings(db).model_copy(update={"use_memory": False})
    window = MainWindow(db, store, settings, ModelQueue(Assistant(store, settings)))
    qtbot.addWidget(window)
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    try:
        action = window.findChild(type(window.actions()[0]), "actionBenchmarkReport")
        assert action is not None and "benchmark" in action.text().lower()
        action.trigger()
        assert opened == [] and "hearth bench plan" in window.notice_label.text()
        folder = user_dir() / "benchmarks" / "plan-x"
        folder.mkdir(parents=True)
        (folder / "report.md").write_text("# report")
        action.trigger()
        assert [u.toLocalFile() for u in opened] == [str(folder / "report.md")]
    finally:
        window.close()
        db.close()


# --- a real model behind an OpenAI-compatible endpoint -------------------------------------------

@pytest.mark.real_model
def test_benchmark_through_llama_cpp_server_endpoint(tmp_path, smollm2_path):
    from sync.local_server import serve

    with serve(smollm2_path, "smollm2", tmp_path / "server.log", n_ctx=2048) as server:
        url = server.base_url
        out = tmp_path / "run"
        env = {**os.environ, "HEARTH_TEST_API_KEY": "local-key"}
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "bench", "plan", "--endpoint",
             url, "--api-model", "smollm2", "--api-key-env",
             "HEARTH_TEST_API_KEY", "--limit", "3", "--no-bertscore", "--no-progress",
             "--out", str(out)], capture_output=True, text=True, timeout=600, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "local-key" not in result.stdout + result.stderr
        preds = read_predictions(out / PREDICTIONS)
        assert len(preds) == 3 and all(p["source"] in ("model", "fallback") for p in preds)
        assert all(p["decoding"] == "free" and p["raw"] for p in preds)
        summary = json.loads((out / SUMMARY).read_text())
        assert summary["n"] == 3 and summary["endpoint"] == url
        assert summary["model"] == "smollm2" and summary["split"] == "test"
        assert (out / "report.md").is_file() and _png(out / "per_scenario.png")
        assert f"Report: {out / 'report.md'}" in result.stdout
