import json

import pytest

from agent.memory_proposals import grounded, propose, worth_asking
from tests.fakes import ScriptedLLM


def test_only_messages_about_oneself_are_worth_asking():
    assert worth_asking("My daughter starts school in September")
    assert worth_asking("I'm vegetarian, what should I cook?")
    assert not worth_asking("What is the capital of France?")


@pytest.mark.parametrize("fact, ok", [
    ("My daughter Lucy starts school in September.", True),
    ("A lunchbox idea could be a small reusable container.", False),
    ("The capital of France is Paris.", False),
])
def test_a_fact_must_come_from_the_message(fact, ok):
    message = "My daughter Lucy starts school in September, can you suggest a lunchbox idea?"
    assert grounded(fact, message) is ok


def test_the_models_proposals_are_filtered():
    reply = json.dumps({"facts": ["My daughter Lucy starts school in September",
                                  "A lunchbox could hold fruit.", "The sea is vast."]})
    llm = ScriptedLLM([reply])
    facts = propose(llm, "My daughter Lucy starts school in September, any lunchbox ideas?")
    assert facts == ["My daughter Lucy starts school in September."]
    assert llm.prompts[0][-1]["content"].startswith("Message: My daughter")


def test_garbage_from_the_model_proposes_nothing():
    assert propose(ScriptedLLM(["not json at all"]), "I like tea") == []
