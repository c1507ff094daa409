"""The thesis of issue 8, measured: a small local model (the student) learns, night after
night, from the plans a stronger model (the teacher, standing in for the cloud) wrote for the
user's own requests, and approaches the teacher's planning scores.

    label   the user's requests (the Q2A train split, in a fixed shuffled order, only those the
            app would plan) go to the teacher as the app's cloud path sends them:
            sync.payload.build_payload(kind="plan") with the real anonymizer, through the
            openai client (sync.cloud.CloudClient) to `python -m llama_cpp.server` on
            127.0.0.1; the reply is parsed, restored and validated as
            sync.service.CloudAssist._on_plan_reply does. One JSONL line per request, appended
            as it comes (resumable): docs/learning/thesis/labels.jsonl.
    night K train night K on the accepted labels of batch K (the existing core:
            sync.learning.nightly.prepare / run_training / finish under a scratch HEARTH_HOME
            that keeps seen.jsonl, so earlier nights are replayed), then evaluate the student
            with that adapter on the full test split exactly as docs/benchmark/runs/smollm2-1shot
            (runner.run, 1-shot, guided, the app gate): docs/learning/thesis/night-K/.
    report  table (thesis.json) and plot (thesis.png) of nights 0..K against the teacher.

Nights are cumulative: night K's adapter is trained from the base model on batch K plus a
replay of earlier nights (the core trains a fresh adapter each night; see docs/learning.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "learning" / "thesis"
LABELS = OUT / "labels.jsonl"
TEACHER_ID = "qwen2.5-coder-1.5b"
STUDENT_ID = "smollm2-135m"
SEED = 8
BATCH = 30
RUNS = ROOT / "docs" / "benchmark" / "runs"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def user_requests() -> list[dict]:
    """The train split's records the app would plan, in the simulation's fixed order."""
    from agent.planbench.runner import app_plans_record, load_records

    records, _ = load_records("train")
    planned = [r for r in records if app_plans_record(r)]
    random.Random(SEED).shuffle(planned)
    return planned


def batch(night: int, size: int = BATCH) -> list[dict]:
    requests = user_requests()
    return requests[(night - 1) * size: night * size]


# --- the teacher ------------------------------------------------------------------------------

def ask_teacher(record: dict, client, anonymizer, endpoint: str, model: str) -> dict:
    """One request through the app's cloud path; the label (restored, validated plan) or why
    the app would not use the reply."""
    import agent.planner as planner_mod
    from agent.plan import PlanError, parse_plan, plan_from_obj, validate
    from agent.planbench.runner import app_files, app_tools
    from sync.anonymizer import restore_data
    from sync.payload import build_payload

    files = app_files(record.get("attachments", []))
    tools = app_tools(record["instruction"])
    # build_payload picks its solved example from the train split; the user's request is
    # itself a train record here, and the app's user would never have theirs in it.
    original = planner_mod.train_examples
    planner_mod.train_examples = lambda: [r for r in original() if r["id"] != record["id"]]
    try:
        built = build_payload(kind="plan", instruction=record["instruction"], results=[],
                              files=list(files), endpoint=endpoint, model=model,
                              anonymizer=anonymizer, tools=tools)
    finally:
        planner_mod.train_examples = original
    messages = built.payload.chat_messages()
    out = {"id": record["id"], "scenario": record.get("scenario", ""),
           "instruction": record["instruction"], "attachments": record.get("attachments", []),
           "reference": record["plan"], "mapping_size": len(built.mapping),
           "sent_user": messages[-1]["content"]}
    t0 = time.perf_counter()
    try:
        reply = client.complete(messages)
    except Exception as exc:  # noqa: BLE001 - recorded; the run goes on
        out.update(raw=None, plan=None, error=f"{type(exc).__name__}: {exc}",
                   seconds=round(time.perf_counter() - t0, 2))
        return out
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["raw"] = reply
    try:
        plan = parse_plan(reply)
        restored = plan_from_obj(restore_data(plan.to_dict(), built.mapping))
        validate(restored, attachments=files if files else None, max_tasks=6)
    except PlanError as exc:
        out.update(plan=None, error=f"The cloud's plan can't be used: {exc}")
        return out
    out.update(plan=restored.to_dict(), error=None)
    return out


def read_labels(path: Path = LABELS) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut off by a kill
    return out


def cmd_label(args) -> int:
    from agent.model_registry import get_model
    from sync.anonymizer import Anonymizer
    from sync.cloud import CloudClient
    from sync.local_server import serve

    OUT.mkdir(parents=True, exist_ok=True)
    wanted = user_requests()[: args.nights * BATCH]
    done = {r["id"] for r in read_labels() if r.get("raw") is not None}
    todo = [r for r in wanted if r["id"] not in done]
    print(f"{len(todo)} of {len(wanted)} requests to label", file=sys.stderr)
    if not todo:
        return 0
    model_path = get_model(TEACHER_ID).resolve()
    with serve(model_path, TEACHER_ID, OUT / "teacher-server.log", timeout=300) as server:
        url = server.base_url
        meta = {"event": "server", "seconds_to_start": round(server.started_s, 1),
                "load_average": load_average(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        print(json.dumps(meta), file=sys.stderr)
        # the app's anonymizer; no known names (this simulated user enrolled no faces)
        anonymizer = Anonymizer(known_names=lambda: [])
        client = CloudClient(url, TEACHER_ID, None, timeout=300.0)
        try:
            with open(LABELS, "a", encoding="utf-8") as f:
                for i, rec in enumerate(todo, 1):
                    row = ask_teacher(rec, client, anonymizer, url, TEACHER_ID)
                    row["load_average"] = load_average()
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    f.flush()
                    print(f"{i}/{len(todo)} {rec['id']} {row['seconds']} s "
                          f"{'ok' if row['plan'] else row['error']}", file=sys.stderr, flush=True)
        finally:
            client.close()
    return 0


# --- nights: training and evaluation (shared with learning_matrix.py) -------------------------

SCRATCH = Path(os.environ.get("HEARTH_THESIS_HOME", "/tmp/hearth-thesis"))


def use_scratch_home(path: Path) -> None:
    """The nights' learning folder (adapters, seen.jsonl, history) lives under a scratch
    HEARTH_HOME, never the user's; model files stay where they are (the twin cache too)."""
    from memory import paths

    real_models = paths.models_dir()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["HEARTH_HOME"] = str(path)
    os.environ.setdefault("HEARTH_MODELS_DIR", str(real_models))


