"""Our GGUF LoRA writer and checker: what llama.cpp loads, and every damaged or foreign
adapter refused with a clear error while the base model keeps answering."""

from __future__ import annotations

import os
import shutil

import gguf
import numpy as np
import pytest

from sync.learning import gguf_lora
from sync.learning.gguf_lora import AdapterError, check_adapter, llm_with_adapter
from sync.learning.hf_twin import read_info
from tests.learning.helpers import random_adapter
from tests.tiny_gguf import write_tiny_llama

pytestmark = pytest.mark.real_model


def test_header_reader_agrees_with_gguf_reader(tmp_path):
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path)
    info = read_info(path)
    reader = gguf.GGUFReader(str(path))
    assert info.arch == "llama"
    assert info.n_head == int(reader.fields["llama.attention.head_count"].contents())
    assert info.shapes == {t.name: tuple(int(d) for d in reversed(t.shape.tolist()))
                           for t in reader.tensors}


def test_written_adapter_has_the_llama_cpp_format(smollm2_path, tmp_path):
    out = random_adapter(smollm2_path, tmp_path / "a.gguf", rank=4)
    reader = gguf.GGUFReader(str(out))
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(8.0)
    shapes = {t.name: tuple(int(d) for d in reversed(t.shape.tolist())) for t in reader.tensors}
    assert shapes["blk.0.attn_q.weight.lora_a"] == (4, 576)
    assert shapes["blk.0.attn_q.weight.lora_b"] == (576, 4)
    assert shapes["blk.0.ffn_down.weight.lora_a"] == (4, 1536)
    facts = check_adapter(out, smollm2_path)
    assert facts["rank"] == 4 and facts["base_model"] == smollm2_path.name


def test_llama_permutation_of_q_rows_is_undone_by_the_inverse():
    b = np.arange(24 * 2, dtype=np.float32).reshape(24, 2)
    permuted = gguf_lora._permute_rows(b, 3)
    assert sorted(permuted[:, 0].tolist()) == b[:, 0].tolist()  # the same rows, reordered
    assert not np.array_equal(permuted, b)
    # within each head the two rotary halves are interleaved: row 1 is the first of half two
    assert permuted[1, 0] == b[4, 0]


def _damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[-100] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "garbage":
        path.write_bytes(os.urandom(4096))
    os.remove(str(path) + gguf_lora.SIDECAR_SUFFIX) if how != "flip" else None


@pytest.mark.parametrize("how,message", [("flip", "damaged"), ("truncate", "not a readable GGUF"),
                                         ("garbage", "not a readable GGUF")])
def test_damaged_adapter_is_refused(smollm2_path, tmp_path, how, message):
    out = random_adapter(smollm2_path, tmp_path / "a.gguf")
    _damage(out, how)
    with pytest.raises(AdapterError, match=message):
        check_adapter(out, smollm2_path)


def test_adapter_for_another_model_is_refused(smollm2_path, tmp_path):
    other = random_adapter(smollm2_path, tmp_path / "qwen.gguf", arch="qwen2")
    with pytest.raises(AdapterError, match="made for a 'qwen2' model"):
        check_adapter(other, smollm2_path)
    tiny = tmp_path / "tiny.gguf"
    write_tiny_llama(tiny)
    wrong_shape = random_adapter(tiny, tmp_path / "tiny-lora.gguf")
    with pytest.raises(AdapterError, match="don't fit"):
        check_adapter(wrong_shape, smollm2_path)
    with pytest.raises(AdapterError, match="No adapter file"):
        check_adapter(tmp_path / "missing.gguf", smollm2_path)


def test_adapter_with_half_a_pair_or_nan_is_refused(smollm2_path, tmp_path):
    info = read_info(smollm2_path)
    a = np.zeros((4, 576), dtype=np.float32)
    half = gguf_lora.write_adapter({"blk.0.attn_q.weight.lora_a": a}, info, 8, tmp_path / "h.gguf")
    with pytest.raises(AdapterError, match="half of its lora_a/lora_b pair"):
        check_adapter(half, smollm2_path)
    b = np.full((576, 4), np.nan, dtype=np.float32)
    nan = gguf_lora.write_adapter({"blk.0.attn_q.weight.lora_a": a,
                                   "blk.0.attn_q.weight.lora_b": b}, info, 8, tmp_path / "n.gguf")
    with pytest.raises(AdapterError, match="NaN"):
        check_adapter(nan, smollm2_path)


def test_corrupt_adapter_at_load_keeps_the_base_model_answering(smollm2_path, tmp_path):
    good = random_adapter(smollm2_path, tmp_path / "good.gguf")
    llm, error = llm_with_adapter(smollm2_path, good, n_ctx=512)
    try:
        assert error is None and llm.lora_path == good
        assert llm.complete([{"role": "user", "content": "Say hello."}], max_tokens=8,
                            temperature=0.0)
    finally:
        llm.close()
    bad = tmp_path / "bad.gguf"
    shutil.copy(good, bad)
    shutil.copy(str(good) + ".json", str(bad) + ".json")
    _damage(bad, "flip")
    llm, error = llm_with_adapter(smollm2_path, bad, n_ctx=512)
    try:
        assert "damaged" in error and "Using the base model without it" in error
        assert llm.lora_path is None
        assert llm.complete([{"role": "user", "content": "Say hello."}], max_tokens=8,
                            temperature=0.0).strip()
    finally:
        llm.close()


def test_adapter_llama_cpp_refuses_is_not_silently_dropped(smollm2_path, tmp_path, monkeypatch):
    """llama-cpp-python 0.3.36 ignores an adapter llama.cpp failed to load (its NULL check
    can't fire); llm_with_adapter notices and says so."""
    tiny = tmp_path / "tiny.gguf"
    write_tiny_llama(tiny)
    foreign = random_adapter(tiny, tmp_path / "tiny-lora.gguf")
    monkeypatch.setattr(gguf_lora, "check_adapter", lambda *a, **k: {})  # let llama.cpp judge
    llm, error = llm_with_adapter(smollm2_path, foreign, n_ctx=512)
    try:
        assert "llama.cpp refused the adapter" in error
        assert llm.lora_path is None
    finally:
        llm.close()
