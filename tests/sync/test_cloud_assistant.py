"""The done-when flow, all real: the local SmolLM2 answers first; cloud assist (policy "ask")
prepares an anonymized outbox entry (no name, no phone number); once approved it goes to a
real OpenAI-compatible server (llama_cpp.server); the reply is stored as a new message with
the real name restored and the anonymized pair is kept as a training example.

The cloud here is Qwen2.5-Coder 0.5B: it writes <PERSON_1> back in its answer, which is what
restoring needs; SmolLM2-135M (the other server) answers without it."""

import time

import pytest

from agent.assistant import Assistant
from agent.events import AnswerFinished, CloudQueued, Token
from memory.settings import Settings
from sync.labels import TrainingExamples
from sync.service import CloudAssist

pytestmark = pytest.mark.real_model

QUESTION = "ask the cloud: what should I get Maria Keller (+44 20 7946 0958) for her birthday?"
PHONE_FORMS = ("+44 20 7946 0958", "7946 0958", "79460958", "442079460958")


def settings_for(server, **overrides):
    return Settings(**{"model": "smollm2-135m", "use_memory": False, "propose_memories": "off",
                       "max_tokens": 64, "temperature": 0.0, "cloud_enabled": True,
                       "cloud_base_url": server.base_url, "cloud_model": server.model,
                       "cloud_policy": "ask", "cloud_timeout_s": 120,
                       "cloud_training_consent": True, **overrides})


def test_ask_the_cloud_end_to_end(store, teacher_server):
    cloud_server = teacher_server
    settings = settings_for(teacher_server)
    cloud = CloudAssist(store.db, lambda: settings)
    assistant = Assistant(store, settings, cloud=cloud)
    conv = store.create()
    try:
        events = list(assistant.respond(conv.id, QUESTION))
        kinds = [type(e) for e in events]
        assert kinds.index(AnswerFinished) < kinds.index(CloudQueued)  # the local answer first
        local = next(e for e in events if isinstance(e, AnswerFinished))
        assert local.status == "done" and "".join(e.text for e in events if isinstance(e, Token))
        (record,) = [e.record for e in events if isinstance(e, CloudQueued)]

        assert record.status == "awaiting_approval" and record.kind == "answer"
        assert cloud.outbox.due() == []  # nothing leaves before the user approves
        sent_text = "\n".join(m["content"] for m in record.payload["messages"])
        assert "Maria" not in sent_text and "Keller" not in sent_text
        digits = "".join(ch for ch in sent_text if ch.isdigit())
        assert all(form not in sent_text for form in PHONE_FORMS) and "79460958" not in digits
        mapping = cloud.outbox.mapping(record.id)
        assert "Maria Keller" in mapping.values()
        person = next(p for p, original in mapping.items() if original == "Maria Keller")
        assert person in sent_text and "birthday" in sent_text

        cloud.approve(record.id)
        started = time.perf_counter()
        (sent,) = cloud.process_due()
        seconds = time.perf_counter() - started
    finally:
        assistant.close()
        cloud.close()
    print(f"\ncloud round-trip through CloudAssist ({cloud_server.model}, {settings.max_tokens} "
          f"tokens max): "
          f"{seconds:.2f} s")
    assert sent.status == "sent" and sent.response.strip()
    assert "Maria" not in sent.response  # what came back is still anonymized
    messages = store.messages(conv.id)
    assert [m.role for m in messages] == ["user", "assistant", "assistant"]
    local_msg, cloud_msg = messages[1], messages[2]
    assert local_msg.model == "smollm2-135m" and local_msg.id == record.message_id
    assert cloud_msg.model == cloud_server.model and cloud_msg.id == sent.reply_message_id
    assert cloud_msg.meta["cloud"]["outbox_id"] == record.id
    assert cloud_msg.content == sent.restored
    assert person in sent.response, f"the cloud model did not use the placeholder: {sent.response!r}"
    assert "Maria Keller" in cloud_msg.content and person not in cloud_msg.content

    (example,) = TrainingExamples(store.db).list()
    assert example.role == "summarizer" and example.consent and example.outbox_id == record.id
    assert example.source == f"cloud:{cloud_server.model}"
    assert example.target == sent.response and person in example.instruction
    assert "Maria" not in example.instruction + example.target


