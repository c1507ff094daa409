"""experts.posture on hand-written skeletons and on the labelled set in data/postures.json."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from experts.posture import POSTURES, classify_posture

JOINTS = ["nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
          "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle",
          "r_ankle"]


def skeleton(conf: float = 0.9, **joints: tuple[float, float]) -> list[list[float]]:
    """17 COCO keypoints; joints not given are unseen (confidence 0)."""
    assert set(joints) <= set(JOINTS)
    return [[*joints[name], conf] if name in joints else [0.0, 0.0, 0.0] for name in JOINTS]


# A person about 190 px tall; torso (shoulders' middle to hips' middle) 60 px. y grows down.
STANDING = skeleton(nose=(100, 20), l_eye=(105, 15), r_eye=(95, 15), l_ear=(110, 18),
                    r_ear=(90, 18), l_shoulder=(120, 50), r_shoulder=(80, 50),
                    l_elbow=(125, 85), r_elbow=(75, 85), l_wrist=(128, 115), r_wrist=(72, 115),
                    l_hip=(112, 110), r_hip=(88, 110), l_knee=(111, 150), r_knee=(89, 150),
                    l_ankle=(110, 190), r_ankle=(90, 190))
STANDING_BOX = [65, 5, 135, 200]

# Side view, facing right, on a chair: thighs level, shins straight down.
SITTING = skeleton(nose=(112, 22), r_eye=(110, 16), r_ear=(100, 18), l_shoulder=(102, 50),
                   r_shoulder=(100, 50), r_elbow=(105, 85), r_wrist=(125, 95), l_hip=(102, 110),
                   r_hip=(100, 110), l_knee=(142, 112), r_knee=(140, 112), l_ankle=(142, 152),
                   r_ankle=(140, 152))
SITTING_BOX = [90, 5, 150, 160]

# Facing the camera on a chair: the thighs point at the camera and look 12 px long.
SITTING_FRONT = skeleton(nose=(100, 20), l_shoulder=(120, 50), r_shoulder=(80, 50),
                         l_hip=(112, 110), r_hip=(88, 110), l_knee=(114, 122), r_knee=(86, 122),
                         l_ankle=(112, 165), r_ankle=(88, 165))
SITTING_FRONT_BOX = [70, 5, 130, 175]

# On the back along the floor, head to the left.
LYING = skeleton(nose=(10, 95), l_shoulder=(40, 98), r_shoulder=(40, 100), l_elbow=(70, 99),
                 l_wrist=(95, 100), l_hip=(100, 100), r_hip=(100, 102), l_knee=(140, 101),
                 r_knee=(140, 103), l_ankle=(180, 102), r_ankle=(180, 104))
LYING_BOX = [0, 85, 190, 115]

# Side view, facing right, bent 90° at the hips: legs straight, arms hanging.
BENDING = skeleton(nose=(190, 115), l_shoulder=(162, 106), r_shoulder=(160, 105),
                   r_elbow=(160, 135), r_wrist=(160, 160), l_hip=(102, 110), r_hip=(100, 110),
                   l_knee=(103, 150), r_knee=(101, 150), l_ankle=(102, 190), r_ankle=(100, 190))
BENDING_BOX = [90, 90, 200, 200]

# Leaning 45° forward over a table, legs straight.
BENDING_HALF = skeleton(nose=(165, 45), l_shoulder=(143, 68), r_shoulder=(141, 68),
                        l_hip=(102, 110), r_hip=(100, 110), l_knee=(103, 150), r_knee=(101, 150),
                        l_ankle=(102, 190), r_ankle=(100, 190))
BENDING_HALF_BOX = [90, 35, 175, 200]


@pytest.mark.parametrize("keypoints, box, posture", [
    (STANDING, STANDING_BOX, "standing"),
    (SITTING, SITTING_BOX, "sitting"),
    (SITTING_FRONT, SITTING_FRONT_BOX, "sitting"),
    (LYING, LYING_BOX, "lying"),
    (BENDING, BENDING_BOX, "bending"),
    (BENDING_HALF, BENDING_HALF_BOX, "bending"),
])
def test_hand_written_skeletons(keypoints, box, posture):
    assert classify_posture(keypoints, box) == posture


def test_posture_does_not_depend_on_size_position_or_mirroring():
    for kps, box, posture in [(SITTING, SITTING_BOX, "sitting"), (BENDING, BENDING_BOX, "bending"),
                              (LYING, LYING_BOX, "lying")]:
        big = [[3 * x + 500, 3 * y + 40, c] for x, y, c in kps]
        assert classify_posture(big, [3 * box[0] + 500, 3 * box[1] + 40,
                                      3 * box[2] + 500, 3 * box[3] + 40]) == posture
        mirrored = [[1000 - x, y, c] for x, y, c in kps]
        assert classify_posture(mirrored, [1000 - box[2], box[1], 1000 - box[0], box[3]]) == posture


def hide(keypoints, *names):
    out = [list(k) for k in keypoints]
    for name in names:
        out[JOINTS.index(name)][2] = 0.1  # YOLO still guesses a place; it is just not sure
    return out


@pytest.mark.parametrize("hidden", [
    ("l_hip", "r_hip"),
    ("l_shoulder", "r_shoulder"),
    ("l_knee", "r_knee", "l_ankle", "r_ankle"),  # upper body only: standing or sitting?
])
def test_unknown_when_the_needed_keypoints_are_unsure(hidden):
    assert classify_posture(hide(STANDING, *hidden), STANDING_BOX) == "unknown"


def test_horizontal_torso_without_legs_is_unknown():
    # Lying or bent over a table with the legs out of the picture: no way to tell.
    assert classify_posture(hide(LYING, "l_knee", "r_knee", "l_ankle", "r_ankle"), LYING_BOX) == "unknown"


def test_one_side_is_enough():
    seen_from_the_side = hide(SITTING, "r_shoulder", "r_hip", "r_knee", "r_ankle")
    assert classify_posture(seen_from_the_side, SITTING_BOX) == "sitting"
    knees_only = hide(STANDING, "l_ankle", "r_ankle")
    assert classify_posture(knees_only, STANDING_BOX) == "standing"


def test_torso_seen_end_on_is_unknown():
    # Bending towards the camera: shoulders almost on the hips, the box tall because of the legs.
    towards_camera = [list(k) for k in STANDING]
    for name in ("l_shoulder", "r_shoulder"):
        towards_camera[JOINTS.index(name)][1] = 105
    assert classify_posture(towards_camera, STANDING_BOX) == "unknown"


def test_kneeling_counts_as_sitting():
    kneeling = [list(k) for k in STANDING]
    for name in ("l_ankle", "r_ankle"):
        kneeling[JOINTS.index(name)][1] = 152  # shins flat on the floor behind the knees
    assert classify_posture(kneeling, STANDING_BOX) == "sitting"


def test_nothing_seen_and_bad_shapes():
    assert classify_posture([[0.0, 0.0, 0.0]] * 17, [0, 0, 10, 10]) == "unknown"
    with pytest.raises(ValueError, match="17"):
        classify_posture(STANDING[:16], STANDING_BOX)


# --- the labelled set ---------------------------------------------------------------------------

# Measured 86/102 = 0.84 (tests/experts/data/make_postures.py says how each example was made).
# 0.80 leaves room to move a threshold and trade one error for another (4 examples), not for
# a rule that breaks a class. The misses are YOLO's: people cut off by the frame whose legs it
# invents after rotation (11 of 16) and poor detections (score < 0.4) of rotated people.
MIN_ACCURACY = 0.80
# Per posture, for the four real ones. "unknown" is at 18/29: on cut-off people YOLO
# confidently invents legs, and the rules can't see they are invented.
MIN_RECALL = 0.80


@pytest.fixture(scope="module")
def labelled():
    data = json.loads((Path(__file__).parent / "data" / "postures.json").read_text("utf-8"))
    return [(e, classify_posture(e["keypoints"], e["box"])) for e in data["examples"]]


def confusion(pairs) -> Counter:
    return Counter((e["label"], predicted) for e, predicted in pairs)


def test_labelled_set_covers_every_posture(labelled):
    counts = Counter(e["label"] for e, _ in labelled)
    assert set(counts) == set(POSTURES) and len(labelled) >= 40
    assert min(counts.values()) >= 8, counts


def test_accuracy_on_the_labelled_set(labelled):
    matrix = confusion(labelled)
    right = sum(n for (truth, predicted), n in matrix.items() if truth == predicted)
    table = "\n".join(f"{t:9} " + " ".join(f"{matrix[t, p]:4d}" for p in POSTURES) for t in POSTURES)
    assert right / len(labelled) >= MIN_ACCURACY, f"{right}/{len(labelled)}\n{table}"
    for posture in ("standing", "sitting", "lying", "bending"):
        total = sum(n for (t, _), n in matrix.items() if t == posture)
        assert matrix[posture, posture] / total >= MIN_RECALL, f"{posture}\n{table}"


def test_never_swaps_standing_and_lying(labelled):
    # The mistake that would matter most (someone on the floor reported as fine, or the reverse).
    matrix = confusion(labelled)
    assert matrix["standing", "lying"] == 0 and matrix["lying", "standing"] == 0


def test_every_re_posed_real_skeleton_is_right(labelled):
    # YOLO's own keypoints for the bus.jpg people, re-posed: the rules' home ground.
    wrong = [(e["made"], p) for e, p in labelled if e["source"] == "transform" and p != e["label"]]
    assert not wrong
