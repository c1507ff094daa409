"""The planner role: the local model writes the plan for a request, constrained to valid plans.

The prompt (resources/prompts/planner.yaml) lists the experts; a few solved examples, picked
by similarity from the planning benchmark's train split, follow as earlier chat turns; then
the request and its files. With a model that takes a grammar (llama.cpp), decoding is held to
agent/plan_grammar.py's GBNF, so the output parses and names only allowed experts and
attached files; any model's output is then repaired (a `<GENERATED>-N` missing from `dep` is
added) and validated. Output that still fails falls back to the fixed rule (each file to the
experts for its kind), and the outcome says so.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from agent.llm import LLM
from agent.plan import (FILE_KINDS, GENERATED, SPEC_TOOLS, Plan, PlanError, Task, parse_plan,
                        validate)
from agent.plan_decoder import write_plan
from agent.plan_grammar import plan_grammar
from agent.prompts import load_prompt

MAX_TASKS = 6
MAX_PLAN_TOKENS = 320
# One example: on the default 0.5B model two gave slightly better plans but each costs ~1.5 s
# of prompt reading on this CPU (the examples change with every request, so they can't stay
# in the KV cache). benchmarks/agent.py measures both.
N_EXAMPLES = 1
# The plan when the model can't make one: each file to the experts for its kind.
RULE_EXPERTS = {
    "audio": ("speech-to-text",),
    "image": ("object-detection", "pose-estimation", "face-recognition"),
}
RULE_STEPS = {
    "speech-to-text": "Transcribe {file}",
    "object-detection": "Find the objects in {file}",
    "pose-estimation": "Find the people in {file} and their posture",
    "face-recognition": "Recognise the faces in {file}",
}
WORD = re.compile(r"[a-z0-9']+")
STOP = frozenset("a an and are at be can did do does for from i in is it me my of on or please "
                 "so that the there this to was what when where which who why with you your".split())


@dataclass
class ToolInfo:
    name: str
    description: str
    args: dict[str, str]  # argument -> kind: audio | image | text


@dataclass
class PlanOutcome:
    plan: Plan
    source: str  # model | rule (no expert can help) | fallback (the model's plan was unusable)
    seconds: float = 0.0
    raw: str = ""
    error: str | None = None
    repaired: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    decoding: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), "source": self.source,
                "seconds": round(self.seconds, 3), "error": self.error,
                "repaired": self.repaired, "examples": self.examples, "raw": self.raw,
                "stats": self.stats, "decoding": self.decoding}


@lru_cache(maxsize=1)
def train_examples() -> tuple[dict, ...]:
    """The benchmark's train split: the only records the planner may learn from."""
    path = resources.files("resources").joinpath("benchmark", "q2a_train.jsonl")
    if not path.is_file():
        return ()
    return tuple(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip())


# as much as sharing the kinds of files: the shipped examples are someone's idea of a request,
# the user's own are how they ask and what they meant (docs/learning.md, this user's tasks)
OWN_BONUS = 0.25


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def _kinds(files: list[str]) -> list[str]:
    from experts.inputs import kind_of

    return sorted(kind_of(f) or "other" for f in files)


def pick_examples(request: str, files: list[str], pool: tuple[dict, ...] | list[dict],
                  n: int = N_EXAMPLES) -> list[dict]:
    """The n records most like this request: word overlap, plus the same kinds of files
    (an audio request learns most from audio examples), plus OWN_BONUS for the user's own
    solved requests (records with a `source`: sync.learning.source.example_pool), which are
    worded as this user words things. Most similar last, nearest the request."""
    words, kinds = _words(request), _kinds(files)

    def score(rec: dict) -> float:
        other = _words(rec["instruction"])
        overlap = len(words & other) / max(1, len(words | other))
        rec_kinds = _kinds(rec.get("attachments", []))
        return (overlap + (0.5 if rec_kinds == kinds else 0.25 if set(rec_kinds) == set(kinds) else 0)
                + (OWN_BONUS if rec.get("source") else 0.0))

    ranked = sorted(pool, key=lambda r: (score(r), r["id"]), reverse=True)[:n]
    return list(reversed(ranked))


def rule_plan(files: dict[str, str], tools: dict[str, ToolInfo]) -> Plan:
    plan = Plan()
    for name, kind in files.items():
        for expert in RULE_EXPERTS.get(kind, ()):
            if expert not in tools:
                continue
            (arg,) = tools[expert].args
            plan.tasks.append(Task(expert, len(plan.tasks), [-1], {arg: name}))
            plan.steps.append(RULE_STEPS[expert].format(file=name))
    return plan


def repair(plan: Plan, tools: dict[str, dict[str, str]] = SPEC_TOOLS) -> list[str]:
    """Fix what has only one sensible reading; returns what was changed."""
    notes = []
    for t in plan.tasks:
        refs = [int(n) for value in t.args.values() for n in GENERATED.findall(str(value))]
        for ref in refs:
            if ref not in t.needs() and ref < t.id:
                t.dep = [*t.needs(), ref]
                notes.append(f"task {t.id}: added task {ref} to dep (its argument uses it)")
        # An expert reading a file takes nothing from a task it doesn't name: such a dep only
        # makes independent experts wait for each other (the 0.5B model often writes one).
        # Memory tasks keep theirs: a search planned after a save must see it.
        kinds = tools.get(t.task, {}).values()
        unused = [d for d in t.needs() if d not in refs]
        if kinds and all(k in FILE_KINDS for k in kinds) and unused:
            t.dep = [d for d in t.needs() if d in refs] or [-1]
            notes.append(f"task {t.id}: dropped dep {unused} (it reads a file, not their output)")
    return notes + _drop_repeats(plan)


