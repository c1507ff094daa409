"""The thesis on *this user's* tasks: a user whose kinds of request are new to the app (the Q2A
test split's templates, none of which is in the train split the planner's examples come from)
gets the teacher's plans for the requests they made so far, and we score the student on the
requests they make next: the same kinds of request in other words.

Why a second simulation (docs/learning.md, "The thesis on this user's tasks"): the issue's
simulation draws the user's requests from the train split and scores the test split, whose 24
templates share none with the train split's; the planner's example pool already holds the
train split's own reference plans, so teacher labels for train requests can only teach what
the pool already shows. Here the user's past and future requests share their templates.

    past / future   per test template (the records the app plans), in id order: even → past,
                    odd → future. The past ones are split into NIGHTS batches (seed 8).
    labels          the teacher's plans for the past requests: qwen2.5-coder-1.5b's guided
                    1-shot predictions in docs/benchmark/runs/qwen1.5b-1shot (the same model
                    as the thesis's teacher; in-process, not through the server; invalid ones
                    are dropped by the night's own check).
    base            the student (smollm2-135m unless --student, 1-shot, guided, the app's gate) on the future.
    pool K [--own]  the student with the labels of nights 1..K added to its example pool (the
                    planner picks its one example from the train split + those): no training.
                    --own marks them as the user's own, as the app does (OWN_BONUS).
    night K         a LoRA night on batch K (+ replay), starting from night K-1's adapter
                    (nightly's accumulate), scored on the future with the shipped pool
                    (night-K) and with pool K (night-K-pool).
    night-pool K    night K's adapter scored with pool K, own first (as the app plans).
    report          table and plot, against the teacher's scores on the same future records
                    (its raw outputs, scored as the student's are).
    as-run RUN...   the runs and the teacher scored on the plans the app would run: the raw
                    outputs after the planner's repair(), for both.

    --split dev     the same on the dev split's templates (none of them in train or test), with
                    the teacher's predictions from docs/benchmark/runs/qwen1.5b-1shot-dev: a
                    second user, to choose a setting on before trying it on the test split's.
    --examples N    the student with N examples in its prompt instead of the app's one.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/learning_personal.py base|pool K|night K|report
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks")); sys.path.insert(0, str(ROOT))
import learning_thesis as T  # noqa: E402

OUT = ROOT / "docs" / "learning" / "personal"
TEACHER_RUNS = {"test": T.RUNS / "qwen1.5b-1shot", "dev": T.RUNS / "qwen1.5b-1shot-dev"}
NIGHTS = 3
SCRATCH = Path("/tmp/hearth-personal")
SPLIT = "test"
SHOTS = 1


def split() -> tuple[list[dict], list[dict]]:
    """(past, future): the test records the app would plan, alternating within each template."""
    from agent.planbench.runner import app_plans_record, load_records

    records, _ = load_records(SPLIT)
    by_template = defaultdict(list)
    for r in records:
        if app_plans_record(r):
            by_template[r["template"]].append(r)
    past, future = [], []
    for group in by_template.values():
        for i, r in enumerate(sorted(group, key=lambda r: r["id"])):
            (past if i % 2 == 0 else future).append(r)
    return past, future


def teacher_plans() -> dict[str, dict]:
    from agent.planbench.runner import read_predictions

    return {r["id"]: r for r in read_predictions(TEACHER_RUNS[SPLIT] / "predictions.jsonl")}


def labels() -> list[dict]:
    """The past requests with the teacher's plan in place of the reference, night order."""
    teacher = teacher_plans()
    out = []
    for r in split()[0]:
        t = teacher[r["id"]]
        if t["error"] is None and t["plan"] and t["plan"].get("tasks"):
            out.append({**{k: r[k] for k in ("id", "scenario", "instruction", "attachments")},
                        "plan": t["plan"]})
    random.Random(T.SEED).shuffle(out)
    return out


