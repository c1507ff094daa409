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


def _checked(adapter: Path | None, model_path: Path) -> Path | None:
    """The adapter, if the app would run it: a damaged one falls back to the base model."""
    if adapter is not None:
        try:
            gguf_lora.check_adapter(adapter, model_path)
        except (gguf_lora.AdapterError, TwinError, OSError):
            return None
    return adapter


def _checked_active(model_path: Path) -> Path | None:
    """The adapter the next night builds on (the newest any role uses), if usable."""
    return _checked(nightly.active_adapter_for(model_path), model_path)


def _checked_roles(model_path: Path) -> dict[str, Path | None]:
    """What each role runs now (as agent.assistant.llm_from_settings loads it)."""
    return {role: _checked(a, model_path)
            for role, a in nightly.active_roles_for(model_path).items()}


def _progress(emit: Emit, start: float, span: float) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, message: str) -> None:
        emit({"event": "progress", "fraction": round(start + span * done / max(total, 1), 3),
              "message": message})
    return report


def _answer_key(record: dict) -> str:
    return " ".join(record["request"].lower().split())


ANSWER_SETS = ("user_answers", "general_answers")
MESSAGES = {"user": "Planning your example", "general": "Planning a general example",
            "user_answers": "Reading your answer", "general_answers": "Answering a general example"}


def run(db, settings, *, emit: Emit = print_event, config_overrides: dict | None = None,
        general_n: int = gate.GENERAL_N, general_answers_n: int = gate.GENERAL_ANSWERS_N,
        margin: float = gate.MARGIN, answer_margin: float = gate.ANSWER_MARGIN,
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
        held_out, held_answers = job["held_out"], job.get("held_out_answers", [])
        emit({"event": "stage", "stage": "prepare",
              "message": f"Resuming the night of {job['night']} from its last checkpoint."})
    else:
        records, unreadable = source.training_records(db)
        answers, unreadable_answers = source.answer_records(db)
        usable = _usable(ex.dedupe(records))
        train_records, held_out = gate.split_held_out(usable)
        train_answers, held_answers = gate.split_held_out(
            ex.dedupe(answers, key=_answer_key), key=_answer_key)
        if len(train_records) + len(train_answers) < min_examples:
            result = NightResult(nightly._now_id(), "skipped", model=spec.id,
                                 n_examples=len(train_records) + len(train_answers),
                                 skipped_records=unreadable + unreadable_answers)
            held = max(1, len(held_out) + len(held_answers))
            result.reason = (
                f"{len(usable)} usable labelled plans ({len(records)} stored) and "
                f"{len(answers)} labelled answers; a night needs {min_examples} to train on "
                f"plus {held} held out to check the result. Labels come from the cloud's plans "
                f"and answers (cloud assist with training consent) and from plans you correct. "
                f"Nothing was trained.")
            nightly.record(result)
            return result
        config = night_config(settings, config_overrides)
        # tonight builds on the adapter in use, so the nights add up (after a rollback to
        # the base model, the next one starts fresh)
        job_dir, result = nightly.prepare(
            train_records, model_path, config, min_examples=min_examples,
            start_from=_checked_active(model_path), answers=train_answers,
            extra={"app": True, "model": spec.id, "held_out": held_out,
                   "held_out_answers": held_answers})
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

    # each role is checked on its own kind of example: plans for the planner, answers for
    # the summarizer; a role with no held-out example of the user's can't take the adapter
    sets = {}
    if held_out:
        sets.update(user=held_out, general=gate.general_records(general_n))
    if held_answers:
        sets.update(user_answers=held_answers,
                    general_answers=gate.general_answer_records(general_answers_n))
    emit({"event": "stage", "stage": "evaluate",
          "message": f"Checking the new adapter on {len(held_out) + len(held_answers)} of your "
                     f"held-out examples and {len(sets.get('general', [])) + len(sets.get('general_answers', []))} "
                     f"general ones…"})
    if not sets:
        result.reason = "Nothing of yours was held out to check the adapter on; it is not used."
        nightly.record(result)
        return result
    roles = _checked_roles(model_path)
    current = {name: roles["summarizer" if name in ANSWER_SETS else "planner"] for name in sets}
    pool = source.example_pool(db)  # the gate plans as the chat does
    pools = {name: () if name in ANSWER_SETS else pool for name in sets}
    cache = gate.ScoreCache(nightly.learning_dir() / "scores.json")
    scores: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    todo: list[tuple[str, Path | None, dict[str, list]]] = []
    for adapter in dict.fromkeys(current.values()):  # the active models' scores are kept
        missing = {}
        for name in (n for n in sets if current[n] == adapter):
            cached = cache.get(cache.key(model_path, adapter, sets[name], pools[name]))
            if cached is None:
                missing[name] = sets[name]
            else:
                scores["before"][name] = cached
        if missing:
            todo.append(("before", adapter, missing))
    todo.append(("after", Path(result.adapter), dict(sets)))
    total = sum(len(r) for _, _, part in todo for r in part.values())
    done = 0
    report = _progress(emit, 0.6, 0.38)

    def on_record(name: str, i: int, n: int, side: str) -> None:
        nonlocal done
        done += 1
        report(done, total, f"{MESSAGES[name]} {i} of {n} "
                            f"({'new adapter' if side == 'after' else 'as now'})")

    try:
        for side, adapter, part in todo:
            measured = gate.evaluate(model_path, adapter, part,
                                     chat_template=spec.chat_template, cancel=cancel, pool=pool,
                                     on_record=lambda name, i, n, s=side: on_record(name, i, n, s))
            for name, value in measured.items():
                cache.put(cache.key(model_path, adapter, sets[name], pools[name]), value)
                scores[side][name] = value
    except gate.GateError as exc:
        result.status = "failed"
        result.reason = f"The new adapter could not be evaluated: {exc} The active adapter is unchanged."
        nightly.record(result)
        return result
    emit({"event": "stage", "stage": "decide", "message": "Deciding…"})
    kept, why = gate.decide_roles(scores["before"], scores["after"], margin, answer_margin)
    result.gate = {**scores, "margin": margin, "answer_margin": answer_margin,
                   "decision": "kept" if kept else "rejected", "roles": kept, "reason": why,
                   "before_adapter": str(roles["planner"]) if roles["planner"] else None,
                   "before_adapters": {r: str(a) if a else None for r, a in roles.items()}}
    if kept:
        nightly.activate(result.adapter, model_path, roles=kept)
        result.kept = True
        result.roles = kept
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
