"""The gate: a night's adapter replaces the active one only if the benchmark says it is better.

Both sides are planned by the app's own Planner (one solved example, guided decoding, the app's
decision whether to plan at all) and scored with the planning benchmark's metrics:
- the user's held-out examples — labels of this user the adapter never trained on (a fixed
  fifth of them, chosen by a hash of the request, so a request is held out every night or never);
- a fixed sample of the Q2A dev split — general planning, where a night must do no damage.
The decision's number is the plan score: the mean of node F1 and argument-value F1 (which tool,
and called on what). Kept when the plan score on the user's examples is higher than the active
model's and the general one is not lower by more than the margin.

A handful of held-out examples often scores 1.00 before and after (the base model already plans
them right), and a strict "higher" could then never keep anything. The tie is broken on the same
examples by how likely the model finds their reference plans (mean log-likelihood per token of
the plan as trained on, under the app's own prompt): deterministic, and finer than right/wrong.

Each agent role has its own adapter, trained on its own labels (sync.learning.app_night), and
each is checked on its own kind of example. The summarizer's adapter is kept when the user's
held-out answers (the cloud's, which carry no reference facts to score) become more likely
and the answers to the answer benchmark's general records (agent.answerbench, dev split)
score no lower beyond a margin (`decide_answers`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MARGIN = 0.03
ANSWER_MARGIN = 0.05  # answer score; one fact of ~35 in the general answers is ~0.02
NLL_EPS = 0.005  # nats per token: smaller differences count as a tie
HELD_OUT_SHARE = 0.2
GENERAL_N = 20
GENERAL_ANSWERS_N = 16
REPORTED = ("node_f1", "edge_f1", "arg_value_f1", "validity")
ANSWER_REPORTED = ("fact_recall", "cite_f1", "failures_told", "invented_numbers")


class GateError(RuntimeError):
    """The gate could not evaluate a model (it then keeps what is active)."""


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def split_held_out(records: Sequence[dict], share: float = HELD_OUT_SHARE,
                   key: Callable[[dict], str] | None = None) -> tuple[list[dict], list[dict]]:
    """(train, held out): records whose key hashes into the lowest `share` are held out; when
    none does, the one with the lowest hash (a gate needs at least one example of the user's)."""
    from sync.learning.examples import record_key

    key = key or record_key
    if not records:
        return [], []
    hashes = [_hash(key(r)) / 0xFFFFFFFF for r in records]
    held = [i for i, h in enumerate(hashes) if h < share]
    if not held and len(records) > 1:
        held = [min(range(len(records)), key=hashes.__getitem__)]
    held_set = set(held)
    return ([r for i, r in enumerate(records) if i not in held_set],
            [r for i, r in enumerate(records) if i in held_set])


def _spread(records: Sequence[dict], n: int) -> list[dict]:
    """n records round-robin over their scenarios, each scenario in a stable hashed order."""
    by_scenario: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: _hash(r["id"])):
        by_scenario.setdefault(r.get("scenario", ""), []).append(r)
    out: list[dict] = []
    while len(out) < n and any(by_scenario.values()):
        for scenario in sorted(by_scenario):
            if by_scenario[scenario] and len(out) < n:
                out.append(by_scenario[scenario].pop(0))
    return out


def general_records(n: int = GENERAL_N) -> list[dict]:
    """A fixed sample of the Q2A dev split's records the app plans, spread over its scenarios."""
    from agent.planbench.runner import app_plans_record, load_records

    records, _ = load_records("dev")
    return _spread([r for r in records if app_plans_record(r)], n)


def general_answer_records(n: int = GENERAL_ANSWERS_N) -> list[dict]:
    """A fixed sample of the answer benchmark's dev records, spread over its scenarios."""
    from agent.answerbench.runner import load_records

    return _spread(load_records("dev"), n)


def plan_score(metrics: dict) -> float:
    return (metrics["node_f1"] + metrics["arg_value_f1"]) / 2


