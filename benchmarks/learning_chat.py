"""Does a night of learning slow the chat? Chat speed with no night, with a night training
beside it, and with that night paused the way the window pauses it while the chat answers.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/learning_chat.py [--model ID] [--runs N]

A real night (sync.learning.app_night in its own process, through NightProcess, as the window
starts it; niced to 19) trains the model on labels from the Q2A train split in a scratch data
folder. Once it is training, chat answers are timed (Hearth's chat prompt, 48 new tokens,
greedy, a different question each time) with the night running and with it paused
(SIGSTOP of its process group), interleaved, then again after the night was cancelled.
Prints a table of medians: time to first token, generation tok/s, and the ratio to no night.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seed_labels(n: int, model: str) -> None:
    from agent.planbench.runner import app_plans_record, load_records
    from memory.db import Database
    from memory.settings import Settings, save_settings
    from sync.labels import TrainingExamples
    from sync.learning.source import request_turn

    db = Database()
    try:
        save_settings(db, Settings(model=model))
        records, _ = load_records("train")
        records = [r for r in records if app_plans_record(r)][:n]
        for r in records:
            TrainingExamples(db).add("planner", request_turn(r["instruction"], r["attachments"]),
                                     json.dumps(r["plan"]), "cloud:benchmark", True)
    finally:
        db.close()


QUESTIONS = ["Give me three tips for sleeping better.", "How do I keep basil alive indoors?",
             "What should I pack for a rainy weekend hike?", "How can I learn to cook rice well?",
             "Suggest a short morning stretching routine.", "How do I write a polite complaint?"]
_asked = 0


def time_answer(llm, system: str, max_tokens: int) -> tuple[float, float]:
    """(seconds to the first piece, generated tokens per second after it). The system prompt
    stays in the KV cache between answers, as in the app; the question changes each time."""
    global _asked
    messages = [{"role": "system", "content": system},
                {"role": "user", "content": QUESTIONS[_asked % len(QUESTIONS)]}]
    _asked += 1
    start = time.perf_counter()
    first = last = None
    for _ in llm.stream(messages, max_tokens=max_tokens, temperature=0.0):
        now = time.perf_counter()
        first = first or now
        last = now
    n = llm.last_stats.completion_tokens
    return first - start, (n - 1) / (last - first) if last and last > first else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=48)
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="hearth-learning-chat-"))
    os.environ["HEARTH_HOME"] = str(home)
    from agent.llama_cpp_llm import LlamaCppLLM
    from agent.model_registry import get_model
    from agent.planbench.runner import machine_info
    from agent.prompts import load_prompt
    from app import offline
    from sync.learning.process import NightProcess

    offline.apply()
    seed_labels(60, args.model)
    path = get_model(args.model).resolve()
    llm = LlamaCppLLM(path, n_ctx=2048, n_threads=2)
    llm.load()
    system = load_prompt("chat")["system"]
    time_answer(llm, system, 4)  # warm the library up
    rows: dict[str, list[tuple[float, float]]] = {"no night": [], "night running": [],
                                                  "night paused while answering": []}
    for _ in range(args.runs):
        rows["no night"].append(time_answer(llm, system, args.tokens))

    events: list[dict] = []
    night = NightProcess()
    night.start(events.append)
    t0 = time.time()
    while not any(e.get("stage") == "train" for e in events):
        if not night.running:
            raise SystemExit(f"The night ended before training: {events[-1:]}")
        time.sleep(1)
    while not any(e["event"] == "progress" for e in events) and time.time() - t0 < 900:
        time.sleep(1)  # the twin is loaded and the first step runs
    print(f"night training after {time.time() - t0:.0f} s", file=sys.stderr)
    for _ in range(args.runs):
        rows["night running"].append(time_answer(llm, system, args.tokens))
        night.pause()
        time.sleep(0.2)  # the window pauses when the answer starts; the kernel stops it at once
        rows["night paused while answering"].append(time_answer(llm, system, args.tokens))
        night.resume()
        time.sleep(2)
    night.cancel()
    for _ in range(args.runs):  # the baseline again, after: the machine's own drift
        rows["no night"].append(time_answer(llm, system, args.tokens))
    llm.close()

    base_ttft = statistics.median(t for t, _ in rows["no night"])
    base_tps = statistics.median(s for _, s in rows["no night"])
    info = machine_info()
    print(f"\nmodel {args.model}, {args.tokens} tokens, {args.runs} runs per side "
          f"({2 * args.runs} without a night), load average {info['load_average']}")
    print(f"| chat while | first token s (median) | × no night | gen tok/s (median) | × no night |")
    print("|---|---|---|---|---|")
    for name, values in rows.items():
        ttft = statistics.median(t for t, _ in values)
        tps = statistics.median(s for _, s in values)
        print(f"| {name} | {ttft:.2f} | {ttft / base_ttft:.2f} | {tps:.1f} | {tps / base_tps:.2f} |")
    print(json.dumps({"rows": {k: v for k, v in rows.items()}, "machine": info}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
