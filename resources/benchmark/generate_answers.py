"""Write the answer benchmark (answers_{dev,test}.jsonl): expert results and key facts per request.

Run from the repository root:  python3 resources/benchmark/generate_answers.py [--out DIR]
                                python3 resources/benchmark/generate_answers.py --check

For every dev and test record of the Q2A data (q2a_{dev,test}.jsonl, read from this folder)
whose reference plan has tasks, this writes synthetic but realistic results of those tasks
(what each expert would return, or an error) and the facts a good answer must state. The
summarizer is then scored on answers written from the request plus these results.

Everything is hand-written below: transcripts (with an English meaning for every foreign one),
memories, names, the error messages (copied from experts/*.py) and the words that count as
stating a fact. No language model wrote or labelled any of it. Standard library only (plus
agent.plan and agent.expert_context, both stdlib) and deterministic: each template has its
own random.Random seeded with SEED and the template id, as in generate.py, so editing one
template leaves the others' records unchanged.

Before writing, every record is checked: one result per task except memory-save (whose output
the benchmark runner makes itself), outputs in the experts' shapes, 1-4 facts, and every fact
that is not a translation, a language name or a failure is grounded: each of its word groups
has an alternative in the text the summarizer sees (agent.expert_context's lines for the
results, or the instruction). `--check` exits 1 when the committed files are stale.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.expert_context import task_line  # noqa: E402
from agent.plan import GENERATED_ONLY  # noqa: E402

SEED = 20240713
SPLITS = ("dev", "test")
STT = "speech-to-text"
OD = "object-detection"
POSE = "pose-estimation"
FACE = "face-recognition"
SEARCH = "memory-search"
SAVE = "memory-save"
FAIL_EVERY = 8  # about one record in 8 has a failed task
STATS_BEGIN = "<!-- stats:begin (written by generate_answers.py; do not edit by hand) -->"
STATS_END = "<!-- stats:end -->"


class DataError(AssertionError):
    pass


# --------------------------------------------------------------------------------------------
# Matching, exactly as the answer benchmark scores (agent/answerbench/metrics.py).


def normalize(text: str) -> str:
    """Lowercase; every run of characters that are not letters or digits becomes one space."""
    return " " + " ".join(re.sub(r"[^0-9a-z\u00c0-\u024f]+", " ", text.lower()).split()) + " "


def occurs(alternative: str, text: str) -> bool:
    """Whole words or phrases only: "car" is in "3 car" but not in "cartoon"."""
    return normalize(alternative) in normalize(text)


# --------------------------------------------------------------------------------------------
# Words that count as stating a fact. Every list starts with the word the results use, so a
# fact built from it is grounded; the rest are the paraphrases a good answer may use instead.

NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                "fourteen fifteen sixteen seventeen eighteen nineteen twenty").split()
ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
            "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
            "twentieth twenty-first twenty-second twenty-third twenty-fourth twenty-fifth "
            "twenty-sixth twenty-seventh twenty-eighth twenty-ninth thirtieth "
            "thirty-first").split()

NOT_LYING = ["not lying", "nobody is lying", "no one is lying", "nobody has fallen",
             "no one has fallen", "hasn't fallen", "has not fallen", "not on the floor",
             "not on the ground", "no sign of a fall"]
SAVED = ["saved", "remember", "remembered", "noted", "stored", "memory", "kept"]
FAILED = ["fail", "failed", "couldn t", "could not", "cannot", "can t", "unable", "error",
          "wasn t able", "not able", "problem"]
NOTHING = ["nothing", "no memories", "no memory", "no notes", "no note", "no record",
           "no records", "not found", "couldn't find", "could not find", "didn't find",
           "did not find", "don't have", "do not have", "haven't", "have not", "not saved",
           "no saved"]
NOBODY = ["no people", "no one", "no-one", "nobody", "no person", "empty", "not anyone",
          "no sign of anyone"]
UNKNOWN = ["unknown", "stranger", "strangers", "don't recognise", "don't recognize",
           "didn't recognise", "didn't recognize", "not recognised", "not recognized",
           "unrecognised", "unrecognized", "unfamiliar", "not enrolled", "unidentified",
           "no name", "someone you don't know", "not someone you know"]
POSTURE_WORDS = {
    "standing": ["standing", "stands", "stand", "standing up", "on her feet", "on his feet",
                 "on their feet", "on your feet", "upright"],
    "sitting": ["sitting", "sits", "sit", "seated", "sat", "sitting down"],
    "lying": ["lying", "lying down", "laying", "lies", "lie", "on the floor", "on the ground",
              "fallen", "fell", "has fallen"],
    "bending": ["bending", "bent", "bends", "bending over", "bent over", "stooping", "leaning",
                "leaning forward", "hunched", "slouching", "crouching"],
}
LABEL_WORDS = {
    "car": ["car", "cars"],
    "bicycle": ["bicycle", "bicycles", "bike", "bikes", "cycle", "cycles"],
    "truck": ["truck", "trucks", "lorry", "lorries", "van", "vans"],
    "bus": ["bus", "buses", "busses"],
    "motorcycle": ["motorcycle", "motorcycles", "motorbike", "motorbikes", "scooter"],
    "dog": ["dog", "dogs", "puppy"],
    "cat": ["cat", "cats", "kitten"],
    "bird": ["bird", "birds"],
}
LANGUAGE_NAMES = {
    "es": ["Spanish", "Castilian", "español"], "pt": ["Portuguese", "português"],
    "de": ["German", "Deutsch"], "fr": ["French", "français"], "it": ["Italian", "italiano"],
    "ja": ["Japanese"], "nl": ["Dutch", "Flemish"], "pl": ["Polish"],
}
# Names the user enrolled for face recognition, and how an answer may call them.
NAME_WORDS = {
    "Grandpa Joe": ["Grandpa Joe", "Joe", "Grandpa", "grandad", "granddad"],
    "Aunt Rosa": ["Aunt Rosa", "Rosa", "auntie Rosa", "your aunt"],
    "Mum": ["Mum", "mom", "mother", "your mum"],
    "Dad": ["Dad", "father", "your dad"],
    "Grandma": ["Grandma", "gran", "granny", "grandmother", "nan"],
    "Mr Evans": ["Mr Evans", "Evans"],
}


def num(n: int) -> list[str]:
    return [str(n), NUMBER_WORDS[n]] if n < len(NUMBER_WORDS) else [str(n)]


def name_words(name: str) -> list[str]:
    return NAME_WORDS.get(name, [name])


def date_words(day: int, month: str) -> list[str]:
    """"14 May" as an answer may write it: 14 May, May 14, 14th of May, the fourteenth of May..."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    nth, word = f"{day}{suffix}", ORDINALS[day - 1]
    return [f"{day} {month}", f"{month} {day}", f"{nth} {month}", f"{nth} of {month}",
            f"{month} {nth}", f"{word} of {month}", f"{month} {word}"]


def time_words(hour: int, minute: int, *spoken: str) -> list[str]:
    """"07:40" as an answer may write it: 7:40, 07:40, 7.40, 7:40am, 19:40..."""
    half = "am" if hour < 12 else "pm"
    h12 = hour % 12 or 12
    out = [f"{h12}:{minute:02d}", f"{hour:02d}:{minute:02d}", f"{h12}:{minute:02d}{half}",
           f"{h12}.{minute:02d}{half}", f"{hour}:{minute:02d}"]
    return list(dict.fromkeys(out + list(spoken)))


# --------------------------------------------------------------------------------------------
# Facts.


@dataclass
class Fact:
    task: int | None  # the task it comes from; None when it needs two tasks' results
    about: str
    all: list[list[str]]
    kind: str | None = None  # "translation", "language" or "failure": not checked for grounding
    uses: tuple[int, ...] = ()  # tasks whose results it needs (default: its task)

    def needs(self) -> set[int]:
        return set(self.uses) if self.uses else ({self.task} if self.task is not None else set())

    def to_dict(self) -> dict:
        out = {"task": self.task, "about": self.about, "all": self.all}
        if self.kind:
            out["kind"] = self.kind
        return out


def F(task: int | None, about: str, *groups: list[str], kind: str | None = None,
      uses: tuple[int, ...] = ()) -> Fact:
    return Fact(task, about, [list(g) for g in groups], kind, uses)


@dataclass
class Key:
    """A fact a transcript or memory states, before it is tied to a task."""
    about: str
    groups: list[list[str]]


def K(about: str, *groups: list[str]) -> Key:
    return Key(about, [list(g) for g in groups])


def facts_from(task: int, keys: list[Key], limit: int, kind: str | None = None) -> list[Fact]:
    return [Fact(task, k.about, k.groups, kind) for k in keys[:limit]]


def saved_fact(task: int) -> Fact:
    return F(task, "says it was saved to memory", SAVED)


def posture_fact(task: int, posture: str, who: str = "the person") -> Fact:
    return F(task, f"{who} {'are' if who in ('you', 'they') else 'is'} {posture}",
             POSTURE_WORDS[posture])


def count_fact(task: int, n: int, what: str, words: list[str]) -> Fact:
    return F(task, f"the number of {what} ({n})", num(n), words)


def names_fact(task: int, names: list[str], about: str) -> Fact:
    """Every recognised name must be said (one group each, at most three)."""
    return F(task, about, *[name_words(n) for n in names[:3]])


# --------------------------------------------------------------------------------------------
# Expert outputs, in the shapes experts/*.py return.

IMAGE_SIZES = [(1280, 960), (1920, 1080), (1600, 1200), (1024, 768)]


def box(rng: random.Random, size: tuple[int, int], w: tuple[int, int],
        h: tuple[int, int]) -> list[int]:
    width, height = size
    bw, bh = rng.randint(*w), rng.randint(*h)
    bw, bh = min(bw, width - 2), min(bh, height - 2)
    x1, y1 = rng.randint(0, width - bw - 1), rng.randint(0, height - bh - 1)
    return [x1, y1, x1 + bw, y1 + bh]


def split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()]


def speech(rng: random.Random, text: str, language: str = "en") -> dict:
    """A transcript cut into segments of 1-3 sentences, timed at a talking pace."""
    sentences = split_sentences(text)
    joiner = "" if language == "ja" else " "
    segments, t = [], round(rng.uniform(0.0, 1.4), 2)
    i = 0
    while i < len(sentences):
        k = rng.randint(1, 3)
        piece = joiner.join(sentences[i:i + k])
        i += k
        words = len(piece) / 3 if language == "ja" else len(piece.split())
        end = round(t + max(1.2, words * rng.uniform(0.33, 0.42)), 2)
        segments.append({"start": t, "end": end, "text": piece})
        t = round(end + rng.uniform(0.2, 0.9), 2)
    return {"text": text, "language": language, "segments": segments}


OBJECT_SHAPES = {  # (width range, height range) of a box, in pixels of a ~1280 px photo
    "car": ((180, 420), (110, 240)), "truck": ((260, 520), (180, 340)),
    "bus": ((380, 700), (240, 420)), "bicycle": ((90, 200), (70, 150)),
    "motorcycle": ((110, 220), (90, 170)), "person": ((50, 160), (160, 420)),
    "dog": ((90, 300), (80, 220)), "cat": ((70, 220), (60, 180)), "bird": ((20, 70), (20, 60)),
}


def objects(rng: random.Random, counts: list[tuple[str, int]]) -> dict:
    """Detections for `counts` (label, how many), best first as the expert returns them."""
    size = rng.choice(IMAGE_SIZES)
    found = []
    for label, n in counts:
        for _ in range(n):
            w, h = OBJECT_SHAPES.get(label, ((60, 260), (50, 220)))
            found.append({"label": label, "confidence": round(rng.uniform(0.34, 0.97), 2),
                          "box": box(rng, size, w, h)})
    found.sort(key=lambda o: -o["confidence"])
    return {"objects": found}


PERSON_SHAPES = {"standing": ((90, 220), (300, 700)), "sitting": ((140, 300), (220, 420)),
                 "lying": ((350, 640), (90, 200)), "bending": ((180, 340), (240, 400)),
                 "unknown": ((60, 160), (80, 200))}


def people(rng: random.Random, postures: list[str]) -> dict:
    size = rng.choice(IMAGE_SIZES)
    found = [{"box": box(rng, size, *PERSON_SHAPES[p]),
              "confidence": round(rng.uniform(0.52, 0.95), 2), "keypoints": [], "posture": p}
             for p in postures]
    found.sort(key=lambda p: -p["confidence"])
    return {"people": found}


