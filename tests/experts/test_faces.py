"""Face recognition on dlib's real models and real photos.

The Obama and Biden photos (tests/experts/data/faces/, see README.md there) are two
different photos of the same man plus another man, so "enrolled from one photo, recognised
in another" is tested on genuinely different pictures, not on a crop of the same one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from experts.base import ExpertError, InputError
from experts.faces import MATCH_DISTANCE, MODEL_ID, Face, FaceRecognition, match
from memory.faces import FaceStore

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data" / "faces"
PORTRAIT = DATA / "obama-portrait.jpg"  # enrolment photo
SPEECH = DATA / "obama-speech.jpg"  # the same man in another photo, years apart
BIDEN = DATA / "biden.jpg"
ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"


@pytest.fixture(scope="module")
def models():
    """Loaded once: each test gets its own database but shares the weights."""
    return FaceRecognition(db=object()).load()


@pytest.fixture
def faces(db, models):
    expert = FaceRecognition(db=db)
    expert._model = models
    yield expert
    expert.close()


def side_by_side(paths: list[Path], out: Path) -> Path:
    images = [Image.open(p).convert("RGB") for p in paths]
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)))
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width
    canvas.save(out, quality=90)
    return out


@pytest.fixture
def no_faces(tmp_path) -> Path:
    """The top of the bus photo: a real street scene with no one in it."""
    out = tmp_path / "bus-top.jpg"
    Image.open(ASSETS / "bus.jpg").crop((0, 0, 810, 380)).save(out)
    return out


def test_enrol_then_recognise_in_another_photo(faces):
    face_id = faces.enroll("Barack Obama", PORTRAIT)
    assert isinstance(face_id, int)
    result = faces(image=SPEECH)
    (face,) = result.data["faces"]
    assert face["name"] == "Barack Obama"
    assert 1 - MATCH_DISTANCE < face["similarity"] <= 1.0  # measured 0.64 (distance 0.36)
    x1, y1, x2, y2 = face["box"]
    assert 90 <= x1 < x2 <= 320 and 90 <= y1 < y2 <= 320  # the face, not the flag or the mic
    with Image.open(result.annotated) as annotated:
        assert annotated.format == "JPEG" and annotated.size == Image.open(SPEECH).size
    json.dumps(result.to_json())


def test_an_unenrolled_face_has_no_name(faces):
    faces.enroll("Barack Obama", PORTRAIT)
    (face,) = faces(image=BIDEN).data["faces"]
    assert face["name"] is None
    assert face["similarity"] < 1 - MATCH_DISTANCE  # measured 0.16 (distance 0.84)
    (face,) = faces(image=ASSETS / "zidane.jpg").data["faces"]  # HOG finds Ancelotti only
    assert face["name"] is None


def test_nobody_enrolled(faces):
    (face,) = faces(image=SPEECH).data["faces"]
    assert face == {"box": face["box"], "name": None, "similarity": 0.0}


def test_two_people_in_one_photo(faces, tmp_path):
    pair = side_by_side([SPEECH, BIDEN], tmp_path / "pair.jpg")
    faces.enroll("Barack Obama", PORTRAIT)
    found = sorted(faces(image=pair).data["faces"], key=lambda f: f["box"][0])
    assert [f["name"] for f in found] == ["Barack Obama", None]
    faces.enroll("Joe Biden", BIDEN)
    found = sorted(faces(image=pair).data["faces"], key=lambda f: f["box"][0])
    assert [f["name"] for f in found] == ["Barack Obama", "Joe Biden"]


@pytest.mark.parametrize("change", ["mirrored", "half-size-jpeg-q40", "darker", "brighter",
                                    "greyscale", "rotated-10"])
def test_recognised_after_changes_to_the_photo(faces, tmp_path, change):
    image = Image.open(SPEECH).convert("RGB")
    image = {
        "mirrored": lambda: ImageOps.mirror(image),
        "half-size-jpeg-q40": lambda: image.resize((image.width // 2, image.height // 2)),
        "darker": lambda: ImageEnhance.Brightness(image).enhance(0.5),
        "brighter": lambda: ImageEnhance.Brightness(image).enhance(1.5),
        "greyscale": lambda: image.convert("L"),
        "rotated-10": lambda: image.rotate(10, expand=True),
    }[change]()
    path = tmp_path / f"{change}.jpg"
    image.save(path, quality=40 if "q40" in change else 90)
    faces.enroll("Barack Obama", PORTRAIT)
    (face,) = faces(image=path).data["faces"]
    assert face["name"] == "Barack Obama", face


def test_forgotten_people_are_not_named(faces, db):
    faces.enroll("Barack Obama", PORTRAIT)
    faces.enroll("Barack  Obama ", SPEECH)  # a second sample, same person once normalised
    assert [(p.name, p.samples) for p in FaceStore(db).people()] == [("Barack Obama", 2)]
    assert FaceStore(db).forget("Barack Obama") == 2
    (face,) = faces(image=SPEECH).data["faces"]
    assert face["name"] is None and face["similarity"] == 0.0


def test_enrolment_refuses_a_group_photo(faces, db, tmp_path):
    group = side_by_side([PORTRAIT, SPEECH, BIDEN], tmp_path / "group.jpg")
    with pytest.raises(InputError, match=r"^found 3 faces in group\.jpg; enrol from a photo "
                                         r"with one face\.$"):
        faces.enroll("Someone", group)
    assert FaceStore(db).list() == []


def test_enrolment_refuses_a_photo_without_a_face(faces, db, no_faces):
    with pytest.raises(InputError, match="found no face in bus-top.jpg"):
        faces.enroll("Bus", no_faces)
    assert FaceStore(db).list() == []


def test_enrolment_needs_a_name(faces):
    with pytest.raises(ExpertError, match="needs a name"):
        faces.enroll("   ", PORTRAIT)


def test_enrolment_records_where_the_face_came_from(faces, db):
    faces.enroll("Barack Obama", PORTRAIT)
    (record,) = FaceStore(db).list()
    assert (record.model, record.source) == (MODEL_ID, "obama-portrait.jpg")
    names, matrix = FaceStore(db).embeddings(model=MODEL_ID)
    assert names == ["Barack Obama"] and matrix.shape == (1, 128)


def test_no_faces_is_an_empty_list(faces, no_faces, tmp_path):
    result = faces(image=no_faces)
    assert result.data == {"faces": []} and result.annotated is None
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)).save(noise)
    assert faces(image=noise).data == {"faces": []}


def test_small_faces_are_found(faces):
    # The two faces in bus.jpg are ~43 px wide: found only because the detector upsamples.
    assert len(faces(image=ASSETS / "bus.jpg").data["faces"]) == 2


def test_huge_photo_boxes_are_in_its_own_pixels(faces, tmp_path):
    big = tmp_path / "big.jpg"
    Image.open(SPEECH).resize((412 * 5, 560 * 5)).save(big)  # 2060 x 2800, detected at 1280
    faces.enroll("Barack Obama", PORTRAIT)
    (face,) = faces(image=big).data["faces"]
    (small,) = faces(image=SPEECH).data["faces"]
    assert face["name"] == "Barack Obama"
    assert iou(face["box"], [v * 5 for v in small["box"]]) > 0.6  # measured 0.76


def iou(a: list[int], b: list[int]) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return w * h / (area - w * h)


def test_embeddings_of_another_model_are_ignored(faces, db):
    FaceStore(db).add("Stranger", np.ones(64), model="some-other-model")
    (face,) = faces(image=SPEECH).data["faces"]
    assert face["name"] is None


@pytest.mark.parametrize("method", ["run", "enroll"])
def test_bad_inputs(faces, tmp_path, monkeypatch, method):
    def attempt(path):
        return faces(image=path) if method == "run" else faces.enroll("X", path)

    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(InputError, match="empty.jpg: the file is empty"):
        attempt(empty)
    noise = tmp_path / "noise.jpg"
    noise.write_bytes(os.urandom(4096))
    with pytest.raises(InputError, match="noise.jpg: not an image"):
        attempt(noise)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(SPEECH.read_bytes()[: SPEECH.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated.jpg: the image is damaged or truncated"):
        attempt(truncated)
    ppm = tmp_path / "photo.ppm"
    Image.open(SPEECH).save(ppm)
    with pytest.raises(InputError, match="photo.ppm: PPM images are not supported"):
        attempt(ppm)
    with pytest.raises(InputError, match="missing.jpg: file not found"):
        attempt(tmp_path / "missing.jpg")
    monkeypatch.setattr(FaceRecognition, "max_bytes", 10_000)
    with pytest.raises(InputError, match="obama-speech.jpg: the file is 34.8 KB; the limit is 10 KB"):
        attempt(SPEECH)


def test_arguments_are_checked(faces):
    with pytest.raises(ExpertError, match="takes"):
        faces(photo=SPEECH)


def test_missing_weights_name_the_package(monkeypatch):
    monkeypatch.setattr("experts.faces.locate_package_file", lambda module, path: None)
    with pytest.raises(ExpertError, match="pip install face-recognition-models==0.3.0"):
        FaceRecognition(db=object()).load()


def test_registry_hands_it_the_database(db):
    from experts.registry import ExpertRegistry

    registry = ExpertRegistry(db)
    expert = registry.get("face-recognition")
    assert isinstance(expert, FaceRecognition) and expert.db is db and not expert.loaded
    registry.close()


def test_without_a_database_it_opens_hearths(hearth_home):
    expert = FaceRecognition()
    assert expert.db.path == hearth_home / "hearth.db"
    expert.db.close()


def test_close_drops_the_model(db):
    expert = FaceRecognition(db=db)
    expert(image=BIDEN)
    assert expert.loaded
    expert.close()
    assert not expert.loaded


def test_importing_loads_no_model_library():
    code = ("import sys, experts.registry, experts.faces; "
            "heavy = {'dlib', '_dlib_pybind11', 'torch', 'PIL.Image'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)


def fake_face(*values: float) -> Face:
    return Face([0, 0, 1, 1], np.array(values, dtype=np.float32))


def test_match_names_a_person_once_per_photo():
    names = ["Alice", "Alice", "Bob"]
    known = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0]], dtype=np.float32)
    found = [fake_face(0.3, 0.0), fake_face(0.05, 0.0), fake_face(1.0, 1.2), fake_face(5, 5)]
    result = match(found, names, known)
    assert [r["name"] for r in result] == [None, "Alice", "Bob", None]
    assert [r["similarity"] for r in result] == pytest.approx([0.8, 0.95, 0.8, 0.0], abs=1e-4)


def test_cli_end_to_end(tmp_path):
    # Each call is a fresh process (~2 s of SQLAlchemy and Alembic imports on its own).
    def hearth(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, text=True,
                              capture_output=True, timeout=120)
        assert (done.returncode == 0) == ok, done.stderr
        return done

    assert "Enrolled Barack Obama (face #1)." in hearth("faces", "enroll", "Barack Obama",
                                                        str(PORTRAIT)).stdout
    group = side_by_side([SPEECH, BIDEN], tmp_path / "pair.jpg")
    refused = hearth("faces", "enroll", "Both", str(group), ok=False)
    assert "found 2 faces in pair.jpg; enrol from a photo with one face" in refused.stderr
    assert hearth("faces", "list").stdout == "Barack Obama\t1 photo(s)\n"
    out = json.loads(hearth("expert", "face-recognition", str(group)).stdout)
    assert out["expert"] == "face-recognition" and Path(out["annotated"]).is_file()
    found = sorted(out["faces"], key=lambda f: f["box"][0])
    assert [f["name"] for f in found] == ["Barack Obama", None]
    assert "Forgot 1 photo(s) of Barack Obama." in hearth("faces", "forget", "Barack Obama").stdout
    assert "No faces enrolled" in hearth("faces", "list").stdout
    hearth("faces", "forget", "Barack Obama", ok=False)
