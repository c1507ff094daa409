"""The planning benchmark's report: Markdown tables and PNG plots from runs' summary.json.

- One run: report.md in its folder, with the overall and per-scenario metrics, where the plans
  came from, the commonest validity errors and the records planned worst;
  overall.png (every metric) and per_scenario.png (bars per scenario).
- Several runs: a comparison (settings, metrics side by side, comparison.png with one bar per
  run for each metric) and the scenario matrix.
- The matrix: rows = a run's model (or model + adapter), columns = scenarios, cells
  "node F1 / value F1" (matrix.png colours the cells by node F1).

Plots are drawn with matplotlib's Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from agent.planbench.runner import (PREDICTIONS, SUMMARY, BenchmarkError, load_records,
                                    match_predictions, prediction_output, read_predictions)

METRIC_NAMES = {
    "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "bertscore_f1": "BERTScore-F1",
    "node_f1": "Node F1", "edge_f1": "Edge F1", "arg_name_f1": "Arg-name F1",
    "arg_value_f1": "Value F1", "validity": "Validity",
}
METRICS = tuple(METRIC_NAMES)
F1S = ("node_f1", "edge_f1", "arg_name_f1", "arg_value_f1")
SCENARIO_ORDER = ("audio", "posture", "face-object", "memory", "mixed")
# per-scenario plot: the metrics that differ most in meaning
SCENARIO_METRICS = ("node_f1", "edge_f1", "arg_value_f1", "validity", "rouge1", "bertscore_f1")
MATRIX_METRICS = ("node_f1", "arg_value_f1")
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
          "#8C8C8C")


@dataclass
class Run:
    dir: Path
    summary: dict
    predictions: list[dict] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.summary.get("label") or self.summary.get("model") or self.dir.name


def load_run(run_dir: Path | str) -> Run:
    run_dir = Path(run_dir)
    path = run_dir / SUMMARY if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise BenchmarkError(f"{run_dir} has no {SUMMARY}: is it a benchmark run folder "
                             f"(made by `hearth bench plan` or `hearth bench score`)?")
    summary = json.loads(path.read_text(encoding="utf-8"))
    preds = read_predictions(path.parent / summary.get("predictions", PREDICTIONS))
    return Run(path.parent, summary, preds)


def fmt(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def scenarios_of(summaries: Sequence[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for s in summaries:
        seen.update(dict.fromkeys(s["metrics"]["per_scenario"]))
    known = [s for s in SCENARIO_ORDER if s in seen]
    return known + [s for s in seen if s not in known]


def unique_labels(runs: Sequence[Run]) -> list[str]:
    """Run labels, made distinct by decoding / examples, then by folder, where they repeat."""
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):
        labels = [f"{r.label} ({r.summary.get('decoding')}, {r.summary.get('n_examples')}-shot"
                  f"{'' if r.summary.get('gate', True) else ', ungated'})" for r in runs]
    if len(set(labels)) < len(labels):
        labels = [f"{label} [{r.dir.name}]" for label, r in zip(labels, runs)]
    if len(set(labels)) < len(labels):
        labels = [f"{label} #{i + 1}" for i, label in enumerate(labels)]
    return labels


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- the matrix -------------------------------------------------------------------------------

def matrix(runs: Sequence[Run], metrics: Sequence[str] = MATRIX_METRICS
           ) -> tuple[list[str], list[str], list[list[str]]]:
    """(row labels, scenario columns + "all", cells "node F1 / value F1")."""
    rows = unique_labels(runs)
    cols = scenarios_of([r.summary for r in runs])
    cells = []
    for run in runs:
        per = run.summary["metrics"]["per_scenario"]
        row = []
        for col in cols:
            m = per.get(col)
            row.append("–" if m is None else " / ".join(fmt(m.get(k), 2) for k in metrics))
        row.append(" / ".join(fmt(run.summary["metrics"]["overall"].get(k), 2) for k in metrics))
        cells.append(row)
    return rows, [*cols, "all"], cells


def matrix_markdown(runs: Sequence[Run], metrics: Sequence[str] = MATRIX_METRICS) -> str:
    rows, cols, cells = matrix(runs, metrics)
    what = " / ".join(METRIC_NAMES.get(m, m) for m in metrics)
    table = _md_table(["model", *cols], [[_cell(r), *c] for r, c in zip(rows, cells)])
    return f"Cells: {what} (macro means over the scenario's records).\n\n{table}"


# --- plots ------------------------------------------------------------------------------------

def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    fig.savefig(path, bbox_inches="tight")
    return path


def plot_overall(summary: dict, path: Path, title: str) -> Path:
    overall = summary["metrics"]["overall"]
    names = [m for m in METRICS if overall.get(m) is not None]
    values = [overall[m] for m in names]
    fig = _figure(7.5, 0.45 * len(names) + 1.2)
    ax = fig.add_subplot()
    y = list(range(len(names)))[::-1]
    ax.barh(y, values, color=COLORS[0])
    for yi, v in zip(y, values):
        inside = v > 0.9
        ax.text(v - 0.01 if inside else v + 0.01, yi, f"{v:.2f}", va="center", fontsize=9,
                ha="right" if inside else "left", color="white" if inside else "black")
    ax.set_yticks(y, [METRIC_NAMES[m] for m in names])
    ax.set_xlim(0, 1)
    ax.set_xlabel("score (0-1, macro mean over records)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _grouped_bars(ax, groups: list[str], series: list[tuple[str, list[float | None]]]) -> None:
    n = max(1, len(series))
    width = 0.8 / n
    for i, (name, values) in enumerate(series):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        vals = [0.0 if v is None else v for v in values]
        bars = ax.bar(xs, vals, width * 0.95, label=name, color=COLORS[i % len(COLORS)])
        if len(groups) * n <= 40:
            for bar, v in zip(bars, values):
                if v is not None:
                    ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01,
                            f"{v:.2f}", ha="center", va="bottom", fontsize=6.5, rotation=90)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, 1.12)
    ax.grid(axis="y", alpha=0.3)


def plot_per_scenario(summary: dict, path: Path, title: str) -> Path:
    per = summary["metrics"]["per_scenario"]
    cols = scenarios_of([summary]) + ["all"]
    metrics = [m for m in SCENARIO_METRICS if summary["metrics"]["overall"].get(m) is not None]
    series = []
    for m in metrics:
        values = [per.get(c, {}).get(m) if c != "all" else summary["metrics"]["overall"].get(m)
                  for c in cols]
        series.append((METRIC_NAMES[m], values))
    fig = _figure(max(8.0, 1.5 * len(cols)), 4.6)
    ax = fig.add_subplot()
    _grouped_bars(ax, [f"{c}\n(n={per[c]['n']})" if c in per else f"all\n(n={summary['n']})"
                       for c in cols], series)
    ax.set_ylabel("score (0-1)")
    ax.set_title(title, fontsize=10)
    ax.legend(ncol=len(series), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16),
              frameon=False)
    return _save(fig, path)


def plot_comparison(runs: Sequence[Run], path: Path, title: str) -> Path:
    labels = unique_labels(runs)
    metrics = [m for m in METRICS
               if any(r.summary["metrics"]["overall"].get(m) is not None for r in runs)]
    series = [(label, [r.summary["metrics"]["overall"].get(m) for m in metrics])
              for label, r in zip(labels, runs)]
    fig = _figure(max(9.0, 0.5 * len(metrics) * len(runs) + 2), 4.8)
    ax = fig.add_subplot()
    _grouped_bars(ax, [METRIC_NAMES[m] for m in metrics], series)
    ax.set_ylabel("score (0-1)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False,
              ncol=min(3, len(series)))
    return _save(fig, path)


def plot_matrix(runs: Sequence[Run], path: Path, metrics: Sequence[str] = MATRIX_METRICS) -> Path:
    rows, cols, cells = matrix(runs, metrics)
    colour_by = metrics[0]
    values = []
    for run in runs:
        per = run.summary["metrics"]["per_scenario"]
        row = [(per.get(c) or {}).get(colour_by) for c in cols[:-1]]
        row.append(run.summary["metrics"]["overall"].get(colour_by))
        values.append([float("nan") if v is None else v for v in row])
    fig = _figure(1.25 * len(cols) + 2.5, 0.55 * len(rows) + 1.4)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(cells):
        for j, text in enumerate(row):
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.xaxis.tick_top()
    what = " / ".join(METRIC_NAMES.get(m, m) for m in metrics)
    ax.set_title(f"{what} per scenario (colour: {METRIC_NAMES.get(colour_by, colour_by)})",
                 fontsize=10, pad=24)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    return _save(fig, path)


# --- one run ----------------------------------------------------------------------------------

ERROR_SHAPE = [(re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"), (re.compile(r"\d+"), "N")]


def _error_kind(error: str) -> str:
    for pattern, repl in ERROR_SHAPE:
        error = pattern.sub(repl, error)
    return error


def _tasks_text(plan) -> str:
    if not isinstance(plan, dict) or not plan.get("tasks"):
        return "(none)"
    parts = []
    for t in plan["tasks"]:
        args = ", ".join(f"{v}" for v in t.get("args", {}).values())
        parts.append(f"{t.get('task')}({args})")
    return "; ".join(parts)


def _settings_rows(s: dict) -> list[tuple[str, str]]:
    machine = s.get("machine") or {}
    model = s.get("model") or "–"
    if s.get("endpoint"):
        model = f"{model} at {s['endpoint']}"
    rows = [
        ("model", model),
        ("adapter", s.get("adapter") or "none"),
        ("decoding", str(s.get("decoding"))),
        ("few-shot examples", f"{s.get('n_examples')} (from the {s.get('examples_from', 'train')} split)"),
        ("data", f"{s.get('split')} ({s.get('n')} records)"),
        ("app gate", "on (as the app: no files and not about memory → no plan; memory-save "
                     "only when asked)" if s.get("gate", True) else "off (every record planned, "
                                                                       "all six experts)"),
        ("wall time", f"{s['wall_seconds']:.0f} s" if s.get("wall_seconds") is not None else "–"),
        ("seconds per planned record", f"median {fmt(s.get('median_seconds_model'), 2)}, "
                                       f"mean {fmt(s.get('mean_seconds_model'), 2)}"),
        ("model load", f"{s['load_seconds']} s" if s.get("load_seconds") is not None else "–"),
        ("BERTScore encoder", (s.get("encoder") or {}).get("name", "not run (--no-bertscore)")),
        ("machine", f"{machine.get('cpu')}, {machine.get('cpu_count')} cores; "
                    f"{machine.get('platform')}"),
        ("load average (1, 5, 15 min)", f"{_load(s.get('load_average_start'))} at the start, "
                                        f"{_load(machine.get('load_average'))} at the end"),
        ("code", f"commit {s.get('git_commit') or 'unknown'}, finished {s.get('finished')}"),
    ]
    if s.get("scored_from"):
        rows.insert(0, ("predictions scored from", s["scored_from"]))
    if s.get("resumed_records"):
        rows.append(("resumed", f"{s['resumed_records']} records were predicted by an earlier, "
                                f"interrupted invocation (wall time counts this one only)"))
    return rows


def _load(values) -> str:
    return " / ".join(f"{v:.2f}" for v in values) if values else "–"


def metrics_table(s: dict) -> str:
    overall = s["metrics"]["overall"]
    rows = []
    for m in METRICS:
        micro = fmt(overall.get(f"{m}_micro")) if m in F1S else ""
        rows.append([METRIC_NAMES[m], fmt(overall.get(m)), micro])
    return _md_table(["metric", "macro (mean of records)", "pooled (micro)"], rows)


def scenario_table(s: dict) -> str:
    per = s["metrics"]["per_scenario"]
    cols = scenarios_of([s])
    header = ["scenario", "n", *(METRIC_NAMES[m] for m in METRICS)]
    rows = [[c, per[c]["n"], *(fmt(per[c].get(m)) for m in METRICS)] for c in cols]
    rows.append(["**all**", s["n"], *(fmt(s["metrics"]["overall"].get(m)) for m in METRICS)])
    return _md_table(header, rows)


def _records_for(run: Run) -> list[dict] | None:
    """The records the run was scored on: its own copy, else the split or data file."""
    s = run.summary
    copy = run.dir / s.get("records", "data.jsonl")
    split = s.get("split")
    try:
        if copy.is_file():
            return load_records(data=copy)[0]
        if split in ("train", "dev", "test"):
            return load_records(split)[0]
        if split and Path(split).is_file():
            return load_records(data=split)[0]
    except BenchmarkError:
        return None
    return None


def _details(run: Run) -> list[str]:
    """Sources, errors and the worst records: needs the predictions and the data."""
    s = run.summary
    out: list[str] = []
    sources = s.get("sources") or {}
    gate = s.get("gate_effects") or {}
    names = {"model": "the model's plan, valid", "fallback": "the model's plan unusable "
             "(the app would run its fixed rule; scored on the model's text)",
             "rule": "no plan asked: the app's gate, or no expert usable (empty plan)",
             "error": "the model call failed (scored as empty output)"}
    if sources:
        out += ["## Where the plans came from", "",
                _md_table(["source", "records", "meaning"],
                          [[k, v, names.get(k, "")] for k, v in sources.items()]), ""]
    if gate and s.get("gate", True):
        out += [f"The app's gate on this data: {gate.get('not_planned', 0)} records are not "
                f"planned (no files, not about memory); the reference plan of "
                f"{gate.get('not_planned_but_reference_has_tasks', 0)} of them has tasks, which "
                f"the app can't get right. {gate.get('memory_save_needed_not_offered', 0)} "
                f"planned records need memory-save, but their wording doesn't ask to keep "
                f"anything (ASKS_TO_SAVE), so it isn't offered.", ""]
    errors = Counter(_error_kind(p["error"]) for p in run.predictions
                     if p.get("error") and p.get("source") in ("fallback", "error"))
    if errors:
        out += ["## Why plans were unusable (commonest first)", "",
                _md_table(["records", "error (file names and numbers elided)"],
                          [[n, _cell(e)] for e, n in errors.most_common(10)]), ""]
    records = _records_for(run)
    if records and run.predictions:
        from agent.planbench.metrics import score_sample

        preds = match_predictions(records, run.predictions)
        scored = []
        for rec, pred in zip(records, preds):
            row = score_sample(rec["plan"], prediction_output(pred),
                               attachments=list(rec.get("attachments", [])))
            scored.append((row["node_f1"] + row["arg_value_f1"] + row["validity"], rec, pred, row))
        worst = sorted((x for x in scored if x[0] < 3), key=lambda x: (x[0], x[1]["id"]))[:12]
        if worst:
            out += ["## Records planned worst", "",
                    "Lowest node F1 + value F1 + validity first (at most 12).", "",
                    _md_table(["id", "request", "files", "reference", "predicted (raw)", "source",
                               "node / value F1"],
                              [[r["id"], _cell(r["instruction"]),
                                _cell(", ".join(r.get("attachments", [])) or "–"),
                                _cell(_tasks_text(r["plan"])),
                                _cell(_tasks_text(_parsed(p))),
                                (p or {}).get("source", "missing"),
                                f"{row['node_f1']:.2f} / {row['arg_value_f1']:.2f}"]
                               for _, r, p, row in worst]), ""]
    return out


def _parsed(pred: dict | None):
    from agent.planbench.metrics import to_plan

    return to_plan(prediction_output(pred)).to_dict()


def write_run_report(run_dir: Path | str) -> Path:
    """report.md, overall.png and per_scenario.png in the run's folder."""
    run = load_run(run_dir)
    s = run.summary
    title = f"{run.label} on {Path(str(s.get('split'))).name} ({s['n']} records)"
    plot_overall(s, run.dir / "overall.png", f"Planning benchmark: {title}")
    plot_per_scenario(s, run.dir / "per_scenario.png", f"Per scenario: {title}")
    lines = [
        f"# Planning benchmark: {run.label}", "",
        "Plans for the Q2A requests, scored as TaskBench scores them "
        "(agent/planbench/metrics.py; every number 0-1, higher is better). Validity is the "
        "share of the model's outputs that parse and keep the plan rules.", "",
        _md_table(["setting", "value"], [[k, _cell(v)] for k, v in _settings_rows(s)]), "",
        "## Overall", "",
        metrics_table(s), "",
        "![every metric](overall.png)", "",
        "## Per scenario", "",
        scenario_table(s), "",
        "![metrics per scenario](per_scenario.png)", "",
        "Edge F1 here is the mean over records, and a record where neither plan has links "
        "(one task, or none) scores 1.0, so it is high where plans are short; the pooled Edge "
        "F1 in the overall table counts links only.", "",
        "Scenario matrix row:", "",
        matrix_markdown([run]), "",
    ]
    lines += _details(run)
    lines += [f"Files: [{PREDICTIONS}]({PREDICTIONS}) (one line per record: the model's raw "
              f"text, the validated plan, source, seconds), [{SUMMARY}]({SUMMARY}).", ""]
    path = run.dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- several runs -----------------------------------------------------------------------------

