"""Fold a LoRA adapter into a copy of its base GGUF: one model file, no adapter at run time.

llama.cpp applies a runtime adapter as two extra small matrix products per adapted weight
and token (and cannot keep the adapter's tensors in its repacked CPU buffers: "cannot use
buft 'CPU_REPACK'"); a merged file runs at the base model's speed. This is our own code on
the gguf package: every metadata field and tensor of the base is copied, and each adapted
weight W becomes W + (alpha / rank) · B · A. Our adapter file is already in the GGUF's
layout (gguf_lora permutes q/k rows for llama), so B · A is added as it is.

Requantizing: W is dequantized to float32, the product added, and the sum quantized again to
Q8_0 by default (llama.cpp takes a different type per tensor). A LoRA update is small
(~1 % of the weight's spread for the SmolLM2 test adapter) and a 4- or 5-bit grid rounds most
of it away: merged back into Q4_1 that adapter no longer gives its trained answer, in Q8_0 it
does (tests/learning/test_merge.py; docs/benchmarks.md "LoRA at run time" has the numbers).
`adapted_type="same"` keeps each weight's own type where gguf.quants can quantize it (F32,
F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; it has no quantizer for the K-quants such as Q4_K
and Q6_K, which become Q8_0).
The base file is only read; the merged file is written under a temporary name and renamed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from sync.learning.gguf_lora import AdapterError, check_adapter

# gguf.quants can quantize these (checked against gguf 0.19: the K- and I-quants raise
# NotImplementedError)
REQUANTIZABLE = ("F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0")
FALLBACK = "Q8_0"
SAME = "same"


class MergeError(RuntimeError):
    """The adapter can't be merged into this base model; the message says why."""


@dataclass
class MergeResult:
    path: Path
    seconds: float
    size: int
    merged: int  # adapted weights folded in
    scale: float  # alpha / rank
    # "Q6_K→Q8_0": how many adapted weights changed type on the way (same-type ones not listed)
    retyped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "seconds": round(self.seconds, 2), "size": self.size,
                "merged": self.merged, "scale": self.scale, "retyped": dict(self.retyped)}


def _copy_field(writer, reader_field) -> None:
    import gguf

    types = reader_field.types
    kind = types[0]
    if kind == gguf.GGUFValueType.ARRAY:
        if len(types) != 2:
            raise MergeError(f"{reader_field.name}: nested metadata arrays are not supported.")
        sub = types[1]
        if sub == gguf.GGUFValueType.STRING:  # bytes as stored: no UTF-8 round trip
            value = [bytes(reader_field.parts[i]) for i in reader_field.data]
        else:
            value = reader_field.contents()
        writer.add_key_value(reader_field.name, value, kind, sub_type=sub)
    elif kind == gguf.GGUFValueType.STRING:
        raw = bytes(reader_field.parts[reader_field.data[0]])
        writer.add_key_value(reader_field.name, raw, kind)
    else:
        writer.add_key_value(reader_field.name, reader_field.contents(), kind)


def _adapter_pairs(adapter_path: Path):
    """{base tensor name: (A rank×in, B out×rank)} as float32, and alpha."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(adapter_path), "r")
    alpha_field = reader.fields.get(gguf.Keys.Adapter.LORA_ALPHA)
    alpha = float(alpha_field.contents()) if alpha_field is not None else 0.0
    pairs: dict[str, dict] = {}
    for t in reader.tensors:
        base, _, part = t.name.rpartition(".")
        data = gguf.quants.dequantize(t.data.view(np.ndarray), t.tensor_type)
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        pairs.setdefault(base, {})[part] = np.asarray(data, dtype=np.float32).reshape(shape)
    return {name: (p["lora_a"], p["lora_b"]) for name, p in pairs.items()}, alpha


def merge(base_gguf: Path | str, adapter_gguf: Path | str, out_gguf: Path | str, *,
          adapted_type: str = "Q8_0") -> MergeResult:
    """Write `out_gguf`: `base_gguf` with `adapter_gguf` folded in (see the module doc).

    `adapted_type`: the type of every adapted weight (one of REQUANTIZABLE), or "same": each
    keeps its own type where gguf.quants can write it, Q8_0 where it can't.
    Raises MergeError (a damaged or foreign adapter, an output path that is the base)."""
    import gguf
    import numpy as np

    started = time.perf_counter()
    base_gguf, adapter_gguf, out_gguf = Path(base_gguf), Path(adapter_gguf), Path(out_gguf)
    if adapted_type != SAME and adapted_type not in REQUANTIZABLE:
        raise MergeError(f"Can't requantize to {adapted_type}: gguf.quants writes only "
                         f"{', '.join(REQUANTIZABLE)}.")
    if out_gguf.exists() and base_gguf.exists() and out_gguf.resolve() == base_gguf.resolve():
        raise MergeError("The merged model must go to a new file, not over its base model.")
    try:
        check_adapter(adapter_gguf, base_gguf)  # damaged, foreign or misfit: refused here
    except AdapterError as exc:
        raise MergeError(str(exc)) from exc
    pairs, alpha = _adapter_pairs(adapter_gguf)
    rank = next(iter(pairs.values()))[0].shape[0]
    scale = alpha / rank if alpha else 1.0  # llama.cpp: no alpha → scale 1

    reader = gguf.GGUFReader(str(base_gguf), "r")
    arch = reader.fields["general.architecture"].contents()
    out_gguf.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_gguf.with_name(out_gguf.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    retyped: dict[str, int] = {}
    try:
        for name, reader_field in reader.fields.items():
            if name.startswith("GGUF.") or name == gguf.Keys.General.ARCHITECTURE:
                continue  # the writer writes these itself
            if name == gguf.Keys.General.ALIGNMENT:
                writer.add_custom_alignment(int(reader_field.contents()))
                continue
            _copy_field(writer, reader_field)
        writer.add_string("hearth.merged_adapter", adapter_gguf.name)
        done = set()
        for t in reader.tensors:
            kind = t.tensor_type
            if t.name not in pairs:
                writer.add_tensor(t.name, t.data, raw_dtype=kind)
                continue
            a, b = pairs[t.name]
            # a plain ndarray view: numpy's memmap subclass costs ~5 s per model in slicing
            weight = gguf.quants.dequantize(t.data.view(np.ndarray), kind).astype(np.float32,
                                                                                 copy=False)
            weight = weight.reshape(b.shape[0], a.shape[1]) + np.float32(scale) * (b @ a)
            if adapted_type == SAME:
                target = kind.name if kind.name in REQUANTIZABLE else FALLBACK
            else:
                target = adapted_type
            if target != kind.name:
                retyped[f"{kind.name}→{target}"] = retyped.get(f"{kind.name}→{target}", 0) + 1
            qtype = gguf.GGMLQuantizationType[target]
            data = gguf.quants.quantize(weight, qtype)
            writer.add_tensor(t.name, data, raw_dtype=qtype)
            done.add(t.name)
        if done != set(pairs):  # check_adapter checks this too; a merge must never drop one
            raise MergeError(f"Adapted tensors missing from the base: {sorted(set(pairs) - done)}")
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out_gguf)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return MergeResult(out_gguf, time.perf_counter() - started, out_gguf.stat().st_size,
                       len(done), scale, retyped)