def faces(rng: random.Random, names: list[str | None]) -> dict:
    """A named face lies within dlib's 0.6 distance of an enrolled one (similarity >= 0.4);
    an unknown face's similarity is to the nearest enrolled face, below that."""
    size = rng.choice(IMAGE_SIZES)
    out = []
    for name in names:
        side = rng.randint(60, 190)  # dlib's face boxes are about square
        out.append({"box": box(rng, size, (side, side), (side, side + side // 8)), "name": name,
                    "similarity": round(rng.uniform(0.43, 0.72) if name
                                        else rng.uniform(0.08, 0.37), 2)})
    return {"faces": out}


@dataclass
class Memory:
    text: str
    created: str | None = None  # "2024-05-03": the day it was saved, when the text implies it


def memories(rng: random.Random, found: list[Memory]) -> dict:
    """Hits best first; the scores fall off the way embedding search scores do."""
    out, score = [], rng.uniform(0.58, 0.88)
    for m in found:
        day = m.created or f"2024-{rng.randint(1, 4):02d}-{rng.randint(1, 28):02d}"
        when = f"{day}T{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        out.append({"id": rng.randint(12, 480), "text": m.text, "created": when,
                    "score": round(score, 2)})
        score = max(0.26, score - rng.uniform(0.06, 0.2))
    return {"memories": out}


# --------------------------------------------------------------------------------------------
# Failures: the messages the experts and the runner really raise (experts/inputs.py,
# experts/runner.py, experts/faces.py, experts/memory_tools.py).

TIMEOUT_S = {STT: 1200, OD: 30, POSE: 60, FACE: 60, SEARCH: 30}
MAX_BYTES = {STT: 200 * 1024 * 1024, OD: 50 * 1024 * 1024, POSE: 50 * 1024 * 1024,
             FACE: 50 * 1024 * 1024}


def human_size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def error_for(rng: random.Random, task: dict) -> str:
    expert = task["task"]
    if expert == SEARCH:
        return rng.choice(["Personal memory is not available right now.",
                           f"{SEARCH} took longer than {TIMEOUT_S[SEARCH]} s and was abandoned."])
    name = next(iter(task["args"].values()))
    too_big = human_size(MAX_BYTES[expert] * rng.uniform(1.08, 1.6))
    common = [f"{name}: the file is {too_big}; the limit is {human_size(MAX_BYTES[expert])}.",
              f"{expert} took longer than {TIMEOUT_S[expert]} s and was abandoned.",
              f"{name}: the file is empty."]
    if expert == STT:
        return rng.choice(common + [
            f"{name}: not audio Hearth can decode (InvalidDataError: [Errno 1094995529] Invalid "
            f"data found when processing input: '{name}').",
            f"{name}: the audio has no samples."])
    specific = [f"{name}: the image is damaged or truncated (image file is truncated "
                f"({rng.randint(3, 90)} bytes not processed)).",
                f"{name}: not an image Hearth can read."]
    if expert == FACE:
        specific.append("The face models are not installed (missing "
                        "models/dlib_face_recognition_resnet_model_v1.dat). Install them with: "
                        "pip install face-recognition-models==0.3.0")
    return rng.choice(common + specific)


# --------------------------------------------------------------------------------------------
# Templates. A maker gets a Q2A record and its template's rng and returns the output of each
# task except memory-save (by task id) and the facts; failures are added afterwards.

class Rng(random.Random):
    """A template's random numbers. deal() hands out a pool's items in a shuffled order, each
    once before any repeats, so the records of one template differ."""

    def __init__(self, seed: int):
        super().__init__(seed)
        self.decks: dict[int, tuple[list, list[int]]] = {}

    def deal(self, items: list):
        """`items` must be a module-level list (its deck is kept by identity)."""
        pool, deck = self.decks.setdefault(id(items), (items, []))
        if pool is not items:
            raise DataError("deal() needs the same list object every time")
        if not deck:
            deck.extend(self.sample(range(len(items)), len(items)))
        return items[deck.pop()]


# Outcome decks: how a template mixes its cases (someone fell or not, a face known or not...).
# Dealt like any pool, so each template gets the intended mix however few records it has.
FALL_IN_ROOM = ["lying", "lying", "up", "up", "empty"]
FALL_OF_PERSON = ["lying", "up"]
TWO_CAMS_LYING = [(True, False), (False, True), (False, False), (True, True), (True, False),
                  (False, True)]
ONE_IN_SIX = [False, False, False, False, False, True]  # e.g. "nothing found" in 1 of 6
ONE_IN_FOUR = [False, False, False, True]
TWO_IN_FIVE = [False, False, False, True, True]
HALF = [False, True]
TWO_SEARCHES_EMPTY = [None, None, None, 0, 1]  # which of the two searches finds nothing
UNKNOWN_FACES = [0, 1, 1, 2]  # unknown faces in a group photo


Outputs = dict[int, dict]
Maker = Callable[[dict, Rng], "tuple[Outputs, list[Fact]]"]
MAKERS: dict[str, tuple[str, Maker]] = {}


def maker(template: str, looks: str) -> Callable[[Maker], Maker]:
    """Register a maker; `looks` is the line ANSWERS.md gives its results."""
    def register(fn: Maker) -> Maker:
        MAKERS[template] = (looks, fn)
        return fn
    return register


def arg(rec: dict, i: int) -> str:
    return next(iter(rec["plan"]["tasks"][i]["args"].values()))


def has(rec: dict, *words: str) -> bool:
    low = rec["instruction"].lower()
    return any(w in low for w in words)


@dataclass
class Say:
    """An English recording and the facts it states, most important first."""
    text: str
    keys: list[Key]


@dataclass
class Clip:
    """A recording in another language, its meaning and the facts of the meaning."""
    lang: str
    text: str
    english: str  # written out so a reader can check the facts
    keys: list[Key] = field(default_factory=list)


# ---------------------------------------------------------------------------- audio.language
# The language each file name hints at (lucia: Spanish or Italian, kenji: Japanese...).

LANGUAGE_CLIPS: dict[str, list[Clip]] = {
    "message_from_lucia.m4a": [
        Clip("es", "Hola, soy Lucía. Ya estoy en casa, el viaje fue muy bien. Un beso a todos.",
             "Hi, it's Lucía. I'm home now, the trip went very well. Love to everyone."),
        Clip("it", "Ciao, sono Lucia. Stasera faccio tardi in ufficio, cenate senza di me.",
             "Hi, it's Lucia. I'm working late at the office tonight, have dinner without me.")],
    "interview_es.mp3": [
        Clip("es", "Bueno, empecé a trabajar en la cooperativa en dos mil diez. Al principio "
                   "éramos solo cuatro personas.",
             "Well, I started working at the cooperative in 2010. At first there were only "
             "four of us."),
        Clip("es", "Mi abuela tenía una panadería en Sevilla. Yo aprendí allí a hacer pan cuando "
                   "era niña.",
             "My grandmother had a bakery in Seville. I learned to make bread there as a girl.")],
    "clip_lisbon.wav": [
        Clip("pt", "Bom dia! Estamos no miradouro e a vista é linda. Depois vamos comer pastéis "
                   "de nata em Belém.",
             "Good morning! We're at the viewpoint and the view is beautiful. Afterwards we're "
             "going to eat custard tarts in Belém."),
        Clip("pt", "Olá, daqui fala a Inês. O jantar de sábado foi adiado para domingo.",
             "Hello, Inês speaking. Saturday's dinner has been moved to Sunday.")],
    "oma_sprachnachricht.m4a": [
        Clip("de", "Hallo, hier ist Oma. Danke für die Blumen, die sind wunderschön. Bis Sonntag!",
             "Hello, it's Grandma. Thank you for the flowers, they are beautiful. See you "
             "Sunday!"),
        Clip("de", "Hallo Schatz, Opa und ich sind gut angekommen. Das Hotel ist schön, aber das "
                   "Wetter ist kalt.",
             "Hello darling, Grandpa and I have arrived safely. The hotel is nice, but the "
             "weather is cold.")],
    "voicemail_pierre.ogg": [
        Clip("fr", "Bonjour, c'est Pierre. Je te rappelle ce soir pour parler des vacances.",
             "Hello, it's Pierre. I'll call you back tonight to talk about the holidays."),
        Clip("fr", "Salut, c'est Pierre. Tu as laissé ton écharpe chez nous samedi.",
             "Hi, it's Pierre. You left your scarf at our place on Saturday.")],
    "audio_from_kenji.flac": [
        Clip("ja", "こんにちは、健二です。写真を送ってくれてありがとう。来月また会いましょう。",
             "Hello, it's Kenji. Thanks for sending the photos. Let's meet again next month."),
        Clip("ja", "健二です。今日は雨なので、サッカーの練習は中止になりました。",
             "It's Kenji. Football practice is cancelled today because of the rain.")],
    "WA0012_voice.ogg": [
        Clip("it", "Ciao, sono Giulia. Ho trovato il tuo ombrello al ristorante. Te lo porto "
                   "domani.",
             "Hi, it's Giulia. I found your umbrella at the restaurant. I'll bring it to you "
             "tomorrow."),
        Clip("nl", "Hoi, met Sanne. Ik sta beneden bij de voordeur. Kun je even opendoen?",
             "Hi, it's Sanne. I'm downstairs at the front door. Can you open up?"),
        Clip("pl", "Cześć, tu Marek. Dzięki za pomoc przy przeprowadzce. Zadzwonię w weekend.",
             "Hi, it's Marek. Thanks for helping with the move. I'll call at the weekend.")],
}


@maker("audio.language", "a short voice message in the language the file name hints at "
       "(Spanish, Italian, Portuguese, German, French, Japanese, Dutch, Polish); the fact is "
       "the language's name")
def make_language(rec: dict, rng: Rng):
    clip = rng.choice(LANGUAGE_CLIPS[arg(rec, 0)])
    names = LANGUAGE_NAMES[clip.lang]
    return ({0: speech(rng, clip.text, clip.lang)},
            [F(0, f"the language is {names[0]}", names, kind="language")])


# --------------------------------------------------------------------------- audio.translate

TRANSLATE_CLIPS: dict[str, list[Clip]] = {
    "message_from_lucia.m4a": [
        Clip("es", "Hola, soy Lucía. Llego el viernes a las ocho de la noche al aeropuerto. "
                   "¿Me puedes recoger? Si no, cojo un taxi.",
             "Hi, it's Lucía. I arrive at the airport on Friday at eight in the evening. Can "
             "you pick me up? If not, I'll take a taxi.",
             [K("she arrives on Friday", ["Friday"]),
              K("at eight in the evening", ["eight", "8", "8pm", "20:00"],
                ["evening", "night", "pm", "8pm", "20:00"]),
              K("asks to be picked up at the airport", ["airport"])]),
        Clip("it", "Ciao, sono Lucia. Ho perso il treno delle sei, prendo quello delle sette e "
                   "mezza. Scusa il ritardo!",
             "Hi, it's Lucia. I missed the six o'clock train, I'm taking the half past seven "
             "one. Sorry for the delay!",
             [K("she missed the train", ["missed", "miss"], ["train"]),
              K("she takes the 7:30 one", ["7:30", "7.30", "seven thirty", "half past seven",
                                          "half seven", "7:30pm", "19:30"]),
              K("she apologises for being late", ["sorry", "apologises", "apologizes",
                                                  "apology", "late", "delay", "delayed"])])],
    "interview_es.mp3": [
        Clip("es", "Trabajé cinco años como enfermera en Valencia. Ahora quiero aprender alemán "
                   "y mudarme a Berlín el año que viene.",
             "I worked for five years as a nurse in Valencia. Now I want to learn German and "
             "move to Berlin next year.",
             [K("she was a nurse", ["nurse", "nursing"]),
              K("in Valencia", ["Valencia"]),
              K("she wants to move to Berlin", ["Berlin"])]),
        Clip("es", "Lo más difícil fue el primer invierno. No teníamos calefacción y el piso era "
                   "muy pequeño.",
             "The hardest part was the first winter. We had no heating and the flat was very "
             "small.",
             [K("the first winter was the hardest", ["winter"]),
              K("they had no heating", ["heating", "heat", "heater"]),
              K("the flat was very small", ["small", "tiny", "little"])])],
    "clip_lisbon.wav": [
        Clip("pt", "Olá! O apartamento fica na Rua das Flores, número doze, terceiro andar. A "
                   "chave está com a vizinha do lado.",
             "Hello! The flat is on Rua das Flores, number twelve, third floor. The key is with "
             "the next-door neighbour.",
             [K("the street", ["Rua das Flores", "Flores"]),
              K("number twelve", ["twelve", "12"]),
              K("the key is with the neighbour", ["key", "keys"],
                ["neighbour", "neighbor", "next door", "next-door"])])],
    "oma_sprachnachricht.m4a": [
        Clip("de", "Hallo, mein Schatz, hier ist Oma. Am Sonntag backe ich Kuchen. Kommst du "
                   "um drei zum Kaffee? Ruf mich bitte zurück.",
             "Hello, darling, it's Grandma. On Sunday I'm baking a cake. Will you come for "
             "coffee at three? Please call me back.",
             [K("on Sunday", ["Sunday"]),
              K("she is baking a cake", ["cake"]),
              K("asks to be called back", ["call back", "call her back", "call me back",
                                           "ring back", "ring her", "call her"])])],
    "voicemail_pierre.ogg": [
        Clip("fr", "Salut, c'est Pierre. Le train a une heure de retard, donc je serai là vers "
                   "vingt-deux heures. Ne m'attends pas pour dîner.",
             "Hi, it's Pierre. The train is an hour late, so I'll be there around ten at "
             "night. Don't wait for me for dinner.",
             [K("the train is late", ["train"], ["late", "delayed", "delay", "behind"]),
              K("he arrives around 10 pm", ["10", "ten", "22", "22:00", "10pm", "10 pm"]),
              K("don't wait for dinner", ["dinner", "supper"])])],
    "audio_from_kenji.flac": [
        Clip("ja", "もしもし、健二です。来週の火曜日に東京に戻ります。お土産を買ってきますね。",
             "Hello, it's Kenji. I'm going back to Tokyo next Tuesday. I'll bring you a "
             "souvenir.",
             [K("next Tuesday", ["Tuesday"]),
              K("back to Tokyo", ["Tokyo"]),
              K("he'll bring a souvenir", ["souvenir", "souvenirs", "gift", "present"])])],
    "WA0012_voice.ogg": [
        Clip("it", "Buongiorno, sono la signora Bianchi della farmacia. Le sue medicine sono "
                   "pronte, può passare dopo le quattro.",
             "Good morning, this is Mrs Bianchi from the pharmacy. Your medicines are ready; "
             "you can come by after four.",
             [K("it's the pharmacy", ["pharmacy", "chemist", "pharmacist"]),
              K("the medicines are ready", ["medicine", "medicines", "prescription",
                                            "medication"]),
              K("it's Mrs Bianchi", ["Bianchi"])])],
}


