"""Nightly learning: time and peak memory of one night (prepare + train + convert) for N
examples, on the real chain (llama.cpp for the general answers and tokens, the transformers
twin with peft LoRA in a separate low-priority process, our GGUF writer).

    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/learning.py \\
        --sizes 50,200 --preset lean [--model qwen2.5-coder-0.5b] [--out results.jsonl]

Examples are the Q2A train split's records the app would plan (254 of 296), the first N after
dedupe (`--splits train,dev,test`: 412 of 503). A larger N needs `--ask-again`, which asks
the same requests again with a numbered lead-in: it times a night of N examples, whose
labels repeat. Each night also gets general examples (a quarter of N, at most the 40 questions of
resources/prompts/learning.yaml) with the base model's own answers. Presets:

- default: TrainConfig() — r=16, alpha=32, all seven projections of every layer, fp32,
  batch 8 (micro-batches of 4), one epoch.
- lean: r=8, alpha=16, the projections of the top 8 layers only (the backward pass stops
  there), gradient checkpointing, bfloat16 base weights, micro-batches of 2.

Each night writes one JSON line (machine, load average before and after, timings, peak RSS
of the training process, loss curve); the table printed at the end is what docs/learning.md
shows. The machine is shared: read the load average beside every number.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync.learning.train import LEAN  # noqa: E402  (after the path: run as a script)

PRESETS = {
    "default": {},
    "lean": LEAN,
}


def machine() -> dict:
    import psutil

    from agent.planbench.runner import machine_info

    return {**machine_info(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1)}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def asked_again(records: list[dict], size: int) -> list[dict]:
    """The first `size` records; past the end, the same ones again with a numbered lead-in, so
    that dedupe keeps them as new requests. Same id: the repeat gets its solved example from the
    other records, as the original does, so its prompt is as long."""
    out, round_ = list(records[:size]), 1
    while len(out) < size:
        out += [{**r, "instruction": f"Once more ({round_}): {r['instruction']}"}
                for r in records[:size - len(out)]]
        round_ += 1
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--sizes", default="50,200")
    parser.add_argument("--preset", default="lean", choices=sorted(PRESETS))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override a TrainConfig field, e.g. --set max_len=384")
    parser.add_argument("--splits", default="train",
                        help="Q2A splits whose records are the examples, e.g. train,dev,test")
    parser.add_argument("--ask-again", action="store_true",
                        help="reach a size beyond the usable records by asking them again, "
                             "numbered (times a night of that size; the labels repeat)")
    parser.add_argument("--out", default="learning-bench.jsonl")
    args = parser.parse_args(argv)

    from app import offline

    offline.apply()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    home = Path(tempfile.mkdtemp(prefix="hearth-learning-bench-"))
    os.environ["HEARTH_HOME"] = str(home)  # nights, history and adapters: thrown away after

    from agent.model_registry import get_model
    from agent.planbench.runner import load_records
    from sync.learning import examples as ex
    from sync.learning import nightly, train

    model_path = get_model(args.model).resolve()
    overrides = dict(PRESETS[args.preset])
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    records = [r for split in args.splits.split(",") for r in load_records(split)[0]]
    usable = [r for r in ex.dedupe(records)
              if not ex.planner_examples([r]).skipped]
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            if size > len(usable) and not args.ask_again:
                print(f"skipping {size}: {args.splits} has {len(usable)} usable records "
                      f"(--ask-again repeats them)", file=sys.stderr)
                continue
            config = train.TrainConfig.from_dict(overrides)
            load_before = load()
            start = time.perf_counter()
            result = nightly.run_night(asked_again(usable, size), model_path, config,
                                       general_ratio=0.25, replay_ratio=0.0,
                                       night=f"bench-{size}")
            wall = time.perf_counter() - start
            job = nightly.learning_dir() / "nights" / f"bench-{size}"
            steps = [json.loads(line) for line in (job / train.LOG).read_text().splitlines()]
            row = {"model": args.model, "preset": args.preset, "overrides": overrides,
                   "splits": args.splits, "distinct_requests": min(size, len(usable)),
                   "examples": size, "sequences": result.n_sequences, "status": result.status,
                   "reason": result.reason, "wall_seconds": round(wall, 1),
                   "seconds": result.seconds, "peak_rss_mib": result.peak_rss_mib,
                   "steps": len(steps), "median_step_seconds":
                       sorted(s["seconds"] for s in steps)[len(steps) // 2] if steps else None,
                   "losses": result.losses, "step_seconds": [s["seconds"] for s in steps],
                   "step_rss_mib": [s["rss_mib"] for s in steps],
                   "load_before": load_before, "load_after": load(),
                   "adapter_bytes": Path(result.adapter).stat().st_size if result.adapter else None,
                   "machine": machine(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                   time.gmtime())}
            rows.append(row)
            with open(args.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps({k: v for k, v in row.items()
                              if k not in ("losses", "step_seconds", "step_rss_mib")}), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print("\n| model | preset | examples | sequences | prepare s | load s | train s | convert s "
          "| night min | training CPU s | peak RSS MiB | load avg (before → after) | status |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["seconds"]
        print(f"| {r['model']} | {r['preset']} | {r['examples']} | {r['sequences']} | "
              f"{s.get('prepare')} | {s.get('load_seconds')} | {s.get('train_seconds')} | "
              f"{s.get('convert_seconds')} | {r['wall_seconds'] / 60:.1f} | {s.get('cpu_seconds')} | "
              f"{r['peak_rss_mib']} | "
              f"{r['load_before'][0]} → {r['load_after'][0]} | {r['status']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
