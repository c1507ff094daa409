"""The canary: 2,000 Faker-made instructions (with experts' results) through build_payload.

Gate: no e-mail address, phone number, IBAN or card number survives anywhere in the
serialized payload, neither verbatim nor normalised (digits only; lower case without spaces).
People's names and places (cities, street addresses, full postal addresses) are measured as
recall: an item counts as caught only when none of its identifying words is left. The
measured numbers are in docs/privacy.md; the thresholds sit a little below them.
"""

from __future__ import annotations

import json
import random
import re
import time

import pytest

from sync.anonymizer import Anonymizer
from sync.payload import build_payload
from sync.recognizers import STREET_SUFFIXES

N_CASES = 2000
SEED = 20261201
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL"]
# Measured on 2,000 cases (docs/privacy.md); the build fails if recall falls below these.
MIN_RECALL = {"PERSON": 0.97, "LOCATION": 0.97, "PERSON without face results": 0.96,
              "PERSON, held-out instruction": 0.92, "LOCATION, held-out instruction": 0.95}
STRICT_KINDS = ("email", "phone", "iban", "card")

INSTRUCTIONS = [
    "Email {name} at {email} and tell them I'll be late.",
    "Can you draft a text to {name}? Their number is {phone}.",
    "My IBAN is {iban}, is that the right format for a transfer?",
    "Pay the invoice with card {card} and send the receipt to {email}.",
    "I moved to {address}. Write a short note to my bank about it.",
    "What's the quickest way from {city} to {street}?",
    "Remind me to call {name} on {phone} tomorrow at ten.",
    "{name} lives at {street}, {city}. Write a birthday card for them.",
    "Transfer fifty euros to {name}, IBAN {iban}, reference dinner.",
    "My card number is {card}. Which bank issued it?",
    "Write a cover letter for {name}, {address}, phone {phone}, email {email}.",
    "Tell {name} and {name2} that the party moved to {street}.",
    "Summarise the recording and tell me who I should call back.",
    "Who is in the photo, and what did they say about {city}?",
    "what did {name} tell me about the flat in {city}?",
    "Please check whether {email} or {phone} is the better way to reach {name}.",
    "Fill in the form: name {name}, address {address}, IBAN {iban}.",
    "Is {card} still valid? It belongs to {name}.",
    "Send the documents to {name} at {street} in {city} and copy {email}.",
    "I met {name} in {city} last week; remind me to text them on {phone}.",
]
# Written after the recognizers were tuned on the templates above, and not tuned on since:
# their recall says how far the cue words carry to phrasings they were not made for.
HELD_OUT = [
    "Could you ask {name} whether the keys are still at {street}?",
    "Book a table for four under the name {name} and confirm by SMS to {phone}.",
    "{name} and I are flying from {city} next month, what should we pack?",
    "Forward this to {email}, attention {name}.",
    "The landlord, {name}, wants the deposit paid to {iban} by Friday.",
    "Put {name}'s new address in my notes: {address}.",
    "Write a complaint: my card {card} was charged twice in {city}.",
    "Does {name} still live near {city}?",
    "Good morning, {name} speaking. My mobile is {phone}; I'm staying in {city} until Sunday.",
]
TRANSCRIPTS = [
    "Hi, it's {name}. Call me back on {phone} or write to {email}.",
    "This is {name} from the bank, please confirm card {card} and your IBAN {iban}.",
    "Hello, {name} here, the new address is {address}, see you soon.",
    "Message for {name2}: meet me in {city} on Friday, my number is {phone}.",
]
MEMORIES = [
    "{name}'s email is {email}",
    "{name} lives at {street}, {city}",
    "my sister's name is {name2}",
    "{name} has the spare key; their phone is {phone}",
    "my bank account: IBAN {iban}",
]


