"""The assistant service: a user message in, a stored and streamed answer out.

Runs on the model's serial worker. Every step is saved as it happens, so a crash or a
kill mid-answer leaves the conversation intact: the user message is committed before the
model starts, the partial answer is flushed while it streams.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from agent import summarizer
from agent.context import check_user_text, fit_to_context
from agent.events import (AnswerFinished, AnswerStarted, CloudQueued, Event, Failed,
                          MemoriesProposed, MemoriesUsed, MemorySaved, Notice, PlanReady,
                          PlanStarted, TaskFinished, TaskStarted, Token, UserMessageSaved)
from agent.expert_context import legacy_tasks
from agent.llm import LLM, ModelLoadError
from agent.model_registry import ModelFileError, get_model
from agent.prompts import load_prompt
from memory.conversations import AttachmentError, AttachmentRecord, ConversationStore, MessageRecord
from memory.settings import Settings

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.5
REPLAYED_STATUSES = {"done", "stopped", "interrupted"}

LLMFactory = Callable[[Settings], LLM]

# "remember that my sister's name is Ana", "please remember: I'm allergic to peanuts"
REMEMBER = re.compile(r"^\s*(?:please\s+)?remember\s*(?:that\b|:)?\s*(?P<fact>.+)", re.I | re.S)
FIRST_PERSON = re.compile(r"^\s*(i|i'm|i've|i am|my|me|we|our)\b", re.I)
# Without files, only the memory experts could help: plan only when the message is about
# memory; plain chat goes straight to the answer (no planning pass on a 2-core CPU).
ABOUT_MEMORY = re.compile(r"\b(remember\w*|memor\w*|notes?|saved?|store|told you|tell you|"
                          r"did i (say|tell|mention)|look up|search)\b", re.I)
# memory-save is offered to the planner only when the user's own words ask to keep something:
# text from files and transcripts is data, so it can never talk the agent into saving.
ASKS_TO_SAVE = re.compile(r"\b(remember|save|store|keep|note down|memori[sz]e)\b", re.I)


def llm_from_settings(settings: Settings) -> LLM:
    """The settings' model, with the adapters nightly learning made active for it: the
    planner's for planning, the summarizer's for everything else the model writes (answers,
    search queries, memory proposals). A damaged adapter is left out, with a warning: the
    base model still does that role's work."""
    from agent.llama_cpp_llm import LlamaCppLLM
    from sync.learning import gguf_lora, nightly
    from sync.learning.hf_twin import TwinError

    spec = get_model(settings.model)
    path = spec.resolve()
    roles = nightly.active_roles_for(path)
    for role, adapter in roles.items():
        if adapter is None:
            continue
        try:
            gguf_lora.check_adapter(adapter, path)
        except (gguf_lora.AdapterError, TwinError, OSError) as exc:
            log.warning("Not using the learned adapter %s for the %s: %s", adapter, role, exc)
            roles[role] = None
    own = roles["planner"] != roles["summarizer"]  # else one adapter (or none) for all
    return LlamaCppLLM(path, name=spec.id, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                       reinstall_hint=f"Reinstall it with: {spec.install_hint}",
                       chat_template=spec.chat_template, lora_path=roles["summarizer"],
                       role_adapters={"planner": roles["planner"]} if own else None)


def active_learning_state() -> str:
    """What nightly learning made active (a change means: load the model again)."""
    from sync.learning import nightly

    try:
        return (nightly.learning_dir() / "active.json").read_text(encoding="utf-8")
    except OSError:
        return ""


