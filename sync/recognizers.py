"""Hearth's own Presidio recognizers: the personal data spaCy's small English model misses.

Measured before these existed: spaCy-sm alone found 25 of 30 PII items in 10 sentences; it has
no notion of street addresses, postcodes, dates of birth, most phone shapes or the user's own
names. Each recognizer here is a Presidio `LocalRecognizer` with its own compiled regexes (not
`PatternRecognizer`: the analyzer runs those case-insensitively, and capital letters are what
tells "12 Baker Street" from "12 baker's dozens"). When in doubt they err towards hiding: a
number that only looks like a phone number becomes a placeholder too, and restore() puts it
back in the cloud's reply.

Presidio is imported by the functions that build these (sync.anonymizer), never at import of
the app; this module is only imported from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer

# ---------------------------------------------------------------------------------------------
# Offline e-mail validation

_TLD_EXTRACT = None


def offline_tldextract():
    """tldextract's module-level extractor fetches the public suffix list over HTTPS on first
    use (and caches it under ~/.cache). This one reads only the snapshot inside the package."""
    global _TLD_EXTRACT
    if _TLD_EXTRACT is None:
        import tldextract

        _TLD_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                             fallback_to_snapshot=True)
    return _TLD_EXTRACT


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, validating domains with the offline suffix list."""

    def validate_result(self, pattern_text: str):  # noqa: D102
        return offline_tldextract()(pattern_text).fqdn != ""


# ---------------------------------------------------------------------------------------------
# The base: regexes over the text, one entity type per recognizer


class RegexRecognizer(LocalRecognizer):
    """Every match of `patterns` (compiled, with their own flags) that `accept` keeps."""

    ENTITY = ""
    SCORE = 0.6

    def __init__(self, patterns: Iterable[re.Pattern] | None = None, score: float | None = None):
        super().__init__(supported_entities=[self.ENTITY], supported_language="en")
        self.patterns = list(patterns if patterns is not None else self.default_patterns())
        self.score = self.SCORE if score is None else score

    def default_patterns(self) -> list[re.Pattern]:
        return []

    def load(self) -> None:
        pass

    def spans(self, text: str) -> Iterable[tuple[int, int, str]]:
        for pattern in self.patterns:
            for m in pattern.finditer(text):
                start, end = m.span("pii") if "pii" in pattern.groupindex else m.span()
                if end > start and self.accept(text[start:end]):
                    yield start, end, self.ENTITY

    def accept(self, found: str) -> bool:
        return True

    def analyze(self, text, entities, nlp_artifacts=None):
        # `entities` is the registry's list, which leaves out ad-hoc recognizers' types
        return [RecognizerResult(kind, start, end, self.score,
                                 recognition_metadata={
                                     RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                     RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})
                for start, end, kind in self.spans(text)]


# ---------------------------------------------------------------------------------------------
# Numbers: cards, phones, accounts, anything long

DIGIT_RUN = re.compile(r"(?<![\w+])\d+(?:[ \-]\d+)*(?![\w])")
DATE_SHAPES = re.compile(
    r"\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}|\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{4}\s?-\s?\d{4}")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class CardNumberRecognizer(RegexRecognizer):
    """Payment card numbers: 12-19 digits, spaced or dashed in any grouping, Luhn-valid.
    (Presidio's own recognizer knows only some issuers' prefixes and groupings: it misses
    Mastercard's 2-series, Maestro and 4-6-5 Amex.)"""

    ENTITY = "CREDIT_CARD"
    SCORE = 0.9

    def spans(self, text):
        for m in DIGIT_RUN.finditer(text):
            groups = [(g.start() + m.start(), g.end() + m.start(), g.group())
                      for g in re.finditer(r"\d+", m.group())]
            i = 0
            while i < len(groups):
                # the longest run of whole groups from group i that is a valid card number;
                # at most 19 digits, so each start looks at a few groups only
                digits, found = "", None
                for j in range(i, len(groups)):
                    digits += groups[j][2]
                    if len(digits) > 19:
                        break
                    if len(digits) >= 12 and luhn_ok(digits):
                        found = j
                if found is None:
                    i += 1
                    continue
                yield groups[i][0], groups[found][1], self.ENTITY
                i = found + 1


