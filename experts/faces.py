"""Face recognition: dlib's HOG face detector, 5-point landmarks and ResNet face embeddings.

Weights come from the face-recognition-models package (CC0), loaded by path. The
`face_recognition` package itself is not used: it depends on `dlib` by that distribution
name and would compile dlib from source, while Hearth has the prebuilt `dlib-bin` wheel.

A face is named when its embedding lies within MATCH_DISTANCE (Euclidean, dlib's standard
0.6) of a face the user enrolled. `similarity` is 1 - distance, clipped to 0..1: to the
person it was named after, else to the nearest enrolled face (0.0 when nobody is enrolled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from agent.model_registry import locate_package_file
from experts.annotate import annotated_path, draw_boxes
from experts.base import Expert, ExpertError, ExpertResult, InputError
from experts.inputs import file_digest, load_image

MODEL_ID = "dlib-resnet-v1"
MATCH_DISTANCE = 0.6
PACKAGE = "face-recognition-models==0.3.0"
# The 5-point predictor, not the 68-point one: its training data (iBUG 300-W) forbids
# commercial use, while the 5-point model is CC0; the embedding only needs the face aligned.
LANDMARKS = ("models/shape_predictor_5_face_landmarks.dat", 9_150_489)
ENCODER = ("models/dlib_face_recognition_resnet_model_v1.dat", 22_466_066)
SHA256 = {LANDMARKS: "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
          ENCODER: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"}
# HOG finds faces down to ~80 px; upsampling once halves that (to ~40 px) at 4x the cost,
# so photos are first brought down to this size, where upsampled detection takes ~0.5 s.
DETECT_MAX_SIDE = 1280
UPSAMPLE = 1


class Models(NamedTuple):
    detector: Any
    landmarks: Any
    encoder: Any


class Face(NamedTuple):
    box: list[int]
    embedding: np.ndarray


def _weights(entry: tuple[str, int]) -> str:
    relative, size = entry
    path = locate_package_file("face_recognition_models", relative)
    if path is None:
        raise ExpertError(f"The face models are not installed (missing {relative}). "
                          f"Install them with: pip install {PACKAGE}")
    if path.stat().st_size != size:
        raise ExpertError(f"The face model {path} is damaged (wrong size). "
                          f"Reinstall it with: pip install --force-reinstall {PACKAGE}")
    return str(path)


class FaceRecognition(Expert):
    name = "face-recognition"
    description = ("Find the faces in an image and name the people the user enrolled: "
                   "returns each face's box, name (null if not enrolled) and similarity.")
    inputs = {"image": "image"}
    needs_db = True
    max_bytes = 50 * 1024 * 1024
    # ~0.5 s to detect plus ~0.15 s per face; a crowd of 100 faces stays well inside this.
    timeout_s = 60.0

    def __init__(self, db=None) -> None:
        super().__init__()
        if db is None:
            from memory.db import Database

            db = Database()
        self.db = db

    @classmethod
    def weights(cls, verify: bool = False) -> list[tuple[str, Path]]:
        from agent.model_registry import sha256_of

        out = []
        for title, entry in (("dlib 5-point landmarks, CC0", LANDMARKS),
                             ("dlib face ResNet v1 (128-d), CC0", ENCODER)):
            path = Path(_weights(entry))
            if verify and sha256_of(path) != SHA256[entry]:
                raise ExpertError(f"The face model {path} is damaged (sha256 mismatch). "
                                  f"Reinstall it with: pip install --force-reinstall {PACKAGE}")
            out.append((title, path))
        return out

    def load(self) -> Models:
        landmarks, encoder = _weights(LANDMARKS), _weights(ENCODER)
        try:
            import dlib  # native, ~25 ms to import, but only for whoever needs faces
        except ImportError as exc:
            raise ExpertError("dlib is not installed. Install it with: "
                              "pip install dlib-bin==20.0.1.post1") from exc
        try:
            return Models(dlib.get_frontal_face_detector(), dlib.shape_predictor(landmarks),
                          dlib.face_recognition_model_v1(encoder))
        except RuntimeError as exc:
            raise ExpertError(f"The face models could not be loaded ({exc}). Reinstall them "
                              f"with: pip install --force-reinstall {PACKAGE}") from exc

    def faces(self, image) -> list[Face]:
        """Every face in a PIL RGB image: its box in the image's pixels and its embedding."""
        models = self.model
        import dlib  # loaded (and checked) by self.model above

        scale = min(1.0, DETECT_MAX_SIDE / max(image.size))
        small = image if scale == 1.0 else image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        found = models.detector(np.asarray(small), UPSAMPLE)
        pixels = np.asarray(image)
        out = []
        for rect in found:
            x1, y1 = max(0, round(rect.left() / scale)), max(0, round(rect.top() / scale))
            x2 = min(image.width - 1, round(rect.right() / scale))
            y2 = min(image.height - 1, round(rect.bottom() / scale))
            # Landmarks and embedding on the full-size photo: the aligned 150 px chip is
            # sharper there, and its cost does not grow with the photo.
            shape = models.landmarks(pixels, dlib.rectangle(x1, y1, x2, y2))
            embedding = np.asarray(models.encoder.compute_face_descriptor(pixels, shape, 1),
                                   dtype=np.float32)
            out.append(Face([x1, y1, x2, y2], embedding))
        return out

    def run(self, image: str | Path) -> ExpertResult:
        path = Path(image).expanduser()
        picture = load_image(path, self.max_bytes)
        found = self.faces(picture)
        from memory.faces import FaceStore  # SQLAlchemy: not when the registry lists experts

        names, known = FaceStore(self.db).embeddings(model=MODEL_ID)
        results = match(found, names, known)
        annotated = None
        if results:
            labels = [(f["box"], f"{f['name']} {f['similarity']:.2f}" if f["name"] else "unknown")
                      for f in results]
            annotated = draw_boxes(picture, labels,
                                   annotated_path(file_digest(path), self.name))
        return ExpertResult(self.name, {"faces": results}, annotated=annotated)

    def enroll(self, name: str, image_path: str | Path) -> int:
        """Learn `name` from a photo with exactly one face; returns the stored face's id."""
        if not " ".join(str(name).split()):
            raise ExpertError("A face needs a name.")
        path = Path(image_path).expanduser()
        found = self.faces(load_image(path, self.max_bytes))
        if len(found) != 1:
            what = "no face" if not found else f"{len(found)} faces"
            raise InputError(f"found {what} in {path.name}; enrol from a photo with one face.")
        from memory.faces import FaceStore

        return FaceStore(self.db).add(name, found[0].embedding, model=MODEL_ID, source=path.name)


