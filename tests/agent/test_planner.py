"""agent/planner.py with a scripted model (no grammar): plan, repair, fallback, examples, prompt."""

from __future__ import annotations

import json

import pytest

from agent.plan import SPEC_TOOLS, Plan, Task, plan_from_obj, validate
from agent.plan_grammar import plan_grammar
from agent.planner import (MAX_PLAN_TOKENS, MAX_TASKS, RULE_STEPS, Planner, PlanOutcome,
                           ToolInfo, pick_examples, repair, rule_plan, train_examples)
from tests.fakes import ScriptedLLM

DESCRIPTIONS = {
    "speech-to-text": "Transcribes speech in an audio file.",
    "object-detection": "Finds objects in a photo.",
    "pose-estimation": "Finds people and their posture.",
    "face-recognition": "Names the enrolled faces in a photo.",
    "memory-search": "Searches the user's saved memories.",
    "memory-save": "Saves a fact to memory.",
}
TOOLS = {n: ToolInfo(n, DESCRIPTIONS[n], args) for n, args in SPEC_TOOLS.items()}
AUDIO = {"memo.wav": "audio"}
BOTH = {"memo.wav": "audio", "photo.jpg": "image"}


def t(name, tid, dep=(-1,), **args):
    return {"task": name, "id": tid, "dep": list(dep), "args": args}


def rec(rid, instruction, attachments=(), plan=None):
    return {"id": rid, "scenario": "x", "instruction": instruction,
            "attachments": list(attachments), "plan": plan or {"steps": [], "tasks": []}}


POOL = [
    rec("audio-1", "Transcribe the recording", ["a.wav"],
        {"steps": ["Transcribe a.wav"], "tasks": [t("speech-to-text", 0, audio="a.wav")]}),
    rec("audio-2", "What did I promise the dentist in this voice memo", ["v.mp3"]),
    rec("image-1", "Who is in this photo", ["p.jpg"]),
    rec("image-2", "Is anyone lying on the floor in the picture", ["q.png"]),
    rec("memory-1", "What do I know about the dentist", []),
    rec("mixed-1", "Transcribe the memo and check the photo", ["m.wav", "p.jpg"]),
]

MEMO_PLAN = {"steps": ["Transcribe the memo", "Look it up in my notes"],
             "tasks": [t("speech-to-text", 0, audio="memo.wav"),
                       t("memory-search", 1, [0], text="<GENERATED>-0")]}


def planner_with(*replies, llm=None, **kw):
    llm = llm or ScriptedLLM(list(replies))
    return Planner(llm, examples=POOL, **kw), llm


# --- model plans -----------------------------------------------------------------------------

def test_a_valid_plan_comes_from_the_model():
    planner, llm = planner_with(json.dumps(MEMO_PLAN))
    outcome = planner.plan("What did I promise in memo.wav?", AUDIO, TOOLS)
    assert outcome.source == "model" and outcome.error is None
    assert outcome.plan.to_dict() == MEMO_PLAN
    assert outcome.raw == json.dumps(MEMO_PLAN)
    assert outcome.repaired == []
    assert outcome.examples and all(e in {r["id"] for r in POOL} for e in outcome.examples)
    assert outcome.stats["finish_reason"] == "stop"
    assert outcome.seconds >= 0 and len(llm.prompts) == 1
    assert outcome.decoding == "free"  # ScriptedLLM takes no grammar
    assert {"plan", "source", "seconds", "error", "repaired", "examples", "raw", "stats",
            "decoding"} <= set(outcome.to_dict())
    json.dumps(outcome.to_dict())  # serialisable for the trace


def test_an_empty_plan_from_the_model_is_used():
    planner, _ = planner_with('{"steps": [], "tasks": []}')
    outcome = planner.plan("Tell me a joke", {}, TOOLS)
    assert outcome.source == "model" and outcome.plan.tasks == []


@pytest.mark.parametrize("wrap", [
    "Sure! Here is the plan:\n{}\nI hope this helps.",
    "```json\n{}\n```",
])
def test_prose_wrapped_plan_still_works(wrap):
    planner, _ = planner_with(wrap.replace("{}", json.dumps(MEMO_PLAN, indent=2)))
    outcome = planner.plan("What did I promise in memo.wav?", AUDIO, TOOLS)
    assert outcome.source == "model", outcome.error
    assert outcome.plan.to_dict() == MEMO_PLAN


