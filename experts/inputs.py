"""Checking and decoding input files before any model sees them.

Every failure becomes an InputError that says what is wrong with which file, so a bad
attachment costs the user one clear message and nothing else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from experts.base import InputError

IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".flac", ".webm", ".aac", ".mp4"}
MAX_IMAGE_PIXELS = 60_000_000  # ~ a 10,000 × 6,000 photo; decompression bombs stop here
MAX_AUDIO_SECONDS = 60 * 60


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def kind_of(path: str | Path) -> str | None:
    """'audio', 'image' or None, by file name: what the user attached, before any decoding."""
    suffix = Path(path).suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return None


def check_file(path: str | Path, max_bytes: int) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{p.name}: file not found ({p}).")
    if not p.is_file():
        raise InputError(f"{p.name}: not a file.")
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"{p.name}: the file is empty.")
    if size > max_bytes:
        raise InputError(f"{p.name}: the file is {human_size(size)}; the limit is "
                         f"{human_size(max_bytes)}.")
    return p


def load_image(path: str | Path, max_bytes: int):
    """An RGB PIL image, fully decoded (so truncation is caught here, not mid-model)."""
    from PIL import Image, UnidentifiedImageError

    p = check_file(path, max_bytes)
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(p) as img:
            if img.format not in IMAGE_FORMATS:
                raise InputError(f"{p.name}: {img.format} images are not supported "
                                 f"(use {', '.join(sorted(IMAGE_FORMATS))}).")
            img.load()
            from PIL import ImageOps

            return ImageOps.exif_transpose(img).convert("RGB")
    except UnidentifiedImageError as exc:
        raise InputError(f"{p.name}: not an image Hearth can read.") from exc
    except Image.DecompressionBombError as exc:
        raise InputError(f"{p.name}: the image is too large ({exc}).") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{p.name}: the image is damaged or truncated ({exc}).") from exc
    except ImportError as exc:  # a library patched Image.open to fetch a decoder (ultralytics)
        raise InputError(f"{p.name}: not an image Hearth can read.") from exc


def load_audio(path: str | Path, max_bytes: int, sampling_rate: int = 16000) -> np.ndarray:
    """Mono float32 samples at `sampling_rate`, decoded with PyAV (ffmpeg inside the wheel)."""
    p = check_file(path, max_bytes)
    from faster_whisper.audio import decode_audio

    try:
        audio = decode_audio(str(p), sampling_rate=sampling_rate)
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds; all mean "can't decode"
        raise InputError(f"{p.name}: not audio Hearth can decode ({type(exc).__name__}: {exc}).") from exc
    if audio.size == 0:
        raise InputError(f"{p.name}: the audio has no samples.")
    if audio.size / sampling_rate > MAX_AUDIO_SECONDS:
        raise InputError(f"{p.name}: the audio is longer than {MAX_AUDIO_SECONDS // 60} minutes.")
    return audio


def human_size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
