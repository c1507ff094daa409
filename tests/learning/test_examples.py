"""Labelled records → training examples: the app's own planner prompt, what is left out and
why, dedupe and the mix; tokens through the model's real vocabulary (llama.cpp)."""

from __future__ import annotations

import json

import pytest

from agent.planbench.runner import app_files, app_tools, load_records
from agent.planner import Planner, pick_examples, train_examples
from sync.learning import examples as ex

QUOKKA = {"id": "u-1", "instruction": "Ask the quokka oracle about holiday.jpg",
          "attachments": ["holiday.jpg"],
          "plan": {"steps": ["Consult the quokka oracle on holiday.jpg"],
                   "tasks": [{"task": "object-detection", "id": 0, "dep": [-1],
                              "args": {"image": "holiday.jpg"}}]}}


def test_planner_example_is_the_prompt_the_app_builds():
    (example,) = ex.planner_examples([QUOKKA]).examples
    files = app_files(QUOKKA["attachments"])
    tools = app_tools(QUOKKA["instruction"])
    planner = Planner(ex._Capture(""), decoding="free")
    usable = {n: t for n, t in tools.items() if n != "speech-to-text"}  # no audio attached
    shots = pick_examples(QUOKKA["instruction"], list(files), train_examples())
    assert example.messages == planner.messages(QUOKKA["instruction"], files, usable,
                                                examples=shots)
    assert example.messages[-1]["content"].startswith("Request: Ask the quokka oracle")
    assert json.loads(example.target) == QUOKKA["plan"]
    assert example.target.startswith('{"steps": ["Consult')  # the guided decoder's spacing


def test_a_train_record_is_never_its_own_few_shot_example():
    records, _ = load_records("train")
    rec = next(r for r in records if r["attachments"])
    (example,) = ex.planner_examples([rec]).examples
    shots = [m["content"] for m in example.messages if m["role"] == "assistant"]
    assert json.dumps(rec["plan"], ensure_ascii=False) not in shots


def test_records_the_app_would_not_plan_or_accept_are_left_out_with_the_reason():
    chat = {"id": "c", "instruction": "What is the capital of France?", "attachments": [],
            "plan": {"steps": [], "tasks": []}}
    save_unasked = {"id": "s", "instruction": "What is said in memo.wav?",
                    "attachments": ["memo.wav"],
                    "plan": {"steps": ["Save it"], "tasks": [
                        {"task": "memory-save", "id": 0, "dep": [-1], "args": {"text": "x"}}]}}
    wrong_file = {"id": "w", "instruction": "Transcribe memo.wav", "attachments": ["memo.wav"],
                  "plan": {"steps": ["Transcribe"], "tasks": [
                      {"task": "speech-to-text", "id": 0, "dep": [-1],
                       "args": {"audio": "other.wav"}}]}}
    broken = {"id": "b", "instruction": "hi"}
    built = ex.planner_examples([chat, save_unasked, wrong_file, broken, QUOKKA])
    assert [e.source for e in built.examples] == ["u-1"]
    reasons = {s["id"]: s["reason"] for s in built.skipped}
    assert reasons["c"] == "the app answers it without a plan"
    assert reasons["s"].startswith("the app would refuse this plan") and "memory-save" in reasons["s"]
    assert reasons["w"].startswith("the app would refuse this plan") and "other.wav" in reasons["w"]
    assert reasons["b"] == "needs an instruction and a plan"


def test_dedupe_keeps_one_record_per_request_and_the_later_label_wins():
    corrected = {**QUOKKA, "id": "u-2", "instruction": "  ask the QUOKKA oracle about holiday.jpg ",
                 "plan": {"steps": ["Find the people in holiday.jpg"], "tasks": [
                     {"task": "pose-estimation", "id": 0, "dep": [-1],
                      "args": {"image": "holiday.jpg"}}]}}
    other = {**QUOKKA, "id": "u-3", "attachments": ["beach.jpg"]}
    assert [r["id"] for r in ex.dedupe([QUOKKA, other, corrected])] == ["u-3", "u-2"]


def test_mix_adds_general_and_replay_without_duplicates():
    def make(kind, n, prefix):
        return [ex.Example(kind, [], f"{prefix}{i}", f"{prefix}{i}") for i in range(n)]

    task, general = make("plan", 8, "t"), make("general", 10, "g")
    replay = make("plan", 6, "r") + task[:2]  # two of tonight's are old ones again
    chosen = ex.mix(task, general, replay, general_ratio=0.25, replay_ratio=0.5, seed=1)
    keys = [e.key for e in chosen]
    assert len(keys) == len(set(keys))
    assert sum(k.startswith("t") for k in keys) == 8
    assert sum(k.startswith("g") for k in keys) == 2
    assert sum(k.startswith("r") for k in keys) == 4


@pytest.mark.real_model
def test_tokens_hold_the_rendered_prompt_then_only_the_answer(smollm2_path):
    (example,) = ex.planner_examples([QUOKKA]).examples
    tok = ex.ChatTokenizer(smollm2_path)
    try:
        seq = tok.encode(example)
        detok = tok._llama.detokenize
        prompt = detok(seq["input_ids"][:seq["n_prompt"]], special=True).decode()
        answer = detok(seq["input_ids"][seq["n_prompt"]:], special=True).decode()
    finally:
        tok.close()
    assert prompt.endswith("Request: Ask the quokka oracle about holiday.jpg\n"
                           "Files: holiday.jpg<|im_end|>\n<|im_start|>assistant\n")
    assert prompt.count("<|im_start|>system") == 1
    assert answer == example.target + "<|im_end|>"


def test_a_cloud_answer_becomes_a_summarizer_example_in_the_local_prompt(db):
    """The cloud's answer is trained on as the local summarizer's answer to the prompt the app
    builds for the same request and results (anonymized as they left)."""
    from agent import summarizer
    from sync.anonymizer import Anonymizer
    from sync.labels import TrainingExamples
    from sync.learning.source import answer_records
    from sync.payload import build_payload
    from sync.service import instruction_of

    def task(args: dict, **rest) -> dict:
        return {"id": 0, "task": "speech-to-text", "args": args, "dep": [-1], "status": "done",
                "output": {"text": "Bring the red folder on Friday.", "language": "en"},
                "error": None, **rest}

    built = build_payload(kind="answer", instruction="What does memo.wav ask me to do?",
                          results=[task({"audio": "memo.wav"})], files=["memo.wav"],
                          endpoint="http://127.0.0.1:9/v1", model="teacher",
                          anonymizer=Anonymizer())
    table = TrainingExamples(db)
    reply = "It asks you to bring the red folder on Friday (speech-to-text)."
    table.add("summarizer", instruction_of(built.payload.to_dict()), reply, "cloud:teacher", True)
    table.add("summarizer", "How far is the moon?", "About 384,000 km.", "cloud:teacher", True)
    table.add("summarizer", "Not for training", "No.", "cloud:teacher", False)

    records, skipped = answer_records(db)
    assert skipped == [] and [r["with_results"] for r in records] == [True, False]
    local = summarizer.user_turn("What does <FILE_1>.wav ask me to do?",
                                 [task({"audio": "<FILE_1>.wav"})])
    assert records[0]["request"] == local and records[0]["answer"] == reply

    examples = ex.answer_examples(records).examples
    assert [e.kind for e in examples] == ["answer", "answer"]
    assert examples[0].messages == [{"role": "system", "content": summarizer.system_prompt(True)},
                                    {"role": "user", "content": local}]
    assert examples[1].messages[0]["content"] == summarizer.system_prompt(False)
    assert examples[0].target == reply