def examples_nll(llm, examples: Sequence) -> float | None:
    """Mean negative log-likelihood per token (nats) of the examples' targets, each after its
    prompt as training renders it (examples.ChatTokenizer); None for no examples."""
    import numpy as np

    from sync.learning import examples as ex

    if not examples:
        return None
    tokenizer = ex.ChatTokenizer(llm.model_path)
    try:
        sequences = [tokenizer.encode(e) for e in examples]
    finally:
        tokenizer.close()
    llama = llm.load()
    total, count = 0.0, 0
    for seq in sequences:
        ids, n_prompt = seq["input_ids"], seq["n_prompt"]
        llama.reset()
        llama.eval(ids[:n_prompt])
        for token in ids[n_prompt:]:
            logits = np.ctypeslib.as_array(llama._ctx.get_logits(),
                                           shape=(llama.n_vocab(),)).astype(np.float64)
            top = logits.max()
            total -= logits[token] - top - np.log(np.exp(logits - top).sum())
            count += 1
            llama.eval([token])
    llama.reset()
    return round(total / count, 4)


def reference_nll(llm, records: Sequence[dict]) -> float | None:
    """examples_nll of the records' reference plans, each after the prompt the app's Planner
    builds for it (as sync.learning.examples trains them)."""
    from sync.learning import examples as ex

    return examples_nll(llm, ex.planner_examples(records).examples)


def answer_nll(llm, records: Sequence[dict]) -> float | None:
    """examples_nll of answer labels (source.answer_records) after the summarizer's prompt."""
    from sync.learning import examples as ex

    return examples_nll(llm, ex.answer_examples(records).examples)


def _plan_scores(llm, planner, pool, records, name, cancel, on_record, likelihood) -> dict:
    from agent.planbench.runner import predict, score_records

    predictions = []
    for i, rec in enumerate(records):
        if cancel is not None and cancel.is_set():
            raise GateError("The evaluation was cancelled.")
        planner.examples = [r for r in pool if r["id"] != rec.get("id")]
        predictions.append(predict(planner, rec))
        if on_record is not None:
            on_record(name, i + 1, len(records))
    overall = score_records(records, predictions, bertscore=False)["overall"]
    scores = {k: round(float(overall[k]), 4) for k in REPORTED}
    scores["n"] = len(records)
    scores["score"] = round(plan_score(scores), 4)
    if likelihood:
        scores["nll"] = reference_nll(llm, records)
    return scores


def _answer_scores(llm, records, name, cancel, on_record) -> dict:
    """The answer benchmark's measures of the model's answers to these records."""
    from agent.answerbench import metrics, runner

    scored = []
    for i, rec in enumerate(records):
        if cancel is not None and cancel.is_set():
            raise GateError("The evaluation was cancelled.")
        scored.append(runner.answer(llm, rec)["score"])
        if on_record is not None:
            on_record(name, i + 1, len(records))
    overall = metrics.aggregate(scored)
    scores = {k: overall[k] for k in ANSWER_REPORTED}
    return {**scores, "n": len(records), "score": metrics.answer_score(overall)}


def evaluate(model_path: Path | str, adapter: Path | str | None,
             sets: dict[str, Sequence[dict]], *, chat_template: str | None = None,
             n_threads: int | None = None, cancel: threading.Event | None = None,
             on_record: Callable[[str, int, int], None] | None = None,
             likelihood: Sequence[str] = ("user",),
             pool: Sequence[dict] | None = None) -> dict[str, dict]:
    """The model (with the adapter, loaded once) on each set, by its name:
    "user" / "general": plan records, planned by the app's Planner and scored
    ({node_f1, edge_f1, arg_value_f1, validity, n, score[, nll]}; `nll` (reference_nll) for the
    sets named in `likelihood`); "user_answers": answer labels ({n, nll}: answer_nll);
    "general_answers": answer benchmark records ({fact_recall, cite_f1, …, n, score}).
    Each gets `seconds`. Raises GateError when the adapter is refused: an adapter that can't be
    loaded is never measured as the base model. `pool`: the planner's examples, as the app
    plans (source.example_pool); a record is never its own example."""
    import time

    from agent.planner import Planner
    from sync.learning.gguf_lora import llm_with_adapter

    if not sets or not all(sets.values()):
        raise GateError("Nothing to evaluate on.")
    unknown = set(sets) - {"user", "general", "user_answers", "general_answers"}
    if unknown:
        raise GateError(f"Unknown evaluation sets: {', '.join(sorted(unknown))}.")
    kwargs: dict[str, Any] = {"n_ctx": 2048, "chat_template": chat_template}
    if n_threads:
        kwargs["n_threads"] = n_threads
    llm, error = llm_with_adapter(model_path, adapter, **kwargs)
    if error is not None:
        llm.close()
        raise GateError(error)
    out: dict[str, dict] = {}
    try:
        planner = Planner(llm, examples=pool)
        if planner.decoding == "guided" and ({"user", "general"} & set(sets)):
            llm.vocab_masks()
        pool = planner.examples
        for name, records in sets.items():
            start = time.perf_counter()
            if name == "user_answers":
                scores = {"n": len(records), "nll": answer_nll(llm, records)}
            elif name == "general_answers":
                scores = _answer_scores(llm, records, name, cancel, on_record)
            else:
                scores = _plan_scores(llm, planner, pool, records, name, cancel, on_record,
                                      name in likelihood)
            scores["seconds"] = round(time.perf_counter() - start, 1)
            out[name] = scores
    finally:
        llm.close()
    return out


