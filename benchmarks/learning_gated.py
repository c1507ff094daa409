"""The personal user's nights as the app runs them, gate included: which nights does the gate keep?

learning_personal.py's `night K` trains night K on batch K alone and keeps every adapter; the
scores there showed nights that fall back after their best one (0.5B, test user: node F1 0.602
→ 0.685 → 0.778 → 0.654). The app does not keep every night: this script asks what the app
itself would have ended up with. Each night, the labels of batch K are stored in a scratch
database as the cloud path stores them (training_examples rows, role planner, consented), and
`sync.learning.app_night.run` — the code "Learn now" starts — does the rest: all usable labels
minus the held-out fifth, training from the active adapter, the gate on the held-out labels and
the Q2A dev sample, kept or rejected. After each night the *active* adapter (what the chat would
plan with) is scored on the user's 46 next requests, as learning_personal scores its nights
(shipped pool, guided, 1-shot) — and, with --own-pool, also with the app's own-first pool.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/learning_gated.py run --lr 1e-3
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/learning_gated.py score-night K
    .venv/bin/python benchmarks/learning_gated.py report

`score-night K` scores night K's own adapter on the same requests, for a night the gate
rejected: was the rejection right?

Results: docs/learning/personal/<student>/gated-lr<lr>/night-K.json (the history record with the
gate's scores and decision, plus `future`: the active model's scores on the next requests).
A night already recorded there is not run again; the scratch home keeps the database and the
adapters between invocations.
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
ANSWERS = False  # --answers: the teacher's answers are labels too (learning_roles.py teach)


def run_dir(lr: float) -> Path:
    return P.OUT / STUDENT / f"gated-lr{lr:g}{'-answers' if ANSWERS else ''}"


def store_answers(db, records: list[dict]) -> None:
    """The teacher's answers to these requests, as the cloud path stores an answer: the
    anonymized payload's user turn and the reply, role summarizer, with training consent."""
    import learning_roles as R
    from sync.labels import TrainingExamples

    teacher = R.read_teacher()
    table = TrainingExamples(db)
    for r in records:
        if r["id"] in teacher:
            row = teacher[r["id"]]
            table.add("summarizer", row["instruction"], row["reply"], "cloud:teacher", True)


def store_labels(db, records: list[dict]) -> None:
    """The records as the cloud path stores an approved plan: the planner's user turn and the
    plan's JSON, role planner, with training consent."""
    from sync.labels import TrainingExamples
    from sync.learning.source import request_turn

    table = TrainingExamples(db)
    for r in records:
        table.add("planner", request_turn(r["instruction"], r.get("attachments", [])),
                  json.dumps(r["plan"], ensure_ascii=False), source="cloud", consent=True)


def cmd_run(args) -> int:
    from agent.model_registry import get_model
    from memory.db import Database
    from memory.settings import Settings
    from sync.labels import TrainingExamples
    from sync.learning import app_night, nightly
    from sync.learning.source import example_pool

    out = run_dir(args.lr)
    out.mkdir(parents=True, exist_ok=True)
    T.use_scratch_home(Path(f"/tmp/hearth-gated-{STUDENT}-{P.SPLIT}-lr{args.lr:g}"
                            f"{'-answers' if ANSWERS else ''}"))
    db = Database()
    try:
        settings = Settings(model=STUDENT)
        model_path = get_model(STUDENT).resolve()
        stored = len(TrainingExamples(db).list())
        for k in range(1, args.nights + 1):
            path = out / f"night-{k}.json"
            want = sum(len(P.batch(j)) for j in range(1, k + 1))
            if stored < want:  # this night's labels arrive (once, even if the night reruns)
                store_labels(db, P.batch(k))
                if ANSWERS:
                    store_answers(db, P.batch(k))
                stored = want
            if path.is_file():
                continue
            before = nightly.active_roles_for(model_path)
            t0 = time.perf_counter()
            events: list[dict] = []
            results = app_night.run(db, settings, emit=lambda e: events.append(e) if e["event"] == "stage" else None,
                                    config_overrides={"lr": args.lr, "nice": 0})
            # the planner's night is the record (as before nights per role); the answers'
            # night, with --answers, rides along
            by_role = {r.role or "planner": r.to_dict() for r in results}
            record = by_role.get("planner") or results[0].to_dict()
            if "summarizer" in by_role:
                record["answers_night"] = by_role["summarizer"]
            record.update(labels_stored=stored, wall_seconds=round(time.perf_counter() - t0, 1),
                          stages=[e["message"] for e in events])
            roles = nightly.active_roles_for(model_path)
            active = roles["planner"]  # what the chat plans with
            for r in results:
                print(f"night {k} ({r.role}): {r.status} kept={r.kept} — {r.reason}", flush=True)
            previous = out / f"night-{k - 1}.json"
            earlier = json.loads(previous.read_text()) if k > 1 and previous.is_file() else None
            if earlier and active == before["planner"]:
                record["future"] = {**earlier["future"], "same_as_night": k - 1}
            else:
                record["future"] = P.timed_eval(active, out / f"night-{k}-future",
                                                 f"{STUDENT} gated night {k} (planner's adapter)")
            record["active_adapter"] = str(active) if active else None
            if ANSWERS:  # and what it answers with
                import learning_roles as R

                record["active_roles"] = {r: str(a) if a else None for r, a in roles.items()}
                if earlier and roles["summarizer"] == before["summarizer"]:
                    record["future_answers"] = {**earlier["future_answers"], "same_as_night": k - 1}
                else:
                    record["future_answers"] = R.answer_eval(
                        roles["summarizer"], out / f"night-{k}-answers",
                        f"{STUDENT} gated night {k} (summarizer's adapter)")
            if args.own_pool:
                record["future_own_pool"] = P.timed_eval(
                    active, out / f"night-{k}-future-own", f"{STUDENT} gated night {k} + own pool",
                    examples=example_pool(db))
            path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
            print(json.dumps(record["future"]["scores"]), flush=True)
    finally:
        db.close()
    return 0


