"""One owner for every path Hearth writes. Tests point HEARTH_HOME at a temporary folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HOME_ENV = "HEARTH_HOME"
MODELS_ENV = "HEARTH_MODELS_DIR"


def user_dir() -> Path:
    """The data folder: $HEARTH_HOME, else the platform's user data dir. Private (0700)."""
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("hearth", appauthor=False))
    _ensure_private_dir(path)
    return path


def models_dir() -> Path:
    """Assembled model files (hundreds of MB): $HEARTH_MODELS_DIR, else user_dir()/models."""
    override = os.environ.get(MODELS_ENV)
    path = Path(override).expanduser() if override else user_dir() / "models"
    _ensure_private_dir(path)
    return path


def bundled_models_dir() -> Path:
    """Models built at set-up time (installer/), kept inside the Python environment like
    package data, so every data folder (and every test's HEARTH_HOME) finds them."""
    return Path(sys.prefix) / "share" / "hearth" / "models"


def database_path() -> Path:
    return user_dir() / "hearth.db"


def attachments_dir() -> Path:
    path = user_dir() / "attachments"
    _ensure_private_dir(path)
    return path


def _ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
