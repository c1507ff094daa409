"""A plan: the task graph of ../shared/spec/plan-format.md, parsed and checked before anything runs.

The planner, the executor, the Q2A data and the planning benchmark all go through `parse_plan`
and `validate`, so "valid" means one thing everywhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

GENERATED = re.compile(r"<GENERATED>-(\d+)")
GENERATED_ONLY = re.compile(r"^<GENERATED>-(\d+)$")

# The six experts of the spec and their arguments: argument name -> kind.
SPEC_TOOLS: dict[str, dict[str, str]] = {
    "speech-to-text": {"audio": "audio"},
    "object-detection": {"image": "image"},
    "pose-estimation": {"image": "image"},
    "face-recognition": {"image": "image"},
    "memory-search": {"text": "text"},
    "memory-save": {"text": "text"},
}
FILE_KINDS = ("audio", "image")


class PlanError(ValueError):
    """The plan does not parse or breaks a rule; the message says which."""


@dataclass
class Task:
    task: str
    id: int
    dep: list[int]
    args: dict[str, Any]

    def needs(self) -> list[int]:
        """The tasks this one waits for (`[-1]` means none)."""
        return [d for d in self.dep if d != -1]

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "id": self.id, "dep": list(self.dep), "args": dict(self.args)}


@dataclass
class Plan:
    steps: list[str] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "tasks": [t.to_dict() for t in self.tasks]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def order(self) -> list[Task]:
        """Tasks in an order where each comes after its dependencies (assumes a valid plan)."""
        by_id = {t.id: t for t in self.tasks}
        done: set[int] = set()
        out: list[Task] = []
        pending = list(self.tasks)
        while pending:
            ready = [t for t in pending if all(d in done for d in t.needs())]
            if not ready:
                raise PlanError("The plan's tasks depend on each other in a cycle.")
            for t in ready:
                out.append(t)
                done.add(t.id)
            pending = [t for t in pending if t.id not in done]
        assert len(out) == len(by_id)
        return out


def _first_json_object(text: str) -> Any:
    """The JSON object in `text`, tolerating prose or code fences around it (unconstrained
    models and cloud answers add them)."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    start = text.find("{")
    if start < 0:
        raise PlanError("The plan is not JSON: no '{' in the model's output.")
    first_error = None
    while start >= 0:  # prose before the plan may hold braces of its own
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[start:])
            if isinstance(obj, dict):
                return obj
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
        start = text.find("{", start + 1)
    if first_error is None:
        raise PlanError("The plan is not a JSON object.")
    raise PlanError(f"The plan is not valid JSON: {first_error.msg} at character "
                    f"{first_error.pos}.")


def plan_from_obj(obj: Any) -> Plan:
    if not isinstance(obj, dict):
        raise PlanError("The plan must be a JSON object with 'steps' and 'tasks'.")
    steps = obj.get("steps", [])
    tasks = obj.get("tasks")
    if not isinstance(tasks, list):
        raise PlanError("The plan has no 'tasks' list.")
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise PlanError("The plan's 'steps' must be a list of strings.")
    out: list[Task] = []
    for i, t in enumerate(tasks):
        if not isinstance(t, dict):
            raise PlanError(f"Task {i} is not an object.")
        name, tid, dep, args = t.get("task"), t.get("id", i), t.get("dep", [-1]), t.get("args", {})
        if not isinstance(name, str):
            raise PlanError(f"Task {i} has no 'task' name.")
        if not isinstance(tid, int) or isinstance(tid, bool):
            raise PlanError(f"Task {i}'s id must be an integer.")
        if isinstance(dep, int) and not isinstance(dep, bool):
            dep = [dep]
        if not isinstance(dep, list) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                for d in dep):
            raise PlanError(f"Task {i}'s 'dep' must be a list of task ids.")
        if not isinstance(args, dict):
            raise PlanError(f"Task {i}'s 'args' must be an object.")
        out.append(Task(name, tid, dep or [-1], args))
    return Plan(list(steps), out)


def parse_plan(text: str) -> Plan:
    """Parse a plan from model output; raises PlanError (it does not check the rules)."""
    return plan_from_obj(_first_json_object(text))


def validate(plan: Plan, tools: dict[str, dict[str, str]] = SPEC_TOOLS,
             attachments: list[str] | dict[str, str | None] | None = None,
             max_tasks: int | None = None) -> Plan:
    """Check the graph rules of the spec; raises PlanError naming the first broken one.

    `tools` maps each allowed task to its arguments (name -> kind). With `attachments` (names,
    or names -> kind), a file argument must name one of them (of that kind).
    """
    if max_tasks is not None and len(plan.tasks) > max_tasks:
        raise PlanError(f"The plan has {len(plan.tasks)} tasks; at most {max_tasks} may run.")
    ids = [t.id for t in plan.tasks]
    if len(set(ids)) != len(ids):
        raise PlanError("Two tasks share an id.")
    known = set(ids)
    for t in plan.tasks:
        if t.task not in tools:
            raise PlanError(f"Task {t.id} calls {t.task!r}, which is not an expert Hearth has.")
        if t.id < 0:
            raise PlanError(f"Task {t.id} has a negative id.")
        for d in t.needs():
            if d not in known:
                raise PlanError(f"Task {t.id} depends on task {d}, which is not in the plan.")
            if d == t.id:
                raise PlanError(f"Task {t.id} depends on itself.")
        spec = tools[t.task]
        if set(t.args) != set(spec):
            raise PlanError(f"Task {t.id} ({t.task}) takes {sorted(spec)}; got {sorted(t.args)}.")
        for name, value in t.args.items():
            if not isinstance(value, str):
                raise PlanError(f"Task {t.id}'s argument {name!r} must be a string.")
            refs = [int(n) for n in GENERATED.findall(value)]
            for ref in refs:
                if ref not in t.needs():
                    raise PlanError(f"Task {t.id} uses <GENERATED>-{ref} but does not depend on "
                                    f"task {ref}.")
            if spec[name] in FILE_KINDS and not refs and attachments is not None:
                if value not in attachments:
                    raise PlanError(f"Task {t.id} ({t.task}) reads {value!r}, which is not an "
                                    f"attached file ({', '.join(attachments) or 'none attached'}).")
                kind = attachments.get(value) if isinstance(attachments, dict) else spec[name]
                if kind != spec[name]:
                    raise PlanError(f"Task {t.id} ({t.task}) needs {spec[name]}, but {value!r} "
                                    f"is {kind or 'neither audio nor an image'}.")
    plan.order()  # raises on a cycle
    return plan
