"""agent/executor.py with small fake run_tool functions (no experts, no models)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from agent.events import TaskFinished, TaskStarted
from agent.executor import (MAX_GENERATED_CHARS, Executor, TaskRecord, initial_records,
                            output_text)
from agent.plan import SPEC_TOOLS, plan_from_obj, validate
from experts.base import ExpertError, ExpertResult

TRANSCRIPT = "Buy milk and call the dentist on Friday."
RECORD_KEYS = {"id", "task", "step", "args", "dep", "status", "inputs", "output", "summary",
               "error", "seconds", "annotated"}


def t(name, tid, dep=(-1,), **args):
    return {"task": name, "id": tid, "dep": list(dep), "args": args}


def make_plan(*tasks, steps=None):
    plan = plan_from_obj({"steps": steps if steps is not None else
                          [f"step {i}" for i in range(len(tasks))], "tasks": list(tasks)})
    return validate(plan, SPEC_TOOLS)


DEFAULT_OUTPUTS = {
    "speech-to-text": {"text": f"  {TRANSCRIPT}  ", "language": "en", "segments": []},
    "object-detection": {"objects": [{"label": "cup", "confidence": 0.9, "box": [0, 0, 1, 1]}]},
    "pose-estimation": {"people": []},
    "face-recognition": {"faces": []},
    "memory-search": {"memories": [
        {"id": 1, "text": "Dentist is Dr. Lee", "created": "", "score": 1.0},
        {"id": 2, "text": "Milk is in the fridge", "created": "", "score": 0.5}]},
    "memory-save": {"id": 7},
}


class FakeTools:
    """run_tool: records each call; per-expert behaviour is a function or an exception."""

    def __init__(self, behaviours=None):
        self.behaviours = behaviours or {}
        self.calls: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.active: dict[str, int] = {}
        self.max_active_total = 0
        self.max_active: dict[str, int] = {}

    def __call__(self, name, inputs, cancel):
        with self.lock:
            self.calls.append((name, dict(inputs)))
            self.active[name] = self.active.get(name, 0) + 1
            self.max_active[name] = max(self.max_active.get(name, 0), self.active[name])
            self.max_active_total = max(self.max_active_total, sum(self.active.values()))
        try:
            behaviour = self.behaviours.get(name)
            if isinstance(behaviour, Exception):
                raise behaviour
            if callable(behaviour):
                result = behaviour(inputs, cancel)
                if isinstance(result, ExpertResult):
                    return result
                return ExpertResult(name, result)
            return ExpertResult(name, DEFAULT_OUTPUTS[name])
        finally:
            with self.lock:
                self.active[name] -= 1


@pytest.fixture
def files(tmp_path):
    stored = {}
    for name in ("memo.wav", "photo.jpg", 'my "odd" café.jpg'):
        path = tmp_path / "attachments" / f"stored-{len(stored)}{Path(name).suffix}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x")
        stored[name] = path
    return stored


def run(plan, files, run_tool, cancel=None, **kw):
    records = initial_records(plan)
    executor = Executor(run_tool, files, SPEC_TOOLS, **kw)
    events = list(executor.run(plan, records, cancel))
    return records, events


def by_id(records):
    return {r.id: r for r in records}


# --- records ---------------------------------------------------------------------------------

def test_initial_records():
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"),
                     t("memory-search", 1, [0], text="<GENERATED>-0"), steps=["Transcribe"])
    records = initial_records(plan)
    assert [(r.id, r.task, r.step, r.status, r.dep) for r in records] == [
        (0, "speech-to-text", "Transcribe", "waiting", [-1]),
        (1, "memory-search", "memory-search", "waiting", [0])]  # no step text: the task name
    records[0].args["audio"] = "changed"
    records[1].dep.append(9)
    assert plan.tasks[0].args["audio"] == "memo.wav" and plan.tasks[1].dep == [0]


def test_record_to_dict_has_the_documented_keys(files):
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"))
    records, events = run(plan, files, FakeTools())
    d = records[0].to_dict()
    assert set(d) == RECORD_KEYS
    assert d["args"] == {"audio": "memo.wav"} and d["inputs"] == {"audio": str(files["memo.wav"])}
    assert d["status"] == "done" and d["error"] is None and d["step"] == "step 0"
    assert d["output"]["text"].strip() == TRANSCRIPT
    assert TRANSCRIPT in d["summary"]
    assert isinstance(d["seconds"], float) and d["annotated"] is None
    for event in events:
        assert set(event.task) == RECORD_KEYS


def test_empty_plan_runs_nothing(files):
    tools = FakeTools()
    records, events = run(make_plan(), files, tools)
    assert records == [] and events == [] and tools.calls == []


# --- order and inputs ------------------------------------------------------------------------

def test_dependency_order_and_generated_text(files):
    plan = make_plan(t("memory-save", 2, [1], text="Found: <GENERATED>-1"),
                     t("memory-search", 1, [0], text="<GENERATED>-0"),
                     t("speech-to-text", 0, audio="memo.wav"))
    tools = FakeTools()
    records, events = run(plan, files, tools)
    assert [name for name, _ in tools.calls] == ["speech-to-text", "memory-search", "memory-save"]
    rec = by_id(records)
    assert all(r.status == "done" for r in records)
    # The transcript (stripped) is memory-search's query; the planned arg is kept as planned.
    assert rec[1].inputs == {"text": TRANSCRIPT}
    assert rec[1].args == {"text": "<GENERATED>-0"}
    # A memory search's output as text is its memories, joined.
    assert rec[2].inputs == {"text": "Found: Dentist is Dr. Lee; Milk is in the fridge"}


def test_generated_text_of_other_experts_is_their_summary(files):
    plan = make_plan(t("object-detection", 0, image="photo.jpg"),
                     t("memory-save", 1, [0], text="<GENERATED>-0"))
    records, _ = run(plan, files, FakeTools())
    assert by_id(records)[1].inputs == {"text": by_id(records)[0].summary}
    assert "cup" in by_id(records)[1].inputs["text"]


def test_generated_text_is_capped():
    rec = TaskRecord(0, "speech-to-text", "", {}, [-1], status="done",
                     output={"text": "word " * 2000})
    assert len(output_text(rec)) == MAX_GENERATED_CHARS
    assert output_text(TaskRecord(1, "speech-to-text", "", {}, [-1], output=None)) == ""
    assert output_text(TaskRecord(2, "memory-search", "", {}, [-1], output={"memories": []})) == ""


def test_file_args_resolve_to_stored_paths(files):
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"),
                     t("face-recognition", 1, image='my "odd" café.jpg'),
                     t("pose-estimation", 2, image="photo.jpg"))
    tools = FakeTools()
    records, _ = run(plan, files, tools)
    got = {name: inputs for name, inputs in tools.calls}
    assert got["speech-to-text"] == {"audio": str(files["memo.wav"])}
    assert got["face-recognition"] == {"image": str(files['my "odd" café.jpg'])}
    assert got["pose-estimation"] == {"image": str(files["photo.jpg"])}
    assert all(r.status == "done" for r in records)


def test_file_arg_that_is_not_attached_fails_that_task_only(files):
    plan = make_plan(t("object-detection", 0, image="missing.jpg"),
                     t("memory-save", 1, [0], text="<GENERATED>-0"),
                     t("speech-to-text", 2, audio="memo.wav"))
    tools = FakeTools()
    records, _ = run(plan, files, tools)
    rec = by_id(records)
    assert rec[0].status == "failed" and "'missing.jpg' is not an attached file" in rec[0].error
    assert rec[1].status == "skipped"
    assert rec[2].status == "done"
    assert [name for name, _ in tools.calls] == ["speech-to-text"]


# --- failure, cancel -------------------------------------------------------------------------

def test_failed_task_skips_its_dependents_and_not_the_rest(files):
    plan = make_plan(t("object-detection", 0, image="photo.jpg"),
                     t("memory-search", 1, [0], text="<GENERATED>-0"),
                     t("memory-save", 2, [1], text="<GENERATED>-1"),
                     t("speech-to-text", 3, audio="memo.wav"),
                     t("memory-search", 4, [3], text="<GENERATED>-3"))
    tools = FakeTools({"object-detection": ExpertError("object-detection: the image is damaged.")})
    records, events = run(plan, files, tools)
    rec = by_id(records)
    assert rec[0].status == "failed"
    assert rec[0].error == "object-detection: the image is damaged."
    assert rec[0].summary.startswith("failed:")
    assert rec[1].status == "skipped"
    assert rec[1].error == "Needs the output of step 1 (object-detection), which failed."
    assert rec[2].status == "skipped"
    assert rec[2].error == "Needs the output of step 2 (memory-search), which skipped."
    assert rec[3].status == "done" and rec[4].status == "done"
    assert rec[4].inputs == {"text": TRANSCRIPT}
    assert sorted(name for name, _ in tools.calls) == ["memory-search", "object-detection",
                                                       "speech-to-text"]
    # Skipped tasks never start: only a TaskFinished.
    started = {e.task["id"] for e in events if isinstance(e, TaskStarted)}
    assert started == {0, 3, 4}
    assert sorted(e.task["id"] for e in events if isinstance(e, TaskFinished)) == [0, 1, 2, 3, 4]


def test_any_exception_from_a_tool_fails_only_that_task(files):
    plan = make_plan(t("pose-estimation", 0, image="photo.jpg"),
                     t("face-recognition", 1, image="photo.jpg"))
    records, _ = run(plan, files, FakeTools({"pose-estimation": RuntimeError("boom")}))
    assert [r.status for r in records] == ["failed", "done"]
    assert records[0].error == "boom"


def test_cancel_mid_run_stops_the_rest(files):
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"),
                     t("memory-search", 1, [0], text="<GENERATED>-0"),
                     t("memory-save", 2, [1], text="<GENERATED>-1"),
                     t("object-detection", 3, [0], image="photo.jpg"))
    cancel = threading.Event()

    def transcribe(inputs, cancel_arg):
        assert cancel_arg is cancel  # the tool gets the cancel event to stop early
        cancel.set()  # the user presses Stop while the first step runs
        return DEFAULT_OUTPUTS["speech-to-text"]

    tools = FakeTools({"speech-to-text": transcribe})
    records, events = run(plan, files, tools, cancel)
    assert [r.status for r in records] == ["done", "stopped", "stopped", "stopped"]
    assert all(r.error == "Stopped before it ran." for r in records[1:])
    assert [name for name, _ in tools.calls] == ["speech-to-text"]
    assert [type(e).__name__ for e in events] == ["TaskStarted"] + ["TaskFinished"] * 4


def test_a_tool_that_stops_on_cancel_is_stopped_not_failed(files):
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"),
                     t("speech-to-text", 1, audio="memo.wav"),  # waits: same expert
                     t("memory-search", 2, [0], text="<GENERATED>-0"))
    cancel = threading.Event()

    def transcribe(inputs, cancel_arg):
        assert cancel_arg.wait(5), "cancel never came"
        raise ExpertError("speech-to-text: stopped.")

    records = initial_records(plan)
    events = []
    for event in Executor(FakeTools({"speech-to-text": transcribe}), files, SPEC_TOOLS).run(
            plan, records, cancel):
        events.append(event)
        if isinstance(event, TaskStarted):
            cancel.set()
    assert [r.status for r in records] == ["stopped", "stopped", "stopped"]
    assert records[0].error == "speech-to-text: stopped."
    assert records[1].error == records[2].error == "Stopped before it ran."


def test_cancel_before_start_runs_nothing(files):
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"),
                     t("object-detection", 1, image="photo.jpg"))
    cancel = threading.Event()
    cancel.set()
    tools = FakeTools()
    records, events = run(plan, files, tools, cancel)
    assert [r.status for r in records] == ["stopped", "stopped"] and tools.calls == []
    assert all(isinstance(e, TaskFinished) for e in events)


# --- parallel --------------------------------------------------------------------------------

def test_tasks_of_different_experts_overlap(files):
    plan = make_plan(t("object-detection", 0, image="photo.jpg"),
                     t("speech-to-text", 1, audio="memo.wav"),
                     t("memory-search", 2, [0, 1], text="<GENERATED>-0 <GENERATED>-1"))
    both_running = threading.Barrier(2, timeout=5)

    def meet(name):
        def tool(inputs, cancel):
            both_running.wait()  # only returns when the other expert runs at the same time
            return DEFAULT_OUTPUTS[name]
        return tool

    tools = FakeTools({"object-detection": meet("object-detection"),
                       "speech-to-text": meet("speech-to-text")})
    records, _ = run(plan, files, tools)
    assert [r.status for r in records] == ["done", "done", "done"], [r.error for r in records]
    assert tools.max_active_total == 2
    assert tools.calls[-1][0] == "memory-search"  # after both its dependencies


def test_tasks_of_one_expert_do_not_overlap(files):
    plan = make_plan(t("pose-estimation", 0, image="photo.jpg"),
                     t("pose-estimation", 1, image='my "odd" café.jpg'),
                     t("pose-estimation", 2, image="photo.jpg"),
                     t("object-detection", 3, image="photo.jpg"))

    def slow(inputs, cancel):
        time.sleep(0.15)
        return {"people": []}

    tools = FakeTools({"pose-estimation": slow, "object-detection": slow})
    records, _ = run(plan, files, tools)
    assert all(r.status == "done" for r in records)
    assert tools.max_active["pose-estimation"] == 1
    assert [inputs["image"] for name, inputs in tools.calls if name == "pose-estimation"] == [
        str(files["photo.jpg"]), str(files['my "odd" café.jpg']), str(files["photo.jpg"])]


def test_parallel_off_runs_one_at_a_time(files):
    plan = make_plan(t("object-detection", 0, image="photo.jpg"),
                     t("speech-to-text", 1, audio="memo.wav"),
                     t("face-recognition", 2, image="photo.jpg"))

    def slow(name):
        def tool(inputs, cancel):
            time.sleep(0.1)
            return DEFAULT_OUTPUTS[name]
        return tool

    tools = FakeTools({n: slow(n) for n in ("object-detection", "speech-to-text",
                                            "face-recognition")})
    records, _ = run(plan, files, tools, parallel=False)
    assert all(r.status == "done" for r in records)
    assert tools.max_active_total == 1
    assert [name for name, _ in tools.calls] == ["object-detection", "speech-to-text",
                                                 "face-recognition"]


# --- caller hook -----------------------------------------------------------------------------

def test_caller_turns_a_whole_generated_argument_into_the_tool_input(files):
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"),
                     t("memory-search", 1, [0], text="<GENERATED>-0"),
                     t("memory-save", 2, [0], text="Memo: <GENERATED>-0"),
                     t("memory-search", 3, text="dentist"))
    seen = []

    def caller(task, text):
        seen.append((task.id, task.task, text))
        return "dentist Friday"

    tools = FakeTools()
    records, _ = run(plan, files, tools, caller=caller)
    rec = by_id(records)
    assert seen == [(1, "memory-search", TRANSCRIPT)]  # only the whole-<GENERATED> argument
    assert rec[1].inputs == {"text": "dentist Friday"}
    assert rec[2].inputs == {"text": f"Memo: {TRANSCRIPT}"}
    assert rec[3].inputs == {"text": "dentist"}


def test_a_failing_caller_fails_that_task(files):
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"),
                     t("memory-search", 1, [0], text="<GENERATED>-0"),
                     t("memory-save", 2, [1], text="<GENERATED>-1"))

    def caller(task, text):
        raise RuntimeError("the model is busy")

    records, _ = run(plan, files, FakeTools(), caller=caller)
    assert [r.status for r in records] == ["done", "failed", "skipped"]
    assert records[1].error == "the model is busy"


# --- results and events ----------------------------------------------------------------------

def test_result_seconds_and_annotated_image(files, tmp_path):
    annotated = tmp_path / "annotated.jpg"
    plan = make_plan(t("object-detection", 0, image="photo.jpg"),
                     t("pose-estimation", 1, image="photo.jpg"))
    tools = FakeTools({
        "object-detection": lambda inputs, cancel: ExpertResult(
            "object-detection", DEFAULT_OUTPUTS["object-detection"], annotated=annotated,
            seconds=1.25),
        "pose-estimation": lambda inputs, cancel: (time.sleep(0.05), {"people": []})[1]})
    records, _ = run(plan, files, tools)
    assert records[0].seconds == 1.25 and records[0].annotated == str(annotated)
    assert records[0].to_dict()["seconds"] == 1.25
    assert records[1].seconds >= 0.04 and records[1].annotated is None  # measured when not given


def test_events_order(files):
    plan = make_plan(t("speech-to-text", 0, audio="memo.wav"),
                     t("memory-search", 1, [0], text="<GENERATED>-0"),
                     t("object-detection", 2, image="photo.jpg"),
                     t("memory-save", 3, [1, 2], text="<GENERATED>-1"))
    records, events = run(plan, files, FakeTools())
    seq = [(type(e).__name__, e.task["id"]) for e in events]
    assert len(seq) == 8
    for tid in range(4):
        assert seq.index(("TaskStarted", tid)) < seq.index(("TaskFinished", tid))
    for tid, deps in ((1, [0]), (3, [1, 2])):
        for d in deps:
            assert seq.index(("TaskFinished", d)) < seq.index(("TaskStarted", tid))
    # Each event carries a snapshot of the record at that moment.
    started = [e.task for e in events if isinstance(e, TaskStarted)]
    finished = {e.task["id"]: e.task for e in events if isinstance(e, TaskFinished)}
    assert all(s["status"] == "running" and s["output"] is None for s in started)
    assert started[0]["inputs"] == {"audio": str(files["memo.wav"])}
    assert all(f["status"] == "done" and f["output"] is not None for f in finished.values())
    assert finished[1]["inputs"] == {"text": TRANSCRIPT}


def test_generated_output_as_a_file_argument_fails_that_task_clearly(files):
    # validate() refuses this too; the executor does not rely on it: that task fails only.
    plan = plan_from_obj({"steps": [], "tasks": [
        t("speech-to-text", 0, audio="memo.wav"),
        t("speech-to-text", 1, [0], audio="<GENERATED>-0"),
        t("object-detection", 2, image="photo.jpg")]})
    records, _ = run(plan, files, FakeTools())
    assert [r.status for r in records] == ["done", "failed", "done"]
    assert records[1].error == "'<GENERATED>-0' is not an attached file."
