"""Inputs for the memory tests: a real text PDF written by hand, and a network guard for the
subprocesses the tests start (the test-wide guard lives in this process only)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Prepended to every `python -c` program the memory tests run.
CHILD_PRELUDE = f"""
import os, socket, sys
sys.path.insert(0, {str(ROOT)!r})
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from app import offline
offline.apply()
_connect = socket.socket.connect
def _guard(self, address):
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(f"network blocked in test child: {{address!r}}")
    return _connect(self, address)
socket.socket.connect = _guard
_getaddrinfo = socket.getaddrinfo
def _resolve(host, *a, **k):
    if host not in ("127.0.0.1", "::1", "localhost", None):
        raise OSError(f"name resolution blocked in test child: {{host!r}}")
    return _getaddrinfo(host, *a, **k)
socket.getaddrinfo = _resolve
"""

PYTHON = sys.executable


def write_text_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A valid PDF with real text objects (Helvetica), one page per list of lines."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page ids are known
    pages_id = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                        b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                        % (pages_id, font, content)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = (b"<< /Type /Pages /Kids [%s] /Count %d >>"
                             % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, catalog, xref))
    Path(path).write_bytes(bytes(out))
    return Path(path)
