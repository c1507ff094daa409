"""`hearth expert NAME FILE` and `hearth models` as a user runs them, on the real weights."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_model

ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"


def hearth(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def expert(name, path):
    result = hearth("expert", name, str(path))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_speech_to_text_on_synthesized_speech(tmp_path):
    wav = tmp_path / "memo.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav),
                    "Remember to water the tomatoes on Sunday."], check=True)
    out = expert("speech-to-text", wav)
    assert out["language"] == "en" and out["segments"]
    words = out["text"].lower()
    assert "tomato" in words and "sunday" in words  # tiny.en heard "walk in the tomato" once


def test_object_detection_counts_the_people_and_the_bus():
    labels = [o["label"] for o in expert("object-detection", ASSETS / "bus.jpg")["objects"]]
    assert 3 <= labels.count("person") <= 5 and labels.count("bus") == 1


def test_pose_estimation_finds_standing_people():
    people = expert("pose-estimation", ASSETS / "bus.jpg")["people"]
    assert len(people) >= 3 and sum(p["posture"] == "standing" for p in people) >= 3
    assert all(len(p["keypoints"]) == 17 for p in people)


def test_a_broken_file_is_a_clear_error_not_a_traceback(tmp_path):
    broken = tmp_path / "photo.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = hearth("expert", "object-detection", str(broken))
    assert result.returncode == 1 and "photo.jpg" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = hearth("expert", "mind-reading", str(broken))
    assert unknown.returncode == 1 and "Unknown expert" in unknown.stderr


def test_models_verify_checks_every_expert_weight():
    result = hearth("models", "--verify")
    assert result.returncode == 0, result.stdout
    for name in ("speech-to-text", "object-detection", "pose-estimation", "face-recognition"):
        assert f"{name}:" in result.stdout
    assert "BROKEN" not in result.stdout
