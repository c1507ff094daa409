"""`hearth learn …`: nightly learning from a terminal (what the Learning window does)."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    learn = sub.add_parser("learn", help="nightly learning: learn now, history, rollback")
    learn_sub = learn.add_subparsers(dest="learn_command", required=True)
    now = learn_sub.add_parser("now", help="run a night now: train on your labelled examples, "
                                           "evaluate, keep the adapter only if it is better")
    now.add_argument("--general", type=int, help="general (Q2A dev) examples the gate plans")
    now.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                     help="override a training setting, e.g. --set steps=4")
    history = learn_sub.add_parser("history", help="the nights so far")
    history.add_argument("--json", action="store_true")
    rollback = learn_sub.add_parser("rollback", help="use an earlier night's adapter")
    rollback.add_argument("night", help="the night's id (see `hearth learn history`)")
    learn_sub.add_parser("base", help="use the base model without any learned adapter")


def _base_model():
    from agent.model_registry import get_model
    from memory.db import Database
    from memory.settings import load_settings

    db = Database()
    try:
        return get_model(load_settings(db).model).resolve()
    finally:
        db.close()


def _line(night: dict) -> str:
    # the window's own wording of a night (app/learning_window.py), one line per night
    from app.learning_window import (answers_before_after, before_after, examples_text,
                                     has_set, outcome)

    scores = "".join(
        f"  {name} {show(night, split)}"
        for split, name, show in (("user", "yours", before_after),
                                  ("general", "general", before_after),
                                  ("user_answers", "your answers (nats/token)",
                                   answers_before_after),
                                  ("general_answers", "general answers", answers_before_after))
        if has_set(night, split))
    grown = f"  (on top of {night['started_from']})" if night.get("started_from") else ""
    return (f"{night['night']}  {night.get('model') or '-':<20} {outcome(night):<18} "
            f"{examples_text(night):>12}{scores}{grown}")


def _active_line(nightly) -> str:
    """'Active: <night>' when every role uses the same adapter (or none), else per role:
    'Active: planning <night>, answers the base model'."""
    def name(adapter) -> str:
        return adapter.stem if adapter else "the base model"

    roles = nightly.active_roles()
    planner, summarizer = roles["planner"], roles["summarizer"]
    if planner == summarizer:
        return f"Active: {name(planner)}"
    return f"Active: planning {name(planner)}, answers {name(summarizer)}"


def run(args) -> int:
    from sync.learning import nightly

    if args.learn_command == "now":
        from sync.learning import app_night

        argv = [f"--set={s}" for s in args.set]
        if args.general is not None:
            argv.append(f"--general={args.general}")

        def show(event: dict) -> None:
            if event["event"] in ("stage", "progress"):
                print(event["message"], file=sys.stderr, flush=True)

        # the same process the window starts, so a terminal night behaves like the app's
        from sync.learning.process import NightProcess

        proc = NightProcess([sys.executable, "-m", "sync.learning.app_night", *argv])
        result: dict = {}

        def on_event(event: dict) -> None:
            show(event)
            if event["event"] in ("done", "error"):
                result.update(event)

        proc.start(on_event)
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            proc.cancel()
            code = proc.wait()
        if result.get("event") == "done":
            for night in result.get("nights") or [result["night"]]:
                print(_line(night))
                print(night.get("reason", ""))
            return 0
        print(f"Learning failed: {result.get('message', f'exit code {code}')}", file=sys.stderr)
        return 1
    if args.learn_command == "history":
        nights = nightly.history()
        if args.json:
            print(json.dumps(nights, indent=2, ensure_ascii=False))
            return 0
        if not nights:
            print("No nights yet.")
        for night in nights:
            print(_line(night))
        print(_active_line(nightly))
        return 0
    try:
        if args.learn_command == "rollback":
            nightly.rollback(args.night, _base_model())
            print(f"Using night {args.night}'s adapter.")
        else:
            nightly.rollback(None, _base_model())
            print("Using the base model without a learned adapter.")
    except nightly.LearningError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0
