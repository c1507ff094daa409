"""Agent latency: plan, experts and answer for fixed requests through the real Assistant.

    OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/agent.py [--runs 3]
        [--levers grammar,examples2,serial,nocache,lookup] [--model ID]

Three requests, each on a new conversation with its files attached, through
`Assistant.respond` with a real Database / ConversationStore in a temporary HEARTH_HOME, the
app's model loading (`llm_from_settings`) and the real experts:

  audio        "what did I say?" + memo.wav (espeak-ng, made at run time)
  image        "how many people are in the picture?" + bus.jpg (ultralytics' asset)
  audio+image  "what did I say, how many people are in the picture, and what do my notes say
  +memory      about the dentist?" + memo.wav + bus.jpg, memory on, three memories stored first

The audio and image requests run with memory off (`Settings.use_memory=False`: no memory
experts offered to the planner, no memories in the answer prompt); the third with it on.
Answers are greedy (temperature 0) so that the levers compare the same text; memory
proposals after the answer are off (they run after AnswerFinished and are not part of it).

Per run, from the events `respond()` yields (times from the call):
  plan          PlanReady.trace["seconds"] (Planner.plan), split into reading the prompt
                (guided: the session's prompt eval, trace stats ttft_s; grammar: time to the
                first plan token) and writing the plan (the rest)
  experts       PlanReady -> last TaskFinished (wall); per step the TaskFinished record's seconds
  answer prep   last TaskFinished -> AnswerStarted (memory recall, context fitting)
  answer prompt AnswerStarted -> first Token (llama.cpp reading the answer prompt)
  answer gen    first Token -> AnswerFinished
  TTFT          call -> first answer Token;  total: call -> AnswerFinished

The first pass (requests in order, nothing loaded, no `warm_up()`) is reported as "cold";
it loads the model, the vocabulary masks of the guided decoder and each expert on first use.
Then every variant runs every request `--runs` times, interleaved (variants rotated each
round), and values are medians (min–max).

Levers (variants), each on the same requests:
  baseline   the app's defaults: guided plan decoding, 1 example, parallel executor, the
             prompt-state cache (agent/kv_cache.py: each role's prompt prefix comes back from
             a saved KV state instead of being re-read)
  grammar    Planner(decoding="grammar"): GBNF-constrained sampling of the whole plan
  examples2  Planner(n_examples=2)
  serial     Executor(parallel=False)
             Before each run the saved states are cut back to their system message, since
             the same three requests repeat and would otherwise get their whole prompt back
  nocache    the prompt-state cache off (LlamaCppLLM.prompt_cache = None): llama.cpp reuses
             only the common prefix with whatever it evaluated last, as before the cache
  lookup     grammar decoding on a Llama built with prompt-lookup decoding
             (llama_cpp.llama_speculative.LlamaPromptLookupDecoding(num_pred_tokens=2) as
             draft_model); applies to every `Llama.generate` call, so the answer too. The
             guided decoder can't use it (draft_model forces logits_all, and the session reads
             the logits of one position), so this variant compares against "grammar".
The Assistant has no hook for the planner's decoding / examples or the executor's mode, so
the benchmark patches the class defaults in its own process for the duration of a variant
(`Planner.__init__` / `Executor.__init__` wrapped with functools.partialmethod).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partialmethod
from pathlib import Path

# libgomp reads this when llama.cpp's library is loaded: set it before importing llama_cpp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPEECH = "Remind me to call the dentist on Friday and buy oat milk."
MEMORIES = [
    ("My dentist is Dr. Alvarez on Elm Street.", "profile"),
    ("The dentist needs 24 hours' notice to move an appointment.", "note"),
    ("My sister Ana lives in Porto.", "profile"),
]


@dataclass(frozen=True)
class Request:
    key: str
    text: str
    files: tuple[str, ...]
    memory: bool


REQUESTS = (
    Request("audio", "what did I say?", ("memo.wav",), False),
    Request("image", "how many people are in the picture?", ("bus.jpg",), False),
    Request("audio+image+memory", "what did I say, how many people are in the picture, and what "
            "do my notes say about the dentist?", ("memo.wav", "bus.jpg"), True),
)


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    decoding: str | None = None  # None: the Planner's own default (guided on llama.cpp)
    n_examples: int | None = None
    parallel: bool | None = None
    prompt_cache: bool = True
    lookup: bool = False


VARIANTS = {
    "baseline": Variant("baseline", "baseline (guided, 1 example, parallel)"),
    "grammar": Variant("grammar", "grammar decoding", decoding="grammar"),
    "examples2": Variant("examples2", "2 examples", n_examples=2),
    "serial": Variant("serial", "serial executor", parallel=False),
    "nocache": Variant("nocache", "no prompt-state cache", prompt_cache=False),
    "lookup": Variant("lookup", "grammar + prompt lookup", decoding="grammar", lookup=True),
}


# ---------------------------------------------------------------- measuring helpers

class GenerateProbe:
    """Records every `Llama.generate` call: when, prompt tokens, and the KV-cache prefix
    llama.cpp reuses (the common prefix with what it evaluated last)."""

    def __init__(self, llama):
        self.llama = llama
        self._orig = llama.generate
        self.calls: list[tuple[float, int, int]] = []  # (time, prompt tokens, reused)
        llama.generate = self.generate

    def generate(self, tokens, *args, **kwargs):
        tokens = list(tokens)
        cached = list(self.llama._input_ids) if self.llama.n_tokens else []
        prefix = self.llama.longest_token_prefix(cached, tokens)
        self.calls.append((time.perf_counter(), len(tokens), min(prefix, len(tokens) - 1)))
        yield from self._orig(tokens, *args, **kwargs)


@dataclass
class Run:
    variant: str
    request: str
    total: float = 0.0
    ttft: float = 0.0
    plan_started: float = 0.0
    plan_s: float = 0.0
    plan_prompt_s: float = 0.0
    plan_tokens: int = 0  # prompt tokens of the plan
    plan_reused: int = 0
    plan_generated: int = 0  # tokens the model chose (guided) or sampled (grammar)
    plan_passes: int = 0  # guided: forward passes after the prompt
    plan: str = ""
    source: str = ""
    decoding: str = ""
    examples: int = 0
    experts_s: float = 0.0  # PlanReady -> last TaskFinished
    steps: list[tuple[str, float, str]] = field(default_factory=list)  # (task, seconds, status)
    answer_prep_s: float = 0.0
    answer_prompt_s: float = 0.0
    answer_gen_s: float = 0.0
    answer_tokens: int = 0
    answer_prompt_tokens: int = 0
    answer_reused: int = 0
    caller_calls: int = 0
    answer: str = ""
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def plan_gen_s(self) -> float:
        return self.plan_s - self.plan_prompt_s

    @property
    def step_sum(self) -> float:
        return sum(s for _, s, _ in self.steps)


def plan_text(plan: dict) -> str:
    """`speech-to-text, object-detection, memory-search(<-0)`: the experts, deps as <-N."""
    out = []
    for t in plan.get("tasks", []):
        deps = [d for d in t.get("dep", []) if d != -1]
        out.append(t["task"] + (f"(<-{','.join(map(str, deps))})" if deps else ""))
    return ", ".join(out) or "(none)"


# ---------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args, work: Path):
        from agent.assistant import Assistant
        from memory.conversations import ConversationStore
        from memory.db import Database
        from memory.settings import Settings

        self.args = args
        self.db = Database()  # in the temporary HEARTH_HOME set up by main()
        self.store = ConversationStore(self.db)
        self.settings = Settings(model=args.model, temperature=args.temperature,
                                 propose_memories="off", use_memory=True)
        if args.threads:
            self.settings.n_threads = args.threads
        self.files = {"memo.wav": work / "memo.wav", "bus.jpg": work / "bus.jpg"}
        self.assistant = Assistant(self.store, self.settings)
        self._lookup = None
        self._probes: dict[int, GenerateProbe] = {}

    def lookup_assistant(self):
        """A second Assistant sharing the experts and memory, whose Llama has prompt lookup."""
        if self._lookup is None:
            from agent.assistant import Assistant

            self._lookup = Assistant(self.store, self.settings, llm_factory=lookup_llm,
                                     experts=self.assistant.experts, memory=self.assistant.memory)
        return self._lookup

    def remember(self):
        memory = self.assistant.memory
        if memory is None:
            raise SystemExit(f"memory unavailable: {self.assistant.memory_error}")
        for text, kind in MEMORIES:
            memory.remember(text, kind=kind, source="benchmark")

    def probe(self, llm) -> GenerateProbe:
        llama = llm.load()
        if id(llama) not in self._probes:
            self._probes[id(llama)] = GenerateProbe(llama)
        return self._probes[id(llama)]

    def run(self, variant: Variant, req: Request) -> Run:
        from agent.events import (AnswerFinished, AnswerStarted, Failed, PlanReady, PlanStarted,
                                  TaskFinished, Token)

        assistant = self.lookup_assistant() if variant.lookup else self.assistant
        self.settings.use_memory = req.memory
        llm = assistant._llm
        if llm is not None:  # the cache object is kept, only switched off for this variant
            if not hasattr(llm, "_bench_cache"):
                llm._bench_cache = llm.prompt_cache
            llm.prompt_cache = llm._bench_cache if variant.prompt_cache else None
            # Every request here repeats, and a saved state would give back its whole prompt;
            # a user's requests differ after the system message: keep only that part.
            for entry in llm._bench_cache._entries if llm._bench_cache else ():
                entry.tokens = entry.tokens[:len(entry.key)]
        probe = self.probe(llm) if llm is not None else None
        if llm is not None:
            llm.last_guided = None
        conv = self.store.create()
        run = Run(variant.key, req.key)
        t_ready = t_last_task = t_started = t_first = 0.0
        pieces: list[str] = []
        t0 = time.perf_counter()
        with patched(variant):
            for event in assistant.respond(conv.id, req.text,
                                           attachments=[self.files[f] for f in req.files]):
                now = time.perf_counter()
                if isinstance(event, PlanStarted):
                    run.plan_started = now - t0
                elif isinstance(event, PlanReady):
                    t_ready = t_last_task = now
                    trace = event.trace
                    run.plan_s = trace["seconds"]
                    run.plan = plan_text(trace["plan"])
                    run.source, run.decoding = trace["source"], trace.get("decoding", "")
                    run.examples = len(trace.get("examples", []))
                    stats = trace.get("stats", {})
                    run.plan_prompt_s = stats.get("ttft_s", 0.0)
                    run.plan_generated = stats.get("completion_tokens", 0)
                    llm = assistant._llm
                    guided = getattr(llm, "last_guided", None)
                    if guided:
                        run.plan_tokens, run.plan_reused = guided["prompt_tokens"], guided["reused_tokens"]
                        run.plan_passes = guided["passes"]
                    elif probe is not None and probe.calls and probe.calls[-1][0] >= t0:
                        _, run.plan_tokens, run.plan_reused = probe.calls[-1]
                    if probe is None:
                        probe = self.probe(llm)
                elif isinstance(event, TaskFinished):
                    t_last_task = now
                    run.steps.append((event.task["task"], event.task["seconds"], event.task["status"]))
                elif isinstance(event, AnswerStarted):
                    if probe is None:
                        probe = self.probe(assistant._llm)
                    run.caller_calls = sum(1 for c in probe.calls if t_ready and t_ready <= c[0] <= now)
                    t_started = now
                    n_calls = len(probe.calls)
                elif isinstance(event, Token):
                    if not pieces:
                        t_first = now
                    pieces.append(event.text)
                elif isinstance(event, AnswerFinished):
                    run.total = now - t0
                    run.answer_tokens = event.stats.get("completion_tokens", 0)
                    run.answer_prompt_tokens = event.stats.get("prompt_tokens", 0)
                elif isinstance(event, Failed):
                    raise SystemExit(f"{req.key}: failed: {event.error}")
        answer_calls = probe.calls[n_calls:]
        if answer_calls:
            _, run.answer_prompt_tokens, run.answer_reused = answer_calls[0]
        run.ttft = t_first - t0
        if not t_ready:  # no plan (should not happen with files attached)
            t_ready = t_last_task = t0
        run.experts_s = t_last_task - t_ready
        run.answer_prep_s = t_started - t_last_task
        run.answer_prompt_s = t_first - t_started
        run.answer_gen_s = t0 + run.total - t_first
        run.answer = "".join(pieces)
        run.load = os.getloadavg()
        return run

    def close(self):
        if self._lookup is not None:
            self._lookup._memory = None  # owned by the main assistant
            self._lookup._experts = None
            self._lookup.close()
        self.assistant.close()
        self.db.close()


def lookup_llm(settings):
    """llm_from_settings, but the Llama gets a prompt-lookup draft model (and no guided mode)."""
    from agent.assistant import llm_from_settings
    from agent.llama_cpp_llm import LlamaCppLLM

    base = llm_from_settings(settings)

    class LookupLLM(LlamaCppLLM):
        supports_guided = False  # draft_model forces logits_all; GuidedSession reads one row

        def load(self):
            if self._llama is None:
                from llama_cpp import Llama
                from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

                self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx,
                                    n_threads=self.n_threads, n_threads_batch=self.n_threads,
                                    seed=self.seed, verbose=False,
                                    draft_model=LlamaPromptLookupDecoding(num_pred_tokens=2))
            return self._llama

    return LookupLLM(base.model_path, name=base.name, n_ctx=base.n_ctx, n_threads=base.n_threads)


@contextmanager
def patched(variant: Variant):
    """The variant's Planner / Executor defaults, in this process, for the duration."""
    from agent.executor import Executor
    from agent.planner import Planner

    p_init, e_init = Planner.__init__, Executor.__init__
    planner_kw = {k: v for k, v in (("decoding", variant.decoding),
                                    ("n_examples", variant.n_examples)) if v is not None}
    try:
        if planner_kw:
            Planner.__init__ = partialmethod(p_init, **planner_kw)
        if variant.parallel is not None:
            Executor.__init__ = partialmethod(e_init, parallel=variant.parallel)
        yield
    finally:
        Planner.__init__, Executor.__init__ = p_init, e_init


