"""The cloud endpoint: any OpenAI-compatible chat server, through agent.openai_llm (the same
client the planning benchmark uses).

One call per send, no retries here: sync.queue decides when to try again. Every failure is a
CloudError whose text says what went wrong with which host, never the key; `retryable` says
whether trying later can help (a timeout, a refused connection, a 500, a reply that isn't a
chat completion) or not (a rejected key, an unknown model).
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_MAX_TOKENS = 512
TEMPERATURE = 0.3


class CloudError(RuntimeError):
    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def host_of(base_url: str) -> str:
    """host[:port], what the status bar and messages show (no user:password@, no path)."""
    parts = urlsplit(base_url.strip())
    host = parts.hostname or base_url.strip()
    return f"{host}:{parts.port}" if parts.port else host


def check_base_url(base_url: str) -> str:
    """The endpoint URL, or ValueError saying what is wrong with it."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"The endpoint must be an http(s) URL such as "
                         f"http://127.0.0.1:8000/v1, not {base_url!r}.")
    if parts.username or parts.password:
        raise ValueError("Put the API key in the key field, not in the endpoint URL.")
    return url


class CloudClient:
    def __init__(self, base_url: str, model: str, api_key: str | None, timeout: float = 30.0,
                 max_tokens: int = DEFAULT_MAX_TOKENS):
        from agent.openai_llm import OpenAICompatLLM

        self.base_url = check_base_url(base_url)
        self.model = model
        self.host = host_of(self.base_url)
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._llm = OpenAICompatLLM(self.base_url, model, api_key=api_key, timeout=timeout,
                                    max_retries=0, name=f"cloud:{model}")

    def __repr__(self) -> str:
        return f"CloudClient(base_url={self.base_url!r}, model={self.model!r})"

    def test_connection(self) -> str:
        """One cheap request (the model list): a line for the user, or CloudError."""
        try:
            models = [m.id for m in self._llm._get_client().models.list()]
        except Exception as exc:  # noqa: BLE001 - every failure becomes a clear CloudError
            raise self._error(exc) from None
        if self.model and models and self.model not in models:
            return (f"Connected to {self.host}, but it does not list the model {self.model!r} "
                    f"(it has: {', '.join(models[:5])}).")
        return f"Connected to {self.host}: {len(models)} model(s) available."

    def complete(self, messages: list[dict]) -> str:
        """The reply's text; CloudError on any failure, including an empty reply."""
        from agent.llm import ModelLoadError

        try:
            text = self._llm.complete(messages, max_tokens=self.max_tokens,
                                      temperature=TEMPERATURE)
        except ModelLoadError as exc:  # openai_llm wraps the client's errors
            raise self._error(exc.__cause__ or exc) from None
        except Exception as exc:  # noqa: BLE001 - a body that isn't a completion stream
            raise self._error(exc) from None
        if not text.strip():
            raise CloudError(f"{self.host} sent an empty or unreadable reply.")
        return text

    def _error(self, exc: BaseException) -> CloudError:
        import openai

        host = self.host
        if isinstance(exc, openai.APITimeoutError):
            err = CloudError(f"{host} did not answer within {self.timeout:g} s.")
        elif isinstance(exc, openai.APIConnectionError):
            err = CloudError(f"Could not reach {host} (is the server running and the network "
                             f"up?).")
        elif isinstance(exc, openai.AuthenticationError):
            err = CloudError(f"{host} refused the API key (HTTP 401). Set it again in Settings "
                             f"→ Cloud assist or with `hearth cloud set-key`.", retryable=False)
        elif isinstance(exc, openai.PermissionDeniedError):
            err = CloudError(f"{host} refused access (HTTP 403).", retryable=False)
        elif isinstance(exc, openai.NotFoundError):
            err = CloudError(f"{host} has no such endpoint or model {self.model!r} (HTTP 404).",
                             retryable=False)
        elif isinstance(exc, openai.APIStatusError):
            err = CloudError(f"{host} failed with HTTP {exc.status_code}.")
        else:
            err = CloudError(f"{host} sent a reply Hearth could not read "
                             f"({type(exc).__name__}).")
        return err

    def close(self) -> None:
        self._llm.close()