_PHONE_GROUP = r"(?:\(\s?\d{1,5}\s?\)\s?\d{0,6}|\d{1,15})"
_PHONE_SEP = r"(?:\s?[.\-/]\s?|\s|(?<=\)))"
PHONE_SHAPE = re.compile(
    r"(?<![\w+@.\-/])(?P<pii>(?:\+\s?|00)?" + _PHONE_GROUP + r"(?:" + _PHONE_SEP + _PHONE_GROUP
    + r"){0,7}(?:\s?(?:x|ext\.?|extension|\#)\s?\d{1,6})?)(?![\w@]|[.\-/]\d)", re.IGNORECASE)
EXTENSION = re.compile(r"(?:x|ext\.?|extension|#)\s?\d{1,6}$", re.IGNORECASE)


class PhoneShapeRecognizer(RegexRecognizer):
    """Phone numbers in the shapes people write them: +44 20 7946 0958, (555) 555-5555,
    555.555.5555 x123, 0049 30 1234567, 06 12 34 56 78. 7-15 digits not shaped like a date.
    A bare run of digits with no phone punctuation is reported as a NUMBER instead."""

    ENTITY = "PHONE_NUMBER"
    SCORE = 0.55

    def supported(self) -> list[str]:
        return ["PHONE_NUMBER", "NUMBER"]

    def __init__(self):
        super().__init__()
        self.supported_entities = self.supported()

    def spans(self, text):
        for m in PHONE_SHAPE.finditer(text):
            found = m.group("pii").rstrip()
            start, end = m.start("pii"), m.start("pii") + len(found)
            body = EXTENSION.sub("", found)
            digits = re.sub(r"\D", "", body)
            if not 7 <= len(digits) <= 15:
                continue
            if DATE_SHAPES.fullmatch(body.strip()):
                continue
            shaped = bool(re.search(r"[+()]|^00|\d[ .\-/]\d", body)) or body != found
            yield start, end, "PHONE_NUMBER" if shaped else "NUMBER"


class LongNumberRecognizer(RegexRecognizer):
    """Any long run of digit groups (8+ digits) no other recognizer explains: an account,
    policy or customer number is personal even when we can't tell which it is."""

    ENTITY = "NUMBER"
    SCORE = 0.3

    def spans(self, text):
        for m in DIGIT_RUN.finditer(text):
            if len(re.sub(r"\D", "", m.group())) >= 8 and not DATE_SHAPES.fullmatch(m.group()):
                yield m.start(), m.end(), self.ENTITY


class AccountNumberRecognizer(RegexRecognizer):
    """Numbers introduced as account, sort code, routing, BIC/SWIFT or policy numbers."""

    ENTITY = "ACCOUNT_NUMBER"
    SCORE = 0.8

    def default_patterns(self):
        cue = (r"(?:account|acct|a/c|acc|sort[ -]?code|routing|aba|bsb|bic|swift|policy|member"
               r"|customer|membership|reference|ref|passport|licen[cs]e|ssn|social security"
               r"|national insurance|ni|nhs|tax id|tin|vat)\b")
        return [re.compile(
            r"\b" + cue + r"(?:\s+(?:number|num|nr|no|code|id|#)\b)?\.?\s*(?:is|:|#|=)?\s*"
            r"(?P<pii>(?:[A-Z]{1,4}[ \-/])?[A-Z0-9]*\d[A-Z0-9]*(?:[ \-/][A-Z0-9]*\d[A-Z0-9]*)*)",
            re.IGNORECASE)]

    def accept(self, found):
        return sum(c.isdigit() for c in found) >= 4


# ---------------------------------------------------------------------------------------------
# Places: street addresses, postcodes

