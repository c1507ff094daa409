"""The learning window: which adapter Hearth uses now, every night's scores as a plot and a
table, one-click rollback to an earlier adapter or to the base model, and "Learn now"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QSizePolicy, QTableView, QVBoxLayout,
                               QWidget)

from app.background import run_in_background
from app.table_model import RecordsTableModel
from sync.labels import ROLES

COLUMNS = ("Night", "Model", "Status", "Examples", "On yours", "General", "Result")
USER_COLOUR, GENERAL_COLOUR = QColor("#1f5fa8"), QColor("#c0631a")
ERROR_STYLE = "color: #b00020"


# ----- what a history record says, in words
def night_time(night: str) -> str:
    """'20261201-031002-123456' (UTC) → '2026-12-01 03:10' in local time."""
    try:
        when = datetime.strptime(night[:15], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return str(night)
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def metrics(record: dict, when: str, split: str) -> dict:
    """The gate's scores of the model as it was ("before") or with the night's adapter
    ("after"), on the user's held-out examples ("user") or the general dev split
    ("general")."""
    return ((record.get("gate") or {}).get(when) or {}).get(split) or {}


def score(record: dict, when: str, split: str) -> float | None:
    """The number the gate decided on: the plan score (mean of node F1 and argument-value
    F1); node F1 for records written before the gate had it."""
    value = metrics(record, when, split)
    return value.get("score", value.get("node_f1"))


METRIC_NAMES = (("node_f1", "node F1"), ("arg_value_f1", "argument F1"), ("edge_f1", "edge F1"),
                ("validity", "valid"))


ANSWER_METRIC_NAMES = (("fact_recall", "facts"), ("cite_f1", "citations"),
                       ("failures_told", "failures told"),
                       ("invented_numbers", "invented numbers"))


def metrics_text(record: dict) -> str:
    lines = []
    for split, name in (("user", "Your plans"), ("general", "General")):
        for when in ("before", "after"):
            m = metrics(record, when, split)
            if m:
                parts = ", ".join(f"{label} {m[key]:.2f}" for key, label in METRIC_NAMES
                                  if m.get(key) is not None)
                lines.append(f"{name} {when}: score {_f(score(record, when, split))} "
                             f"({parts}; {m.get('n', '?')} examples)")
    for when in ("before", "after"):
        m = metrics(record, when, "user_answers")
        if m:
            lines.append(f"Your answers {when}: {_f(m.get('nll'), 3)} nats a token "
                         f"({m.get('n', '?')} examples; lower is better)")
    for when in ("before", "after"):
        m = metrics(record, when, "general_answers")
        if m:
            parts = ", ".join(f"{label} {m[key]:.2f}" for key, label in ANSWER_METRIC_NAMES
                              if m.get(key) is not None)
            lines.append(f"General answers {when}: score {_f(m.get('score'))} "
                         f"({parts}; {m.get('n', '?')} examples)")
    return "\n".join(lines)


def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def has_set(record: dict, split: str) -> bool:
    """Whether the gate scored the night on this set ("user", "general", "user_answers",
    "general_answers")."""
    return bool(metrics(record, "before", split) or metrics(record, "after", split))


def before_after(record: dict, split: str) -> str:
    """'0.62 → 0.71': a plan set's score before and after the night ('' when not scored)."""
    if not has_set(record, split):
        return ""
    return f"{_f(score(record, 'before', split))} → {_f(score(record, 'after', split))}"


def answers_before_after(record: dict, split: str) -> str:
    """The answer sets': 'user_answers' in nats a token (3 digits, lower is better),
    'general_answers' as its score ('' when not scored)."""
    if not has_set(record, split):
        return ""
    key, digits = ("nll", 3) if split == "user_answers" else ("score", 2)
    return " → ".join(_f(metrics(record, when, split).get(key), digits)
                      for when in ("before", "after"))