def test_a_declined_entry_is_never_sent_and_a_fallback_request_goes_without_preview(
        store, cloud_server):
    settings = settings_for(cloud_server)
    cloud = CloudAssist(store.db, lambda: settings)
    assistant = Assistant(store, settings, cloud=cloud)
    try:
        events = list(assistant.respond(store.create().id, "hello there"))
        (record,) = [e.record for e in events if isinstance(e, CloudQueued)]  # policy ask
        cloud.decline(record.id)
        assert cloud.process_due() == []
        assert cloud.outbox.get(record.id).status == "declined"

        settings.cloud_policy = "fallback"
        conv = store.create()
        events = list(assistant.respond(conv.id, "hello again"))  # nobody asked: nothing
        assert not any(isinstance(e, CloudQueued) for e in events)
        events = list(assistant.respond(conv.id, "Ask the cloud: name a colour."))
        (record,) = [e.record for e in events if isinstance(e, CloudQueued)]
        assert record.status == "queued"
        assert "Ask the cloud" not in record.payload["messages"][-1]["content"]  # said to Hearth
        (sent,) = cloud.process_due()
    finally:
        assistant.close()
        cloud.close()
    assert sent.status == "sent"
    reply = store.messages(conv.id)[-1]
    assert reply.model == "smollm2" and reply.content == sent.restored
    (example,) = TrainingExamples(store.db).list()
    assert example.target == sent.response


def test_a_failed_local_plan_asks_the_cloud_for_one_and_keeps_it_as_a_planner_label(
        store, fault_server, tmp_path):
    """Policy fallback: the local plan fails validation → the cloud gets the planner prompt
    (anonymized file names); its plan is parsed and validated against the real files and kept
    as a training label, never run."""
    import json

    from experts.registry import ExpertRegistry
    from experts.runner import ExpertRunner
    from tests.fakes import ScriptedLLM, fake_expert_classes

    settings = Settings(use_memory=False, propose_memories="off", cloud_enabled=True,
                        cloud_base_url=fault_server.base_url, cloud_model="big",
                        cloud_policy="fallback")
    cloud = CloudAssist(store.db, lambda: settings)
    runner = ExpertRunner(ExpertRegistry(store.db, classes=fake_expert_classes()))
    broken_plan = '{"steps": ["x"], "tasks": [{"task": "teleport", "id": 0, "dep": [-1], "args": {}}]}'
    assistant = Assistant(store, settings, experts=runner, cloud=cloud,
                          llm_factory=lambda _s: ScriptedLLM([broken_plan, "It says: buy milk."]))
    memo = tmp_path / "maria_keller_memo.wav"
    memo.write_bytes(b"buy milk")
    conv = store.create()
    try:
        events = list(assistant.respond(conv.id, "What does this memo say?", attachments=[memo]))
        (record,) = [e.record for e in events if isinstance(e, CloudQueued)]
        assert record.kind == "plan" and record.status == "queued"
        sent_text = json.dumps(record.payload)
        assert "maria" not in sent_text.lower() and "speech-to-text" in sent_text
        (hidden,) = [p + ".wav" for p, o in cloud.outbox.mapping(record.id).items()
                     if o == "maria_keller_memo"]  # the stem is hidden, the kind kept
        assert hidden in sent_text
        good = {"steps": ["Transcribe the memo"], "tasks": [
            {"task": "speech-to-text", "id": 0, "dep": [-1], "args": {"audio": hidden}}]}
        fault_server.reply = json.dumps(good)
        (sent,) = cloud.process_due()
        assert sent.status == "sent" and sent.last_error is None
        assert "maria_keller_memo.wav" in sent.restored and hidden not in sent.restored
        assert store.messages(conv.id)[-1].content == "It says: buy milk."  # no new message

        (label,) = TrainingExamples(store.db).list(consented_only=False)
        assert (label.role, label.source, label.consent) == ("planner", "cloud:big", False)
        assert hidden in label.target and "maria" not in (label.target + label.instruction).lower()
        assert TrainingExamples(store.db).list() == []  # no consent given

        # A plan that does not validate is logged, not learnt from.
        events = list(assistant.respond(conv.id, "And this one?", attachments=[memo]))
        (record,) = [e.record for e in events if isinstance(e, CloudQueued)]
        fault_server.reply = '{"steps": ["x"], "tasks": [{"task": "speech-to-text", "id": 0, ' \
                             '"dep": [-1], "args": {"audio": "other.wav"}}]}'
        (sent,) = cloud.process_due()
        assert sent.status == "sent" and "can't be used" in sent.last_error
        assert len(TrainingExamples(store.db).list(consented_only=False)) == 1
    finally:
        assistant.close()
        cloud.close()


