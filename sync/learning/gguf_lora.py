"""llama.cpp's GGUF LoRA adapter format: written from a trained peft model, checked before use.

The format (llama.cpp src/llama-adapter.cpp reads it): `general.type` = "adapter",
`general.architecture` = the base model's, `adapter.type` = "lora", `adapter.lora.alpha`
(llama.cpp scales by alpha / rank, as peft does), and per adapted weight two tensors
`blk.N.<name>.weight.lora_a` (rank × in, numpy order) and `.lora_b` (out × rank), where
<name> is llama.cpp's (attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down).

One trap: for the llama architecture the GGUF stores q and k with their rows permuted for
llama.cpp's rotary layout (HF rotates halves, llama.cpp pairs), and transformers undoes that
when it loads the GGUF. So lora_b of q/k, which writes those rows, gets the same permutation
here; qwen2 files are not permuted.

Every adapter gets a sidecar `<file>.json` with its sha256, base model and training facts, so
a damaged file is refused before llama.cpp sees it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from sync.learning.hf_twin import PROJECTIONS, GGUFInfo, TwinError, read_info

LAYER_MODULE = re.compile(r"layers\.(\d+)\.(self_attn\.[a-z_]+|mlp\.[a-z_]+)$")
SIDECAR_SUFFIX = ".json"


class AdapterError(RuntimeError):
    """An adapter file is missing, damaged or made for another model; the message says which."""


def _permute_rows(b, n_head: int):
    """llama.cpp's q/k row order (convert_hf_to_gguf's LlamaModel.permute), on lora_b's rows."""
    rows = b.shape[0]
    return b.reshape(n_head, 2, rows // n_head // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def lora_tensors(model, info: GGUFInfo) -> dict[str, Any]:
    """GGUF tensor name → float32 numpy array, from a peft model's LoRA layers."""
    import numpy as np

    out: dict[str, Any] = {}
    for name, module in model.named_modules():
        if not hasattr(module, "lora_A") or "default" not in getattr(module, "lora_A", {}):
            continue
        match = LAYER_MODULE.search(name)
        if match is None or match.group(2) not in PROJECTIONS:
            raise AdapterError(f"LoRA on {name}: only the decoder layers' projections "
                               f"({', '.join(PROJECTIONS)}) can go into a GGUF adapter.")
        layer, proj = int(match.group(1)), match.group(2)
        a = module.lora_A["default"].weight.detach().float().cpu().numpy()
        b = module.lora_B["default"].weight.detach().float().cpu().numpy()
        if info.arch == "llama" and proj == "self_attn.q_proj":
            b = _permute_rows(b, info.n_head)
        elif info.arch == "llama" and proj == "self_attn.k_proj":
            b = _permute_rows(b, info.n_head_kv)
        base = f"blk.{layer}.{PROJECTIONS[proj]}.weight"
        out[base + ".lora_a"] = np.ascontiguousarray(a, dtype=np.float32)
        out[base + ".lora_b"] = np.ascontiguousarray(b, dtype=np.float32)
    if not out:
        raise AdapterError("The model has no LoRA layers to write.")
    return out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_adapter(tensors: dict[str, Any], info: GGUFInfo, alpha: float, out_path: Path | str,
                  *, dtype: str = "f16", meta: dict | None = None) -> Path:
    """Write the adapter (and its sidecar) atomically: a reader never sees half a file."""
    import gguf
    import numpy as np

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    np_dtype = {"f16": np.float16, "f32": np.float32}[dtype]
    writer = gguf.GGUFWriter(str(tmp), arch=info.arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    writer.add_string("hearth.base_model", info.path.name)
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name].astype(np_dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    rank = next(t.shape[0] for n, t in tensors.items() if n.endswith(".lora_a"))
    sidecar = {"sha256": sha256_file(tmp), "size": tmp.stat().st_size, "arch": info.arch,
               "base_model": info.path.name, "alpha": float(alpha), "rank": int(rank),
               "dtype": dtype, "tensors": len(tensors), **(meta or {})}
    side_tmp = Path(str(out_path) + SIDECAR_SUFFIX + ".tmp")
    side_tmp.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out_path)
    os.replace(side_tmp, Path(str(out_path) + SIDECAR_SUFFIX))
    return out_path


def sidecar(path: Path | str) -> dict | None:
    side = Path(str(path) + SIDECAR_SUFFIX)
    if not side.is_file():
        return None
    try:
        return json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def check_adapter(path: Path | str, base: GGUFInfo | Path | str) -> dict:
    """Refuse an adapter llama.cpp would reject or misapply: not GGUF, not a LoRA adapter,
    another architecture, tensors that don't pair or don't fit the base model's, non-finite
    numbers, or bytes that differ from those recorded when it was written. Returns the
    adapter's facts (the sidecar, or what the header says)."""
    import gguf
    import numpy as np

    path = Path(path)
    info = base if isinstance(base, GGUFInfo) else read_info(base)
    if not path.is_file():
        raise AdapterError(f"No adapter file at {path}.")
    facts = sidecar(path)
    if facts is not None:
        if path.stat().st_size != facts.get("size") or sha256_file(path) != facts.get("sha256"):
            raise AdapterError(f"The adapter {path.name} is damaged: its bytes differ from "
                               f"those written when it was trained.")
    try:
        reader = gguf.GGUFReader(str(path), "r")
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged file
        raise AdapterError(f"The adapter {path.name} is not a readable GGUF file ({exc}).") from None

    def value(key):
        field = reader.fields.get(key)
        return None if field is None else field.contents()

    if value("general.type") != "adapter" or value("adapter.type") != "lora":
        raise AdapterError(f"{path.name} is not a LoRA adapter (general.type "
                           f"{value('general.type')!r}, adapter.type {value('adapter.type')!r}).")
    if value("general.architecture") != info.arch:
        raise AdapterError(f"{path.name} was made for a {value('general.architecture')!r} model, "
                           f"not for {info.path.name} ({info.arch}).")
    pairs: dict[str, dict[str, Any]] = {}
    for t in reader.tensors:
        base_name, dot, part = t.name.rpartition(".")
        if part not in ("lora_a", "lora_b"):
            raise AdapterError(f"{path.name}: unexpected tensor {t.name}.")
        pairs.setdefault(base_name, {})[part] = t
    if not pairs:
        raise AdapterError(f"{path.name} holds no LoRA tensors.")
    for base_name, pair in pairs.items():
        if set(pair) != {"lora_a", "lora_b"}:
            raise AdapterError(f"{path.name}: {base_name} lacks half of its lora_a/lora_b pair.")
        if base_name not in info.shapes:
            raise AdapterError(f"{path.name}: {base_name} is not a tensor of {info.path.name}.")
        out_f, in_f = info.shapes[base_name]
        a = tuple(int(d) for d in reversed(pair["lora_a"].shape.tolist()))
        b = tuple(int(d) for d in reversed(pair["lora_b"].shape.tolist()))
        if a[1] != in_f or b[0] != out_f or a[0] != b[1]:
            raise AdapterError(f"{path.name}: {base_name} has shapes {a} / {b}, which don't fit "
                               f"{info.path.name}'s {out_f}×{in_f}.")
        for part in pair.values():
            if not np.isfinite(np.asarray(part.data, dtype=np.float32)).all():
                raise AdapterError(f"{path.name}: {part.name} holds NaN or infinite numbers.")
    alpha = value("adapter.lora.alpha")
    return facts or {"arch": info.arch, "alpha": alpha, "tensors": 2 * len(pairs)}


def llm_with_adapter(model_path: Path | str, adapter: Path | str | None, **kwargs):
    """A loaded LlamaCppLLM with the adapter, or with the base model alone when the adapter is
    refused (by check_adapter or by llama.cpp). Returns (llm, error or None)."""
    from agent.llama_cpp_llm import LlamaCppLLM
    from agent.llm import ModelLoadError

    if adapter is not None:
        try:
            check_adapter(adapter, model_path)
            llm = LlamaCppLLM(model_path, lora_path=adapter, **kwargs)
            llm.load()  # raises ModelLoadError when llama.cpp refuses the adapter
            return llm, None
        except (AdapterError, TwinError, ModelLoadError) as exc:
            error = f"{exc} Using the base model without it."
    else:
        error = None
    llm = LlamaCppLLM(model_path, **kwargs)
    llm.load()
    return llm, error