def app_night_config(overrides: dict | None = None):
    """The training settings the app's own nights use (sync.learning.app_night), at nice 10
    instead of 19: at 19 (and at 10) the trainer starved among the other helpers' jobs on this shared
    machine. The priority changes when it runs, not what it learns."""
    from memory.settings import Settings
    from sync.learning.app_night import night_config

    return night_config(Settings(model=STUDENT_ID), {"nice": 5, **(overrides or {})})


def train_night(records: list[dict], night: str, *, replay_ratio: float = 0.25,
                overrides: dict | None = None, init_adapter: Path | None = None,
                answers: list[dict] = ()) -> dict:
    """One night with the existing core; the history record (plus timings and load)."""
    from agent.model_registry import get_model
    from sync.learning import nightly

    model_path = get_model(STUDENT_ID).resolve()
    config = app_night_config(overrides)
    load_before = load_average()
    t0 = time.perf_counter()
    job_dir, result = nightly.prepare(records, model_path, config, night=night,
                                      replay_ratio=replay_ratio, start_from=init_adapter,
                                      answers=answers)
    if job_dir is None:
        raise SystemExit(f"night {night} skipped: {result.reason}")
    t1 = time.perf_counter()
    proc = nightly.run_training(job_dir)
    result = nightly.finish(job_dir, result, proc, save=False)
    result.model = STUDENT_ID
    nightly.record(result)
    if result.status != "done":
        raise SystemExit(f"night {night} {result.status}: {result.reason}")
    from sync.learning.gguf_lora import sha256_file

    out = result.to_dict()
    out.pop("skipped_records", None)
    out.update(config=json.loads((job_dir / "job.json").read_text())["config"],
               wall_seconds={"prepare": round(t1 - t0, 1),
                             "train_and_convert": round(time.perf_counter() - t1, 1)},
               load_average={"before": load_before, "after": load_average()},
               adapter_sha256=sha256_file(Path(result.adapter)),
               adapter_bytes=Path(result.adapter).stat().st_size)
    return out


