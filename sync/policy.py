"""When something may be prepared for the cloud. Decided from the settings, the plan's source
and the user's OWN words only: text from files, transcripts and memories is data and never
reaches this module, so a voicemail saying "ask the cloud" sends nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memory.settings import Settings

# "ask the cloud: …", "check with the cloud", "let the cloud answer", "use cloud assist"
_REQUEST = (r"(?:ask|check\s+with|consult|try|use|send\s+(?:this|it)\s+to|let)\s+(?:the\s+)?"
            r"(?:cloud(?:\s+assist)?|bigger\s+model|large\s+model)\b")
ASKS_FOR_CLOUD = re.compile(r"\b" + _REQUEST, re.I)
# The same words opening the message ("Ask the cloud: …"): said to Hearth, not to the cloud.
_LEADING_REQUEST = re.compile(r"^\s*(?:please\s+)?" + _REQUEST +
                              r"(?:\s*[:,\-–—]\s*|\s+about\s+)?", re.I)


@dataclass(frozen=True)
class Decision:
    kind: str  # answer | plan
    status: str  # awaiting_approval | queued
    reason: str


def asks_for_cloud(user_text: str) -> bool:
    return bool(ASKS_FOR_CLOUD.search(user_text))


def without_request(user_text: str) -> str:
    """The instruction for the cloud: a leading "ask the cloud:" removed (the rest unchanged)."""
    rest = _LEADING_REQUEST.sub("", user_text, count=1).strip()
    return rest or user_text.strip()


def configured(settings: Settings) -> bool:
    """Anything can leave the machine at all."""
    return (settings.cloud_enabled and settings.cloud_policy != "never"
            and bool(settings.cloud_base_url.strip()) and bool(settings.cloud_model.strip()))


def decide(settings: Settings, user_text: str, plan_source: str | None,
           requested: bool = False) -> Decision | None:
    """What to prepare after the local answer, or None (nothing is prepared).

    `requested`: the user asked through the interface itself (`hearth ask --cloud`), which
    counts as their own words.
    """
    if not configured(settings):
        return None
    policy = settings.cloud_policy
    asked = requested or asks_for_cloud(user_text)
    status = "awaiting_approval" if policy == "ask" else "queued"
    if asked:
        return Decision("answer", status, "the user asked for the cloud")
    if plan_source == "fallback":
        return Decision("plan", status, "the local plan failed validation")
    if policy == "ask":
        return Decision("answer", status, "policy: offer every answer")
    return None


def teach(settings: Settings, plan_source: str | None) -> Decision | None:
    """With training consent, a request the local model planned may also go to the cloud for
    its plan: the reply is a label for nightly learning, not an answer. It always waits for the
    user's approval in the outbox (whatever the policy), so it is never sent unseen."""
    if not configured(settings) or not settings.cloud_training_consent:
        return None
    if plan_source != "model":
        return None
    return Decision("plan", "awaiting_approval",
                    "training consent: the cloud's plan for this request teaches the local model")