def match(found: list[Face], names: list[str], known: np.ndarray) -> list[dict[str, Any]]:
    """Name each face after its nearest enrolled person within MATCH_DISTANCE.

    One person appears at most once in a photo: pairs are taken closest first, so when two
    faces both resemble Alice, only the closer is named Alice and the other gets its next
    candidate (or none). Every sample of a person counts; the nearest one decides.
    """
    results = [{"box": f.box, "name": None, "similarity": 0.0} for f in found]
    if not found or not names or known.shape[1] != found[0].embedding.shape[0]:
        return results
    people = sorted(set(names))
    index = np.array([people.index(n) for n in names])
    dist = np.linalg.norm(known[None, :, :] - np.stack([f.embedding for f in found])[:, None, :],
                          axis=2)  # (faces, samples)
    per_person = np.full((len(found), len(people)), np.inf)
    for p in range(len(people)):
        per_person[:, p] = dist[:, index == p].min(axis=1)
    for i, nearest in enumerate(per_person.min(axis=1)):
        results[i]["similarity"] = round(float(np.clip(1.0 - nearest, 0.0, 1.0)), 4)
    taken_faces, taken_people = set(), set()
    for flat in np.argsort(per_person, axis=None):
        i, p = np.unravel_index(flat, per_person.shape)
        if per_person[i, p] > MATCH_DISTANCE:
            break
        if i in taken_faces or p in taken_people:
            continue
        taken_faces.add(i)
        taken_people.add(p)
        results[i]["name"] = people[p]
        results[i]["similarity"] = round(float(1.0 - per_person[i, p]), 4)
    return results
