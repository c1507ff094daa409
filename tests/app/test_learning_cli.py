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


def test_history_says_which_roles_took_each_night_and_what_each_uses(hearth_home, capsys,
                                                                       smollm2_path):
    from tests.learning.helpers import random_adapter

    planning, both = "20261201-031000-000000", "20261202-031000-000000"
    for night in (planning, both):
        nightly.adapter_of(night).parent.mkdir(parents=True, exist_ok=True)
        random_adapter(smollm2_path, nightly.adapter_of(night))
    gate = {"before": {"user": {"score": 0.45}, "general": {"score": 0.30},
                       "user_answers": {"n": 5, "nll": 0.412},
                       "general_answers": {"n": 16, "score": 0.30}},
            "after": {"user": {"score": 0.54}, "general": {"score": 0.32},
                      "user_answers": {"n": 5, "nll": 0.371},
                      "general_answers": {"n": 16, "score": 0.33}}}
    nightly.record(nightly.NightResult(planning, "done", model="smollm2-135m", n_examples=9,
                                       adapter=str(nightly.adapter_of(planning)), kept=True,
                                       roles=["planner"], gate=gate))
    nightly.record(nightly.NightResult(both, "done", model="smollm2-135m", n_examples=12,
                                       adapter=str(nightly.adapter_of(both)), kept=True,
                                       roles=["planner", "summarizer"], gate=gate))
    nightly.activate(nightly.adapter_of(both), smollm2_path)
    assert main(["learn", "history"]) == 0
    first, second, active = capsys.readouterr().out.splitlines()
    assert " kept for planning " in first and " kept " in second
    assert "kept for" not in second
    assert first.endswith("9 examples  yours 0.45 → 0.54  general 0.30 → 0.32  your answers "
                          "(nats/token) 0.412 → 0.371  general answers 0.30 → 0.33")
    assert active == f"Active: {both}"  # one adapter for every role: as before

    nightly.activate(nightly.adapter_of(planning), smollm2_path, roles=["planner"])
    assert main(["learn", "history"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"Active: planning {planning}, answers {both}")
    nightly.activate(None, smollm2_path, roles=["summarizer"])
    assert main(["learn", "history"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"Active: planning {planning}, answers the base model")
    from memory.db import Database
    from memory.settings import load_settings, save_settings

    db = Database()  # rollback checks the adapter against the settings' model
    save_settings(db, load_settings(db).model_copy(update={"model": "smollm2-135m"}))
    db.close()
    assert main(["learn", "rollback", both]) == 0  # rollback: every role
    assert nightly.active_roles() == {"planner": nightly.adapter_of(both),
                                      "summarizer": nightly.adapter_of(both)}