# USPS street suffixes (the list US address generators use) plus British, Irish and Australian
# ones, with the common abbreviations.
STREET_SUFFIXES = """
alley allee annex arcade avenue ave av bayou beach bend bluff bluffs bottom boulevard blvd branch
bridge brook brooks burg burgs bypass camp canyon cape causeway center centers circle circles cir
cliff cliffs close club common commons corner corners course court courts ct cove coves creek
crescent cres crest crossing crossroad curve dale dam divide drive drives dr drove embankment
esplanade estate estates expressway extension extensions fall falls ferry field fields flat flats
ford fords forest forge forges fork forks fort freeway garden gardens gdns gateway glen glens
green greens grove groves harbor harbors harbour haven heights highway hwy hill hills hollow
inlet island islands isle junction junctions key keys knoll knolls lake lakes land landing lane
ln light lights loaf lock locks lodge loop mall manor manors meadow meadows mews mill mills
mission motorway mount mountain mountains neck orchard oval overpass parade park parks parkway
pkwy parkways pass passage path pike pine pines place pl plain plains plaza point points port
ports prairie promenade quay radial ramp ranch rapid rapids rest ridge ridges river road rd roads
route row rue run shoal shoals shore shores skyway spring springs spur spurs square sq squares
station stravenue stream street st streets summit terrace ter throughway trace track trafficway
trail tunnel turnpike underpass union unions valley valleys via viaduct view views village
villages ville vista walk walks wall way ways well wells wharf wynd yard
""".split()
# A full word ends the name; an abbreviation may take its dot ("St.", but not "Street.").
_SUFFIX = ("(?:(?i:" + "|".join(sorted((s for s in STREET_SUFFIXES if len(s) > 4), key=len,
                                        reverse=True))
           + r")\b|(?i:" + "|".join(sorted((s for s in STREET_SUFFIXES if len(s) <= 4), key=len,
                                            reverse=True)) + r")\b(?:\.(?=[ ,]\S))?)")
_NAME_WORD = r"[A-Z][\w'’\-]*"
_UNIT = (r"(?:(?i:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|studio|building|bldg)\.?"
         r"\s?#?\s?\w{1,6}|#\s?\d{1,6})")
_NUMBER = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?"
# German, Dutch, Scandinavian compound street names: Hauptstraße 5, Kerkstraat 12
_COMPOUND = (r"(?i:straße|strasse|str\.|gasse|weg|platz|allee|ring|damm|ufer|chaussee|steig|"
             r"pfad|markt|gracht|laan|plein|kade|singel|dijk|straat|steeg|hof|gatan|gata|vej|"
             r"veien|gade|boulevard|park|pad|dreef|hoven|burg|berg|tal|garten|wall|baan)")
_FR_STREET = (r"(?i:rue|avenue|av\.|boulevard|bd|chemin|impasse|allée|allee|quai|cours|place|"
              r"square|route|passage|voie|sentier|calle|avenida|plaza|paseo|via|viale|piazza|"
              r"corso|largo|rua|travessa)")
_FR_LINK = r"(?:(?i:de la|de l'|du|des|de|d'|della|del|di|do|da|dos|das|la|le|l')\s?)?"

