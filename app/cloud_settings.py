"""Settings → Cloud assist: on/off (off by default), the OpenAI-compatible endpoint and model,
its API key (to the OS keyring via sync.keys, never into Settings or the database), a test of
the connection that runs off the UI thread, the policy and the training consent."""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QWidget)

from shiboken6 import isValid

from memory.settings import Settings

POLICIES = (("Never send anything", "never"),
            ("Ask me each time (preview every request)", "ask"),
            ("When the local plan fails or I ask (\u201cask the cloud\u201d)", "fallback"))
INTRO = ("Off by default. When on, Hearth may send an anonymized request to this endpoint "
         "after the local answer, as the policy below says: names, e-mail addresses and numbers "
         "are replaced by placeholders, attached files never leave, and every request is kept in "
         "Cloud \u2192 Outbox. Any OpenAI-compatible server works.")


def key_place_text(base_url: str) -> str:
    """Where the endpoint's key is (or would go), in the user's words; never the key."""
    from sync import keys
    from sync.cloud import check_base_url

    in_keyring = keys.store_name().startswith("system keyring")
    where = ("in the system keyring" if in_keyring
             else "in a private file (no keyring on this system)")
    try:
        url = check_base_url(base_url)
    except ValueError:
        return f"Keys are stored {where}."
    try:
        has_key = keys.get_api_key(url) is not None
    except keys.KeyStoreError as exc:
        return str(exc)
    if not has_key:
        return f"No key stored for this endpoint (a key would be stored {where})."
    return f"Key stored {where}."


