"""Optional cloud assist, off by default: anonymize, show in the outbox, send through an
OpenAI-compatible endpoint, keep the answers as training labels (docs/privacy.md).

- service.CloudAssist: the facade the Assistant, `hearth` and the window use.
- policy: when something may be prepared (only the user's own words can ask).
- anonymizer, recognizers, payload: what a payload holds, anonymized; built by one function.
- outbox: the local log of every payload (what, when, to whom, what came back).
- queue: sending what is due, with retries and backoff; cloud: the OpenAI-compatible client.
- keys: the API key in the OS keyring (or a 0600 file); labels: training examples.

Nothing here opens a connection unless the user turned cloud assist on.
"""