def decide(before: dict, after: dict, margin: float = MARGIN) -> tuple[bool, str]:
    """(kept, why) from {"user": scores, "general": scores} before and after the night."""
    ub, ua = before["user"]["score"], after["user"]["score"]
    gb, ga = before["general"]["score"], after["general"]["score"]
    nb, na = before["user"].get("nll"), after["user"].get("nll")
    if ua > ub:
        better = f"your held-out examples {ub:.2f} → {ua:.2f}"
    elif ua == ub and nb is not None and na is not None and na < nb - NLL_EPS:
        better = (f"your held-out examples planned as well ({ua:.2f}) and their right plans "
                  f"more likely ({nb:.3f} → {na:.3f} nats a token)")
    else:
        tie = "" if nb is None or na is None else f"; likelihood {nb:.3f} → {na:.3f} nats a token"
        return False, (f"Rejected: no better on your held-out examples "
                       f"(plan score {ub:.2f} → {ua:.2f}{tie}).")
    if ga < gb - margin:
        return False, (f"Rejected: better on your examples ({better}) but worse on general "
                       f"planning ({gb:.2f} → {ga:.2f}, more than the {margin:.2f} allowed).")
    return True, f"Kept: {better}; general planning {gb:.2f} → {ga:.2f}."


def decide_answers(before: dict, after: dict,
                   margin: float = ANSWER_MARGIN) -> tuple[bool, str]:
    """(kept, why) for the summarizer's adapter from {"user_answers", "general_answers"}."""
    nb, na = before["user_answers"]["nll"], after["user_answers"]["nll"]
    if nb is None or na is None:
        return False, "Rejected: none of your held-out answers could be read."
    if na >= nb - NLL_EPS:
        return False, (f"Rejected: your held-out answers are no more likely ({nb:.3f} → "
                       f"{na:.3f} nats a token).")
    gb, ga = before["general_answers"]["score"], after["general_answers"]["score"]
    if ga < gb - margin:
        return False, (f"Rejected: your held-out answers are more likely ({nb:.3f} → {na:.3f} "
                       f"nats a token) but general answers are worse ({gb:.2f} → {ga:.2f}, "
                       f"more than the {margin:.2f} allowed).")
    return True, (f"Kept: your held-out answers more likely ({nb:.3f} → {na:.3f} nats a "
                  f"token); general answers {gb:.2f} → {ga:.2f}.")


class ScoreCache:
    """Scores of a model + adapter on a set of records, kept between nights: the active model's
    general score is the same every night until it changes."""

    def __init__(self, path: Path):
        self.path = path

    @staticmethod
    def key(model_path: Path | str, adapter: Path | str | None, records: Sequence[dict],
            pool: Sequence[dict] = ()) -> str:
        ids = json.dumps([[[r.get("id"), r.get("instruction"), r.get("plan")] for r in part]
                          for part in (records, pool)], sort_keys=True, ensure_ascii=False)
        return json.dumps(["v3", str(model_path), str(adapter) if adapter else None,
                           hashlib.sha256(ids.encode("utf-8")).hexdigest()[:16]])

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def get(self, key: str) -> dict | None:
        return self._read().get(key)

    def put(self, key: str, scores: dict) -> None:
        data = self._read()
        data[key] = scores
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(self.path)