def test_repair_adds_a_missing_dependency():
    plan = {"steps": MEMO_PLAN["steps"],
            "tasks": [t("speech-to-text", 0, audio="memo.wav"),
                      t("memory-search", 1, text="<GENERATED>-0")]}  # dep [-1]
    planner, _ = planner_with(json.dumps(plan))
    outcome = planner.plan("What did I promise in memo.wav?", AUDIO, TOOLS)
    assert outcome.source == "model"
    assert outcome.plan.tasks[1].dep == [0]
    assert outcome.repaired == ["task 1: added task 0 to dep (its argument uses it)"]


# --- fallback --------------------------------------------------------------------------------

def _assert_rule_fallback(outcome, files, error_words):
    assert outcome.source == "fallback"
    assert outcome.plan.to_dict() == rule_plan(files, TOOLS).to_dict()
    assert outcome.error and error_words in outcome.error, outcome.error


def test_garbage_falls_back_to_the_rule_plan():
    planner, _ = planner_with("I would transcribe the memo and then look at the photo.")
    outcome = planner.plan("What is in these?", BOTH, TOOLS)
    _assert_rule_fallback(outcome, BOTH, "not JSON")
    assert outcome.raw.startswith("I would transcribe")
    assert [(x.task, x.args) for x in outcome.plan.tasks] == [
        ("speech-to-text", {"audio": "memo.wav"}),
        ("object-detection", {"image": "photo.jpg"}),
        ("pose-estimation", {"image": "photo.jpg"}),
        ("face-recognition", {"image": "photo.jpg"})]


def test_a_plan_naming_a_file_not_attached_falls_back():
    plan = {"steps": ["Transcribe"], "tasks": [t("speech-to-text", 0, audio="other.wav")]}
    planner, _ = planner_with(json.dumps(plan))
    outcome = planner.plan("Transcribe it", AUDIO, TOOLS)
    _assert_rule_fallback(outcome, AUDIO, "'other.wav', which is not an attached file")


def test_a_plan_using_an_expert_without_its_kind_of_file_falls_back():
    plan = {"steps": ["Look"], "tasks": [t("object-detection", 0, image="memo.wav")]}
    planner, _ = planner_with(json.dumps(plan))
    outcome = planner.plan("What is in memo.wav?", AUDIO, TOOLS)
    _assert_rule_fallback(outcome, AUDIO, "'object-detection', which is not an expert")


def test_a_plan_giving_a_file_of_the_wrong_kind_falls_back():
    # Without a grammar (ScriptedLLM, a cloud model) nothing stops this but validate().
    plan = {"steps": ["Look"], "tasks": [t("object-detection", 0, image="memo.wav")]}
    planner, _ = planner_with(json.dumps(plan))
    outcome = planner.plan("What is in these?", BOTH, TOOLS)
    _assert_rule_fallback(outcome, BOTH, "needs image, but 'memo.wav' is audio")


def test_unknown_expert_falls_back():
    plan = {"steps": ["Caption"], "tasks": [t("image-captioning", 0, image="photo.jpg")]}
    planner, _ = planner_with(json.dumps(plan))
    _assert_rule_fallback(planner.plan("Caption it", BOTH, TOOLS), BOTH, "image-captioning")


def test_too_many_tasks_fall_back():
    plan = {"steps": [], "tasks": [t("memory-search", i, text=f"q{i}") for i in range(3)]}
    planner, _ = planner_with(json.dumps(plan), max_tasks=2)
    _assert_rule_fallback(planner.plan("Search", AUDIO, TOOLS), AUDIO, "at most 2")


def test_a_dependency_on_a_later_task_is_not_repaired_and_falls_back():
    plan = {"steps": [], "tasks": [t("memory-search", 0, text="<GENERATED>-1"),
                                   t("speech-to-text", 1, audio="memo.wav")]}
    planner, _ = planner_with(json.dumps(plan))
    outcome = planner.plan("Search", AUDIO, TOOLS)
    _assert_rule_fallback(outcome, AUDIO, "<GENERATED>-1")
    assert outcome.repaired == []


class CutOffLLM(ScriptedLLM):
    def stream(self, messages, **kw):
        yield from super().stream(messages, **kw)
        self.last_stats.finish_reason = "length"


def test_a_cut_off_plan_falls_back_even_if_it_parses():
    planner, _ = planner_with(llm=CutOffLLM([json.dumps(MEMO_PLAN)]))
    outcome = planner.plan("What did I promise in memo.wav?", AUDIO, TOOLS)
    _assert_rule_fallback(outcome, AUDIO, f"cut off at {MAX_PLAN_TOKENS} tokens")