@maker("audio.translate", "a foreign voice message (Spanish, Italian, Portuguese, German, "
       "French, Japanese) fitting the file name; facts are 3 key words of its English meaning")
def make_translate(rec: dict, rng: Rng):
    clip = rng.choice(TRANSLATE_CLIPS[arg(rec, 0)])
    return {0: speech(rng, clip.text, clip.lang)}, facts_from(0, clip.keys, 3, "translation")


# ------------------------------------------------------------------- audio.lecture_question

LECTURES_BY_SUBJECT: dict[str, Say] = {
    "photosynthesis": Say(
        "Right, photosynthesis. Plants take in carbon dioxide through small pores in the leaves "
        "called stomata. In the chloroplasts, chlorophyll absorbs light, and that energy turns "
        "carbon dioxide and water into glucose. Oxygen is released as a by-product.",
        [K("chlorophyll absorbs light", ["chlorophyll"]),
         K("carbon dioxide and water become glucose", ["glucose", "sugar", "sugars"]),
         K("oxygen is released", ["oxygen"])]),
    "the French Revolution": Say(
        "The French Revolution began in 1789, when the Estates-General met at Versailles for "
        "the first time in over a century. The storming of the Bastille on the fourteenth of "
        "July became its symbol. By 1793 the king had been executed, and the Terror followed "
        "under Robespierre.",
        [K("it began in 1789", ["1789"]),
         K("the storming of the Bastille", ["Bastille"]),
         K("the Terror under Robespierre", ["Robespierre", "the Terror"])]),
    "supply and demand": Say(
        "When the price of a good rises, people buy less of it: that's the law of demand. "
        "Producers, on the other hand, want to sell more at a higher price. Where the two "
        "curves cross we get the equilibrium price. If there's a shortage, the price goes up "
        "until the market clears.",
        [K("the curves cross at the equilibrium price", ["equilibrium"]),
         K("a shortage pushes the price up", ["shortage", "shortages"])]),
    "neural networks": Say(
        "A neural network is made of layers of simple units, or neurons. Each connection has a "
        "weight, and training means adjusting those weights to reduce the error. We do that "
        "with backpropagation and gradient descent. Deep learning just means networks with "
        "many hidden layers.",
        [K("training adjusts the weights", ["weight", "weights"]),
         K("backpropagation", ["backpropagation", "back-propagation", "back propagation"]),
         K("gradient descent", ["gradient descent"])]),
    "plate tectonics": Say(
        "The Earth's crust is broken into plates that move on the mantle, a few centimetres a "
        "year. Where plates pull apart, as at the mid-Atlantic ridge, new crust forms. Where "
        "they collide we get mountains like the Himalayas, and where one slides under another, "
        "earthquakes and volcanoes.",
        [K("plates move on the mantle", ["mantle"]),
         K("collisions make mountains like the Himalayas", ["Himalayas", "mountains"]),
         K("subduction causes earthquakes and volcanoes", ["earthquake", "earthquakes",
                                                           "volcano", "volcanoes"])]),
    "the Krebs cycle": Say(
        "The Krebs cycle, also called the citric acid cycle, happens in the mitochondria. "
        "Acetyl-CoA enters the cycle and is broken down step by step, releasing carbon "
        "dioxide. The payoff is NADH and FADH2, which carry electrons to the electron transport "
        "chain, where most of the ATP is made.",
        [K("it happens in the mitochondria", ["mitochondria", "mitochondrion"]),
         K("also called the citric acid cycle", ["citric acid"]),
         K("it yields NADH for making ATP", ["NADH", "ATP", "FADH2"])]),
}


@maker("audio.lecture_question", "a lecture passage on the subject asked about (one per "
       "subject); facts are 2-3 of its key terms")
def make_lecture_question(rec: dict, rng: Rng):
    subject = next(s for s in LECTURES_BY_SUBJECT if s.lower() in rec["instruction"].lower())
    say = LECTURES_BY_SUBJECT[subject]
    return {0: speech(rng, say.text)}, facts_from(0, say.keys, rng.choice([2, 3]))


# ----------------------------------------------------------------------- audio.meeting_save

MEETINGS = [
    Say("Okay, let's start. The main decision today: we're moving the product launch from May "
        "to the third of June, because the payment provider needs more time. Priya will update "
        "the website copy by Friday. Next meeting is Tuesday at ten.",
        [K("the launch moves to 3 June", ["launch"], date_words(3, "June")),
         K("Priya updates the website", ["Priya"], ["website", "site"])]),
    Say("Budget review. We're eleven thousand euros over on the marketing line, so the trade "
        "fair in Hamburg is cancelled this year. Sam will renegotiate the printing contract. "
        "Everyone please send receipts to finance before the end of the month.",
        [K("the Hamburg trade fair is cancelled", ["trade fair", "Hamburg"],
           ["cancelled", "canceled", "cancel", "cancelling", "dropped"]),
         K("11,000 euros over budget", ["eleven thousand", "11,000", "11000", "11k", "11 000"])]),
    Say("Thanks everyone. Quick summary of the board meeting: the new office in Leeds is "
        "approved, with a budget of two hundred thousand pounds. Hiring starts in September. "
        "Helen will chair the search committee.",
        [K("the Leeds office is approved", ["Leeds"]),
         K("hiring starts in September", ["September"])]),
    Say("Weekly review. The bug on the checkout page is fixed and released. Support tickets are "
        "down by a third. We agreed to freeze new features until the audit on the twentieth. "
        "Jonas owns the audit checklist.",
        [K("new features are frozen until the audit", ["freeze", "frozen", "freezing"],
           ["feature", "features"]),
         K("the checkout bug is fixed", ["checkout"])]),
    Say("Hello all. We decided to switch the team to a four-day week as a trial from July, for "
        "three months. Fridays will be off. Lena will collect feedback after the first month.",
        [K("a four-day week trial", ["four-day week", "4-day week", "four day week",
                                     "four-day", "4 day"]),
         K("starting in July", ["July"])]),
    Say("Right, the vote: the committee voted five to two to keep the community garden open on "
        "Sundays. Ahmed will sort out the rota, and we need two more volunteers for the "
        "watering.",
        [K("the garden stays open on Sundays", ["garden"], ["Sunday", "Sundays"]),
         K("volunteers are needed for the watering", ["volunteer", "volunteers", "rota"])]),
]


@maker("audio.meeting_save", "a meeting transcript with a decision and who does what; facts "
       "are 2 decisions and that it was saved")
def make_meeting_save(rec: dict, rng: Rng):
    say = rng.deal(MEETINGS)
    return {0: speech(rng, say.text)}, facts_from(0, say.keys, 2) + [saved_fact(1)]


# -------------------------------------------------------------------------- audio.voicemail
# Chosen by who the file name says called; other names take one of the general messages.

VOICEMAILS: dict[str, list[Say]] = {
    "landlord": [Say(
        "Hi, it's Graham, your landlord. The plumber is coming on Wednesday morning between "
        "nine and eleven to fix the boiler. Can you make sure someone is in? Call me back if "
        "that doesn't work.",
        [K("it's the landlord, Graham", ["landlord", "Graham"]),
         K("the plumber comes for the boiler", ["plumber", "boiler"]),
         K("on Wednesday morning", ["Wednesday"])])],
    "dentist": [Say(
        "Hello, this is Claire from Riverside Dental. We need to move your check-up on the "
        "fourteenth to the sixteenth at two fifteen. Please call us back to confirm.",
        [K("it's the dentist", ["dentist", "dental", "Riverside"]),
         K("the check-up moves to the 16th", ["sixteenth", "16th", "16"]),
         K("they want a call back to confirm", ["call back", "call them back", "ring back",
                                                 "confirm", "call us back"])])],
    "school": [Say(
        "Good afternoon, this is Mrs Okafor from Hillside Primary. Oscar has a slight "
        "temperature and is sitting in the office. Nothing serious, but could someone pick him "
        "up before three?",
        [K("it's Oscar's school", ["school", "Hillside", "Okafor"]),
         K("Oscar has a temperature", ["temperature", "fever", "unwell", "ill", "sick"]),
         K("someone should pick him up before three", ["pick him up", "pick up", "collect",
                                                       "fetch"])])],
    "grandpa": [Say(
        "Hello, it's Grandpa. Nothing urgent, I just wanted to say the tomatoes are ripe and "
        "you can come and take some. Give me a ring when you have a minute.",
        [K("it's Grandpa", ["Grandpa", "grandad", "granddad", "grandfather"]),
         K("the tomatoes are ripe", ["tomatoes", "tomato"]),
         K("nothing urgent", ["nothing urgent", "not urgent", "no rush", "isn't urgent"])])],
    "insurance": [Say(
        "Hi, this is Daniel from Northway Insurance about your claim for the broken window. We "
        "need two photos of the damage and the repair quote, ideally by the end of next week.",
        [K("it's the insurance about the claim", ["insurance", "claim", "Northway"]),
         K("the broken window", ["window"]),
         K("they need photos and a quote", ["photos", "photo", "quote"])])],
    "mum": [Say(
        "Hi love, it's Mum. Dad's birthday dinner is on Saturday at seven at the Italian place. "
        "Can you bring the card? Everyone's signed it except you.",
        [K("it's Mum", ["Mum", "mom", "mother"]),
         K("Dad's birthday dinner on Saturday", ["Saturday"]),
         K("bring the card", ["card"])])],
    "": [Say("Hi, this is Priya. The car wouldn't start this morning, so I can't give you a "
             "lift tomorrow. Sorry! Let me know if you want to share a taxi instead.",
             [K("it's Priya", ["Priya"]),
              K("she can't give a lift", ["lift", "ride"]),
              K("suggests sharing a taxi", ["taxi", "cab"])]),
         Say("Hello, this is the parcel depot. We tried to deliver a package today but nobody "
             "was in. You can pick it up from the depot on Mill Road after four tomorrow, with "
             "photo ID.",
             [K("a missed parcel delivery", ["parcel", "package", "delivery", "depot"]),
              K("pick it up at Mill Road", ["Mill Road"]),
              K("bring photo ID", ["ID", "identification"])]),
         Say("Hi, it's Tom. Urgent: the flight has been moved forward to six in the morning, so "
             "we need to leave at three thirty. Call me as soon as you get this.",
             [K("it's Tom", ["Tom"]),
              K("it's urgent", ["urgent", "asap", "as soon as"]),
              K("leave at 3:30", ["three thirty", "3:30", "3.30", "half past three",
                                  "half three", "3:30am"])])],
}