def cmd_score_night(args) -> int:
    """Night K's own adapter (kept or not) on the next requests: was a rejection right?"""
    path = run_dir(args.lr) / f"night-{args.k}.json"
    record = json.loads(path.read_text())
    record["future_own_adapter"] = P.timed_eval(
        Path(record["adapter"]), run_dir(args.lr) / f"night-{args.k}-adapter",
        f"{STUDENT} gated night {args.k}'s own adapter ({record['gate']['decision']})")
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(record["future_own_adapter"]["scores"]), flush=True)
    return 0


def cmd_report(args) -> int:
    teacher = P.teacher_scores()
    base = json.loads((P.OUT / STUDENT / "base" / "eval.json").read_text())["scores"]
    ungated = {k: json.loads((P.OUT / STUDENT / f"night-{k}" / "night.json").read_text())
               ["evaluation"]["scores"] for k in range(1, P.NIGHTS + 1)
               if (P.OUT / STUDENT / f"night-{k}" / "night.json").is_file()}
    lines = ["| run | night | labels | gate: user before → after | general before → after | "
             "decision | active model's node F1 on the 46 (% of teacher) | ungated night's |",
             "|---|---|---|---|---|---|---|---|"]
    for d in sorted(P.OUT.glob(f"{STUDENT}/gated-lr*")):
        for path in sorted(d.glob("night-*.json")):
            r = json.loads(path.read_text())
            k = int(path.stem.split("-")[1])
            g = r.get("gate") or {}
            b, a = g.get("before", {}), g.get("after", {})

            def pair(name):
                if name not in b or name not in a:
                    return "–"
                return f"{b[name]['score']:.2f} → {a[name]['score']:.2f} (n={a[name]['n']})"
            node = r["future"]["scores"]["node_f1"]
            ug = ungated.get(k, {}).get("node_f1")
            if "future_own_adapter" in r and r["adapter"] != r.get("active_adapter"):
                own = r["future_own_adapter"]["scores"]["node_f1"]
                g = {**g, "decision": f"{g.get('decision')} (its adapter: {own:.3f})"}
            lines.append(f"| {d.name} | {k} | {r['labels_stored']} | {pair('user')} | {pair('general')} | "
                         f"{g.get('decision', r['status'])} | {node:.3f} ({100 * node / teacher['node_f1']:.0f} %) | "
                         f"{'–' if ug is None else f'{ug:.3f}'} |")
    print(f"base node F1 {base['node_f1']:.3f}, teacher {teacher['node_f1']:.3f}")
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--nights", type=int, default=P.NIGHTS)
    r.add_argument("--own-pool", action="store_true",
                   help="also score the active model with the app's own-first pool")
    r.add_argument("--answers", action="store_true",
                   help="the teacher's answers are labels too; each role's adapter is scored")
    r.set_defaults(func=cmd_run)
    sn = sub.add_parser("score-night", help="night K's own adapter on the next requests")
    sn.add_argument("k", type=int)
    sn.add_argument("--lr", type=float, default=1e-3)
    sn.set_defaults(func=cmd_score_night)
    sub.add_parser("report").set_defaults(func=cmd_report)
    args = p.parse_args(argv)
    T.STUDENT_ID = STUDENT
    global ANSWERS
    ANSWERS = getattr(args, "answers", False)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
