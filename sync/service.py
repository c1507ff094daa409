"""CloudAssist: the one object the Assistant, `hearth` and the window use for cloud assist.

- consult(): after the local answer, asks the policy whether to prepare an outbox entry and
  builds its payload (sync.payload.build_payload, anonymized) — nothing is sent here.
- process_due(): sends what is due (sync.queue), restores the reply on this machine, stores an
  "answer" reply as a new assistant message (model = the cloud model) and every reply as a
  training example, in one transaction with marking the entry sent.
- With cloud assist off (or policy "never", or no endpoint) nothing builds a client and nothing
  is sent, whatever the outbox holds.

Thread use: consult() runs on the model's worker, process_due() and test_connection() on the
cloud worker; the client is made under a lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence

from memory.db import Database
from memory.settings import Settings
from sync.cloud import CloudClient, CloudError, check_base_url, host_of
from sync.outbox import Outbox, OutboxRecord
from sync.policy import configured, decide, teach, without_request

log = logging.getLogger(__name__)

OFFLINE_TEXT = "Offline — local only"
ClientFactory = Callable[[Settings], object]


def default_client(settings: Settings) -> CloudClient:
    from sync.keys import get_api_key

    return CloudClient(settings.cloud_base_url, settings.cloud_model,
                       get_api_key(settings.cloud_base_url), timeout=settings.cloud_timeout_s,
                       max_tokens=settings.max_tokens)


class CloudAssist:
    def __init__(self, db: Database, settings: Callable[[], Settings], *,
                 client_factory: ClientFactory | None = None, anonymizer=None,
                 clock: Callable[[], float] = time.time):
        self.db = db
        self.settings = settings
        self.clock = clock
        self.outbox = Outbox(db, clock)
        self._client_factory = client_factory or default_client
        self._client = None
        self._client_key: tuple | None = None
        self._client_lock = threading.Lock()
        self._anonymizer = anonymizer
        self._own_anonymizer = anonymizer is None

    # --- what the status bar says --------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether anything can leave the machine now."""
        return configured(self.settings())

    def status_text(self) -> str:
        s = self.settings()
        if not configured(s):
            return OFFLINE_TEXT
        return f"Cloud assist on: {host_of(s.cloud_base_url)}"

    # --- preparing -----------------------------------------------------------------------

    @property
    def anonymizer(self):
        if self._anonymizer is None:
            from sync.anonymizer import Anonymizer, known_names_from_db

            self._anonymizer = Anonymizer(known_names=lambda: known_names_from_db(self.db))
        return self._anonymizer

    def warm_up(self) -> None:
        """Load the anonymizer's models (presidio + spaCy: ~12 s the first time on 2 cores)
        before the first consult, e.g. on the cloud worker at start-up. Nothing when off."""
        if self.enabled:
            self.anonymizer.anonymize("Hearth warms up.")

    def consult(self, conversation_id: int | None, message_id: int | None, text: str,
                trace: dict | None = None, plan_source: str | None = None, *,
                files: Sequence[str] = (), tools: dict | None = None,
                requested: bool = False) -> OutboxRecord | None:
        """After the local answer: an outbox entry for the cloud, or None when the policy says
        nothing goes. `text` must be the user's own words (never a transcript or a memory:
        only the user can ask for the cloud). Raises on failure; the caller reports it."""
        settings = self.settings()
        decision = decide(settings, text, plan_source, requested)
        if decision is None:
            return None
        from sync.payload import build_payload

        results = list((trace or {}).get("tasks") or [])
        built = build_payload(kind=decision.kind, instruction=without_request(text),
                              results=results,
                              files=list(files), endpoint=check_base_url(settings.cloud_base_url),
                              model=settings.cloud_model, anonymizer=self.anonymizer,
                              tools=tools if decision.kind == "plan" else None)
        payload = built.payload.to_dict()
        return self.outbox.add(kind=decision.kind, endpoint=payload["endpoint"],
                               model=payload["model"], payload=payload, mapping=built.mapping,
                               status=decision.status, conversation_id=conversation_id,
                               message_id=message_id)

    def consult_teaching(self, conversation_id: int | None, message_id: int | None, text: str,
                         plan_source: str | None, *, files: Sequence[str] = (),
                         tools: dict | None = None) -> OutboxRecord | None:
        """With training consent: an outbox entry asking the cloud for its plan of a request
        the local model planned (policy.teach), awaiting approval; None when not wanted."""
        settings = self.settings()
        decision = teach(settings, plan_source)
        if decision is None or not tools:
            return None
        from sync.payload import build_payload

        built = build_payload(kind="plan", instruction=without_request(text), results=[],
                              files=list(files), endpoint=check_base_url(settings.cloud_base_url),
                              model=settings.cloud_model, anonymizer=self.anonymizer, tools=tools)
        payload = built.payload.to_dict()
        return self.outbox.add(kind="plan", endpoint=payload["endpoint"], model=payload["model"],
                               payload=payload, mapping=built.mapping, status=decision.status,
                               conversation_id=conversation_id, message_id=message_id)

    # --- the user's decisions ------------------------------------------------------------

    def approve(self, entry_id: int) -> OutboxRecord:
        return self.outbox.approve(entry_id)

    def decline(self, entry_id: int) -> OutboxRecord:
        return self.outbox.decline(entry_id)

    def retry(self, entry_id: int) -> OutboxRecord:
        return self.outbox.retry(entry_id)

    def delete(self, entry_id: int) -> bool:
        return self.outbox.delete(entry_id)

    # --- sending -------------------------------------------------------------------------

    def client(self):
        """The client for the current settings (made on first use, remade when they change).
        Raises CloudError when cloud assist is off."""
        s = self.settings()
        if not configured(s):
            raise CloudError("Cloud assist is off.", retryable=False)
        key = (s.cloud_base_url, s.cloud_model, s.cloud_timeout_s, s.max_tokens)
        with self._client_lock:
            if self._client is None or self._client_key != key:
                self._close_client()
                try:
                    self._client = self._client_factory(s)
                except ValueError as exc:  # a malformed endpoint URL
                    raise CloudError(str(exc), retryable=False) from None
                self._client_key = key
            return self._client

    def forget_client(self) -> None:
        """After the key changed: the next send reads it again."""
        with self._client_lock:
            self._close_client()

    def test_connection(self, settings: Settings | None = None,
                        api_key: str | None = None) -> str:
        """The user's "Test connection": with `settings` (the dialog's values, saved or not) it
        tries that endpoint even while cloud assist is off — only ever on this explicit request.
        `api_key`: one typed in the dialog but not saved yet, instead of the stored one."""
        if settings is None:
            return self.client().test_connection()
        try:
            if api_key:
                client = CloudClient(settings.cloud_base_url, settings.cloud_model, api_key,
                                     timeout=settings.cloud_timeout_s)
            else:
                client = self._client_factory(settings)
        except ValueError as exc:
            raise CloudError(str(exc), retryable=False) from None
        try:
            return client.test_connection()
        finally:
            client.close()

    def process_due(self, cancel: threading.Event | None = None) -> list[OutboxRecord]:
        """Send what is due to the configured endpoint; never raises. Entries prepared for
        another endpoint (the setting changed since) wait until it is configured again."""
        from sync import queue

        settings = self.settings()
        if not configured(settings):
            return []
        try:
            endpoint = check_base_url(settings.cloud_base_url)
        except ValueError:
            return []

        def send(record: OutboxRecord) -> str:
            return self.client().complete(record.messages)

        return queue.process_due(self.outbox, send, self._on_reply, cancel=cancel,
                                 lease_s=120.0 + 4 * settings.cloud_timeout_s,
                                 accept=lambda r: r.endpoint == endpoint)

    def _on_reply(self, record: OutboxRecord, response: str):
        """(restored text, note, what to store with it): runs before the entry is marked
        sent; the store runs inside that transaction."""
        from sync.anonymizer import restore

        mapping = self.outbox.mapping(record.id)
        consent = self.settings().cloud_training_consent
        instruction = instruction_of(record.payload)
        source = f"cloud:{record.model}"
        if record.kind == "plan":
            return self._on_plan_reply(record, response, mapping, instruction, source, consent)
        restored = restore(response, mapping)

        def store(session, sent: OutboxRecord) -> int | None:
            from memory.tables import Conversation, Message, utcnow
            from sync.labels import TrainingExamples

            TrainingExamples(self.db).add("summarizer", instruction, response, source, consent,
                                          sent.id, session=session)
            conv = session.get(Conversation, sent.conversation_id) if sent.conversation_id else None
            if conv is None:  # the conversation was deleted meanwhile: the outbox keeps it
                return None
            message = Message(conversation_id=conv.id, role="assistant", content=restored,
                              status="done", model=sent.model[:100],
                              meta={"cloud": {"outbox_id": sent.id, "endpoint": sent.endpoint,
                                              "reply_to": sent.message_id}})
            session.add(message)
            conv.updated_at = utcnow()
            session.flush()
            return message.id

        return restored, None, store

    def _on_plan_reply(self, record, response, mapping, instruction, source, consent):
        """A plan is parsed and validated here (never run: the local rule already did) and
        kept as a planner label when it passes."""
        from agent.plan import PlanError, parse_plan, plan_from_obj, validate
        from sync.anonymizer import restore_data

        files = self._files_of(record)
        try:
            plan = parse_plan(response)
            # restored as data, not as JSON text: a name with a quote would break the text
            restored_plan = plan_from_obj(restore_data(plan.to_dict(), mapping))
            validate(restored_plan, attachments=files if files else None, max_tasks=6)
        except PlanError as exc:
            return None, f"The cloud's plan can't be used: {exc}", None
        target = plan.to_json()

        def store(session, sent: OutboxRecord) -> None:
            from sync.labels import TrainingExamples

            TrainingExamples(self.db).add("planner", instruction, target, source, consent,
                                          sent.id, session=session)
            return None

        return restored_plan.to_json(), None, store

    def _files_of(self, record: OutboxRecord) -> dict[str, str | None]:
        """The real names (and kinds) of the files attached to the request the entry is about."""
        from sqlalchemy import select

        from experts.inputs import kind_of
        from memory.tables import Attachment, Message

        if record.conversation_id is None or record.message_id is None:
            return {}
        with self.db.session() as s:
            user = s.scalars(select(Message).where(
                Message.conversation_id == record.conversation_id, Message.role == "user",
                Message.id < record.message_id).order_by(Message.id.desc()).limit(1)).first()
            if user is None:
                return {}
            names = [a.name for a in s.scalars(select(Attachment).where(
                Attachment.message_id == user.id))]
        return {n: kind_of(n) for n in names}

    # --- keys ----------------------------------------------------------------------------

    def set_api_key(self, key: str) -> str:
        from sync.keys import set_api_key

        where = set_api_key(check_base_url(self.settings().cloud_base_url), key)
        self.forget_client()
        return where

    def forget_api_key(self) -> bool:
        from sync.keys import delete_api_key

        found = delete_api_key(check_base_url(self.settings().cloud_base_url))
        self.forget_client()
        return found

    def _close_client(self) -> None:
        if self._client is not None:
            close = getattr(self._client, "close", None)
            if close is not None:
                close()
            self._client = None
            self._client_key = None

    def close(self) -> None:
        with self._client_lock:
            self._close_client()
        if self._own_anonymizer and self._anonymizer is not None:
            self._anonymizer.close()
            self._anonymizer = None


def answered_events(records: list[OutboxRecord]) -> list:
    """agent.events.CloudAnswered for each entry process_due() sent (for the window's stream)."""
    from agent.events import CloudAnswered

    return [CloudAnswered(r, r.reply_message_id) for r in records if r.status == "sent"]


def instruction_of(payload: dict) -> str:
    """What the cloud was asked, anonymized: the payload's user turn(s)."""
    turns = [m["content"] for m in payload.get("messages", []) if m.get("role") == "user"]
    return "\n\n".join(turns) if turns else json.dumps(payload.get("messages", []))