ADDRESS_PATTERNS = [
    # 12 Baker Street, 0485 Williams Mount Suite 321, 4B Elm Close, Apt. 5
    re.compile(r"(?<![\w])" + _NUMBER + r",?\s+(?:" + _NAME_WORD + r"\s+){0,4}" + _SUFFIX
               + r"(?:,?\s+" + _UNIT + r")?"),
    # Flat 3, Smith road  /  Studio 5\nJones alley (British secondary addresses)
    re.compile(_UNIT + r"[,\s]+(?:" + _NAME_WORD + r"\s+){1,4}" + _SUFFIX),
    # Elm Street, Baker Street (no number): only the unambiguous full-word suffixes
    re.compile(r"(?<![\w])(?:" + _NAME_WORD + r"\s+){1,3}"
               r"(?:Street|Road|Avenue|Lane|Boulevard|Drive|Crescent|Terrace|Close|Gardens)\b"),
    # Hauptstraße 5, Karl-Marx-Str. 12a, Kerkstraat 12, Am Markt 3
    re.compile(r"(?<![\w])(?:[A-ZÄÖÜÅØÆ][\w'\-]*\s)?[A-ZÄÖÜÅØÆ][\w\-]*" + _COMPOUND
               + r"\s?" + _NUMBER + r"\b"),
    re.compile(r"(?<![\w])(?:Am|An der|Im|In der|Auf der|Zum|Zur)\s+[A-ZÄÖÜ][\w\-]+"
               r"\s\d{1,4}[a-z]?\b"),
    # 12, rue de la Paix / 3 bis avenue Victor Hugo / Calle Mayor 5
    re.compile(r"(?<![\w])\d{1,4}(?:\s?(?:bis|ter))?,?\s+" + _FR_STREET + r"\s+" + _FR_LINK
               + r"[A-ZÉÈÀ][\w'’\-]*(?:\s+(?:[A-ZÉÈÀ][\w'’\-]*))*"),
    re.compile(r"(?<![\w])(?i:rue|avenue|boulevard|chemin|impasse|allée|quai|calle|avenida|"
               r"paseo|viale|piazza|corso)\s+" + _FR_LINK + r"[A-ZÉÈÀ][\w'’\-]*"
               r"(?:\s+[A-ZÉÈÀ][\w'’\-]*)*(?:,?\s+\d{1,4}\w?)?"),
    # US military mail: PSC 1234, Box 5678 / USNS Smith / Unit 1234 Box 5678
    re.compile(r"\b(?:PSC|Unit|USNS|USNV|USS|USCGC)\s+[\w]+(?:,?\s+Box\s+\d+)?"),
    # City, ST 12345 (US city line)
    re.compile(r"(?:" + _NAME_WORD + r"\s){0,3}" + _NAME_WORD
               + r",\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"),
]


# ", Springfield." after a street address: the town, when the sentence or line ends there
TOWN_AFTER = re.compile(r"(?:,\s*|\n)(?:" + _NAME_WORD + r"\s){0,2}" + _NAME_WORD
                        + r"(?=\s*(?:[.,;:!?\"'’)\n]|$))")


class StreetAddressRecognizer(RegexRecognizer):
    ENTITY = "STREET_ADDRESS"
    SCORE = 0.75

    def default_patterns(self):
        return ADDRESS_PATTERNS

    def spans(self, text):
        for start, end, kind in super().spans(text):
            town = TOWN_AFTER.match(text, end)
            yield start, town.end() if town else end, kind


_UK_POSTCODE = r"(?:GIR\s?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2})"
_TOWN = r"(?:[A-Z][\w'\-]+\s){0,3}[A-Z][\w'\-]+"
POSTCODE_PATTERNS = [
    # UK, with the town line before it when there is one: "New Kevin\nW1 2AB", "Leeds LS1 4AP"
    re.compile(r"(?<![\w])(?:" + _TOWN + r"[,\n]?\s)?" + _UK_POSTCODE + r"\b"),
    # Netherlands: 1234 AB (Amsterdam)
    re.compile(r"(?<![\w])\d{4}\s?[A-Z]{2}(?:\s+" + _TOWN + r")?\b(?!\s?\d)"),
    # Germany, France, Italy, Spain, Finland...: 10115 Berlin, 75001 Paris, D-10115 Berlin
    re.compile(r"(?<![\w])(?:[A-Z]{1,2}-)?\d{5}\s+" + _TOWN + r"\b"),
    # Poland 00-950 Warszawa, Portugal 1000-001 Lisboa
    re.compile(r"(?<![\w])\d{2,4}-\d{3}\s+" + _TOWN + r"\b"),
    # US: ZIP+4 anywhere, ZIP after a state code or the word zip / postcode
    re.compile(r"(?<![\w\-])\d{5}-\d{4}\b"),
    re.compile(r"\b[A-Z]{2}\s+\d{5}\b"),
    re.compile(r"(?i:zip(?:\s?code)?|post\s?code|postal\s?code|plz|code postal)[:\s]+"
               r"(?P<pii>[A-Z0-9]{2,5}(?:[\s\-][A-Z0-9]{2,4})?)\b"),
]


class PostcodeRecognizer(RegexRecognizer):
    ENTITY = "POSTCODE"
    SCORE = 0.7

    def default_patterns(self):
        return POSTCODE_PATTERNS


# ---------------------------------------------------------------------------------------------
# Dates of birth

