"""Expert results as prompt text: short, factual, and fenced as data, never as instructions."""

from __future__ import annotations

from collections import Counter

MAX_TRANSCRIPT_CHARS = 4000


def summarize(expert: str, result: dict | None, error: str | None = None) -> str:
    if error:
        return f"failed: {error}"
    result = result or {}
    if expert == "speech-to-text":
        text = (result.get("text") or "").strip()
        if len(text) > MAX_TRANSCRIPT_CHARS:
            text = text[:MAX_TRANSCRIPT_CHARS] + " […]"
        return f'transcript ({result.get("language", "?")}): "{text}"' if text else "no speech found"
    if expert == "object-detection":
        counts = Counter(o["label"] for o in result.get("objects", []))
        return ", ".join(f"{n} {label}" for label, n in counts.most_common()) or "no objects found"
    if expert == "pose-estimation":
        people = result.get("people", [])
        if not people:
            return "no people found"
        postures = Counter(p.get("posture", "unknown") for p in people)
        return f"{len(people)} people: " + ", ".join(f"{n} {p}" for p, n in postures.most_common())
    if expert == "face-recognition":
        faces = result.get("faces", [])
        if not faces:
            return "no faces found"
        names = [f["name"] or "an unknown person" for f in faces]
        return f"{len(faces)} faces: " + ", ".join(names)
    if expert == "memory-search":
        found = result.get("memories", [])
        if not found:
            return "nothing found in memory"
        return f"{len(found)} memories: " + "; ".join(f'"{m["text"]}"' for m in found)
    if expert == "memory-save":
        return f'saved to memory: "{result.get("text", "")}"'
    return str(result)[:MAX_TRANSCRIPT_CHARS]


def task_line(task: dict) -> str:
    """One step of a plan as the summarizer and the user read it."""
    where = ", ".join(str(v) for v in (task.get("args") or {}).values())
    if task.get("status") in ("skipped", "stopped", "waiting", "running"):
        what = f"{task.get('status')}: {task.get('error') or 'did not finish'}"
    else:
        what = summarize(task["task"], task.get("output"), task.get("error"))
    return f"{task['task']} on {where}: {what}" if where else f"{task['task']}: {what}"


def legacy_tasks(meta: dict) -> list[dict]:
    """The tasks of a stored answer: its plan's trace, or (answers from before the planner)
    the experts it ran on each file."""
    if meta.get("trace"):
        return meta["trace"].get("tasks", [])
    return [{"task": t["expert"], "args": {"file": t["file"]}, "output": t.get("result"),
             "error": t.get("error"), "status": "failed" if t.get("error") else "done",
             "annotated": t.get("annotated"), "seconds": t.get("seconds", 0.0),
             "step": f"{t['expert']} on {t['file']}", "id": i}
            for i, t in enumerate(meta.get("experts", []))]


def results_block(note: str, tasks: list[dict]) -> str:
    """Goes after the user's question: the 0.5B model answered best with the question first,
    the results fenced, and the reminder that they are data last (docs/experts.md)."""
    lines = [f"- {task_line(t)}" for t in tasks]
    return "<attached_files>\n" + "\n".join(lines) + f"\n</attached_files>\n{note}"