def test_fallback_with_no_files_is_the_empty_plan():
    planner, _ = planner_with("no idea")
    outcome = planner.plan("Remember that I parked on level 3", {}, TOOLS)
    assert outcome.source == "fallback" and outcome.plan.tasks == []


# --- rule --------------------------------------------------------------------------------------

@pytest.mark.parametrize("tools, files", [
    ({}, BOTH),
    ({n: TOOLS[n] for n in ("object-detection", "pose-estimation")}, AUDIO),
    ({"speech-to-text": TOOLS["speech-to-text"]}, {}),
    ({"speech-to-text": TOOLS["speech-to-text"]}, {"notes.pdf": "other"}),
])
def test_no_usable_tool_gives_the_rule_source_without_calling_the_model(tools, files):
    planner, llm = planner_with("should not be read")
    outcome = planner.plan("What is this?", files, tools)
    assert outcome.source == "rule" and outcome.plan.tasks == [] and outcome.error is None
    assert llm.prompts == []


def test_rule_plan_sends_each_file_to_its_kinds_experts():
    files = {"memo.wav": "audio", "photo.jpg": "image", "notes.pdf": "other",
             "second.mp3": "audio"}
    plan = rule_plan(files, TOOLS)
    assert [(x.id, x.task, x.dep, x.args) for x in plan.tasks] == [
        (0, "speech-to-text", [-1], {"audio": "memo.wav"}),
        (1, "object-detection", [-1], {"image": "photo.jpg"}),
        (2, "pose-estimation", [-1], {"image": "photo.jpg"}),
        (3, "face-recognition", [-1], {"image": "photo.jpg"}),
        (4, "speech-to-text", [-1], {"audio": "second.mp3"})]
    assert plan.steps[0] == RULE_STEPS["speech-to-text"].format(file="memo.wav")
    assert len(plan.steps) == len(plan.tasks)
    validate(plan, SPEC_TOOLS, list(files))


def test_rule_plan_skips_experts_hearth_does_not_have():
    tools = {n: TOOLS[n] for n in ("speech-to-text", "pose-estimation")}
    plan = rule_plan(BOTH, tools)
    assert [x.task for x in plan.tasks] == ["speech-to-text", "pose-estimation"]
    assert rule_plan({}, TOOLS).tasks == []


# --- repair ----------------------------------------------------------------------------------

def test_repair_notes_each_change_and_leaves_valid_plans_alone():
    plan = plan_from_obj({"steps": [], "tasks": [
        t("speech-to-text", 0, audio="a.wav"),
        t("object-detection", 1, image="p.jpg"),
        t("memory-save", 2, [1], text="<GENERATED>-0 and <GENERATED>-1 and <GENERATED>-0")]})
    notes = repair(plan)
    assert plan.tasks[2].dep == [1, 0]
    assert notes == ["task 2: added task 0 to dep (its argument uses it)"]
    assert repair(plan) == []
    validate(plan, SPEC_TOOLS, ["a.wav", "p.jpg"])



def test_repair_drops_a_dependency_a_file_expert_takes_nothing_from():
    # what the 0.5B model writes for "what did I say, and how many people are in the picture?"
    plan = plan_from_obj({"steps": [], "tasks": [
        t("speech-to-text", 0, audio="memo.wav"),
        t("object-detection", 1, [0], image="photo.jpg"),
        t("memory-save", 2, [0, 1], text="<GENERATED>-1"),
        t("memory-search", 3, [2], text="dentist"),
        t("speech-to-text", 4, [3, 0], audio="<GENERATED>-0")]})
    notes = repair(plan)
    assert plan.tasks[1].dep == [-1]  # runs beside speech-to-text now
    assert plan.tasks[2].dep == [0, 1]  # memory keeps its order
    assert plan.tasks[3].dep == [2]  # a search after a save must see it
    assert plan.tasks[4].dep == [0]  # keeps the one it takes output from
    assert notes == ["task 1: dropped dep [0] (it reads a file, not their output)",
                     "task 4: dropped dep [3] (it reads a file, not their output)"]
    assert repair(plan) == []


