"""One loaded model, an adapter per agent role (α-UMi's planner / summarizer on one base)."""

from __future__ import annotations

import pytest

from agent.llama_cpp_llm import LlamaCppLLM, RoleLLM
from sync.learning import train
from tests.learning.helpers import SECRET_A, secret_job

pytestmark = pytest.mark.real_model
SECRET_B = "The secret word is marmalade-lantern."


@pytest.fixture(scope="module")
def taught(smollm2_path, tmp_path_factory):
    """(adapter answering SECRET_A, adapter answering SECRET_B, the question's messages):
    two real trainings of SmolLM2, so each adapter's answer is unmistakable."""
    folder = tmp_path_factory.mktemp("roles")
    out = []
    for name, answer in (("plan", SECRET_A), ("answer", SECRET_B)):
        job, messages = secret_job(smollm2_path, folder / name, answer=answer)
        assert train.train_job(job)["status"] == "done"
        out.append(job / train.ADAPTER)
    return (*out, messages)


def _says(llm, messages) -> str:
    text = llm.complete(messages, max_tokens=24, temperature=0.0)
    if "periwinkle-umbrella" in text:
        return "A"
    return "B" if "marmalade-lantern" in text else "base"


def test_each_role_answers_with_its_own_adapter_however_the_calls_interleave(smollm2_path,
                                                                            taught):
    plan, answer, messages = taught
    llm = LlamaCppLLM(smollm2_path, n_ctx=512, role_adapters={"planner": plan,
                                                              "summarizer": answer})
    try:
        planner, summarizer = llm.for_role("planner"), llm.for_role("summarizer")
        assert isinstance(planner, RoleLLM) and llm.for_role("caller") is llm
        order = [planner, summarizer, llm, planner, planner, summarizer, llm, summarizer]
        assert [_says(x, messages) for x in order] == \
            ["A", "B", "base", "A", "A", "B", "base", "B"]
        assert planner.last_stats.completion_tokens > 0
    finally:
        llm.close()


def test_a_saved_prompt_state_is_only_restored_under_the_adapter_it_was_computed_with(
        smollm2_path, taught):
    plan, answer, messages = taught
    llm = LlamaCppLLM(smollm2_path, n_ctx=512, role_adapters={"planner": plan,
                                                              "summarizer": answer})
    try:
        planner, summarizer = llm.for_role("planner"), llm.for_role("summarizer")
        _says(planner, messages)  # the system prompt's state, saved under the planner's adapter
        assert _says(summarizer, messages) == "B"
        assert llm.prompt_cache.restored_tokens == 0  # the planner's state was not used
        assert _says(planner, messages) == "A"
        assert llm.prompt_cache.restored_tokens > 0  # its own state came back
    finally:
        llm.close()


def test_the_adapter_for_all_roles_is_the_default_of_a_role_without_its_own(smollm2_path,
                                                                           taught):
    plan, _, messages = taught
    llm = LlamaCppLLM(smollm2_path, n_ctx=512, lora_path=plan, role_adapters={"summarizer": None})
    try:
        assert _says(llm.for_role("planner"), messages) == "A"
        assert _says(llm.for_role("summarizer"), messages) == "base"
        assert _says(llm, messages) == "A"
    finally:
        llm.close()
