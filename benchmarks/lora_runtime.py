"""A LoRA adapter at run time vs the same adapter merged into the model file: speed, merge
time and size, and how much of the update a merged file keeps.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/lora_runtime.py \\
        [--model qwen2.5-coder-0.5b] [--runs 5] [--gen 64] [--out results.json]

Variants, all through llama-cpp-python with n_threads=2, greedy (temperature 0):
  base                     the packaged GGUF alone
  + lean adapter           runtime LoRA, r=8, the seven projections of the top 8 layers
                           (the "lean" training preset)
  + full adapter           runtime LoRA, r=16, the seven projections of all layers
                           (the default preset)
  merged lean/full         sync.learning.merge: each adapted weight requantized to its own
                           type where gguf.quants can (Q5_0, Q8_0 here) and to Q8_0 where it
                           can't (Q4_K, Q6_K)
  merged lean/full, Q8_0   every adapted weight requantized to Q8_0

The adapters hold seeded random numbers written by sync.learning.gguf_lora's writer, with
the spread of a trained one (A ~ N(0, 0.025), B ~ N(0, 0.013): the SmolLM2 "periwinkle"
adapter of tests/learning/test_merge.py): llama.cpp does the same arithmetic whatever the
numbers are, so speed does not depend on what was learned. How much of the update survives
requantization does depend on its size, so "update kept" is for updates of that size.

The prompt is a real planner prompt (agent.planner.Planner, the GGUF's chat template): of the
Q2A train split's 254 planned requests, the one nearest 400 tokens (their median is ~320).
Each variant is loaded once and warmed up (one untimed run); then the runs go round the
variants in a rotated order, so a noisy neighbour on the shared machine hits all alike.
Every run starts from an empty KV cache. Per run: prompt tok/s and generation tok/s from llama.cpp's own counters
(llama_perf_context: decode time only), generation tok/s as the caller sees it (64 tokens,
end-of-turn ignored, sampling and Python included), and the process's CPU time per prompt
and generated token (all threads): on a shared machine wall time mostly measures the
neighbours, CPU time the work. Medians are printed (and the best generation rate).

"Update kept": over all adapted weights, <M - W, D> / <D, D> where W is the base weight, M
the merged one (both dequantized) and D = (alpha / rank) · B · A; 1.0 = the whole update is in
the file, 0 = rounded away. "rel. error" = |M - W - D| / |D|.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# libgomp reads this when llama.cpp's library is loaded: set it before importing llama_cpp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROJECTION_NAMES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
A_STD, B_STD = 0.025, 0.013  # the trained SmolLM2 adapter's spread (see the module doc)


def random_adapter(base: Path, out: Path, *, layers, rank: int, alpha: float, seed: int) -> Path:
    import numpy as np

    from sync.learning import gguf_lora
    from sync.learning.hf_twin import read_info

    info = read_info(base)
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in layers:
        for name in PROJECTION_NAMES:
            out_f, in_f = info.shapes[f"blk.{layer}.{name}.weight"]
            tensors[f"blk.{layer}.{name}.weight.lora_a"] = rng.normal(0, A_STD, (rank, in_f)).astype(np.float32)
            tensors[f"blk.{layer}.{name}.weight.lora_b"] = rng.normal(0, B_STD, (out_f, rank)).astype(np.float32)
    return gguf_lora.write_adapter(tensors, info, alpha, out, meta={"random_seed": seed})


def planner_prompt(base: Path, target: int = 400) -> list[int]:
    """The Q2A train split's planner prompt whose length is nearest `target` (median: ~320)."""
    from agent.planbench.runner import load_records
    from sync.learning import examples as ex

    records, _ = load_records("train")
    built = ex.planner_examples(records)
    tok = ex.ChatTokenizer(base)
    try:
        prompts = []
        for example in built.examples:
            seq = tok.encode(example)
            prompts.append(seq["input_ids"][: seq["n_prompt"]])
    finally:
        tok.close()
    return min(prompts, key=lambda p: abs(len(p) - target))