def test_repair_drops_a_task_that_repeats_an_earlier_one():
    # what SmolLM2 wrote for "Transcribe the interview" (2 steps, so 2 tasks), plus a search on
    # the repeat's output: it now reads the first transcript
    plan = plan_from_obj({"steps": ["Transcribe", "speech-to-text", "Look it up", "Save"], "tasks": [
        t("speech-to-text", 0, audio="memo.wav"),
        t("speech-to-text", 1, audio="memo.wav"),
        t("memory-search", 2, [1], text="<GENERATED>-1"),
        t("memory-save", 3, [0, 1], text="<GENERATED>-0 / <GENERATED>-1")]})
    notes = repair(plan)
    assert notes == ["task 1: dropped (it repeats task 0)"]
    assert plan.to_dict() == {"steps": ["Transcribe", "Look it up", "Save"], "tasks": [
        t("speech-to-text", 0, audio="memo.wav"),
        t("memory-search", 1, [0], text="<GENERATED>-0"),
        t("memory-save", 2, [0], text="<GENERATED>-0 / <GENERATED>-0")]}
    assert repair(plan) == []
    validate(plan, SPEC_TOOLS, ["memo.wav"])


def test_repair_keeps_tasks_that_only_look_alike():
    tasks = [t("speech-to-text", 0, audio="a.wav"),
             t("speech-to-text", 1, audio="b.wav"),  # another file
             t("memory-search", 2, text="dentist"),
             t("memory-save", 3, text="dentist"),  # another expert
             t("memory-search", 4, [3], text="dentist")]  # after the save: may find more
    plan = plan_from_obj({"steps": [], "tasks": tasks})
    assert repair(plan) == []
    assert plan.to_dict()["tasks"] == tasks


def test_repeats_are_dropped_in_what_the_planner_returns_not_in_what_the_model_wrote():
    raw = json.dumps({"steps": ["Transcribe", "Transcribe again"], "tasks": [
        t("speech-to-text", 0, audio="memo.wav"), t("speech-to-text", 1, audio="memo.wav")]})
    outcome = Planner(ScriptedLLM([raw]), examples=[]).plan("Transcribe memo.wav", AUDIO, TOOLS)
    assert outcome.source == "model"
    assert [x.task for x in outcome.plan.tasks] == ["speech-to-text"]
    assert outcome.repaired == ["task 1: dropped (it repeats task 0)"]
    assert outcome.raw == raw


def test_the_planner_repairs_with_the_tools_it_offered():
    raw = json.dumps({"steps": ["Transcribe", "Count"], "tasks": [
        t("speech-to-text", 0, audio="memo.wav"), t("object-detection", 1, [0], image="photo.jpg")]})
    outcome = Planner(ScriptedLLM([raw]), examples=[]).plan("what and how many", BOTH, TOOLS)
    assert outcome.source == "model"
    assert outcome.plan.tasks[1].dep == [-1]
    assert outcome.raw == raw  # what the benchmark scores is the model's own text

# --- grammar ---------------------------------------------------------------------------------

class GrammarLLM(ScriptedLLM):
    supports_grammar = True

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.grammars = []
        self.kwargs = []

    def stream(self, messages, *, grammar=None, **kw):
        self.grammars.append(grammar)
        self.kwargs.append(kw)
        yield from super().stream(messages, **kw)


def test_a_grammar_model_gets_the_plan_grammar_of_the_usable_tools():
    llm = GrammarLLM([json.dumps(MEMO_PLAN)])
    planner, _ = planner_with(llm=llm)
    assert planner.decoding == "grammar"  # the default for a model that takes a grammar
    outcome = planner.plan("What did I promise in memo.wav?", AUDIO, TOOLS)
    assert outcome.source == "model" and outcome.decoding == "grammar"
    usable = {n: a for n, a in SPEC_TOOLS.items() if n in
              ("speech-to-text", "memory-search", "memory-save")}
    assert llm.grammars == [plan_grammar(usable, AUDIO, MAX_TASKS)]
    assert llm.kwargs[0]["max_tokens"] == MAX_PLAN_TOKENS and llm.kwargs[0]["temperature"] == 0.0


def test_free_decoding_sends_no_grammar():
    llm = GrammarLLM([json.dumps(MEMO_PLAN)])
    planner, _ = planner_with(llm=llm, decoding="free")
    outcome = planner.plan("What did I promise in memo.wav?", AUDIO, TOOLS)
    assert llm.grammars == [None] and outcome.decoding == "free"


# --- examples and messages -------------------------------------------------------------------

def test_pick_examples_prefers_the_same_kinds_of_files():
    picked = pick_examples("Summarise this", ["memo.wav"], POOL, n=2)
    assert {r["id"] for r in picked} == {"audio-1", "audio-2"}
    picked = pick_examples("Summarise this", ["photo.jpg"], POOL, n=2)
    assert {r["id"] for r in picked} == {"image-1", "image-2"}
    picked = pick_examples("Summarise this", ["a.m4a", "b.jpeg"], POOL, n=1)
    assert [r["id"] for r in picked] == ["mixed-1"]


