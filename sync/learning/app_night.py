"""One night for the app's user: labels from the database → adapter → gate → kept or not.

`python -m sync.learning.app_night` is what "Learn now" and the nightly schedule start, in a
process of its own at the lowest priority (the window pauses it while the chat model answers).
It reports on stdout, one JSON object per line:
  {"event": "stage", "stage": "prepare|train|evaluate|decide", "message": ...}
  {"event": "progress", "fraction": 0.0-1.0, "message": ...}
  {"event": "done", "night": {the history record}}        (also for a skipped night)
  {"event": "error", "message": ...}                       (exit code 1)
A night that dies or is stopped never touches the active adapter: only the gate's "kept"
changes it, in one atomic replace. A night interrupted during training is picked up (from its
last checkpoint) by the next one.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.learning import gate, gguf_lora, nightly, train
from sync.learning.hf_twin import TwinError
from sync.learning.nightly import NightResult

Emit = Callable[[dict], None]
MIN_STEPS = 6


class Cancelled(Exception):
    """The night was asked to stop (SIGTERM from Cancel, or the app quitting)."""


def print_event(event: dict) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def night_config(settings, overrides: dict | None = None) -> train.TrainConfig:
    """The app's night: the lean preset, then what was measured for the settings' model
    (models.yaml `night`), then the caller's overrides."""
    from agent.model_registry import get_model

    return train.TrainConfig.from_dict({**train.LEAN, "epochs": 2.0, "min_steps": MIN_STEPS,
                                        "memory_cap_mib": settings.learning_memory_mib,
                                        "nice": 19, **get_model(settings.model).night,
                                        **(overrides or {})})


def _usable(records: list[dict]) -> list[dict]:
    """The records that make planner examples (the app plans them and would accept the plan)."""
    from sync.learning import examples as ex

    ids = {e.source for e in ex.planner_examples(records).examples}
    return [r for r in records if r["id"] in ids]


def _unfinished_app_job(model_path: Path) -> Path | None:
    for job_dir in reversed(nightly.unfinished()):
        job = json.loads((job_dir / train.JOB).read_text(encoding="utf-8"))
        if job.get("app") and Path(job["base"]).resolve() == model_path.resolve():
            return job_dir
    return None


def _checked_active(model_path: Path) -> Path | None:
    """The active adapter, if it is what the app runs: a damaged one falls back to the base."""
    current = nightly.active_adapter_for(model_path)
    if current is not None:
        try:
            gguf_lora.check_adapter(current, model_path)
        except (gguf_lora.AdapterError, TwinError, OSError):
            return None
    return current


def _progress(emit: Emit, start: float, span: float) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, message: str) -> None:
        emit({"event": "progress", "fraction": round(start + span * done / max(total, 1), 3),
              "message": message})
    return report


