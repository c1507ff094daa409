"""What an adapter per role costs at run time: one loaded model, the planner's and the
summarizer's adapters switched between calls (LlamaCppLLM.for_role), against one adapter for
both roles.

A message with files makes a planning call, then an answer; with two adapters every call
switches, which empties the context, so each role's prompt prefix must come back from the
prompt-state cache (saved per adapter) instead of staying in the context. To time the switch
alone, the "per role" configuration uses the same weights under a second file name: the text
written is the same, every call switches. Measured: each planning call (guided decoding) and
each answer (48 tokens at most), over ROUNDS messages with files from the answer benchmark,
both configurations interleaved.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/role_adapters.py ADAPTER.gguf
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROUNDS = 8


def one_message(llm, record: dict) -> tuple[float, float]:
    """(planning s, answer s) of one message as the assistant makes them."""
    from agent.answerbench.runner import prompt_for
    from agent.planbench.runner import app_files, app_tools
    from agent.planner import Planner

    planner = Planner(llm.for_role("planner"))
    t0 = time.perf_counter()
    planner.plan(record["instruction"], app_files(record["attachments"]),
                 app_tools(record["instruction"]))
    t1 = time.perf_counter()
    _, messages = prompt_for(record)
    llm.for_role("summarizer").complete(messages, max_tokens=48, temperature=0.0)
    return t1 - t0, time.perf_counter() - t1


def main(argv=None) -> int:
    from agent.answerbench.runner import load_records
    from agent.llama_cpp_llm import LlamaCppLLM
    from agent.model_registry import get_model
    from app import offline

    offline.apply()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("adapter", type=Path)
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    args = p.parse_args(argv)
    import shutil
    import tempfile

    model = get_model(args.model).resolve()
    records = [r for r in load_records("test") if r["attachments"]][:ROUNDS]
    twin = Path(tempfile.mkdtemp()) / "summarizer.gguf"
    shutil.copyfile(args.adapter, twin)
    configs = {"one adapter for both roles": {"planner": args.adapter, "summarizer": args.adapter},
               "an adapter per role": {"planner": args.adapter, "summarizer": twin}}
    llms = {name: LlamaCppLLM(model, n_ctx=4096, lora_path=roles["summarizer"],
                              role_adapters={"planner": roles["planner"],
                                             "summarizer": roles["summarizer"]})
            for name, roles in configs.items()}
    times = {name: [] for name in configs}
    try:
        for llm in llms.values():  # loaded, vocabulary tables built, one message to warm up
            llm.load()
            llm.vocab_masks()
            one_message(llm, records[0])
        for record in records:
            for name, llm in llms.items():
                times[name].append(one_message(llm, record))
    finally:
        for llm in llms.values():
            llm.close()
    print("| configuration | planning s (median) | answer s (median) | message s (median) |")
    print("|---|---|---|---|")
    rows = {}
    for name, pairs in times.items():
        plan = statistics.median(p for p, _ in pairs)
        answer = statistics.median(a for _, a in pairs)
        total = statistics.median(p + a for p, a in pairs)
        rows[name] = {"planning_s": round(plan, 2), "answer_s": round(answer, 2),
                      "message_s": round(total, 2), "runs": [[round(p, 3), round(a, 3)]
                                                             for p, a in pairs]}
        print(f"| {name} | {plan:.2f} | {answer:.2f} | {total:.2f} |")
    one, per = times["one adapter for both roles"], times["an adapter per role"]
    ratios = [(p2 + a2) / (p1 + a1) for (p1, a1), (p2, a2) in zip(one, per)]
    print(f"\nper-role / one adapter, per message (median of {len(ratios)} paired ratios): "
          f"{statistics.median(ratios):.2f}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
