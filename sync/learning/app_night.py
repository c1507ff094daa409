"""One night for the app's user: labels from the database → an adapter per agent role → gate
→ kept or not. The planner's adapter learns from the plans (the cloud's and the user's
corrections), the summarizer's from the cloud's answers; each role's night runs when it has
enough labels, trains from the adapter that role uses now, and is checked on that role's own
examples.

`python -m sync.learning.app_night` is what "Learn now" and the nightly schedule start, in a
process of its own at the lowest priority (the window pauses it while the chat model answers).
It reports on stdout, one JSON object per line:
  {"event": "stage", "stage": "prepare|train|evaluate|decide", "message": ...}
  {"event": "progress", "fraction": 0.0-1.0, "message": ...}
  {"event": "done", "night": {the last history record}, "nights": [tonight's records]}
                                                           (also for a skipped night)
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.labels import ROLES
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


def _running(role: str, model_path: Path) -> Path | None:
    """The adapter the role runs now, as agent.assistant.llm_from_settings loads it: a damaged
    one falls back to the base model."""
    adapter = nightly.active_roles_for(model_path)[role]
    if adapter is not None:
        try:
            gguf_lora.check_adapter(adapter, model_path)
        except (gguf_lora.AdapterError, TwinError, OSError):
            return None
    return adapter


def _progress(emit: Emit, start: float, span: float) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, message: str) -> None:
        emit({"event": "progress", "fraction": round(start + span * done / max(total, 1), 3),
              "message": message})
    return report


@dataclass(frozen=True)
class RoleNight:
    """What a role's night trains on, is checked on and is decided by."""

    kind: str  # its labels, in words
    doing: str
    user_set: str  # gate.evaluate's set names: the user's held-out labels, general records
    general_set: str
    label_arg: str  # nightly.prepare's argument for its labels
    held_key: str  # where the job keeps the held-out labels, for a resumed night
    general: Callable[[int], list[dict]]
    decide: Callable[..., tuple[bool, str]]
    pool: bool  # planned with the chat's example pool


# A role's adapter is trained on that role's labels alone, from the adapter the role uses now:
# mixing the cloud's answers into the planner's training cost one user's planning 0.09 plan
# score, and training the answers on top of such a mixed adapter (α-UMi's global-then-local)
# did no better than training them alone (docs/learning.md, "Per-role adapters").
ROLE_NIGHTS = {
    "planner": RoleNight("plans", "planning", "user", "general", "records", "held_out",
                         gate.general_records, gate.decide, pool=True),
    "summarizer": RoleNight("answers", "answering", "user_answers", "general_answers",
                            "answers", "held_out_answers", gate.general_answer_records,
                            gate.decide_answers, pool=False),
}
MESSAGES = {"user": "Planning your example", "general": "Planning a general example",
            "user_answers": "Reading your answer", "general_answers": "Answering a general example"}


def _labels(db) -> tuple[dict[str, tuple[list, list]], list[dict], str]:
    """({role: (to train on, held out)}, unreadable rows, what is stored, in words)."""
    from sync.learning import examples as ex
    from sync.learning import source

    records, unreadable = source.training_records(db)
    answers, unreadable_answers = source.answer_records(db)
    usable = _usable(ex.dedupe(records))
    labels = {"planner": gate.split_held_out(usable),
              "summarizer": gate.split_held_out(ex.dedupe(answers, key=ex.answer_key),
                                                key=ex.answer_key)}
    stored = (f"{len(usable)} usable labelled plans ({len(records)} stored) and "
              f"{len(answers)} labelled answers")
    return labels, unreadable + unreadable_answers, stored


def run(db, settings, *, emit: Emit = print_event, config_overrides: dict | None = None,
        general_n: int = gate.GENERAL_N, general_answers_n: int = gate.GENERAL_ANSWERS_N,
        margin: float = gate.MARGIN, answer_margin: float = gate.ANSWER_MARGIN,
        min_examples: int = nightly.MIN_EXAMPLES,
        cancel: threading.Event | None = None) -> list[NightResult]:
    """Tonight's nights: one per role with enough labels (a night interrupted in training
    first), each trained, gated and recorded; or one skipped night saying why none could run."""
    from agent.model_registry import get_model

    spec = get_model(settings.model)
    model_path = spec.resolve()
    emit({"event": "stage", "stage": "prepare", "message": "Reading your labelled examples…"})
    labels, unreadable, stored = _labels(db)
    todo: list[tuple[str, Path | None]] = []  # (role, an unfinished job of it)
    job_dir = _unfinished_app_job(model_path)
    if job_dir is not None:
        job = json.loads((job_dir / train.JOB).read_text(encoding="utf-8"))
        todo.append((job.get("role", "planner"), job_dir))
    todo += [(role, None) for role in ROLES if role not in {r for r, _ in todo}
             and len(labels[role][0]) >= min_examples]
    if not todo:
        result = NightResult(nightly._now_id(), "skipped", model=spec.id,
                             n_examples=sum(len(t) for t, _ in labels.values()),
                             skipped_records=unreadable)
        held = max(1, max(len(h) for _, h in labels.values()))
        result.reason = (
            f"{stored}; a night needs {min_examples} of one kind to train on plus {held} held "
            f"out to check the result. Labels come from the cloud's plans and answers (cloud "
            f"assist with training consent) and from plans you correct. Nothing was trained.")
        nightly.record(result)
        return [result]
    general = {"planner": general_n, "summarizer": general_answers_n}
    margins = {"planner": margin, "summarizer": answer_margin}
    return [_role_night(role, unfinished, labels[role], spec, model_path, settings, db,
                        emit=_within(emit, i / len(todo), 1 / len(todo)),
                        config_overrides=config_overrides, general_n=general[role],
                        margin=margins[role], min_examples=min_examples, cancel=cancel)
            for i, (role, unfinished) in enumerate(todo)]