def yours_cell(record: dict) -> str:
    """The table's "On yours" cell: a plan night's plan score on the user's held-out plans, an
    answer night's loss on the user's held-out answers (a loss, so it says so)."""
    if has_set(record, "user") or not has_set(record, "user_answers"):
        return before_after(record, "user")
    return f"loss {answers_before_after(record, 'user_answers')}"


def general_cell(record: dict) -> str:
    """The table's "General" cell: the plan or answer score on the general dev examples."""
    if has_set(record, "general") or not has_set(record, "general_answers"):
        return before_after(record, "general")
    return answers_before_after(record, "general_answers")


def roles_of(record: dict) -> list[str]:
    """The agent roles ("planner", "summarizer") that took the night's adapter; a kept night
    recorded before adapters were chosen per role served them all."""
    if record.get("status") != "done":
        return []
    gate = record.get("gate") or {}
    roles = record.get("roles") or gate.get("roles") or []
    if not roles and (record.get("kept") or gate.get("decision") == "kept"):
        return list(ROLES)
    return [role for role in ROLES if role in roles]


def is_kept(record: dict) -> bool:
    """Some role took the night's adapter: "kept", "kept for planning", "kept for answering"."""
    return bool(roles_of(record))


KEPT_FOR = {("planner",): "kept for planning", ("summarizer",): "kept for answering"}


def outcome(record: dict) -> str:
    """kept | kept for planning | kept for answering | rejected | skipped | failed |
    cancelled | …: what became of the night."""
    gate = record.get("gate") or {}
    if record.get("status") == "done":
        roles = roles_of(record)
        if roles:
            return KEPT_FOR.get(tuple(roles), "kept")
        return "rejected" if gate else "not evaluated"
    return {"memory": "failed (memory cap)", "killed": "stopped"}.get(record.get("status"),
                                                                        record.get("status", "?"))


def why(record: dict) -> str:
    gate = record.get("gate") or {}
    return gate.get("reason") or record.get("reason") or ""


def scores_text(record: dict) -> str:
    """'your plans 0.45 → 0.54, general 0.46 → 0.48; your answers 0.412 → 0.371 nats a token
    (lower is better), general answers 0.30 → 0.33': the sets the gate scored."""
    plans = [f"{name} {before_after(record, split)}"
             for split, name in (("user", "your plans"), ("general", "general"))
             if has_set(record, split)]
    answers = []
    if has_set(record, "user_answers"):
        answers.append(f"your answers {answers_before_after(record, 'user_answers')} nats a "
                       "token (lower is better)")
    if has_set(record, "general_answers"):
        answers.append(f"general answers {answers_before_after(record, 'general_answers')}")
    if not plans and not answers:  # nothing scored: say so in the old words
        return "your plans – → –, general – → –"
    return "; ".join(", ".join(part) for part in (plans, answers) if part)


def describe_night(record: dict) -> str:
    """'Night 2026-12-01 03:10 — trained on 24 examples, kept: your plans 0.62 → 0.71, …'"""
    grown = (f" on top of night {night_time(record['started_from'])}"
             if record.get("started_from") else "")
    text = (f"Night {night_time(record.get('night', ''))} — trained on "
            f"{examples_text(record)}{grown}, {outcome(record)}")
    return text + (f": {scores_text(record)}" if record.get("gate") else "")


def _without_head(text: str, word: str) -> str:
    """"Cancelled; the active adapter…" after "cancelled —" reads twice: drop the echo."""
    if text.lower().startswith(word.lower()) and text[len(word):len(word) + 1] in (";", ":", "."):
        rest = text[len(word) + 1:].strip()
        return rest[:1].upper() + rest[1:]
    return text


def _gate_reason(record: dict) -> str:
    """The gate's reason without its own "Kept: " / "Rejected: " head."""
    text = why(record)
    for head in ("Kept: ", "Rejected: ", "Rejected. "):
        if text.startswith(head):
            return text[len(head):]
    return text


