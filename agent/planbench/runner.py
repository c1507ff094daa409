"""Run the planner over a Q2A split and score it: predictions.jsonl, summary.json (and, through
report.py, report.md with plots).

The benchmark asks the planner what the app would ask it, the way the app asks:

- **The gate.** Without attachments the app plans only when the message is about memory
  (`agent.assistant.ABOUT_MEMORY`); anything else is answered directly, so the prediction is
  the empty plan, made without the model (source "rule").
- **The tools.** The six experts of the spec, in the app's order, minus memory-save unless
  the user's own words ask to keep something (`agent.assistant.ASKS_TO_SAVE`). The planner
  drops experts whose file kind is not attached, as in the app. Their descriptions are the
  planner prompt's (resources/prompts/planner.yaml), as in the app.
- **Files** are the record's attachments, each of `experts.inputs.kind_of(name)`; names Hearth
  can't read are dropped, as the app drops them.
- **Few-shot examples** come from the train split only (the planner's own default); on the
  train split itself a record is never its own example.

What is scored is the model's own text (`raw`): validity, and the other metrics on what it
parses to. When the planner fell back to the fixed rule, the fallback plan is not the model's
output and is not scored; `plan` is the validated plan (null after a fallback). The app's
one difference left out here: an explicit "remember that …" message is saved by a rule
before planning (so in the app such a message with no files is never planned).

The run is resume-safe: each prediction is appended and flushed as it is made; run the same
command with the same --out again and only the missing records are planned.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from agent.plan import SPEC_TOOLS

SPLITS = ("train", "dev", "test")
RULE_RAW = '{"steps": [], "tasks": []}'
PREDICTIONS = "predictions.jsonl"
SUMMARY = "summary.json"
RUN_CONFIG = "run.json"
DATA_COPY = "data.jsonl"  # the records scored, so the folder stands on its own
SUMMARY_KIND = "hearth-planbench"
# What must match for a folder's predictions to be resumed (the limit may grow).
RESUME_KEYS = ("model", "adapter", "endpoint", "decoding", "n_examples", "split", "data", "gate")
MAX_CONSECUTIVE_ERRORS = 5
ROOT = Path(__file__).resolve().parents[2]


class BenchmarkError(RuntimeError):
    """The benchmark can't run as asked; the message says why and what to do."""


# --- data -------------------------------------------------------------------------------------

def split_path(split: str) -> Path:
    if split not in SPLITS:
        raise BenchmarkError(f"Unknown split {split!r}; use one of {', '.join(SPLITS)}.")
    return Path(str(resources.files("resources").joinpath("benchmark", f"q2a_{split}.jsonl")))


def read_jsonl(path: Path | str) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"No such file: {path}.")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{path}, line {n}: not JSON ({exc.msg}).") from None
    return out


def load_records(split: str | None = None, data: Path | str | None = None) -> tuple[list[dict], str]:
    """The records to run and a label for them (the split's name, or the data file's path)."""
    if data is not None:
        records, label = read_jsonl(data), str(Path(data).resolve())
    else:
        records, label = read_jsonl(split_path(split or "test")), split or "test"
    for i, rec in enumerate(records):
        missing = [k for k in ("id", "instruction", "plan") if k not in rec]
        if missing:
            raise BenchmarkError(f"Record {i + 1} of {label} has no {', '.join(missing)}: "
                                 f"each line needs id, scenario, instruction, attachments, plan.")
    ids = [r["id"] for r in records]
    dupes = [i for i, c in Counter(ids).items() if c > 1]
    if dupes:
        raise BenchmarkError(f"{label} repeats record ids: {', '.join(map(str, dupes[:5]))}.")
    if not records:
        raise BenchmarkError(f"{label} holds no records.")
    return records, label


# --- mirroring the app ------------------------------------------------------------------------

def app_files(attachments: Iterable[str]) -> dict[str, str]:
    """Attachment name -> kind, leaving out files Hearth can't read (as the app does)."""
    from experts.inputs import kind_of

    return {name: kind for name in attachments if (kind := kind_of(name)) is not None}


def app_plans(instruction: str, files: dict[str, str]) -> bool:
    """Whether the app would plan this message at all (with memory on)."""
    from agent.assistant import ABOUT_MEMORY

    return bool(files) or bool(ABOUT_MEMORY.search(instruction))


