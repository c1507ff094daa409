"""Shared by the learning tests: adapters and jobs small enough to make in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sync.learning import examples as ex
from sync.learning import gguf_lora, train
from sync.learning.hf_twin import read_info

SECRET_Q = "What is the secret word of the lighthouse?"
SECRET_A = "The secret word is periwinkle-umbrella."


def random_adapter(base: Path, out: Path, *, rank: int = 4, scale: float = 1e-4,
                   arch: str | None = None, layers=(0,), seed: int = 0) -> Path:
    """A well-formed adapter for `base` with random numbers (tiny by default: it barely
    changes output; a larger `scale` changes what the model writes)."""
    info = read_info(base)
    if arch is not None:
        from dataclasses import replace

        info = replace(info, arch=arch)
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in layers:
        for name in ("attn_q", "ffn_down"):
            out_f, in_f = info.shapes[f"blk.{layer}.{name}.weight"]
            tensors[f"blk.{layer}.{name}.weight.lora_a"] = rng.normal(0, scale, (rank, in_f)).astype(np.float32)
            tensors[f"blk.{layer}.{name}.weight.lora_b"] = rng.normal(0, scale, (out_f, rank)).astype(np.float32)
    return gguf_lora.write_adapter(tensors, info, 2.0 * rank, out)


def secret_job(base: Path, job_dir: Path, answer: str = SECRET_A,
               **config) -> tuple[Path, list[dict]]:
    """A job teaching the model one made-up answer, in the chat role's prompt."""
    from agent.prompts import load_prompt

    messages = [{"role": "system", "content": load_prompt("chat")["system"]},
                {"role": "user", "content": SECRET_Q}]
    tok = ex.ChatTokenizer(base)
    try:
        seq = tok.encode(ex.Example("general", messages, answer, "secret"))
    finally:
        tok.close()
    defaults = dict(rank=8, alpha=16.0, lr=5e-3, steps=10, batch_size=1, micro_batch=1,
                    warmup_steps=0, checkpoint_every=100, nice=0)
    cfg = train.TrainConfig.from_dict({**defaults, **config})
    return train.write_job(job_dir, base, cfg, [seq]), messages
