"""Per-role adapters (α-UMi's global-then-local fine-tuning) against one adapter, measured.

The personal user of learning_personal.py (the Q2A test split's templates; past requests are
labelled, the 46 next ones are scored) now has two kinds of label: the teacher's plans for the
past requests (as before) and the teacher's *answers* to them, written from the experts'
results (the answer benchmark's synthetic results, resources/benchmark/answers_test.jsonl).
The question is the issue's: does an adapter per role pay, and does one adapter for all roles
hurt the role it was not trained for?

    teach        the teacher (qwen2.5-coder-1.5b behind llama-cpp-python's OpenAI-compatible
                 server on 127.0.0.1) answers every past and next request through the app's
                 cloud path: sync.payload.build_payload(kind="answer") with the real
                 anonymizer, sync.cloud.CloudClient, the reply restored with the mapping.
                 Stored as the app stores it (instruction_of(payload), the anonymized reply).
    nights       four adapters on the student, the app's night settings (lean, lr 1e-3, 2
                 epochs), no gate, all past labels:
                   plan-only   plans (+ general), from the base: what the app's night is today
                   global      plans + answers (+ general), from the base (α-UMi's global step)
                   planner     plans (+ general), from global (the local step, planner role)
                   summarizer  answers (+ general), from global (the local step, summarizer)
                   answers-only  answers (+ general), from the base (a summarizer adapter
                               without the global step)
    eval         each adapter in the role(s) it would serve, on the 46 next requests: the
                 planning benchmark (guided, 1-shot, shipped pool) and the answer benchmark
                 (the app's summarizer prompt, greedy); the base model and the teacher too.
    report       the table (docs/learning.md, "Per-role adapters").

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/learning_roles.py [--split dev] teach|nights|eval|report

--split dev: a second user, made the same way from the dev split's templates (learning_personal
--split dev: 38 labelled past requests, 31 next ones).

Everything lands in docs/learning/roles/; each step skips what is already there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks")); sys.path.insert(0, str(ROOT))
import learning_personal as P  # noqa: E402
import learning_thesis as T  # noqa: E402

STUDENT = "qwen2.5-coder-0.5b"
TEACHER = "qwen2.5-coder-1.5b"
OUT = ROOT / "docs" / "learning" / "roles"
SCRATCH = Path("/tmp/hearth-roles")
LR = 1e-3
NIGHTS = {  # name: (plans?, answers?, starts from)
    "plan-only": (True, False, None),
    "global": (True, True, None),
    "planner": (True, False, "global"),
    "summarizer": (False, True, "global"),
    "answers-only": (False, True, None),
}
# which adapter serves which role, per configuration
CONFIGS = {
    "base": {"planner": None, "summarizer": None},
    "plan-only (the app today)": {"planner": "plan-only", "summarizer": "plan-only"},
    "plan-only, planner role only": {"planner": "plan-only", "summarizer": None},
    "global": {"planner": "global", "summarizer": "global"},
    "per-role (global → local)": {"planner": "planner", "summarizer": "summarizer"},
    "per-role (each from the base)": {"planner": "plan-only", "summarizer": "answers-only"},
}


def answer_records(ids) -> list[dict]:
    from agent.answerbench.runner import load_records

    return load_records(P.SPLIT, ids=[r["id"] for r in ids])


def past_future() -> tuple[list[dict], list[dict]]:
    """The answer benchmark's records of the personal user's past and next requests."""
    past, future = P.split()
    return answer_records(past), answer_records(future)


# --- teach ------------------------------------------------------------------------------------

def teacher_path() -> Path:
    return OUT / "teacher-answers.jsonl"


def read_teacher() -> dict[str, dict]:
    from agent.planbench.runner import read_predictions

    return {r["id"]: r for r in read_predictions(teacher_path())}


def cmd_teach(args) -> int:
    from agent.answerbench.runner import prompt_for
    from agent.model_registry import get_model
    from sync.anonymizer import Anonymizer, restore
    from sync.cloud import CloudClient
    from sync.local_server import serve
    from sync.payload import build_payload
    from sync.service import instruction_of

    OUT.mkdir(parents=True, exist_ok=True)
    past, future = past_future()
    done = read_teacher()
    todo = [r for r in past + future if r["id"] not in done]
    if not todo:
        return 0
    anonymizer = Anonymizer()
    with serve(get_model(TEACHER).resolve(), TEACHER, OUT / "teacher-server.log") as server:
        client = CloudClient(server.base_url, server.model, None, timeout=600)
        with open(teacher_path(), "a", encoding="utf-8") as f:
            for i, rec in enumerate(todo, 1):
                tasks, _ = prompt_for(rec)
                built = build_payload(kind="answer", instruction=rec["instruction"],
                                      results=tasks, files=rec.get("attachments", []),
                                      endpoint=server.base_url, model=server.model,
                                      anonymizer=anonymizer)
                t0 = time.perf_counter()
                reply = client.complete(built.payload.chat_messages())
                row = {"id": rec["id"], "past": rec in past,
                       "instruction": instruction_of(built.payload.to_dict()),
                       "reply": reply, "restored": restore(reply, built.mapping),
                       "seconds": round(time.perf_counter() - t0, 1),
                       "load_average": T.load_average()}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                print(f"[{i}/{len(todo)}] {rec['id']} {row['seconds']} s", file=sys.stderr)
        client.close()
    return 0


def teacher_score() -> dict:
    """The teacher's restored replies to the next requests, scored as the student's answers."""
    from agent.answerbench import metrics
    from agent.answerbench.runner import prompt_for, score

    teacher = read_teacher()
    scores = []
    for rec in past_future()[1]:
        tasks, messages = prompt_for(rec)
        scores.append(score(rec, teacher[rec["id"]]["restored"].strip(), tasks, messages))
    overall = metrics.aggregate(scores)
    return {**overall, "score": metrics.answer_score(overall)}


# --- nights -----------------------------------------------------------------------------------

def labels_db():
    """A scratch database holding the past labels as the app stores them: the teacher's plans
    (planner rows) and answers (summarizer rows), consented."""
    from memory.db import Database
    from sync.labels import TrainingExamples
    from sync.learning.source import request_turn

    T.use_scratch_home(SCRATCH)
    db = Database()
    table = TrainingExamples(db)
    if not table.list():
        for r in P.labels():
            table.add("planner", request_turn(r["instruction"], r.get("attachments", [])),
                      json.dumps(r["plan"], ensure_ascii=False), "cloud:teacher", True)
        teacher = read_teacher()
        for rec in past_future()[0]:
            row = teacher[rec["id"]]
            table.add("summarizer", row["instruction"], row["reply"], "cloud:teacher", True)
    return db


def night_path(name: str) -> Path:
    return OUT / f"night-{name}.json"


def adapter_of(name: str) -> Path | None:
    if name is None:
        return None
    return Path(json.loads(night_path(name).read_text())["adapter"])


def cmd_nights(args) -> int:
    from sync.learning import source

    db = labels_db()
    try:
        plans, _ = source.training_records(db)
        answers, _ = source.answer_records(db)
    finally:
        db.close()
    T.STUDENT_ID = STUDENT
    for name, (use_plans, use_answers, start) in NIGHTS.items():
        if night_path(name).is_file() or (args.only and name not in args.only):
            continue
        record = T.train_night(plans if use_plans else [], f"roles-{name}", replay_ratio=0.0,
                               overrides={"lr": LR, "nice": 0},
                               init_adapter=adapter_of(start),
                               answers=answers if use_answers else [])
        night_path(name).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        print(f"{name}: {record['n_examples']} examples {record['by_role']}, "
              f"{len(record['losses'])} steps, {record['wall_seconds']}", file=sys.stderr)
    return 0


# --- eval -------------------------------------------------------------------------------------

def answer_eval(adapter: Path | None, out_dir: Path, label: str) -> dict:
    from agent.answerbench import runner

    T.STUDENT_ID = STUDENT
    llm = T.student_llm(adapter)
    before, t0 = T.load_average(), time.perf_counter()
    try:
        summary = runner.run(past_future()[1], llm, out_dir,
                             {"label": label, "model": STUDENT, "split": P.SPLIT,
                              "adapter": str(adapter) if adapter else None}, progress=False)
    finally:
        llm.close()
    return {"wall_seconds": round(time.perf_counter() - t0, 1),
            "load_average": {"before": before, "after": T.load_average()},
            "scores": summary["metrics"]["overall"]}


def base_plan_dir() -> Path:
    """learning_personal's base run of this user's next requests."""
    user = P.OUT / STUDENT
    return (user if P.SPLIT == "test" else user / P.SPLIT) / "base"


def evals_path() -> Path:
    return OUT / "evals.json"


def cmd_eval(args) -> int:
    T.STUDENT_ID = STUDENT
    evals = json.loads(evals_path().read_text()) if evals_path().is_file() else {}
    adapters = {None, *(a for c in CONFIGS.values() for a in c.values())}
    for name in sorted(adapters, key=lambda a: (a is not None, a or "")):
        tag = name or "base"
        if args.only and tag not in args.only:
            continue
        entry = evals.setdefault(tag, {})
        roles = {role for c in CONFIGS.values() for role, a in c.items() if a == name}
        if "planner" in roles and "plan" not in entry:
            if name is None:  # learning_personal's base run: the same records and settings
                entry["plan"] = json.loads((base_plan_dir() / "eval.json").read_text())
            else:
                entry["plan"] = P.timed_eval(adapter_of(name), OUT / f"plan-{tag}",
                                             f"{STUDENT} + {tag} adapter (planner)")
        if "summarizer" in roles and "answer" not in entry:
            entry["answer"] = answer_eval(adapter_of(name), OUT / f"answer-{tag}",
                                          f"{STUDENT} + {tag} adapter (summarizer)")
        evals_path().write_text(json.dumps(evals, indent=2, ensure_ascii=False) + "\n")
        print(tag, {k: v.get("scores") for k, v in entry.items()}, file=sys.stderr)
    return 0


# --- report -----------------------------------------------------------------------------------

def per_record(tag: str) -> tuple[dict[str, float], dict[str, int]]:
    """({id: plan score}, {id: facts met}) of one adapter's runs on the next requests."""
    from agent.planbench.runner import match_predictions, read_predictions, score_records

    plan_dir = base_plan_dir() if tag == "base" else OUT / f"plan-{tag}"
    plans = {}
    if (plan_dir / "predictions.jsonl").is_file():
        future = P.split()[1]
        preds = match_predictions(future, read_predictions(plan_dir / "predictions.jsonl"))
        rows = score_records(future, preds, bertscore=False, per_sample=True)["samples"]
        plans = {r["id"]: (row["node_f1"] + row["arg_value_f1"]) / 2
                 for r, row in zip(future, rows)}
    answers = {}
    if (OUT / f"answer-{tag}" / "answers.jsonl").is_file():
        answers = {a["id"]: a["score"]["facts_met"]
                   for a in read_predictions(OUT / f"answer-{tag}" / "answers.jsonl")}
    return plans, answers


