"""The thesis simulation's own parts (benchmarks/learning_thesis.py): the user's requests per
night, the teacher asked through the app's cloud path (a real llama_cpp.server on SmolLM2),
and how the teacher's labels are scored. The experiments themselves are benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import learning_thesis as lt  # noqa: E402

AUDIO = {"id": "u-audio", "scenario": "audio", "instruction": "Transcribe alice_interview.wav",
         "attachments": ["alice_interview.wav"],
         "plan": {"steps": ["Transcribe alice_interview.wav"],
                  "tasks": [{"task": "speech-to-text", "id": 0, "dep": [-1],
                             "args": {"audio": "alice_interview.wav"}}]}}


def test_nights_get_disjoint_batches_of_requests_the_app_plans():
    from agent.planbench.runner import app_files, app_plans

    first, second = lt.batch(1), lt.batch(2)
    assert len(first) == len(second) == lt.BATCH
    assert not {r["id"] for r in first} & {r["id"] for r in second}
    assert all(app_plans(r["instruction"], app_files(r["attachments"])) for r in first + second)
    assert [r["id"] for r in lt.batch(1)] == [r["id"] for r in first]  # a fixed order


def test_label_quality_counts_an_unusable_reply_as_an_invalid_plan():
    good = {**AUDIO, "reference": AUDIO["plan"], "raw": "{...}", "error": None, "seconds": 1.0}
    bad = {**AUDIO, "id": "u-bad", "reference": AUDIO["plan"], "raw": "no plan", "plan": None,
           "error": "The cloud's plan can't be used: Task 0 (speech-to-text) reads 'x.wav', "
                    "which is not an attached file (alice_interview.wav).", "seconds": 2.0}
    q = lt.label_quality([good, bad])
    assert (q["asked"], q["accepted"], q["unusable"]) == (2, 1, 1)
    assert q["unusable_reasons"] == {"names a file not attached": 1}
    assert q["same_tasks_as_reference"] == 1
    assert q["scores_accepted"]["node_f1"] == 1.0
    assert q["scores_all"]["validity"] == 0.5


@pytest.fixture
def smollm2_teacher(smollm2_path, tmp_path):
    from sync.local_server import serve

    with serve(smollm2_path, "smollm2", tmp_path / "server.log") as server:
        yield server.base_url


def test_the_teacher_gets_the_app_payload_and_its_plan_is_restored_and_checked(smollm2_teacher):
    from sync.anonymizer import Anonymizer
    from sync.cloud import CloudClient

    client = CloudClient(smollm2_teacher, "smollm2", None, timeout=120.0)
    try:
        row = lt.ask_teacher(AUDIO, client, Anonymizer(known_names=lambda: []),
                             smollm2_teacher, "smollm2")
    finally:
        client.close()
    # what left the machine: the anonymized request, not the file's name (it holds a name)
    assert "alice_interview" not in row["sent_user"]
    assert row["mapping_size"] >= 1
    assert isinstance(row["raw"], str)
    if row["plan"] is None:
        assert row["error"].startswith("The cloud's plan can't be used")
    else:  # a usable label names the user's real file again
        for task in row["plan"]["tasks"]:
            for value in task["args"].values():
                assert "<FILE" not in value


def test_each_personal_user_asks_again_for_the_kinds_of_request_they_asked(monkeypatch):
    import learning_personal as lp

    for split in ("test", "dev"):
        monkeypatch.setattr(lp, "SPLIT", split)
        past, future = lp.split()
        assert past and future
        assert not {r["id"] for r in past} & {r["id"] for r in future}
        assert {r["template"] for r in future} <= {r["template"] for r in past}


def test_as_run_scores_the_repaired_plan_where_the_benchmark_scores_the_raw_text():
    import json

    import learning_personal as lp
    from agent.planbench.metrics import score
    from agent.planbench.runner import score_records

    task = AUDIO["plan"]["tasks"][0]
    raw = json.dumps({"steps": ["Transcribe", "Transcribe"], "tasks": [task, {**task, "id": 1}]})
    row = {"id": AUDIO["id"], "raw": raw, "plan": json.loads(raw)}
    (planned,) = lp.as_run([row])
    assert planned["tasks"] == [task]  # the repeat is dropped, as the app drops it
    as_run = score([AUDIO], [planned], bertscore=False)["overall"]["node_f1"]
    raw_score = score_records([AUDIO], [row], bertscore=False)["overall"]["node_f1"]
    assert as_run == 1.0 and raw_score < 1.0


def test_the_gated_nights_store_labels_the_app_reads_back_as_they_were(db):
    import learning_gated as lg
    import learning_personal as lp
    from sync.learning import source

    labels = lp.batch(1)[:5]
    lg.store_labels(db, labels)
    records, skipped = source.training_records(db)
    assert skipped == []
    assert [(r["instruction"], r["attachments"], r["plan"]) for r in records] == \
        [(r["instruction"], r.get("attachments", []), r["plan"]) for r in labels]
    assert {r["source"] for r in records} == {"cloud"}
