"""`hearth`: the window by default; `hearth ask`, `hearth models`, `hearth bench` … for terminals and scripts."""

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
    ask.add_argument("--cloud", action="store_true",
                     help="after the local answer, ask the cloud too (cloud assist must be on; "
                          "with policy 'ask' the payload is shown for approval first)")
    ask.add_argument("--yes", action="store_true",
                     help="with --cloud: send without asking for approval")

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

    from app import cloud_cli, learning_cli, memory_cli

    memory_cli.add_parser(sub)
    cloud_cli.add_parsers(sub)
    learning_cli.add_parser(sub)
    _add_bench_parser(sub)

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
    if args.command == "bench":
        return cmd_bench(args)
    if args.command == "cloud":
        return cloud_cli.run_cloud(args)
    if args.command == "outbox":
        return cloud_cli.run_outbox(args)
    if args.command == "learn":
        return learning_cli.run(args)
    from app.gui import run_gui

    return run_gui()


def cmd_ask(args) -> int:
    from agent.assistant import Assistant
    from agent.context import MessageRejected
    from agent.events import (AnswerFinished, CloudQueued, Failed, MemoriesProposed, MemoriesUsed,
                              MemorySaved, Notice, PlanReady, PlanStarted, TaskFinished, TaskStarted,
                              Token)
    from app import cloud_cli
    from memory.conversations import ConversationStore
    from memory.db import Database
    from memory.settings import load_settings
    from sync.service import CloudAssist

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
    cloud = CloudAssist(db, lambda: settings)
    if args.cloud and not cloud.enabled:
        print(f"hearth: --cloud, but {cloud.status_text()}. Turn it on with: hearth cloud enable "
              f"--endpoint URL --model NAME", file=sys.stderr)
        cloud.close()
        db.close()
        return 2
    assistant = Assistant(store, settings, cloud=cloud)
    cancel = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    result: dict = {"conversation": conv.id, "model": settings.model, "notices": [], "trace": None}
    queued = None
    code = 0
    try:
        for event in assistant.respond(conv.id, text, cancel, attachments=args.attach,
                                       ask_cloud=args.cloud):
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
                if not args.json:
                    print()  # the local answer ends before anything about the cloud
            elif isinstance(event, CloudQueued):
                queued = event.record
                result["outbox"] = queued.to_dict()
                if not args.cloud:
                    then = (f"awaits your approval: hearth outbox approve {queued.id}"
                            if queued.status == "awaiting_approval"
                            else "is queued: hearth outbox send")
                    print(f"[Prepared for the cloud: outbox #{queued.id} {then}]", file=sys.stderr)
        if queued is not None and args.cloud and code == 0:
            interactive = sys.stdin.isatty() and args.text != "-"
            cloud_code, result["outbox"] = cloud_cli.ask_round_trip(
                cloud, queued, yes=args.yes, interactive=interactive, as_json=args.json)
            code = max(code, cloud_code)
        elif args.cloud and code == 0:
            print("[Nothing was prepared for the cloud.]", file=sys.stderr)
    except MessageRejected as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return 2
    finally:
        assistant.close()
        cloud.close()
        db.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
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


# --- hearth bench: the planning benchmark ------------------------------------------------------