class Assistant:
    def __init__(self, store: ConversationStore, settings: Settings,
                 llm_factory: LLMFactory = llm_from_settings, experts=None, memory=None,
                 cloud=None):
        self.store = store
        # A sync.service.CloudAssist, consulted after each finished answer (None: no cloud).
        self.cloud = cloud
        self.settings = settings
        self._factory = llm_factory
        self._llm: LLM | None = None
        self._llm_key: tuple | None = None
        self._memory = memory  # a memory.service.Memory, opened on first use
        self._memory_error: str | None = None
        self._experts = experts  # an experts.runner.ExpertRunner, made on first attachment
        self._experts_variant: str | None = None  # None: given from outside, never remade
        self._experts_lock = threading.Lock()  # the window (enrolment) and the worker both ask

    @property
    def experts(self):
        with self._experts_lock:
            variant = self.settings.speech_model
            if self._experts is not None and self._experts_variant not in (None, variant):
                self._experts.close()  # the speech model setting changed
                self._experts = None
            if self._experts is None:
                from experts.registry import ExpertRegistry
                from experts.runner import ExpertRunner

                options = {"speech-to-text": {"variant": variant}}
                registry = ExpertRegistry(self.store.db, options=options,
                                          memory=lambda: self.memory)
                self._experts = ExpertRunner(registry)
                self._experts_variant = variant
            return self._experts

    def plan_examples(self) -> list[dict] | None:
        """The planner's example pool: the shipped one plus this user's labels (None: the
        shipped one, when the labels can't be read: planning goes on without them)."""
        from sync.learning.source import example_pool

        try:
            return example_pool(self.store.db)
        except Exception:  # noqa: BLE001 - a damaged label table must not stop the chat
            return None

    def _key(self) -> tuple:
        s = self.settings
        return (s.model, s.n_threads, s.n_ctx, active_learning_state())

    @property
    def model_loaded(self) -> bool:
        return self._llm is not None and self._llm_key == self._key()

    def llm(self) -> LLM:
        if self._llm is None or self._llm_key != self._key():
            self._close_llm()
            self._llm = self._factory(self.settings)
            self._llm_key = self._key()
        return self._llm

    def warm_up(self, cancel: threading.Event | None = None) -> None:
        """Load the model and read the system prompt into its KV cache, so the first message
        only pays for its own tokens (0.9 s → 0.2 s to first token on the default model)."""
        llm = self.llm()
        if cancel is not None and cancel.is_set():
            return
        messages = [{"role": "system", "content": load_prompt("chat")["system"]},
                    {"role": "user", "content": "hi"}]
        for _ in llm.stream(messages, max_tokens=1, temperature=0.0, cancel=cancel):
            pass
        if getattr(llm, "supports_guided", False):
            llm.vocab_masks()  # ~1 s over the 150k-token vocabulary, once, before the first plan

    @property
    def memory(self):
        """The personal memory, or None when it can't be opened (another Hearth process owns
        it, say): answers then go on without it and `memory_error` says why."""
        if self._memory is None and self._memory_error is None:
            from memory.service import Memory

            try:
                self._memory = Memory(self.store.db)
            except Exception as exc:  # noqa: BLE001 - the lock or a broken index: chat goes on
                self._memory_error = str(exc)
        return self._memory

    @property
    def memory_error(self) -> str | None:
        return self._memory_error

    def _close_llm(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
            self._llm_key = None

    def close(self) -> None:
        self._close_llm()
        if self._memory is not None:
            self._memory.close()
            self._memory = None
        if self._experts is not None:
            self._experts.close()
            self._experts = None

    def respond(self, conversation_id: int, text: str, cancel: threading.Event | None = None,
                attachments: Sequence[str | Path] = (), ask_cloud: bool = False) -> Iterator[Event]:
        """Answer `text` (and any attached files) in the conversation.

        `ask_cloud`: the user asked for cloud assist on this message through the interface
        (`hearth ask --cloud`), as if their words said "ask the cloud".
        Raises MessageRejected before storing anything.
        """
        prompts = load_prompt("chat")
        if attachments and not text.strip():
            text = prompts["default_request_with_attachments"]
        text = check_user_text(text)
        history = _history(self.store.messages(conversation_id))
        user = self.store.add_message(conversation_id, "user", text)
        answer_meta: dict = {}
        saved: list[AttachmentRecord] = []
        if attachments:
            try:
                saved = self.store.add_attachments(user.id, [Path(a) for a in attachments])
            except AttachmentError as exc:
                answer_meta["error"] = str(exc)
        yield UserMessageSaved(user)
        saved_memory = yield from self._remember_if_asked(text, user.id)
        if saved_memory:
            answer_meta["saved_memory"] = saved_memory

        answer = self.store.add_message(conversation_id, "assistant", "", status="streaming",
                                        model=self.settings.model, meta=answer_meta)
        if "error" in answer_meta:
            self.store.update_message(answer.id, status="error")
            yield Failed(answer.id, answer_meta["error"])
            return
        trace: dict = {}
        try:
            for event in self._plan_and_run(text, saved, history, bool(saved_memory), cancel):
                if isinstance(event, PlanReady):
                    trace = event.trace
                if isinstance(event, (PlanReady, TaskStarted, TaskFinished)):
                    answer_meta["trace"] = trace  # stored first: the window re-renders from it
                    self.store.update_message(answer.id, meta=answer_meta)
                yield event
            prompt_text = summarizer.user_turn(text, trace.get("tasks") or [])
            if not self.model_loaded:
                yield Notice(f"Loading {self.settings.model}…")
            llm = self.llm()
            used = self._recall(text, llm)
            if used:
                answer_meta["memories"] = used
                self.store.update_message(answer.id, meta=answer_meta)
                yield MemoriesUsed(used)
            elif self._memory_error and self.settings.use_memory:
                yield Notice(f"Answering without memory: {self._memory_error}")
            system = summarizer.system_prompt(bool(trace.get("tasks")), used)
            fitted = fit_to_context(system, history, prompt_text, llm.count_tokens,
                                    llm.n_ctx, self.settings.max_tokens)
        except (ModelFileError, ModelLoadError) as exc:
            self.store.update_message(answer.id, status="error",
                                      meta={**answer_meta, "error": str(exc)})
            yield Failed(answer.id, str(exc))
            return
        if fitted.dropped_messages:
            yield Notice(f"{fitted.dropped_messages} earlier messages were left out to fit the "
                         f"model's {llm.n_ctx}-token context.")
        if fitted.truncated_user_message:
            yield Notice("Your message was too long for the model's context; its middle was left out.")
        yield AnswerStarted(answer.id, llm.name)

        parts: list[str] = []
        last_flush = float("-inf")  # the first token is saved at once, then every FLUSH_EVERY_S
        try:
            for piece in llm.stream(fitted.messages, max_tokens=fitted.max_tokens,
                                    temperature=self.settings.temperature, cancel=cancel):
                parts.append(piece)
                yield Token(piece)
                if time.monotonic() - last_flush >= FLUSH_EVERY_S:
                    self.store.update_message(answer.id, content="".join(parts))
                    last_flush = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - any model failure ends this answer, not the app
            content = "".join(parts)
            self.store.update_message(answer.id, content=content, status="error",
                                      meta={**answer_meta, "error": str(exc)})
            yield Failed(answer.id, f"The model failed while answering: {exc}")
            return
        stats = {**answer_meta, **llm.last_stats.as_dict()}
        stats["prompt_tokens"] = fitted.prompt_tokens
        status = "stopped" if cancel is not None and cancel.is_set() else "done"
        content = "".join(parts)
        self.store.update_message(answer.id, content=content, status=status, meta=stats)
        yield AnswerFinished(answer.id, status, content, stats)
        if status == "done":
            yield from self._consult_cloud(conversation_id, answer.id, text, trace, saved,
                                           bool(saved_memory), ask_cloud)
        if status == "done" and not saved_memory:
            yield from self._propose_memories(llm, text, user.id, cancel)

    def _consult_cloud(self, conversation_id: int, answer_id: int, text: str, trace: dict,
                       attachments: list[AttachmentRecord], saved_memory: bool,
                       requested: bool) -> Iterator[Event]:
        """After the local answer (never before, never instead): the cloud is offered the
        request when the policy says so. Only `text`, the user's own words, can ask for it."""
        if self.cloud is None:
            return
        files = [a.name for a in attachments]
        try:
            tools = None
            if trace.get("source") in ("fallback", "model"):
                tools = {name: {"description": t.description, "args": t.args}
                         for name, t in self.tools(text, saved_memory).items()}
            record = self.cloud.consult(conversation_id, answer_id, text, trace,
                                        trace.get("source"), files=files,
                                        tools=tools if trace.get("source") == "fallback" else None,
                                        requested=requested)
            teaching = None
            if record is None or record.kind != "plan":
                teaching = self.cloud.consult_teaching(conversation_id, answer_id, text,
                                                       trace.get("source"), files=files,
                                                       tools=tools)
        except Exception as exc:  # noqa: BLE001 - the local answer stands whatever happens here
            yield Notice(f"Cloud assist could not prepare the request: {exc}")
            return
        if record is not None:
            yield CloudQueued(record)
        if teaching is not None:
            yield Notice("The cloud's plan for this request could teach the local model: it "
                         "waits for your approval in Cloud → Outbox.")

    def _remember_if_asked(self, text: str, message_id: int):
        """An explicit "remember that …" is saved before answering; returns what was saved."""
        match = REMEMBER.match(text)
        if not match or not self.settings.use_memory:
            return None
        memory = self.memory
        if memory is None:
            yield Notice(f"Could not save to memory: {self._memory_error}")
            return None
        fact = match.group("fact").strip().rstrip(".") + "."
        kind = "profile" if FIRST_PERSON.match(fact) else "note"
        from memory.service import DuplicateResult

        try:
            result = memory.remember(fact, kind=kind, source=f"message {message_id}")
        except ValueError as exc:
            yield Notice(f"Could not save to memory: {exc}")
            return None
        if isinstance(result, DuplicateResult):
            record, duplicate = result.existing, True
        else:
            record, duplicate = result, False
        yield MemorySaved(record.id, record.text, duplicate, record.conflicts_with)
        return {"id": record.id, "text": record.text, "duplicate": duplicate,
                "conflicts_with": record.conflicts_with}

    def _propose_memories(self, llm: LLM, text: str, message_id: int,
                          cancel: threading.Event | None) -> Iterator[Event]:
        from agent.memory_proposals import propose, worth_asking
        from memory.service import DuplicateResult

        mode = self.settings.propose_memories
        if mode == "off" or not self.settings.use_memory or not worth_asking(text):
            return
        memory = self.memory
        if memory is None:
            return
        status = "active" if mode == "auto" else "proposed"
        kept = []
        for fact in propose(llm, text, cancel):
            result = memory.remember(fact, kind="profile", source=f"message {message_id}",
                                     status=status)
            if not isinstance(result, DuplicateResult):
                kept.append({"id": result.id, "text": result.text})
        if kept:
            yield MemoriesProposed(kept, status)

    def _recall(self, text: str, llm: LLM) -> list[dict]:
        if not self.settings.use_memory or self.settings.memory_budget_tokens == 0:
            return []
        memory = self.memory
        if memory is None:
            return []
        chosen = memory.context_for(text, self.settings.memory_budget_tokens, llm.count_tokens)
        return [{"id": r.id, "text": r.text, "kind": r.kind, "score": round(score, 3)}
                for r, score in chosen]

    def tools(self, text: str, saved_memory: bool) -> dict:
        """The experts the planner may use for this message, as planner.ToolInfo by name."""
        from agent.planner import ToolInfo

        out = {}
        for spec in self.experts.registry.tool_specs():
            name = spec["name"]
            if name.startswith("memory-") and not self.settings.use_memory:
                continue
            if name == "memory-save" and (saved_memory or not ASKS_TO_SAVE.search(text)):
                continue
            out[name] = ToolInfo(name, spec["description"], spec["args"])
        return out

    def _plan_and_run(self, text: str, attachments: list[AttachmentRecord], history,
                      saved_memory: bool, cancel: threading.Event | None) -> Iterator[Event]:
        """Plan the request over the experts, run the plan, and report both as they happen.
        Ends with nothing when no expert is needed (plain chat)."""
        from agent.executor import Executor, initial_records
        from agent.planner import Planner, PlanOutcome, rule_plan
        from agent.plan import Plan
        from experts.inputs import kind_of

        files = {a.name: kind_of(a.name) for a in attachments}
        unreadable = [n for n, k in files.items() if k is None]
        if unreadable:
            yield Notice(f"Hearth can't read {', '.join(unreadable)} yet (it reads audio and "
                         f"images); the rest of the message goes on.")
        files = {n: k for n, k in files.items() if k is not None}
        if not files and (saved_memory or not ABOUT_MEMORY.search(text)
                          or not self.settings.use_memory):
            return
        tools = self.tools(text, saved_memory)
        yield PlanStarted(list(files))
        if not self.model_loaded:
            yield Notice(f"Loading {self.settings.model}…")
        llm = self.llm()
        context = ""
        if not files and history and history[-1][0] == "assistant" and len(history) >= 2:
            context = history[-2][1][:300]  # the previous question, for "and save that"
        try:
            outcome: PlanOutcome = Planner(llm.for_role("planner"),
                                           examples=self.plan_examples()).plan(
                text, files, tools, context=context, cancel=cancel)
        except (ModelFileError, ModelLoadError):
            raise
        except Exception as exc:  # noqa: BLE001 - planning failed; the files still get read
            outcome = PlanOutcome(rule_plan(files, tools), "fallback", error=f"the model failed: {exc}")
        if cancel is not None and cancel.is_set():
            outcome = PlanOutcome(Plan(), "stopped", outcome.seconds, outcome.raw)
        records = initial_records(outcome.plan)
        trace = {**outcome.to_dict(), "tasks": [r.to_dict() for r in records]}
        yield PlanReady(trace)
        if outcome.source == "fallback":
            yield Notice(f"The model's plan could not be used ({outcome.error}); Hearth ran "
                         f"the usual experts for each file instead.")
        if not records:
            return
        paths = {a.name: a.path for a in attachments}
        kinds = {name: t.args for name, t in tools.items()}
        caller = self._caller(llm, cancel)
        executor = Executor(lambda name, inputs, c: self.experts.run(name, inputs, cancel=c),
                            paths, kinds, caller=caller)
        for event in executor.run(outcome.plan, records, cancel):
            trace["tasks"] = [r.to_dict() for r in records]
            yield event

    def _caller(self, llm: LLM, cancel: threading.Event | None):
        """The caller role: turns another task's output into this task's argument when a
        verbatim copy would be a poor one (a whole transcript as a memory search query)."""
        prompt = load_prompt("caller")

        def call(task, text: str) -> str:
            if task.task != "memory-search" or len(text.split()) <= 12:
                return text
            messages = [{"role": "system", "content": prompt["system"]},
                        {"role": "user", "content": prompt["user"].format(text=text)}]
            query = llm.complete(messages, max_tokens=24, temperature=0.0, cancel=cancel)
            query = query.strip().strip('"').splitlines()[0].strip() if query.strip() else ""
            return query or text

        return call


def _history(messages: list[MessageRecord]) -> list[tuple[str, str]]:
    """The conversation as the model should see it: expert results of earlier turns go back
    beside the question they answered, so follow-up questions can use them."""
    out: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        if m.role not in ("user", "assistant") or not m.content:
            continue
        if m.role == "assistant" and m.status not in REPLAYED_STATUSES:
            continue
        content = m.content
        reply = messages[i + 1] if i + 1 < len(messages) else None
        tasks = legacy_tasks(reply.meta) if reply is not None else []
        if m.role == "user":
            content = summarizer.user_turn(content, tasks)
        out.append((m.role, content))
    return out
