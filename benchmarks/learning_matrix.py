"""The personalization matrix of issue 8: one adapter per scenario (audio, posture,
face-object), each trained on the Q2A train split's records of that scenario (their reference
plans standing in for the user's own labels), each evaluated on test records of all three
scenarios (the first 12 the app plans of each: what this session's shared CPU allowed); the
base model is the fourth row.

    python benchmarks/learning_matrix.py train SCENARIO   # one adapter (the app's night settings)
    python benchmarks/learning_matrix.py eval SCENARIO    # its predictions on the three scenarios
    python benchmarks/learning_matrix.py report           # matrix.json + matrix.png

Student: smollm2-135m, evaluated as docs/benchmark/runs/smollm2-1shot (1-shot, guided, the app's
gate), whose predictions for the same 36 records are the base row (scored here, like every row,
without BERTScore). Each adapter is trained under its own scratch
HEARTH_HOME, so no scenario's examples are replayed into another's adapter. Results:
docs/learning/matrix/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import learning_thesis as lt  # noqa: E402

SCENARIOS = ("audio", "posture", "face-object")
OUT = lt.ROOT / "docs" / "learning" / "matrix"
BASE_RUN = lt.RUNS / "smollm2-1shot"
SHOWN = ("node_f1", "arg_value_f1")
# One pass instead of the app's two: three adapters of 51-75 examples did not fit this
# session's shared CPU at two (a step of 8 sequences took 90-220 s here).
EPOCHS = {"epochs": 1.0}
PER_SCENARIO = 12


def scenario_records(split: str, scenarios=SCENARIOS) -> list[dict]:
    from agent.planbench.runner import load_records

    records, _ = load_records(split)
    return [r for r in records if r.get("scenario") in scenarios]


def eval_records(per_scenario: int | None = None) -> list[dict]:
    """The first `per_scenario` test records of each scenario that the app plans (in the
    split's order; 12 = 36 plans per adapter, what this session's CPU allowed first), or with
    0 every test record of the three scenarios (82, 74 of them planned)."""
    from agent.planbench.runner import app_plans_record

    n = PER_SCENARIO if per_scenario is None else per_scenario
    if n == 0:
        return scenario_records("test")
    out = []
    for s in SCENARIOS:
        planned = [r for r in scenario_records("test", (s,)) if app_plans_record(r)]
        out += planned[:n]
    return out


def row_scores(predictions_path: Path, per_scenario: int | None = None) -> dict:
    """Per-scenario scores of a predictions file on eval_records() (BERTScore left out)."""
    from agent.planbench.runner import match_predictions, read_predictions, score_records

    records = eval_records(per_scenario)
    preds = match_predictions(records, read_predictions(predictions_path))
    if any(p is None for p in preds):
        raise SystemExit(f"{predictions_path} lacks predictions for some evaluation records")
    per = score_records(records, preds, bertscore=False)["per_scenario"]
    return {c: {k: round(per[c][k], 4) for k in lt.METRICS} | {"n": per[c]["n"]}
            for c in SCENARIOS}


def cmd_train(args) -> int:
    s = args.scenario
    lt.use_scratch_home(lt.SCRATCH.parent / "hearth-matrix" / s)
    d = OUT / s
    d.mkdir(parents=True, exist_ok=True)
    if (d / "night.json").is_file():
        print(f"{s}: already trained", file=sys.stderr)
        return 0
    records = scenario_records("train", (s,))
    trained = lt.train_night(records, f"matrix-{s}", overrides=EPOCHS)
    trained.update(scenario=s, n_records=len(records))
    (d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
    print(json.dumps({k: trained[k] for k in ("n_examples", "n_sequences", "wall_seconds",
                                              "losses")}), file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
    s = args.scenario
    d = OUT / s
    trained = json.loads((d / "night.json").read_text())
    lt.use_scratch_home(lt.SCRATCH.parent / "hearth-matrix" / s)
    _, timed = lt.timed_evaluate(Path(trained["adapter"]), eval_records(args.per_scenario),
                                 d / "eval", label=f"{lt.STUDENT_ID} + {s} adapter")
    key = "evaluation" if args.per_scenario == PER_SCENARIO else f"evaluation_{args.per_scenario}"
    trained[key] = {**timed, "per_scenario": args.per_scenario or "all",
                    "scores": row_scores(d / "eval" / "predictions.jsonl", args.per_scenario)}
    (d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
    print(json.dumps(trained[key]), file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    n_per = args.per_scenario
    rows = {"base": row_scores(BASE_RUN / "predictions.jsonl", n_per)}
    for s in SCENARIOS:
        path = OUT / s / "night.json"
        if path.is_file():
            try:
                rows[s] = row_scores(OUT / s / "eval" / "predictions.jsonl", n_per)
            except SystemExit as exc:  # not evaluated on this record set (yet)
                print(f"{s}: {exc}", file=sys.stderr)
    diagonal = {m: {s: rows[s][s][m] == max(rows[r][s][m] for r in rows if r != "base")
                    for s in SCENARIOS if s in rows} for m in SHOWN}
    result = {"rows": rows, "trained_on": {s: f"Q2A train, scenario {s}" for s in SCENARIOS},
              "evaluated_on": (f"Q2A test, the first {n_per} records the app plans of each "
                               f"scenario" if n_per else "Q2A test, every record of the three "
                                                          "scenarios"),
              "eval_ids": [r["id"] for r in eval_records(n_per)], "base_run": str(BASE_RUN.relative_to(lt.ROOT)),
              "diagonal_wins_among_adapters": diagonal}
    suffix = "" if n_per == 0 else f"-{n_per}"
    (OUT / f"matrix{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, OUT.parent / f"matrix{suffix}.png")
    print(json.dumps(result, indent=1))
    for metric in SHOWN:
        print(f"\n{metric}\n| trained on \\ evaluated on | " + " | ".join(SCENARIOS) + " |")
        print("|---|" + "---|" * len(SCENARIOS))
        for name, row in rows.items():
            best = {c: max(rows[r][c][metric] for r in rows) for c in SCENARIOS}
            cells = [f"**{row[c][metric]:.3f}**" if row[c][metric] == best[c] else
                     f"{row[c][metric]:.3f}" for c in SCENARIOS]
            print(f"| {name if name == 'base' else name + ' adapter'} | " + " | ".join(cells) + " |")
    return 0


def plot(rows: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(rows)
    fig, axes = plt.subplots(1, len(SHOWN), figsize=(10, 3.8))
    for ax, metric in zip(axes, SHOWN):
        grid = np.array([[rows[r][c][metric] for c in SCENARIOS] for r in names])
        im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(SCENARIOS)), SCENARIOS)
        ax.set_yticks(range(len(names)), [n if n == "base" else f"{n} adapter" for n in names])
        ax.set_xlabel("evaluated on (Q2A test)")
        ax.set_title(metric)
        for i in range(len(names)):
            for j in range(len(SCENARIOS)):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center",
                        color="white" if grid[i, j] < 0.6 else "black", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle("SmolLM2-135M, one adapter per scenario (1-shot, guided)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from app import offline

    offline.apply()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, func in (("train", cmd_train), ("eval", cmd_eval)):
        c = sub.add_parser(name)
        c.add_argument("scenario", choices=SCENARIOS)
        c.set_defaults(func=func)
        if name == "eval":
            c.add_argument("--per-scenario", type=int, default=PER_SCENARIO,
                           help="planned test records per scenario (0: every record)")
    rep = sub.add_parser("report")
    rep.add_argument("--per-scenario", type=int, default=PER_SCENARIO)
    rep.set_defaults(func=cmd_report)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