class CloudSettingsTab(QWidget):
    def __init__(self, settings: Settings, cloud=None, parent=None):
        super().__init__(parent)
        self.setObjectName("cloudTab")
        self.cloud = cloud
        self._base = settings
        self._test_thread = None
        form = QFormLayout(self)
        intro = QLabel(INTRO, objectName="cloudIntro")
        intro.setWordWrap(True)
        form.addRow(intro)

        self.enabled = QCheckBox("Use cloud assist", objectName="cloudEnabled")
        self.enabled.setChecked(settings.cloud_enabled)
        form.addRow("Cloud assist", self.enabled)

        self.base_url = QLineEdit(settings.cloud_base_url, objectName="cloudBaseUrl",
                                  placeholderText="http://127.0.0.1:8000/v1")
        form.addRow("Endpoint (base URL)", self.base_url)
        self.model = QLineEdit(settings.cloud_model, objectName="cloudModel",
                               placeholderText="the model name the endpoint serves")
        form.addRow("Model", self.model)

        key_row = QWidget()
        key_layout = QHBoxLayout(key_row)
        key_layout.setContentsMargins(0, 0, 0, 0)
        self.api_key = QLineEdit(objectName="cloudApiKey", echoMode=QLineEdit.EchoMode.Password,
                                 placeholderText="leave empty to keep the stored key")
        self.forget_key = QPushButton("Forget key", objectName="cloudForgetKey")
        key_layout.addWidget(self.api_key, 1)
        key_layout.addWidget(self.forget_key)
        form.addRow("API key", key_row)
        self.key_place = QLabel(objectName="cloudKeyPlace")
        self.key_place.setStyleSheet("color: #555555")
        self.key_place.setWordWrap(True)
        form.addRow("", self.key_place)

        self.timeout = QDoubleSpinBox(objectName="cloudTimeout", minimum=1.0, maximum=600.0,
                                      decimals=0, suffix=" s")
        self.timeout.setValue(settings.cloud_timeout_s)
        form.addRow("Wait for a reply at most", self.timeout)

        test_row = QWidget()
        test_layout = QHBoxLayout(test_row)
        test_layout.setContentsMargins(0, 0, 0, 0)
        self.test_button = QPushButton("Test connection", objectName="cloudTest")
        self.test_button.setEnabled(cloud is not None)
        self.test_result = QLabel(objectName="cloudTestResult")
        self.test_result.setWordWrap(True)
        test_layout.addWidget(self.test_button)
        test_layout.addWidget(self.test_result, 1)
        form.addRow("", test_row)

        self.policy = QComboBox(objectName="cloudPolicy")
        for label, value in POLICIES:
            self.policy.addItem(label, value)
        self.policy.setCurrentIndex(max(0, self.policy.findData(settings.cloud_policy)))
        form.addRow("When to ask the cloud", self.policy)

        self.consent = QCheckBox("The cloud's (anonymized) answers may train the local model",
                                 objectName="cloudConsent")
        self.consent.setChecked(settings.cloud_training_consent)
        form.addRow("Learning", self.consent)

        self.error = QLabel(objectName="cloudError")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        form.addRow(self.error)

        self.base_url.editingFinished.connect(self._show_key_place)
        self.forget_key.clicked.connect(self._forget_key)
        self.test_button.clicked.connect(self.test_connection)
        self._show_key_place()

    def values(self) -> dict:
        """The cloud fields of Settings (never the key)."""
        return {"cloud_enabled": self.enabled.isChecked(),
                "cloud_base_url": self.base_url.text().strip().rstrip("/"),
                "cloud_model": self.model.text().strip(),
                "cloud_policy": self.policy.currentData(),
                "cloud_timeout_s": float(self.timeout.value()),
                "cloud_training_consent": self.consent.isChecked()}

    def _settings(self) -> Settings:
        return self._base.model_copy(update=self.values())

    def _show_key_place(self) -> None:
        self.key_place.setText(key_place_text(self.base_url.text()))

    def _checked_url(self) -> str | None:
        from sync.cloud import check_base_url

        try:
            return check_base_url(self.base_url.text())
        except ValueError as exc:
            self.error.setText(str(exc))
            return None

    def commit(self) -> bool:
        """On OK: checks what cloud assist needs and stores a typed key. False (with the reason
        shown) keeps the dialog open."""
        from sync import keys

        self.error.clear()
        values = self.values()
        if values["cloud_base_url"] or values["cloud_enabled"] or self.api_key.text().strip():
            if self._checked_url() is None:
                return False
        if values["cloud_enabled"] and not values["cloud_model"]:
            self.error.setText("Name the model the endpoint should use.")
            return False
        key = self.api_key.text().strip()
        if key:
            try:
                keys.set_api_key(values["cloud_base_url"], key)
            except keys.KeyStoreError as exc:
                self.error.setText(str(exc))
                return False
            self.api_key.clear()
            if self.cloud is not None:
                self.cloud.assist.forget_client()  # the next send reads the new key
            self._show_key_place()
        return True

    def _forget_key(self) -> None:
        from sync import keys

        url = self._checked_url()
        if url is None:
            return
        try:
            found = keys.delete_api_key(url)
        except keys.KeyStoreError as exc:
            self.error.setText(str(exc))
            return
        if self.cloud is not None:
            self.cloud.assist.forget_client()
        self.error.clear()
        self._show_key_place()
        self.test_result.setText("Key forgotten." if found else "There was no key to forget.")

    # ----- test connection, off the UI thread
    def test_connection(self) -> None:
        self.error.clear()
        if self.cloud is None or self._checked_url() is None:
            return
        settings = self._settings()
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("color: #555555")
        self.test_result.setText(f"Testing {settings.cloud_base_url}…")
        self._test_thread = self.cloud.test_connection(
            settings, self._test_done, self._test_failed,
            api_key=self.api_key.text().strip() or None)

    def _test_done(self, text: str) -> None:
        if not isValid(self):  # the dialog closed while the test ran
            return
        self.test_button.setEnabled(True)
        self.test_result.setStyleSheet("color: #2e7d32")
        self.test_result.setText(text)

    def _test_failed(self, exc: BaseException) -> None:
        if not isValid(self):
            return
        self.test_button.setEnabled(True)
        self.test_result.setStyleSheet("color: #b00020")
        self.test_result.setText(str(exc) or type(exc).__name__)