def app_plans_record(record: dict) -> bool:
    """app_plans for a Q2A record: its instruction with its attachments."""
    return app_plans(record["instruction"], app_files(record.get("attachments", [])))


def app_tools(instruction: str, *, gate: bool = True) -> dict:
    """The experts the app offers the planner for this message (memory on, nothing saved by
    the "remember that" rule), as planner.ToolInfo by name, in the app's order. Ungated: all
    six."""
    from agent.assistant import ASKS_TO_SAVE
    from agent.planner import ToolInfo
    from agent.prompts import load_prompt

    described = load_prompt("planner").get("tools", {})
    return {name: ToolInfo(name, described.get(name, ""), dict(args))
            for name, args in SPEC_TOOLS.items()
            if not gate or name != "memory-save" or ASKS_TO_SAVE.search(instruction)}


def predict(planner, record: dict, *, gate: bool = True) -> dict:
    """One prediction record for one Q2A record. `gate=False` plans every record with all six
    experts (the planner alone, without the app's decisions around it)."""
    instruction = record["instruction"]
    files = app_files(record.get("attachments", []))
    base = {"id": record["id"], "scenario": record.get("scenario", "")}
    if gate and not app_plans(instruction, files):
        return {**base, "raw": RULE_RAW, "plan": {"steps": [], "tasks": []}, "source": "rule",
                "seconds": 0.0, "decoding": planner.decoding, "examples": [], "tools": [],
                "error": None}
    tools = app_tools(instruction, gate=gate)
    start = time.perf_counter()
    try:
        outcome = planner.plan(instruction, files, tools)
    except Exception as exc:  # noqa: BLE001 - one failed record must not end the run
        return {**base, "raw": "", "plan": None, "source": "error",
                "seconds": round(time.perf_counter() - start, 3), "decoding": planner.decoding,
                "examples": [], "tools": list(tools), "error": f"{type(exc).__name__}: {exc}"}
    if outcome.source == "rule":  # no usable expert: the planner answered without the model
        raw = RULE_RAW
    else:
        raw = outcome.raw
    return {**base, "raw": raw,
            "plan": outcome.plan.to_dict() if outcome.source in ("model", "rule") else None,
            "source": outcome.source, "seconds": round(outcome.seconds, 3),
            "decoding": outcome.decoding or planner.decoding, "examples": outcome.examples,
            "tools": list(tools), "error": outcome.error, "repaired": outcome.repaired,
            "stats": outcome.stats}


# --- scoring ----------------------------------------------------------------------------------

def prediction_output(pred: dict | None) -> Any:
    """What is scored of a prediction: the model's raw text; for files made elsewhere without
    `raw`, their `output`/`prediction` text or `plan` object."""
    if pred is None:
        return ""
    for key in ("raw", "output", "prediction"):
        if isinstance(pred.get(key), str):
            return pred[key]
    plan = pred.get("plan")
    if isinstance(plan, dict):
        return plan
    return ""


def score_records(records: Sequence[dict], predictions: Sequence[dict | None], *,
                  bertscore: bool = True, per_sample: bool = False) -> dict:
    """metrics.score over records and their predictions (in the same order)."""
    from agent.planbench import metrics

    return metrics.score([r["plan"] for r in records],
                         [prediction_output(p) for p in predictions],
                         scenarios=[r.get("scenario", "") for r in records],
                         bertscore=bertscore,
                         attachments=[list(r.get("attachments", [])) for r in records],
                         per_sample=per_sample)


def gate_effects(records: Sequence[dict]) -> dict[str, int]:
    """How the app's gate shapes this data: records answered without planning (and how many
    of those have a reference plan with tasks), and records whose reference saves to memory
    while memory-save is not offered."""
    from agent.assistant import ASKS_TO_SAVE

    out = {"not_planned": 0, "not_planned_but_reference_has_tasks": 0,
           "memory_save_needed_not_offered": 0}
    for r in records:
        tasks = r["plan"].get("tasks", [])
        if not app_plans_record(r):
            out["not_planned"] += 1
            out["not_planned_but_reference_has_tasks"] += bool(tasks)
        elif (any(t.get("task") == "memory-save" for t in tasks)
              and not ASKS_TO_SAVE.search(r["instruction"])):
            out["memory_save_needed_not_offered"] += 1
    return out