def _add_bench_parser(sub) -> None:
    bench = sub.add_parser("bench", help="the planning benchmark (Q2A task plans, TaskBench metrics)")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)

    def data_args(p, default_split: str = "test"):
        group = p.add_mutually_exclusive_group()
        group.add_argument("--split", choices=("train", "dev", "test"), default=None,
                           help=f"a split of the packaged Q2A data (default {default_split})")
        group.add_argument("--data", metavar="PATH",
                           help="any JSON Lines file of Q2A records instead of a split")

    plan = bench_sub.add_parser("plan", help="run the planner over a split and write a report")
    data_args(plan)
    plan.add_argument("--model", help="model id (see `hearth models`; default: the app's)")
    plan.add_argument("--adapter", metavar="PATH", help="a LoRA adapter (GGUF) for the model")
    plan.add_argument("--endpoint", metavar="URL",
                      help="an OpenAI-compatible endpoint as the model (e.g. http://127.0.0.1:8000/v1)")
    plan.add_argument("--api-model", metavar="NAME", help="the model name the endpoint expects")
    plan.add_argument("--api-key-env", metavar="VAR",
                      help="environment variable holding the endpoint's API key (never printed)")
    plan.add_argument("--timeout", type=float, default=120.0, help="endpoint timeout, seconds")
    plan.add_argument("--examples", type=int, metavar="N",
                      help="few-shot examples from the train split (default: the planner's; 0 = zero-shot)")
    plan.add_argument("--decoding", choices=("guided", "grammar", "free"),
                      help="default: guided for local models, free for endpoints")
    plan.add_argument("--limit", type=int, metavar="N", help="only the first N records")
    plan.add_argument("--no-gate", action="store_true",
                      help="plan every record with all six experts (the planner without the "
                           "app's decisions whether to plan and whether to offer memory-save)")
    plan.add_argument("--label", help="the run's name in reports (default: model [+ adapter])")
    plan.add_argument("--out", metavar="DIR", help="run folder (default: "
                      "<data folder>/benchmarks/plan-<UTC time>-<label>); an interrupted run "
                      "resumes when given the same folder")
    plan.add_argument("--no-bertscore", action="store_true", help="skip BERTScore (no torch)")
    plan.add_argument("--no-progress", action="store_true", help="no progress bar")

    answer = bench_sub.add_parser("answer", help="the answer benchmark: the summarizer answers "
                                  "from the experts' results (resources/benchmark/ANSWERS.md)")
    answer.add_argument("--split", choices=("dev", "test"), default="test")
    answer.add_argument("--model", help="model id (default: the app's)")
    answer.add_argument("--adapter", metavar="PATH", help="a LoRA adapter (GGUF) for the model")
    answer.add_argument("--limit", type=int, metavar="N", help="only the first N records")
    answer.add_argument("--max-tokens", type=int, default=256, metavar="N",
                        help="longest answer (default 256)")
    answer.add_argument("--label", help="the run's name (default: model [+ adapter])")
    answer.add_argument("--out", metavar="DIR", help="run folder (default: <data folder>/"
                        "benchmarks/answer-<UTC time>-<label>); the same folder resumes a run")

    score = bench_sub.add_parser("score", help="score a predictions file made elsewhere")
    score.add_argument("predictions", help='JSON Lines: {"id", "raw"} per record '
                       '("output"/"prediction" text or a "plan" object also work)')
    data_args(score)
    score.add_argument("--label", help="the model's name in the report")
    score.add_argument("--out", metavar="DIR", help="where summary.json and report.md go")
    score.add_argument("--no-bertscore", action="store_true")

    report = bench_sub.add_parser("report", help="rewrite a run's report, or compare runs")
    report.add_argument("runs", nargs="+", metavar="RUN_DIR")
    report.add_argument("--out", metavar="DIR", help="comparison folder (several runs)")

    matrix = bench_sub.add_parser("matrix", help="rows = model/adapter, columns = scenario, "
                                  "cells = node F1 / value F1")
    matrix.add_argument("runs", nargs="+", metavar="RUN_DIR")
    matrix.add_argument("--out", metavar="DIR", help="also write matrix.md and matrix.png here")


def cmd_bench(args) -> int:
    from agent.llm import ModelLoadError
    from agent.model_registry import ModelFileError
    from agent.planbench.runner import BenchmarkError

    try:
        if args.bench_command == "plan":
            return _bench_plan(args)
        if args.bench_command == "answer":
            return _bench_answer(args)
        if args.bench_command == "score":
            return _bench_score(args)
        if args.bench_command == "report":
            return _bench_report(args)
        return _bench_matrix(args)
    except (BenchmarkError, ModelFileError, ModelLoadError) as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return 1


