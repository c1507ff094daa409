"""Labelled examples → the token sequences the model is trained on.

A planner example is prompted exactly as the app prompts the planner: agent.planner.Planner
builds the messages (system prompt with the tools offered, one solved example from the train
split, the request and its files) and checks the reference plan against the tools and files
the app would offer; the chat template is the GGUF's own, rendered as llama.cpp renders it.
The loss falls on the answer only (the plan JSON and the end-of-turn token).

General examples keep the model's other skills: ordinary questions with the base model's own
answers (self-distillation: training on them pulls the adapter towards the base where the
task data says nothing; a trial without them taught the model the capital of France is
Tromsø). A replay sample of earlier nights' examples keeps earlier lessons.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.llm import LLM, Messages


class ExampleError(ValueError):
    """A record can't become a training example; the message says why."""


@dataclass
class Example:
    kind: str  # plan | answer | general
    messages: Messages
    target: str
    key: str  # what makes two examples the same one (for dedupe and replay)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Built:
    """The examples made from a list of records, and the records left out with the reason."""

    examples: list[Example] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def record_key(record: dict) -> str:
    """Same request, same files → same example (the later label wins)."""
    instruction = " ".join(str(record.get("instruction", "")).lower().split())
    return json.dumps([instruction, sorted(record.get("attachments", []) or [])])


def dedupe(records: Iterable[dict], key=record_key) -> list[dict]:
    """One record per request; a later one (a correction, a newer label) replaces an earlier."""
    by_key: dict[str, dict] = {}
    for rec in records:
        k = key(rec)
        by_key.pop(k, None)
        by_key[k] = rec
    return list(by_key.values())


class _Capture(LLM):
    """Stands in for the model while the real Planner builds its prompt: records the messages
    and answers with the reference plan, which the Planner then parses and validates as it
    would the model's own."""

    name = "capture"

    def __init__(self, answer: str):
        super().__init__()
        self.answer = answer
        self.messages: Messages | None = None

    def stream(self, messages: Messages, *, max_tokens: int = 512, temperature: float = 0.7,
               cancel: threading.Event | None = None, **kwargs) -> Iterator[str]:
        self.messages = messages
        yield self.answer


def planner_examples(records: Sequence[dict], pool: Sequence[dict] | None = None) -> Built:
    """Planner examples for records {instruction, attachments, plan} (id optional).

    Left out, with the reason: messages the app answers without planning, and reference plans
    the app would refuse for this request (an expert not offered, a file not attached)."""
    from agent.planbench.runner import app_files, app_plans, app_tools
    from agent.planner import Planner, train_examples

    pool = list(train_examples() if pool is None else pool)
    built = Built()
    for n, rec in enumerate(records):
        rid = str(rec.get("id", f"record-{n + 1}"))
        if not isinstance(rec.get("instruction"), str) or not isinstance(rec.get("plan"), dict):
            built.skipped.append({"id": rid, "reason": "needs an instruction and a plan"})
            continue
        instruction, files = rec["instruction"], app_files(rec.get("attachments", []) or [])
        if not app_plans(instruction, files):
            built.skipped.append({"id": rid, "reason": "the app answers it without a plan"})
            continue
        answer = json.dumps(rec["plan"], ensure_ascii=False)
        capture = _Capture(answer)
        # the record is never its own few-shot example (as in the benchmark)
        others = [r for r in pool if r.get("id") != rec.get("id") or "id" not in rec]
        planner = Planner(capture, examples=others, decoding="free")
        outcome = planner.plan(instruction, files, app_tools(instruction))
        if capture.messages is None:
            built.skipped.append({"id": rid, "reason": "no expert can take these files"})
            continue
        if outcome.source != "model":
            built.skipped.append({"id": rid, "reason": f"the app would refuse this plan: "
                                                       f"{outcome.error}"})
            continue
        # the plan as the guided decoder writes it (key order and spacing of Plan.to_json)
        built.examples.append(Example("plan", capture.messages, outcome.plan.to_json(),
                                      record_key(rec), rid))
    return built


def answer_key(record: dict) -> str:
    """What makes two answer labels the same one: their request, case and spacing aside."""
    return " ".join(record["request"].lower().split())