def machine_info() -> dict:
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None

    def version(name: str) -> str | None:
        import importlib.metadata

        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": cpu or platform.processor() or None, "cpu_count": os.cpu_count(),
            "load_average": load, "llama_cpp_python": version("llama_cpp_python")}


def git_commit() -> str | None:
    """The commit of the code that ran, with "-dirty" when files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarize(records: Sequence[dict], predictions: Sequence[dict | None], config: dict, *,
              bertscore: bool = True, wall_seconds: float | None = None,
              extra: dict | None = None) -> dict:
    """summary.json: the run's settings, timings, where plans came from, and the metrics."""
    result = score_records(records, predictions, bertscore=bertscore)
    present = [p for p in predictions if p is not None]
    timed = [p for p in present if isinstance(p.get("seconds"), (int, float))]
    seconds = [float(p["seconds"]) for p in timed]
    # records the model planned (not the gate's empty plans): what a planning call costs
    model_seconds = [float(p["seconds"]) for p in timed if p.get("source") in ("model", "fallback")]
    sources = Counter(p.get("source", "unknown") for p in present)
    summary = {
        "kind": SUMMARY_KIND,
        "version": 1,
        **config,
        "n": len(records),
        "n_missing": len(predictions) - len(present),
        "wall_seconds": round(wall_seconds, 1) if wall_seconds is not None else None,
        "median_seconds": _median(seconds),
        "median_seconds_model": _median(model_seconds),
        "mean_seconds_model": round(statistics.fmean(model_seconds), 3) if model_seconds else None,
        "sources": dict(sorted(sources.items())),
        "gate_effects": gate_effects(records),
        "bertscore": bertscore,
        "encoder": result["encoder"],
        "metrics": {"overall": result["overall"], "per_scenario": result["per_scenario"],
                    "steps_joiner": result["steps_joiner"]},
        "machine": machine_info(),
        "git_commit": git_commit(),
        "finished": _now(),
        "predictions": PREDICTIONS,
        "records": DATA_COPY,
    }
    if extra:
        summary.update(extra)
    return summary


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "run"


def make_label(model: str, adapter: str | Path | None = None) -> str:
    return f"{model} + {Path(adapter).stem}" if adapter else model


# --- running ----------------------------------------------------------------------------------

def read_predictions(path: Path | str) -> list[dict]:
    """Prediction records of a file; a last line cut off by a crash is ignored."""
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                break  # written half when the run was killed
            raise BenchmarkError(f"{path}, line {n + 1}: not JSON.") from None
    return out


def match_predictions(records: Sequence[dict], predictions: Sequence[dict]) -> list[dict | None]:
    """Predictions in record order (None where a record has none); the last one per id wins."""
    by_id = {p.get("id"): p for p in predictions}
    return [by_id.get(r["id"]) for r in records]


def _prepare(llm, decoding: str) -> None:
    """Load the model (and the guided decoder's vocabulary tables) before the clock starts, so
    the first record's time is a planning time like the others."""
    if hasattr(llm, "load"):
        llm.load()
    if decoding == "guided" and hasattr(llm, "vocab_masks"):
        llm.vocab_masks()


def resumable_config(path: Path, config: dict, keys: Sequence[str]) -> dict | None:
    """The run config saved at `path` (None: a new run folder); raises BenchmarkError when it
    is another run's (any of `keys` differs), so its predictions are not mixed with these."""
    if not path.is_file():
        return None
    old = json.loads(path.read_text(encoding="utf-8"))
    differs = [k for k in keys if old.get(k) != config.get(k)]
    if differs:
        raise BenchmarkError(
            f"{path.parent} holds another run ({', '.join(f'{k}: {old.get(k)!r}' for k in differs)}); "
            f"choose another --out.")
    return old