def _card(fake, rng) -> str:
    number = fake.credit_card_number()
    style = rng.random()
    if style < 0.4:
        return number
    sep = " " if style < 0.8 else "-"
    if len(number) == 15:  # Amex-style 4-6-5
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def _iban(fake, rng) -> str:
    iban = fake.iban()
    return iban if rng.random() < 0.5 else " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


def _name(fake) -> str:
    return fake.name() if fake.random.random() < 0.7 else fake.first_name()


def canary_cases(n: int = N_CASES, seed: int = SEED) -> list[dict]:
    """Each case: the instruction, the task records, and every PII item put in (kind, value)."""
    from faker import Faker

    Faker.seed(seed)
    fakers = Faker(LOCALES)
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        fake = fakers[LOCALES[i % len(LOCALES)]]
        values = {"name": _name(fake), "name2": _name(fake), "email": fake.email(),
                  "phone": fake.phone_number(), "iban": _iban(fake, rng),
                  "card": _card(fake, rng), "street": fake.street_address(),
                  "address": fake.address(), "city": fake.city()}
        used: list[tuple[str, str]] = []

        def fill(template: str) -> str:
            for slot in re.findall(r"{(\w+)}", template):
                used.append((slot, values[slot]))
            return template.format(**values)

        template = rng.choice(INSTRUCTIONS + HELD_OUT)
        instruction = fill(template)
        records = []
        if rng.random() < 0.5:
            records.append({"id": 0, "task": "speech-to-text", "args": {"audio": "memo.wav"},
                            "status": "done", "error": None,
                            "output": {"text": fill(rng.choice(TRANSCRIPTS)), "language": "en"}})
        if rng.random() < 0.35:
            found = [{"text": fill(t)} for t in rng.sample(MEMORIES, 2)]
            records.append({"id": len(records), "task": "memory-search", "args": {"query": "contacts"},
                            "status": "done", "error": None, "output": {"memories": found}})
        if rng.random() < 0.25:
            used.append(("name", values["name"]))
            records.append({"id": len(records), "task": "face-recognition",
                            "args": {"image": "party.jpg"}, "status": "done", "error": None,
                            "output": {"faces": [{"name": values["name"]}, {"name": None}]}})
        cases.append({"instruction": instruction, "records": records, "items": used,
                      "held_out": template in HELD_OUT})
    return cases


# -- measuring ---------------------------------------------------------------------------------

TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "jr", "sr", "ii", "iii", "iv", "md",
          "dds", "phd", "dvm", "herr", "frau", "mme", "mlle", "m", "dipl", "ing", "univ", "b.sc",
          "b.a", "ba", "bsc", "msc", "mag", "van", "de", "der", "den", "het", "le", "la", "du",
          "von", "zu", "ter", "ten", "el", "mx", "rev", "mba", "eng", "sc", "b.eng", "ma",
          "llb", "llm", "mdb", "mevr", "dhr", "aan", "en", "vorm", "im", "am", "an", "bei", "sur"}
ADDRESS_WORDS = {w.lower() for w in STREET_SUFFIXES} | {
    "apt", "apt.", "suite", "unit", "flat", "studio", "box", "rue", "avenue", "boulevard",
    "chemin", "impasse", "place", "allée", "quai", "de", "la", "le", "du", "des", "sur", "ii",
    "psc", "usns", "usnv", "uss", "uscgc", "fpo", "apo", "dpo", "aa", "ae", "ap"}


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _squash(text: str) -> str:
    return re.sub(r"\s", "", text).lower()


def leaks(kind: str, value: str, serialized: str, contents: str) -> list[str]:
    found = []
    if value in serialized or value in contents:
        found.append("exact")
    if _squash(value) in _squash(serialized) or _squash(value) in _squash(contents):
        found.append("lower-case, no spaces")
    digits = _digits(value)
    if kind != "email" and len(digits) >= 6 and digits in _digits(contents):
        found.append("digits only")
    return found


