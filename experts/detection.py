"""Object detection: NanoDet (80 COCO classes) run with onnxruntime on the CPU.

The ONNX file is built once at set-up by installer/build_nanodet.py (no package ships COCO
detector weights); resources/weights/object-detection.yaml holds its hash and the numbers
that preprocessing and decoding need. Decoding and NMS are plain numpy, below.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from experts.annotate import annotated_path, draw_boxes
from experts.base import Expert, ExpertError, ExpertResult
from experts.inputs import file_digest, load_image
from memory import paths

BUILD_COMMAND = "python installer/build_nanodet.py"
MAX_CANDIDATES = 1000  # before NMS: bounds its cost on images that light up everywhere
MAX_OBJECTS = 100


@functools.cache
def weights_config() -> dict[str, Any]:
    import yaml

    text = (resources.files("resources") / "weights" / "object-detection.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def model_path() -> Path:
    """The user's models folder first (a build of their own), then the one the set-up made."""
    name = weights_config()["onnx"]["file"]
    candidates = [paths.models_dir() / name, paths.bundled_models_dir() / name]
    return next((c for c in candidates if is_model_built(c)), candidates[-1])


def is_model_built(path: Path) -> bool:
    """The installer records the pinned hash beside the file only after writing it whole."""
    try:
        recorded = path.with_name(path.name + ".sha256").read_text().strip()
    except OSError:
        return False
    return path.is_file() and recorded == weights_config()["onnx"]["sha256"]


@dataclass
class Detector:
    session: Any
    input_name: str
    outputs: list[str]
    # per stride: (index of the class-score output, index of the box-distribution output)
    heads: dict[int, tuple[int, int]]


class ObjectDetection(Expert):
    name = "object-detection"
    description = ("Find everyday objects in a photo (80 COCO classes: people, vehicles, "
                   "animals, furniture, food, electronics...) with a box and confidence each.")
    inputs = {"image": "image"}
    max_bytes = 50 * 1024 * 1024
    timeout_s = 30.0

    @classmethod
    def weights(cls, verify: bool = False) -> list[tuple[str, Path]]:
        from agent.model_registry import sha256_of

        cfg = weights_config()
        path = model_path()
        if not is_model_built(path) or (verify and sha256_of(path) != cfg["onnx"]["sha256"]):
            raise ExpertError(f"{cfg['title']} is not built or damaged at {path}. Build it with: "
                              f"{BUILD_COMMAND} --out {path.parent}")
        return [(f"{cfg['title']}, {cfg['license']}", path)]

    def load(self) -> Detector:
        cfg = weights_config()
        path = model_path()
        if not is_model_built(path):
            raise ExpertError(f"The object-detection model is not built yet ({path} is missing "
                              f"or incomplete). Build it once with: {BUILD_COMMAND} "
                              f"--out {path.parent}")
        import onnxruntime as ort  # heavy; only once the expert is first used

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ExpertError(f"The object-detection model {path} could not be loaded ({exc}). "
                              f"Rebuild it: delete it and run {BUILD_COMMAND}") from exc
        return Detector(session, session.get_inputs()[0].name,
                        [o.name for o in session.get_outputs()],
                        match_heads([o.shape for o in session.get_outputs()], cfg))

    def run(self, image: str) -> ExpertResult:
        path = Path(image).expanduser()
        picture = load_image(path, self.max_bytes)
        objects = self.detect(picture)
        annotated = None
        if objects:
            annotated = draw_boxes(
                picture, [(o["box"], f"{o['label']} {o['confidence']:.2f}") for o in objects],
                annotated_path(file_digest(path), self.name))
        return ExpertResult(self.name, {"objects": objects}, annotated=annotated)

    def detect(self, picture) -> list[dict[str, Any]]:
        """Objects in an RGB PIL image, best first, boxes in its pixels."""
        cfg = weights_config()
        detector = self.model
        size = cfg["input"]["size"]
        tensor = preprocess(picture, size, cfg["input"]["mean"], cfg["input"]["std"])
        raw = detector.session.run(detector.outputs, {detector.input_name: tensor})
        per_stride = {s: (raw[c][0], raw[b][0]) for s, (c, b) in detector.heads.items()}
        boxes, scores, classes = decode(per_stride, size, cfg["reg_max"],
                                        cfg["score_threshold"], cfg["centre_offset"])
        keep = batched_nms(boxes, scores, classes, cfg["iou_threshold"])[:MAX_OBJECTS]
        width, height = picture.size
        scale = np.array([width, height, width, height]) / size
        labels = cfg["labels"]
        objects = []
        for i in keep:
            box = np.clip(boxes[i] * scale, 0, [width, height, width, height])
            objects.append({"label": labels[classes[i]], "confidence": round(float(scores[i]), 3),
                            "box": [round(float(v), 1) for v in box]})
        return objects


