"""Settings: which local model, how many threads, how much context, where data lives; and,
on its own tab, cloud assist (off by default)."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget)

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

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        self._base = settings

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
        })
