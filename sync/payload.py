"""The one function every cloud send goes through: build_payload.

It takes the user's instruction, the experts' task records and the attachment names, and
returns the exact messages the cloud will get, anonymized (sync.anonymizer), plus the mapping
that restores the reply. What it never puts in: file contents (it opens no file), local paths
(only base names, and those as <FILE_N>.ext), the records' resolved inputs or annotated-image
paths, the mapping. `Payload.messages` is sent verbatim; the outbox stores `Payload.to_dict()`
so the user sees exactly what left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.prompts import load_prompt
from sync.anonymizer import Anonymizer

SCHEMA = "hearth.cloud/1"
KINDS = ("answer", "plan")


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["hearth.cloud/1"] = Field(SCHEMA, alias="schema")
    kind: Literal["answer", "plan"]
    endpoint: str
    model: str
    messages: list[Message]
    created: str  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Payload:
        return cls.model_validate(data)

    def chat_messages(self) -> list[dict[str, str]]:
        """The messages as the OpenAI client takes them: exactly what is sent."""
        return [m.model_dump() for m in self.messages]


@dataclass
class BuiltPayload:
    payload: Payload
    mapping: dict[str, str]  # placeholder -> original; stays on this machine


def base_name(name: str) -> str:
    """A file's name without any folder, for POSIX and Windows paths alike."""
    return re.split(r"[\\/]", str(name).rstrip("\\/"))[-1]


def result_line(record: dict[str, Any]) -> str:
    """One task record as text: its expert, the file it ran on, what it found or why it
    failed. Only these fields are read; a record's `inputs` (resolved local paths) and
    `annotated` (an image path) are not."""
    from agent.expert_context import task_line

    task = {k: record.get(k) for k in ("task", "args", "status", "output", "error")}
    task["task"] = str(task["task"] or "expert")
    task["args"] = {k: base_name(v) if isinstance(v, str) else v
                    for k, v in (task["args"] or {}).items()}
    if task["output"] is None and record.get("summary") and not task["error"]:
        where = ", ".join(str(v) for v in task["args"].values())
        head = f"{task['task']} on {where}" if where else task["task"]
        return f"{head}: {record['summary']}"
    return task_line(task)


def _face_names(records: list[dict]) -> list[str]:
    names = []
    for record in records:
        if record.get("task") == "face-recognition":
            for face in (record.get("output") or {}).get("faces", []) or []:
                name = face.get("name") if isinstance(face, dict) else None
                if isinstance(name, str) and name.strip():
                    names.append(name.strip())
    return names


def _tool_infos(tools: dict) -> dict:
    from agent.planner import ToolInfo

    infos = {}
    for name, tool in tools.items():
        if isinstance(tool, ToolInfo):
            infos[name] = tool
        elif isinstance(tool, dict):
            infos[name] = ToolInfo(name, str(tool.get("description", "")),
                                   dict(tool.get("args", {})))
        else:
            raise TypeError(f"Tool {name!r}: expected a ToolInfo or a dict, "
                            f"got {type(tool).__name__}.")
    return infos


def build_payload(*, kind: Literal["answer", "plan"], instruction: str, results: list[dict],
                  files: list[str], endpoint: str, model: str, anonymizer: Anonymizer,
                  tools: dict | None = None) -> BuiltPayload:
    """kind "answer": the cloud answers the request from the experts' results.
    kind "plan": the cloud writes a plan (../shared/spec/plan-format.md) over `tools`."""
    if kind not in KINDS:
        raise ValueError(f"Unknown payload kind {kind!r}; use one of: {', '.join(KINDS)}.")
    if not isinstance(instruction, str):
        raise TypeError("The instruction must be text.")
    if kind == "plan" and not tools:
        raise ValueError("A plan payload needs the tools the plan may use.")
    prompts = load_prompt("cloud")
    names = list(dict.fromkeys(base_name(f) for f in files or () if base_name(f)))
    # The names as the user attached them are replaced whole (the stem may hold a name:
    # "alice_passport.jpg"); the extension stays so the cloud knows the kind of file.
    known = {name: "FILE" for name in names}
    # Face recognition names the people it recognised: enrolled names, people by definition.
    known.update({name: "PERSON" for name in _face_names(results or ())
                  if name not in known})
    mapping: dict[str, str] = {}
    anonymizer.refresh_names()

    if kind == "answer":
        lines = [result_line(r) for r in results or ()]
        done = anonymizer.anonymize_many([instruction, *lines], mapping, known=known)
        request = done[0].text
        if lines:
            user = prompts["answer_results"].format(
                instruction=request, results="\n".join(f"- {d.text}" for d in done[1:]),
                note=prompts["results_note"])
        else:
            user = prompts["answer_user"].format(instruction=request)
        messages = [Message(role="system", content=prompts["answer_system"]),
                    Message(role="user", content=user)]
    else:
        from agent.planner import Planner, pick_examples, train_examples
        from experts.inputs import kind_of

        done = anonymizer.anonymize_many([instruction, *names], mapping, known=known)
        request, hidden = done[0].text, [d.text for d in done[1:]]
        files_kinds = {h: kind_of(n) or "other" for h, n in zip(hidden, names)}
        planner = Planner(llm=None, examples=train_examples(), decoding="free")
        examples = pick_examples(request, hidden, planner.examples, planner.n_examples)
        chat = planner.messages(request, files_kinds, _tool_infos(tools), examples=examples)
        chat[0]["content"] = f"{chat[0]['content']}\n{prompts['plan_system_suffix']}"
        messages = [Message(**m) for m in chat]

    payload = Payload(kind=kind, endpoint=endpoint, model=model, messages=messages,
                      created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return BuiltPayload(payload, mapping)