def _bench_root():
    from memory.paths import user_dir

    return user_dir() / "benchmarks"


def _bench_plan(args) -> int:
    import time
    from pathlib import Path

    from agent.planbench import report, runner
    from agent.planner import Planner

    records, split = runner.load_records(args.split, args.data)
    if args.limit is not None:
        records = records[:max(0, args.limit)]
        if not records:
            raise runner.BenchmarkError("--limit leaves no records to run.")
    if args.endpoint:
        from agent.openai_llm import OpenAICompatLLM

        if not args.api_model:
            raise runner.BenchmarkError("--endpoint needs --api-model (the model name the "
                                        "endpoint serves).")
        if args.adapter:
            raise runner.BenchmarkError("--adapter applies to local models; an endpoint "
                                        "serves its own.")
        if args.decoding == "guided":
            raise runner.BenchmarkError("guided decoding needs a local model; use --decoding "
                                        "free (or grammar, for llama.cpp servers).")
        llm = OpenAICompatLLM.from_env(args.endpoint, args.api_model, args.api_key_env,
                                       timeout=args.timeout)
        model = args.api_model
    else:
        if args.api_model or args.api_key_env:
            raise runner.BenchmarkError("--api-model and --api-key-env go with --endpoint.")
        llm = _bench_llm(args)
        model = llm.name
    kwargs = {} if args.examples is None else {"n_examples": max(0, args.examples)}
    planner = Planner(llm, decoding=args.decoding, **kwargs)
    label = args.label or runner.make_label(model, args.adapter)
    if args.out:
        out = Path(args.out)
    else:
        out = _bench_root() / f"plan-{runner.timestamp()}-{runner.slug(label)}"
    config = {"label": label, "model": model,
              "adapter": str(Path(args.adapter).resolve()) if args.adapter else None,
              "endpoint": _public_url(args.endpoint) if args.endpoint else None, "split": split,
              "data": str(Path(args.data).resolve()) if args.data else None,
              "limit": args.limit}
    print(f"Planning {len(records)} records of {split} with {label} "
          f"({planner.decoding} decoding, {planner.n_examples} example(s)) → {out}",
          file=sys.stderr)
    started = time.perf_counter()
    summary = _run_resumable(
        lambda: runner.run(records, planner, out, config, bertscore=not args.no_bertscore,
                           gate=not args.no_gate, progress=not args.no_progress),
        llm, out, "predictions")
    if summary is None:
        return 130
    path = report.write_run_report(out)
    _print_summary(summary)
    print(f"Finished in {time.perf_counter() - started:.0f} s.")
    print(f"Report: {path}")
    return 0


def _bench_llm(args):
    """The local model a benchmark runs (--model, default the app's), with --adapter."""
    from pathlib import Path

    from agent.llama_cpp_llm import LlamaCppLLM
    from agent.model_registry import get_model
    from agent.planbench.runner import BenchmarkError
    from memory.settings import DEFAULT_MODEL, Settings

    spec = get_model(args.model or DEFAULT_MODEL)
    if args.adapter and not Path(args.adapter).is_file():
        raise BenchmarkError(f"No adapter file at {args.adapter}.")
    settings = Settings(model=spec.id)
    return LlamaCppLLM(spec.resolve(), name=spec.id, n_ctx=settings.n_ctx,
                       n_threads=settings.n_threads,
                       reinstall_hint=f"Reinstall it with: {spec.install_hint}",
                       lora_path=args.adapter, chat_template=spec.chat_template)


def _run_resumable(run, llm, out, what: str):
    """run()'s summary; None after Ctrl-C, having said how to go on from `out`. Closes llm."""
    try:
        return run()
    except KeyboardInterrupt:
        print(f"\nhearth: interrupted; {what} so far are in {out}. Run the same command "
              f"with --out {out} to go on.", file=sys.stderr)
        return None
    finally:
        llm.close()


