"""Where a night's labels come from: the `training_examples` table.

Two kinds of rows teach the planner: the cloud's plans (stored by sync.service with the user's
training consent) and the user's own corrections (a thumbs-down with an edited plan, always
consented: nothing of it leaves the machine). A cloud row's instruction is the payload's user
turns — the one solved example and then the request, each as "Request: …\\nFiles: …" — so the
request is the last of those blocks.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from agent.plan import PlanError, parse_plan, validate
from agent.prompts import load_prompt
from memory.db import Database
from sync.labels import TrainingExamples, TrainingRecord

CORRECTION_SOURCE = "user-correction"


def _request_pattern() -> re.Pattern:
    # built from the planner prompt's own template, so a reworded prompt still parses
    template = load_prompt("planner")["request"]
    head, _, rest = template.partition("{request}")
    middle, _, tail = rest.partition("{files}")
    return re.compile(re.escape(head) + r"(?P<request>.*?)" + re.escape(middle)
                      + r"(?P<files>[^\n]*)" + re.escape(tail), re.S)


def request_turn(request: str, files: list[str]) -> str:
    """The planner's user turn for a request, as stored in training_examples."""
    prompts = load_prompt("planner")
    return prompts["request"].format(request=request.strip(),
                                     files=", ".join(files) or prompts["no_files"])


def parse_request_turn(instruction: str) -> tuple[str, list[str]]:
    """(request, file names) of the last "Request: … / Files: …" block of a stored instruction;
    raises ValueError when there is none."""
    matches = list(_request_pattern().finditer(instruction))
    if not matches:
        raise ValueError("The stored instruction holds no planner request.")
    last = matches[-1]
    files = last["files"].strip()
    names = [] if files == load_prompt("planner")["no_files"] else \
        [f.strip() for f in files.split(",") if f.strip()]
    return last["request"].strip(), names


def to_record(row: TrainingRecord) -> dict:
    """A planner record {id, instruction, attachments, plan, source} of a stored row; raises
    ValueError / PlanError when the row can't be one."""
    request, files = parse_request_turn(row.instruction)
    plan = parse_plan(row.target)
    return {"id": f"te-{row.id}", "instruction": request, "attachments": files,
            "plan": plan.to_dict(), "source": row.source,
            "created": row.created_at.isoformat() if row.created_at else None}


def training_records(db: Database) -> tuple[list[dict], list[dict]]:
    """(records, left out with the reason): the consented planner rows, oldest first, so a
    later label (a correction) replaces an earlier one for the same request in dedupe."""
    records, skipped = [], []
    for row in TrainingExamples(db).list(consented_only=True, role="planner"):
        try:
            records.append(to_record(row))
        except (ValueError, PlanError) as exc:
            skipped.append({"id": f"te-{row.id}", "reason": str(exc)})
    return records, skipped


def answer_turn(instruction: str) -> tuple[str, bool]:
    """(the local summarizer's user turn, whether it holds expert results) for a stored cloud
    "answer" instruction. The cloud read the same request and results lines (sync.payload
    builds them with the summarizer's own task lines); only the closing note differs."""
    cloud_note = load_prompt("cloud")["results_note"]
    local_note = load_prompt("chat")["attachments_note"]
    text = instruction.rstrip()
    if text.endswith("</attached_files>\n" + cloud_note):
        return text[:-len(cloud_note)] + local_note, True
    return text, False


def answer_records(db: Database) -> tuple[list[dict], list[dict]]:
    """(records, left out with the reason): the consented summarizer rows (the cloud's
    answers), oldest first, as {id, request (the local user turn), with_results, answer}."""
    records, skipped = [], []
    for row in TrainingExamples(db).list(consented_only=True, role="summarizer"):
        turn, with_results = answer_turn(row.instruction)
        if not turn.strip() or not row.target.strip():
            skipped.append({"id": f"te-{row.id}", "reason": "no request or no answer"})
            continue
        records.append({"id": f"te-{row.id}", "request": turn, "with_results": with_results,
                        "answer": row.target.strip(), "source": row.source,
                        "created": row.created_at.isoformat() if row.created_at else None})
    return records, skipped


def example_pool(db: Database) -> list[dict]:
    """The planner's solved examples for this user: the shipped train split, then the user's
    own labels (the cloud's plans they approved for training, their corrections). The planner
    shows the one most like each request, so a kind of request the shipped split lacks is
    planned from how it was solved for this user before, from the first label on, with no
    night needed (docs/learning.md, "The thesis on this user's tasks"). Only the local prompt
    sees them: the cloud payload's example stays from the train split (sync.payload)."""
    from agent.planbench.runner import app_tools
    from agent.planner import train_examples
    from sync.learning.examples import dedupe

    records, _ = training_records(db)
    # a cloud plan may use an expert the app would not have offered for that request (it
    # saves to memory unasked): shown as an example, it would teach just that
    offered = [r for r in dedupe(records)
               if {t["task"] for t in r["plan"]["tasks"]} <= set(app_tools(r["instruction"]))]
    return [*train_examples(), *offered]


def count_since(db: Database, since: datetime | None) -> int:
    """Consented rows (plans and answers) stored after `since` (all of them for None): whether
    a night has anything new to learn."""
    rows = TrainingExamples(db).list(consented_only=True)
    if since is None:
        return len(rows)
    since = since.replace(tzinfo=None)  # the table stores naive UTC
    return sum(1 for r in rows if r.created_at and r.created_at > since)


def save_correction(db: Database, request: str, files: list[str],
                    plan: dict | str) -> TrainingRecord:
    """The user's corrected plan for `request` (with these attached files) as a label.
    Raises PlanError, saying what is wrong, when the plan is not one Hearth could run."""
    if not request.strip():
        raise PlanError("The correction needs the request it answers.")
    text = plan if isinstance(plan, str) else json.dumps(plan, ensure_ascii=False)
    from agent.planbench.runner import app_files

    parsed = parse_plan(text)
    validate(parsed, attachments=app_files(files), max_tasks=6)  # names and their kinds
    if not parsed.tasks:
        raise PlanError("The plan has no tasks; a correction needs at least one expert call.")
    return TrainingExamples(db).add("planner", request_turn(request, files), parsed.to_json(),
                                    CORRECTION_SOURCE, True)