def match_heads(shapes: list[list], cfg: dict[str, Any]) -> dict[int, tuple[int, int]]:
    """Which outputs are scores and box distributions of each stride, told apart by shape."""
    size, bins, n_cls = cfg["input"]["size"], 4 * (cfg["reg_max"] + 1), len(cfg["labels"])
    heads = {}
    for stride in cfg["strides"]:
        cells = (size // stride) ** 2
        cls = [i for i, s in enumerate(shapes) if list(s)[1:] == [cells, n_cls]]
        box = [i for i, s in enumerate(shapes) if list(s)[1:] == [cells, bins]]
        if len(cls) != 1 or len(box) != 1:
            raise ExpertError(f"The object-detection model's outputs {shapes} do not match "
                              f"its configuration. Rebuild it with: {BUILD_COMMAND}")
        heads[stride] = (cls[0], box[0])
    return heads


def preprocess(picture, size: int, mean: list[float], std: list[float]) -> np.ndarray:
    """A plain resize (no letterbox) to size×size, BGR, normalised, NCHW float32.

    Letterboxing lowered scores and loosened boxes on the reference photos."""
    from PIL import Image

    rgb = np.asarray(picture.resize((size, size), Image.BILINEAR), dtype=np.float32)
    bgr = rgb[..., ::-1]
    normalised = (bgr - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def decode(per_stride: dict[int, tuple[np.ndarray, np.ndarray]], size: int, reg_max: int,
           threshold: float, centre_offset: float = 0.5):
    """Candidate boxes (x1, y1, x2, y2 in input pixels), scores and class ids.

    `per_stride[s]` = (scores [cells, classes], distance logits [cells, 4 × (reg_max + 1)]);
    cells run row by row over a (size / s)² grid. Each side's distance from the cell centre
    is the expectation of a softmax over reg_max + 1 bins, in units of the stride."""
    all_boxes, all_scores, all_classes = [], [], []
    bins = np.arange(reg_max + 1, dtype=np.float32)
    for stride, (scores, logits) in per_stride.items():
        cells, classes = np.nonzero(scores > threshold)
        if cells.size == 0:
            continue
        side = size // stride
        dist = logits[cells].reshape(-1, 4, reg_max + 1).astype(np.float32)
        dist = np.exp(dist - dist.max(axis=-1, keepdims=True))
        dist = (dist / dist.sum(axis=-1, keepdims=True)) @ bins * stride
        cx = (cells % side + centre_offset) * stride
        cy = (cells // side + centre_offset) * stride
        all_boxes.append(np.stack([cx - dist[:, 0], cy - dist[:, 1],
                                   cx + dist[:, 2], cy + dist[:, 3]], axis=1))
        all_scores.append(scores[cells, classes])
        all_classes.append(classes)
    if not all_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    boxes, scores, classes = (np.concatenate(all_boxes), np.concatenate(all_scores),
                              np.concatenate(all_classes))
    top = np.argsort(-scores, kind="stable")[:MAX_CANDIDATES]
    return boxes[top], scores[top], classes[top]


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept, best first: each box drops the lower-scored ones overlapping it more
    than `iou_threshold`."""
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        best, rest = order[0], np.asarray(order[1:], dtype=np.int64)
        keep.append(int(best))
        if rest.size == 0:
            break
        order = list(rest[iou(boxes[best], boxes[rest]) <= iou_threshold])
    return keep


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                iou_threshold: float) -> list[int]:
    """NMS within each class (a person may overlap a bus); indices best first."""
    keep = []
    for cls in np.unique(classes):
        members = np.flatnonzero(classes == cls)
        keep += [int(members[i]) for i in nms(boxes[members], scores[members], iou_threshold)]
    return sorted(keep, key=lambda i: (-scores[i], i))
