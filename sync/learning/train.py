"""LoRA training on CPU, in its own process: `python -m sync.learning.train JOB_DIR`.

The job folder holds job.json (the base GGUF and a TrainConfig) and sequences.jsonl (token
ids and where the answer starts, from sync.learning.examples). The run writes log.jsonl (one
line per step: loss, seconds, memory), checkpoint.pt every few steps (atomically, so a killed
run resumes from the last one with the same data order), and at the end adapter.gguf (with its
sidecar), lora.pt (the LoRA weights as peft names them, so a later night can start from them:
job.json's "init") and result.json. Nothing outside the job folder is touched: the active adapter is
changed only by whoever reads result.json afterwards.

Exit codes: 0 done, 1 failed (result.json says why), 3 the memory cap was reached.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import math
import os
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sync.learning.hf_twin import PROJECTIONS

JOB = "job.json"
SEQUENCES = "sequences.jsonl"
LOG = "log.jsonl"
CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
ADAPTER = "adapter.gguf"
LORA_STATE = "lora.pt"
EXIT_MEMORY = 3
ALL_MODULES = tuple(name.rsplit(".", 1)[1] for name in PROJECTIONS)


class MemoryCapExceeded(RuntimeError):
    pass


@dataclass
class TrainConfig:
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ALL_MODULES
    # LoRA on the top N decoder layers only (None: all). The backward pass then stops at the
    # lowest adapted layer, and the layers below keep no activations for it.
    top_layers: int | None = None
    lr: float = 2e-4
    epochs: float = 1.0  # passes over the sequences; `steps` overrides
    steps: int | None = None
    # a handful of examples is still worth a few updates: one epoch of 5 would be one step
    min_steps: int = 1
    batch_size: int = 8  # sequences per optimizer step
    micro_batch: int = 4  # sequences per forward pass (memory vs speed)
    max_len: int = 1024  # longer sequences lose the start of their prompt
    warmup_steps: int = 2
    threads: int = 2
    seed: int = 0
    dtype: str = "float32"  # the base weights: float32 | bfloat16 (half the memory; LoRA stays float32)
    gradient_checkpointing: bool = False
    checkpoint_every: int = 5
    memory_cap_mib: int = 4096
    nice: int = 10
    adapter_dtype: str = "f16"

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "target_modules" in known:
            known["target_modules"] = tuple(known["target_modules"])
        cfg = cls(**known)
        bad = [m for m in cfg.target_modules if m not in ALL_MODULES]
        if bad:
            raise ValueError(f"Unknown target modules {bad}; choose from {', '.join(ALL_MODULES)}.")
        return cfg


# What the app trains with: within the 4 GiB cap on the default model (docs/learning.md).
LEAN = {"rank": 8, "alpha": 16.0, "top_layers": 8, "gradient_checkpointing": True,
        "dtype": "bfloat16", "micro_batch": 2}


def write_job(job_dir: Path, base: Path | str, config: TrainConfig, sequences: list[dict],
              extra: dict | None = None) -> Path:
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / SEQUENCES).write_text("".join(json.dumps(s) + "\n" for s in sequences),
                                     encoding="utf-8")
    job = {"base": str(Path(base).resolve()), "config": asdict(config), **(extra or {})}
    (job_dir / JOB).write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
    return job_dir


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _rss_parts_mib() -> dict[str, int]:
    """Resident memory by kind (Linux): anonymous (tensors, allocator) and file-backed (the
    memory-mapped weights and libraries, which the kernel can drop and re-read)."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("RssAnon:", "RssFile:")):
                out[line.split(":")[0].lower()[3:] + "_mib"] = int(line.split()[1]) // 1024
    except OSError:
        pass
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_seconds() -> float:
    """CPU time of this process (user + system): on a shared machine, steadier than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fingerprint(config: TrainConfig, sequences: list[dict]) -> str:
    """What a checkpoint must match to be resumed: the same data and settings (not threads)."""
    cfg = {k: v for k, v in asdict(config).items()
           if k not in ("threads", "checkpoint_every", "memory_cap_mib", "nice")}
    blob = json.dumps([cfg, [(s["input_ids"], s["n_prompt"]) for s in sequences]])
    return hashlib.sha256(blob.encode()).hexdigest()


def _order(n: int, total_steps: int, batch: int, seed: int) -> list[list[int]]:
    """The sequences of every step, fixed by the seed (so a resumed run sees what it would
    have seen): epoch after epoch, each shuffled."""
    out, pool, epoch = [], [], 0
    for _ in range(total_steps):
        step = []
        while len(step) < min(batch, n):
            if not pool:
                pool = list(range(n))
                random.Random(seed * 1000 + epoch).shuffle(pool)
                epoch += 1
            step.append(pool.pop())
        out.append(step)
    return out


def _loss(model, batch: list[dict], max_len: int, pad_id: int, torch):
    """Summed cross-entropy over the answer tokens and their count. The vocabulary projection
    runs only at answer positions: on a 150k vocabulary it would otherwise cost more than the
    layers, for prompt tokens whose loss is thrown away."""
    seqs = []
    for s in batch:
        ids, start = s["input_ids"], s["n_prompt"]
        if len(ids) > max_len:  # keep the answer, drop the start of the prompt
            cut = len(ids) - max_len
            ids, start = ids[cut:], max(1, start - cut)  # position 0 predicts nothing
        seqs.append((ids, start))
    width = max(len(ids) for ids, _ in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    targets = torch.full((len(seqs), width), -100, dtype=torch.long)
    for i, (ids, start) in enumerate(seqs):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        mask[i, :len(ids)] = 1
        # position p predicts token p + 1
        targets[i, start - 1:len(ids) - 1] = torch.tensor(ids[start:])
    causal = model.get_base_model()
    hidden = causal.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    picked = targets != -100
    logits = causal.lm_head(hidden[picked]).float()
    loss = torch.nn.functional.cross_entropy(logits, targets[picked], reduction="sum")
    return loss, int(picked.sum())


def _give_back_freed_memory() -> None:
    """After each micro-batch, return the heap's free pages to the OS (glibc's malloc_trim).
    glibc keeps freed activations for reuse, so RSS grows towards the memory cap; the earlier
    remedy, every block over 1 MiB straight from mmap, page-faulted each allocation anew and
    spent 40 % of the training CPU time in the kernel (docs/learning.md)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, looked up once (it runs after every micro-batch); None elsewhere."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: its allocator does as it does
        return None