def evaluate(adapter: Path | None, records: list[dict], out_dir: Path, *, label: str,
             split: str = "test", examples: list[dict] | None = None, n_examples: int = 1) -> dict:
    """runner.run as `hearth bench plan --model smollm2-135m --examples 1` (guided, the app's
    gate, BERTScore) with the adapter; the adapter must load (no silent fallback to the base)."""
    from agent.model_registry import get_model
    from agent.planbench import runner
    from agent.planner import Planner, train_examples

    spec = get_model(STUDENT_ID)
    llm = student_llm(adapter)
    planner = Planner(llm, examples=examples, decoding="guided", n_examples=n_examples)
    config = {"label": label, "model": spec.id,
              "adapter": str(Path(adapter).resolve()) if adapter else None, "endpoint": None,
              "split": split, "data": None, "limit": None}
    if examples is not None:
        config["examples_from"] = f"train + {len(examples) - len(train_examples())} of the user's"
    try:
        return runner.run(records, planner, out_dir, config, bertscore=True, progress=False)
    finally:
        llm.close()


def student_llm(adapter: Path | None):
    """The student as the app loads it, with the adapter; an adapter that does not load stops
    the experiment (it would be measured as the base model otherwise)."""
    from agent.model_registry import get_model
    from memory.settings import Settings
    from sync.learning.gguf_lora import llm_with_adapter

    spec = get_model(STUDENT_ID)
    settings = Settings(model=spec.id)
    llm, error = llm_with_adapter(spec.resolve(), adapter, name=spec.id, n_ctx=settings.n_ctx,
                                  n_threads=settings.n_threads, chat_template=spec.chat_template)
    if error:
        llm.close()
        raise SystemExit(f"the adapter did not load: {error}")
    return llm


def timed_evaluate(adapter: Path | None, records: list[dict], out_dir: Path, *, label: str,
                   **options) -> tuple[dict, dict]:
    """evaluate(), timed: (its summary, {"wall_seconds", "load_average": {"before", "after"},
    "scores"}), what every experiment records beside its predictions."""
    before, t0 = load_average(), time.perf_counter()
    summary = evaluate(adapter, records, out_dir, label=label, **options)
    return summary, {"wall_seconds": round(time.perf_counter() - t0, 1),
                     "load_average": {"before": before, "after": load_average()},
                     "scores": scores(summary)}


METRICS = ("node_f1", "edge_f1", "arg_value_f1", "validity")


def scores(summary: dict, scenario: str | None = None) -> dict:
    m = summary["metrics"]["overall"] if scenario is None else \
        summary["metrics"]["per_scenario"][scenario]
    return {k: round(m[k], 4) for k in METRICS} | {"n": m["n"]}


def night_dir(k: int) -> Path:
    return OUT / f"night-{k}"


