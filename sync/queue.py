"""Sending what is due in the outbox: one claim per entry, retries with exponential backoff,
and nothing ever raised into the caller (the window's timer, `hearth outbox send`).

A timeout, a refused connection, an HTTP 500 or a reply that isn't a completion puts the
entry back in the queue for later (30 s, 1, 2, 4, 8 min); after MAX_ATTEMPTS it is "failed"
until the user retries it. Errors that waiting can't fix (a rejected key) fail at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sync.cloud import CloudError
from sync.outbox import Outbox, OutboxRecord, to_datetime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_S = 30.0
MAX_BACKOFF_S = 3600.0

Send = Callable[[OutboxRecord], str]
# (restored text, a note for last_error or None, the in-transaction store of the reply)
OnReply = Callable[[OutboxRecord, str], tuple]


def backoff_s(attempts: int) -> float:
    """Wait before the next try, after `attempts` tries."""
    return min(MAX_BACKOFF_S, BACKOFF_S * 2 ** max(0, attempts - 1))


def process_due(outbox: Outbox, send: Send, on_reply: OnReply, *,
                cancel: threading.Event | None = None, lease_s: float = 240.0,
                max_attempts: int = MAX_ATTEMPTS,
                accept: Callable[[OutboxRecord], bool] | None = None) -> list[OutboxRecord]:
    """Send every due entry (that `accept` takes), one at a time; returns the entries as they
    ended up (sent, re-queued or failed). Entries someone else claimed first are skipped."""
    finished: list[OutboxRecord] = []
    try:
        due = outbox.due()
    except Exception:  # noqa: BLE001 - a locked or broken database: try again next tick
        log.exception("Could not read the outbox")
        return finished
    for entry in due:
        if cancel is not None and cancel.is_set():
            break
        if accept is not None and not accept(entry):
            continue
        try:
            claimed = outbox.claim(entry.id, lease_s)
        except Exception:  # noqa: BLE001
            log.exception("Could not claim outbox entry %s", entry.id)
            continue
        if claimed is None:
            continue  # another worker has it
        result = _send_one(outbox, claimed, send, on_reply, max_attempts)
        if result is not None:
            finished.append(result)
    return finished


def _send_one(outbox: Outbox, claimed: OutboxRecord, send: Send, on_reply: OnReply,
              max_attempts: int) -> OutboxRecord | None:
    try:
        response = send(claimed)
    except CloudError as exc:
        return _failed(outbox, claimed, str(exc), exc.retryable, max_attempts)
    except Exception as exc:  # noqa: BLE001 - a bug here must not lose the entry
        log.exception("Sending outbox entry %s failed", claimed.id)
        return _failed(outbox, claimed, f"Hearth could not send it ({type(exc).__name__}).",
                       True, max_attempts)
    try:
        restored, note, on_commit = on_reply(claimed, response)
        return outbox.mark_sent(claimed, response, restored, on_commit=on_commit, note=note)
    except Exception as exc:  # noqa: BLE001 - storing the reply failed: it is sent again later
        log.exception("Storing the reply to outbox entry %s failed", claimed.id)
        return _failed(outbox, claimed, f"The reply could not be stored ({type(exc).__name__}).",
                       True, max_attempts)


def _failed(outbox: Outbox, claimed: OutboxRecord, error: str, retryable: bool,
            max_attempts: int) -> OutboxRecord | None:
    retry_at = None
    if retryable and claimed.attempts < max_attempts:
        retry_at = to_datetime(outbox.clock() + backoff_s(claimed.attempts))
    elif retryable:
        error = f"{error} Gave up after {claimed.attempts} attempts."
    try:
        return outbox.mark_failed(claimed, error, retry_at)
    except Exception:  # noqa: BLE001 - the lease runs out and the entry is claimed again
        log.exception("Could not record the failure of outbox entry %s", claimed.id)
        return None
