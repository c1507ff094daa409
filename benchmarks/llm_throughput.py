"""LLM throughput: raw llama-cpp-python vs our LlamaCppLLM vs Assistant.respond (with SQLite).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/llm_throughput.py [--model ID] [--runs N]

All three sides load the same GGUF with the same settings (n_ctx, threads, seed) and get the
same chat messages (Hearth's chat system prompt + one long user message asking for a long
story), greedy sampling (temperature 0). Runs are interleaved (raw, service, assistant, with
the order rotated every run) so a noisy neighbour on the machine hits all sides alike.

Prompt processing is measured from scratch: each side's `Llama.reset()` is called before
every measured run, so no KV-cache prefix (the system prompt comes first in the chat
template and is the same every run) is reused. The script checks this and that the prompt
tokens and the generated text are identical on all sides.

Measured per run, at the consumer (what a UI would see):
  TTFT          time from the call to the first non-empty text piece
  prompt tok/s  prompt tokens / TTFT
  gen tok/s     (generated tokens - 1) / (time of last piece - time of first piece)
Generated tokens are counted exactly (a thin counter around `Llama.generate`, installed the
same way on all three sides), not as text chunks.

Short prompt: time to first token for "hello" through Assistant.respond on a new
conversation with the model already loaded, "cold" (KV cache reset, as right after the
model loads), "warm" (the previous answer was in another conversation, so the system
prompt prefix is still in llama.cpp's KV cache) and, when the Assistant has `warm_up()`,
right after a reset followed by `warm_up()` (what the app does after loading the model).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# libgomp reads this when llama.cpp's library is loaded: set it before importing llama_cpp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NOTES = [
    "The story takes place in Lowmere, a small fishing village on a cold northern coast.",
    "Ada Marsh is the lighthouse keeper; she is sixty-one, stubborn, and keeps a logbook.",
    "Her nephew Tomas, nineteen, arrives by the autumn ferry after failing his exams.",
    "The lighthouse lamp burns paraffin and must be wound by hand every four hours.",
    "In November a storm tears the roof off the oil store and the paraffin is ruined.",
    "The supply boat from the mainland cannot come until the sea calms, maybe weeks.",
    "The village depends on the light: six boats still go out to the winter cod grounds.",
    "Old Bram, the harbour master, distrusts Ada since an argument thirty years ago.",
    "Mira runs the village shop and secretly writes poems on the backs of receipts.",
    "The schoolteacher, Mr Oduya, knows a little chemistry and a lot about stars.",
    "There is a wrecked whaling ship on the reef whose hold may still contain oil.",
    "Tomas is afraid of the sea because his father drowned when he was a child.",
    "Ada's logbook records every ship that passed the light since nineteen sixty-eight.",
    "A fox lives under the keeper's cottage and steals the eggs from Ada's hens.",
    "The village church bell cracked in the storm and now rings a flat, sad note.",
    "At midwinter the sun rises for only four hours, low and red over the water.",
    "The wind on the headland is so strong that the keepers tie themselves to rails.",
    "Mira's brother Kai skippers the largest boat, the Northern Wren, with four crew.",
    "Bram keeps carrier pigeons, the only way to send word when the telegraph fails.",
    "The villagers once burned fish oil in the lamp during the war, Ada remembers.",
    "A young seal keeps following Tomas whenever he walks along the shingle beach.",
    "The reef can only be reached on foot at the lowest spring tide, at night.",
    "Mr Oduya's telescope stands in the schoolroom window, pointed at the harbour.",
    "In the end, the light must shine on the longest night, when the boats return.",
]
INSTRUCTION = (
    "Using all of the notes above, write a long, detailed story of at least 2,000 words "
    "about Ada, Tomas and the winter the lighthouse lamp went dark. Describe every scene "
    "in detail, give the characters plenty of dialogue, and keep going until the whole "
    "story is told.")
SHORT_PROMPT = "hello"
WARMED = "Assistant (first message after warm_up())"


# ---------------------------------------------------------------- measuring helpers

class GenerateProbe:
    """Counts the tokens `Llama.generate` yields and remembers the prompt it was given.

    Installed as an instance attribute on every side's Llama, so all sides pay the same
    (negligible) cost. Also records how many prompt tokens llama.cpp can take from its KV
    cache (the common prefix with what it evaluated last), to prove none after reset().
    """

    def __init__(self, llama):
        import llama_cpp

        self.llama = llama
        self._orig = llama.generate
        self._is_eog = lambda t: llama_cpp.llama_vocab_is_eog(llama._model.vocab, t)
        self.prompt_tokens: list[int] = []
        self.reused = 0
        self.entered = 0.0
        self.generated = 0
        llama.generate = self.generate

    def generate(self, tokens, *args, **kwargs):
        self.entered = time.perf_counter()
        self.prompt_tokens = list(tokens)
        cached = list(self.llama._input_ids) if self.llama.n_tokens else []
        prefix = self.llama.longest_token_prefix(cached, self.prompt_tokens)
        # Llama.generate re-evaluates one token when the whole prompt is cached.
        self.reused = min(prefix, len(self.prompt_tokens) - 1)
        self.generated = 0
        gen = self._orig(tokens, *args, **kwargs)
        try:
            for token in gen:
                if not self._is_eog(token):
                    self.generated += 1
                yield token
        finally:
            gen.close()


@dataclass
class Run:
    ttft: float
    gen_tokens: int
    gen_time: float
    prompt_tokens: int
    total: float
    chunks: int
    text: str
    prompt: list[int] = field(repr=False, default_factory=list)
    reused: int = 0
    setup: float = 0.0      # call -> Llama.generate entered (template, tokenizing, our code)
    db_time: float = 0.0    # Assistant only: time in SQLite writes while streaming
    db_writes: int = 0

    @property
    def gen_rate(self) -> float:
        return (self.gen_tokens - 1) / self.gen_time if self.gen_tokens > 1 and self.gen_time > 0 else 0.0

    @property
    def prompt_rate(self) -> float:
        return self.prompt_tokens / self.ttft if self.ttft > 0 else 0.0


class Timer:
    """Timestamps text pieces as the consumer receives them."""

    def __init__(self):
        self.start = time.perf_counter()
        self.first = self.last = 0.0
        self.pieces: list[str] = []

    def piece(self, text: str) -> None:
        now = time.perf_counter()
        if not self.pieces:
            self.first = now
        self.last = now
        self.pieces.append(text)

    def result(self, probe: GenerateProbe) -> Run:
        end = time.perf_counter()
        return Run(ttft=self.first - self.start, gen_tokens=probe.generated,
                   gen_time=self.last - self.first, prompt_tokens=len(probe.prompt_tokens),
                   total=end - self.start, chunks=len(self.pieces), text="".join(self.pieces),
                   prompt=probe.prompt_tokens, reused=probe.reused,
                   setup=probe.entered - self.start)


# ---------------------------------------------------------------- the three sides

class RawSide:
    label = "raw llama-cpp-python"

    def __init__(self, path: Path, args):
        from llama_cpp import Llama

        self.args = args
        self.llama = Llama(model_path=str(path), n_ctx=args.n_ctx, n_threads=args.threads,
                           n_threads_batch=args.threads, seed=args.seed, verbose=False)
        self.probe = GenerateProbe(self.llama)

    def run(self, messages, user_text, max_tokens, cancel_after_first=False) -> Run:
        timer = Timer()
        chunks = self.llama.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                                   temperature=0.0, stream=True, seed=self.args.seed)
        try:
            for chunk in chunks:
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    timer.piece(text)
                    if cancel_after_first:
                        break
        finally:
            chunks.close()
        return timer.result(self.probe)

    def reset(self):
        self.llama.reset()

    def close(self):
        self.llama.close()


class ServiceSide:
    label = "LlamaCppLLM.stream"

    def __init__(self, path: Path, args):
        from agent.llama_cpp_llm import LlamaCppLLM

        self.llm = LlamaCppLLM(path, name=args.model, n_ctx=args.n_ctx, n_threads=args.threads,
                               seed=args.seed)
        self.probe = GenerateProbe(self.llm.load())

    def run(self, messages, user_text, max_tokens, cancel_after_first=False) -> Run:
        timer = Timer()
        cancel = threading.Event()
        for piece in self.llm.stream(messages, max_tokens=max_tokens, temperature=0.0,
                                     cancel=cancel):
            timer.piece(piece)
            if cancel_after_first:
                cancel.set()
        return timer.result(self.probe)

    def reset(self):
        self.llm._llama.reset()
        if self.llm.prompt_cache is not None:  # from scratch: no saved prompt state either
            self.llm.prompt_cache.clear()

    def close(self):
        self.llm.close()


class AssistantSide:
    label = "Assistant.respond (SQLite)"

    def __init__(self, path: Path, args):
        from agent.assistant import Assistant
        from agent.events import Token
        from memory.conversations import ConversationStore
        from memory.db import Database
        from memory.settings import Settings

        self.Token = Token
        self.db = Database()  # in the temporary HEARTH_HOME set up by main()
        self.store = ConversationStore(self.db)
        settings = Settings(model=args.model, n_threads=args.threads, n_ctx=args.n_ctx,
                            max_tokens=args.gen_tokens, temperature=0.0)
        # The default factory (llm_from_settings): the app's real loading path.
        self.assistant = Assistant(self.store, settings)
        llm = self.assistant.llm()
        if Path(llm.model_path) != Path(path):
            raise SystemExit(f"Assistant loaded {llm.model_path}, expected {path}")
        self.probe = GenerateProbe(llm.load())
        # Time the writes the Assistant makes while streaming (partial flushes, final save).
        self.db_time, self.db_writes = 0.0, 0
        update = self.store.update_message

        def timed_update(*a, **kw):
            t = time.perf_counter()
            try:
                return update(*a, **kw)
            finally:
                self.db_time += time.perf_counter() - t
                self.db_writes += 1

        self.store.update_message = timed_update

    def run(self, messages, user_text, max_tokens, cancel_after_first=False) -> Run:
        conv = self.store.create()
        self.db_time, self.db_writes = 0.0, 0
        timer = Timer()
        cancel = threading.Event()
        for event in self.assistant.respond(conv.id, user_text, cancel=cancel):
            if isinstance(event, self.Token):
                timer.piece(event.text)
                if cancel_after_first:
                    cancel.set()
        run = timer.result(self.probe)
        run.db_time, run.db_writes = self.db_time, self.db_writes
        return run

    def reset(self):
        self.assistant._llm._llama.reset()
        if self.assistant._llm.prompt_cache is not None:
            self.assistant._llm.prompt_cache.clear()

    def close(self):
        self.assistant.close()
        self.db.close()


# ---------------------------------------------------------------- prompt and report

def build_user_text(count, system: str, target_tokens: int) -> str:
    """Background notes + the instruction, grown until the whole prompt is ~target tokens."""
    overhead = count(system) + count(INSTRUCTION) + 12  # chat-template role markers
    lines = ["Background notes for a story:"]
    i = 0
    while overhead + count("\n".join(lines)) < target_tokens:
        note = NOTES[i % len(NOTES)]
        lines.append(f"- {note}" if i < len(NOTES) else f"- (Again) {note}")
        i += 1
    return "\n".join(lines) + "\n\n" + INSTRUCTION


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def med(values) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(values, unit="", digits=2) -> str:
    if not values:
        return "–"
    return (f"{med(values):.{digits}f}{unit} ({min(values):.{digits}f}–{max(values):.{digits}f})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b", help="model id from resources/models.yaml")
    p.add_argument("--runs", type=int, default=5, help="measured runs per side (after 1 warm-up)")
    p.add_argument("--gen-tokens", type=int, default=128, help="max_tokens for the long answer")
    p.add_argument("--prompt-tokens", type=int, default=400, help="approximate prompt length")
    p.add_argument("--threads", type=int, default=2, help="n_threads and n_threads_batch")
    p.add_argument("--n-ctx", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from agent.model_registry import get_model
    from agent.prompts import load_prompt
    from memory import paths

    # Resolve the model with the caller's environment (HEARTH_HOME / HEARTH_MODELS_DIR), pin
    # the models folder, then point HEARTH_HOME at a temporary folder for the database.
    spec = get_model(args.model)
    model_path = spec.resolve()
    if not spec.single_file:
        os.environ.setdefault(paths.MODELS_ENV, str(model_path.parent))
    home = tempfile.mkdtemp(prefix="hearth-bench-")
    os.environ[paths.HOME_ENV] = home

    import llama_cpp

    print(f"Model {spec.id}: {model_path} ({model_path.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    print("Loading the model three times (raw, LlamaCppLLM, Assistant)…", file=sys.stderr)
    sides = [RawSide(model_path, args), ServiceSide(model_path, args), AssistantSide(model_path, args)]
    raw = sides[0]

    system = load_prompt("chat")["system"]

    def count(text: str) -> int:
        return len(raw.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    user_text = build_user_text(count, system, args.prompt_tokens)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user_text}]
    short_messages = [{"role": "system", "content": system}, {"role": "user", "content": SHORT_PROMPT}]

    # Warm-up: page the weights in, fill caches, run every code path once.
    for side in sides:
        side.reset()
        side.run(short_messages, SHORT_PROMPT, 8)

    results: dict[str, list[Run]] = {s.label: [] for s in sides}
    for i in range(args.runs):
        order = sides[i % 3:] + sides[:i % 3]
        for side in order:
            side.reset()
            results[side.label].append(side.run(messages, user_text, args.gen_tokens))
        print(f"run {i + 1}/{args.runs}: " + ", ".join(
            f"{s.label.split()[0]} {results[s.label][-1].gen_rate:.1f} tok/s" for s in sides),
            file=sys.stderr)

    # Short prompt: stop after the first token (cancel), fresh conversation every time.
    short: dict[str, list[Run]] = {"raw (cold)": [], "Assistant (cold)": [], "Assistant (warm)": []}
    asst = sides[2]
    has_warm_up = hasattr(asst.assistant, "warm_up")
    if has_warm_up:
        short[WARMED] = []
    for i in range(args.runs):
        raw.reset()
        short["raw (cold)"].append(raw.run(short_messages, SHORT_PROMPT, 8, cancel_after_first=True))
        asst.reset()
        short["Assistant (cold)"].append(asst.run(short_messages, SHORT_PROMPT, 8, cancel_after_first=True))
        # Another conversation answered just before: its system prompt is still cached.
        asst.run(None, f"Reply with one word. Test number {i}.", 8, cancel_after_first=True)
        short["Assistant (warm)"].append(asst.run(short_messages, SHORT_PROMPT, 8, cancel_after_first=True))
        if has_warm_up:
            # What the app does after loading: Assistant.warm_up() reads the system prompt.
            asst.reset()
            asst.assistant.warm_up()
            short[WARMED].append(asst.run(short_messages, SHORT_PROMPT, 8, cancel_after_first=True))

    for side in sides:
        side.close()
    shutil.rmtree(home, ignore_errors=True)

    # ------------------------------------------------------------ checks
    labels = [s.label for s in sides]
    problems = []
    for i in range(args.runs):
        runs = [results[label][i] for label in labels]
        if any(r.prompt != runs[0].prompt for r in runs):
            problems.append(f"run {i + 1}: the prompt tokens differ between sides")
        if any(r.text != runs[0].text for r in runs):
            problems.append(f"run {i + 1}: the generated text differs between sides")
        if any(r.reused for r in runs):
            problems.append(f"run {i + 1}: a KV-cache prefix was reused")
        if any(r.gen_tokens < args.gen_tokens for r in runs):
            problems.append(f"run {i + 1}: stopped early ({min(r.gen_tokens for r in runs)} tokens)")

    # ------------------------------------------------------------ report
    raw_rate = med([r.gen_rate for r in results[labels[0]]])
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    prompt_tokens = results[labels[0]][0].prompt_tokens
    gen_counts = sorted({r.gen_tokens for runs in results.values() for r in runs})
    out = []
    out.append(f"Machine: {cpu_model()}, {cores} cores available ({os.cpu_count()} logical); "
               f"Python {platform.python_version()}, llama-cpp-python {llama_cpp.__version__}, "
               f"{platform.system()} {platform.release()}")
    out.append(f"Model: {spec.id} ({model_path.name}, {model_path.stat().st_size / 1e6:.0f} MB); "
               f"n_ctx {args.n_ctx}, n_threads {args.threads}, temperature 0, seed {args.seed}, "
               f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    out.append(f"Workload: {prompt_tokens}-token prompt (Hearth's chat system prompt + story "
               f"notes), max_tokens {args.gen_tokens}, generated "
               f"{'/'.join(map(str, gen_counts))} tokens per run; {args.runs} runs per side, "
               f"interleaved, after 1 warm-up; `Llama.reset()` before every run (no KV-cache "
               f"reuse). Median (min–max).")
    out.append("")
    out.append(f"| | TTFT, {prompt_tokens}-token prompt | prompt tok/s | gen tok/s | gen vs raw |")
    out.append("|---|---|---|---|---|")
    for label in labels:
        runs = results[label]
        rate = med([r.gen_rate for r in runs])
        paired = [r.gen_rate / b.gen_rate for r, b in zip(runs, results[labels[0]])]
        ratio = "100 %" if label == labels[0] else (
            f"{100 * rate / raw_rate:.1f} % (paired {100 * min(paired):.0f}–{100 * max(paired):.0f} %)")
        out.append(f"| {label} | {fmt([r.ttft for r in runs], ' s')} | "
                   f"{fmt([r.prompt_rate for r in runs], '', 0)} | "
                   f"{fmt([r.gen_rate for r in runs], '', 1)} | {ratio} |")
    out.append("")
    out.append(f"Short prompt ({SHORT_PROMPT!r}, new conversation, model loaded), time to first "
               f"token, median (min–max) of {args.runs}:")
    out.append("")
    out.append("| | TTFT | prompt tokens evaluated |")
    out.append("|---|---|---|")
    for label, runs in short.items():
        evaluated = sorted({r.prompt_tokens - r.reused for r in runs})
        out.append(f"| {label} | {fmt([r.ttft for r in runs], ' s', 3)} | "
                   f"{'/'.join(map(str, evaluated))} of {runs[0].prompt_tokens} |")
    out.append("")
    out.append("Details, median (min–max): call → `Llama.generate` (chat template, tokenizing, "
               "and for the Assistant the SQLite reads/writes and context fitting before the model "
               "starts); whole call; text pieces received; SQLite writes while streaming.")
    out.append("")
    out.append("| | call → generate | whole call | pieces | SQLite writes |")
    out.append("|---|---|---|---|---|")
    for label in labels:
        runs = results[label]
        db = (f"{med([r.db_writes for r in runs]):.0f} writes, "
              f"{fmt([1000 * r.db_time for r in runs], ' ms', 1)}") if label == labels[2] else "–"
        out.append(f"| {label} | {fmt([1000 * r.setup for r in runs], ' ms', 1)} | "
                   f"{fmt([r.total for r in runs], ' s')} | {med([r.chunks for r in runs]):.0f} | {db} |")
    out.append("")
    worst = min(med([r.gen_rate for r in results[label]]) / raw_rate for label in labels[1:])

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    short_verdicts = ", ".join(
        f"{label.removeprefix('Assistant ')} {verdict(t <= 0.5)} ({t:.3f} s)"
        for label, t in ((k, med([r.ttft for r in v])) for k, v in short.items())
        if label.startswith("Assistant"))
    out.append(f"Targets: generation ≥ 90 % of raw — {verdict(worst >= 0.9)} (worst "
               f"{100 * worst:.1f} %); short-prompt first token ≤ 0.5 s — {short_verdicts}.")
    out.append("Checks: " + ("same prompt tokens and same generated text on all sides, no KV reuse, "
                             "no early stop." if not problems else "; ".join(problems)))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
