"""Switch off every library's habit of phoning home, before any of them is imported."""

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma
    "YOLO_OFFLINE": "1",  # ultralytics
    "DO_NOT_TRACK": "1",
}


def apply() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