def test_with_training_consent_a_local_plan_is_offered_to_the_cloud_as_a_lesson(
        store, fault_server, tmp_path):
    """Training consent on, policy fallback, the local plan is fine: nothing is sent on its own;
    an outbox entry asks the cloud for its plan and waits for approval; once approved, the
    reply is a consented planner label that nightly learning reads as a record."""
    import json

    from agent.events import Notice
    from experts.registry import ExpertRegistry
    from experts.runner import ExpertRunner
    from sync.learning import source
    from tests.fakes import ScriptedLLM, fake_expert_classes

    memo = tmp_path / "maria_keller_memo.wav"
    memo.write_bytes(b"buy milk")
    local_plan = json.dumps({"steps": ["Transcribe the memo"], "tasks": [
        {"task": "speech-to-text", "id": 0, "dep": [-1], "args": {"audio": memo.name}}]})

    def ask(consent: bool):
        settings = Settings(use_memory=False, propose_memories="off", cloud_enabled=True,
                            cloud_base_url=fault_server.base_url, cloud_model="big",
                            cloud_policy="fallback", cloud_training_consent=consent)
        cloud = CloudAssist(store.db, lambda: settings)
        runner = ExpertRunner(ExpertRegistry(store.db, classes=fake_expert_classes()))
        assistant = Assistant(store, settings, experts=runner, cloud=cloud,
                              llm_factory=lambda _s: ScriptedLLM([local_plan, "It says: buy milk."]))
        conv = store.create()
        try:
            events = list(assistant.respond(conv.id, "What does this memo say?",
                                            attachments=[memo]))
        finally:
            assistant.close()
        return cloud, events

    cloud, events = ask(consent=False)
    assert cloud.outbox.list() == [] and not any(isinstance(e, CloudQueued) for e in events)
    cloud.close()

    cloud, events = ask(consent=True)
    try:
        assert not any(isinstance(e, CloudQueued) for e in events)  # no preview pops up
        assert any(isinstance(e, Notice) and "Outbox" in e.text for e in events)
        (entry,) = cloud.outbox.list()
        assert entry.kind == "plan" and entry.status == "awaiting_approval"
        assert cloud.outbox.due() == []  # nothing leaves unseen
        assert "maria" not in json.dumps(entry.payload).lower()
        (hidden,) = [p + ".wav" for p, o in cloud.outbox.mapping(entry.id).items()
                     if o == "maria_keller_memo"]
        fault_server.reply = json.dumps({"steps": ["Transcribe it"], "tasks": [
            {"task": "speech-to-text", "id": 0, "dep": [-1], "args": {"audio": hidden}}]})
        cloud.approve(entry.id)
        (sent,) = cloud.process_due()
        assert sent.status == "sent" and sent.last_error is None
    finally:
        cloud.close()
    records, skipped = source.training_records(store.db)
    assert skipped == []
    (record,) = records
    assert record["instruction"] == "What does this memo say?"
    assert record["attachments"] == [hidden]
    assert record["plan"]["tasks"][0]["args"] == {"audio": hidden}
