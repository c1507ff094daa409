"""When two memories say the same thing, when they may contradict each other, and how search
ranks what it finds. Thresholds are for all-MiniLM-L6-v2 cosine similarities.

Measured on that model (cosine):
    "my sister's name is Ana" / "My sister's name is Ana."              0.99  same
    "I'm allergic to peanuts" / "I am allergic to peanuts"              0.97  same
    "I like coffee" / "I love coffee"                                   0.93  same
    "My dentist appointment is on Tuesday" / "... on Friday"            0.96  NOT the same
    "I am 34 years old" / "I am 35 years old"                           0.95  NOT the same
    "My phone number is 555-1234" / "... 555-9876"                      0.97  NOT the same
    "My sister's name is Ana" / "My sister's name is Eva"               0.77  conflict
    "I live in Lisbon" / "I live in Porto"                              0.75  conflict
    "I like coffee" / "I like tea"                                      0.74  both kept
    "I'm allergic to peanuts" / "can I eat this satay?"                 0.27  relevant
    "I'm allergic to peanuts" / "What's the weather tomorrow?"          0.10  unrelated
So similarity alone can't tell a restatement from a changed detail: numbers, names and
dates barely move the vector. A near-identical pair whose *specific* words (numbers, names,
weekdays, months) differ is treated as a possible contradiction, never merged.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

DUPLICATE_SIMILARITY = 0.92
CONFLICT_SIMILARITY = 0.75
CONFLICT_MAX_CHANGED_WORDS = 3

# search score = similarity * (1 + boosts); see score()
PINNED_BOOST = 0.15
RECENCY_BOOST = 0.10
RECENCY_HALF_LIFE_DAYS = 90.0
KIND_BOOST = {"profile": 0.05, "preference": 0.05, "event": 0.0, "note": 0.0, "document": 0.0}

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$")
_CALENDAR = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "june", "july", "august", "september",
    "october", "november", "december", "today", "tomorrow", "yesterday",
}
_STOPWORDS = {
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "m", "s", "re", "ve", "d",
    "ll", "t", "i", "my", "me", "mine", "we", "our", "you", "your", "he", "she", "his", "her",
    "they", "their", "it", "its", "this", "that", "these", "those", "of", "to", "in", "on",
    "at", "for", "with", "by", "from", "and", "or", "but", "so", "do", "does", "did", "have",
    "has", "had", "not", "no", "as", "about", "into", "than", "then", "there", "here",
    "called", "named", "name", "really", "very", "just", "also",
}


def _words(text: str) -> list[tuple[str, bool]]:
    """(normalised word, looks like a proper noun) for each word."""
    out: list[tuple[str, bool]] = []
    sentence_start = True
    for match in re.finditer(r"[^\W_]+|[.!?]", text):
        token = match.group()
        if token in ".!?":
            sentence_start = True
            continue
        lower = token.casefold()
        ordinal = _ORDINAL.match(lower)
        if ordinal:
            lower = ordinal.group(1)
        proper = token[0].isupper() and not sentence_start and lower != "i"
        out.append((lower, proper))
        sentence_start = False
    return out


def specific_words(text: str) -> set[str]:
    """Numbers, names (capitalised mid-sentence), weekdays, months: the details a restatement
    keeps and a changed fact changes."""
    return {w for w, proper in _words(text)
            if proper or any(c.isdigit() for c in w) or w in _CALENDAR}


def _stem(word: str) -> str:
    """Crude: "works"/"work", "shifts"/"shift"; enough to not call a restatement a conflict."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w, _ in _words(text) if w not in _STOPWORDS}


def is_duplicate(similarity: float, new_text: str, old_text: str) -> bool:
    return (similarity >= DUPLICATE_SIMILARITY
            and specific_words(new_text) == specific_words(old_text))


def looks_like_conflict(similarity: float, new_text: str, old_text: str) -> bool:
    """Same sentence with a different value: "my sister's name is Ana" / "... is Eva".

    Both texts must be close in meaning and each must have a few words the other lacks. This
    flags changed names, places, dates and numbers; it also flags pairs that are merely
    different facts in the same shape ("my wife is called Maria" / "my sister is called
    Maria"), and it misses contradictions by negation ("I like coffee" / "I hate coffee" have
    different words on both sides but may fall below the similarity bar) or by paraphrase.
    A flag is only a question for the user, never a deletion.
    """
    if similarity < CONFLICT_SIMILARITY or is_duplicate(similarity, new_text, old_text):
        return False
    new, old = content_words(new_text), content_words(old_text)
    only_new, only_old = new - old, old - new
    if specific_words(new_text) != specific_words(old_text) and similarity >= DUPLICATE_SIMILARITY:
        return True
    return (0 < len(only_new) <= CONFLICT_MAX_CHANGED_WORDS
            and 0 < len(only_old) <= CONFLICT_MAX_CHANGED_WORDS)


def recency(created_at: datetime, now: datetime) -> float:
    """1 for a memory made now, 0.5 after RECENCY_HALF_LIFE_DAYS, towards 0 after."""
    age_days = max(0.0, (now - created_at).total_seconds() / 86400)
    return math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


def score(similarity: float, *, kind: str, pinned: bool, created_at: datetime,
          now: datetime) -> float:
    """similarity * (1 + 0.15 pinned + 0.10 recency + kind boost).

    Multiplicative, so a boost reorders memories that are about the query but can't lift an
    unrelated one above a relevant one: a pinned, brand-new profile fact at similarity 0.20
    scores 0.26, under a plain, year-old note at 0.27. Recency counts from creation, not
    last use, so being retrieved does not make a memory easier to retrieve.
    """
    if similarity <= 0:
        return similarity
    boost = (PINNED_BOOST * bool(pinned) + RECENCY_BOOST * recency(created_at, now)
             + KIND_BOOST.get(kind, 0.0))
    return similarity * (1.0 + boost)
