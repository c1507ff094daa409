"""The answer benchmark: the app's summarizer prompt from a record's results, the measures, a
resumable run, and `hearth bench answer` on the real default model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent import summarizer
from agent.answerbench import metrics, runner
from tests.fakes import ScriptedLLM

FAILS = "mixed-0033"  # a voice note and a photo, both saved; the photo's face step failed


def _record(rid: str, split: str = "test") -> dict:
    (rec,) = runner.load_records(split, ids=[rid])
    return rec


def test_facts_match_whole_words_in_any_case_and_every_group_must_be_met():
    fact = {"all": [["7", "seven"], ["car", "cars"]]}
    assert metrics.fact_met(fact, "There are Seven cars (object-detection).")
    assert metrics.fact_met(fact, "7 cars.")
    assert not metrics.fact_met(fact, "There are 17 cars.")  # whole words only
    assert not metrics.fact_met(fact, "There are seven carts.")
    assert not metrics.fact_met(fact, "I see seven.")  # one group missing
    assert metrics.fact_met({"all": [["7:30", "seven thirty"]]}, "the 7.30 train")


def test_citations_count_the_experts_that_ran_and_numbers_nowhere_in_the_prompt():
    tasks = [{"task": "speech-to-text", "status": "done"},
             {"task": "object-detection", "status": "done"},
             {"task": "face-recognition", "status": "failed"}]
    prompt = "how many cars? object-detection: 3 car. transcript: meet at 07:40"
    s = metrics.score_answer({"facts": []}, "3 cars (object detection), meet at 7:40 or 9.",
                             tasks, prompt)
    assert s["named"] == ["object-detection"]
    assert (s["cite_precision"], s["cite_recall"]) == (1.0, 0.5)
    wrong = metrics.score_answer({"facts": []}, "3 cars (pose-estimation).", tasks, prompt)
    assert wrong["cite_precision"] == 0.0  # an expert that was not in the plan
    assert s["invented_numbers"] == ["9"]
    none = metrics.score_answer({"facts": []}, "I don't know.", [], "hi")
    assert none["cite_f1"] == 1.0 and none["fact_recall"] == 1.0  # nothing to name or state


def test_the_plan_runs_as_in_the_app_a_failure_skips_what_needs_it():
    tasks = runner.run_plan(_record(FAILS))
    status = {t["id"]: t["status"] for t in tasks}
    assert status == {0: "done", 1: "done", 2: "failed", 3: "skipped"}
    saved = tasks[1]["output"]["text"]
    assert saved == tasks[0]["output"]["text"]  # <GENERATED>-0 became the transcript
    assert "damaged" in tasks[2]["error"]


def test_two_tasks_of_one_expert_each_get_their_own_result():
    rec = next(r for r in runner.load_records("test") if r["template"] == "object.compare_cars")
    tasks = runner.run_plan(rec)
    assert [t["output"] for t in tasks] == [rec["results"][str(t["id"])].get("output")
                                            for t in tasks]


def test_the_prompt_is_the_apps_summarizer_prompt():
    rec = _record(FAILS)
    tasks, messages = runner.prompt_for(rec)
    assert messages == summarizer.answer_messages(rec["instruction"], tasks)
    assert messages[1]["content"].startswith(rec["instruction"] + "\n\n<attached_files>\n")


def test_a_run_scores_writes_and_resumes(tmp_path):
    records = [_record(FAILS), _record("audio-0025")]
    good = ("I saved the note (memory-save) about paying the window cleaner (speech-to-text); "
            "face-recognition failed on the photo.")
    llm = ScriptedLLM([good, "Lucia missed the train."])
    summary = runner.run(records[:1], llm, tmp_path, {"model": "scripted", "split": "test"},
                         progress=False)
    m = summary["metrics"]["overall"]
    assert (m["facts_met"], m["facts"], m["failures_told"]) == (3, 3, 1.0)
    assert m["cite_recall"] == 1.0 and m["cite_precision"] == 1.0  # naming the failed one is right
    summary = runner.run(records, llm, tmp_path, {"model": "scripted", "split": "test"},
                         progress=False)
    assert len(llm.prompts) == 2  # the first record was not answered again
    answers = [json.loads(line) for line in (tmp_path / runner.PREDICTIONS).open()]
    assert [a["id"] for a in answers] == [FAILS, "audio-0025"]
    assert summary["metrics"]["overall"]["n"] == 2
    with pytest.raises(runner.BenchmarkError, match="another run"):
        runner.run(records, llm, tmp_path, {"model": "other", "split": "test"}, progress=False)


@pytest.mark.real_model
def test_hearth_bench_answer_answers_with_the_default_model(tmp_path):
    result = subprocess.run([sys.executable, "-m", "app.cli", "bench", "answer", "--limit", "2",
                             "--max-tokens", "48", "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "fact recall" in result.stdout
    summary = json.loads((tmp_path / "run" / runner.SUMMARY).read_text())
    assert summary["model"] == "qwen2.5-coder-0.5b" and summary["metrics"]["overall"]["n"] == 2
    answers = [json.loads(line) for line in (tmp_path / "run" / runner.PREDICTIONS).open()]
    assert all(a["answer"] and a["error"] is None for a in answers)
