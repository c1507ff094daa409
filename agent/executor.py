"""The executor: runs a validated plan's tasks in dependency order and records each one.

Each task's record holds what it was asked (args as planned), what it got (inputs with files
and `<GENERATED>-N` resolved), its output or error, its time and status. A failed task fails
only the tasks that need its output; the rest run, and the summarizer is told what failed.
Tasks whose dependencies are done start at once, several at a time when they use different
experts (each expert has its own serial queue, so two tasks of one expert would only wait).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.events import TaskFinished, TaskStarted
from agent.expert_context import summarize
from agent.plan import FILE_KINDS, GENERATED, GENERATED_ONLY, Plan, Task

# run_tool(name, inputs, cancel) -> experts.base.ExpertResult; raises ExpertError
RunTool = Callable[[str, dict[str, Any], threading.Event | None], Any]
# caller(task, text) -> the argument the tool should get (a search query from a transcript)
Caller = Callable[[Task, str], str]

MAX_GENERATED_CHARS = 2000


@dataclass
class TaskRecord:
    id: int
    task: str
    step: str
    args: dict[str, Any]
    dep: list[int]
    status: str = "waiting"  # waiting | running | done | failed | skipped | stopped
    inputs: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    summary: str = ""
    error: str | None = None
    seconds: float = 0.0
    annotated: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "step": self.step, "args": self.args,
                "dep": self.dep, "status": self.status, "inputs": self.inputs,
                "output": self.output, "summary": self.summary, "error": self.error,
                "seconds": round(self.seconds, 3), "annotated": self.annotated}


def output_text(record: TaskRecord) -> str:
    """What `<GENERATED>-N` stands for when a later task takes task N's output as text."""
    out = record.output or {}
    if record.task == "speech-to-text":
        text = (out.get("text") or "").strip()
    elif record.task == "memory-search":
        text = "; ".join(m["text"] for m in out.get("memories", []))
    else:
        text = record.summary
    return text[:MAX_GENERATED_CHARS]


def initial_records(plan: Plan) -> list[TaskRecord]:
    steps = plan.steps
    return [TaskRecord(t.id, t.task, steps[i] if i < len(steps) else t.task, dict(t.args),
                       list(t.dep)) for i, t in enumerate(plan.tasks)]


class Executor:
    def __init__(self, run_tool: RunTool, files: dict[str, Path],
                 arg_kinds: dict[str, dict[str, str]], caller: Caller | None = None,
                 parallel: bool = True):
        """`files`: attachment name -> stored path; `arg_kinds`: task -> {arg: kind}."""
        self.run_tool = run_tool
        self.files = files
        self.arg_kinds = arg_kinds
        self.caller = caller
        self.parallel = parallel

    def _inputs(self, task: Task, records: dict[int, TaskRecord]) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for name, value in task.args.items():
            kind = self.arg_kinds.get(task.task, {}).get(name, "text")
            if kind in FILE_KINDS:
                if GENERATED.search(value) or value not in self.files:
                    raise ValueError(f"{value!r} is not an attached file.")
                inputs[name] = str(self.files[value])
                continue
            whole = GENERATED_ONLY.match(value)
            text = GENERATED.sub(lambda m: output_text(records[int(m.group(1))]), value)
            if whole and self.caller is not None:
                text = self.caller(task, text)  # a transcript becomes a search query, say
            inputs[name] = text
        return inputs

    def run(self, plan: Plan, records: list[TaskRecord],
            cancel: threading.Event | None = None) -> Iterator[TaskStarted | TaskFinished]:
        """Run the plan, updating `records` (from initial_records) in place."""
        by_id = {r.id: r for r in records}
        tasks = {t.id: t for t in plan.order()}
        pending = list(tasks)
        running: dict[Future, tuple[int, float]] = {}
        pool = ThreadPoolExecutor(max_workers=max(1, len(tasks)), thread_name_prefix="hearth-task")
        try:
            while pending or running:
                stopped = cancel is not None and cancel.is_set()
                for tid in list(pending):
                    rec, task = by_id[tid], tasks[tid]
                    if stopped:
                        rec.status, rec.error = "stopped", "Stopped before it ran."
                        pending.remove(tid)
                        yield TaskFinished(rec.to_dict())
                        continue
                    deps = [by_id[d] for d in task.needs()]
                    if any(d.status in ("failed", "skipped", "stopped") for d in deps):
                        bad = next(d for d in deps if d.status in ("failed", "skipped", "stopped"))
                        rec.status = "skipped"
                        rec.error = f"Needs the output of step {bad.id + 1} ({bad.task}), which {bad.status}."
                        pending.remove(tid)
                        yield TaskFinished(rec.to_dict())
                        continue
                    if not all(d.status == "done" for d in deps):
                        continue
                    busy = {by_id[i].task for i, _ in running.values()}
                    if running and (not self.parallel or task.task in busy):
                        continue
                    pending.remove(tid)
                    try:
                        rec.inputs = self._inputs(task, by_id)
                    except Exception as exc:  # noqa: BLE001 - a bad argument fails this task only
                        rec.status, rec.error = "failed", str(exc)
                        yield TaskFinished(rec.to_dict())
                        continue
                    rec.status = "running"
                    yield TaskStarted(rec.to_dict())
                    future = pool.submit(self.run_tool, task.task, rec.inputs, cancel)
                    running[future] = (tid, time.perf_counter())
                if not running:
                    continue
                done, _ = wait(list(running), timeout=0.1, return_when=FIRST_COMPLETED)
                for future in done:
                    tid, started = running.pop(future)
                    yield TaskFinished(self._finish(by_id[tid], future, started, cancel).to_dict())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _finish(rec: TaskRecord, future: Future, started: float,
                cancel: threading.Event | None) -> TaskRecord:
        rec.seconds = time.perf_counter() - started
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - ExpertError and anything else: this task failed
            rec.status = "stopped" if cancel is not None and cancel.is_set() else "failed"
            rec.error = str(exc)
            rec.summary = summarize(rec.task, None, rec.error)
            return rec
        rec.status = "done"
        rec.output = result.data
        rec.seconds = result.seconds or rec.seconds
        rec.annotated = str(result.annotated) if result.annotated else None
        rec.summary = summarize(rec.task, result.data)
        return rec
