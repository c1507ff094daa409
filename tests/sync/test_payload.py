"""build_payload: the one function every cloud send goes through. What its payload holds
(and never holds), its schema, both kinds, and the reply restored with its mapping."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agent.planner import ToolInfo
from agent.prompts import load_prompt
from sync.anonymizer import Anonymizer, restore
from sync.payload import Payload, build_payload

ENDPOINT = "http://127.0.0.1:8765/v1"
TOOLS = {
    "speech-to-text": ToolInfo("speech-to-text", "Transcribe speech", {"audio": "audio"}),
    "face-recognition": ToolInfo("face-recognition", "Recognise faces", {"image": "image"}),
    "memory-search": ToolInfo("memory-search", "Search memory", {"query": "text"}),
}


@pytest.fixture(scope="module")
def anonymizer():
    a = Anonymizer()
    yield a
    a.close()


def build(anonymizer, **kwargs):
    args = {"kind": "answer", "instruction": "", "results": [], "files": [],
            "endpoint": ENDPOINT, "model": "teacher", "anonymizer": anonymizer}
    args.update(kwargs)
    return build_payload(**args)


def transcript(text: str, file: str = "memo.wav", **extra) -> dict:
    return {"id": 0, "task": "speech-to-text", "step": "Transcribe", "args": {"audio": file},
            "dep": [-1], "status": "done", "output": {"text": text, "language": "en"},
            "summary": "", "error": None, "seconds": 1.2, **extra}


def test_answer_payload_holds_the_anonymized_request_then_the_fenced_results(anonymizer):
    records = [transcript("Hi, it's Maria Keller, call me on 07700 900123."),
               {"id": 1, "task": "face-recognition", "args": {"image": "party.jpg"},
                "status": "done", "error": None,
                "output": {"faces": [{"name": "Tom Baker", "box": [1, 2, 3, 4]}, {"name": None}]}},
               {"id": 2, "task": "memory-search", "args": {"query": "<GENERATED>-0"},
                "status": "failed", "output": None, "error": "Memory is switched off."}]
    built = build(anonymizer, instruction="What did Maria Keller say in memo.wav?",
                  results=records, files=["memo.wav", "party.jpg"])
    p = built.payload
    prompts = load_prompt("cloud")
    assert (p.schema_, p.kind, p.endpoint, p.model) == ("hearth.cloud/1", "answer", ENDPOINT,
                                                        "teacher")
    assert [m.role for m in p.messages] == ["system", "user"]
    assert p.messages[0].content == prompts["answer_system"]
    assert p.messages[1].content == (
        "What did <PERSON_1> say in <FILE_1>.wav?\n\n"
        "<attached_files>\n"
        '- speech-to-text on <FILE_1>.wav: transcript (en): "Hi, it\'s <PERSON_1>, call me on '
        '<PHONE_1>."\n'
        "- face-recognition on <FILE_2>.jpg: 2 faces: <PERSON_2>, an unknown person\n"
        "- memory-search on <GENERATED>-0: failed: Memory is switched off.\n"
        "</attached_files>\n" + prompts["results_note"])
    assert built.mapping == {"<PERSON_1>": "Maria Keller", "<FILE_1>": "memo",
                             "<PHONE_1>": "07700 900123", "<FILE_2>": "party",
                             "<PERSON_2>": "Tom Baker"}


def test_without_results_the_request_is_the_whole_user_message(anonymizer):
    built = build(anonymizer, instruction="Write to maria@example.com about Friday.")
    assert built.payload.messages[1].content == "Write to <EMAIL_1> about Friday."


def test_no_file_content_and_no_local_path_leaves(anonymizer, tmp_path):
    folder = tmp_path / "Users" / "maria.keller" / "hearth-attachments"
    folder.mkdir(parents=True)
    photo = folder / "alice_passport.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0JFIF SECRET-PIXELS-7f3a Alice Smith passport P1234567")
    memo = folder / "memo from bob.wav"
    memo.write_bytes(b"RIFF....WAVEfmt SECRET-AUDIO-91c2")
    records = [transcript("Bring the passport.", file=str(memo),
                          inputs={"audio": str(memo)}),
               {"id": 1, "task": "object-detection", "args": {"image": photo.name},
                "inputs": {"image": str(photo)}, "status": "done", "error": None,
                "output": {"objects": [{"label": "person", "box": [0, 0, 5, 5]}]},
                "annotated": str(folder / "annotated" / "alice_passport.png")},
               {"id": 2, "task": "face-recognition", "args": {"image": photo.name},
                "inputs": {"image": str(photo)}, "status": "failed", "output": None,
                "error": f"Could not read {photo}: truncated JPEG"}]
    built = build(anonymizer, instruction="Is alice_passport.jpg still valid? See memo from bob.wav",
                  results=records, files=[str(photo), str(memo)])
    sent = json.dumps(built.payload.to_dict(), ensure_ascii=False)
    for secret in ("SECRET-PIXELS", "SECRET-AUDIO", "P1234567", "JFIF", "RIFF",
                   str(tmp_path), "maria.keller", "hearth-attachments", "alice", "Alice",
                   "bob", "annotated", "/Users/"):
        assert secret not in sent, secret
    user = built.payload.messages[1].content
    assert "<FILE_1>.jpg" in user and "<FILE_2>.wav" in user and "<PATH_1>" in user
    assert restore("Open <FILE_1>.jpg", built.mapping) == "Open alice_passport.jpg"


def test_plan_payload_is_the_planner_prompt_with_anonymized_request_and_file_names(anonymizer):
    built = build(anonymizer, kind="plan", tools=TOOLS,
                  instruction="Who is in alice_passport.jpg, and what does Maria Keller say in "
                              "memo.wav?",
                  files=["/home/me/alice_passport.jpg", "memo.wav"])
    system, *_, user = built.payload.messages
    assert system.role == "system" and user.role == "user"
    for tool in TOOLS:
        assert f"- {tool}(" in system.content
    assert system.content.endswith(load_prompt("cloud")["plan_system_suffix"])
    assert '"tasks"' in system.content
    assert user.content == ("Request: Who is in <FILE_1>.jpg, and what does <PERSON_1> say in "
                            "<FILE_2>.wav?\nFiles: <FILE_1>.jpg, <FILE_2>.wav")
    sent = json.dumps(built.payload.to_dict())
    assert "alice" not in sent and "/home/me" not in sent and "Maria" not in sent
    # a plan written by the cloud comes back with the real file names
    plan = '{"tasks": [{"task": "face-recognition", "args": {"image": "<FILE_1>.jpg"}}]}'
    assert "alice_passport.jpg" in restore(plan, built.mapping)


def test_plan_tools_may_be_plain_dicts(anonymizer):
    tools = {"speech-to-text": {"description": "Transcribe speech", "args": {"audio": "audio"}}}
    built = build(anonymizer, kind="plan", tools=tools, instruction="Transcribe it",
                  files=["memo.wav"])
    assert "- speech-to-text(audio):" in built.payload.messages[0].content


def test_bad_requests_are_clear_errors(anonymizer):
    with pytest.raises(ValueError, match="Unknown payload kind 'email'"):
        build(anonymizer, kind="email", instruction="hi")
    with pytest.raises(ValueError, match="needs the tools"):
        build(anonymizer, kind="plan", instruction="hi")
    with pytest.raises(TypeError, match="must be text"):
        build(anonymizer, instruction=None)


def test_payload_schema_is_strict_and_round_trips(anonymizer):
    built = build(anonymizer, instruction="Call Maria Keller")
    data = built.payload.to_dict()
    assert set(data) == {"schema", "kind", "endpoint", "model", "messages", "created"}
    assert data["schema"] == "hearth.cloud/1"
    assert Payload.from_dict(json.loads(json.dumps(data))) == built.payload
    assert built.payload.chat_messages() == data["messages"]
    with pytest.raises(ValidationError):
        Payload.from_dict({**data, "mapping": built.mapping})
    with pytest.raises(ValidationError):
        Payload.from_dict({**data, "messages": [{"role": "user", "content": "x", "file": "a"}]})
    with pytest.raises(ValidationError):
        Payload.from_dict({**data, "schema": "hearth.cloud/2"})


def test_the_mapping_never_goes_into_the_payload(anonymizer):
    built = build(anonymizer, instruction="Email maria@example.com and call +44 20 7946 0958")
    sent = json.dumps(built.payload.to_dict())
    assert built.mapping and not any(original in sent for original in built.mapping.values())


def test_the_cloud_reply_is_restored_with_the_payloads_mapping(anonymizer):
    built = build(anonymizer, instruction="Draft a text to Maria Keller (+44 20 7946 0958) "
                                          "saying I'll visit her at 12 Baker Street.",
                  results=[transcript("Tom Baker says hi")], files=["memo.wav"])
    user = built.payload.messages[1].content
    assert "Maria" not in user and "Baker" not in user and "7946" not in user
    reply = ("Hi <person_1>! I'll come to < ADDRESS_1 > soon. (Sent to [PHONE_1]; "
             "<PERSON_2> says hi, per <FILE_1>.wav.)")
    assert restore(reply, built.mapping) == (
        "Hi Maria Keller! I'll come to 12 Baker Street soon. (Sent to +44 20 7946 0958; "
        "Tom Baker says hi, per memo.wav.)")


def test_a_summary_only_record_is_used(anonymizer):
    record = {"task": "object-detection", "args": {"image": "kitchen.jpg"}, "status": "done",
              "summary": "2 cup, 1 person"}
    built = build(anonymizer, instruction="What's there?", results=[record],
                  files=["kitchen.jpg"])
    assert "- object-detection on <FILE_1>.jpg: 2 cup, 1 person" in built.payload.messages[1].content


def test_names_known_to_the_user_are_hidden_everywhere():
    a = Anonymizer(known_names=lambda: ["Zofia"])
    built = build(a, instruction="did zofia call?", results=[transcript("zofia here, bye")],
                  files=["memo.wav"])
    assert "zofia" not in json.dumps(built.payload.to_dict()).lower()
    assert built.payload.messages[1].content.count("<PERSON_1>") == 2
    a.close()