def result_text(event: dict) -> str:
    """What a finished run (its last event) means for the user: each of tonight's nights
    (one per role that had enough labels), planning first."""
    nights = event.get("nights") or []
    if event.get("event") == "done" and len(nights) > 1:
        return " ".join(f"{ROLE_NAMES.get(n.get('role'), 'Night')}: "
                        f"{result_text({'event': 'done', 'night': n})}" for n in nights)
    return _night_result_text(event)


ROLE_NAMES = {"planner": "Planning", "summarizer": "Answers"}


def examples_text(record: dict) -> str:
    """'56 plans' / '57 answers' / '56 examples' (a night from before adapters per role)."""
    kind = {"planner": "plans", "summarizer": "answers"}.get(record.get("role"), "examples")
    return f"{record.get('n_examples', 0)} {kind}"


def _night_result_text(event: dict) -> str:
    if event.get("event") == "error":
        if event.get("cancelled"):
            message = event.get("message") or "the active adapter is unchanged."
            return message if "cancelled" in message.lower() else f"Cancelled: {message}"
        return f"The night failed: {event.get('message', 'no reason given')}"
    record = event.get("night") or {}
    result = outcome(record)
    if result == "kept for planning":
        return (f"Kept for planning: {scores_text(record)}. Hearth now plans with this night's "
                "adapter; answers stay as they were.")
    if result == "kept for answering":
        return (f"Kept for answering: {scores_text(record)}. Hearth now answers with this "
                "night's adapter; planning stays as it was.")
    if is_kept(record):
        return f"Kept: {scores_text(record)}. Hearth now uses this night's adapter."
    if result == "rejected":
        reason = _gate_reason(record) or f"not better ({scores_text(record)})."
        return f"Rejected: {reason} The active adapter is unchanged."
    if result == "skipped":
        return f"Skipped: {why(record)}"
    return f"{result.capitalize()}: {why(record)}"


def same_file(a: str | Path | None, b: str | Path | None) -> bool:
    if not a or not b:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return str(a) == str(b)


def active_marker(record: dict, roles: dict[str, Path | None]) -> str:
    """' · active' when every role uses the night's adapter, ' · active for planning' /
    ' · active for answers' when one does, '' when none does."""
    using = [role for role in ROLES if same_file(record.get("adapter"), roles.get(role))]
    if not using:
        return ""
    if len(using) == len(ROLES):
        return " · active"
    return " · active for planning" if using == ["planner"] else " · active for answers"


# ----- the table
class NightsTableModel(RecordsTableModel):
    columns = COLUMNS
    rows: list[dict]

    def __init__(self, parent=None):
        super().__init__(parent)
        self.roles: dict[str, Path | None] = dict.fromkeys(ROLES)  # each role's adapter

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        marker = active_marker(r, self.roles)
        is_active = bool(marker)
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(t for t in (why(r), metrics_text(r)) if t) or None
        if role == Qt.ItemDataRole.FontRole and is_active:
            font = QFont()
            font.setBold(True)
            return font
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        result = outcome(r) + marker
        if why(r) and not r.get("gate"):  # a gated night's reason is its scores (tooltip)
            result += f" — {_without_head(why(r), outcome(r))}"
        return [night_time(r.get("night", "")), r.get("model") or "", r.get("status", ""),
                examples_text(r), yours_cell(r), general_cell(r), result][index.column()]