_MONTH = (r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|januar|februar|märz|"
          r"mai|juni|juli|oktober|dezember|janvier|février|mars|avril|juin|juillet|août|"
          r"septembre|octobre|novembre|décembre)\.?")
_DAY = r"\d{1,2}(?:st|nd|rd|th|\.)?"
DATE = re.compile(
    r"(?<![\w])(?:\d{4}[./\-]\d{1,2}[./\-]\d{1,2}"
    r"|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}"
    r"|(?:the\s)?" + _DAY + r"(?:\sof)?\s" + _MONTH + r",?(?:\s\d{4})?"
    r"|" + _MONTH + r"\s" + _DAY + r"(?:,?\s\d{4})?"
    r"|" + _MONTH + r"\s\d{4})(?![\w])")
BIRTH_CUE = re.compile(r"(?i:born|birth|d\.?o\.?b\b|birthday|geboren|née?\b|nacido|nata?\b)")


class DateOfBirthRecognizer(RegexRecognizer):
    """A date with a birth cue before it in the same sentence ("born on", "DOB:", "birthday
    is"), or right after it ("12/03/1990 (date of birth)"). Other dates stay: "on Friday" or
    "the 3rd of May" are what the cloud needs to answer."""

    ENTITY = "DATE_OF_BIRTH"
    SCORE = 0.85

    def spans(self, text):
        for m in DATE.finditer(text):
            before = re.split(r"[.!?\n]\s", text[max(0, m.start() - 60):m.start()])[-1]
            after = text[m.end():m.end() + 25]
            if BIRTH_CUE.search(before) or re.match(r"\W{0,3}(?:\(|,|-)?\s?(?:my |his |her )?"
                                                     r"(?:date of birth|dob|birthday|born)",
                                                     after, re.IGNORECASE):
                yield m.start(), m.end(), self.ENTITY


# ---------------------------------------------------------------------------------------------
# Names the user told Hearth: enrolled faces, names stated in memories