def cmd_base(args) -> int:
    """Night 0 again with today's code: the control for what an adapter changed (the published
    smollm2-1shot run was made at eb070ab; the KV-cache code changed since)."""
    from agent.planbench.runner import load_records

    records, _ = load_records("test")
    summary, timed = timed_evaluate(None, records, OUT / "night-0-now" / "eval",
                                    label=f"{STUDENT_ID} (base, now)")
    out = {**timed, "git_commit": summary["git_commit"]}
    (OUT / "night-0-now" / "night.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out), file=sys.stderr)
    return 0


def cmd_night(args) -> int:
    from agent.planbench.runner import load_records

    k = args.night
    use_scratch_home(SCRATCH)
    wanted = {r["id"] for r in batch(k)}
    labels = {r["id"]: r for r in read_labels()}
    missing = wanted - set(labels)
    if missing and args.partial:  # the batch the teacher answered before it was stopped
        wanted -= missing
    elif missing:
        raise SystemExit(f"night {k}: {len(missing)} of its requests have no teacher reply yet")
    accepted = [{"id": i, "scenario": labels[i]["scenario"],
                 "instruction": labels[i]["instruction"],
                 "attachments": labels[i]["attachments"], "plan": labels[i]["plan"]}
                for i in sorted(wanted) if labels[i]["plan"] is not None]
    d = night_dir(k)
    d.mkdir(parents=True, exist_ok=True)
    trained_path = d / "night.json"
    if trained_path.is_file():
        trained = json.loads(trained_path.read_text())
    else:
        trained = train_night(accepted, f"night-{k}")
        trained.update(n_requests=len(wanted), n_labels=len(accepted))
        trained_path.write_text(json.dumps(trained, indent=2) + "\n")
    print(json.dumps({k2: trained[k2] for k2 in ("n_examples", "n_sequences", "wall_seconds",
                                                 "losses")}), file=sys.stderr)
    records, _ = load_records("test")
    _, trained["evaluation"] = timed_evaluate(Path(trained["adapter"]), records, d / "eval",
                                              label=f"{STUDENT_ID} + night {k}")
    trained_path.write_text(json.dumps(trained, indent=2) + "\n")
    print(json.dumps(trained["evaluation"]), file=sys.stderr)
    return 0


def label_quality(labels: list[dict]) -> dict:
    """The teacher's labels scored against the Q2A references: over every request asked
    (an unusable reply counts as an empty, invalid plan) and over the accepted ones."""
    from agent.planbench.runner import score_records

    asked = [r for r in labels if r.get("raw") is not None or r.get("error")]
    refs = [{"id": r["id"], "scenario": r["scenario"], "plan": r["reference"],
             "attachments": r["attachments"]} for r in asked]
    preds = [{"id": r["id"], "plan": r["plan"]} if r["plan"] is not None else {"id": r["id"], "raw": ""}
             for r in asked]
    accepted = [i for i, r in enumerate(asked) if r["plan"] is not None]
    every = score_records(refs, preds, bertscore=False)["overall"]
    ok = score_records([refs[i] for i in accepted], [preds[i] for i in accepted],
                       bertscore=False)["overall"] if accepted else None
    exact = sum(1 for r in asked if r["plan"] is not None
                and _same_tasks(r["plan"], r["reference"]))
    errors: dict[str, int] = {}
    for r in asked:
        if r["plan"] is None:
            why = (r.get("error") or "").split(":")[0] if r.get("raw") is None else \
                _reason(r.get("error") or "")
            errors[why] = errors.get(why, 0) + 1
    return {"asked": len(asked), "accepted": len(accepted), "unusable": len(asked) - len(accepted),
            "unusable_reasons": errors, "same_tasks_as_reference": exact,
            "scores_all": {k: round(every[k], 4) for k in METRICS},
            "scores_accepted": {k: round(ok[k], 4) for k in METRICS} if ok else None,
            "median_seconds": sorted(r["seconds"] for r in asked)[len(asked) // 2]}


def _same_tasks(plan: dict, reference: dict) -> bool:
    def key(p):
        return sorted((t["task"], tuple(sorted(t["args"].items())), tuple(sorted(t["dep"])))
                      for t in p.get("tasks", []))
    return key(plan) == key(reference)


def _reason(error: str) -> str:
    text = error.removeprefix("The cloud's plan can't be used: ")
    for phrase, why in (("<GENERATED>", "uses a result it does not depend on"),
                        ("not an attached file", "names a file not attached"),
                        (" needs ", "a file of the wrong kind"),
                        ("not an expert", "an expert Hearth has not"),
                        ("tasks; at most", "too many tasks"),
                        ("depends on", "a dependency not in the plan"),
                        (" takes ", "wrong arguments")):
        if phrase in text:
            return why
    return text[:60]


def cmd_report(args) -> int:
    teacher = json.loads((RUNS / "qwen1.5b-1shot" / "summary.json").read_text())
    base = json.loads((RUNS / "smollm2-1shot" / "summary.json").read_text())
    t_scores = scores(teacher)
    rows = [{"night": 0, "labels_so_far": 0, "scores": scores(base),
             "source": "docs/benchmark/runs/smollm2-1shot"}]
    total = 0
    k = 1
    while (night_dir(k) / "night.json").is_file():
        n = json.loads((night_dir(k) / "night.json").read_text())
        if "evaluation" not in n:
            break
        total += n["n_labels"]
        rows.append({"night": k, "labels_so_far": total, "labels_tonight": n["n_labels"],
                     "requests_tonight": n["n_requests"], "n_examples": n["n_examples"],
                     "n_sequences": n["n_sequences"], "steps": len(n["losses"]),
                     "train_wall_seconds": n["wall_seconds"],
                     "train_load_average": n["load_average"],
                     "eval_wall_seconds": n["evaluation"]["wall_seconds"],
                     "eval_load_average": n["evaluation"]["load_average"],
                     "scores": n["evaluation"]["scores"],
                     "source": f"docs/learning/thesis/night-{k}/eval"})
        k += 1
    for r in rows:
        r["fraction_of_teacher"] = {m: round(r["scores"][m] / t_scores[m], 4) if t_scores[m] else None
                                    for m in METRICS}
    used = {r["id"] for r in user_requests()[: (k - 1) * BATCH]}
    quality = label_quality([r for r in read_labels() if r["id"] in used]) if used else None
    result = {"student": STUDENT_ID, "teacher": TEACHER_ID,
              "teacher_test_scores": t_scores, "teacher_run": "docs/benchmark/runs/qwen1.5b-1shot",
              "teacher_labels": quality, "nights": rows, "batch": BATCH, "order_seed": SEED}
    (OUT / "thesis.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, t_scores, OUT.parent / "thesis.png")
    print(json.dumps(result, indent=1))
    print(markdown(rows, t_scores))
    return 0


def markdown(rows: list[dict], teacher: dict) -> str:
    head = "| night | labels so far | " + " | ".join(METRICS) + " | % of teacher (node / edge / arg value) |"
    lines = [head, "|" + "---|" * (len(METRICS) + 3)]
    for r in rows:
        f = r["fraction_of_teacher"]
        lines.append(f"| {r['night']} | {r['labels_so_far']} | "
                     + " | ".join(f"{r['scores'][m]:.3f}" for m in METRICS)
                     + f" | {100 * f['node_f1']:.0f} / {100 * f['edge_f1']:.0f} / "
                       f"{100 * f['arg_value_f1']:.0f} |")
    lines.append("| teacher (qwen1.5b-1shot) | – | "
                 + " | ".join(f"{teacher[m]:.3f}" for m in METRICS) + " | 100 |")
    return "\n".join(lines)


def plot(rows: list[dict], teacher: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    x = [r["night"] for r in rows]
    for metric, color in zip(METRICS[:3], ("tab:blue", "tab:orange", "tab:green")):
        ax.plot(x, [r["scores"][metric] for r in rows], "o-", color=color, label=f"student {metric}")
        ax.axhline(teacher[metric], color=color, ls="--", lw=1)
        ax.axhline(0.9 * teacher[metric], color=color, ls=":", lw=0.8)
    ax.set_xticks(x, [f"{r['night']}\n({r['labels_so_far']})" for r in rows])
    ax.set_xlabel("night (teacher labels so far)")
    ax.set_ylabel("Q2A test, 129 records")
    ax.set_title("SmolLM2-135M learning from Qwen2.5-Coder-1.5B's plans\n"
                 "dashed: the teacher's own scores, dotted: 90 % of them")
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from app import offline

    offline.apply()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    lab = sub.add_parser("label", help="ask the teacher for the first N nights' requests")
    lab.add_argument("--nights", type=int, default=3)
    lab.set_defaults(func=cmd_label)
    nig = sub.add_parser("night", help="train night K on batch K's labels and evaluate it")
    nig.add_argument("night", type=int)
    nig.add_argument("--partial", action="store_true",
                     help="train on the part of the batch the teacher has answered")
    nig.set_defaults(func=cmd_night)
    sub.add_parser("report", help="thesis.json and thesis.png").set_defaults(func=cmd_report)
    sub.add_parser("base", help="the base model on the test split with today's code"
                   ).set_defaults(func=cmd_base)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
