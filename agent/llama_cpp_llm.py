"""The llama.cpp backend: loads a GGUF lazily, streams chat tokens, cancels, frees on close()."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from agent.kv_cache import PromptStateCache, common_prefix
from agent.llm import LLM, GenerationStats, Messages, ModelLoadError

DEFAULT = object()  # stream()/guided() with the adapter for all roles


class LlamaCppLLM(LLM):
    supports_schema = True
    supports_grammar = True
    supports_guided = True  # guided(messages, program): see GuidedSession

    def __init__(self, model_path: Path | str, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int = 2, seed: int = 0, reinstall_hint: str = "",
                 lora_path: Path | str | None = None, prompt_cache: bool = True,
                 chat_template: str | None = None,
                 role_adapters: dict[str, Path | str | None] | None = None):
        """`lora_path`: a LoRA adapter (GGUF) for every call (the planning benchmark's
        --adapter). `role_adapters`: role -> adapter (None: the base model) for the calls made
        through `for_role(role)`; roles not named there use `lora_path`. All adapters are loaded
        once beside the model and switched between calls, not reloaded. `prompt_cache`: keep
        the KV state of earlier prompts so each role's fixed prefix is read once
        (agent/kv_cache.py). `chat_template`: for a GGUF without one."""
        super().__init__()
        self.model_path = Path(model_path)
        self.name = name or self.model_path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self.reinstall_hint = reinstall_hint
        self.lora_path = Path(lora_path) if lora_path is not None else None
        self.role_adapters = {role: Path(a) if a is not None else None
                              for role, a in (role_adapters or {}).items()}
        self._llama = None
        self._vocab = None
        self._adapters: dict[Path, object] = {}  # loaded adapter handles
        self._applied: Path | None = None  # the adapter the context computes with
        self.prompt_cache = PromptStateCache() if prompt_cache else None
        self.chat_template = chat_template
        self._chat_formatter = None  # compiled once: every call formats its prompt with it

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def adapter_paths(self) -> list[Path]:
        """Every adapter this model uses, the one for all roles first."""
        paths = [self.lora_path, *self.role_adapters.values()]
        return list(dict.fromkeys(p for p in paths if p is not None))

    def for_role(self, role: str) -> LLM:
        if role not in self.role_adapters:
            return self
        return RoleLLM(self, self.role_adapters[role])

    def load(self):
        if self._llama is not None:
            return self._llama
        if not self.model_path.is_file():
            raise ModelLoadError(f"Model file not found: {self.model_path}. {self.reinstall_hint}".strip())
        for path in self.adapter_paths():
            if not path.is_file():
                raise ModelLoadError(f"LoRA adapter not found: {path}.")
        from llama_cpp import Llama  # heavy native import, only when a model is needed

        handler = self._formatter().to_chat_handler() if self.chat_template else None
        try:
            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx,
                                n_threads=self.n_threads, n_threads_batch=self.n_threads,
                                seed=self.seed, verbose=False, chat_handler=handler)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(
                f"llama.cpp could not load {self.model_path.name} ({exc}); the file is missing "
                f"or damaged. {self.reinstall_hint}".strip()) from exc
        try:
            self._load_adapters()
        except ModelLoadError:
            self.close()
            raise
        return self._llama

    def _load_adapters(self) -> None:
        """Each adapter once, then the one for all roles applied. Loaded here rather than by
        Llama(lora_path=...): llama-cpp-python 0.3.36 takes one adapter only, turns mmap off
        for it, and tests the returned pointer with `is None`, which a NULL ctypes pointer
        never is, so an adapter llama.cpp refused would be left out without a word."""
        import llama_cpp

        for path in self.adapter_paths():
            handle = llama_cpp.llama_adapter_lora_init(self._llama._model.model,
                                                       str(path).encode("utf-8"))
            if not handle:
                raise ModelLoadError(f"llama.cpp refused the adapter {path} (damaged, or not a "
                                     f"LoRA for {self.model_path.name}).")
            self._adapters[path] = handle
        self.use_adapter(self.lora_path)

    def use_adapter(self, path: Path | None) -> None:
        """Compute with `path`'s adapter (None: the base model) from the next call on. A
        switch empties the context: its cells were computed with the other weights."""
        import ctypes

        import llama_cpp

        llama = self.load()
        if path == self._applied:
            return
        if path is not None and path not in self._adapters:
            raise ModelLoadError(f"{path} is not one of the adapters {self.name} was loaded with.")
        if path is None:
            code = llama_cpp.llama_set_adapters_lora(llama._ctx.ctx, None, 0, None)
        else:
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self._adapters[path])
            code = llama_cpp.llama_set_adapters_lora(llama._ctx.ctx, handles, 1,
                                                     (ctypes.c_float * 1)(1.0))
        if code != 0:
            raise ModelLoadError(f"llama.cpp could not apply the adapter {path} (code {code}).")
        llama.reset()
        self._applied = path

    def stream(self, messages: Messages, *, max_tokens: int = 512, temperature: float = 0.7,
               cancel: threading.Event | None = None, response_format: dict | None = None,
               grammar: str | None = None, adapter: Path | None | object = DEFAULT) -> Iterator[str]:
        """`adapter`: the one to compute with (DEFAULT: `lora_path`); RoleLLM passes its role's."""
        llama = self.load()
        self.use_adapter(self.lora_path if adapter is DEFAULT else adapter)
        if grammar is not None:
            from llama_cpp import LlamaGrammar

            grammar = LlamaGrammar.from_string(grammar, verbose=False)
        stats = GenerationStats()
        self.last_stats = stats
        start = time.perf_counter()
        if self.prompt_cache is not None:
            tokens = self._prompt_tokens(messages)
            self.prompt_cache.restore(llama, tokens, self._applied)
            key_length = self._system_length(messages, tokens)
        chunks = llama.create_chat_completion(
            messages=messages, max_tokens=max_tokens, temperature=temperature, stream=True,
            seed=self.seed, response_format=response_format, grammar=grammar)
        try:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    stats.finish_reason = "cancelled"
                    break
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    if stats.completion_tokens == 0:
                        stats.time_to_first_token_s = time.perf_counter() - start
                    stats.completion_tokens += 1
                    yield text
                if choice.get("finish_reason"):
                    stats.finish_reason = choice["finish_reason"]
        finally:
            chunks.close()
            if self.prompt_cache is not None:
                self.prompt_cache.save(llama, key_length, self._applied)
            stats.total_s = time.perf_counter() - start

    def vocab_masks(self):
        """Each token's text, and masks of tokens holding a quote, unusable in a JSON string
        (control characters, backslashes, special tokens) or holding "<"."""
        if self._vocab is None:
            import numpy as np

            llama = self.load()
            pieces = [llama.detokenize([i]).decode("utf-8", errors="replace")
                      for i in range(llama.n_vocab())]
            quote = np.array(['"' in p for p in pieces])
            bad = np.array([not p or "\\" in p or "\ufffd" in p
                            or any(ord(c) < 32 for c in p) for p in pieces])
            angle = np.array(["<" in p for p in pieces])
            # may open a free JSON string: ` "word`, `"` (one quote, at the start)
            opens = np.array([p.lstrip(" ").startswith('"') and p.count('"') == 1
                              for p in pieces]) & ~bad & ~angle
            self._vocab = (pieces, quote, bad, angle, opens)
        return self._vocab

    def guided(self, messages: Messages, program, cancel: threading.Event | None = None,
               adapter: Path | None | object = DEFAULT) -> str:
        """Run `program(session)` over a GuidedSession after the chat prompt; returns the
        text written. Sets `last_stats` (completion_tokens counts the model's own choices)."""
        llama = self.load()
        self.use_adapter(self.lora_path if adapter is DEFAULT else adapter)
        start = time.perf_counter()
        tokens = self._prompt_tokens(messages)
        if self.prompt_cache is not None:
            self.prompt_cache.restore(llama, tokens, self._applied)
        session = GuidedSession(self, tokens, cancel)
        stats = GenerationStats(time_to_first_token_s=time.perf_counter() - start)
        self.last_stats = stats
        try:
            program(session)
            stats.finish_reason = "stop"
        except InterruptedError:
            stats.finish_reason = "cancelled"
        if self.prompt_cache is not None:
            self.prompt_cache.save(llama, self._system_length(messages, tokens), self._applied)
        stats.completion_tokens = session.generated
        stats.total_s = time.perf_counter() - start
        self.last_guided = {"passes": session.passes, "generated": session.generated,
                            "prompt_tokens": len(tokens), "reused_tokens": session.reused}
        return session.text()

    def _formatter(self):
        if self._chat_formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            if self.chat_template:
                # eos as the stop string: a base model's template knows no end-of-turn token id
                self._chat_formatter = Jinja2ChatFormatter(
                    template=self.chat_template, eos_token="<end_of_turn>", bos_token="")
            else:
                template = self.load().metadata.get("tokenizer.chat_template")
                if not template:
                    raise ModelLoadError(f"{self.model_path.name} has no chat template; give "
                                         f"one in resources/models.yaml (chat_template).")
                self._chat_formatter = Jinja2ChatFormatter(template=template, eos_token="",
                                                           bos_token="")
        return self._chat_formatter

    def _prompt_tokens(self, messages: Messages) -> list[int]:
        """The chat prompt's tokens, formatted by the model's template (as
        create_chat_completion formats it)."""
        llama = self.load()
        result = self._formatter()(messages=messages)
        return llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special,
                              special=True)

    def _system_length(self, messages: Messages, tokens: list[int]) -> int:
        """How many of the prompt's tokens are its system message (0 without one)."""
        if not messages or messages[0].get("role") != "system":
            return 0
        return common_prefix(self._prompt_tokens(messages[:1]), tokens)

    def count_tokens(self, text: str) -> int:
        return len(self.load().tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def close(self) -> None:
        if self.prompt_cache is not None:
            self.prompt_cache.clear()  # the states belong to the context being freed
        if self._llama is not None:
            import llama_cpp

            if self._adapters:
                llama_cpp.llama_set_adapters_lora(self._llama._ctx.ctx, None, 0, None)
                for handle in self._adapters.values():
                    llama_cpp.llama_adapter_lora_free(handle)
            self._adapters.clear()
            self._applied = None
            self._llama.close()
            self._llama = None


class RoleLLM(LLM):
    """One role's calls on a LlamaCppLLM (α-UMi's planner / caller / summarizer on one base
    model): the same loaded model, with the role's adapter switched in before each call."""

    def __init__(self, llm: LlamaCppLLM, adapter: Path | None):
        self.llm = llm
        self.adapter = adapter

    def __getattr__(self, name):  # n_ctx, name, supports_*, load, vocab_masks, model_path…
        return getattr(self.llm, name)

    @property
    def last_stats(self):
        return self.llm.last_stats

    def stream(self, messages: Messages, **kwargs) -> Iterator[str]:
        return self.llm.stream(messages, adapter=self.adapter, **kwargs)

    def guided(self, messages: Messages, program, cancel: threading.Event | None = None) -> str:
        return self.llm.guided(messages, program, cancel, adapter=self.adapter)

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def close(self) -> None:
        self.llm.close()


class GuidedSession:
    """Token-level control of one generation, for output whose shape the program knows.

    `force(text)` queues fixed text, read in one batch when the model next has to choose (a
    forward pass over several tokens costs about what one generated token does on CPU);
    `select(options)` lets the model choose among fixed strings token by token, and queues the
    rest of the chosen one; `free()` generates a JSON string body greedily until the model
    closes the quote. This is jump-forward decoding (as in SGLang) for the plan's JSON: most of
    a plan is keys and punctuation the model would otherwise spend a forward pass per token on.
    Options should run on to the next choice point (`speech-to-text", "id": 0, "dep": [`), so
    that each is tokenized as the model would write it.
    """

    MAX_FREE_TOKENS = 48

    def __init__(self, llm: "LlamaCppLLM", prompt_tokens: list[int],
                 cancel: threading.Event | None = None):
        import numpy as np

        self._np = np
        self.llama = llm.load()
        self.cancel = cancel
        self.pieces, self.quote, self.bad, self.angle, self.opens = llm.vocab_masks()
        self.out: list[str] = []
        self._queued = ""  # forced text not yet read by the model
        self._first_free: int | None = None
        self.passes = 0  # forward passes after the prompt (batched or single)
        self.generated = 0  # tokens the model chose (not forced)
        llama = self.llama
        # the last token is always re-read: its logits are the first choice's
        keep = common_prefix(llama.input_ids[:llama.n_tokens].tolist(), prompt_tokens[:-1])
        llama.n_tokens = keep
        self.reused = keep
        self._eval(prompt_tokens[keep:])
        self.passes = 0

    def _eval(self, tokens: list[int]) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise InterruptedError("cancelled")
        llama = self.llama
        llama.eval(tokens)
        self.logits = self._np.ctypeslib.as_array(llama._ctx.get_logits(),
                                                  shape=(llama.n_vocab(),)).copy()
        self.passes += 1

    def _tokens(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def _flush(self) -> None:
        if self._queued:
            text, self._queued = self._queued, ""
            self._eval(self._tokens(text))
            self.out.append(text)

    def force(self, text: str) -> None:
        self._queued += text

    def select(self, options: list[str], free_if=None) -> int:
        """Index of the option the model picks. With `free_if` (a mask of tokens that may
        start free text instead), -1 when the model starts free text: `free()` goes on."""
        self._flush()
        seqs = [self._tokens(o) for o in options]
        alive = list(range(len(options)))
        pos = 0
        while len(alive) > 1 or free_if is not None:
            candidates = {seqs[i][pos] for i in alive if pos < len(seqs[i])}
            best = max(candidates, key=lambda t: self.logits[t])
            if free_if is not None:
                free = self._np.where(free_if, self.logits, -self._np.inf)
                token = int(free.argmax())
                if free[token] > self.logits[best]:
                    self._first_free = token
                    return -1
                free_if = None
            alive = [i for i in alive if pos < len(seqs[i]) and seqs[i][pos] == best]
            self._eval([best])
            self.generated += 1
            pos += 1
            if any(len(seqs[i]) == pos for i in alive):
                alive = [next(i for i in alive if len(seqs[i]) == pos)]
                break
        chosen = alive[0]
        written = "".join(self.pieces[t] for t in seqs[chosen][:pos])
        option = options[chosen]
        if option.startswith(written):
            self.out.append(written)
            self._queued = option[len(written):]
        else:  # a token holds part of a UTF-8 character: read the option's own tokens
            rest = seqs[chosen][pos:]
            if rest:
                self._eval(rest)
            self.out.append(option)
        return chosen

    def free(self, banned=None) -> str:
        """A JSON string body, generated until the model closes the quote (which is left for
        the next option or forced text to write)."""
        self._flush()
        mask = self.bad if banned is None else (self.bad | banned)
        text: list[str] = []
        first, self._first_free = self._first_free, None
        for _ in range(self.MAX_FREE_TOKENS):
            if first is not None:  # the token that opened the string, chosen by select()
                token, first = first, None
                piece = self.pieces[token]
                self.out.append(piece)
                text.append(piece.split('"', 1)[1])
                self._eval([token])
                self.generated += 1
                continue
            token = int(self._np.where(mask, -self._np.inf, self.logits).argmax())
            piece = self.pieces[token]
            if self.quote[token]:
                self._queued = piece.split('"', 1)[0]
                text.append(self._queued)
                return "".join(text)
            text.append(piece)
            self.out.append(piece)
            self._eval([token])
            self.generated += 1
        return "".join(text)

    def text(self) -> str:
        return "".join(self.out) + self._queued