def _start_from(model, path: Path, torch) -> str | None:
    """Load an earlier night's LoRA weights into the fresh adapter. Returns why they were not
    used (None: they were): weights of another shape (rank, layers, modules or model changed)
    would train a different adapter than the settings say, so the night starts fresh instead."""
    if not path.is_file():
        return f"{path.name} is gone"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged file only costs the head start
        return f"{path.name} could not be read ({type(exc).__name__})"
    own = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
        return "it was trained with other LoRA settings or on another model"
    model.load_state_dict(state, strict=False)
    return None


def with_lora(model, config: TrainConfig, n_layer: int):
    """The peft model to train: LoRA as the config says, then gradient checkpointing if asked.

    Checkpointing comes after peft, and the hook transformers adds with it (the embeddings'
    output requires grad) is removed: that hook is for reentrant checkpointing, which we don't
    use, and it pulls every frozen layer below the adapted ones into the backward pass. With
    LoRA on the top 8 of 24 layers it made a step 2-3x slower for the same gradients
    (docs/learning.md). Enabled before peft, peft adds the hook a second time, out of reach."""
    from peft import LoraConfig, get_peft_model

    layers = None
    if config.top_layers is not None:
        layers = list(range(max(0, n_layer - config.top_layers), n_layer))
    model = get_peft_model(model, LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), layers_to_transform=layers,
        bias="none", task_type="CAUSAL_LM"))
    if config.gradient_checkpointing:
        base = model.get_base_model()
        base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        base.disable_input_require_grads()
    return model


