"""Facts the local model proposes to remember from what the user said.

The model is small and eager: it restates questions, answers them, or writes poems as
"facts". So a proposal is kept only when it is in the first person and most of its words
come from the user's own message. Proposals are stored as "proposed" (the user accepts or
rejects them in the memory window) unless the setting says to keep them at once.
"""

from __future__ import annotations

import json
import re
import threading

from agent.llm import LLM
from agent.prompts import load_prompt

FIRST_PERSON = re.compile(r"^\s*(i|i'm|i've|i am|my|we|our|we're)\b", re.I)
MENTIONS_SELF = re.compile(r"\b(i|i'm|i've|my|we|we're|our|me)\b", re.I)
WORD = re.compile(r"[^\W_]+")
STOP = {"i", "my", "me", "we", "our", "a", "an", "the", "is", "am", "are", "to", "of", "and",
        "in", "on", "at", "for", "m", "s", "ve", "re"}
MIN_OVERLAP = 0.6
SCHEMA = {"type": "json_object", "schema": {
    "type": "object", "properties": {"facts": {"type": "array", "items": {"type": "string"}}},
    "required": ["facts"]}}


def worth_asking(message: str) -> bool:
    """Only messages where the user speaks about themselves can hold facts about them."""
    return bool(MENTIONS_SELF.search(message))


def grounded(fact: str, message: str) -> bool:
    words = [w for w in WORD.findall(fact.lower()) if w not in STOP]
    said = set(WORD.findall(message.lower()))
    return bool(words) and sum(w in said for w in words) / len(words) >= MIN_OVERLAP


def propose(llm: LLM, message: str, cancel: threading.Event | None = None) -> list[str]:
    prompt = load_prompt("memory_extract")
    messages = [{"role": "system", "content": prompt["system"]}]
    for shot in prompt["examples"]:
        messages += [{"role": "user", "content": f"Message: {shot['message']}"},
                     {"role": "assistant", "content": json.dumps({"facts": shot["facts"]})}]
    messages.append({"role": "user", "content": f"Message: {message}"})
    kwargs = {"response_format": SCHEMA} if llm.supports_schema else {}
    raw = "".join(llm.stream(messages, max_tokens=120, temperature=0.0, cancel=cancel, **kwargs))
    try:
        facts = json.loads(raw).get("facts", [])
    except (json.JSONDecodeError, AttributeError):
        return []
    out: list[str] = []
    for fact in facts:
        fact = " ".join(str(fact).split()).strip()
        if fact and FIRST_PERSON.match(fact) and grounded(fact, message) and fact not in out:
            out.append(fact if fact.endswith((".", "!", "?")) else fact + ".")
    return out
