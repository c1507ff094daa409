"""Run the summarizer over the answer benchmark's records and score it.

Each record (resources/benchmark/answers_{split}.jsonl) holds a request, its reference plan,
and what each expert found. The runner runs that plan through the app's own Executor on
experts that return those results (so failures skip their dependents, and `<GENERATED>-N`
resolves, as in the app), builds the summarizer's prompt with agent.summarizer (the app's),
and lets the model answer, greedily. Planning is not measured here: every model answers from
the same results, so the numbers are the summarizer's alone.

Resume-safe like the planning benchmark: answers are appended as they are made, and the same
command with the same out folder only answers what is missing.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from agent.answerbench import metrics
from agent.planbench.runner import (BenchmarkError, git_commit, machine_info, match_predictions,
                                    read_jsonl, read_predictions, resumable_config, write_json,
                                    write_records)

SPLITS = ("dev", "test")
PREDICTIONS = "answers.jsonl"
SUMMARY = "summary.json"
RUN_CONFIG = "run.json"
SUMMARY_KIND = "hearth-answerbench"
RESUME_KEYS = ("model", "adapter", "split", "max_tokens")
MAX_TOKENS = 256
BENCH_ROOT = Path("/answerbench")  # where the records' files "are": never opened


def split_path(split: str) -> Path:
    if split not in SPLITS:
        raise BenchmarkError(f"Unknown split {split!r}; use one of {', '.join(SPLITS)}.")
    return Path(str(resources.files("resources").joinpath("benchmark", f"answers_{split}.jsonl")))


def load_records(split: str = "test", ids: Sequence[str] | None = None) -> list[dict]:
    records = read_jsonl(split_path(split))
    if ids is not None:
        wanted = set(ids)
        records = [r for r in records if r["id"] in wanted]
    return records


def _result_for(record: dict, name: str, inputs: dict) -> dict | None:
    """The record's result for the task of expert `name` that got these inputs."""
    from agent.plan import SPEC_TOOLS

    candidates = [t for t in record["plan"]["tasks"] if t["task"] == name]
    if len(candidates) > 1:  # two tasks of one expert: told apart by file or literal text
        file_args = {a for a, kind in SPEC_TOOLS[name].items() if kind != "text"}
        chosen = [t for t in candidates
                  if all(Path(str(inputs.get(a, ""))).name == str(v) if a in file_args
                         else inputs.get(a) == v for a, v in t["args"].items())]
        candidates = chosen or candidates
    return record["results"].get(str(candidates[0]["id"]))


def run_plan(record: dict) -> list[dict]:
    """The task records the app would hold after running the record's plan on experts that
    return the record's results."""
    from agent.executor import Executor, initial_records
    from agent.plan import SPEC_TOOLS, plan_from_obj
    from experts.base import ExpertError, ExpertResult

    plan = plan_from_obj(record["plan"])
    records = initial_records(plan)
    lock = threading.Lock()
    saved = []

    def run_tool(name: str, inputs: dict, cancel) -> ExpertResult:
        if name == "memory-save":
            with lock:
                saved.append(inputs["text"])
                return ExpertResult(name, {"id": 100 + len(saved), "text": inputs["text"],
                                           "duplicate": False})
        result = _result_for(record, name, inputs)
        if result is None:
            raise BenchmarkError(f"{record['id']}: no result for {name} with {inputs}.")
        if "error" in result:
            raise ExpertError(result["error"])
        return ExpertResult(name, result["output"])

    files = {name: BENCH_ROOT / name for name in record.get("attachments", [])}
    executor = Executor(run_tool, files, {k: dict(v) for k, v in SPEC_TOOLS.items()},
                        parallel=False)
    for _ in executor.run(plan, records):
        pass
    return [r.to_dict() for r in records]


def prompt_for(record: dict) -> tuple[list[dict], list[dict[str, str]]]:
    """(task records, the summarizer's messages) for a record, as the app would build them."""
    from agent import summarizer

    tasks = run_plan(record)
    return tasks, summarizer.answer_messages(record["instruction"], tasks)