class KnownNamesRecognizer(LocalRecognizer):
    """A deny-list that changes at run time: `names()` is read when refresh() is called.
    Names and their parts ("Alice" of "Alice Smith") match in any case, except those that are
    also common words ("Will", "May"): those only when capitalised."""

    def __init__(self, names: Callable[[], Iterable[str]] | None = None):
        super().__init__(supported_entities=["PERSON"], supported_language="en",
                         name="KnownNamesRecognizer")
        self.names = names
        self._any_case: re.Pattern | None = None
        self._capitalised: re.Pattern | None = None

    def load(self) -> None:
        pass

    def refresh(self, is_common_word: Callable[[str], bool] = lambda w: False) -> None:
        names = {" ".join(str(n).split()) for n in (self.names() if self.names else ())}
        names = {n for n in names if len(n) >= 2}
        any_case, capitalised = set(), set()
        for name in names:
            parts = [p for p in re.split(r"[\s\-]+", name) if len(p) >= 2]
            for word in {name, *(parts if len(parts) > 1 else ())}:
                if is_common_word(word):
                    capitalised.add(word[:1].upper() + word[1:])
                else:
                    any_case.add(word)
        self._any_case = _alternation(any_case, re.IGNORECASE)
        self._capitalised = _alternation(capitalised, 0)

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: D102
        out = []
        for pattern in (self._any_case, self._capitalised):
            if pattern is None:
                continue
            for m in pattern.finditer(text):
                out.append(RecognizerResult("PERSON", m.start(), m.end(), 0.95,
                                            recognition_metadata={
                                                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
        return out


def _alternation(words: set[str], flags: int) -> re.Pattern | None:
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(r"(?<![\w])(?:" + body + r")(?![\w])", flags)


# ---------------------------------------------------------------------------------------------
# Names and places spaCy's small model misses: capitalised words in a telling position

_CAP = r"[A-ZÀ-ÖØ-ÞĀ-Ž][\w'’\-]*"
_PARTICLE = (r"(?:de la|van de|van der|van den|de|van|von|der|den|la|le|du|da|di|del|della|"
             r"ter|ten|zu|al|el|bin|ibn)")
_CAPS = _CAP + r"(?:\s(?:" + _PARTICLE + r"\s)?" + _CAP + r"){0,3}"
# Capitalised words that are not names: a cue followed by these finds nothing.
NOT_NAMES = frozenset("""
i i'm i'll i've i'd a an the this that these those my your his her our their its it he she we
they you me him us them what who when where why how which there here hi hello hey dear please
thanks thank yes no ok okay and or but so if then also just not all any some every each
monday tuesday wednesday thursday friday saturday sunday today tomorrow tonight yesterday
january february march april may june july august september october november december
christmas easter halloween ramadan diwali hanukkah new year eve weekend morning evening
english french german dutch spanish italian portuguese polish chinese japanese arabic russian
europe european american british uk us usa eu internet wifi email pdf
""".split())
# Words after which a capitalised word is a person ("call Ashley Mills", even if spaCy
# thinks Mills is a town), and weaker ones after which it may be a place ("with", "from").
_PERSON_BEFORE = (
    r"(?i:call(?:ed)?|phone|ring|text|e-?mail|mail|message(?: for)?|tell|ask|remind|dear|hi"
    r"|hello|hey|named|name is|name's|names are|it's|it is|this is|i'm|i am|signed|sincerely"
    r"|regards|love from)")
_PERSON_MAYBE = (
    r"(?i:met|meet|meeting|invite|thank|with|name:?|yours|contact|cc|copy|for|belongs to|reach"
    r"|and|from|love|miss|visit(?:ing)?"
    r"|(?:send|sent|write|wrote|give|gave|talk|speak|reply|forward|pass|say|introduce|letter"
    r"|note|card|text|message|draft|e-?mail|mail|transfer|pay|paid|lend|lent|owe|belong)\b"
    r"[^.!?\n]{0,30}?\bto)")
_PERSON_AFTER = (r"(?=\s(?:here|lives|lived|has|had|said|says|wrote|writes|called|will"
                 r"|is coming|and I)\b|['’]s\b)")
_TITLE = (r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Mevr|Dhr|Ing|Dipl|Mag|Rev|"
          r"Madame|Monsieur)\.?")
_PLACE_BEFORE = (
    r"(?i:(?:live[sd]?|living|moved?|moving|born|based|stay(?:s|ing|ed)?|located|flat|house|home"
    r"|apartment|office|trip|flight|train|drive|way|travel(?:l?ing)?|holiday|meet me|see you)"
    r"\s+(?:in|to|from|at|near)|met\s+(?:\S+\s+){1,4}?in|from|near|visit(?:ing)?|towards)")


def _cap_words(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without leading/trailing words that are not names (None if nothing is left)."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    while words and text[words[0][0]:words[0][1]].lower().strip(".,'’") in NOT_NAMES:
        words.pop(0)
    while words and text[words[-1][0]:words[-1][1]].lower().strip(".,'’") in NOT_NAMES:
        words.pop()
    if not words or not text[words[0][0]].isupper():
        return None
    return words[0][0], words[-1][1]


class NameCueRecognizer(RegexRecognizer):
    """Capitalised words after "call", "email", "tell", "Message for", "my sister's name is",
    a title (Dr, Frau, Mme), or before "here", "lives", "'s": a person, even when spaCy says
    nothing or calls it an organisation. Weaker than spaCy's places where both fire."""

    ENTITY = "NAME_CUE"
    SCORE = 0.5

    def default_patterns(self):
        return [re.compile(r"(?<![\w])" + _PERSON_BEFORE + r"[,:]?\s+(?P<pii>" + _CAPS + r")"),
                re.compile(r"(?<![\w])(?P<pii>" + _TITLE + r"\s" + _CAPS + r")"),
                re.compile(r"(?<![\w])(?P<pii>" + _CAPS + r")" + _PERSON_AFTER)]

    def spans(self, text):
        for start, end, kind in super().spans(text):
            trimmed = _cap_words(text, start, end)
            if trimmed:
                yield trimmed[0], trimmed[1], kind


class NameHintRecognizer(NameCueRecognizer):
    """Capitalised words after "with", "from", "and", "for", "send ... to": a person unless
    spaCy or a place cue says it is a place."""

    ENTITY = "NAME_HINT"
    SCORE = 0.35

    def default_patterns(self):
        return [re.compile(r"(?<![\w])" + _PERSON_MAYBE + r"[,:]?\s+(?P<pii>" + _CAPS + r")")]


class PlaceCueRecognizer(NameCueRecognizer):
    """Capitalised words after "lives in", "moved to", "way from", "met ... in", "near": a
    place spaCy did not know (small towns, new names)."""

    ENTITY = "PLACE_CUE"
    SCORE = 0.4

    def default_patterns(self):
        return [re.compile(r"(?<![\w])" + _PLACE_BEFORE + r"\s+(?P<pii>" + _CAPS + r")")]


# ---------------------------------------------------------------------------------------------
# Things that point into the machine or elsewhere

PATH_PATTERNS = [
    re.compile(r"(?i:file://)[^\s\"'<>]+"),
    re.compile(r"(?<![\w:/.])(?:~|\$HOME|%\w+%)?/(?:[^\s/\"'<>:]+/)+[^\s/\"'<>]*"),
    re.compile(r"(?<![\w])[A-Za-z]:\\(?:[^\s\\\"'<>]+\\)*[^\s\\\"'<>]*"),
    re.compile(r"\\\\[^\s\\]+\\[^\s\"'<>]+"),
]


class LocalPathRecognizer(RegexRecognizer):
    """Absolute paths: they name the user's folders (often the user) and never help the cloud."""

    ENTITY = "LOCAL_PATH"
    SCORE = 0.9

    def default_patterns(self):
        return PATH_PATTERNS

    def accept(self, found):
        return found.count("/") + found.count("\\") >= 2 or found.lower().startswith("file:")


class UrlRecognizer(RegexRecognizer):
    """Web addresses with a scheme or www. (Presidio's bare-domain pattern takes file names
    like notes.md for Moldovan domains.)"""

    ENTITY = "URL"
    SCORE = 0.6

    def default_patterns(self):
        return [re.compile(r"(?i:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")]


class LooseEmailRecognizer(RegexRecognizer):
    """Anything shaped like an address: local@domain.tld with characters Presidio's pattern
    leaves out (a leading '!', unknown or new top-level domains)."""

    ENTITY = "EMAIL_ADDRESS"
    SCORE = 0.5
    LOCAL_CHAR = re.compile(r"[^\s@<>()\[\],;:\"]")
    DOMAIN = re.compile(r"[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z][A-Za-z0-9\-]*")

    def spans(self, text):
        # from each '@' outwards (a pattern scanning for the local part first is quadratic
        # on long runs of digits or letters)
        for at in re.finditer("@", text):
            start = at.start()
            while start > 0 and at.start() - start < 128 and self.LOCAL_CHAR.match(text, start - 1):
                start -= 1
            domain = self.DOMAIN.match(text, at.end())
            if start < at.start() and domain:
                yield start, domain.end(), self.ENTITY


PLACEHOLDER_SHAPE = re.compile(r"<\s*[A-Za-z]+(?:_[A-Za-z]+)*\s*_\s*\d+\s*>")


class PlaceholderLiteralRecognizer(RegexRecognizer):
    """Text that already looks like one of our placeholders ("<PERSON_1>" typed by the user)
    gets a placeholder of its own, so restore() can't turn it into somebody's name."""

    ENTITY = "LITERAL"
    SCORE = 1.0

    def default_patterns(self):
        return [PLACEHOLDER_SHAPE]


def hearth_recognizers(known_names: Callable[[], Iterable[str]] | None = None) -> list:
    return [OfflineEmailRecognizer(), LooseEmailRecognizer(), CardNumberRecognizer(),
            PhoneShapeRecognizer(), LongNumberRecognizer(), AccountNumberRecognizer(),
            StreetAddressRecognizer(), PostcodeRecognizer(), DateOfBirthRecognizer(),
            NameCueRecognizer(), NameHintRecognizer(), PlaceCueRecognizer(),
            KnownNamesRecognizer(known_names), LocalPathRecognizer(), UrlRecognizer(),
            PlaceholderLiteralRecognizer()]