def _bench_answer(args) -> int:
    from pathlib import Path

    from agent.answerbench import runner
    from agent.planbench.runner import BenchmarkError, make_label, slug, timestamp

    records = runner.load_records(args.split)
    if args.limit is not None:
        records = records[:max(0, args.limit)]
        if not records:
            raise BenchmarkError("--limit leaves no records to run.")
    llm = _bench_llm(args)
    label = args.label or make_label(llm.name, args.adapter)
    out = Path(args.out) if args.out else _bench_root() / f"answer-{timestamp()}-{slug(label)}"
    config = {"label": label, "model": llm.name, "split": args.split,
              "adapter": str(Path(args.adapter).resolve()) if args.adapter else None}
    print(f"Answering {len(records)} records of {args.split} with {label} → {out}",
          file=sys.stderr)
    summary = _run_resumable(
        lambda: runner.run(records, llm, out, config, max_tokens=args.max_tokens),
        llm, out, "answers")
    if summary is None:
        return 130
    m = summary["metrics"]["overall"]
    told = "–" if m["failures_told"] is None else f"{m['failures_told']:.2f}"
    print(f"fact recall {m['fact_recall']:.3f} ({m['facts_met']}/{m['facts']} facts)  "
          f"failures told {told} (of {m['n_failures']})  cite F1 {m['cite_f1']:.3f}  "
          f"invented numbers {m['invented_numbers']:.2f}  answer score {m['score']:.3f}")
    for name, s in summary["metrics"]["per_scenario"].items():
        if s["n"]:
            print(f"  {name:<12} n={s['n']:<4} fact recall {s['fact_recall']:.3f}  "
                  f"cite F1 {s['cite_f1']:.3f}")
    print(f"Answers: {out / runner.PREDICTIONS}")
    return 0


def _public_url(url: str) -> str:
    """The endpoint as saved in reports: no user:password@ and no query (keys hide there)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _print_summary(summary: dict) -> None:
    from agent.planbench.report import METRIC_NAMES, fmt, scenarios_of

    overall = summary["metrics"]["overall"]
    print("  ".join(f"{METRIC_NAMES[m]} {fmt(overall.get(m))}" for m in METRIC_NAMES))
    per = summary["metrics"]["per_scenario"]
    for name in scenarios_of([summary]):
        m = per[name]
        print(f"  {name:<12} n={m['n']:<4} node F1 {fmt(m['node_f1'])}  value F1 "
              f"{fmt(m['arg_value_f1'])}  validity {fmt(m['validity'])}")


def _bench_score(args) -> int:
    from pathlib import Path

    from agent.planbench import report, runner

    records, split = runner.load_records(args.split, args.data)
    label = args.label or Path(args.predictions).stem
    out = Path(args.out) if args.out else (
        _bench_root() / f"score-{runner.timestamp()}-{runner.slug(label)}")
    config = {"label": label, "model": label, "adapter": None, "endpoint": None,
              "split": split, "data": str(Path(args.data).resolve()) if args.data else None}
    summary = runner.score_file(args.predictions, records, out, config,
                                bertscore=not args.no_bertscore)
    path = report.write_run_report(out)
    _print_summary(summary)
    print(f"Report: {path}")
    return 0


def _bench_report(args) -> int:
    from pathlib import Path

    from agent.planbench import report, runner

    if len(args.runs) == 1 and not args.out:
        path = report.write_run_report(args.runs[0])
    else:
        out = Path(args.out) if args.out else _bench_root() / f"compare-{runner.timestamp()}"
        path = report.write_comparison(args.runs, out)
    print(f"Report: {path}")
    return 0


def _bench_matrix(args) -> int:
    from agent.planbench import report

    runs = [report.load_run(d) for d in args.runs]
    print(report.matrix_markdown(runs))
    if args.out:
        md, png = report.write_matrix(args.runs, args.out)
        print(f"Matrix: {md} ({png.name} beside it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
