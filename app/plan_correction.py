""""Fix plan…": the user corrects the plan the model wrote for a request, and the corrected
plan is kept as a training example for the next night ("a thumbs-down with an edited plan is a
label too") and, from the next message on, as a solved example the planner can show the model
(sync.learning.source.example_pool)."""

from __future__ import annotations

import json

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout)

from agent.plan import SPEC_TOOLS, PlanError, parse_plan, validate
from agent.planner import MAX_TASKS
from experts.inputs import kind_of

CONFIRMATION = ("Saved — Hearth plans requests like this one from your plan from now on, and "
                "learns from it in its next night.")


def plan_text(plan: dict | None) -> str:
    """The plan as JSON to edit: a step or a task per line (json.dumps(indent=2) spreads one
    task over ten lines)."""
    plan = plan or {"steps": [], "tasks": []}
    dumps = lambda value: json.dumps(value, ensure_ascii=False)  # noqa: E731
    steps = ",\n".join(f"    {dumps(step)}" for step in plan.get("steps", []))
    tasks = ",\n".join(f"    {dumps(task)}" for task in plan.get("tasks", []))
    return (f'{{\n  "steps": [\n{steps}\n  ],\n  "tasks": [\n{tasks}\n  ]\n}}'
            if steps or tasks else json.dumps(plan, indent=2, ensure_ascii=False))


def check_plan(text: str, files: list[str]) -> str:
    """The first reason the plan can't be used for these files, or "" when it can."""
    try:
        plan = validate(parse_plan(text), SPEC_TOOLS,
                        attachments={f: kind_of(f) for f in files}, max_tasks=MAX_TASKS)
    except PlanError as exc:
        return str(exc)
    return "" if plan.tasks else "The plan has no tasks; a correction needs at least one expert."


class PlanCorrectionDialog(QDialog):
    CONFIRMATION = CONFIRMATION

    def __init__(self, db, request: str, files: list[str], plan: dict | None, parent=None):
        super().__init__(parent)
        self.db, self.request, self.files = db, request, list(files)
        self.saved = None  # the TrainingRecord, once saved
        self.setWindowTitle("Fix the plan")
        self.setObjectName("planCorrection")
        self.resize(640, 520)
        layout = QVBoxLayout(self)
        shown = request if len(request) <= 300 else request[:300] + "…"
        intro = QLabel(objectName="correctionRequest", wordWrap=True)
        intro.setText(f"<b>Request:</b> {_escape(shown)}<br><b>Files:</b> "
                      f"{_escape(', '.join(self.files)) or 'none'}<br>"
                      "Write the plan Hearth should have made: which experts, on which file, "
                      "in which order (<code>dep</code>: the ids of the tasks it waits for, "
                      "<code>[-1]</code> for none; <code>&lt;GENERATED&gt;-N</code>: task N's "
                      "output).")
        layout.addWidget(intro)
        tools = QLabel(objectName="correctionTools", wordWrap=True)
        tools.setText("Experts: " + "; ".join(f"{name}({', '.join(args)})"
                                               for name, args in SPEC_TOOLS.items()))
        tools.setStyleSheet("color: #555555")
        layout.addWidget(tools)
        self.editor = QPlainTextEdit(objectName="planEditor")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setPlainText(plan_text(plan))
        layout.addWidget(self.editor, 1)
        self.error = QLabel(objectName="planError", wordWrap=True)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("saveCorrection")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.editor.textChanged.connect(self.check)
        self.check()

    def check(self) -> bool:
        problem = check_plan(self.editor.toPlainText(), self.files)
        self._show(f"Not a usable plan yet: {problem}" if problem else
                   "The plan is valid for these files.", error=bool(problem))
        self.save_button.setEnabled(not problem)
        return not problem

    def save(self) -> None:
        """Kept in training_examples (source "user-correction"); the dialog stays open with
        the reason if it can't be, and the text is not lost."""
        from sync.learning.source import save_correction

        if not self.check():
            return
        try:
            self.saved = save_correction(self.db, self.request, self.files,
                                         self.editor.toPlainText())
        except PlanError as exc:
            self._show(f"Not saved: {exc}", error=True)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. the database is locked: say so, keep it
            self._show(f"Not saved: {exc}", error=True)
            return
        self._show(CONFIRMATION)
        self.accept()

    def _show(self, text: str, error: bool = False) -> None:
        self.error.setText(text)
        self.error.setStyleSheet("color: #b00020" if error else "color: #2e7d32")


def _escape(text: str) -> str:
    import html

    return html.escape(text)