def identifying_words(kind: str, value: str) -> list[str]:
    words = re.findall(r"[\w'’\-]+", value)
    if kind in ("name", "name2"):
        return [w for w in words if w.lower().strip(".") not in TITLES and len(w) > 1]
    return [w for w in words if len(w) > 1 and w.lower().strip(".") not in ADDRESS_WORDS
            and (w[0].isupper() or any(c.isdigit() for c in w))]


def survives(word: str, contents: str) -> bool:
    return re.search(r"(?<![\w<])" + re.escape(word) + r"(?![\w>])", contents) is not None


@pytest.fixture(scope="module")
def anonymizer():
    a = Anonymizer()
    a.anonymize("Loading the analyzer before the clock starts.")
    yield a
    a.close()


def test_canary_2000(anonymizer):
    cases = canary_cases()
    strict_leaks: list[str] = []
    recall = {"PERSON": [0, 0], "LOCATION": [0, 0], "PERSON without face results": [0, 0],
              "PERSON, held-out instruction": [0, 0], "LOCATION, held-out instruction": [0, 0]}
    missed: dict[str, list[str]] = {"PERSON": [], "LOCATION": []}
    start = time.perf_counter()
    for case in cases:
        built = build_payload(kind="answer", instruction=case["instruction"],
                              results=case["records"], files=["memo.wav", "party.jpg"],
                              endpoint="http://127.0.0.1:9/v1", model="canary",
                              anonymizer=anonymizer)
        serialized = json.dumps(built.payload.to_dict(), ensure_ascii=False)
        contents = "\n".join(m.content for m in built.payload.messages)
        for kind, value in case["items"]:
            if kind in STRICT_KINDS:
                how = leaks(kind, value, serialized, contents)
                if how:
                    strict_leaks.append(f"{kind} {value!r} ({', '.join(how)}) in {contents!r}")
                continue
            group = "PERSON" if kind in ("name", "name2") else "LOCATION"
            words = identifying_words(kind, value)
            if not words:
                continue
            left = [w for w in words if survives(w, contents)]
            # A face-recognition result names its people, and build_payload hides those
            # names everywhere in the payload: measured apart from the NER's own recall.
            groups = [group]
            if group == "PERSON" and not any(r["task"] == "face-recognition"
                                             for r in case["records"]):
                groups.append("PERSON without face results")
            if case["held_out"] and value in case["instruction"]:
                groups.append(f"{group}, held-out instruction")
            for g in groups:
                recall[g][1] += 1
                recall[g][0] += not left
            if left:
                missed[group].append(f"{value!r}: {left}")
    seconds = time.perf_counter() - start
    print(f"\ncanary: {len(cases)} payloads in {seconds:.1f} s "
          f"({1000 * seconds / len(cases):.1f} ms each)")
    for group, (caught, total) in recall.items():
        print(f"{group} recall {caught}/{total} = {caught / total:.3f}")
    for group, items in missed.items():
        print(f"{group} missed, first 15:", *items[:15], sep="\n  ")
    assert not strict_leaks, f"{len(strict_leaks)} leaks:\n" + "\n".join(strict_leaks[:20])
    low = {g: round(c / t, 3) for g, (c, t) in recall.items() if c / t < MIN_RECALL[g]}
    assert not low, f"recall fell below {MIN_RECALL}: {low}"


def test_measures_can_fail():
    """The leak and recall checks find what is left in plain sight."""
    serialized = contents = "Call Ann Lee on +44 20 7946 0958 or at 020-7946-0958, IBAN gb82 west 1234"
    assert leaks("phone", "+44 20 7946 0958", serialized, contents) == [
        "exact", "lower-case, no spaces", "digits only"]
    assert leaks("phone", "(020) 7946 0958", serialized, contents) == ["digits only"]
    assert "lower-case, no spaces" in leaks("iban", "GB82WEST1234", serialized, contents)
    assert [w for w in identifying_words("name", "Dr Ann Lee") if survives(w, contents)] == [
        "Ann", "Lee"]
    assert not survives("Lee", "Call <PERSON_1> on <PHONE_1>")
