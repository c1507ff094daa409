"""`hearth memory …` through app.memory_cli's add_parser/run, as app/cli.py will wire it."""

import argparse
import json
import subprocess

import pytest

from app import memory_cli
from tests.memory.memory_helpers import CHILD_PRELUDE, PYTHON, write_text_pdf


@pytest.fixture
def hearth(embedder):
    """Runs `hearth memory ARGS…` in this process, on the shared model."""
    parser = argparse.ArgumentParser(prog="hearth")
    memory_cli.add_parser(parser.add_subparsers(dest="command"))
    return lambda *argv: memory_cli.run(parser.parse_args(["memory", *argv]), embedder=embedder)


def test_add_search_list_forget(hearth, capsys):
    assert hearth("add", "I'm allergic to peanuts", "--kind", "profile") == 0
    assert capsys.readouterr().out.strip() == "Remembered #1."
    assert hearth("add", "I am allergic to peanuts") == 0
    assert "Already remembered as #1" in capsys.readouterr().out
    assert hearth("add", "My sister's name is Ana", "--kind", "profile") == 0
    assert hearth("add", "My sister's name is Eva", "--kind", "profile") == 0
    out = capsys.readouterr().out
    assert "Remembered #3." in out and "may contradict #2: My sister's name is Ana" in out

    assert hearth("search", "can I eat this satay?", "-k", "1") == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("#1\t") and "peanuts" in out[0]

    assert hearth("list", "--kind", "profile") == 0
    out = capsys.readouterr().out
    assert "#3\tprofile\tMy sister's name is Eva [conflicts with #2]" in out
    assert hearth("list", "--proposed") == 0
    assert "No proposals waiting." in capsys.readouterr().out

    assert hearth("forget", "2") == 0
    assert hearth("forget", "2") == 1
    assert "no memory #2" in capsys.readouterr().err


def test_forget_about_shows_first_and_deletes_with_yes(hearth, capsys):
    hearth("add", "I'm allergic to peanuts")
    hearth("add", "My bike has a flat tyre")
    capsys.readouterr()
    assert hearth("forget-about", "peanuts") == 0
    out = capsys.readouterr().out
    assert "I'm allergic to peanuts" in out and "Run again with --yes to forget these 1" in out
    assert hearth("forget-about", "peanuts", "--yes") == 0
    assert "Forgot 1 memories about 'peanuts'." in capsys.readouterr().out
    hearth("list")
    assert "peanuts" not in capsys.readouterr().out


def test_export_import_rebuild_add_file_and_errors(hearth, capsys, tmp_path):
    hearth("add", "I live in Lisbon", "--kind", "profile")
    out_file = tmp_path / "mem.json"
    assert hearth("export", str(out_file)) == 0
    assert json.loads(out_file.read_text())["memories"][0]["text"] == "I live in Lisbon"
    assert hearth("import", str(out_file)) == 0
    assert "Imported 0 memories (1 already known)." in capsys.readouterr().out
    assert hearth("rebuild") == 0
    assert "Rebuilt the memory index: 1 memories." in capsys.readouterr().out

    pdf = write_text_pdf(tmp_path / "lease.pdf", [["The rent is 950 euros a month."]])
    assert hearth("add-file", str(pdf)) == 0
    assert "Remembered 1 new chunk(s) of lease.pdf." in capsys.readouterr().out
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nonsense")
    assert hearth("add-file", str(broken)) == 1
    assert "broken.pdf is not a readable PDF" in capsys.readouterr().err
    assert hearth("add", "   ") == 1
    assert "can't be empty" in capsys.readouterr().err
    assert hearth("import", str(tmp_path / "missing.json")) == 1
    assert "missing.json is not a Hearth memory export" in capsys.readouterr().err


CLI_CHILD = CHILD_PRELUDE + """
import argparse
from app import memory_cli
parser = argparse.ArgumentParser(prog="hearth")
memory_cli.add_parser(parser.add_subparsers(dest="command"))
codes = [memory_cli.run(parser.parse_args(argv)) for argv in (
    ["memory", "add", "I'm allergic to peanuts", "--kind", "profile"],
    ["memory", "add", "My bike has a flat tyre"],
    ["memory", "search", "can I eat this satay?", "-k", "1"],
)]
print("codes", codes)
"""


def test_the_cli_in_its_own_process():
    out = subprocess.run([PYTHON, "-c", CLI_CHILD], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[:2] == ["Remembered #1.", "Remembered #2."]
    assert lines[2].startswith("#1\t") and "I'm allergic to peanuts" in lines[2]
    assert lines[-1] == "codes [0, 0, 0]"
    assert "Loading weights" not in out.stderr
