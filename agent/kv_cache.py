"""Saved KV states of earlier prompts, so each role's fixed prefix is read once, not per request.

The planner, the caller and the summarizer take turns on one llama.cpp context. llama.cpp only
reuses the common prefix with whatever it evaluated last, and the roles' system prompts differ
from the fourth token on: without this, every plan re-reads the planner's ~200-token system
prompt after the previous answer evicted it (~2.5 s on the 0.5B model here), and every answer
re-reads its own. After each call the sequence's KV cells are copied out (about 12 KB a token
on the 0.5B model); before the next call the saved state sharing the longest prefix with the
new prompt is copied back when it beats what the context already holds.

One entry per system prompt: a new state replaces the saved one with the same system message
(two plans for the same set of experts, two answers in one conversation), and the states of
different system prompts live side by side — the planner's prompt differs per set of experts
offered, and those share only their first ~60 tokens, so "replace what shares a prefix" made
them evict each other.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass


def common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass
class _Entry:
    tokens: list[int]
    state: ctypes.Array
    size: int
    key: tuple[int, ...]  # the system message's tokens
    tag: object = None  # the weights the cells were computed with (a LoRA adapter, or None)


class PromptStateCache:
    def __init__(self, max_entries: int = 6, min_gain: int = 16, max_bytes: int = 64 << 20):
        self.max_entries = max_entries
        self.min_gain = min_gain  # restoring costs a copy; a few tokens are cheaper to re-read
        self.max_bytes = max_bytes  # per state
        self._entries: list[_Entry] = []  # most recently used last
        self.restored_tokens = 0  # of the last restore(), 0 when nothing was restored

    def __len__(self) -> int:
        return len(self._entries)

    def restore(self, llama, tokens: list[int], tag: object = None) -> int:
        """Put the best saved state for `tokens` into `llama`'s context if it beats the
        context's own prefix. Returns how many of `tokens` the context now holds. Only states
        saved with the same `tag` (the adapter in use) are candidates: cells computed with
        other weights would be wrong ones."""
        import llama_cpp

        self.restored_tokens = 0
        have = common_prefix(llama.input_ids[:llama.n_tokens].tolist(), tokens)
        best, best_n = None, have
        for entry in self._entries:
            if entry.tag != tag:
                continue
            n = common_prefix(entry.tokens, tokens)
            if n > best_n:
                best, best_n = entry, n
        if best is None or best_n < have + self.min_gain:
            return have
        llama._ctx.kv_cache_seq_rm(0, -1, -1)
        if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, best.state, best.size, 0) == 0:
            llama._ctx.kv_cache_seq_rm(0, -1, -1)
            llama.n_tokens = 0  # the context is empty now; the prompt is read in full
            self._entries.remove(best)
            return 0
        llama.input_ids[:len(best.tokens)] = best.tokens
        llama.n_tokens = len(best.tokens)
        llama._requires_eval = True
        self._entries.remove(best)
        self._entries.append(best)
        self.restored_tokens = best_n
        return best_n

    def save(self, llama, key_length: int, tag: object = None) -> None:
        """Keep the context's current sequence for later prompts that start the same way;
        its first `key_length` tokens (the system message) and `tag` say which saved one it
        replaces."""
        import llama_cpp

        tokens = llama.input_ids[:llama.n_tokens].tolist()
        if key_length < self.min_gain or len(tokens) < key_length:
            return
        size = llama_cpp.llama_state_seq_get_size(llama._ctx.ctx, 0)
        if size == 0 or size > self.max_bytes:
            return
        state = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llama._ctx.ctx, state, size, 0)
        if written == 0:
            return
        key = tuple(tokens[:key_length])
        self._entries = [e for e in self._entries if (e.key, e.tag) != (key, tag)]
        self._entries.append(_Entry(tokens, state, written, key, tag))
        del self._entries[:-self.max_entries]

    def clear(self) -> None:
        self._entries.clear()
