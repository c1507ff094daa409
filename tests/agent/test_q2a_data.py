"""The Q2A task-plan data (resources/benchmark): every record is a valid plan, the splits are
separated by template, and the files are what generate.py writes."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from agent.plan import GENERATED, SPEC_TOOLS, PlanError, plan_from_obj, validate

DATA = Path(__file__).resolve().parents[2] / "resources" / "benchmark"
SPLITS = ("train", "dev", "test")
SCENARIOS = {"audio", "posture", "face-object", "memory", "mixed"}
DEMO = ("audio", "posture", "face-object")
AUDIO_EXT = (".wav", ".mp3", ".m4a", ".ogg", ".flac")
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp")
KEYS = {"id", "scenario", "instruction", "attachments", "plan", "template"}


def load(split: str) -> list[dict]:
    lines = (DATA / f"q2a_{split}.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines), f"blank line in q2a_{split}.jsonl"
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict]]:
    return {s: load(s) for s in SPLITS}


@pytest.fixture(scope="module")
def records(data) -> list[dict]:
    return [r for s in SPLITS for r in data[s]]


def shape(tasks: list[dict]) -> str:
    if not tasks:
        return "no-tool"
    if len(tasks) == 1:
        return "single"
    deps = [[d for d in t["dep"] if d != -1] for t in tasks]
    fan_out = Counter(d for ds in deps for d in ds)
    if sum(1 for ds in deps if not ds) == 1 and all(len(ds) <= 1 for ds in deps) \
            and all(c <= 1 for c in fan_out.values()):
        return "chain"
    return "branching"


def file_args(rec: dict) -> list[str]:
    return [v for t in rec["plan"]["tasks"] for k, v in t["args"].items()
            if SPEC_TOOLS[t["task"]][k] in ("audio", "image")]


def test_every_record_parses_and_validates(records):
    for rec in records:
        assert set(rec) == KEYS, rec.get("id")
        assert isinstance(rec["instruction"], str) and rec["instruction"].strip()
        assert isinstance(rec["attachments"], list)
        try:
            validate(plan_from_obj(rec["plan"]), SPEC_TOOLS, attachments=rec["attachments"])
        except PlanError as exc:  # pragma: no cover - message for the failing record
            pytest.fail(f"{rec['id']}: {exc}")


def test_graph_rules_beyond_validate(records):
    """validate() accepts any acyclic graph; the data set keeps the stricter spec form: ids
    0..n-1 in order, deps on earlier tasks only, one step per task, and a text argument that
    is either literal text or exactly one <GENERATED>-N."""
    for rec in records:
        tasks, steps = rec["plan"]["tasks"], rec["plan"]["steps"]
        assert len(steps) == len(tasks), rec["id"]
        assert all(isinstance(s, str) and s.strip() and "{" not in s for s in steps), rec["id"]
        for i, t in enumerate(tasks):
            assert set(t) == {"task", "id", "dep", "args"}, rec["id"]
            assert t["id"] == i, rec["id"]
            assert t["dep"] == [-1] or all(0 <= d < i for d in t["dep"]), rec["id"]
            for name, value in t["args"].items():
                refs = [int(n) for n in GENERATED.findall(value)]
                assert set(refs) <= set(t["dep"]), rec["id"]
                if SPEC_TOOLS[t["task"]][name] == "text" and refs:
                    assert re.fullmatch(r"<GENERATED>-\d+", value), rec["id"]
        if not tasks:
            assert steps == [] and rec["attachments"] == [], rec["id"]


def test_ids_unique_and_named_after_scenario(records):
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    for r in records:
        assert r["scenario"] in SCENARIOS
        assert re.fullmatch(re.escape(r["scenario"]) + r"-\d{4}", r["id"]), r["id"]


def test_attachments_match_the_tasks(records):
    """Every file a task reads is attached, and every attachment is read by some task
    (a request whose file needs no expert would be answered without it, so the data set
    has none)."""
    for r in records:
        atts = r["attachments"]
        assert len(atts) == len(set(atts)), r["id"]
        assert set(file_args(r)) == set(atts), r["id"]
        for t in r["plan"]["tasks"]:
            for name, value in t["args"].items():
                kind = SPEC_TOOLS[t["task"]][name]
                if kind == "audio":
                    assert value.lower().endswith(AUDIO_EXT), (r["id"], value)
                if kind == "image":
                    assert value.lower().endswith(IMAGE_EXT), (r["id"], value)


def test_counts(records):
    assert len(records) >= 450
    by_scenario = Counter(r["scenario"] for r in records)
    assert set(by_scenario) == SCENARIOS
    for sc in DEMO:
        assert by_scenario[sc] >= 90, sc
    shapes = Counter(shape(r["plan"]["tasks"]) for r in records)
    assert 0.07 <= shapes["no-tool"] / len(records) <= 0.12
    assert shapes["chain"] >= 40 and shapes["branching"] >= 40 and shapes["single"] >= 100
    no_tool_scenarios = {r["scenario"] for r in records if not r["plan"]["tasks"]}
    assert no_tool_scenarios == SCENARIOS
    # a transcript passed on to memory, as in the spec's example
    assert any(r["plan"]["tasks"][-1]["task"] == "memory-search"
               and r["plan"]["tasks"][0]["task"] == "speech-to-text"
               and r["plan"]["tasks"][-1]["args"]["text"] == "<GENERATED>-0" for r in records)


def test_no_template_in_two_splits(data):
    where = defaultdict(set)
    scenario_of = {}
    for split, recs in data.items():
        for r in recs:
            where[r["template"]].add(split)
            assert scenario_of.setdefault(r["template"], r["scenario"]) == r["scenario"]
    assert all(len(s) == 1 for s in where.values()), \
        {t: s for t, s in where.items() if len(s) > 1}


def test_no_instruction_repeats(records):
    seen = Counter(r["instruction"] for r in records)
    assert [i for i, n in seen.items() if n > 1] == []


def test_split_sizes(data, records):
    total = len(records)
    share = {s: len(data[s]) / total for s in SPLITS}
    assert 0.55 <= share["train"] <= 0.65, share
    assert 0.10 <= share["dev"] <= 0.20, share
    assert 0.20 <= share["test"] <= 0.30, share
    for split, recs in data.items():
        assert {r["scenario"] for r in recs} == SCENARIOS, split
    test_shapes = {shape(r["plan"]["tasks"]) for r in data["test"]}
    assert test_shapes == {"no-tool", "single", "chain", "branching"}


def test_files_are_what_the_generator_writes(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("q2a_generate", DATA / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, gen)  # dataclasses look their module up
    spec.loader.exec_module(gen)
    gen.main(["--out", str(tmp_path)])
    for name in [f"q2a_{s}.jsonl" for s in SPLITS] + ["DATACARD.md"]:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), \
            f"{name} is stale: run .venv/bin/python resources/benchmark/generate.py"
