"""Hypothesis: any e-mail address or phone number, in any shape people write it and embedded
anywhere in a message or an expert's transcript, is absent from the payload that is sent."""

from __future__ import annotations

import json
import re
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sync.anonymizer import Anonymizer
from sync.payload import build_payload
from sync.recognizers import DATE_SHAPES

# Text around the secret: letters, spaces and punctuation, no digits and no '@' (a digit next
# to a phone number would make a different number, an '@' a different address).
AROUND = st.text(alphabet=st.sampled_from(string.ascii_letters + " .,;:!?'()-éüßÅ\n"),
                 max_size=40)

_LOCAL_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
local_part = st.lists(st.text(alphabet=_LOCAL_CHARS, min_size=1, max_size=12), min_size=1,
                      max_size=3).map(".".join)
label = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
tld = st.sampled_from(["com", "org", "net", "de", "co.uk", "fr", "nl", "io", "museum",
                       "travel", "xn--p1ai", "photography", "email", "ONLINE"])
handmade_emails = st.builds(lambda lp, labels, t: f"{lp}@{'.'.join(labels)}.{t}", local_part,
                            st.lists(label, min_size=1, max_size=3), tld)
emails = st.one_of(st.emails(), handmade_emails)


@st.composite
def phones(draw) -> str:
    """International (+CC or 00CC) or national (0...), grouped in 1-5 groups by spaces, dashes,
    dots, slashes or nothing, an area code in brackets or not, maybe an extension."""
    sep = draw(st.sampled_from([" ", "-", ".", "/", "", " - "]))
    groups = draw(st.lists(st.integers(2, 4).flatmap(
        lambda n: st.text(alphabet=string.digits, min_size=n, max_size=n)), min_size=1,
        max_size=4))
    start = draw(st.sampled_from(["+", "00", "0", "(0", "", "+"]))
    country = draw(st.text(alphabet=string.digits, min_size=1, max_size=3)) if start in (
        "+", "00") else ""
    area = draw(st.text(alphabet=string.digits, min_size=1, max_size=4))
    if start == "(0":
        head = f"(0{area})"
    elif start in ("+", "00"):
        bracket = draw(st.booleans())
        head = f"{start}{country} " + (f"({area})" if bracket else area)
    else:
        head = f"{start}{area}"
    number = head + (sep if not head.endswith(")") else draw(st.sampled_from([" ", ""])))
    number += sep.join(groups)
    if draw(st.booleans()):
        number += draw(st.sampled_from([" x", "x", " ext. ", " ext ", " #"])) + draw(
            st.text(alphabet=string.digits, min_size=1, max_size=4))
    return number


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def real_phone(number: str) -> bool:
    body = re.sub(r"\s*(?:x|ext\.?|#)\s*\d+$", "", number)
    # a number written exactly like a date (12-12-1234) is left alone on purpose; 7-15 digits
    # is what a phone number has (E.164 allows at most 15)
    return 7 <= len(_digits(body)) <= 15 and not DATE_SHAPES.fullmatch(body.strip())


@pytest.fixture(scope="module")
def anonymizer():
    a = Anonymizer()
    a.anonymize("warm up")
    yield a
    a.close()


def sent(anonymizer, instruction: str, transcript: str) -> tuple[str, str]:
    record = {"id": 0, "task": "speech-to-text", "args": {"audio": "memo.wav"}, "status": "done",
              "error": None, "output": {"text": transcript, "language": "en"}}
    built = build_payload(kind="answer", instruction=instruction, results=[record],
                          files=["memo.wav"], endpoint="http://127.0.0.1:9/v1", model="m",
                          anonymizer=anonymizer)
    return json.dumps(built.payload.to_dict(), ensure_ascii=False), built.payload.messages[1].content


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(email=emails, before=AROUND, after=AROUND, in_transcript=st.booleans())
@example(email="!x@example.com", before="mail", after="", in_transcript=False)
@example(email="j.o'neil+tag@sub.Example.CO.UK", before="", after="!", in_transcript=True)
def test_no_email_leaves(anonymizer, email, before, after, in_transcript):
    text = f"{before} {email} {after}"
    payload, user = sent(anonymizer, "Reply, please." if in_transcript else text,
                         text if in_transcript else "nothing to add")
    assert email not in payload and email not in user
    assert email.lower() not in re.sub(r"\s", "", user).lower()


@SETTINGS
@given(phone=phones().filter(real_phone), before=AROUND, after=AROUND, in_transcript=st.booleans())
@example(phone="+44 (20) 7946 0958", before="call", after="", in_transcript=False)
@example(phone="0049-30-123456 ext. 12", before="Tel.:", after=".", in_transcript=True)
def test_no_phone_number_leaves(anonymizer, phone, before, after, in_transcript):
    text = f"{before} {phone} {after}"
    payload, user = sent(anonymizer, "Who called?" if in_transcript else text,
                         text if in_transcript else "nothing to add")
    assert phone not in payload and phone not in user
    body = re.sub(r"\s*(?:x|ext\.?|#)\s*\d+$", "", phone)
    assert _digits(body) not in _digits(user), user