@maker("audio.voicemail", "an English voicemail from whoever the file name suggests (landlord, "
       "dentist, school, Grandpa, insurer, Mum, else a friend or a depot); facts are the caller "
       "and 1-2 things they want")
def make_voicemail(rec: dict, rng: Rng):
    low = arg(rec, 0).lower()
    hint = next((h for h in VOICEMAILS if h and h in low), "")
    say = rng.deal(VOICEMAILS[hint])
    return {0: speech(rng, say.text)}, facts_from(0, say.keys, rng.choice([2, 3]))


# ---------------------------------------------------- audio.already_noted / save_and_search


@dataclass
class Memo:
    """A voice memo, the memories a search on it finds (maybe none), and their facts."""
    say: Say
    found: list[Memory]
    found_keys: list[Key]


ALREADY_NOTED = [
    Memo(Say("Idea for the spare room: turn it into a small office with a standing desk. Ask "
             "Marco if he still has the old bookshelf.",
             [K("the spare room as an office", ["spare room"])]),
         [Memory("Spare room plan: office with a standing desk, budget about 300 pounds.")],
         [K("the saved plan has a budget of about 300 pounds", ["300", "three hundred"],
            ["pound", "pounds", "budget"])]),
    Memo(Say("Gift idea for Lena's birthday: a pottery class for two. She mentioned it at the "
             "concert.",
             [K("a pottery class for Lena", ["pottery"])]),
         [Memory("Lena's birthday present idea: pottery workshop in Didsbury, 65 pounds for "
                 "two."),
          Memory("Lena's birthday is on 2 August.")],
         [K("already saved: a pottery workshop in Didsbury", ["Didsbury"])]),
    Memo(Say("Remember to renew the kids' passports before the summer trip to Spain. The "
             "photos can be taken at the post office.",
             [K("renew the kids' passports", ["passport", "passports"])]),
         [], []),
    Memo(Say("Thought: we could start a vegetable patch by the back fence, tomatoes and "
             "courgettes first.",
             [K("a vegetable patch", ["vegetable", "vegetables", "veg"])]),
         [Memory("Garden plan from last year: raised beds along the back fence, wood from the "
                 "timber yard on Oak Lane.")],
         [K("already saved: raised beds, wood from Oak Lane", ["Oak Lane", "raised beds",
                                                               "raised bed"])]),
    Memo(Say("Note: the car makes a rattling noise when braking. Book it in at the garage "
             "before the long drive in July.",
             [K("the car rattles when braking", ["rattle", "rattling", "rattles", "noise"])]),
         [Memory("Car rattle when braking: the garage said it's the heat shield, to fix at the "
                 "next service.")],
         [K("already saved: the garage said it's the heat shield", ["heat shield"])]),
    Memo(Say("Podcast idea: interview Grandpa Joe about working on the railway in the sixties.",
             [K("a podcast interview with Grandpa Joe", ["podcast"])]),
         [], []),
    Memo(Say("Book recommendation from Sam: The Left Hand of Darkness. Apparently it's short.",
             [K("Sam recommends The Left Hand of Darkness", ["Left Hand of Darkness"])]),
         [Memory("Sam's book tips: The Dispossessed and The Left Hand of Darkness, both by "
                 "Ursula Le Guin.")],
         [K("already saved among Sam's tips by Le Guin", ["Le Guin", "Ursula",
                                                          "Dispossessed"])]),
]

SAVE_AND_SEARCH = [
    Memo(Say("Note to self: the boiler pressure dropped to half a bar again. Top it up and call "
             "the engineer if it keeps falling.",
             [K("the boiler pressure dropped", ["boiler"], ["pressure"])]),
         [Memory("Boiler engineer: Kev, 07700 900412, serviced it in January.")],
         [K("related: the boiler engineer Kev", ["Kev"])]),
    Memo(Say("Met the new neighbours at number 14, Carla and Ben. They have a cat called Pepper "
             "and offered to water our plants.",
             [K("the new neighbours Carla and Ben", ["Carla", "Ben"])]),
         [Memory("We're away from 2 to 16 August; need someone to water the plants.")],
         [K("related: away in August, plants need watering", ["August"])]),
    Memo(Say("Reminder: the quarterly VAT return is due at the end of next month. Gather the "
             "fuel receipts first.",
             [K("the VAT return is due", ["VAT"])]),
         [Memory("Accountant (Farah) wants the receipts scanned as PDFs, not photos.")],
         [K("related: Farah wants receipts as PDFs", ["Farah", "PDF", "PDFs"])]),
    Memo(Say("Running log: five kilometres in thirty-one minutes today, my best time since the "
             "injury.",
             [K("5 km in 31 minutes", ["thirty-one", "31"], ["minutes", "minute", "min"])]),
         [Memory("Physio said no runs over 5 km until June."),
          Memory("Running log: 5 km in 33 minutes, knee felt fine.")],
         [K("related: the physio's 5 km limit", ["physio", "physiotherapist"])]),
    Memo(Say("Idea: a board-game night once a month, first Friday, rotating houses.",
             [K("a monthly board-game night", ["board game", "board-game", "board games"])]),
         [], []),
    Memo(Say("Restaurant to try: Sora, the ramen place on Deansgate that Priya recommended.",
             [K("the ramen place Sora", ["Sora", "ramen"])]),
         [Memory("Priya's recommendations: Sora for ramen, Tast for Catalan food.")],
         [K("related: Priya also recommended Tast", ["Tast", "Catalan"])]),
]


def memo_search_facts(memo: Memo, search: int) -> list[Fact]:
    if not memo.found:
        return [F(search, "nothing related was found in memory", NOTHING)]
    return facts_from(search, memo.found_keys, 1)


@maker("audio.already_noted", "a one-idea voice memo; the search finds a similar earlier note "
       "with an extra detail, or nothing (2 in 7); facts are the idea and that detail or that "
       "nothing was found")
def make_already_noted(rec: dict, rng: Rng):
    memo = rng.deal(ALREADY_NOTED)
    out = {0: speech(rng, memo.say.text), 1: memories(rng, memo.found)}
    return out, facts_from(0, memo.say.keys, 1) + memo_search_facts(memo, 1)


@maker("audio.save_and_search", "a note-to-self memo and related memories (or none); facts are "
       "the memo's point, that it was saved, and the related detail or that nothing was found")
def make_save_and_search(rec: dict, rng: Rng):
    memo = rng.deal(SAVE_AND_SEARCH)
    out = {0: speech(rng, memo.say.text), 2: memories(rng, memo.found)}
    return out, facts_from(0, memo.say.keys, 1) + [saved_fact(1)] + memo_search_facts(memo, 2)


# ----------------------------------------------------------------------- audio.lecture_save

LECTURES = [
    Say("Today: the Roman road network. By the second century the Romans had built over "
        "eighty thousand kilometres of paved roads. They were built in layers of gravel and "
        "stone and slightly curved, so rain ran off into ditches. Milestones marked the "
        "distance to Rome.",
        [K("Roman roads", ["Roman", "Romans"], ["road", "roads"]),
         K("over 80,000 km", ["eighty thousand", "80,000", "80000", "80 000"]),
         K("milestones marked the distance", ["milestone", "milestones"])]),
    Say("Compound interest means you earn interest on your interest. At five percent a year, a "
        "thousand pounds grows to about sixteen hundred and thirty after ten years. The rule of "
        "seventy-two gives the doubling time: divide seventy-two by the rate.",
        [K("compound interest", ["compound interest"]),
         K("the rule of 72", ["seventy-two", "72"])]),
    Say("Vaccines train the immune system with a harmless piece or version of a pathogen. "
        "Memory cells then respond faster to the real infection. Herd immunity is reached when "
        "enough people are immune that the disease can't spread.",
        [K("vaccines train the immune system", ["immune"]),
         K("herd immunity", ["herd immunity"]),
         K("memory cells respond faster", ["memory cells", "memory cell"])]),
    Say("The Industrial Revolution started in Britain around 1760. Steam power, first used to "
        "pump water out of mines, moved into the textile mills. Manchester became the first "
        "industrial city, and with it came child labour and the first factory acts.",
        [K("it started around 1760", ["1760"]),
         K("steam power", ["steam"]),
         K("Manchester", ["Manchester"])]),
    Say("Black holes form when massive stars collapse. The boundary is the event horizon: past "
        "it, not even light can escape. In 2019 the Event Horizon Telescope took the first "
        "image of one, in the galaxy M87.",
        [K("the event horizon", ["event horizon"]),
         K("not even light escapes", ["light"], ["escape", "escapes"]),
         K("the first image, of M87, in 2019", ["M87", "2019"])]),
    Say("Let's cover the water cycle. Water evaporates from the oceans, condenses into clouds "
        "and falls as precipitation. Some runs off into rivers, some soaks into the ground as "
        "groundwater. The sun drives the whole cycle.",
        [K("evaporation", ["evaporates", "evaporation", "evaporate"]),
         K("condensation into clouds", ["condenses", "condensation", "clouds"]),
         K("groundwater", ["groundwater", "ground water"])]),
]


@maker("audio.lecture_save", "a lecture passage (Roman roads, compound interest, vaccines, "
       "the Industrial Revolution, black holes, the water cycle); facts are 2 key terms and "
       "that it was saved")
def make_lecture_save(rec: dict, rng: Rng):
    say = rng.deal(LECTURES)
    return {0: speech(rng, say.text)}, facts_from(0, say.keys, 2) + [saved_fact(1)]


# -------------------------------------------------------------------------------- posture

# How an answer may name each camera of the "monitor" pool, plus its place in the request.
CAMERA_WORDS = {
    "grandma_livingroom.jpg": ["grandma_livingroom", "living room", "livingroom", "lounge"],
    "hallway_cam.webp": ["hallway_cam", "hallway", "hall"],
    "camera1_2024-06-01_14-03.jpg": ["camera1", "camera 1", "camera one"],
    "stairs_cam.png": ["stairs_cam", "stairs", "staircase", "stairway"],
    "frame_0042.png": ["frame_0042", "frame 0042", "0042", "frame 42"],
    "care_cam_0730.jpeg": ["care_cam_0730", "care cam", "care camera", "0730"],
    "kitchen_cam.jpg": ["kitchen_cam", "kitchen"],
    "lounge_cam_2215.webp": ["lounge_cam_2215", "lounge", "2215"],
}


def camera_words(name: str, index: int) -> list[str]:
    nth = ("first", "second")[index]
    return CAMERA_WORDS.get(name, [name]) + [f"{nth} {w}" for w in
                                             ("image", "picture", "photo", "camera", "frame",
                                              "snapshot", "one")]


def main_posture(postures: list[str]) -> str:
    return Counter(postures).most_common(1)[0][0]


def fall_scene(rng: Rng, one_person: bool) -> list[str]:
    """A camera frame for "has anyone fallen": someone lying (2 in 5), everyone up, or (for a
    room, not a person asked about) nobody in view; one person asked about: lying or up."""
    outcome = rng.deal(FALL_OF_PERSON if one_person else FALL_IN_ROOM)
    if outcome == "empty":
        return []
    if one_person:
        return ["lying"] if outcome == "lying" else [rng.choice(["standing", "sitting"])]
    up = [rng.choice(["standing", "sitting", "sitting", "bending"])
          for _ in range(rng.randint(0 if outcome == "lying" else 1, 2))]
    return (["lying"] if outcome == "lying" else []) + up


def fall_fact(task: int, postures: list[str], where: list[str] | None = None,
              who: str = "someone") -> Fact:
    """Lying if anyone is; else what the people are doing instead; else that nobody is there.
    `where` (words naming the camera) is a group of its own when there are two cameras."""
    head = [where] if where else []
    place = f" in the {where[0]} picture" if where else ""
    if "lying" in postures:
        return F(task, f"{who} is lying down{place}", *head, POSTURE_WORDS["lying"])
    if postures:
        main = main_posture(postures)
        subject = who if who != "someone" else ("the person" if len(postures) == 1 else "they")
        return F(task, f"nobody is lying{place}: {subject} "
                       f"{'are' if subject == 'they' else 'is'} {main}",
                 *head, POSTURE_WORDS[main] + NOT_LYING)
    return F(task, f"nobody is in view{place}", *head, NOBODY)