def update_kept(base: Path, merged: Path, adapter: Path) -> tuple[float, float]:
    import gguf
    import numpy as np

    def tensors(path):
        return {t.name: t for t in gguf.GGUFReader(str(path), "r").tensors}

    def deq(t):
        return gguf.quants.dequantize(t.data.view(np.ndarray), t.tensor_type).astype(np.float32)

    b, m, a = tensors(base), tensors(merged), tensors(adapter)
    reader = gguf.GGUFReader(str(adapter), "r")
    alpha = float(reader.fields["adapter.lora.alpha"].contents())
    dot = dd = err = 0.0
    for name in sorted({n.rsplit(".", 1)[0] for n in a}):
        la, lb = deq(a[name + ".lora_a"]), deq(a[name + ".lora_b"])
        d = (alpha / la.shape[0]) * (lb @ la)
        change = deq(m[name]) - deq(b[name])
        dot += float((change * d).sum())
        dd += float((d * d).sum())
        err += float(((change - d) ** 2).sum())
    return dot / dd, (err / dd) ** 0.5


class Loaded:
    def __init__(self, label: str, model: Path, lora: Path | None, threads: int):
        from llama_cpp import Llama

        self.label, self.model, self.lora = label, model, lora
        log = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stderr(log):  # llama.cpp's log, to count the repack warnings
            self.llama = Llama(model_path=str(model), lora_path=str(lora) if lora else None,
                               n_ctx=1024, n_threads=threads, n_threads_batch=threads, seed=0,
                               verbose=True)
        self.load_seconds = time.perf_counter() - started
        from llama_cpp._logger import set_verbose

        set_verbose(False)  # the load's log was all we wanted
        self.file_mb = model.stat().st_size / 1e6
        self.repack_fallbacks = log.getvalue().count("cannot use buft 'CPU_REPACK'")
        if lora is not None and not self.llama._lora_adapter:
            raise SystemExit(f"llama.cpp refused the adapter {lora}")
        self.runs: list[dict] = []

    def run(self, prompt: list[int], n_gen: int) -> dict:
        import llama_cpp

        llama = self.llama
        llama.reset()  # from an empty KV cache: no prefix reused
        llama_cpp.llama_perf_context_reset(llama.ctx)
        tokens = []
        started, cpu_started = time.perf_counter(), time.process_time()
        first = last = started
        cpu_first = cpu_last = cpu_started
        gen = llama.generate(prompt, temp=0.0, top_k=1, reset=True)
        try:
            for token in gen:  # end-of-turn ignored: always n_gen tokens
                last, cpu_last = time.perf_counter(), time.process_time()
                if not tokens:
                    first, cpu_first = last, cpu_last
                tokens.append(token)
                if len(tokens) == n_gen:
                    break
        finally:
            gen.close()
        perf = llama_cpp.llama_perf_context(llama.ctx)
        return {"prompt_tps": perf.n_p_eval / (perf.t_p_eval_ms / 1000),
                "gen_tps": perf.n_eval / (perf.t_eval_ms / 1000),
                "gen_tps_caller": (len(tokens) - 1) / (last - first),
                # CPU time of all the process's threads: what the work costs, steadier than
                # wall time when other jobs share the cores
                "prompt_cpu_ms_per_token": 1000 * (cpu_first - cpu_started) / len(prompt),
                "gen_cpu_ms_per_token": 1000 * (cpu_last - cpu_first) / (len(tokens) - 1),
                "n_p_eval": perf.n_p_eval, "n_eval": perf.n_eval, "tokens": tokens}

    def close(self):
        self.llama.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)

    from agent.model_registry import get_model
    from agent.planbench.runner import machine_info
    from sync.learning.hf_twin import read_info
    from sync.learning.merge import merge

    base = Path(get_model(args.model).resolve())
    n_layer = read_info(base).n_layer
    result: dict = {"model": args.model, "machine": machine_info(), "load_before": os.getloadavg()}
    prompt = planner_prompt(base)
    print(f"{args.model}: {n_layer} layers; prompt {len(prompt)} tokens; {args.gen} generated; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)

    with tempfile.TemporaryDirectory(prefix="hearth-lora-bench-") as tmp:
        tmp = Path(tmp)
        adapters = {
            "lean": random_adapter(base, tmp / "lean.gguf", layers=range(n_layer - 8, n_layer),
                                   rank=8, alpha=16.0, seed=1),
            "full": random_adapter(base, tmp / "full.gguf", layers=range(n_layer), rank=16,
                                   alpha=32.0, seed=2),
        }
        variants = [("base", base, None)]
        variants += [(f"+ {k} adapter (runtime)", base, a) for k, a in adapters.items()]
        merges = []
        for kind, adapter in adapters.items():
            for adapted_type, tag in (("same", "same type"), ("Q8_0", "Q8_0")):
                out = tmp / f"merged-{kind}-{tag.replace(' ', '-')}.gguf"
                load = os.getloadavg()[0]
                m = merge(base, adapter, out, adapted_type=adapted_type)
                kept, rel = update_kept(base, out, adapter)
                row = {"adapter": kind, "adapted_type": tag, **m.to_dict(), "load": load,
                       "update_kept": kept, "rel_error": rel,
                       "adapter_size": adapter.stat().st_size, "base_size": base.stat().st_size}
                merges.append(row)
                print(f"merged {kind} ({tag}): {m.seconds:.1f} s, {m.size / 1e6:.1f} MB "
                      f"(base {base.stat().st_size / 1e6:.1f} MB), retyped {m.retyped}, "
                      f"update kept {kept:.3f}, rel. error {rel:.3f}, load {load:.2f}", flush=True)
                variants.append((f"merged {kind}, {tag}", out, None))
        result["merges"] = merges

        loaded = []
        try:
            for label, model, lora in variants:
                v = Loaded(label, model, lora, args.threads)
                v.run(prompt, args.gen)  # warm-up: pages the weights in
                loaded.append(v)
                print(f"loaded {label} in {v.load_seconds:.1f} s "
                      f"(repack fallbacks logged: {v.repack_fallbacks})", flush=True)
            for n in range(args.runs):
                order = loaded[n % len(loaded):] + loaded[: n % len(loaded)]
                for v in order:
                    v.runs.append(v.run(prompt, args.gen))
                print(f"run {n + 1}/{args.runs} done, load {os.getloadavg()[0]:.2f}", flush=True)
        finally:
            for v in loaded:
                v.close()
        result["load_after"] = os.getloadavg()

    base_runs = loaded[0].runs
    rows = []
    for v in loaded:
        med = {k: statistics.median(r[k] for r in v.runs)
               for k in ("prompt_tps", "gen_tps", "gen_tps_caller", "prompt_cpu_ms_per_token",
                         "gen_cpu_ms_per_token")}
        same = sum(r["tokens"] == b["tokens"] for r, b in zip(v.runs, base_runs))
        rows.append({"variant": v.label, **med, "runs": len(v.runs),
                     "min_gen_tps": min(r["gen_tps"] for r in v.runs),
                     "max_gen_tps": max(r["gen_tps"] for r in v.runs),
                     "repack_fallbacks": v.repack_fallbacks,
                     "same_tokens_as_base": same, "file_mb": v.file_mb})
    result["speed"] = rows
    print(f"\nmedian of {args.runs} runs, load average {result['load_before'][0]:.2f} before, "
          f"{result['load_after'][0]:.2f} after")
    print("| variant | prompt tok/s | prompt CPU ms/token | gen tok/s (llama.cpp; best) | "
          "gen tok/s (caller) | gen CPU ms/token | gen CPU vs base | repack fallbacks |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['prompt_tps']:.0f} | {r['prompt_cpu_ms_per_token']:.1f} | "
              f"{r['gen_tps']:.1f} ({r['max_gen_tps']:.1f}) | {r['gen_tps_caller']:.1f} | "
              f"{r['gen_cpu_ms_per_token']:.0f} | "
              f"{r['gen_cpu_ms_per_token'] / rows[0]['gen_cpu_ms_per_token']:.2f}× | "
              f"{r['repack_fallbacks']} |")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
