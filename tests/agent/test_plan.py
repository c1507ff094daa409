"""agent/plan.py: parsing a plan out of model output and the graph rules of the spec."""

from __future__ import annotations

import json

import pytest

from agent.plan import SPEC_TOOLS, Plan, PlanError, Task, parse_plan, plan_from_obj, validate

SPEC_EXAMPLE = {
    "steps": ["Transcribe the voice memo", "Look up what the memo mentions in my notes"],
    "tasks": [
        {"task": "speech-to-text", "id": 0, "dep": [-1], "args": {"audio": "memo.wav"}},
        {"task": "memory-search", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
    ],
}


def task(name, tid, dep=(-1,), **args):
    return {"task": name, "id": tid, "dep": list(dep), "args": args}


def plan_of(*tasks, steps=()):
    return plan_from_obj({"steps": list(steps), "tasks": list(tasks)})


# --- parse -----------------------------------------------------------------------------------

def test_parse_pure_json_round_trips():
    plan = parse_plan(json.dumps(SPEC_EXAMPLE))
    assert plan.steps == SPEC_EXAMPLE["steps"]
    assert [t.task for t in plan.tasks] == ["speech-to-text", "memory-search"]
    assert plan.tasks[1].dep == [0] and plan.tasks[1].needs() == [0]
    assert plan.tasks[0].needs() == []
    assert plan.to_dict() == SPEC_EXAMPLE
    assert parse_plan(plan.to_json()).to_dict() == SPEC_EXAMPLE


def test_parse_keeps_non_ascii_in_to_json():
    plan = plan_of(task("object-detection", 0, image="café.jpg"))
    assert "café.jpg" in plan.to_json()  # not \u00e9


@pytest.mark.parametrize("wrap", [
    "Here is the plan:\n{}\nLet me know if you need anything else.",
    "```json\n{}\n```",
    "Sure!\n```json\n{}\n```\nThe first task transcribes the memo.",
    "   \n{}\n\n",
])
def test_parse_tolerates_prose_and_code_fences(wrap):
    text = wrap.replace("{}", json.dumps(SPEC_EXAMPLE, indent=2))
    assert parse_plan(text).to_dict() == SPEC_EXAMPLE


def test_parse_skips_braces_in_prose_before_the_plan():
    text = "I will run {speech-to-text} first, then search:\n```json\n" + \
        json.dumps(SPEC_EXAMPLE) + "\n```"
    assert parse_plan(text).to_dict() == SPEC_EXAMPLE


def test_parse_takes_the_first_object_when_text_follows_with_braces():
    text = json.dumps(SPEC_EXAMPLE) + "\nNote: {this is not json}"
    assert parse_plan(text).to_dict() == SPEC_EXAMPLE


@pytest.mark.parametrize("text, words", [
    ("", "no '{'"),
    ("I cannot help with that.", "no '{'"),
    ('{"steps": ["a"], "tasks": [', "not valid JSON"),
    ("{steps: [], tasks: []}", "not valid JSON"),
    ("Plan: {'steps': [], 'tasks': []}", "not valid JSON"),
])
def test_garbage_raises_plan_error_saying_why(text, words):
    with pytest.raises(PlanError, match=words.replace("(", r"\(")):
        parse_plan(text)


def test_plan_error_is_a_value_error():
    assert issubclass(PlanError, ValueError)


def test_json_that_is_not_an_object_is_refused():
    with pytest.raises(PlanError, match="must be a JSON object"):
        parse_plan('[{"task": "memory-search"}]')
    with pytest.raises(PlanError, match="must be a JSON object"):
        parse_plan('"tasks"')


# --- plan_from_obj ---------------------------------------------------------------------------

@pytest.mark.parametrize("obj, message", [
    ({"steps": []}, "no 'tasks' list"),
    ({"steps": [], "tasks": {"0": {}}}, "no 'tasks' list"),
    ({"steps": "one step", "tasks": []}, "'steps' must be a list of strings"),
    ({"steps": ["ok", 3], "tasks": []}, "'steps' must be a list of strings"),
    ({"tasks": ["speech-to-text"]}, "Task 0 is not an object"),
    ({"tasks": [{"id": 0, "dep": [-1], "args": {}}]}, "Task 0 has no 'task' name"),
    ({"tasks": [{"task": 7}]}, "Task 0 has no 'task' name"),
    ({"tasks": [{"task": "memory-save", "id": "0"}]}, "Task 0's id must be an integer"),
    ({"tasks": [{"task": "memory-save", "id": 1.0}]}, "Task 0's id must be an integer"),
    ({"tasks": [{"task": "memory-save", "id": True}]}, "Task 0's id must be an integer"),
    ({"tasks": [{"task": "memory-save", "id": 0, "dep": "0"}]}, "'dep' must be a list of task ids"),
    ({"tasks": [{"task": "memory-save", "id": 0, "dep": [True]}]}, "'dep' must be a list"),
    ({"tasks": [{"task": "memory-save", "id": 0, "dep": [0.5]}]}, "'dep' must be a list"),
    ({"tasks": [{"task": "memory-save", "id": 0, "args": ["x"]}]}, "'args' must be an object"),
    ({"tasks": [task("memory-save", 0, text="a"), 5]}, "Task 1 is not an object"),
])
def test_plan_from_obj_type_errors(obj, message):
    with pytest.raises(PlanError, match=message):
        plan_from_obj(obj)


def test_plan_from_obj_defaults():
    plan = plan_from_obj({"tasks": [{"task": "memory-save", "args": {"text": "x"}},
                                    {"task": "memory-search", "dep": 0, "args": {"text": "y"}},
                                    {"task": "memory-search", "id": 5, "dep": []}]})
    assert plan.steps == []
    assert [t.id for t in plan.tasks] == [0, 1, 5]  # missing id -> position
    assert plan.tasks[0].dep == [-1]  # missing dep -> none
    assert plan.tasks[1].dep == [0]  # a bare int dep -> a list
    assert plan.tasks[2].dep == [-1] and plan.tasks[2].args == {}  # [] -> [-1]


# --- validate --------------------------------------------------------------------------------

def test_spec_example_is_valid():
    plan = parse_plan(json.dumps(SPEC_EXAMPLE))
    assert validate(plan, attachments=["memo.wav"]) is plan


def test_empty_plan_is_valid():
    plan = parse_plan('{"steps": [], "tasks": []}')
    assert validate(plan, attachments=[]) is plan
    assert validate(plan, max_tasks=0) is plan
    assert plan.order() == []


def test_unknown_task_is_refused():
    plan = plan_of(task("image-captioning", 0, image="a.jpg"))
    with pytest.raises(PlanError, match="'image-captioning', which is not an expert Hearth has"):
        validate(plan)


def test_tools_restrict_the_allowed_tasks():
    plan = plan_of(task("speech-to-text", 0, audio="memo.wav"))
    only_memory = {k: v for k, v in SPEC_TOOLS.items() if k.startswith("memory")}
    with pytest.raises(PlanError, match="not an expert"):
        validate(plan, tools=only_memory)


def test_duplicate_ids_are_refused():
    plan = plan_of(task("memory-save", 0, text="a"), task("memory-save", 0, text="b"))
    with pytest.raises(PlanError, match="share an id"):
        validate(plan)


def test_negative_task_id_is_refused():
    plan = plan_of(task("memory-save", -1, text="a"))
    with pytest.raises(PlanError, match="negative id"):
        validate(plan)


@pytest.mark.parametrize("dep", [[3], [-1, 3], [-2]])
def test_dependency_on_a_missing_id_is_refused(dep):
    plan = plan_of(task("memory-save", 0, text="a"), task("memory-search", 1, dep, text="b"))
    with pytest.raises(PlanError,
                       match=f"Task 1 depends on task {dep[-1]}, which is not in the plan"):
        validate(plan)


def test_self_dependency_is_refused():
    plan = plan_of(task("memory-save", 0, [0], text="a"))
    with pytest.raises(PlanError, match="Task 0 depends on itself"):
        validate(plan)


def test_cycle_is_refused_by_validate_and_by_order():
    plan = plan_of(task("memory-search", 0, [2], text="a"),
                   task("memory-search", 1, [0], text="b"),
                   task("memory-search", 2, [1], text="c"),
                   task("memory-save", 3, text="d"))
    with pytest.raises(PlanError, match="cycle"):
        plan.order()
    with pytest.raises(PlanError, match="cycle"):
        validate(plan)


def test_generated_reference_must_be_a_dependency():
    plan = plan_of(task("speech-to-text", 0, audio="memo.wav"),
                   task("memory-search", 1, text="<GENERATED>-0"))
    with pytest.raises(PlanError, match="uses <GENERATED>-0 but does not depend on task 0"):
        validate(plan)


def test_generated_reference_inside_longer_text_must_be_a_dependency():
    plan = plan_of(task("speech-to-text", 0, audio="memo.wav"),
                   task("memory-save", 1, text="The memo says: <GENERATED>-0"))
    with pytest.raises(PlanError, match="<GENERATED>-0"):
        validate(plan)
    plan.tasks[1].dep = [0]
    validate(plan, attachments=["memo.wav"])


def test_file_argument_must_name_an_attachment():
    plan = plan_of(task("object-detection", 0, image="other.jpg"))
    with pytest.raises(PlanError, match=r"reads 'other.jpg', which is not an attached file "
                                        r"\(photo.jpg, memo.wav\)"):
        validate(plan, attachments=["photo.jpg", "memo.wav"])
    with pytest.raises(PlanError, match="none attached"):
        validate(plan, attachments=[])
    validate(plan)  # without attachments the file is not checked (the Q2A data, say)


def test_file_argument_of_the_wrong_kind_is_refused():
    plan = plan_of(task("object-detection", 0, image="memo.wav"))
    kinds = {"memo.wav": "audio", "photo.jpg": "image", "notes.pdf": None}
    with pytest.raises(PlanError, match="needs image, but 'memo.wav' is audio"):
        validate(plan, attachments=kinds)
    plan.tasks[0].args["image"] = "notes.pdf"
    with pytest.raises(PlanError, match="'notes.pdf' is neither audio nor an image"):
        validate(plan, attachments=kinds)
    plan.tasks[0].args["image"] = "photo.jpg"
    validate(plan, attachments=kinds)
    plan.tasks[0].args["image"] = "memo.wav"
    validate(plan, attachments=list(kinds))  # names only: the kind is not checked


def test_file_argument_may_be_a_dependency_output_as_the_spec_says():
    # The spec's table: "audio: file or <GENERATED>-N". No expert makes files yet, so the
    # executor refuses it at run time (tests/agent/test_executor.py); the plan is valid.
    plan = plan_of(task("speech-to-text", 0, audio="memo.wav"),
                   task("speech-to-text", 1, [0], audio="<GENERATED>-0"))
    validate(plan, attachments=["memo.wav"])
    validate(plan)


def test_text_argument_is_not_checked_against_attachments():
    plan = plan_of(task("memory-search", 0, text="dentist appointment"))
    validate(plan, attachments=[])


@pytest.mark.parametrize("args, got", [
    ({"text": "a"}, "['text']"),  # speech-to-text takes audio
    ({}, "[]"),
    ({"audio": "memo.wav", "language": "en"}, "['audio', 'language']"),
])
def test_wrong_argument_names_are_refused(args, got):
    plan = plan_from_obj({"tasks": [{"task": "speech-to-text", "id": 0, "args": args}]})
    with pytest.raises(PlanError) as err:
        validate(plan)
    assert f"takes ['audio']; got {got}." in str(err.value)


def test_non_string_argument_is_refused():
    plan = plan_from_obj({"tasks": [{"task": "memory-save", "id": 0, "args": {"text": 42}}]})
    with pytest.raises(PlanError, match="must be a string"):
        validate(plan)


def test_max_tasks():
    plan = plan_of(*[task("memory-save", i, text=str(i)) for i in range(4)])
    validate(plan, max_tasks=4)
    with pytest.raises(PlanError, match="has 4 tasks; at most 3 may run"):
        validate(plan, max_tasks=3)


def test_validate_reports_the_first_broken_rule_per_task_in_order():
    plan = plan_of(task("memory-save", 0, text="a"),
                   task("nonsense", 1, [7], x="y"))
    with pytest.raises(PlanError, match="Task 1 calls 'nonsense'"):
        validate(plan)


# --- order -----------------------------------------------------------------------------------

def _assert_respects_deps(plan: Plan, order: list[Task]) -> None:
    pos = {t.id: i for i, t in enumerate(order)}
    assert sorted(pos) == sorted(t.id for t in plan.tasks)
    for t in plan.tasks:
        for d in t.needs():
            assert pos[d] < pos[t.id], (d, t.id)


def test_order_respects_dependencies_listed_out_of_order():
    plan = plan_of(task("memory-save", 3, [2], text="<GENERATED>-2"),
                   task("memory-search", 2, [0, 1], text="<GENERATED>-0 <GENERATED>-1"),
                   task("speech-to-text", 1, audio="b.wav"),
                   task("speech-to-text", 0, audio="a.wav"))
    validate(plan, attachments=["a.wav", "b.wav"])
    order = plan.order()
    _assert_respects_deps(plan, order)
    assert [t.id for t in order][-2:] == [2, 3]


def test_order_keeps_independent_tasks_in_plan_order():
    plan = plan_of(task("object-detection", 0, image="p.jpg"),
                   task("pose-estimation", 1, image="p.jpg"),
                   task("face-recognition", 2, image="p.jpg"))
    assert [t.id for t in plan.order()] == [0, 1, 2]


def test_order_of_a_diamond():
    plan = plan_of(task("speech-to-text", 0, audio="a.wav"),
                   task("memory-search", 1, [0], text="<GENERATED>-0"),
                   task("memory-save", 2, [0], text="<GENERATED>-0"),
                   task("memory-save", 3, [1, 2], text="<GENERATED>-1 / <GENERATED>-2"))
    validate(plan, attachments=["a.wav"])
    order = plan.order()
    _assert_respects_deps(plan, order)
    assert order[0].id == 0 and order[-1].id == 3