def test_the_users_own_solved_request_wins_over_a_shipped_one_a_little_more_alike():
    shipped = {"id": "s", "instruction": "What did the dentist say in this memo?",
               "attachments": ["x.wav"]}
    own = {"id": "o", "instruction": "Tell me the dentist bit of note.wav",
           "attachments": ["note.wav"], "source": "user-correction"}
    request, files = "What did the dentist say in note2.wav?", ["note2.wav"]
    assert pick_examples(request, files, [shipped, {**own, "source": None}], n=1)[0]["id"] == "s"
    assert pick_examples(request, files, [shipped, own], n=1)[0]["id"] == "o"


def test_pick_examples_uses_word_overlap_and_puts_the_most_similar_last():
    picked = pick_examples("What did I promise the dentist in memo.wav?", ["memo.wav"], POOL, n=3)
    # audio-2: same kind, 3 of 5 words shared; audio-1: same kind only; memory-1: "dentist".
    assert [r["id"] for r in picked] == ["memory-1", "audio-1", "audio-2"]
    # Without files, a file-less example on the same subject wins.
    picked = pick_examples("What do I know about the dentist?", [], POOL, n=2)
    assert picked[-1]["id"] == "memory-1"


def test_pick_examples_edge_cases():
    assert pick_examples("anything", [], [], n=2) == []
    assert pick_examples("anything", [], POOL, n=0) == []
    assert len(pick_examples("anything", [], POOL, n=50)) == len(POOL)


def test_messages_hold_tools_examples_and_the_request_last():
    planner, llm = planner_with(json.dumps(MEMO_PLAN), n_examples=2)
    request = "What did I promise the dentist in memo.wav?"
    outcome = planner.plan(request, AUDIO, TOOLS)
    messages = llm.prompts[0]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant",
                                             "user"]
    system = messages[0]["content"]
    described = planner.prompts.get("tools", {})  # the prompt's words for an expert, if any
    for name in ("speech-to-text", "memory-search", "memory-save"):
        line = f"- {name}({', '.join(SPEC_TOOLS[name])}): " + described.get(name,
                                                                          DESCRIPTIONS[name])
        assert line in system.splitlines()
    for absent in ("object-detection", "pose-estimation", "face-recognition"):
        assert absent not in system  # no image attached: not offered
    examples = {r["id"]: r for r in POOL}
    for (user, assistant), rid in zip([messages[1:3], messages[3:5]], outcome.examples):
        assert examples[rid]["instruction"] in user["content"]
        for name in examples[rid]["attachments"]:
            assert name in user["content"]
        assert json.loads(assistant["content"]) == examples[rid]["plan"]
    last = messages[-1]
    assert last["role"] == "user" and request in last["content"] and "memo.wav" in last["content"]
    assert outcome.examples[-1] == "audio-2"  # the most similar example sits next to the request
    assert examples["audio-2"]["instruction"] in messages[-3]["content"]


def test_messages_say_when_no_file_is_attached_and_carry_context():
    planner, llm = planner_with('{"steps": [], "tasks": []}', n_examples=0)
    planner.plan("  Did I save the parking spot?  ", {}, TOOLS, context="User parked on level 3.")
    messages = llm.prompts[0]
    assert [m["role"] for m in messages] == ["system", "user"]
    last = messages[-1]["content"]
    no_files = planner.prompts["no_files"]
    assert last.endswith(planner.prompts["request"].format(
        request="Did I save the parking spot?", files=no_files))
    assert "User parked on level 3." in last
    assert last.index("User parked on level 3.") < last.index("Did I save the parking spot?")


def test_default_examples_come_from_the_benchmark_train_split():
    train = train_examples()
    assert train, "resources/benchmark/q2a_train.jsonl is missing"
    planner = Planner(ScriptedLLM([json.dumps(MEMO_PLAN)]))
    outcome = planner.plan("What did I promise in memo.wav?", AUDIO, TOOLS)
    ids = {r["id"] for r in train}
    assert len(outcome.examples) == planner.n_examples and set(outcome.examples) <= ids


def test_plan_outcome_defaults():
    outcome = PlanOutcome(Plan([], [Task("memory-save", 0, [-1], {"text": "x"})]), "model")
    d = outcome.to_dict()
    assert d["source"] == "model" and d["error"] is None and d["repaired"] == []
    assert d["plan"]["tasks"][0]["task"] == "memory-save"