def write_comparison(run_dirs: Sequence[Path | str], out_dir: Path | str) -> Path:
    """report.md comparing runs: settings, overall metrics, per-metric plot, the matrix."""
    runs = [load_run(d) for d in run_dirs]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = unique_labels(runs)
    splits = {str(r.summary.get("split")) for r in runs}
    plot_comparison(runs, out / "comparison.png",
                    f"Planning benchmark on {', '.join(Path(s).name for s in sorted(splits))}")
    plot_matrix(runs, out / "matrix.png")
    lines = ["# Planning benchmark: comparison", ""]
    if len(splits) > 1 or len({r.summary.get("n") for r in runs}) > 1:
        which = "; ".join(f"{label}: {r.summary.get('split')}, n={r.summary.get('n')}"
                          for label, r in zip(labels, runs))
        lines += [f"**The runs are on different data** ({which}); their numbers are not "
                  f"directly comparable.", ""]
    lines += ["## Runs", "",
              _md_table(["run", "model", "adapter", "decoding", "examples", "data", "n",
                         "s / planned record (median)", "wall", "folder"],
                        [[_cell(l), _cell(r.summary.get("model")),
                          _cell(r.summary.get("adapter") or "–"), r.summary.get("decoding"),
                          r.summary.get("n_examples"), _cell(Path(str(r.summary.get("split"))).name),
                          r.summary.get("n"), fmt(r.summary.get("median_seconds_model"), 2),
                          f"{r.summary['wall_seconds']:.0f} s" if r.summary.get("wall_seconds") else "–",
                          _cell(str(r.dir))]
                         for l, r in zip(labels, runs)]), "",
              "## Overall", "",
              _md_table(["run", *(METRIC_NAMES[m] for m in METRICS), "Edge F1 (pooled)"],
                        [[_cell(l), *(fmt(r.summary["metrics"]["overall"].get(m)) for m in METRICS),
                          fmt(r.summary["metrics"]["overall"].get("edge_f1_micro"))]
                         for l, r in zip(labels, runs)]), "",
              "![each metric, one bar per run](comparison.png)", "",
              "## Scenario matrix", "",
              matrix_markdown(runs), "",
              "![the matrix](matrix.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    (out / "runs.json").write_text(json.dumps([str(r.dir) for r in runs], indent=2) + "\n",
                                   encoding="utf-8")
    return path


def write_matrix(run_dirs: Sequence[Path | str], out_dir: Path | str) -> tuple[Path, Path]:
    runs = [load_run(d) for d in run_dirs]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "matrix.md"
    md.write_text("# Planning benchmark: scenario matrix\n\n" + matrix_markdown(runs)
                  + "\n\n![the matrix](matrix.png)\n", encoding="utf-8")
    return md, plot_matrix(runs, out / "matrix.png")


def newest_report(root: Path | str) -> Path | None:
    """The most recently written report.md under `root` (a benchmarks folder)."""
    root = Path(root)
    if not root.is_dir():
        return None
    reports = [p for p in root.glob("*/report.md") if p.is_file()]
    return max(reports, key=lambda p: p.stat().st_mtime, default=None)