@maker("posture.count_standing", "3-9 people, 1-6 standing and the rest sitting; facts are the "
       "standing count (and the sitting count when asked 'versus sitting')")
def make_count_standing(rec: dict, rng: Rng):
    standing, sitting = rng.randint(1, 6), rng.randint(1, 5)
    postures = ["standing"] * standing + ["sitting"] * sitting
    rng.shuffle(postures)
    facts = [count_fact(0, standing, "people standing", POSTURE_WORDS["standing"])]
    if has(rec, "versus"):
        facts.append(count_fact(0, sitting, "people sitting", POSTURE_WORDS["sitting"]))
    return {0: people(rng, postures)}, facts


@maker("posture.two_cams_fall", "two camera frames, each with someone lying or not (one of "
       "them in 4 of 6 records, neither or both in the others; a frame may be empty); a fact "
       "per camera naming it")
def make_two_cams_fall(rec: dict, rng: Rng):
    lying = rng.deal(TWO_CAMS_LYING)
    out, facts = {}, []
    for i in (0, 1):
        if lying[i]:
            postures = ["lying"] + [rng.choice(["standing", "sitting", "bending"])
                                    for _ in range(rng.randint(0, 1))]
        else:
            postures = [rng.choice(["standing", "sitting"]) for _ in range(rng.randint(0, 2))]
        out[i] = people(rng, postures)
        facts.append(fall_fact(i, postures, camera_words(arg(rec, i), i)))
    return out, facts


@maker("posture.standing_tracker", "the user alone at the desk, standing or sitting; facts are "
       "that posture and that it was saved")
def make_standing_tracker(rec: dict, rng: Rng):
    posture = "sitting" if rng.deal(HALF) else "standing"
    return {0: people(rng, [posture])}, [posture_fact(0, posture, "you"), saved_fact(1)]


@maker("posture.fall", "a camera frame: someone lying (2 in 5), everyone standing, sitting or "
       "bending, or nobody in view; one person, lying or up, when grandma is asked about; one "
       "fact")
def make_fall(rec: dict, rng: Rng):
    grandma = has(rec, "grandma")
    postures = fall_scene(rng, one_person=grandma)
    return {0: people(rng, postures)}, [fall_fact(0, postures, who="grandma" if grandma
                                                  else "someone")]


@maker("posture.count_sitting", "2-10 people, 1-7 sitting, the others standing or bending (all "
       "sitting in some 'is everyone sitting' records); facts are the counts")
def make_count_sitting(rec: dict, rng: Rng):
    sitting = rng.randint(1, 7)
    everyone = has(rec, "everyone")
    standing = 0 if everyone and rng.deal(HALF) else rng.randint(1, 3)
    bending = rng.choice([0, 0, 1]) if standing else 0
    postures = ["sitting"] * sitting + ["standing"] * standing + ["bending"] * bending
    rng.shuffle(postures)
    facts = [count_fact(0, sitting, "people sitting", POSTURE_WORDS["sitting"])]
    if everyone and standing:
        facts.append(count_fact(0, standing, "people standing", POSTURE_WORDS["standing"]))
    return {0: people(rng, postures)}, facts


@maker("posture.fall_log", "as posture.fall (someone lying, everyone up, or nobody); facts are "
       "what the frame shows and that it was saved")
def make_fall_log(rec: dict, rng: Rng):
    postures = fall_scene(rng, one_person=False)
    return {0: people(rng, postures)}, [fall_fact(0, postures), saved_fact(1)]


POSTURE_HISTORY = [
    (Memory("Posture check 3 May: slouching forward at the desk, shoulders rounded.",
            "2024-05-03"),
     K("last logged: slouching forward", ["slouching", "slouched", "slouch", "hunched",
                                          "rounded"])),
    (Memory("Posture check 10 May: sitting up straight, screen at eye level.", "2024-05-10"),
     K("last logged: sitting up straight", ["straight", "upright"])),
    (Memory("Posture check 17 May: leaning on the left armrest again.", "2024-05-17"),
     K("last logged: leaning on the armrest", ["armrest", "leaning"])),
    (Memory("Posture check 24 May: standing at the desk for the morning calls.", "2024-05-24"),
     K("last logged: standing at the desk", ["standing", "stood"])),
    (Memory("Posture check 31 May: hunched over the laptop on the sofa.", "2024-05-31"),
     K("last logged: hunched over the laptop", ["hunched", "sofa", "slouching", "slouched"])),
]


@maker("posture.vs_history", "the user now sitting, bending (slouching) or standing, and 1-3 "
       "earlier posture-check notes (none in some); facts are the posture now and the "
       "earlier note's finding")
def make_vs_history(rec: dict, rng: Rng):
    now = rng.choices(["sitting", "bending", "standing"], [4, 3, 2])[0]
    past = [] if rng.deal(ONE_IN_SIX) else rng.sample(POSTURE_HISTORY, rng.randint(1, 3))
    facts = [posture_fact(0, now, "you")]
    facts.append(Fact(1, past[0][1].about, past[0][1].groups) if past
                 else F(1, "no earlier posture checks were found", NOTHING))
    return {0: people(rng, [now]), 1: memories(rng, [m for m, _ in past])}, facts


# ---------------------------------------------------------------------------- face-object

FRIENDS = ["Ana", "Tom", "Priya", "Marco", "Lena", "Sam", "Helen", "Jonas", "Kenji", "Mia",
           "Oscar", "Dev", "Carla"]
NAME_WORDS["Leo"] = ["Leo", "your son", "son"]
NO_ANIMAL = ["no objects", "nothing", "no animals", "no animal", "no pets", "no pet",
             "don't see", "can't see", "cannot see", "didn't find", "did not find",
             "couldn't find", "no sign", "not in the"]
SCENERY = {  # what else a pet camera sees, by the kind of place in the file name
    "outdoors": [("potted plant", 2), ("bench", 1), ("bicycle", 1), ("person", 1)],
    "indoors": [("couch", 1), ("chair", 2), ("tv", 1), ("remote", 1), ("potted plant", 1)],
}


def scenery(rng: Rng, image: str) -> list[tuple[str, int]]:
    place = "indoors" if any(w in image for w in ("couch", "living", "IMG")) else "outdoors"
    return [(label, rng.randint(1, n)) for label, n in
            rng.sample(SCENERY[place], rng.randint(1, 3))]


@maker("object.is_there_dog", "the animal asked about (dog, cat, or any pet/animal) with some "
       "garden or living-room objects, or (1 in 4) nothing detected; facts are the animals seen "
       "or that none was")
def make_is_there_dog(rec: dict, rng: Rng):
    target = "cat" if has(rec, "cat") else "dog" if has(rec, "dog") else None
    if rng.deal(ONE_IN_FOUR):
        what = target or "animal"
        return {0: objects(rng, [])}, [F(0, f"no {what} is in the picture",
                                         [f"no {what}", f"no {what}s"] + NO_ANIMAL)]
    if target:
        animals = [(target, 1)]
    elif has(rec, "pet"):
        animals = [(rng.choice(["dog", "cat"]), 1)]
    else:
        animals = rng.choice([[("dog", 1)], [("cat", 1)], [("dog", 1), ("bird", 2)],
                              [("cat", 1), ("bird", 1)], [("bird", 3)]])
    out = objects(rng, animals + scenery(rng, arg(rec, 0)))
    return {0: out}, [F(0, f"there is a {label}", LABEL_WORDS[label]) for label, _ in animals]


@maker("object.count_cars", "a street scene with 2-12 cars plus people and traffic lights; "
       "bicycles when bikes are asked about, trucks/buses/motorcycles for 'vehicles'; facts are "
       "the counts asked for")
def make_count_cars(rec: dict, rng: Rng):
    cars = rng.randint(3, 9) if has(rec, "more than five") else rng.randint(2, 12)
    counts = [("car", cars)]
    if has(rec, "bike"):
        counts.append(("bicycle", rng.randint(1, 4)))
    if has(rec, "vehicle"):
        counts += [("truck", rng.randint(1, 2)), ("bus", rng.randint(0, 1)),
                   ("motorcycle", rng.randint(0, 2))]
    counts = [(label, n) for label, n in counts if n]
    facts = [count_fact(0, n, LABEL_WORDS[label][1], LABEL_WORDS[label]) for label, n in counts]
    extras = [("person", rng.randint(0, 3)), ("traffic light", rng.randint(0, 2))]
    return {0: objects(rng, counts + [(label, n) for label, n in extras if n])}, facts[:4]


@maker("object.compare_cars", "two street scenes with different car counts (1-12) and a few "
       "people; facts are each picture's car count")
def make_compare_cars(rec: dict, rng: Rng):
    first, second = rng.sample(range(1, 13), 2)
    out = {i: objects(rng, [("car", n), ("person", rng.randint(0, 2))])
           for i, n in enumerate((first, second))}
    return out, [count_fact(i, n, f"cars in {arg(rec, i)}", LABEL_WORDS["car"])
                 for i, n in enumerate((first, second))]


def unknown_or_names(task: int, names: list[str | None], about: str) -> Fact:
    known = [n for n in names if n]
    return names_fact(task, known, about) if known else F(task, "the face is not recognised",
                                                          UNKNOWN)


@maker("face.same_person", "two group photos; in 3 of 5 one enrolled person is in both (plus "
       "others), else different people; facts are the shared name or each photo's names")
def make_same_person(rec: dict, rng: Rng):
    names = rng.sample(FRIENDS, 5)
    if not rng.deal(TWO_IN_FIVE):
        shared = names[0]
        in0 = [shared] + names[1:1 + rng.randint(0, 1)] + [None] * rng.randint(0, 1)
        in1 = [shared] + names[3:3 + rng.randint(0, 1)]
        rng.shuffle(in0)
        rng.shuffle(in1)
        return ({0: faces(rng, in0), 1: faces(rng, in1)},
                [F(None, f"{shared} is in both photos", name_words(shared), uses=(0, 1))])
    in0 = names[:rng.randint(1, 2)]
    in1 = names[2:2 + rng.randint(1, 2)] + [None] * rng.randint(0, 1)
    return ({0: faces(rng, in0), 1: faces(rng, in1)},
            [unknown_or_names(0, in0, f"who is in {arg(rec, 0)}"),
             unknown_or_names(1, in1, f"who is in {arg(rec, 1)}")])


VISITORS = ["Mr Evans", "Lena", "Marco", "Ana", "Grandpa Joe", "Carla"]


@maker("face.visitor_log", "a doorbell snapshot of a known visitor (Mr Evans, Lena, Marco...) "
       "or an unknown one, sometimes with a second unknown face; facts are who and that it was "
       "saved")
def make_visitor_log(rec: dict, rng: Rng):
    visitor = None if rng.deal(TWO_IN_FIVE) else rng.deal(VISITORS)
    seen = [visitor] + ([None] if visitor and rng.random() < 0.25 else [])
    return ({0: faces(rng, seen)},
            [unknown_or_names(0, seen, "who was at the door"), saved_fact(1)])


@maker("face.unknown_faces", "a group photo of 2-5 faces with 0-2 unknown ones; facts are that "
       "someone is not recognised (when so) and the names of the others")
def make_unknown_faces(rec: dict, rng: Rng):
    unknown = rng.deal(UNKNOWN_FACES)
    known = rng.sample(FRIENDS, rng.randint(1, 3))
    seen: list[str | None] = known + [None] * unknown
    rng.shuffle(seen)
    facts = [F(0, f"{unknown} face(s) are not recognised", UNKNOWN)] if unknown else []
    facts.append(names_fact(0, known, "the people recognised"))
    return {0: faces(rng, seen)}, facts


