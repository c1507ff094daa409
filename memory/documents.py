"""Text out of the user's files (.txt, .md, .pdf), cut into overlapping chunks to remember."""

from __future__ import annotations

import re
from pathlib import Path

SUFFIXES = (".txt", ".md", ".pdf")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TEXT_CHARS = 2_000_000  # ~5,000 chunks; embedding them takes about a minute on 2 cores
CHUNK_CHARS = 500
OVERLAP_CHARS = 100


class DocumentError(ValueError):
    """A file can't be remembered; the message names it and says why."""


def read_document(path: Path) -> str:
    path = Path(path)
    name = path.name
    if path.suffix.lower() not in SUFFIXES:
        raise DocumentError(f"{name}: only {', '.join(SUFFIXES)} files can be added to memory.")
    if not path.is_file():
        raise DocumentError(f"{name}: file not found.")
    size = path.stat().st_size
    if size == 0:
        raise DocumentError(f"{name} is empty.")
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"{name} is {size / 1e6:.0f} MB; documents are limited to "
                            f"{MAX_FILE_BYTES / 1e6:.0f} MB.")
    text = _read_pdf(path) if path.suffix.lower() == ".pdf" else _read_text(path)
    text = text.strip()
    if not text:
        raise DocumentError(f"{name} has no text to remember.")
    if len(text) > MAX_TEXT_CHARS:
        raise DocumentError(f"{name} has {len(text):,} characters of text; documents are "
                            f"limited to {MAX_TEXT_CHARS:,}.")
    return text


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{path.name} is not a text file (it contains binary data).")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError(f"{path.name} is not UTF-8 text.")


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise DocumentError(f"{path.name} is a password-protected PDF; save an unprotected "
                                f"copy and add that.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError,
            RecursionError) as exc:
        # pypdf reports broken files with its own errors and, for some damage, plain ones.
        raise DocumentError(f"{path.name} is not a readable PDF "
                            f"({type(exc).__name__}: {exc}).") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise DocumentError(f"{path.name} has no text layer (a scanned PDF?); Hearth can't read "
                            f"text out of images yet.")
    return text


def chunk_text(text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """~size-character pieces that end at a paragraph, sentence or word boundary when one is
    near, each starting `overlap` characters before the previous one ended, so a fact cut in
    two is still whole in one of them."""
    text = re.sub(r"[ \t]+", " ", text.replace("\r\n", "\n")).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) <= size:
        return [text] if text else []
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            end = _boundary(text, start + size // 2, end)
        chunk = text[start:end].strip()
        if chunk:
            chunks.append(chunk)
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        # Start the overlap at a word, not mid-word.
        space = text.find(" ", next_start, end)
        start = space + 1 if space != -1 else next_start
    return chunks


def _boundary(text: str, lo: int, hi: int) -> int:
    for pattern in ("\n\n", ". ", "? ", "! ", "\n", "; ", ", ", " "):
        cut = text.rfind(pattern, lo, hi)
        if cut != -1:
            return cut + len(pattern.rstrip()) if pattern.strip() else cut
    return hi
