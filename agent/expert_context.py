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
    return str(result)[:MAX_TRANSCRIPT_CHARS]


def results_block(note: str, traces: list[dict]) -> str:
    """Goes after the user's question: the 0.5B model answered best with the question first,
    the results fenced, and the reminder that they are data last (docs/experts.md)."""
    lines = [f"- {t['expert']} on {t['file']}: {summarize(t['expert'], t.get('result'), t.get('error'))}"
             for t in traces]
    return "<attached_files>\n" + "\n".join(lines) + f"\n</attached_files>\n{note}"
