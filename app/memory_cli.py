"""`hearth memory …`: what Hearth remembers about you, from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path

KIND_CHOICES = ("profile", "event", "preference", "note", "document")


def add_parser(subparsers):
    memory = subparsers.add_parser("memory", help="what Hearth remembers about you")
    sub = memory.add_subparsers(dest="memory_command", required=True)

    add = sub.add_parser("add", help="remember something")
    add.add_argument("text")
    add.add_argument("--kind", choices=KIND_CHOICES[:-1], default="note")

    search = sub.add_parser("search", help="find memories about something")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="how many (default 5)")

    listing = sub.add_parser("list", help="list memories, newest first")
    listing.add_argument("--kind", choices=KIND_CHOICES)
    listing.add_argument("--proposed", action="store_true",
                         help="only what the assistant proposed to remember (awaiting you)")

    forget = sub.add_parser("forget", help="delete one memory by id")
    forget.add_argument("id", type=int)

    about = sub.add_parser("forget-about", help="delete every memory about a topic")
    about.add_argument("topic")
    about.add_argument("--yes", action="store_true", help="delete without showing them first")

    sub.add_parser("rebuild", help="rebuild the search index from the database")

    export = sub.add_parser("export", help="write every memory to a JSON file")
    export.add_argument("file")
    imp = sub.add_parser("import", help="add memories from an exported JSON file")
    imp.add_argument("file")

    add_file = sub.add_parser("add-file", help="remember a .txt, .md or .pdf file (in chunks)")
    add_file.add_argument("path")
    return memory


def run(args, *, embedder=None) -> int:
    """`embedder`: an already loaded one to share (tests, or a window that has one)."""
    from memory.db import Database
    from memory.documents import DocumentError
    from memory.embeddings import EmbedderError
    from memory.lockfile import MemoryLockedError
    from memory.service import Memory

    db = Database()
    if args.memory_command in _SQLITE_ONLY:
        # Reading needs no index: works while a Hearth window holds it.
        from memory.memories import MemoryStore

        try:
            return _COMMANDS[args.memory_command](MemoryStore(db), args)
        except (ValueError, OSError) as exc:
            print(f"hearth: {exc}", file=sys.stderr)
            return 1
        finally:
            db.close()
    try:
        # rebuild never reads the old index: it must work when that index is what is broken.
        memory = Memory(db, embedder, rebuild_index=args.memory_command == "rebuild")
    except MemoryLockedError as exc:
        db.close()
        print(f"hearth: {exc}", file=sys.stderr)
        return 1
    try:
        return _COMMANDS[args.memory_command](memory, args)
    except (ValueError, KeyError, DocumentError, EmbedderError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"hearth: {message}", file=sys.stderr)
        return 1
    finally:
        memory.close()
        db.close()


def _line(record, score: float | None = None) -> str:
    text = " ".join(record.text.split())
    if len(text) > 100:
        text = text[:99] + "…"
    marks = "".join([" [pinned]" if record.pinned else "",
                     " [proposed]" if record.status == "proposed" else "",
                     f" [conflicts with #{record.conflicts_with}]"
                     if record.conflicts_with else ""])
    head = f"#{record.id}\t{score:.2f}\t" if score is not None else f"#{record.id}\t"
    return f"{head}{record.kind}\t{text}{marks}"


def _add(memory, args) -> int:
    from memory.service import DuplicateResult

    result = memory.remember(args.text, args.kind, source="cli")
    if isinstance(result, DuplicateResult):
        print(f"Already remembered as #{result.existing.id}: {result.existing.text}")
        return 0
    print(f"Remembered #{result.id}.")
    if result.conflicts_with:
        other = memory.get(result.conflicts_with)
        if other is not None:
            print(f"This may contradict #{other.id}: {other.text}\n"
                  f"Forget the wrong one with: hearth memory forget ID")
    return 0


def _search(memory, args) -> int:
    found = memory.search(args.query, k=max(1, args.k))
    for record, score in found:
        print(_line(record, score))
    if not found:
        print("Nothing remembered yet.")
    return 0


def _list(memory, args) -> int:
    records = memory.list(kind=args.kind, status="proposed" if args.proposed else None)
    for record in records:
        print(_line(record))
    if not records:
        print("No memories." if not args.proposed else "No proposals waiting.")
    return 0


def _forget(memory, args) -> int:
    if memory.forget(args.id):
        print(f"Forgot #{args.id}.")
        return 0
    print(f"hearth: no memory #{args.id}", file=sys.stderr)
    return 1


def _forget_about(memory, args) -> int:
    candidates = memory.preview_forget_about(args.topic)
    if not candidates:
        print(f"Nothing remembered about {args.topic!r}.")
        return 0
    if not args.yes:
        for c in candidates:
            print(f"{_line(c.record)}\t({c.reason})")
        print(f"Run again with --yes to forget these {len(candidates)} memories.")
        return 0
    n = memory.forget_many(c.record.id for c in candidates)
    print(f"Forgot {n} memories about {args.topic!r}.")
    return 0


def _rebuild(memory, args) -> int:
    print(f"Rebuilt the memory index: {memory.index.count()} memories.")
    return 0


def _export(memory, args) -> int:
    n = memory.export_json(Path(args.file))
    print(f"Exported {n} memories to {args.file}.")
    return 0


def _import(memory, args) -> int:
    report = memory.import_json(Path(args.file))
    print(f"Imported {len(report.added)} memories ({report.skipped} already known).")
    return 0


def _add_file(memory, args) -> int:
    added = memory.add_document(Path(args.path))
    print(f"Remembered {len(added)} new chunk(s) of {Path(args.path).name}.")
    return 0


_SQLITE_ONLY = {"list", "export"}
_COMMANDS = {"add": _add, "search": _search, "list": _list, "forget": _forget,
             "forget-about": _forget_about, "rebuild": _rebuild, "export": _export,
             "import": _import, "add-file": _add_file}