def _drop_repeats(plan: Plan) -> list[str]:
    """Drop a task that repeats an earlier one (same expert, arguments and dependencies): it
    would give the same result, and an expert's run costs seconds. Small models write one when
    they wrote more steps than the request has (none of the 503 Q2A references has one). Its
    dependents take the earlier task's output instead."""
    same: dict[int, int] = {}
    seen: dict[tuple, int] = {}
    for t in plan.tasks:
        key = (t.task, json.dumps(_renamed(t.args, same), sort_keys=True),
               tuple(sorted({same.get(d, d) for d in t.needs()})))
        if key in seen:
            same[t.id] = seen[key]
        else:
            seen[key] = t.id
    if not same:
        return []
    if len(plan.steps) == len(plan.tasks):
        plan.steps = [s for s, t in zip(plan.steps, plan.tasks) if t.id not in same]
    renumber = [t.id for t in plan.tasks] == list(range(len(plan.tasks)))
    plan.tasks = [t for t in plan.tasks if t.id not in same]
    new = {t.id: i if renumber else t.id for i, t in enumerate(plan.tasks)}
    to = {old: new.get(same.get(old, old), old) for old in [*same, *new]}
    for t in plan.tasks:
        t.args = _renamed(t.args, to)
        t.dep = list(dict.fromkeys(to.get(d, d) for d in t.needs())) or [-1]
        t.id = to[t.id]
    return [f"task {old}: dropped (it repeats task {kept})" for old, kept in same.items()]


def _renamed(args: dict[str, Any], to: dict[int, int]) -> dict[str, Any]:
    """args with each `<GENERATED>-N` pointing at task to[N] instead."""
    def ref(m: re.Match) -> str:
        return f"<GENERATED>-{to.get(int(m.group(1)), int(m.group(1)))}"

    return {k: GENERATED.sub(ref, v) if isinstance(v, str) else v for k, v in args.items()}


class Planner:
    def __init__(self, llm: LLM, examples: tuple[dict, ...] | list[dict] | None = None,
                 n_examples: int = N_EXAMPLES, max_tasks: int = MAX_TASKS,
                 decoding: str | None = None):
        """`decoding`: "guided" (forced JSON skeleton, the model only chooses; llama.cpp),
        "grammar" (GBNF-constrained sampling) or "free" (parse and validate only). By default
        the most constrained one the model supports."""
        self.llm = llm
        self.examples = train_examples() if examples is None else examples
        self.n_examples = n_examples
        self.max_tasks = max_tasks
        if decoding is None:
            decoding = ("guided" if getattr(llm, "supports_guided", False)
                        else "grammar" if llm.supports_grammar else "free")
        self.decoding = decoding
        self.prompts = load_prompt("planner")

    def messages(self, request: str, files: dict[str, str], tools: dict[str, ToolInfo],
                 context: str = "", examples: list[dict] = ()) -> list[dict[str, str]]:
        described = self.prompts.get("tools", {})
        lines = "\n".join(f"- {t.name}({', '.join(t.args)}): {described.get(t.name, t.description)}"
                          for t in tools.values())
        out = [{"role": "system", "content": self.prompts["system"].format(tools=lines)}]
        for rec in examples:
            out.append({"role": "user", "content": self._user(rec["instruction"],
                                                              rec.get("attachments", []))})
            out.append({"role": "assistant", "content": json.dumps(rec["plan"], ensure_ascii=False)})
        user = self._user(request, list(files))
        if context:
            user = f"{self.prompts['context'].format(history=context)}\n{user}"
        out.append({"role": "user", "content": user})
        return out

    def _user(self, request: str, files: list[str]) -> str:
        return self.prompts["request"].format(
            request=request.strip(), files=", ".join(files) or self.prompts["no_files"])

    def plan(self, request: str, files: dict[str, str], tools: dict[str, ToolInfo], *,
             context: str = "", cancel: threading.Event | None = None) -> PlanOutcome:
        """Plan `request` over `tools` and attached `files` (name -> kind)."""
        start = time.perf_counter()
        specs = {t.name: t.args for t in tools.values()}
        usable = {n: a for n, a in specs.items()
                  if all(k not in FILE_KINDS or k in files.values() for k in a.values())}
        if not usable:
            return PlanOutcome(Plan(), "rule", time.perf_counter() - start)
        examples = pick_examples(request, list(files), self.examples, self.n_examples)
        messages = self.messages(request, files, {n: tools[n] for n in usable}, context, examples)
        if self.decoding == "guided":
            raw = self.llm.guided(messages, lambda session: write_plan(
                session, usable, files, self.max_tasks), cancel=cancel)
        else:
            kwargs: dict[str, Any] = {}
            if self.decoding == "grammar":
                kwargs["grammar"] = plan_grammar(usable, files, self.max_tasks)
            raw = self.llm.complete(messages, max_tokens=MAX_PLAN_TOKENS, temperature=0.0,
                                    cancel=cancel, **kwargs)
        stats = self.llm.last_stats.as_dict()
        ids = [rec["id"] for rec in examples]
        try:
            if stats.get("finish_reason") == "length":
                raise PlanError(f"The plan was cut off at {MAX_PLAN_TOKENS} tokens.")
            plan = parse_plan(raw)
            notes = repair(plan, usable)
            validate(plan, usable, files, self.max_tasks)
        except PlanError as exc:
            return PlanOutcome(rule_plan(files, tools), "fallback", time.perf_counter() - start,
                               raw, str(exc), examples=ids, stats=stats,
                               decoding=self.decoding)
        return PlanOutcome(plan, "model", time.perf_counter() - start, raw, repaired=notes,
                           examples=ids, stats=stats, decoding=self.decoding)
