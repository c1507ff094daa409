"""The whole chain on the real SmolLM2-135M: peft LoRA on its transformers twin, our GGUF
adapter, llama.cpp answering as trained; and the faults: too few examples, a killed training
process, the memory cap — none of which touches the active adapter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.llama_cpp_llm import LlamaCppLLM
from sync.learning import nightly, train
from tests.learning.helpers import SECRET_A, random_adapter, secret_job

pytestmark = pytest.mark.real_model
ROOT = Path(__file__).resolve().parents[2]


def _answer(model, messages, adapter=None) -> str:
    llm = LlamaCppLLM(model, lora_path=adapter, n_ctx=512)
    try:
        return llm.complete(messages, max_tokens=24, temperature=0.0)
    finally:
        llm.close()


def test_trained_answer_appears_with_the_adapter_and_not_without(smollm2_path, tmp_path):
    job, messages = secret_job(smollm2_path, tmp_path / "job")
    result = train.train_job(job)
    assert result["status"] == "done" and result["steps"] == 10
    assert result["losses"][-1] < 0.1 < result["losses"][0]
    adapter = job / train.ADAPTER
    assert json.loads(Path(str(adapter) + ".json").read_text())["rank"] == 8
    assert "periwinkle-umbrella" not in _answer(smollm2_path, messages)
    assert SECRET_A in _answer(smollm2_path, messages, adapter)


def _with_init(job: Path, init: Path) -> None:
    data = json.loads((job / train.JOB).read_text())
    (job / train.JOB).write_text(json.dumps({**data, "init": str(init)}))


def test_a_night_started_from_an_earlier_adapter_goes_on_from_what_it_learnt(smollm2_path,
                                                                            tmp_path):
    first, _ = secret_job(smollm2_path, tmp_path / "first")
    learnt = train.train_job(first)
    assert (first / train.LORA_STATE).is_file()
    # one more step at a rate too small to learn anything by itself: its loss is the start's
    later, _ = secret_job(smollm2_path, tmp_path / "later", steps=1, lr=1e-9)
    _with_init(later, first / train.LORA_STATE)
    went_on = train.train_job(later)
    assert went_on["started_from"] == str(first / train.LORA_STATE) and went_on["start_note"] is None
    assert went_on["losses"][0] < 0.1 < learnt["losses"][0]

    # weights of another rank don't fit these settings: the night starts fresh and says so
    other, _ = secret_job(smollm2_path, tmp_path / "other", steps=1, lr=1e-9, rank=4)
    _with_init(other, first / train.LORA_STATE)
    fresh = train.train_job(other)
    assert fresh["started_from"] is None and "other LoRA settings" in fresh["start_note"]
    assert fresh["losses"][0] > 0.1


def test_an_adapter_without_its_training_weights_is_not_continued(smollm2_path):
    from agent.planbench.runner import load_records

    old = random_adapter(smollm2_path, nightly.learning_dir() / "adapters" / "older.gguf")
    records, _ = load_records("train")
    job, result = nightly.prepare(records[:6], smollm2_path, train.TrainConfig(), general=1,
                                  min_examples=1, start_from=old)
    assert "init" not in json.loads((job / train.JOB).read_text())
    assert "older's training weights are not on disk" in result.start_note


def test_too_few_examples_is_skipped_with_a_reason(smollm2_path):
    from agent.planbench.runner import load_records

    records, _ = load_records("train")
    result = nightly.run_night(records[:3], smollm2_path)
    assert result.status == "skipped"
    assert f"fewer than the {nightly.MIN_EXAMPLES} a night needs" in result.reason
    assert "nothing was trained" in result.reason
    assert not (nightly.learning_dir() / "nights").exists()
    assert nightly.history()[-1]["status"] == "skipped"
    assert nightly.active_adapter() is None


def _start(job: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sync.learning.train", str(job)], cwd=ROOT,
                            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_killed_training_resumes_and_leaves_the_active_adapter_untouched(smollm2_path):
    active = random_adapter(smollm2_path, nightly.learning_dir() / "adapters" / "earlier.gguf")
    nightly.activate(active, smollm2_path)
    before = (nightly.learning_dir() / "active.json").read_bytes()
    job = nightly.learning_dir() / "nights" / "tonight"
    secret_job(smollm2_path, job, steps=12, checkpoint_every=2)
    proc = _start(job)
    try:
        deadline = time.monotonic() + 90
        while not (job / train.CHECKPOINT).exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no checkpoint within 90 s"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)  # the machine woke up / the user quit: no clean-up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert not (job / train.RESULT).exists() and not (job / train.ADAPTER).exists()
    assert nightly.unfinished() == [job]
    assert (nightly.learning_dir() / "active.json").read_bytes() == before

    result = nightly.resume(job)
    assert result.status == "done", result.reason
    assert result.resumed_from is not None and result.resumed_from >= 2
    assert len(result.losses) == 12
    assert Path(result.adapter).is_file() and nightly.unfinished() == []
    assert (nightly.learning_dir() / "active.json").read_bytes() == before
    assert nightly.active_adapter() == active


def test_memory_cap_stops_training_with_the_reason(smollm2_path):
    job = nightly.learning_dir() / "nights" / "greedy"
    secret_job(smollm2_path, job, memory_cap_mib=200)
    result = nightly.resume(job)
    assert result.status == "memory"
    assert "over the cap of 200 MiB" in result.reason and "active adapter is unchanged" in result.reason
    assert not (job / train.ADAPTER).exists() and nightly.active_adapter() is None


def _lora_grads(base: Path, config: train.TrainConfig, seq: dict) -> tuple[dict, list[bool]]:
    """LoRA gradients of one sequence's loss, and which decoder layers' outputs were in the
    backward graph."""
    import torch

    from sync.learning.hf_twin import load_twin, read_info

    model = load_twin(base)
    torch.manual_seed(0)  # the same LoRA initialization for every config
    model = train.with_lora(model, config, read_info(base).n_layer)
    model.train()
    in_graph = []
    for layer in model.get_base_model().model.layers:
        layer.register_forward_hook(
            lambda m, a, out: in_graph.append((out[0] if isinstance(out, tuple) else out)
                                              .requires_grad))
    loss, n = train._loss(model, [seq], 1024, seq["input_ids"][0], torch)
    (loss / n).backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return grads, in_graph


def test_checkpointing_keeps_the_frozen_layers_out_of_the_backward_pass(smollm2_path, tmp_path):
    job, _ = secret_job(smollm2_path, tmp_path / "job")
    seq = json.loads((job / train.SEQUENCES).read_text().splitlines()[0])
    top = dict(rank=4, alpha=8.0, top_layers=3)
    plain, graph = _lora_grads(smollm2_path, train.TrainConfig(**top), seq)
    checkpointed, ckpt_graph = _lora_grads(
        smollm2_path, train.TrainConfig(**top, gradient_checkpointing=True), seq)
    # only the adapted layers are differentiated, with checkpointing or without
    assert graph == ckpt_graph == [False] * (len(graph) - 3) + [True] * 3
    assert set(plain) == set(checkpointed) and len(plain) == 3 * 7 * 2
    for name, g in plain.items():
        if "lora_B" in name:  # B starts at zero, so A's first gradient is zero too
            assert g.abs().sum() > 0, name
        assert (checkpointed[name] - g).abs().max() <= 1e-5 * (1 + g.abs().max()), name
