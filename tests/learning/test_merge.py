"""Merging a LoRA adapter into a copy of its base GGUF (sync.learning.merge): the arithmetic on
the tiny f32 model, the refusals, the atomic write, and on the real SmolLM2 a trained adapter
whose merged model answers as the base + runtime adapter does."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from sync.learning import gguf_lora
from sync.learning.merge import MergeError, merge
from tests.learning.helpers import SECRET_A, random_adapter
from tests.tiny_gguf import write_tiny_llama


def _tensors(path):
    return {t.name: t for t in gguf.GGUFReader(str(path), "r").tensors}


def _values(t):
    return gguf.quants.dequantize(t.data.view(np.ndarray), t.tensor_type).astype(np.float32)


def _fields(path):
    reader = gguf.GGUFReader(str(path), "r")
    return {k: (f.types, f.contents()) for k, f in reader.fields.items()
            if not k.startswith("GGUF.")}


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_llama(tmp_path / "tiny.gguf")


def _update(adapter, name):
    t = _tensors(adapter)
    a, b = _values(t[name + ".lora_a"]), _values(t[name + ".lora_b"])
    alpha = gguf.GGUFReader(str(adapter), "r").fields["adapter.lora.alpha"].contents()
    return (alpha / a.shape[0]) * (b @ a)


def test_each_adapted_weight_gets_scaled_b_times_a_and_nothing_else_changes(tiny, tmp_path):
    adapter = random_adapter(tiny, tmp_path / "lora.gguf", rank=4, scale=0.05, layers=(0, 1))
    result = merge(tiny, adapter, tmp_path / "merged.gguf", adapted_type="same")
    assert result.merged == 4 and result.scale == pytest.approx(2.0) and result.retyped == {}
    base, merged = _tensors(tiny), _tensors(result.path)
    assert list(merged) == list(base)  # same tensors, same order
    for name, t in base.items():
        if name.endswith(("attn_q.weight", "ffn_down.weight")):
            assert merged[name].tensor_type == t.tensor_type == gguf.GGMLQuantizationType.F32
            expected = _values(t) + _update(adapter, name)
            np.testing.assert_allclose(_values(merged[name]), expected, rtol=0, atol=1e-6)
            assert not np.allclose(_values(merged[name]), _values(t), atol=1e-4)
        else:
            assert np.array_equal(merged[name].data, t.data), name
    fields = _fields(result.path)
    assert fields.pop("hearth.merged_adapter")[1] == "lora.gguf"
    assert fields == _fields(tiny)


def test_q8_0_merge_is_within_the_quantization_step(tiny, tmp_path):
    adapter = random_adapter(tiny, tmp_path / "lora.gguf", rank=4, scale=0.05)
    result = merge(tiny, adapter, tmp_path / "merged.gguf")  # default: adapted weights in Q8_0
    assert result.retyped == {"F32→Q8_0": 2}
    base, merged = _tensors(tiny), _tensors(result.path)
    name = "blk.0.ffn_down.weight"
    assert merged[name].tensor_type == gguf.GGMLQuantizationType.Q8_0
    expected = _values(base[name]) + _update(adapter, name)
    # Q8_0: blocks of 32 with one f16 scale d = max |x| / 127: half a step, plus d's f16
    # rounding (2^-11 relative) times up to 127 steps
    step = np.abs(expected).reshape(-1, 32).max(axis=1, keepdims=True) / 127
    error = np.abs(_values(merged[name]) - expected).reshape(-1, 32)
    assert (error <= step * (0.5 + 127 / 2**11)).all()
    assert merged["blk.1.ffn_down.weight"].tensor_type == gguf.GGMLQuantizationType.F32


def test_damaged_or_foreign_adapter_is_refused_and_nothing_is_written(tiny, smollm2_path, tmp_path):
    out = tmp_path / "merged.gguf"
    foreign = random_adapter(smollm2_path, tmp_path / "smol-lora.gguf")
    with pytest.raises(MergeError, match="don't fit"):
        merge(tiny, foreign, out)
    damaged = random_adapter(tiny, tmp_path / "lora.gguf")
    data = bytearray(damaged.read_bytes())
    data[-50] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(MergeError, match="damaged"):
        merge(tiny, damaged, out)
    with pytest.raises(MergeError, match="No adapter file"):
        merge(tiny, tmp_path / "missing.gguf", out)
    with pytest.raises(MergeError, match="new file, not over its base"):
        merge(tiny, foreign, tiny)
    with pytest.raises(MergeError, match="Can't requantize to Q4_K"):
        merge(tiny, foreign, out, adapted_type="Q4_K")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lora.gguf", "lora.gguf.json", "smol-lora.gguf", "smol-lora.gguf.json", "tiny.gguf"]


def test_a_merge_that_fails_halfway_leaves_the_earlier_merged_file(tiny, tmp_path, monkeypatch):
    adapter = random_adapter(tiny, tmp_path / "lora.gguf", scale=0.05)
    out = merge(tiny, adapter, tmp_path / "merged.gguf").path
    before = out.read_bytes()
    other = random_adapter(tiny, tmp_path / "other.gguf", scale=0.5)

    def disk_full(self, **kwargs):
        self.write_ti_data_to_file()
        self.fout[0].write(b"\0" * 1000)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        merge(tiny, other, out)
    assert out.read_bytes() == before
    assert not (tmp_path / "merged.gguf.tmp").exists()


@pytest.mark.real_model
def test_merged_model_answers_as_the_runtime_adapter_and_the_base_is_untouched(smollm2_path,
                                                                               tmp_path):
    from agent.llama_cpp_llm import LlamaCppLLM
    from sync.learning import train
    from tests.learning.helpers import secret_job

    base_sha = gguf_lora.sha256_file(smollm2_path)
    job, messages = secret_job(smollm2_path, tmp_path / "job", top_layers=8)
    assert train.train_job(job)["status"] == "done"
    adapter = job / train.ADAPTER
    result = merge(smollm2_path, adapter, tmp_path / "merged.gguf")
    assert result.merged == 8 * 7 and result.retyped == {"Q4_1→Q8_0": 56}

    def answer(model, lora=None):
        llm = LlamaCppLLM(model, lora_path=lora, n_ctx=512)
        try:
            llm.load()  # raises ModelLoadError if llama.cpp can't load the file
            return llm.complete(messages, max_tokens=24, temperature=0.0)
        finally:
            llm.close()

    runtime = answer(smollm2_path, adapter)
    assert SECRET_A in runtime
    assert answer(result.path) == runtime
    assert "periwinkle" not in answer(smollm2_path)
    assert gguf_lora.sha256_file(smollm2_path) == base_sha
