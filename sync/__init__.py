"""Optional cloud assist, off by default (the cloud-assist issue): anonymise, show in the
outbox, send through an OpenAI-compatible endpoint, keep the answers as training labels.

Nothing here runs yet, and nothing in Hearth opens a non-loopback connection.
"""
