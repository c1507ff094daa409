"""`hearth`: the window by default; `hearth ask` and `hearth models` for terminals and scripts."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from app import offline


def main(argv: list[str] | None = None) -> int:
    offline.apply()
    parser = argparse.ArgumentParser(prog="hearth", description="A private assistant on your desktop.")
    sub = parser.add_subparsers(dest="command")

    ask = sub.add_parser("ask", help="answer one message on stdout (no window needed)")
    ask.add_argument("text", help="the message; '-' reads it from stdin")
    ask.add_argument("--model", help="model id (see `hearth models`)")
    ask.add_argument("--conversation", type=int, help="continue this conversation id")
    ask.add_argument("--max-tokens", type=int)
    ask.add_argument("--attach", action="append", default=[], metavar="FILE",
                     help="attach an audio file or image (repeatable)")
    ask.add_argument("--json", action="store_true", help="print the result as JSON")

    models = sub.add_parser("models", help="list the packaged models and check their files")
    models.add_argument("--verify", action="store_true", help="hash every installed model (slow)")

    expert = sub.add_parser("expert", help="run one expert on a file and print its JSON")
    expert.add_argument("name", help="speech-to-text | object-detection | pose-estimation | face-recognition")
    expert.add_argument("file")

    faces = sub.add_parser("faces", help="people whose faces Hearth recognises")
    faces_sub = faces.add_subparsers(dest="faces_command", required=True)
    enroll = faces_sub.add_parser("enroll", help="learn a face from a photo with one face in it")
    enroll.add_argument("name")
    enroll.add_argument("image")
    faces_sub.add_parser("list", help="list enrolled people")
    forget = faces_sub.add_parser("forget", help="delete every enrolled photo of a person")
    forget.add_argument("name")

    from app import memory_cli

    memory_cli.add_parser(sub)

    sub.add_parser("gui", help="open the window (the default)")
    args = parser.parse_args(argv)

    if args.command == "ask":
        return cmd_ask(args)
    if args.command == "models":
        return cmd_models(args)
    if args.command == "expert":
        return cmd_expert(args)
    if args.command == "faces":
        return cmd_faces(args)
    if args.command == "memory":
        from app import memory_cli as memory_commands

        return memory_commands.run(args)
    from app.gui import run_gui

    return run_gui()


def cmd_ask(args) -> int:
    from agent.assistant import Assistant
    from agent.context import MessageRejected
    from agent.events import (AnswerFinished, Failed, MemoriesProposed, MemoriesUsed, MemorySaved,
                              Notice, PlanReady, PlanStarted, TaskFinished, TaskStarted, Token)
    from memory.conversations import ConversationStore
    from memory.db import Database
    from memory.settings import load_settings

    text = sys.stdin.read() if args.text == "-" else args.text
    db = Database()
    store = ConversationStore(db)
    settings = load_settings(db)
    if args.model:
        settings.model = args.model
    if args.max_tokens:
        settings.max_tokens = args.max_tokens
    conv = store.get(args.conversation) if args.conversation else store.create()
    if conv is None:
        print(f"hearth: no conversation {args.conversation}", file=sys.stderr)
        return 2
    assistant = Assistant(store, settings)
    cancel = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    result: dict = {"conversation": conv.id, "model": settings.model, "notices": [], "trace": None}
    code = 0
    try:
        for event in assistant.respond(conv.id, text, cancel, attachments=args.attach):
            if isinstance(event, PlanStarted):
                print("[Planning…]", file=sys.stderr)
            elif isinstance(event, PlanReady):
                result["trace"] = event.trace
                print(_plan_text(event.trace), file=sys.stderr)
            elif isinstance(event, TaskStarted):
                print(f"[step {event.task['id'] + 1}: {event.task['task']}…]", file=sys.stderr)
            elif isinstance(event, TaskFinished):
                print(f"[step {event.task['id'] + 1}: {_task_line(event.task)}]", file=sys.stderr)
            elif isinstance(event, MemorySaved):
                what = "Already remembered" if event.duplicate else "Saved to memory"
                print(f"[{what}: {event.text}]", file=sys.stderr)
            elif isinstance(event, MemoriesProposed):
                result["proposed_memories"] = event.memories
                verb = "Proposed for memory (hearth memory list --proposed)" if event.status == "proposed" else "Saved to memory"
                print(f"[{verb}: " + "; ".join(m["text"] for m in event.memories) + "]", file=sys.stderr)
            elif isinstance(event, MemoriesUsed):
                result["memories"] = event.memories
                print("[Used memories: " + "; ".join(m["text"] for m in event.memories) + "]",
                      file=sys.stderr)
            elif isinstance(event, Token) and not args.json:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, Notice):
                result["notices"].append(event.text)
                print(f"[{event.text}]", file=sys.stderr)
            elif isinstance(event, Failed):
                result["error"] = event.error
                print(f"hearth: {event.error}", file=sys.stderr)
                code = 1
            elif isinstance(event, AnswerFinished):
                result.update(answer=event.content, status=event.status, stats=event.stats)
    except MessageRejected as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return 2
    finally:
        assistant.close()
        db.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    elif code == 0:
        print()
    return code


def _plan_text(trace: dict) -> str:
    how = {"model": "by the model", "fallback": "fallback rule", "rule": "no expert needed",
           "stopped": "stopped"}.get(trace["source"], trace["source"])
    tasks = trace["tasks"]
    if not tasks:
        return f"[Plan ({how}, {trace['seconds']:.1f} s): answer directly]"
    lines = [f"[Plan ({how}, {trace['seconds']:.1f} s):"]
    for t in tasks:
        args = ", ".join(f"{k}={v}" for k, v in t["args"].items())
        needs = [d + 1 for d in t["dep"] if d != -1]
        after = f" after step {', '.join(map(str, needs))}" if needs else ""
        lines.append(f"  {t['id'] + 1}. {t['step']} — {t['task']}({args}){after}")
    return "\n".join(lines) + "]"


def _task_line(task: dict) -> str:
    from agent.expert_context import task_line

    line = task_line(task)
    return f"{line} ({task['seconds']:.2f} s)" if task["status"] == "done" else line


def cmd_expert(args) -> int:
    from experts.base import ExpertError
    from experts.registry import ExpertRegistry
    from memory.db import Database

    db = Database()
    registry = ExpertRegistry(db)
    try:
        expert = registry.get(args.name)
        (arg_name,) = expert.inputs
        result = expert(**{arg_name: args.file})
    except ExpertError as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return 1
    finally:
        registry.close()
        db.close()
    print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    return 0


def cmd_faces(args) -> int:
    from experts.base import ExpertError
    from experts.faces import FaceRecognition
    from memory.db import Database
    from memory.faces import FaceStore

    db = Database()
    try:
        if args.faces_command == "list":
            people = FaceStore(db).people()
            for person in people:
                print(f"{person.name}\t{person.samples} photo(s)")
            if not people:
                print("No faces enrolled. Enroll one with: hearth faces enroll NAME PHOTO")
        elif args.faces_command == "forget":
            n = FaceStore(db).forget(args.name)
            print(f"Forgot {n} photo(s) of {args.name}.")
            return 0 if n else 1
        else:
            expert = FaceRecognition(db=db)
            try:
                face_id = expert.enroll(args.name, args.image)
            finally:
                expert.close()
            print(f"Enrolled {args.name} (face #{face_id}).")
    except (ExpertError, ValueError) as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0


def cmd_models(args) -> int:
    from agent.model_registry import ModelFileError, load_registry
    from memory.settings import DEFAULT_MODEL

    code = 0
    for spec in load_registry().values():
        default = " (default)" if spec.id == DEFAULT_MODEL else ""
        print(f"{spec.id}{default}: {spec.title}, {spec.size / 1e6:.0f} MB, {spec.license}")
        print(f"    role: {spec.role}")
        print(f"    from: {', '.join(spec.packages) if len(spec.parts) < 3 else f'{spec.packages[0]} … {spec.packages[-1]}'}")
        missing = spec.missing_parts()
        if missing:
            print(f"    status: not installed ({len(missing)} of {len(spec.parts)} packages missing): "
                  f"pip install 'hearth[{spec.extra}]'")
            continue
        try:
            path = spec.verify() if args.verify else spec.resolve()
            print(f"    status: {'verified (sha256)' if args.verify else 'installed'} at {path}")
        except ModelFileError as exc:
            print(f"    status: BROKEN: {exc}")
            code = 1
    return max(code, _expert_weights(args.verify))


def _expert_weights(verify: bool) -> int:
    from experts.base import ExpertError
    from experts.registry import BUILTIN, expert_class

    print("\nExpert weights:")
    code = 0
    for name in BUILTIN:
        try:
            for title, path in expert_class(name).weights(verify):
                print(f"{name}: {title}\n    {'verified (sha256)' if verify else 'installed'} at {path}")
        except ExpertError as exc:
            print(f"{name}: BROKEN: {exc}")
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