def run(records: Sequence[dict], planner, out_dir: Path | str, config: dict, *,
        bertscore: bool = True, gate: bool = True, progress: bool = True,
        on_record: Callable[[dict], None] | None = None) -> dict:
    """Plan every record not yet in out_dir/predictions.jsonl, then write summary.json.

    `config` describes the run (model, adapter, endpoint, decoding, n_examples, split, data,
    label, ...); it is saved as run.json, and a folder holding a different run is refused.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = {**config, "decoding": planner.decoding, "n_examples": planner.n_examples,
              "gate": gate}
    config.setdefault("examples_from", "train")
    saved_config = out / RUN_CONFIG
    old = resumable_config(saved_config, config, RESUME_KEYS)
    config["started"] = old.get("started", _now()) if old else _now()
    saved_config.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    pred_path = out / PREDICTIONS
    # failed model calls are tried again; a half-written last line is dropped
    existing = [p for p in read_predictions(pred_path) if p.get("source") != "error"]
    wanted = {r["id"] for r in records}
    done = {p["id"] for p in existing if p.get("id") in wanted}
    if pred_path.is_file():
        pred_path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in existing),
                             encoding="utf-8")
    todo = [r for r in records if r["id"] not in done]

    pool = planner.examples
    pool_ids = {r["id"] for r in pool}
    config["load_average_start"] = machine_info()["load_average"]
    start = time.perf_counter()
    load_seconds = None
    if any(not gate or app_plans_record(r) for r in todo):
        t0 = time.perf_counter()
        _prepare(planner.llm, planner.decoding)
        load_seconds = round(time.perf_counter() - t0, 2)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(records), initial=len(records) - len(todo), unit="plan",
                   desc=config.get("label", "plan"), file=sys.stderr, dynamic_ncols=True)
    counts = Counter(p.get("source") for p in existing if p.get("id") in wanted)
    errors_in_a_row = 0
    try:
        with open(pred_path, "a", encoding="utf-8") as f:
            for rec in todo:
                # a train record is never its own example
                planner.examples = ([r for r in pool if r["id"] != rec["id"]]
                                    if rec["id"] in pool_ids else pool)
                pred = predict(planner, rec, gate=gate)
                f.write(json.dumps(pred, ensure_ascii=False) + "\n")
                f.flush()
                counts[pred["source"]] += 1
                if on_record is not None:
                    on_record(pred)
                if bar is not None:
                    bar.set_postfix({k: v for k, v in sorted(counts.items()) if k}, refresh=False)
                    bar.update(1)
                errors_in_a_row = errors_in_a_row + 1 if pred["source"] == "error" else 0
                if errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                    raise BenchmarkError(f"The model failed on {errors_in_a_row} records in a row; "
                                         f"last: {pred['error']}. Predictions so far are in "
                                         f"{pred_path}; fix the cause and run again to resume.")
    finally:
        planner.examples = pool
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - start
    predictions = match_predictions(records, read_predictions(pred_path))
    config["resumed_records"] = len(done)
    config["load_seconds"] = load_seconds
    summary = summarize(records, predictions, config, bertscore=bertscore, wall_seconds=wall)
    write_records(out / DATA_COPY, records)
    write_json(out / SUMMARY, summary)
    return summary


def score_file(predictions_path: Path | str, records: Sequence[dict], out_dir: Path | str,
               config: dict, *, bertscore: bool = True) -> dict:
    """Score a predictions file made elsewhere (one JSON object per line with "id" and "raw",
    or "output"/"prediction" text, or a "plan" object) against `records`. Records without a
    prediction count as an empty, invalid output; ids not in the data are an error."""
    preds = read_predictions(predictions_path)
    if not preds:
        raise BenchmarkError(f"{predictions_path} holds no predictions.")
    no_id = sum(1 for p in preds if "id" not in p)
    if no_id:
        raise BenchmarkError(f"{no_id} lines of {predictions_path} have no \"id\".")
    known = {r["id"] for r in records}
    unknown = [p["id"] for p in preds if p["id"] not in known]
    if unknown:
        raise BenchmarkError(f"{len(unknown)} predictions are for records not in "
                             f"{config.get('split')} (e.g. {unknown[0]!r}); pass --split or "
                             f"--data to score against the right records.")
    matched = match_predictions(records, preds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    copy = out / PREDICTIONS
    if copy.resolve() != Path(predictions_path).resolve():
        copy.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds),
                        encoding="utf-8")
    config = {**config, "scored_from": str(Path(predictions_path).resolve())}
    summary = summarize(records, matched, config, bertscore=bertscore)
    write_records(out / DATA_COPY, records)
    write_json(out / SUMMARY, summary)
    return summary


def write_records(path: Path, records: Sequence[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