def _within(emit: Emit, start: float, span: float) -> Emit:
    """emit, with progress fractions mapped into [start, start + span] of the whole run."""
    def scaled(event: dict) -> None:
        if event.get("event") == "progress":
            event = {**event, "fraction": round(start + span * event["fraction"], 3)}
        emit(event)
    return scaled


def _role_night(role: str, job_dir: Path | None, labels: tuple[list, list], spec, model_path,
                settings, db, *, emit: Emit, config_overrides, general_n: int, margin: float,
                min_examples: int, cancel) -> NightResult:
    from sync.learning import source

    night = ROLE_NIGHTS[role]
    kind, doing = night.kind, night.doing
    train_records, held = labels
    if job_dir is not None:
        job = json.loads((job_dir / train.JOB).read_text(encoding="utf-8"))
        result = NightResult(job["night"], "prepared", model=spec.id, role=role,
                             n_examples=len(job.get("task_examples", [])))
        held = job.get(night.held_key, [])
        emit({"event": "stage", "stage": "prepare",
              "message": f"Resuming the night of {job['night']} from its last checkpoint."})
    else:
        config = night_config(settings, config_overrides)
        current = _running(role, model_path)
        labelled = {"records": [], night.label_arg: train_records}
        # the role builds on the adapter it uses (after a rollback to the base model, the
        # next night starts fresh)
        job_dir, result = nightly.prepare(
            model_path=model_path, config=config, min_examples=min_examples,
            start_from=current, **labelled,
            extra={"app": True, "model": spec.id, "role": role, night.held_key: held})
        result.model, result.role = spec.id, role
        if job_dir is None:
            nightly.record(result)
            return result
    job = json.loads((job_dir / train.JOB).read_text(encoding="utf-8"))
    emit({"event": "stage", "stage": "train",
          "message": f"Training the {doing} adapter on {result.n_examples} {kind} "
                     f"({job['config']['rank']}-rank LoRA, low priority"
                     f"{', building on the adapter in use' if job.get('init') else ''})…"})
    report = _progress(emit, 0.05, 0.55)
    proc = nightly.run_training(job_dir, on_step=lambda s: report(
        s["step"], s["of"], f"Training step {s['step']} of {s['of']} (loss {s['loss']:.3f})"))
    result = nightly.finish(job_dir, result, proc, save=False)
    result.role = role
    if result.status != "done":
        nightly.record(result)
        return result

    sets = {night.user_set: held, night.general_set: night.general(general_n)}
    emit({"event": "stage", "stage": "evaluate",
          "message": f"Checking the new {doing} adapter on {len(held)} of your held-out "
                     f"{kind} and {len(sets[night.general_set])} general ones…"})
    current = _running(role, model_path)
    pool = source.example_pool(db) if night.pool else ()  # the gate plans as the chat does
    cache = gate.ScoreCache(nightly.learning_dir() / "scores.json")
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
        report(done, total, f"{MESSAGES[name]} {i} of {n} "
                            f"({'new adapter' if side == 'after' else 'as now'})")

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
    kept, why = night.decide(scores["before"], scores["after"], margin)
    result.gate = {**scores, "margin": margin, "decision": "kept" if kept else "rejected",
                   "reason": why, "role": role,
                   "before_adapter": str(current) if current else None}
    if kept:
        nightly.activate(result.adapter, model_path, roles=[role])
        result.kept = True
        result.roles = [role]
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
        results = run(db, settings, config_overrides=overrides, general_n=args.general)
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
    nights = [r.to_dict() for r in results]
    nights[-1]["wall_seconds"] = round(time.time() - started, 1)
    # "night": the last one, as a single night always read; "nights": all of tonight's
    print_event({"event": "done", "night": nights[-1], "nights": nights})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