def score(record: dict, text: str, tasks: list[dict], messages: list[dict]) -> dict:
    return metrics.score_answer(record, text, tasks, " ".join(m["content"] for m in messages))


def answer(llm, record: dict, *, max_tokens: int = MAX_TOKENS) -> dict:
    """One prediction: the model's answer to the record, with its measures."""
    from agent.expert_context import task_line

    tasks, messages = prompt_for(record)
    start = time.perf_counter()
    try:
        text = llm.complete(messages, max_tokens=max_tokens, temperature=0.0).strip()
        error = None
    except Exception as exc:  # noqa: BLE001 - one failed record must not end the run
        text, error = "", f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    return {"id": record["id"], "scenario": record.get("scenario", ""), "answer": text,
            "results": [task_line(t) for t in tasks], "error": error,
            "seconds": round(seconds, 3), "stats": llm.last_stats.as_dict(),
            "score": score(record, text, tasks, messages)}


def summarize(records: Sequence[dict], predictions: Sequence[dict | None], config: dict,
              wall_seconds: float | None = None) -> dict:
    present = [p for p in predictions if p is not None]
    overall = metrics.aggregate([p["score"] for p in present])
    per_scenario = {}
    for scenario in sorted({r.get("scenario", "") for r in records}):
        scores = [p["score"] for p in present if p.get("scenario", "") == scenario]
        per_scenario[scenario] = metrics.aggregate(scores)
    seconds = [p["seconds"] for p in present]
    return {"kind": SUMMARY_KIND, "version": 1, **config, "n": len(records),
            "n_missing": len(predictions) - len(present),
            "wall_seconds": round(wall_seconds, 1) if wall_seconds is not None else None,
            "median_seconds": round(statistics.median(seconds), 3) if seconds else None,
            "metrics": {"overall": {**overall, "score": metrics.answer_score(overall)
                                    if overall["n"] else None},
                        "per_scenario": per_scenario},
            "machine": machine_info(), "git_commit": git_commit(),
            "predictions": PREDICTIONS}


def rescore(records: Sequence[dict], predictions: Sequence[dict]) -> list[dict]:
    """Predictions scored again with today's metrics and records (their answers unchanged)."""
    by_id = {r["id"]: r for r in records}
    return [{**p, "score": score(by_id[p["id"]], p["answer"], *prompt_for(by_id[p["id"]]))}
            for p in predictions]


def run(records: Sequence[dict], llm, out_dir: Path | str, config: dict, *,
        max_tokens: int = MAX_TOKENS, progress: bool = True,
        on_record: Callable[[dict], None] | None = None) -> dict:
    """Answer every record not yet in out_dir/answers.jsonl, then write summary.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = {**config, "max_tokens": max_tokens}
    saved_config = out / RUN_CONFIG
    resumable_config(saved_config, config, RESUME_KEYS)
    write_json(saved_config, config)
    pred_path = out / PREDICTIONS
    existing = [p for p in read_predictions(pred_path) if not p.get("error")]
    if pred_path.is_file():
        pred_path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in existing),
                             encoding="utf-8")
    done = {p["id"] for p in existing}
    todo = [r for r in records if r["id"] not in done]
    if todo and hasattr(llm, "load"):
        llm.load()  # before the clock starts: the first answer's time is an answer's time
    start = time.perf_counter()
    with open(pred_path, "a", encoding="utf-8") as f:
        for i, rec in enumerate(todo, 1):
            pred = answer(llm, rec, max_tokens=max_tokens)
            f.write(json.dumps(pred, ensure_ascii=False) + "\n")
            f.flush()
            if on_record is not None:
                on_record(pred)
            if progress:
                print(f"[{len(done) + i}/{len(records)}] {rec['id']}: facts "
                      f"{pred['score']['facts_met']}/{pred['score']['facts']} "
                      f"({pred['seconds']:.1f} s)", file=sys.stderr)
    predictions = match_predictions(records, read_predictions(pred_path))
    summary = summarize(records, predictions, config, time.perf_counter() - start)
    write_records(out / "data.jsonl", records)
    write_json(out / SUMMARY, summary)
    return summary
