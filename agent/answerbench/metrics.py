"""Scoring an answer against what the experts found: facts stated, experts named, nothing made up.

The reference is not a model's answer but the facts the request asks for, written by hand in
resources/benchmark/generate_answers.py from the same synthetic results the model is shown:
a fact is met when every one of its groups has an alternative in the answer, matched on whole
words after lower-casing and dropping punctuation. Keyword recall is coarse (it can't hear a
negation), so the benchmark reports it beside the other measures and the teacher's own score.

- fact recall: the share of a record's facts the answer states (mean over records);
- failures told: of the records where an expert failed, the share whose answer says so;
- citation precision / recall / F1: the experts named in the answer against those whose
  results it had (the chat prompt asks for the expert in brackets after each fact);
- invented numbers: the share of answers with a number that is nowhere in the prompt (a count
  or a date the model made up);
- words: the answer's length.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from agent.plan import SPEC_TOOLS

_NOT_WORD = re.compile(r"[^0-9a-z\u00c0-\u024f]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def normalize(text: str) -> str:
    return " " + " ".join(_NOT_WORD.sub(" ", text.lower()).split()) + " "


def occurs(alternative: str, answer: str) -> bool:
    """`alternative` as whole words in `answer` (both normalized)."""
    return normalize(alternative) in normalize(answer)


def fact_met(fact: dict, answer: str) -> bool:
    norm = normalize(answer)
    return all(any(normalize(alt) in norm for alt in group) for group in fact["all"])


def _expert_pattern(name: str) -> re.Pattern:
    # "(object-detection)", "object detection", "Object-Detection"
    return re.compile(r"\b" + r"[\s_-]?".join(map(re.escape, name.split("-"))) + r"\b", re.I)


_EXPERTS = {name: _expert_pattern(name) for name in SPEC_TOOLS}


def experts_named(answer: str) -> set[str]:
    return {name for name, pattern in _EXPERTS.items() if pattern.search(answer)}


def numbers(text: str) -> set[str]:
    return {n.replace(",", ".").lstrip("0") or "0" for n in _NUMBER.findall(text)}


def score_answer(record: dict, answer: str, tasks: Sequence[dict], prompt_text: str) -> dict:
    """One answer's measures. `tasks`: the task records the answer was written from;
    `prompt_text`: every word the model was shown."""
    facts = record.get("facts", [])
    met = [fact_met(f, answer) for f in facts]
    failure = [m for f, m in zip(facts, met) if f.get("kind") == "failure"]
    # recall: the experts whose results the answer uses; precision: naming an expert that was
    # not in the plan at all is wrong, naming one that failed (to say so) is not
    ran = {t["task"] for t in tasks if t.get("status") == "done"}
    planned = {t["task"] for t in tasks}
    named = experts_named(answer)
    precision = len(named & planned) / len(named) if named else (1.0 if not ran else 0.0)
    recall = len(named & ran) / len(ran) if ran else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    invented = sorted(numbers(answer) - numbers(prompt_text))
    return {"facts_met": sum(met), "facts": len(facts),
            "fact_recall": sum(met) / len(facts) if facts else 1.0,
            "failure_told": (all(failure) if failure else None),
            "cite_precision": precision, "cite_recall": recall, "cite_f1": f1,
            "named": sorted(named), "invented_numbers": invented,
            "words": len(answer.split())}


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def aggregate(scores: Sequence[dict]) -> dict:
    """The run's numbers from score_answer's per-answer ones."""
    told = [s["failure_told"] for s in scores if s["failure_told"] is not None]
    return {
        "n": len(scores),
        "fact_recall": _mean([s["fact_recall"] for s in scores]),
        "facts_met": sum(s["facts_met"] for s in scores),
        "facts": sum(s["facts"] for s in scores),
        "failures_told": _mean([float(t) for t in told]),
        "n_failures": len(told),
        "cite_precision": _mean([s["cite_precision"] for s in scores]),
        "cite_recall": _mean([s["cite_recall"] for s in scores]),
        "cite_f1": _mean([s["cite_f1"] for s in scores]),
        "invented_numbers": _mean([float(bool(s["invented_numbers"])) for s in scores]),
        "median_words": statistics.median([s["words"] for s in scores]) if scores else None,
        "empty": sum(1 for s in scores if s["words"] == 0),
    }


def answer_score(metrics: dict) -> float:
    """One number for a gate: facts weigh most (they are what the user asked for); naming the
    expert is the house style the prompt asks for."""
    return round(0.75 * metrics["fact_recall"] + 0.25 * metrics["cite_f1"], 4)
