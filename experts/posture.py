"""Posture (standing, sitting, lying, bending or unknown) from one person's COCO-17 keypoints.

Rules on a few geometric features instead of a trained classifier: there is no labelled
posture data to train on offline, and rules say plainly why a person was called "lying".
Image y grows downwards; lengths are measured in torso lengths (shoulders' midpoint to
hips' midpoint), so the thresholds do not depend on the person's size in the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

POSTURES = ("standing", "sitting", "lying", "bending", "unknown")

# Keypoints YOLO is less sure of than this are treated as not seen (the value the annotation
# draws with): partly hidden people get wild guesses for their hidden joints.
MIN_CONF = 0.3

SHOULDERS, HIPS, KNEES, ANKLES = (5, 6), (11, 12), (13, 14), (15, 16)

# Torso tilt from vertical, degrees. Past LYING_TILT the torso is nearer horizontal than
# upright, and only the legs can tell lying from bending over.
BENDING_TILT = 30.0
LYING_TILT = 60.0
# Knees less than this far below the hips (in torso lengths) mean folded thighs: seated
# (side view: thighs horizontal; front view: thighs pointing at the camera look short).
# Standing people measure 0.6-0.7 in the COCO keypoint convention.
SEATED_KNEE_DROP = 0.4
# Without knees: standing ankles are ~1.3 torso lengths below the hips, seated ones < 1.
SEATED_ANKLE_DROP = 0.9
# Standing shins: ankles clearly below knees; kneeling or squatting puts them level.
MIN_SHIN_DROP = 0.3
# Legs "hang" under a horizontal torso (bending) when within this angle of straight down
# and at least this far below the hips; otherwise they lie along the floor with it.
HANGING_LEG_ANGLE = 35.0
HANGING_ANKLE_DROP = 0.8
HANGING_KNEE_DROP = 0.45
# A torso shorter than this share of the box's long side is seen end-on (someone bending
# towards the camera, or lying feet first): its tilt means nothing.
MIN_TORSO_SHARE = 0.15

Point = tuple[float, float]


@dataclass(frozen=True)
class Features:
    torso_tilt: float  # degrees from upright: 0 upright, 90 horizontal, 180 head down
    torso_share: float  # torso length / the box's long side
    knee_drop: float | None  # knees below hips, in torso lengths (negative: above)
    ankle_drop: float | None
    shin_drop: float | None  # ankles below knees
    leg_angle: float | None  # hips→ankles (or knees) from straight down, degrees


def _mean(keypoints: Sequence[Sequence[float]], indices: tuple[int, ...]) -> Point | None:
    seen = [keypoints[i] for i in indices if keypoints[i][2] >= MIN_CONF]
    if not seen:
        return None
    return (sum(p[0] for p in seen) / len(seen), sum(p[1] for p in seen) / len(seen))


def _angle_from_down(origin: Point, end: Point) -> float:
    dx, dy = end[0] - origin[0], end[1] - origin[1]
    return math.degrees(math.atan2(abs(dx), dy))


def features(keypoints: Sequence[Sequence[float]], box: Sequence[float]) -> Features | None:
    """The measurements the rules use; None when shoulders or hips are not seen."""
    if len(keypoints) != 17:
        raise ValueError(f"expected 17 COCO keypoints, got {len(keypoints)}")
    shoulders, hips = _mean(keypoints, SHOULDERS), _mean(keypoints, HIPS)
    if shoulders is None or hips is None:
        return None
    torso = math.dist(shoulders, hips)
    width, height = max(box[2] - box[0], 1e-6), max(box[3] - box[1], 1e-6)
    if torso < 1e-6:
        return None
    knees, ankles = _mean(keypoints, KNEES), _mean(keypoints, ANKLES)
    feet = ankles or knees
    return Features(
        torso_tilt=180.0 - _angle_from_down(hips, shoulders),
        torso_share=torso / max(width, height),
        knee_drop=None if knees is None else (knees[1] - hips[1]) / torso,
        ankle_drop=None if ankles is None else (ankles[1] - hips[1]) / torso,
        shin_drop=None if knees is None or ankles is None else (ankles[1] - knees[1]) / torso,
        leg_angle=None if feet is None else _angle_from_down(hips, feet),
    )


def classify_posture(keypoints: Sequence[Sequence[float]], box: Sequence[float]) -> str:
    """One of POSTURES for keypoints [[x, y, conf] × 17] and box [x1, y1, x2, y2] (pixels)."""
    f = features(keypoints, box)
    if f is None or f.torso_share < MIN_TORSO_SHARE:
        return "unknown"
    if f.knee_drop is None and f.ankle_drop is None:
        return "unknown"  # a torso alone can't tell lying from bending, or sitting from standing
    if f.torso_tilt >= LYING_TILT:
        return "bending" if _legs_hang(f) else "lying"
    if _legs_folded(f):
        return "sitting"
    return "bending" if f.torso_tilt >= BENDING_TILT else "standing"


def _legs_hang(f: Features) -> bool:
    if f.leg_angle is None or f.leg_angle > HANGING_LEG_ANGLE:
        return False
    if f.ankle_drop is not None:
        return f.ankle_drop >= HANGING_ANKLE_DROP
    return f.knee_drop is not None and f.knee_drop >= HANGING_KNEE_DROP


def _legs_folded(f: Features) -> bool:
    if f.knee_drop is not None:
        if f.knee_drop < SEATED_KNEE_DROP:
            return True
        return f.shin_drop is not None and f.shin_drop < MIN_SHIN_DROP
    return f.ankle_drop is not None and f.ankle_drop < SEATED_ANKLE_DROP