# What the user noted about people they enrolled; each note with the fact an answer states.
PERSON_NOTES: dict[str, list[tuple[Memory, Key]]] = {
    "Ana": [(Memory("Ana works as a midwife at St Mary's and has two boys, Teo and Luis."),
             K("Ana is a midwife", ["midwife"])),
            (Memory("Ana's birthday is on 9 November."),
             K("Ana's birthday is 9 November", date_words(9, "November")))],
    "Marco": [(Memory("Marco is a carpenter; he fixed our shed door for free."),
               K("Marco is a carpenter", ["carpenter"])),
              (Memory("Marco's partner is called Giulia."),
               K("his partner is Giulia", ["Giulia"]))],
    "Priya": [(Memory("Priya is my colleague from the design team; she's vegetarian."),
               K("Priya is vegetarian", ["vegetarian"])),
              (Memory("Priya ran the Manchester half marathon in 1:52."),
               K("she ran the half marathon", ["half marathon", "marathon"]))],
    "Kenji": [(Memory("Kenji is Lena's cousin from Osaka, visiting until the end of June."),
               K("Kenji is Lena's cousin from Osaka", ["Osaka", "cousin"])),
              (Memory("Kenji teaches English in Kobe and plays bass."),
               K("he teaches English in Kobe", ["Kobe", "teaches", "teacher"]))],
    "Helen": [(Memory("Helen from the choir sings alto; her husband is Peter."),
               K("Helen is from the choir", ["choir"])),
              (Memory("Helen gave me the sourdough starter in March."),
               K("she gave the sourdough starter", ["sourdough"]))],
    "Sam": [(Memory("Sam is the new team lead and prefers Slack to email."),
             K("Sam is the new team lead", ["team lead", "lead", "manager"])),
            (Memory("Sam's dog is a greyhound called Rocket."),
             K("his greyhound Rocket", ["Rocket", "greyhound"]))],
    "Jonas": [(Memory("Jonas studied physics with me in Leeds and now runs a bakery in Bristol."),
               K("Jonas runs a bakery in Bristol", ["bakery", "Bristol"]))],
}


NOTED_PEOPLE = list(PERSON_NOTES)


@maker("face.who_and_notes", "one enrolled face (sometimes with an unknown one) and 1-2 notes "
       "about that person; in some records the face is unknown and nothing is found; facts are "
       "the name and 1-2 notes")
def make_who_and_notes(rec: dict, rng: Rng):
    if rng.deal(ONE_IN_SIX):
        return ({0: faces(rng, [None]), 1: memories(rng, [])},
                [F(0, "the face is not recognised", UNKNOWN),
                 F(1, "nothing is saved about them", NOTHING)])
    name = rng.deal(NOTED_PEOPLE)
    notes = rng.sample(PERSON_NOTES[name], rng.randint(1, len(PERSON_NOTES[name])))
    seen = [name] + ([None] if rng.random() < 0.25 else [])
    return ({0: faces(rng, seen), 1: memories(rng, [m for m, _ in notes])},
            [names_fact(0, [name], "who it is")]
            + [Fact(1, k.about, k.groups) for _, k in notes])


# --------------------------------------------------------------------------------- memory
# The facts of generate.py's FACTS list that dev and test save or search, the topic a search
# uses for each, and what an answer must say about it.

SAVED_FACTS: dict[str, tuple[str, list[Key]]] = {
    "the car insurance renews on 1 September": (
        "the car insurance", [K("it renews on 1 September", date_words(1, "September"))]),
    "my blood type is O negative": (
        "my blood type", [K("O negative", ["O negative", "O neg", "0 negative"])]),
    "Dev's wedding is in Porto on 12 October": (
        "Dev's wedding", [K("on 12 October", date_words(12, "October")),
                          K("in Porto", ["Porto", "Oporto"])]),
    "the router admin page is at 192.168.1.1": (
        "the router", [K("the address 192.168.1.1", ["192.168.1.1"])]),
    "I owe Lena 40 euros for the concert tickets": (
        "the concert tickets", [K("40 euros owed to Lena", ["40", "forty"],
                                  ["euro", "euros", "eur"])]),
    "the cat's vaccination is due in May": (
        "the cat's vaccination", [K("the vaccination is due in May",
                                    ["vaccination", "vaccine", "jab", "jabs", "booster"],
                                    ["May"])]),
    "my shoe size in Europe is 43": (
        "my shoe size", [K("size 43", ["43", "forty-three"])]),
    "the landlord wants a month's notice before we move out": (
        "the landlord", [K("a month's notice", ["month's notice", "month notice", "one month",
                                                "a month", "1 month", "month of notice"])]),
    "my new work phone number is 0161 496 0732": (
        "my work phone number", [K("the new number", ["0161 496 0732", "01614960732"])]),
    "Dad moved his physio to Wednesdays": (
        "Dad's physio", [K("physio is now on Wednesdays", ["Wednesday", "Wednesdays"])]),
    "the babysitter's rate went up to 14 an hour": (
        "the babysitter", [K("14 an hour", ["14", "fourteen"], ["hour", "hourly"])]),
    "my Spanish class now starts at 7pm": (
        "my Spanish class", [K("it starts at 7pm", ["7pm", "7 pm", "7 p.m.", "seven", "19:00",
                                                    "7:00"])]),
    "the garage door code changed to 5521": (
        "the garage door code", [K("the code is 5521", ["5521", "55 21"])]),
    "Mia prefers to be called Mimi now": (
        "Mia", [K("she is called Mimi now", ["Mimi"])]),
    "the printer ink is the 302XL cartridge": (
        "the printer ink", [K("the 302XL cartridge", ["302XL", "302 XL", "302"])]),
    "I returned the library books on Monday": (
        "the library books", [K("returned on Monday", ["Monday"])]),
    "the tomato seedlings were planted on 3 April": (
        "the tomato seedlings", [K("planted on 3 April", date_words(3, "April"))]),
    "Oscar's football practice moved to Saturday mornings": (
        "Oscar's football practice", [K("now on Saturday mornings", ["Saturday", "Saturdays"])]),
    "the electricity meter reading was 48213": (
        "the electricity meter reading", [K("the reading 48213", ["48213", "48,213",
                                                                  "48 213"])]),
    "the water company's reference number is WX-88120": (
        "the water company", [K("reference WX-88120", ["WX-88120", "WX 88120", "88120"])]),
    "I prefer aisle seats on flights": (
        "my seat preference", [K("aisle seats", ["aisle"])]),
    "the neighbours are away until the 28th": (
        "the neighbours", [K("away until the 28th", ["28th", "28", "twenty-eighth"])]),
}
FACT_BY_TOPIC = {topic: fact for fact, (topic, _) in SAVED_FACTS.items()}
TEST_FACTS = list(SAVED_FACTS)[:8]  # the ones memory.two_searches' topics come from


def saved_content(rec: dict, task: int, limit: int) -> list[Fact]:
    """What a memory-save task with a literal text saves: the instruction states it."""
    fact = arg(rec, task)
    if fact not in SAVED_FACTS:
        raise DataError(f"{rec['id']}: no answer facts written for {fact!r}")
    return facts_from(task, SAVED_FACTS[fact][1], limit)


@maker("memory.update", "no expert results (memory-save only); facts are the updated detail "
       "and that it was saved")
def make_update(rec: dict, rng: Rng):
    return {}, saved_content(rec, 0, 1) + [saved_fact(0)]


@maker("memory.note_down", "no expert results (memory-save only); facts are the detail noted "
       "and that it was saved")
def make_note_down(rec: dict, rng: Rng):
    return {}, saved_content(rec, 0, 2) + [saved_fact(0)]


@maker("memory.two_saves", "no expert results (two memory-saves); facts are each saved detail "
       "and that they were saved")
def make_two_saves(rec: dict, rng: Rng):
    return {}, (saved_content(rec, 0, 1) + saved_content(rec, 1, 1)
                + [F(None, "says both were saved", SAVED, uses=(0, 1))])


@maker("memory.two_searches", "each search finds the note saved about its topic, sometimes "
       "with a weaker unrelated hit; one search in some records finds nothing; a fact per "
       "search")
def make_two_searches(rec: dict, rng: Rng):
    empty = rng.deal(TWO_SEARCHES_EMPTY)
    facts_here = {FACT_BY_TOPIC[arg(rec, i)] for i in (0, 1)}
    out, facts = {}, []
    for i in (0, 1):
        topic = arg(rec, i)
        if i == empty:
            out[i] = memories(rng, [])
            facts.append(F(i, f"nothing is saved about {topic}", NOTHING))
            continue
        fact = FACT_BY_TOPIC[topic]
        found = [Memory(fact)]
        if rng.random() < 0.4:
            # another note, never the one the other search is for (it would find it too)
            found.append(Memory(rng.choice([f for f in TEST_FACTS if f not in facts_here])))
        out[i] = memories(rng, found)
        facts += facts_from(i, SAVED_FACTS[fact][1], 1)
    return out, facts


WHEN: dict[str, tuple[list[Memory], list[Key]]] = {
    "my flight to Lisbon": (
        [Memory("My flight to Lisbon is on 14 May at 07:40 from Gatwick."),
         Memory("Lisbon hotel: Casa do Rio, check-in from 3pm.")],
        [K("on 14 May", date_words(14, "May")),
         K("at 07:40", time_words(7, 40, "twenty to eight", "seven forty"))]),
    "the recycling collection": (
        [Memory("Recycling is collected every other Tuesday; the next one is 21 May.")],
        [K("next on 21 May", date_words(21, "May")),
         K("every other Tuesday", ["Tuesday", "Tuesdays"])]),
    "Mum's hospital check-up": (
        [Memory("Mum's check-up at Wythenshawe Hospital is on 3 June at 10:15, cardiology "
                "clinic.")],
        [K("on 3 June", date_words(3, "June")),
         K("at 10:15", time_words(10, 15, "quarter past ten"))]),
    "the parent-teacher meeting": (
        [Memory("Parent-teacher meeting with Mr Harris: Thursday 6 June, 5:30pm."),
         Memory("Ask Mr Harris about Oscar's reading group.")],
        [K("on 6 June", date_words(6, "June")),
         K("at 5:30pm", time_words(17, 30, "half past five", "half five"))]),
    "the quarterly tax deadline": (
        [Memory("Quarterly tax payment due 31 July; Farah sends the figures a week before.")],
        [K("due 31 July", date_words(31, "July"))]),
    "my dentist appointment": (
        [Memory("Dentist with Dr Kaur on 28 May at 2:45pm.")],
        [K("on 28 May", date_words(28, "May")),
         K("at 2:45pm", time_words(14, 45, "quarter to three"))]),
    "the car insurance renewal": (
        [Memory("Car insurance with Harbour Mutual renews on 1 September; last year it was "
                "412 pounds.")],
        [K("on 1 September", date_words(1, "September"))]),
}


@maker("memory.when", "the note with the date (and time) asked about, sometimes with a second "
       "related note; nothing found in about 1 in 6; facts are the date and time")
def make_when(rec: dict, rng: Rng):
    topic = arg(rec, 0)
    found, keys = WHEN[topic]
    if rng.deal(ONE_IN_SIX):
        return {0: memories(rng, [])}, [F(0, f"nothing is saved about {topic}", NOTHING)]
    return {0: memories(rng, found[:rng.randint(1, len(found))])}, facts_from(0, keys, 2)


# ---------------------------------------------------------------------------------- mixed

PARTY_NOTES: list[tuple[Say, list[str]]] = [
    (Say("Note about the party: Tom finally told everyone he's moving to Canada in August. Ana "
         "brought her famous lemon cake. Remember to send the photos to Priya.",
         [K("Tom is moving to Canada", ["Canada"]), K("Ana's lemon cake", ["lemon cake", "cake"])]),
     ["Tom", "Ana", "Priya"]),
    (Say("Great evening at the barbecue. Marco's new puppy is called Biscuit. We should do this "
         "again before the summer ends, maybe at Lena's place.",
         [K("Marco's puppy Biscuit", ["Biscuit"]), K("next time at Lena's", ["Lena"])]),
     ["Marco", "Lena", "Sam"]),
    (Say("Christmas Eve notes: Grandpa Joe loved the scarf. Mia wants a bike for her birthday in "
         "March. Next year we're hosting, not Aunt Rosa.",
         [K("Grandpa Joe loved the scarf", ["scarf"]),
          K("Mia wants a bike", ["bike", "bicycle"])]),
     ["Grandpa Joe", "Mia", "Aunt Rosa"]),
    (Say("Quick memo from the wedding: table four was the loudest. Sam gave a really funny "
         "speech, and Helen caught the bouquet.",
         [K("Sam's funny speech", ["speech"]), K("Helen caught the bouquet", ["bouquet"])]),
     ["Sam", "Helen", "Dev"]),
    (Say("Family dinner recap: Dad is retiring in October. Everyone agreed to go to the lake "
         "house for Easter. I owe Ana for the wine.",
         [K("Dad is retiring in October", ["retiring", "retire", "retirement"]),
          K("the lake house at Easter", ["lake house", "lake"])]),
     ["Dad", "Mum", "Ana"]),
    (Say("Reunion thoughts: I hadn't seen Jonas in ten years. He runs a bakery in Bristol now. "
         "We swapped numbers and promised to meet up in the spring.",
         [K("Jonas runs a bakery", ["bakery"]), K("in Bristol", ["Bristol"])]),
     ["Jonas", "Kenji", "Carla"]),
]