def run(db, settings, *, emit: Emit = print_event, config_overrides: dict | None = None,
        general_n: int = gate.GENERAL_N, margin: float = gate.MARGIN,
        min_examples: int = nightly.MIN_EXAMPLES,
        cancel: threading.Event | None = None) -> NightResult:
    from agent.model_registry import get_model
    from sync.learning import examples as ex
    from sync.learning import source

    spec = get_model(settings.model)
    model_path = spec.resolve()
    emit({"event": "stage", "stage": "prepare", "message": "Reading your labelled examples…"})
    job_dir = _unfinished_app_job(model_path)
    if job_dir is not None:
        job = json.loads((job_dir / train.JOB).read_text(encoding="utf-8"))
        result = NightResult(job["night"], "prepared", model=spec.id,
                             n_examples=len(job.get("task_examples", [])))
        held_out = job["held_out"]
        emit({"event": "stage", "stage": "prepare",
              "message": f"Resuming the night of {job['night']} from its last checkpoint."})
    else:
        records, unreadable = source.training_records(db)
        usable = _usable(ex.dedupe(records))
        train_records, held_out = gate.split_held_out(usable)
        if len(train_records) < min_examples:
            result = NightResult(nightly._now_id(), "skipped", model=spec.id,
                                 n_examples=len(train_records),
                                 skipped_records=unreadable)
            result.reason = (
                f"{len(usable)} usable labelled examples ({len(records)} stored); a night "
                f"needs {min_examples} to train on plus {max(1, len(held_out))} held out to "
                f"check the result. Labels come from the cloud's plans (cloud assist with "
                f"training consent) and from plans you correct. Nothing was trained.")
            nightly.record(result)
            return result
        config = night_config(settings, config_overrides)
        # tonight builds on the adapter in use, so the nights add up (after a rollback to
        # the base model, the next one starts fresh)
        job_dir, result = nightly.prepare(
            train_records, model_path, config, min_examples=min_examples,
            start_from=_checked_active(model_path),
            extra={"app": True, "model": spec.id, "held_out": held_out})
        result.model = spec.id
        if job_dir is None:
            nightly.record(result)
            return result
    job = json.loads((job_dir / train.JOB).read_text(encoding="utf-8"))
    emit({"event": "stage", "stage": "train",
          "message": f"Training on {result.n_examples} examples ({job['config']['rank']}-rank "
                     f"LoRA, low priority{', building on the adapter in use' if job.get('init') else ''})…"})
    report = _progress(emit, 0.05, 0.55)
    proc = nightly.run_training(job_dir, on_step=lambda s: report(
        s["step"], s["of"], f"Training step {s['step']} of {s['of']} (loss {s['loss']:.3f})"))
    result = nightly.finish(job_dir, result, proc, save=False)
    if result.status != "done":
        nightly.record(result)
        return result

    emit({"event": "stage", "stage": "evaluate",
          "message": f"Checking the new adapter on {len(held_out)} of your held-out examples "
                     f"and {general_n} general ones…"})
    general = gate.general_records(general_n)
    current = _checked_active(model_path)
    pool = source.example_pool(db)  # the gate plans as the chat does
    cache = gate.ScoreCache(nightly.learning_dir() / "scores.json")
    sets = {"user": held_out, "general": general}
    scores: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    todo: dict[str, dict[str, list]] = {"before": {}, "after": dict(sets)}
    for name, recs in sets.items():  # the active model's scores are kept between nights
        cached = cache.get(cache.key(model_path, current, recs, pool))
        if cached is None:
            todo["before"][name] = recs
        else:
            scores["before"][name] = cached
    total = sum(len(r) for side in todo.values() for r in side.values())
    done = 0
    report = _progress(emit, 0.6, 0.38)

    def on_record(name: str, i: int, n: int, side: str) -> None:
        nonlocal done
        done += 1
        report(done, total, f"Planning {'your' if name == 'user' else 'a general'} example "
                            f"{i} of {n} ({'new adapter' if side == 'after' else 'as now'})")

    try:
        for side, adapter in (("before", current), ("after", Path(result.adapter))):
            if not todo[side]:
                continue
            measured = gate.evaluate(model_path, adapter, todo[side],
                                     chat_template=spec.chat_template, cancel=cancel, pool=pool,
                                     on_record=lambda name, i, n, s=side: on_record(name, i, n, s))
            for name, value in measured.items():
                cache.put(cache.key(model_path, adapter, sets[name], pool), value)
                scores[side][name] = value
    except gate.GateError as exc:
        result.status = "failed"
        result.reason = f"The new adapter could not be evaluated: {exc} The active adapter is unchanged."
        nightly.record(result)
        return result
    emit({"event": "stage", "stage": "decide", "message": "Deciding…"})
    kept, why = gate.decide(scores["before"], scores["after"], margin)
    result.gate = {**scores, "margin": margin, "decision": "kept" if kept else "rejected",
                   "reason": why, "before_adapter": str(current) if current else None}
    if kept:
        nightly.activate(result.adapter, model_path)
        result.kept = True
    result.reason = why
    nightly.record(result)
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    from app import offline

    offline.apply()
    parser = argparse.ArgumentParser(prog="python -m sync.learning.app_night")
    parser.add_argument("--model", help="a registry id (default: the model in the settings)")
    parser.add_argument("--general", type=int, default=gate.GENERAL_N,
                        help="general (Q2A dev) examples the gate plans")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override a TrainConfig field, e.g. --set steps=4")
    args = parser.parse_args(argv)

    def stop(signum, frame):
        raise Cancelled()

    signal.signal(signal.SIGTERM, stop)
    try:
        os.nice(19 - os.nice(0))  # the lowest priority: the chat comes first
    except OSError:
        pass
    from memory.db import Database
    from memory.settings import load_settings

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    db = Database()
    started = time.time()
    try:
        settings = load_settings(db)
        if args.model:
            settings.model = args.model
        result = run(db, settings, config_overrides=overrides, general_n=args.general)
    except Cancelled:
        nightly.record(NightResult(nightly._now_id(), "cancelled", reason=(
            "Cancelled; the active adapter is unchanged. If training had started, the next "
            "night goes on from its last checkpoint.")))
        print_event({"event": "error", "message": "The night was cancelled; the active adapter "
                                                  "is unchanged. Training resumes from its last "
                                                  "checkpoint next time."})
        return 1
    except Exception as exc:  # noqa: BLE001 - the window shows it; nothing was activated
        print_event({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        db.close()
    result_dict = result.to_dict()
    result_dict["wall_seconds"] = round(time.time() - started, 1)
    print_event({"event": "done", "night": result_dict})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