# ----- the plot
class ScoresChart(QWidget):
    """The gate's plan score after each evaluated night, on the user's held-out examples and
    on the general dev split; a filled dot for a kept night, a hollow one for a rejected
    night. Drawn with QPainter: the window opens without importing matplotlib."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("scoresChart")
        self.setMinimumHeight(190)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.nights: list[dict] = []

    def set_history(self, history: list[dict]) -> None:
        self.nights = [r for r in history if r.get("gate")]
        self.update()

    def points(self, split: str) -> list[tuple[int, float]]:
        return [(i, v) for i, r in enumerate(self.nights)
                if (v := score(r, "after", split)) is not None]

    def _area(self) -> QRectF:
        return QRectF(48, 28, max(10, self.width() - 64), max(10, self.height() - 62))

    def position(self, i: int, v: float) -> QPointF:
        """Where the i-th evaluated night's score v is drawn."""
        area = self._area()
        low, high = self._range()
        x = area.left() + (area.width() * (i + 0.5) / max(1, len(self.nights)))
        y = area.bottom() - (v - low) / (high - low) * area.height()
        return QPointF(x, y)

    def _range(self) -> tuple[float, float]:
        values = [v for r in self.nights for when in ("before", "after")
                  for split in ("user", "general") if (v := score(r, when, split)) is not None]
        if not values:
            return 0.0, 1.0
        low = max(0.0, int(min(values) * 10) / 10)
        high = min(1.0, int(max(values) * 10 + 0.999) / 10)
        return (low, high) if high > low else (max(0.0, low - 0.1), min(1.0, high + 0.1))

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        area = self._area()
        p.setPen(QColor("#333333"))
        p.drawText(QRectF(8, 4, self.width() - 16, 20), Qt.AlignmentFlag.AlignLeft,
                   "Plan score after each night (mean of node F1 and argument F1)")
        self._legend(p)
        if not self.nights:
            p.setPen(QColor("#777777"))
            p.drawText(area, Qt.AlignmentFlag.AlignCenter,
                       "No night has been evaluated yet. Learn now trains one.")
            return
        low, high = self._range()
        n = len(self.nights)
        at = self.position

        p.setPen(QPen(QColor("#dddddd")))
        steps = round((high - low) * 10)
        for k in range(steps + 1):
            v = low + k * (high - low) / max(1, steps)
            y = at(0, v).y()
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            p.setPen(QColor("#666666"))
            p.drawText(QRectF(0, y - 8, 42, 16), Qt.AlignmentFlag.AlignRight, f"{v:.1f}")
            p.setPen(QPen(QColor("#dddddd")))
        p.setPen(QColor("#666666"))
        every = max(1, n // 8)
        times = [night_time(r.get("night", "")) for r in self.nights]
        # the date alone, unless several nights share one (Learn now twice in a day)
        one_a_day = len({t[:10] for t in times}) == len(times)
        for i, when in enumerate(times):
            if i % every == 0:
                label = when[5:10] if one_a_day else when[5:16]
                x = at(i, low).x()
                p.drawText(QRectF(x - 50, area.bottom() + 4, 100, 16),
                           Qt.AlignmentFlag.AlignHCenter, label)
        for split, colour in (("user", USER_COLOUR), ("general", GENERAL_COLOUR)):
            pts = self.points(split)
            p.setPen(QPen(colour, 2))
            for (i, a), (j, b) in zip(pts, pts[1:]):
                p.drawLine(at(i, a), at(j, b))
            for i, v in pts:
                # plan scores: filled when the planner took the night's adapter
                kept = "planner" in roles_of(self.nights[i])
                p.setBrush(QBrush(colour) if kept else QBrush(QColor("white")))
                p.drawEllipse(at(i, v), 4.5, 4.5)
        p.end()

    def _legend(self, p: QPainter) -> None:
        x = self.width() - 360
        for label, colour in (("your plans", USER_COLOUR), ("general", GENERAL_COLOUR)):
            p.setPen(QPen(colour, 2))
            p.drawLine(QPointF(x, 14), QPointF(x + 18, 14))
            p.setPen(QColor("#333333"))
            p.drawText(QPointF(x + 22, 18), label)
            x += 100
        p.setPen(QPen(QColor("#555555"), 1.5))
        p.setBrush(QBrush(QColor("#555555")))
        p.drawEllipse(QPointF(x + 4, 14), 4, 4)
        p.drawText(QPointF(x + 12, 18), "kept")
        p.setBrush(QBrush(QColor("white")))
        p.drawEllipse(QPointF(x + 56, 14), 4, 4)
        p.drawText(QPointF(x + 64, 18), "rejected")


# ----- the window
class LearningWindow(QDialog):
    """`runner`: the main window's NightRunner (one night at a time). `base_model`: model id →
    GGUF path (the registry's, resolved off the UI thread). `current_model`: the settings'
    model id, for "Use base model"."""

    def __init__(self, runner, current_model: Callable[[], str],
                 base_model: Callable[[str], Path] | None = None, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.current_model = current_model
        self.base_model = base_model or _registry_path
        self.history: list[dict] = []
        self._switching = False
        self.setWindowTitle("Learning — what Hearth learnt from your plans and answers")
        self.setObjectName("learningWindow")
        self.resize(900, 620)
        layout = QVBoxLayout(self)
        self.active_label = QLabel(objectName="activeAdapter", wordWrap=True)
        self.active_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.active_label)
        self.chart = ScoresChart(self)
        layout.addWidget(self.chart)
        self.model = NightsTableModel(self)
        self.table = QTableView(objectName="nightsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)  # one line a night; the whole reason is in the tooltip
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)

        row = QHBoxLayout()
        self.use_button = QPushButton("Use this adapter", objectName="useAdapter")
        self.base_button = QPushButton("Use base model", objectName="useBase")
        self.learn_button = QPushButton("Learn now", objectName="learnNow")
        self.cancel_button = QPushButton("Cancel", objectName="cancelNight")
        for b in (self.use_button, self.base_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.learn_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        progress_row = QHBoxLayout()
        self.stage_label = QLabel(objectName="nightStage")
        self.progress = QProgressBar(objectName="nightProgress", minimumWidth=340,
                                     maximumWidth=440)
        self.progress.setRange(0, 100)
        progress_row.addWidget(self.stage_label, 1)
        progress_row.addWidget(self.progress)
        layout.addLayout(progress_row)
        self.status = QLabel(objectName="learningStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)

        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.use_button.clicked.connect(self.use_selected)
        self.base_button.clicked.connect(lambda: self.use(None))
        self.learn_button.clicked.connect(self.learn_now)
        self.cancel_button.clicked.connect(self.runner.cancel)
        runner.started.connect(self._on_started)
        runner.event.connect(self._on_event)
        runner.finished.connect(self._on_finished)
        runner.paused_changed.connect(self._on_paused)
        self.refresh()
        self._show_running(runner.running)
        if runner.running and runner.last_event:
            self._on_event(runner.last_event)

    # ----- reading the history
    def refresh(self) -> None:
        from sync.learning import nightly

        try:
            self.history = nightly.history()
            roles = nightly.active_roles()
        except (OSError, ValueError) as exc:  # a damaged history.jsonl: say so, keep the window
            self.history, roles = [], dict.fromkeys(ROLES)
            self._say(f"The learning history could not be read: {exc}", error=True)
        chosen = (self.selected() or {}).get("night")
        self.model.roles = roles
        self.model.set_rows(list(reversed(self.history)))  # newest first
        for row, record in enumerate(self.model.rows):  # the selection survives a refresh
            if chosen and record.get("night") == chosen:
                self.table.selectRow(row)
        self.chart.set_history(self.history)
        self.active_label.setText("<b>Now using:</b> " + self.now_using_text())
        self._update_buttons()

    def now_using_text(self, roles: dict[str, Path | None] | None = None) -> str:
        """One adapter (or the base model) for every role: that night in full; otherwise
        'Planning: night …'s adapter · Answers: the base model'."""
        roles = self.model.roles if roles is None else roles
        planner, summarizer = roles.get("planner"), roles.get("summarizer")
        if planner == summarizer or same_file(planner, summarizer):
            return self.active_text(planner)
        return (f"Planning: {self.adapter_text(planner, 'plans')} · "
                f"Answers: {self.adapter_text(summarizer, 'answers')}")

    def _record_of(self, adapter: Path | str) -> dict | None:
        return next((r for r in reversed(self.history) if same_file(r.get("adapter"), adapter)),
                    None)

    def _unusable(self, record: dict, adapter: Path | str, verb: str) -> str:
        """Why the app runs the base model despite this adapter ('' when it runs it)."""
        model = record.get("model")
        if model and model != self.current_model():
            return f" (trained for {model}; with {self.current_model()} the base model {verb})"
        if not Path(adapter).is_file():
            return f" (its file is gone: the base model {verb})"
        return ""

    def active_text(self, active: Path | None) -> str:
        if active is None:
            return "Base model (no adapter)"
        record = self._record_of(active)
        if record is None:
            return f"Adapter {Path(active).name} (not in the learning history)"
        return describe_night(record) + self._unusable(record, active, "answers")

    def adapter_text(self, adapter: Path | None, verb: str = "answers") -> str:
        """A role's adapter in a few words: "night 2026-12-01 03:10's adapter"."""
        if adapter is None:
            return "the base model"
        record = self._record_of(adapter)
        if record is None:
            return f"adapter {Path(adapter).name} (not in the learning history)"
        return (f"night {night_time(record.get('night', ''))}'s adapter"
                + self._unusable(record, adapter, verb))

    def selected(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def _update_buttons(self, *_args) -> None:
        record = self.selected()
        idle = not self._switching
        self.use_button.setEnabled(idle and bool(record and record.get("adapter")))
        self.base_button.setEnabled(idle and any(self.model.roles.values()))
        self.use_button.setToolTip("" if record is None or record.get("adapter") else
                                   "This night has no adapter (it did not train).")

    # ----- switching adapters
    def use_selected(self) -> None:
        record = self.selected()
        if record and record.get("adapter"):
            self.use(record)

    def use(self, record: dict | None) -> None:
        """Make a night's adapter active (None: the base model alone), checked and switched
        off the UI thread; a refused adapter leaves the active one as it was."""
        from sync.learning import nightly

        night = record.get("night") if record else None
        model = (record.get("model") if record else None) or self.current_model()
        what = f"night {night_time(night)}'s adapter" if night else "the base model"
        self._switching = True
        self._update_buttons()
        self._say(f"Switching to {what}…")

        def work():
            nightly.rollback(night, self.base_model(model))

        def done(_result):
            self._switching = False
            self.refresh()
            self._say(f"Now using {what}. The next answer uses it.")

        def failed(exc: BaseException):
            self._switching = False
            self.refresh()
            self._say(f"Could not switch to {what}: {exc} Still using: "
                      f"{self.now_using_text()}", error=True)

        run_in_background(self, work, done, failed)

    # ----- a night
    def learn_now(self) -> None:
        try:
            started = self.runner.start("Learn now")
        except Exception as exc:  # noqa: BLE001 - the process could not start: say why
            self._say(f"Learning could not start: {exc}", error=True)
            return
        if not started:
            self._say("A night is already running; only one runs at a time.")

    def _show_running(self, running: bool) -> None:
        self.learn_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if not running:
            self.stage_label.clear()

    def _on_started(self, why: str) -> None:
        self._show_running(True)
        self.progress.setValue(0)
        self.stage_label.setText("Starting the night…" if why == "Learn now"
                                 else "An automatic night started…")
        self._say("")

    def _on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "stage":
            stage = event.get("stage", "")
            self.stage_label.setText(f"{stage.capitalize()}: {event.get('message', '')}")
        elif kind == "progress":
            self.progress.setValue(round(100 * float(event.get("fraction") or 0)))
            message = event.get("message")
            self.progress.setFormat(f"{message} · %p%" if message else "%p%")

    def _on_paused(self, paused: bool) -> None:
        if paused:
            self.stage_label.setText(self.stage_label.text().split(" (paused")[0]
                                     + " (paused while Hearth answers)")
        else:
            self.stage_label.setText(self.stage_label.text().split(" (paused")[0])

    def _on_finished(self, event: dict) -> None:
        self._show_running(False)
        self.refresh()
        self._say(result_text(event), error=event.get("event") == "error"
                  and not event.get("cancelled"))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")


def _registry_path(model_id: str) -> Path:
    from agent.model_registry import get_model

    return get_model(model_id).resolve()