def train_job(job_dir: Path | str, *, stop_after: int | None = None) -> dict:
    """Run (or resume) the job; returns result.json's content. `stop_after` ends the run after
    that many steps of this call without finishing (for tests of resuming)."""
    import torch

    from sync.learning import gguf_lora
    from sync.learning.hf_twin import load_twin, read_info

    job_dir = Path(job_dir)
    job = json.loads((job_dir / JOB).read_text(encoding="utf-8"))
    config = TrainConfig.from_dict(job["config"])
    sequences = [json.loads(line) for line in
                 (job_dir / SEQUENCES).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not sequences:
        raise ValueError("The job has no sequences to train on.")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    info = read_info(job["base"])
    model = load_twin(job["base"], dtype=config.dtype)
    if _rss_mib() > config.memory_cap_mib:
        raise MemoryCapExceeded(f"Loading the model alone took {_rss_mib():.0f} MiB, over the "
                                f"cap of {config.memory_cap_mib} MiB.")
    load_seconds = time.perf_counter() - started
    model = with_lora(model, config, info.n_layer)
    started_from, start_note = None, None
    if job.get("init"):
        start_note = _start_from(model, Path(job["init"]), torch)
        started_from = None if start_note else job["init"]
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    total = config.steps or max(config.min_steps, 1,
                                math.ceil(config.epochs * len(sequences) / config.batch_size))

    def lr_at(step: int) -> float:  # warm-up, then linear decay to a tenth
        if step < config.warmup_steps:
            return (step + 1) / (config.warmup_steps + 1)
        span = max(1, total - config.warmup_steps)
        return 1.0 - 0.9 * (step - config.warmup_steps) / span

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    fingerprint = _fingerprint(config, sequences)
    step, losses, resumed_from = 0, [], None
    ckpt_path = job_dir / CHECKPOINT
    if ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if ckpt.get("fingerprint") == fingerprint:
            model.load_state_dict(ckpt["lora"], strict=False)
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            step, losses, resumed_from = ckpt["step"], ckpt["losses"], ckpt["step"]
    order = _order(len(sequences), total, config.batch_size, config.seed)
    pad_id = sequences[0]["input_ids"][0]
    this_call = 0
    train_started = time.perf_counter()
    with open(job_dir / LOG, "a", encoding="utf-8") as log:
        while step < total:
            t0 = time.perf_counter()
            batch = sorted((sequences[i] for i in order[step]), key=lambda s: len(s["input_ids"]))
            optimizer.zero_grad(set_to_none=True)
            parts = [batch[i:i + config.micro_batch]
                     for i in range(0, len(batch), config.micro_batch)]
            n_target = sum(len(s["input_ids"]) - s["n_prompt"] for s in batch)
            step_loss = 0.0
            for part in parts:
                loss, _ = _loss(model, part, config.max_len, pad_id, torch)
                (loss / n_target).backward()
                step_loss += loss.item()
                del loss
                _give_back_freed_memory()  # the cap is on memory in use, not on glibc's spares
                if _rss_mib() > config.memory_cap_mib:
                    raise MemoryCapExceeded(
                        f"Training used {_rss_mib():.0f} MiB, over the cap of "
                        f"{config.memory_cap_mib} MiB (step {step + 1}); try a smaller "
                        f"micro_batch, max_len or rank, or gradient checkpointing.")
            optimizer.step()
            scheduler.step()
            step += 1
            this_call += 1
            losses.append(round(step_loss / n_target, 5))
            log.write(json.dumps({"step": step, "of": total, "loss": losses[-1],
                                  "seconds": round(time.perf_counter() - t0, 3),
                                  "rss_mib": round(_rss_mib()), **_rss_parts_mib()}) + "\n")
            log.flush()
            if step % config.checkpoint_every == 0 or step == total:
                lora = {k: v for k, v in model.state_dict().items() if "lora_" in k}
                tmp = ckpt_path.with_name(CHECKPOINT + ".tmp")
                torch.save({"fingerprint": fingerprint, "step": step, "losses": losses,
                            "lora": lora, "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict()}, tmp)
                os.replace(tmp, ckpt_path)
            if stop_after is not None and this_call >= stop_after and step < total:
                return {"status": "stopped", "step": step, "of": total}
    train_seconds = time.perf_counter() - train_started
    torch.save({k: v for k, v in model.state_dict().items() if "lora_" in k},
               job_dir / LORA_STATE)
    t0 = time.perf_counter()
    tensors = gguf_lora.lora_tensors(model, info)
    gguf_lora.write_adapter(tensors, info, config.alpha, job_dir / ADAPTER,
                            dtype=config.adapter_dtype,
                            meta={"steps": total, "final_loss": losses[-1]})
    convert_seconds = time.perf_counter() - t0
    n_tokens = sum(len(sequences[i]["input_ids"]) for s in order for i in s)
    result = {"status": "done", "steps": total, "losses": losses, "resumed_from": resumed_from,
              "started_from": started_from, "start_note": start_note,
              "n_sequences": len(sequences), "tokens_seen": n_tokens,
              "load_seconds": round(load_seconds, 2),
              "train_seconds": round(train_seconds, 2), "convert_seconds": round(convert_seconds, 2),
              "peak_rss_mib": round(peak_rss_mib()), "cpu_seconds": round(_cpu_seconds(), 1),
              "adapter": ADAPTER,
              "config": asdict(config)}
    _write_result(job_dir, result)
    return result


def _write_result(job_dir: Path, result: dict) -> None:
    tmp = job_dir / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, job_dir / RESULT)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m sync.learning.train JOB_DIR", file=sys.stderr)
        return 2
    from app import offline

    offline.apply()
    job_dir = Path(argv[0])
    try:
        config = json.loads((job_dir / JOB).read_text(encoding="utf-8"))["config"]
        # `nice` is the niceness to run at, not an increment: started from an already
        # niced benchmark (nice -n 10), adding 10 more made it 19 and starved it
        target = int(config.get("nice") or 0)
        if target > os.nice(0):
            os.nice(target - os.nice(0))
        train_job(job_dir)
        return 0
    except MemoryCapExceeded as exc:
        _write_result(job_dir, {"status": "memory", "error": str(exc),
                                "peak_rss_mib": round(peak_rss_mib())})
        print(exc, file=sys.stderr)
        return EXIT_MEMORY
    except Exception as exc:  # noqa: BLE001 - the parent reads the reason from result.json
        _write_result(job_dir, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