# ---------------------------------------------------------------- report helpers

def med(values) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(values, digits=2, unit="") -> str:
    values = list(values)
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{unit}"
    return f"{med(values):.{digits}f}{unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def counts(values) -> str:
    c = Counter(values)
    if len(c) == 1:
        return next(iter(c))
    return "; ".join(f"{v} ×{n}" for v, n in c.most_common())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               text=True, capture_output=True).stdout.split("\n")
        changed = [line[3:] for line in dirty if line.strip()]
        return head + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def steps_text(runs: list[Run]) -> str:
    """Median seconds per expert over the runs (tasks of one expert in a run summed)."""
    per: dict[str, list[float]] = {}
    for r in runs:
        seen: dict[str, float] = {}
        for task, s, status in r.steps:
            seen[task] = seen.get(task, 0.0) + s
        for task, s in seen.items():
            per.setdefault(task, []).append(s)
    return "; ".join(f"{t} {fmt(v)}" for t, v in per.items()) or "–"


def report(cold: list[Run], results: dict[tuple[str, str], list[Run]], variants: list[Variant],
           args, meta: dict) -> str:
    out = []
    out.append(f"Machine: {meta['cpu']}, {meta['cores']} cores; Python {platform.python_version()}, "
               f"llama-cpp-python {meta['llama_cpp']}; {platform.system()} {platform.release()}")
    out.append(f"Commit: {meta['commit']}")
    out.append(f"Model: {args.model}; n_threads {meta['threads']}, n_ctx {meta['n_ctx']}, answer "
               f"temperature {args.temperature}, max_tokens {meta['max_tokens']}; "
               f"{args.runs} runs per request and variant, interleaved, after the cold pass. "
               f"Load average (1 min) during the runs: {meta['load']}; wall time {meta['wall']:.0f} s.")
    out.append("")
    out.append("Cold first pass (nothing loaded, no warm_up(), requests in this order), seconds:")
    out.append("")
    out.append("| request | plan | plan's experts | steps | experts (wall) | answer TTFT | total |")
    out.append("|---|---|---|---|---|---|---|")
    for r in cold:
        steps = "; ".join(f"{t} {s:.2f}" for t, s, _ in r.steps)
        out.append(f"| {r.request} | {r.plan_s:.2f} | {r.plan} | {steps} | {r.experts_s:.2f} | "
                   f"{r.ttft:.2f} | {r.total:.2f} |")
    out.append("")
    base = [v for v in variants if v.key == "baseline"]
    if base:
        out.append(f"Warm, baseline (the app's defaults), median (min–max) of {args.runs}, seconds:")
        out.append("")
        out.append("| request | plan | plan's experts | per step | answer TTFT | total |")
        out.append("|---|---|---|---|---|---|")
        for req in REQUESTS:
            runs = results[("baseline", req.key)]
            out.append(f"| {req.key} | {fmt(r.plan_s for r in runs)} | {counts(r.plan for r in runs)} | "
                       f"{steps_text(runs)} | {fmt(r.ttft for r in runs)} | {fmt(r.total for r in runs)} |")
        out.append("")
        out.append("Where the time goes (baseline, medians in seconds; the parts add up to the total):")
        out.append("")
        out.append("| request | before plan | plan: read prompt | plan: write | experts (wall) | "
                   "answer prep | answer: read prompt | answer: generate | total |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for req in REQUESTS:
            runs = results[("baseline", req.key)]
            cols = [med([r.plan_started for r in runs]), med([r.plan_prompt_s for r in runs]),
                    med([r.plan_gen_s for r in runs]), med([r.experts_s for r in runs]),
                    med([r.answer_prep_s for r in runs]), med([r.answer_prompt_s for r in runs]),
                    med([r.answer_gen_s for r in runs])]
            out.append(f"| {req.key} | " + " | ".join(f"{c:.2f}" for c in cols)
                       + f" | {med([r.total for r in runs]):.2f} |")
        out.append("")
        out.append("Tokens (baseline, medians): plan prompt (reused from the KV cache), model's "
                   "choices in the plan / forward passes after the prompt; answer prompt (reused), "
                   "answer tokens; expert time summed over steps vs the executor's wall time; "
                   "LLM calls by the caller role (memory-search query from a transcript):")
        out.append("")
        out.append("| request | plan prompt | plan choices / passes | answer prompt | answer tokens | "
                   "steps summed vs wall | caller calls |")
        out.append("|---|---|---|---|---|---|---|")
        for req in REQUESTS:
            runs = results[("baseline", req.key)]
            out.append(
                f"| {req.key} | {med([r.plan_tokens for r in runs]):.0f} "
                f"({med([r.plan_reused for r in runs]):.0f}) | "
                f"{med([r.plan_generated for r in runs]):.0f} / {med([r.plan_passes for r in runs]):.0f} | "
                f"{med([r.answer_prompt_tokens for r in runs]):.0f} ({med([r.answer_reused for r in runs]):.0f}) | "
                f"{med([r.answer_tokens for r in runs]):.0f} | "
                f"{med([r.step_sum for r in runs]):.2f} vs {med([r.experts_s for r in runs]):.2f} | "
                f"{med([r.caller_calls for r in runs]):.0f} |")
        out.append("")
    out.append(f"Levers, same requests, median (min–max) of {args.runs}, seconds:")
    out.append("")
    out.append("| request | variant | plan | plan prompt tok (reused) | plan's experts | experts (wall) "
               "| answer: read prompt (tok reused) | answer: generate (tok) | answer TTFT | total |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for req in REQUESTS:
        for v in variants:
            runs = results[(v.key, req.key)]
            out.append(
                f"| {req.key} | {v.label} | {fmt(r.plan_s for r in runs)} | "
                f"{med([r.plan_tokens for r in runs]):.0f} ({med([r.plan_reused for r in runs]):.0f}) | "
                f"{counts(r.plan for r in runs)} | {fmt(r.experts_s for r in runs)} | "
                f"{fmt(r.answer_prompt_s for r in runs)} ({med([r.answer_reused for r in runs]):.0f}) | "
                f"{fmt(r.answer_gen_s for r in runs)} ({med([r.answer_tokens for r in runs]):.0f}) | "
                f"{fmt(r.ttft for r in runs)} | {fmt(r.total for r in runs)} |")
    out.append("")
    out.append("Answers (first measured run per variant; temperature 0):")
    out.append("")
    for req in REQUESTS:
        seen = {}
        for v in variants:
            text = " ".join(results[(v.key, req.key)][0].answer.split())
            seen.setdefault(text, []).append(v.key)
        for text, keys in seen.items():
            out.append(f"- {req.key} [{', '.join(keys)}]: {text[:400]}")
    out.append("")
    if base:
        target = med([r.total for r in results[("baseline", REQUESTS[2].key)]])
        out.append(f"Target: request {REQUESTS[2].key} answered in ≤ 10 s end to end — "
                   f"{'met' if target <= 10 else 'NOT met'} (median {target:.2f} s warm, "
                   f"{cold[2].total:.2f} s cold).")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b", help="model id from resources/models.yaml")
    p.add_argument("--runs", type=int, default=3, help="measured runs per request and variant")
    p.add_argument("--levers", default="grammar,examples2,serial,nocache,lookup",
                   help=f"variants besides the baseline, comma-separated: "
                        f"{', '.join(k for k in VARIANTS if k != 'baseline')} (or 'none')")
    p.add_argument("--temperature", type=float, default=0.0, help="answer temperature")
    p.add_argument("--threads", type=int, default=0, help="n_threads (0: the Settings default)")
    p.add_argument("--dump", type=Path, help="also pickle the raw runs here")
    p.add_argument("--report", type=Path, metavar="DUMP", help="only print the report of a --dump")
    args = p.parse_args(argv)
    if args.report:
        import pickle

        saved = pickle.loads(args.report.read_bytes())
        print(report(saved["cold"], saved["results"], saved["variants"], saved["args"], saved["meta"]))
        return 0
    levers = [] if args.levers in ("", "none") else args.levers.split(",")
    unknown = [k for k in levers if k not in VARIANTS or k == "baseline"]
    if unknown:
        p.error(f"unknown lever(s): {', '.join(unknown)}")
    variants = [VARIANTS["baseline"]] + [VARIANTS[k] for k in levers]

    from app import offline

    offline.apply()
    from agent.model_registry import get_model
    from memory import paths

    # Resolve the model with the caller's environment, pin the models folder, then point
    # HEARTH_HOME at a temporary folder for the database, memory index and attachments.
    spec = get_model(args.model)
    model_path = spec.resolve()
    os.environ.setdefault(paths.MODELS_ENV, str(model_path.parent))
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-agent-"))
    os.environ[paths.HOME_ENV] = str(work / "home")
    subprocess.run(["espeak-ng", "-w", str(work / "memo.wav"), SPEECH], check=True)
    import importlib.util

    ultra = Path(list(importlib.util.find_spec("ultralytics").submodule_search_locations)[0])
    shutil.copy(ultra / "assets" / "bus.jpg", work / "bus.jpg")

    import llama_cpp

    started = time.perf_counter()
    measured_commit = commit()  # others may commit while this runs: the code loaded is now's
    loads = [os.getloadavg()[0]]
    stop = threading.Event()

    def sample_load():
        while not stop.wait(5.0):
            loads.append(os.getloadavg()[0])

    threading.Thread(target=sample_load, daemon=True).start()

    bench = Bench(args, work)
    print("Storing the memories (loads the embedder)…", file=sys.stderr)
    bench.remember()
    cold = []
    for req in REQUESTS:
        cold.append(bench.run(VARIANTS["baseline"], req))
        r = cold[-1]
        print(f"cold {req.key}: plan {r.plan_s:.2f} s [{r.plan}], total {r.total:.2f} s", file=sys.stderr)
    if any(v.lookup for v in variants):
        # Its own Llama: load it and page it in before measuring.
        warm = bench.run(VARIANTS["lookup"], REQUESTS[0])
        print(f"lookup warm-up: total {warm.total:.2f} s", file=sys.stderr)

    results: dict[tuple[str, str], list[Run]] = {(v.key, r.key): [] for v in variants for r in REQUESTS}
    for i in range(args.runs):
        order = variants[i % len(variants):] + variants[:i % len(variants)]
        for v in order:
            for req in REQUESTS:
                run = bench.run(v, req)
                results[(v.key, req.key)].append(run)
                print(f"run {i + 1}/{args.runs} {v.key:9} {req.key:18} plan {run.plan_s:5.2f} s "
                      f"({run.plan_tokens}/{run.plan_reused} tok) [{run.plan}] experts "
                      f"{run.experts_s:5.2f} s TTFT {run.ttft:5.2f} s total {run.total:5.2f} s "
                      f"({run.answer_tokens} tok)", file=sys.stderr)
    stop.set()
    wall = time.perf_counter() - started
    llm = bench.assistant._llm
    meta = {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)), "llama_cpp": llama_cpp.__version__,
            "commit": measured_commit, "threads": bench.settings.n_threads, "n_ctx": llm.n_ctx,
            "max_tokens": bench.settings.max_tokens,
            "load": f"{min(loads):.2f}–{max(loads):.2f} (median {med(loads):.2f})", "wall": wall}
    for v in variants:  # the patch must have taken effect
        for req in REQUESTS:
            for r in results[(v.key, req.key)]:
                want = v.decoding or "guided"
                if r.decoding != want or (v.n_examples and r.examples != v.n_examples):
                    print(f"warning: {v.key}/{req.key} planned with {r.decoding}, "
                          f"{r.examples} examples", file=sys.stderr)
    bench.close()
    shutil.rmtree(work, ignore_errors=True)
    if args.dump:
        import pickle

        args.dump.write_bytes(pickle.dumps({"cold": cold, "results": results, "variants": variants,
                                            "args": args, "meta": meta}))
    print(report(cold, results, variants, args, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
