"""Settings: which local model, how many threads, how much context, where data lives; and,
on its own tab, cloud assist (off by default)."""

from __future__ import annotations

from PySide6.QtCore import QTime, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QTabWidget,
                               QTimeEdit, QVBoxLayout, QWidget)

from agent.model_registry import load_registry
from memory import paths
from memory.settings import CONTEXT_SIZES, Settings


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent=None, cloud=None):
        """`cloud`: the app's CloudQueue, for "Test connection" (None: the button is off)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        outer = QVBoxLayout(self)
        self.tabs = QTabWidget(objectName="settingsTabs")
        outer.addWidget(self.tabs)
        general = QWidget()
        form = QFormLayout(general)
        self.tabs.addTab(general, "General")

        self.model = QComboBox(objectName="modelCombo")
        for spec in load_registry().values():
            label = f"{spec.title} — {spec.size / 1e6:.0f} MB"
            if not spec.installed:
                label += f" (not installed: pip install 'hearth[{spec.extra}]')"
            self.model.addItem(label, spec.id)
            item = self.model.model().item(self.model.count() - 1)
            item.setEnabled(spec.installed)
            item.setToolTip(spec.role)
        self.model.setCurrentIndex(max(0, self.model.findData(settings.model)))
        form.addRow("Model", self.model)

        self.threads = QSpinBox(objectName="threadsSpin", minimum=1, maximum=64)
        self.threads.setValue(settings.n_threads)
        form.addRow("CPU threads", self.threads)

        self.context = QComboBox(objectName="contextCombo")
        for size in CONTEXT_SIZES:
            self.context.addItem(f"{size:,} tokens", size)
        self.context.setCurrentIndex(max(0, self.context.findData(settings.n_ctx)))
        form.addRow("Context size", self.context)

        self.max_tokens = QSpinBox(objectName="maxTokensSpin", minimum=16, maximum=4096,
                                   singleStep=64)
        self.max_tokens.setValue(settings.max_tokens)
        form.addRow("Longest answer (tokens)", self.max_tokens)

        self.speech = QComboBox(objectName="speechCombo")
        self.speech.addItem("English, fast (Whisper tiny.en)", "english-fast")
        self.speech.addItem("Any language (Whisper base)", "multilingual")
        self.speech.setCurrentIndex(max(0, self.speech.findData(settings.speech_model)))
        form.addRow("Speech recognition", self.speech)

        self.use_memory = QCheckBox("Use and add to my personal memory", objectName="useMemory")
        self.use_memory.setChecked(settings.use_memory)
        form.addRow("Memory", self.use_memory)
        self.propose = QComboBox(objectName="proposeCombo")
        for label, value in (("Ask me first", "ask"), ("Automatically", "auto"), ("Never", "off")):
            self.propose.addItem(label, value)
        self.propose.setCurrentIndex(max(0, self.propose.findData(settings.propose_memories)))
        form.addRow("Remember facts I mention", self.propose)

        folder = str(paths.user_dir())
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel(folder, objectName="dataFolderLabel")
        label.setToolTip(f"Set {paths.HOME_ENV} to keep Hearth's data elsewhere.")
        open_button = QPushButton("Open")
        open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(folder)))
        layout.addWidget(label, 1)
        layout.addWidget(open_button)
        form.addRow("Data folder", row)

        from app.cloud_settings import CloudSettingsTab

        self.cloud_tab = CloudSettingsTab(settings, cloud, self)
        self.tabs.addTab(self.cloud_tab, "Cloud assist")
        self.learning_tab = self._learning_tab(settings)
        self.tabs.addTab(self.learning_tab, "Learning")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        self._base = settings

    def _learning_tab(self, settings: Settings) -> QWidget:
        """When automatic nights of learning may start (Learning → Learn now runs one any
        time)."""
        tab = QWidget()
        outer = QVBoxLayout(tab)
        group = QGroupBox("Learning", objectName="learningGroup")
        form = QFormLayout(group)
        self.learning_auto = QCheckBox("Learn from my plans at night, automatically",
                                       objectName="learningAuto")
        self.learning_auto.setChecked(settings.learning_auto)
        form.addRow(self.learning_auto)
        start, _, end = settings.learning_hours.partition("-")
        hours = QWidget()
        row = QHBoxLayout(hours)
        row.setContentsMargins(0, 0, 0, 0)
        self.learning_from = QTimeEdit(QTime.fromString(start, "HH:mm"), objectName="learningFrom",
                                       displayFormat="HH:mm")
        self.learning_to = QTimeEdit(QTime.fromString(end, "HH:mm"), objectName="learningTo",
                                     displayFormat="HH:mm")
        row.addWidget(self.learning_from)
        row.addWidget(QLabel("to"))
        row.addWidget(self.learning_to)
        row.addStretch(1)
        form.addRow("Between", hours)
        self.learning_power = QCheckBox("Only on mains power (not on battery)",
                                        objectName="learningPowerOnly")
        self.learning_power.setChecked(settings.learning_power_only)
        form.addRow(self.learning_power)
        self.learning_idle = QSpinBox(objectName="learningIdle", minimum=0, maximum=24 * 60,
                                      suffix=" min")
        self.learning_idle.setValue(settings.learning_idle_minutes)
        self.learning_idle.setMaximumWidth(160)
        form.addRow("After I have been away for", self.learning_idle)
        self.learning_memory = QSpinBox(objectName="learningMemory", minimum=1024,
                                        maximum=262144, singleStep=512, suffix=" MiB")
        self.learning_memory.setValue(settings.learning_memory_mib)
        self.learning_memory.setMaximumWidth(160)
        form.addRow("Memory the training may use", self.learning_memory)
        note = QLabel("A night trains in a low-priority process and pauses whenever Hearth "
                      "answers. Its adapter is kept only when it plans your requests better "
                      "without getting worse at general ones; Learning → Learning… shows every "
                      "night and switches back in one click.", wordWrap=True)
        note.setStyleSheet("color: #555555")
        outer.addWidget(group)
        outer.addWidget(note)
        outer.addStretch(1)
        for widget in (self.learning_from, self.learning_to, self.learning_power,
                       self.learning_idle):
            self.learning_auto.toggled.connect(widget.setEnabled)
            widget.setEnabled(settings.learning_auto)
        return tab

    def accept(self) -> None:
        """The API key goes to the keyring here; a bad endpoint or a keyring error keeps the
        dialog open on the cloud tab, with the reason, and loses nothing typed."""
        if not self.cloud_tab.commit():
            self.tabs.setCurrentWidget(self.cloud_tab)
            return
        super().accept()

    def result_settings(self) -> Settings:
        return self._base.model_copy(update={
            **self.cloud_tab.values(),
            "model": self.model.currentData(),
            "n_threads": self.threads.value(),
            "n_ctx": self.context.currentData(),
            "max_tokens": self.max_tokens.value(),
            "speech_model": self.speech.currentData(),
            "use_memory": self.use_memory.isChecked(),
            "propose_memories": self.propose.currentData(),
            "learning_auto": self.learning_auto.isChecked(),
            "learning_hours": f"{self.learning_from.time().toString('HH:mm')}-"
                              f"{self.learning_to.time().toString('HH:mm')}",
            "learning_power_only": self.learning_power.isChecked(),
            "learning_idle_minutes": self.learning_idle.value(),
            "learning_memory_mib": self.learning_memory.value(),
        })