@maker("mixed.party_note_photo", "a party photo with 2-3 of the people a party voice note "
       "mentions (sometimes an unknown face too) and that note; facts are the names and 1-2 "
       "things the note says")
def make_party_note_photo(rec: dict, rng: Rng):
    say, names = rng.deal(PARTY_NOTES)
    seen: list[str | None] = rng.sample(names, rng.randint(2, 3))
    if rng.random() < 0.3:
        seen.append(None)
    return ({0: faces(rng, seen), 1: speech(rng, say.text)},
            [unknown_or_names(0, seen, "who is in the photo")]
            + facts_from(1, say.keys, rng.choice([1, 2])))


BACK_NOTES = [
    Say("My lower back has been aching since Monday, mostly after long calls. The physio said "
        "to get up every half hour and stretch.",
        [K("the lower back aches", ["lower back"]),
         K("get up every half hour", ["half hour", "half an hour", "30 minutes",
                                      "thirty minutes"])]),
    Say("Neck pain again today, on the right side. I think it's the laptop screen being too low. "
        "Try raising it on a couple of books.",
        [K("neck pain on the right", ["neck"]),
         K("the laptop screen is too low", ["screen", "laptop"])]),
    Say("Back pain note: about a four out of ten this morning, better after the walk. Took "
        "ibuprofen at lunch.",
        [K("pain four out of ten", ["four out of ten", "4 out of 10", "4/10",
                                    "four out of 10", "4 out of ten"]),
         K("better after the walk", ["walk", "walking"])]),
    Say("My shoulders and neck are stiff after the weekend of gardening. Booked a massage for "
        "Thursday at six.",
        [K("stiff from gardening", ["gardening", "stiff"]),
         K("a massage on Thursday", ["massage"], ["Thursday"])]),
    Say("Upper back hurts when I sit on the kitchen chair for too long. The office chair with "
        "the lumbar cushion is much better.",
        [K("the upper back hurts on the kitchen chair", ["kitchen chair", "kitchen"]),
         K("the lumbar cushion helps", ["lumbar", "cushion"])]),
]


@maker("mixed.posture_and_voice", "a back- or neck-pain voice note and the user at the desk "
       "sitting, bending (slouching) or standing; facts are 1-2 points of the note, that it was "
       "saved, and the posture")
def make_posture_and_voice(rec: dict, rng: Rng):
    say = rng.deal(BACK_NOTES)
    posture = rng.choices(["sitting", "bending", "standing"], [5, 4, 1])[0]
    return ({0: speech(rng, say.text), 2: people(rng, [posture])},
            facts_from(0, say.keys, rng.choice([1, 2])) + [saved_fact(1),
                                                           posture_fact(2, posture, "you")])


# The coach's advice fits the exercise in the photo; the postures the pose model would give it.
EXERCISE_ADVICE: dict[str, tuple[Say, list[str]]] = {
    "gym_squat.jpeg": (Say(
        "Good session today. On your squats, keep your chest up and push your knees out over "
        "your toes. Go down until your thighs are parallel to the floor, no deeper for now.",
        [K("keep the chest up", ["chest"]), K("knees out over the toes", ["knees", "knee"]),
         K("thighs parallel to the floor", ["parallel"])]), ["bending", "sitting"]),
    "deadlift_side.png": (Say(
        "For the deadlift, keep your back flat and the bar close to your shins. Drive through "
        "your heels and don't round your lower back at the top.",
        [K("keep the back flat", ["flat"]), K("the bar close to the shins", ["shins", "shin"]),
         K("drive through the heels", ["heels", "heel"])]), ["bending"]),
    "yoga_pose.jpg": (Say(
        "For tree pose, press your foot into the inner thigh, not the knee. Keep your hips level "
        "and your gaze on one point.",
        [K("foot on the inner thigh, not the knee", ["thigh"]),
         K("hips level", ["hips", "hip"], ["level"])]), ["standing"]),
    "plank_check.webp": (Say(
        "In the plank your body should make one straight line from head to heels. Don't let "
        "your hips sag, and hold it for thirty seconds.",
        [K("one straight line head to heels", ["straight line", "straight"]),
         K("don't let the hips sag", ["sag", "sagging", "drop", "dip"]),
         K("hold for thirty seconds", ["thirty", "30"], ["seconds", "second", "secs"])]),
     ["lying"]),
    "pushup_form.jpg": (Say(
        "On push-ups, hands a bit wider than your shoulders and elbows at about forty-five "
        "degrees. Lower your chest all the way to the floor.",
        [K("elbows at about 45 degrees", ["forty-five", "45"], ["degrees", "degree"]),
         K("hands wider than the shoulders", ["wider", "shoulders", "shoulder"])]), ["lying"]),
    "stretch_0611.png": (Say(
        "For the hamstring stretch, sit tall and reach for your toes without rounding your back. "
        "Hold each side for twenty seconds.",
        [K("the hamstring stretch", ["hamstring", "hamstrings"]),
         K("hold twenty seconds", ["twenty", "20"], ["seconds", "second", "secs"])]),
     ["sitting", "bending"]),
    "lunge.jpeg": (Say(
        "On the lunges, step far enough that your front knee stays above your ankle. Keep your "
        "torso upright and lower the back knee towards the floor.",
        [K("front knee above the ankle", ["ankle"]),
         K("torso upright", ["upright", "torso"])]), ["standing", "bending"]),
}


@maker("mixed.trainer_note", "the coach's advice for the exercise in the photo (squat, "
       "deadlift, plank...) and the pose the model gives it; facts are 2 points of advice and "
       "the posture")
def make_trainer_note(rec: dict, rng: Rng):
    say, postures = EXERCISE_ADVICE[arg(rec, 1)]
    posture = rng.choice(postures)
    return ({0: speech(rng, say.text), 1: people(rng, [posture])},
            facts_from(0, say.keys, 2) + [posture_fact(1, posture, "you")])


# Who "my son", "Grandma"... is among the enrolled faces.
POSTURES_UP_OR_DOWN = ["lying", "sitting", "standing"]
PERSON_IN_REQUEST = {"my son": "Leo", "Grandpa Joe": "Grandpa Joe", "Aunt Rosa": "Aunt Rosa",
                     "Grandma": "Grandma", "Mum": "Mum", "Dad": "Dad"}


@maker("mixed.person_posture", "one person, the one asked about (else an unknown face, 1 in "
       "6), sitting, standing or lying; facts are who it is and the posture")
def make_person_posture(rec: dict, rng: Rng):
    asked = next(v for k, v in PERSON_IN_REQUEST.items() if k in rec["instruction"])
    name = None if rng.deal(ONE_IN_SIX) else asked
    posture = rng.deal(POSTURES_UP_OR_DOWN)
    who = asked if name else "the person"
    return ({0: faces(rng, [name]), 1: people(rng, [posture])},
            [unknown_or_names(0, [name], "who it is"), posture_fact(1, posture, who)])


REMEMBER_NOTES = [
    Say("Note: pay the window cleaner twenty pounds on Thursday. He comes every four weeks.",
        [K("pay the window cleaner", ["window cleaner"])]),
    Say("Remember to book the MOT for the car before the twelfth of July.",
        [K("book the MOT", ["MOT"])]),
    Say("Idea for the holidays: rent a cottage in the Lake District for a week in October.",
        [K("a cottage in the Lake District", ["Lake District", "cottage"])]),
    Say("Shopping for Saturday: birthday candles, oat milk, and a present for Mia.",
        [K("birthday candles", ["candles", "candle"])]),
    Say("Call the council about the broken streetlight outside number twenty-two.",
        [K("the broken streetlight", ["streetlight", "street light", "street lamp"])]),
    Say("The kids' swimming lessons move to Wednesdays at half four from next week.",
        [K("swimming lessons on Wednesdays", ["swimming"], ["Wednesday", "Wednesdays"])]),
]


@maker("mixed.remember_note_and_faces", "a one-line voice note and a photo of 1-3 enrolled "
       "people (sometimes an unknown face); facts are the note's point, the names, and that "
       "each was saved")
def make_remember_note_and_faces(rec: dict, rng: Rng):
    say = rng.deal(REMEMBER_NOTES)
    seen: list[str | None] = rng.sample(FRIENDS, rng.randint(1, 3))
    if rng.random() < 0.25:
        seen.append(None)
    return ({0: speech(rng, say.text), 2: faces(rng, seen)},
            facts_from(0, say.keys, 1)
            + [F(1, "says the voice note was saved", SAVED),
               unknown_or_names(2, seen, "who is in the photo"),
               F(3, "says the names were saved", SAVED)])


ELDER_NOTES: dict[str, list[tuple[Memory, Key]]] = {
    "Grandpa Joe": [
        (Memory("Grandpa Joe takes his blood pressure tablets at 8 in the morning and evening."),
         K("he takes blood pressure tablets", ["blood pressure", "tablets", "tablet"])),
        (Memory("Grandpa Joe's GP is Dr Shah at the Parkway surgery."),
         K("his GP is Dr Shah", ["Shah"]))],
    "Grandma": [
        (Memory("Grandma had a hip replacement in February; she shouldn't climb the stairs "
                "alone."),
         K("she had a hip replacement", ["hip"])),
        (Memory("Grandma's neighbour Irene has a spare key."),
         K("Irene has a spare key", ["Irene"]))],
    "Dad": [
        (Memory("Dad is diabetic; there are glucose tablets in the kitchen drawer."),
         K("Dad is diabetic", ["diabetic", "diabetes"])),
        (Memory("Dad's physio exercises: ten minutes of leg raises every afternoon."),
         K("his leg-raise exercises", ["leg raises", "leg raise", "physio"]))],
    "Mum": [
        (Memory("Mum's hearing aid batteries are size 312."),
         K("her hearing aid", ["hearing aid"])),
        (Memory("Mum's friend Carol visits on Thursdays."),
         K("Carol visits on Thursdays", ["Carol"]))],
    "Aunt Rosa": [
        (Memory("Aunt Rosa is staying with us until 20 June while her flat is repainted."),
         K("she stays until 20 June", date_words(20, "June"))),
        (Memory("Aunt Rosa is allergic to penicillin."),
         K("she is allergic to penicillin", ["penicillin"]))],
}
ELDERS = list(ELDER_NOTES)


@maker("mixed.face_pose_notes", "an older relative (Grandpa Joe, Grandma, Dad, Mum, Aunt Rosa) "
       "alone in a camera frame, in the posture the request mentions (else any), and 1-2 notes "
       "about them; facts are the name, the posture and 1-2 notes")
def make_face_pose_notes(rec: dict, rng: Rng):
    name = rng.deal(ELDERS)
    if has(rec, "lying"):
        posture = "lying"
    elif has(rec, "sitting in the chair"):
        posture = "sitting"
    else:
        posture = rng.choice(["standing", "sitting", "lying"])
    notes = rng.sample(ELDER_NOTES[name], rng.randint(1, 2))
    return ({0: faces(rng, [name]), 1: people(rng, [posture]),
             2: memories(rng, [m for m, _ in notes])},
            [names_fact(0, [name], "who it is"), posture_fact(1, posture, name)]
            + [Fact(2, k.about, k.groups) for _, k in notes])


# A known visitor says something that fits them; an unknown one is a courier or the like.
KNOWN_VISITORS: dict[str, Say] = {
    "Lena": Say("Hi, it's Lena from next door. A parcel came for you this morning; I'll keep it "
                "until you're back.",
                [K("she has a parcel for you", ["parcel", "package"]),
                 K("she keeps it until you're back", ["keep", "keeping", "hold", "holding"])]),
    "Marco": Say("Hello, it's Marco. I'm returning your drill, I'll leave it in the shed.",
                 [K("he returned the drill", ["drill"]), K("it's in the shed", ["shed"])]),
    "Mr Evans": Say("Hiya, it's Mr Evans. Your car lights are still on. Just thought you'd want "
                    "to know.",
                    [K("the car lights are on", ["lights", "headlights"])]),
}
STRANGER_MESSAGES = [
    Say("Hello, delivery from Parcelway. I couldn't leave the package, so I'll try again "
        "tomorrow between ten and two.",
        [K("a package delivery", ["delivery", "package", "parcel", "courier"]),
         K("they'll try again tomorrow", ["tomorrow"])]),
    Say("Good afternoon, I'm from the water company. We're checking meters on this street; "
        "I'll come back on Friday.",
        [K("the water company is checking meters", ["water"], ["meter", "meters"]),
         K("back on Friday", ["Friday"])]),
    Say("Hi, I'm collecting for the local food bank. I'll leave a bag for tins and pick it up "
        "on Sunday.",
        [K("collecting for the food bank", ["food bank"]),
         K("picking the bag up on Sunday", ["Sunday"])]),
]
KNOWN_VISITOR_NAMES = list(KNOWN_VISITORS)


