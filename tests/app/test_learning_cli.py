"""`hearth learn history | rollback | base`: the nights as one line each, and rollback's
refusals, from a terminal."""

from __future__ import annotations

from app.cli import main
from sync.learning import nightly


def test_history_says_when_there_is_nothing_yet(hearth_home, capsys):
    assert main(["learn", "history"]) == 0
    out = capsys.readouterr().out
    assert "No nights yet." in out and "Active: the base model" in out


def test_history_shows_each_night_and_what_it_grew_from(hearth_home, capsys):
    nightly.record(nightly.NightResult("20261201-031000-000000", "done", model="smollm2-135m",
                                       n_examples=7))
    nightly.record(nightly.NightResult("20261202-031000-000000", "done", model="smollm2-135m",
                                       n_examples=9, started_from="20261201-031000-000000"))
    assert main(["learn", "history"]) == 0
    first, second = capsys.readouterr().out.splitlines()[:2]
    assert first.startswith("20261201-031000-000000") and "on top of" not in first
    assert second.startswith("20261202-031000-000000")
    assert "9 examples" in second and second.endswith("(on top of 20261201-031000-000000)")


def test_rollback_to_a_night_without_an_adapter_is_refused(hearth_home, capsys):
    assert main(["learn", "rollback", "20261201-031000-000000"]) == 1
    assert "has no adapter on disk" in capsys.readouterr().err
    assert main(["learn", "base"]) == 0
    assert "base model" in capsys.readouterr().out and nightly.active_adapter() is None