def answer_examples(records: Sequence[dict]) -> Built:
    """Summarizer examples for records {id, request, with_results, answer} (source.answer_records):
    the chat's system prompt (with the rule to name the experts when there are results) and the
    user turn the app builds (agent.summarizer), the answer as the target."""
    from agent import summarizer

    built = Built()
    for n, rec in enumerate(records):
        rid = str(rec.get("id", f"answer-{n + 1}"))
        request, answer = rec.get("request"), rec.get("answer")
        if not isinstance(request, str) or not isinstance(answer, str) or not answer.strip():
            built.skipped.append({"id": rid, "reason": "needs a request and an answer"})
            continue
        messages = [{"role": "system",
                     "content": summarizer.system_prompt(bool(rec.get("with_results")))},
                    {"role": "user", "content": request}]
        key = json.dumps(["answer", answer_key(rec)])
        built.examples.append(Example("answer", messages, answer.strip(), key, rid))
    return built


def general_questions() -> list[str]:
    from agent.prompts import load_prompt

    return list(load_prompt("learning")["general_questions"])


def general_examples(llm: LLM, questions: Sequence[str], *, max_tokens: int = 64,
                     cache: Path | None = None) -> list[Example]:
    """Ordinary questions with `llm`'s own greedy answers, in the chat role's prompt. The
    answers are cached per model file: they only change when the base model does."""
    from agent.prompts import load_prompt

    system = load_prompt("chat")["system"]
    cached: dict[str, str] = {}
    if cache is not None and cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                cached[row["question"]] = row["answer"]
    out = []
    for q in questions:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": q}]
        if q not in cached:
            answer = llm.complete(messages, max_tokens=max_tokens, temperature=0.0).strip()
            if llm.last_stats.finish_reason == "length":  # cut mid-sentence: end at a sentence
                answer = answer[:answer.rfind(".") + 1] or answer
            cached[q] = answer
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                with open(cache, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"question": q, "answer": answer}, ensure_ascii=False) + "\n")
        if cached[q]:
            out.append(Example("general", messages, cached[q], json.dumps(["general", q]), "general"))
    return out


def mix(task: Sequence[Example], general: Sequence[Example], replay: Sequence[Example], *,
        general_ratio: float = 0.25, replay_ratio: float = 0.25, seed: int = 0) -> list[Example]:
    """Tonight's examples, plus general ones (general_ratio × their number) and a replay sample
    of earlier ones (replay_ratio × their number), without duplicates, shuffled."""
    rng = random.Random(seed)
    keys = {e.key for e in task}
    old = [e for e in replay if e.key not in keys]
    n_replay = min(len(old), round(replay_ratio * len(task)))
    n_general = min(len(general), max(1, round(general_ratio * len(task))) if general else 0)
    chosen = list(task) + rng.sample(old, n_replay) + rng.sample(list(general), n_general)
    rng.shuffle(chosen)
    return chosen


class ChatTokenizer:
    """The model's own tokenizer and chat template, through llama.cpp (vocabulary only), so a
    training sequence holds the very tokens the app feeds the model."""

    def __init__(self, gguf_path: Path | str):
        from llama_cpp import Llama

        self._llama = Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)
        self.template = self._llama.metadata["tokenizer.chat_template"]
        self.eos_id = self._llama.token_eos()
        self.eos = self._llama.detokenize([self.eos_id], special=True).decode("utf-8")

    def close(self) -> None:
        self._llama.close()

    def _render(self, messages: Messages, generation_prompt: bool, eos: str) -> tuple[str, bool]:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        formatter = Jinja2ChatFormatter(template=self.template, eos_token=eos, bos_token="",
                                        add_generation_prompt=generation_prompt)
        result = formatter(messages=messages)
        return result.prompt, result.added_special

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        return self._llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def encode(self, example: Example) -> dict[str, Any]:
        """{"input_ids", "n_prompt"}: the prompt as the app renders it (LlamaCppLLM.guided),
        then the answer and the template's end of turn, which is where generation stops."""
        prompt, added_special = self._render(example.messages, True, "")
        full, _ = self._render([*example.messages,
                                {"role": "assistant", "content": example.target}], False, self.eos)
        if not full.startswith(prompt + example.target):
            raise ExampleError("The chat template does not put the answer right after the "
                               "prompt; can't tell the answer's tokens from the prompt's.")
        end = full[len(prompt) + len(example.target):].strip() or self.eos
        prompt_ids = self.tokenize(prompt, add_bos=not added_special, special=True)
        answer_ids = self.tokenize(example.target) + self.tokenize(end, special=True)
        return {"input_ids": prompt_ids + answer_ids, "n_prompt": len(prompt_ids),
                "kind": example.kind, "source": example.source}


def write_examples(path: Path, examples: Sequence[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in examples),
                    encoding="utf-8")


def read_examples(path: Path) -> list[Example]:
    if not path.is_file():
        return []
    return [Example(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