@maker("mixed.doorbell_voicemail", "a known visitor (Lena, Marco, Mr Evans) or a stranger "
       "(courier, meter reader, food-bank collector) and what they said at the door; facts are "
       "who it was and 1-2 points of the message")
def make_doorbell_voicemail(rec: dict, rng: Rng):
    if rng.deal(HALF):
        name: str | None = rng.deal(KNOWN_VISITOR_NAMES)
        say = KNOWN_VISITORS[name]
    else:
        name, say = None, rng.deal(STRANGER_MESSAGES)
    return ({0: faces(rng, [name]), 1: speech(rng, say.text)},
            [unknown_or_names(0, [name], "who the visitor is")]
            + facts_from(1, say.keys, rng.choice([1, 2])))


# --------------------------------------------------------------------------------------------
# Building records: results, failures, checks.

UNGROUNDED_KINDS = ("translation", "language", "failure")  # checked otherwise (see check_record)
OUTPUT_KEYS = {STT: "text", OD: "objects", POSE: "people", FACE: "faces", SEARCH: "memories"}


def load_q2a(split: str) -> list[dict]:
    lines = (HERE / f"q2a_{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def template_rng(template: str) -> Rng:
    return Rng(SEED * 1000003 + zlib.crc32(f"answers:{template}".encode()))


def dependents(rec: dict, roots: set[int]) -> set[int]:
    """`roots` and every task that needs one of them, directly or not (the runner skips those
    when a root fails)."""
    out = set(roots)
    for t in rec["plan"]["tasks"]:  # tasks only depend on earlier ones
        if any(d in out for d in t["dep"]):
            out.add(t["id"])
    return out


def fail_one(rec: dict, rng: Rng, facts: list[Fact]) -> tuple[dict[int, str], list[Fact]]:
    """Make one task that is not memory-save fail: its facts and those of the tasks that needed
    it give way to one fact that the answer must admit the failure."""
    candidates = [t for t in rec["plan"]["tasks"] if t["task"] != SAVE]
    task = rng.choice(candidates)
    lost = dependents(rec, {task["id"]})
    kept = [f for f in facts if not (f.needs() & lost)]
    kept.append(F(task["id"], f"says the {task['task']} step failed", FAILED, kind="failure"))
    return {task["id"]: error_for(rng, task)}, kept


def make_record(rec: dict, rng: Rng, fail: bool) -> dict:
    outputs, facts = MAKERS[rec["template"]][1](rec, rng)
    errors: dict[int, str] = {}
    if fail:
        errors, facts = fail_one(rec, rng, facts)
    results = {}
    for t in rec["plan"]["tasks"]:
        if t["task"] == SAVE:
            continue
        tid = t["id"]
        results[str(tid)] = {"error": errors[tid]} if tid in errors else {"output": outputs[tid]}
    facts.sort(key=lambda f: 99 if f.task is None else f.task)  # stable: maker order within
    return {"id": rec["id"], "template": rec["template"], "scenario": rec["scenario"],
            "instruction": rec["instruction"], "attachments": rec["attachments"],
            "plan": rec["plan"], "results": results, "facts": [f.to_dict() for f in facts]}


def build() -> dict[str, list[dict]]:
    """Every dev/test record with tasks, in q2a order; each template's records from its own rng
    (the first draw picks which of its records, one in FAIL_EVERY, have a failure)."""
    q2a = {s: [r for r in load_q2a(s) if r["plan"]["tasks"]] for s in SPLITS}
    templates = list(dict.fromkeys(r["template"] for s in SPLITS for r in q2a[s]))
    missing = [t for t in templates if t not in MAKERS]
    extra = [t for t in MAKERS if t not in templates]
    if missing or extra:
        raise DataError(f"templates without a maker: {missing}; makers without records: {extra}")
    made: dict[str, dict] = {}
    for template in templates:
        rng = template_rng(template)
        offset = rng.randrange(FAIL_EVERY)
        recs = [r for s in SPLITS for r in q2a[s] if r["template"] == template]
        for k, rec in enumerate(recs):
            can_fail = any(t["task"] != SAVE for t in rec["plan"]["tasks"])
            made[rec["id"]] = make_record(rec, rng, can_fail and (k + offset) % FAIL_EVERY == 0)
    out = {s: [made[r["id"]] for r in q2a[s]] for s in SPLITS}
    for s in SPLITS:
        for rec in out[s]:
            check_record(rec)
    return out


# --------------------------------------------------------------------------------------------
# Checks.


def saved_text(rec: dict, task: dict, results: dict) -> str:
    """What a memory-save receives: its literal text, or the line of the task it names."""
    text = next(iter(task["args"].values()))
    m = GENERATED_ONLY.match(text)
    if not m:
        return text
    source = rec["plan"]["tasks"][int(m.group(1))]
    return task_line({"task": source["task"], **results[m.group(1)]}).split(": ", 1)[-1]


def seen_text(rec: dict) -> str:
    """The instruction and the lines the summarizer reads for the results (task_line of
    agent.expert_context), with failed tasks' dependents skipped."""
    results = rec["results"]
    failed = {int(k) for k, r in results.items() if "error" in r}
    skipped = dependents(rec, failed) - failed
    lines = [rec["instruction"]]
    for t in rec["plan"]["tasks"]:
        task = {"task": t["task"], "args": t["args"]}
        if t["id"] in skipped:
            task.update(status="skipped", error="a task it needs failed")
        elif t["task"] == SAVE:
            task["output"] = {"text": saved_text(rec, t, results)}
        else:
            task.update(results[str(t["id"])])
        lines.append(task_line(task))
    return "\n".join(lines)


def check_output(where: str, expert: str, out: dict) -> None:
    items = out.get(OUTPUT_KEYS[expert])
    ok = items is not None
    if expert == STT:
        ok = ok and isinstance(out["text"], str) and out["language"] in ("en", *LANGUAGE_NAMES) \
            and all(0 <= s["start"] < s["end"] for s in out["segments"]) \
            and (" " if out["language"] != "ja" else "").join(
                s["text"] for s in out["segments"]) == out["text"]
    elif expert == OD:
        ok = ok and all(0.3 <= o["confidence"] <= 0.99 and len(o["box"]) == 4 for o in items)
    elif expert == POSE:
        ok = ok and all(p["posture"] in (*POSTURE_WORDS, "unknown") for p in items)
    elif expert == FACE:
        ok = ok and all((f["similarity"] >= 0.4) == (f["name"] is not None) for f in items)
    elif expert == SEARCH:
        ok = ok and len(items) <= 3
    if not ok:
        raise DataError(f"{where}: {expert} output has the wrong shape: {out}")


def check_record(rec: dict) -> None:
    where = f"{rec['id']} ({rec['template']})"
    tasks = {t["id"]: t for t in rec["plan"]["tasks"]}
    want = {str(i) for i, t in tasks.items() if t["task"] != SAVE}
    if set(rec["results"]) != want:
        raise DataError(f"{where}: results for {sorted(rec['results'])}, tasks {sorted(want)}")
    failures = [k for k, r in rec["results"].items() if "error" in r]
    if len(failures) > 1:
        raise DataError(f"{where}: more than one failed task")
    for k, r in rec["results"].items():
        if "output" in r:
            check_output(where, tasks[int(k)]["task"], r["output"])
    facts = rec["facts"]
    if not 1 <= len(facts) <= 4:
        raise DataError(f"{where}: {len(facts)} facts")
    text = seen_text(rec)
    for f in facts:
        if f["task"] is not None and f["task"] not in tasks:
            raise DataError(f"{where}: fact about task {f['task']}, which the plan lacks")
        if not f["all"] or not all(g and all(normalize(a).strip() for a in g) for g in f["all"]):
            raise DataError(f"{where}: empty group or alternative in {f}")
        if f.get("kind") == "failure" and str(f["task"]) not in failures:
            raise DataError(f"{where}: failure fact for a task that did not fail")
        if f.get("kind") == "language":
            lang = rec["results"][str(f["task"])]["output"]["language"]
            if f["all"] != [LANGUAGE_NAMES[lang]]:
                raise DataError(f"{where}: language fact does not match {lang!r}")
        if f.get("kind") in UNGROUNDED_KINDS:
            continue
        for group in f["all"]:
            if not any(occurs(a, text) for a in group):
                raise DataError(f"{where}: fact {f['about']!r}: none of {group} is in what the "
                                f"summarizer sees:\n{text}")


# --------------------------------------------------------------------------------------------
# Output.


def dumps(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False)


def stats(out: dict[str, list[dict]]) -> str:
    recs = [r for s in SPLITS for r in out[s]]
    failed = [(r, t) for r in recs for t in r["plan"]["tasks"]
              if "error" in r["results"].get(str(t["id"]), {})]
    facts = [f for r in recs for f in r["facts"]]
    kinds = Counter(f.get("kind", "grounded") for f in facts)
    per_record = Counter(len(r["facts"]) for r in recs)
    calls = Counter(r["plan"]["tasks"][int(k)]["task"] for r in recs for k in r["results"])
    empty = Counter(r["plan"]["tasks"][int(k)]["task"] for r in recs
                    for k, v in r["results"].items()
                    if "output" in v and not v["output"].get(OUTPUT_KEYS[
                        r["plan"]["tasks"][int(k)]["task"]]))
    langs = Counter(v["output"]["language"] for r in recs for v in r["results"].values()
                    if "output" in v and "language" in v["output"])
    lines = [
        f"{len(recs)} records from {len({r['template'] for r in recs})} templates (seed {SEED}): "
        + ", ".join(f"{s} {len(out[s])}" for s in SPLITS) + ".", "",
        f"Failed tasks: {len(failed)} ({len(failed) / len(recs):.1%} of records; "
        + ", ".join(f"{k} {v}" for k, v in sorted(Counter(t['task'] for _, t in failed).items()))
        + ").",
        "Results by expert: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
        + "; of these with an empty list (no objects, people, faces or memories found): "
        + ", ".join(f"{k} {v}" for k, v in sorted(empty.items())) + ".",
        "Transcript languages: " + ", ".join(f"{k} {v}" for k, v in langs.most_common()) + ".",
        f"Facts: {len(facts)} ({len(facts) / len(recs):.2f} per record; "
        + ", ".join(f"{k}: {v}" for k, v in sorted(per_record.items())) + " per record); "
        + ", ".join(f"{k} {v}" for k, v in kinds.most_common()) + ".", "",
        "| template | split | records | failures | facts | results |", "|---|---|---|---|---|---|"]
    for split in SPLITS:
        for template in dict.fromkeys(r["template"] for r in out[split]):
            rs = [r for r in out[split] if r["template"] == template]
            nfail = sum(1 for r in rs if any("error" in v for v in r["results"].values()))
            lines.append(f"| `{template}` | {split} | {len(rs)} | {nfail} | "
                         f"{sum(len(r['facts']) for r in rs)} | {MAKERS[template][0]} |")
    return "\n".join(lines)


def render(out: dict[str, list[dict]]) -> dict[str, str]:
    """File name -> text of every file the generator owns."""
    files = {f"answers_{s}.jsonl": "".join(dumps(r) + "\n" for r in out[s]) for s in SPLITS}
    card = (HERE / "ANSWERS.md").read_text(encoding="utf-8")
    head, sep, rest = card.partition(STATS_BEGIN)
    _, sep2, tail = rest.partition(STATS_END)
    if not (sep and sep2):
        raise DataError("ANSWERS.md lacks the stats markers")
    files["ANSWERS.md"] = head + STATS_BEGIN + "\n" + stats(out) + "\n" + STATS_END + tail
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: here)")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 if the committed files differ from the output")
    args = ap.parse_args(argv)
    out = build()
    files = render(out)
    if args.check:
        stale = [name for name, text in files.items()
                 if not (HERE / name).exists()
                 or (HERE / name).read_text(encoding="utf-8") != text]
        if stale:
            print("stale: " + ", ".join(stale) + " (run python3 "
                  "resources/benchmark/generate_answers.py)", file=sys.stderr)
            return 1
        print("answer benchmark files are up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {sum(len(v) for v in out.values())} records: "
          + ", ".join(f"{s} {len(out[s])}" for s in SPLITS) + f" -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