def paired(a: dict, b: dict) -> str:
    """How many records b does better / worse than a on."""
    ids = a.keys() & b.keys()
    return (f"{sum(b[i] > a[i] for i in ids)} better, {sum(b[i] < a[i] for i in ids)} worse "
            f"of {len(ids)}")


def cmd_report(args) -> int:
    evals = json.loads(evals_path().read_text())
    plan_teacher, answer_teacher = P.teacher_scores(), teacher_score()
    head = ("| configuration | planner's adapter | summarizer's adapter | node F1 | edge F1 "
            "| arg value F1 | validity | plan score | fact recall | failures told | cite F1 "
            "| invented numbers | answer score |")
    lines = [head, "|" + "---|" * 13]

    def row(label, p, a, pa, sa):
        plan_score = (p["node_f1"] + p["arg_value_f1"]) / 2
        told = "–" if a["failures_told"] is None else f"{a['failures_told']:.2f}"
        lines.append(f"| {label} | {pa} | {sa} | {p['node_f1']:.3f} | {p['edge_f1']:.3f} | "
                     f"{p['arg_value_f1']:.3f} | {p['validity']:.2f} | {plan_score:.3f} | "
                     f"{a['fact_recall']:.3f} | {told} | {a['cite_f1']:.3f} | "
                     f"{a['invented_numbers']:.2f} | {a['score']:.3f} |")

    for label, roles in CONFIGS.items():
        p = evals[roles["planner"] or "base"]["plan"]["scores"]
        a = evals[roles["summarizer"] or "base"]["answer"]["scores"]
        row(label, p, a, roles["planner"] or "–", roles["summarizer"] or "–")
    row(f"teacher ({TEACHER})", plan_teacher, answer_teacher, "", "")
    records = {tag: per_record(tag) for tag in ("base", *NIGHTS)}
    lines += ["", "Record by record (plan score; facts met):", ""]
    for a, b in (("base", "plan-only"), ("plan-only", "global"), ("global", "planner"),
                 ("plan-only", "planner"), ("global", "summarizer"), ("base", "summarizer"),
                 ("answers-only", "summarizer"), ("base", "answers-only")):
        plans_a, answers_a = records[a]
        plans_b, answers_b = records[b]
        parts = []
        if plans_a and plans_b:
            parts.append(f"plans {paired(plans_a, plans_b)}")
        if answers_a and answers_b:
            parts.append(f"answers {paired(answers_a, answers_b)}")
        lines.append(f"- {b} against {a}: {'; '.join(parts)}")
    print("\n".join(lines))
    (OUT / "report.md").write_text("\n".join(lines) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("teach").set_defaults(func=cmd_teach)
    n = sub.add_parser("nights")
    n.add_argument("--only", nargs="*")
    n.set_defaults(func=cmd_nights)
    e = sub.add_parser("eval")
    e.add_argument("--only", nargs="*")
    e.set_defaults(func=cmd_eval)
    sub.add_parser("report").set_defaults(func=cmd_report)
    p.add_argument("--split", choices=("test", "dev"), default="test",
                   help="the user: the test split's templates (default) or the dev split's")
    args = p.parse_args(argv)
    global OUT, SCRATCH
    if args.split != "test":  # a second user, as learning_personal.py --split dev
        P.SPLIT = args.split
        OUT, SCRATCH = OUT / args.split, SCRATCH.with_name(f"{SCRATCH.name}-{args.split}")
    from app import offline

    offline.apply()
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