def batch(k: int) -> list[dict]:
    every = labels()
    size = -(-len(every) // NIGHTS)
    return every[(k - 1) * size: k * size]


def pool(k: int, own: bool = False) -> list[dict]:
    """The shipped train split + the labels of nights 1..k; `own`: marked as the user's own
    (a `source`, as source.example_pool's are), which pick_examples prefers by OWN_BONUS."""
    from agent.planner import train_examples

    mark = {"source": "teacher"} if own else {}
    return [*train_examples(), *[{**l, **mark} for j in range(1, k + 1) for l in batch(j)]]


def timed_eval(adapter, out_dir: Path, label: str, examples=None) -> dict:
    """The student on the future requests (learning_thesis.timed_evaluate)."""
    return T.timed_evaluate(adapter, split()[1], out_dir, label=label, examples=examples,
                            split=SPLIT, n_examples=SHOTS)[1]


def shots() -> str:
    """The run folder's suffix for a prompt of other than the app's one example."""
    return "" if SHOTS == 1 else f"-{SHOTS}shot"


def cmd_base(args) -> int:
    d = OUT / f"base{shots()}"
    result = timed_eval(None, d, f"{T.STUDENT_ID}, the user's future requests")
    (d / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


def cmd_pool(args) -> int:
    d = OUT / f"pool-{args.k}{'-own' if args.own else ''}{shots()}"
    result = timed_eval(None, d, f"{T.STUDENT_ID} + pool {args.k}{' (own first)' if args.own else ''}",
                        examples=pool(args.k, args.own))
    result["n_labels"] = sum(len(batch(j)) for j in range(1, args.k + 1))
    (d / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


def cmd_night(args) -> int:
    from sync.learning import nightly

    T.use_scratch_home(SCRATCH)
    k = args.k
    d = OUT / f"night-{k}"
    d.mkdir(parents=True, exist_ok=True)
    previous = None
    if k > 1:
        previous = Path(json.loads((OUT / f"night-{k - 1}" / "night.json").read_text())["adapter"])
    overrides = json.loads(args.overrides) if args.overrides else {}
    trained = T.train_night(batch(k), f"personal-{k}", replay_ratio=args.replay,
                            overrides=overrides, init_adapter=previous)
    trained.update(n_labels=len(batch(k)), started_from=str(previous) if previous else None)
    (d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
    print(json.dumps({x: trained[x] for x in ("n_examples", "n_sequences", "wall_seconds", "losses")}),
          flush=True)
    adapter = Path(trained["adapter"])
    trained["evaluation"] = timed_eval(adapter, d / "eval", f"{T.STUDENT_ID} + personal night {k}")
    (d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
    print(json.dumps(trained["evaluation"]), flush=True)
    if args.with_pool:
        trained["evaluation_pool"] = timed_eval(adapter, d / "eval-pool",
                                                f"{T.STUDENT_ID} + personal night {k} + pool {k}",
                                                examples=pool(k))
        (d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
        print(json.dumps(trained["evaluation_pool"]), flush=True)
    return 0


def cmd_night_pool(args) -> int:
    """Night K's adapter scored with pool K again, the labels as the user's own (own first, as
    the app plans with an adapter in use), without training again."""
    d = OUT / f"night-{args.k}"
    trained = json.loads((d / "night.json").read_text())
    trained["evaluation_pool_own"] = timed_eval(
        Path(trained["adapter"]), d / "eval-pool-own",
        f"{T.STUDENT_ID} + personal night {args.k} + pool {args.k} (own first)",
        examples=pool(args.k, own=True))
    (d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
    print(json.dumps(trained["evaluation_pool_own"]), flush=True)
    return 0


def teacher_scores() -> dict:
    """The teacher's raw outputs on the future records, scored as the student's are (the
    runner scores what the model wrote, before the planner's repairs)."""
    from agent.planbench.runner import score_records

    future = split()[1]
    teacher = teacher_plans()
    s = score_records(future, [teacher[r["id"]] for r in future], bertscore=False)
    return {k: round(s["overall"][k], 4) for k in T.METRICS} | {"n": s["overall"]["n"]}


def as_run(predictions: list[dict | None]) -> list[dict]:
    """The plans the app would run: each prediction's stored raw output parsed and repaired by
    the planner's repair() (the runner scores the raw text instead)."""
    from agent.plan import PlanError, parse_plan
    from agent.planner import repair

    out = []
    for pred in predictions:
        pred = pred or {}
        try:
            plan = parse_plan(pred.get("raw") or "")
            repair(plan)
            out.append(plan.to_dict())
        except PlanError:
            out.append(pred.get("plan") or {"steps": [], "tasks": []})
    return out


def cmd_as_run(args) -> int:
    """The student's runs and the teacher scored on the plans the app would run."""
    from agent.planbench.metrics import score
    from agent.planbench.runner import match_predictions, read_predictions

    future = split()[1]
    files = [r.get("attachments", []) for r in future]

    def scored(plans):
        s = score(future, plans, bertscore=False, attachments=files)["overall"]
        return {k: round(s[k], 4) for k in T.METRICS}

    teacher = scored(as_run(match_predictions(future, list(teacher_plans().values()))))
    out = {"teacher": teacher, "runs": {}}
    print(f"teacher: {teacher}")
    for name in args.runs:
        predictions = read_predictions(OUT / name / "predictions.jsonl")
        out["runs"][name] = s = scored(as_run(match_predictions(future, predictions)))
        pct = " / ".join(f"{100 * s[m] / teacher[m]:.0f}" for m in ("node_f1", "edge_f1", "arg_value_f1"))
        print(f"{name}: {s}  % of teacher {pct}")
    (OUT / "as-run.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


def cmd_report(args) -> int:
    teacher = teacher_scores()
    rows = []

    def add(name, labels_so_far, path, key="scores"):
        if path.is_file():
            data = json.loads(path.read_text())
            if key != "scores":  # a night still running has no evaluation yet
                data = data.get({"night": "evaluation", "pool": "evaluation_pool",
                                 "own": "evaluation_pool_own"}[key], {})
            if "scores" in data:
                rows.append({"row": name, "labels": labels_so_far, **data["scores"]})

    add("base (no labels)", 0, OUT / "base" / "eval.json")
    add("base, 2 examples", 0, OUT / "base-2shot" / "eval.json")
    so_far = 0
    for k in range(1, NIGHTS + 1):
        so_far += len(batch(k))
        add(f"pool {k} (no training)", so_far, OUT / f"pool-{k}" / "eval.json")
        add(f"pool {k}, own first (no training)", so_far, OUT / f"pool-{k}-own" / "eval.json")
        add(f"pool {k}, own first, 2 examples", so_far, OUT / f"pool-{k}-own-2shot" / "eval.json")
        add(f"night {k}", so_far, OUT / f"night-{k}" / "night.json", key="night")
        add(f"night {k} + pool {k}", so_far, OUT / f"night-{k}" / "night.json", key="pool")
        add(f"night {k} + pool {k}, own first", so_far, OUT / f"night-{k}" / "night.json", key="own")
    report = {"teacher": teacher, "rows": rows,
              "past": len(split()[0]), "future": len(split()[1]), "labels": len(labels())}
    (OUT / "personal.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| row | labels so far | node_f1 | edge_f1 | arg_value_f1 | validity | % of teacher (node / edge / arg value) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows + [{"row": "teacher (qwen1.5b-1shot)", "labels": "–", **teacher}]:
        pct = " / ".join(f"{100 * r[m] / teacher[m]:.0f}" for m in ("node_f1", "edge_f1", "arg_value_f1"))
        lines.append(f"| {r['row']} | {r['labels']} | {r['node_f1']:.3f} | {r['edge_f1']:.3f} | "
                     f"{r['arg_value_f1']:.3f} | {r['validity']:.3f} | {pct} |")
    print("\n".join(lines))
    plot(rows, teacher, OUT / "personal.png")
    return 0


def plot(rows: list[dict], teacher: dict, path: Path) -> None:
    """Node F1 by labels so far: the pool (own first), the nights, nights + pool, the teacher."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    one, two = "base (no labels)", "base, 2 examples"
    series = {"shown as examples, own first (the app)": ("pool {k}, own first (no training)", one, "tab:blue"),
              "shown as examples, own first, 2 in the prompt": ("pool {k}, own first, 2 examples", two, "tab:purple"),
              "shown as examples": ("pool {k} (no training)", one, "tab:cyan"),
              "LoRA nights": ("night {k}", one, "tab:orange"),
              "LoRA nights + shown as examples": ("night {k} + pool {k}", one, "tab:red")}
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name, (pattern, base_row, color) in series.items():
        pts = [(r["labels"], r["node_f1"]) for k in range(1, NIGHTS + 1) for r in rows
               if r["row"] == pattern.format(k=k)]
        base = next((r for r in rows if r["row"] == base_row), None)
        if base:
            pts = [(0, base["node_f1"]), *pts]
        if len(pts) > 1:
            ax.plot(*zip(*pts), "o-", color=color, label=name)
    ax.axhline(teacher["node_f1"], color="k", ls="--", lw=1, label="teacher")
    ax.axhline(0.9 * teacher["node_f1"], color="k", ls=":", lw=0.8, label="90 % of the teacher")
    ax.set_xlabel("teacher labels of this user's past requests")
    ax.set_ylabel(f"node F1, this user's next {teacher['n']} requests")
    ax.set_title(f"{T.STUDENT_ID}: the user's labels shown as examples vs trained in")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("base").set_defaults(func=cmd_base)
    po = sub.add_parser("pool"); po.add_argument("k", type=int)
    po.add_argument("--own", action="store_true", help="the labels as the user's own (OWN_BONUS)")
    po.set_defaults(func=cmd_pool)
    ni = sub.add_parser("night"); ni.add_argument("k", type=int)
    ni.add_argument("--replay", type=float, default=0.25)
    ni.add_argument("--overrides", help="TrainConfig overrides as JSON")
    ni.add_argument("--with-pool", action="store_true")
    ni.set_defaults(func=cmd_night)
    np_ = sub.add_parser("night-pool", help="night K's adapter with pool K, own first")
    np_.add_argument("k", type=int)
    np_.set_defaults(func=cmd_night_pool)
    sub.add_parser("report").set_defaults(func=cmd_report)
    ar = sub.add_parser("as-run", help="runs and teacher scored on the plans the app would run")
    ar.add_argument("runs", nargs="+", help="run folders under OUT, e.g. pool-2-own night-3/eval")
    ar.set_defaults(func=cmd_as_run)
    p.add_argument("--student", default=T.STUDENT_ID,
                   help="registry id of the student (results of another one go to OUT/<id>/)")
    p.add_argument("--split", choices=sorted(TEACHER_RUNS), default="test",
                   help="whose templates the user asks for (dev: results go to OUT/dev/)")
    p.add_argument("--examples", type=int, default=1, help="examples in the student's prompt")
    args = p.parse_args(argv)
    global OUT, SCRATCH, SPLIT, SHOTS
    SPLIT, SHOTS = args.split, args.examples
    if args.student != T.STUDENT_ID:
        T.STUDENT_ID = args.student
        OUT, SCRATCH = OUT / args.student, SCRATCH.with_name(f"{SCRATCH.name}-{args.student}")
    if SPLIT != "test":  # another user: their own results, and their own nights to replay
        OUT, SCRATCH = OUT / SPLIT, SCRATCH.with_name(f"{SCRATCH.name}-{SPLIT}")
    OUT.mkdir(parents=True, exist_ok=True)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
