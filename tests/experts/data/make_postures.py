"""Builds postures.json, the labelled keypoint set for experts.posture (run by hand, not by pytest).

    .venv/bin/python -m tests.experts.data.make_postures

There is no labelled posture photo set offline, so the examples come from three sources,
each labelled by how it was made, never by the classifier:

- "photo": YOLO11n-pose (the expert itself) on ultralytics' bus.jpg and zidane.jpg, also
  mirrored and rotated. Upright people are "standing"; rotated by 75-105° they lie
  horizontal in the picture: "lying". "unknown" when the photo cuts off the torso (the man
  at bus.jpg's left edge) or the legs (zidane.jpg), so no one can read the posture from it.
- "render": YOLO on thick-limbed mannequins drawn here with PIL, 10 per posture. Only renders
  YOLO finds are kept: it found 6 of 10 standing, 7 of 10 side-view sitting, 1 of 10 lying
  and none of the 10 bending over (flat figures are far from its training photos).
- "transform": the keypoints YOLO returned for the three people in frame in bus.jpg,
  re-posed: thighs folded level (sitting), upper body rotated forward about the hips with
  the arms hanging (bending), the whole skeleton rotated (lying), joints hidden (unknown).
  These carry YOLO's real keypoint noise, plus 3% of a torso length of jitter.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from pathlib import Path

OUT = Path(__file__).with_name("postures.json")
HEAD_ARMS = range(0, 11)  # nose, eyes, ears, shoulders, elbows, wrists
L_SH, R_SH, L_EL, R_EL, L_WR, R_WR, L_HIP, R_HIP, L_KN, R_KN, L_AN, R_AN = range(5, 17)


def _assets() -> Path:
    from agent.model_registry import locate_package_file

    return locate_package_file("ultralytics", "assets")


# --- photos ---------------------------------------------------------------------------------

def _rotate_back(x: float, y: float, angle: float, size: tuple[int, int],
                 rotated: tuple[int, int]) -> tuple[float, float]:
    """A point of `Image.rotate(angle, expand=True)`'s output, in the unrotated picture."""
    t = math.radians(angle)
    dx, dy = x - rotated[0] / 2, y - rotated[1] / 2
    return (dx * math.cos(t) - dy * math.sin(t) + size[0] / 2,
            dx * math.sin(t) + dy * math.cos(t) + size[1] / 2)


def photo_examples(expert, work: Path) -> list[dict]:
    from PIL import Image, ImageOps

    examples = []
    for name in ("bus.jpg", "zidane.jpg"):
        original = Image.open(_assets() / name).convert("RGB")
        for mirror in (False, True):
            base = ImageOps.mirror(original) if mirror else original
            for angle in (0, 75, 90, 105, 270):
                picture = base.rotate(angle, expand=True, fillcolor=(128, 128, 128))
                path = work / f"{Path(name).stem}-{int(mirror)}-{angle}.png"
                picture.save(path)
                for person in expert(image=str(path)).data["people"]:
                    box = person["box"]
                    cx, _ = _rotate_back((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, angle,
                                         base.size, picture.size)
                    if mirror:
                        cx = base.size[0] - cx
                    cut_off = name == "zidane.jpg" or cx < 40  # legs / shoulders out of frame
                    label = "unknown" if cut_off else "standing" if angle == 0 else "lying"
                    how = (f"YOLO on {name}{' mirrored' if mirror else ''}"
                           f"{f' rotated {angle}° ccw' if angle else ''}; detection "
                           f"{person['confidence']}" + ("; body cut off by the frame" if cut_off else ""))
                    examples.append(_example("photo", label, how, box, person["keypoints"]))
    return examples


# --- rendered mannequins -------------------------------------------------------------------

SKIN, SHIRT, PANTS, SHOE, HAIR = (214, 162, 130), (170, 40, 40), (40, 60, 110), (25, 20, 20), (50, 30, 15)


def _step(origin, angle, length):
    """From `origin`, `length` px at `angle` degrees from straight down (positive: to the right)."""
    a = math.radians(angle)
    return (origin[0] + length * math.sin(a), origin[1] + length * math.cos(a))


def mannequin(hip, s, torso=180.0, thighs=(0.0, 0.0), shins=(0.0, 0.0), arms=(10.0, -10.0),
              forearms=(5.0, -5.0), hip_width=0.10, shoulder_width=0.20, rotate=0.0):
    """Joint positions of a front-ish figure `s` px tall-ish; angles as in `_step`."""
    mid_sh = _step(hip, torso, 0.30 * s)
    j = {"torso": torso, "H": hip, "head": _step(mid_sh, torso, 0.14 * s), "S": mid_sh}
    for k, side in enumerate("LR"):
        sign = -1 if side == "L" else 1
        j[side + "S"] = _step(mid_sh, torso - 90 + (180 if sign < 0 else 0), shoulder_width / 2 * s)
        j[side + "H"] = _step(hip, torso - 90 + (180 if sign < 0 else 0), hip_width / 2 * s)
        j[side + "K"] = _step(j[side + "H"], thighs[k], 0.25 * s)
        j[side + "A"] = _step(j[side + "K"], shins[k], 0.25 * s)
        j[side + "E"] = _step(j[side + "S"], arms[k], 0.16 * s)
        j[side + "W"] = _step(j[side + "E"], forearms[k], 0.14 * s)
    if rotate:
        c, n = math.cos(math.radians(rotate)), math.sin(math.radians(rotate))
        for key, (x, y) in [(k, v) for k, v in j.items() if isinstance(v, tuple)]:
            dx, dy = x - hip[0], y - hip[1]
            j[key] = (hip[0] + c * dx - n * dy, hip[1] + n * dx + c * dy)
        j["torso"] = torso - rotate
    return j


def render(j, s, seed, size=(640, 640)):
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    room = np.zeros((size[1], size[0], 3), np.float32)
    room[:] = (200, 195, 185)
    room[int(size[1] * 0.7):] = (150, 120, 90)
    room += rng.normal(0, 6, room.shape)
    img = Image.fromarray(room.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)

    def limb(a, b, colour, width):
        width = max(1, int(width * s))
        d.line([a, b], fill=colour, width=width)
        for x, y in (a, b):
            d.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=colour)

    def dot(p, r, colour, squash=1.0):
        d.ellipse([p[0] - r * squash, p[1] - r, p[0] + r * squash, p[1] + r], fill=colour)

    for side in "LR":
        limb(j[side + "H"], j[side + "K"], PANTS, 0.08)
        limb(j[side + "K"], j[side + "A"], PANTS, 0.065)
        dot(j[side + "A"], 0.035 * s, SHOE, 1.3)
    d.polygon([j["LS"], j["RS"], j["RH"], j["LH"]], fill=SHIRT)
    limb(j["LS"], j["RS"], SHIRT, 0.07)
    limb(j["LH"], j["RH"], PANTS, 0.07)
    limb(j["S"], j["head"], SKIN, 0.05)
    for side in "LR":
        limb(j[side + "S"], j[side + "E"], SHIRT, 0.055)
        limb(j[side + "E"], j[side + "W"], SKIN, 0.045)
        dot(j[side + "W"], 0.028 * s, SKIN)
    r, t = 0.07 * s, math.radians(j["torso"])
    up, across = (math.sin(t), math.cos(t)), (math.cos(t), -math.sin(t))
    hx, hy = j["head"]

    def at(u, v):
        return (hx + (u * up[0] + v * across[0]) * r, hy + (u * up[1] + v * across[1]) * r)

    dot(j["head"], r, SKIN)
    dot(at(0.55, 0), 0.75 * r, HAIR)
    for v in (-0.38, 0.38):
        dot(at(0.1, v), 0.12 * r, (20, 20, 20))
    dot(at(-0.1, 0), 0.08 * r, (180, 120, 100))
    dot(at(-0.45, 0), 0.1 * r, (150, 60, 60), 2.5)
    return img.filter(ImageFilter.GaussianBlur(1.2))


def render_examples(expert, work: Path, per_class: int = 10) -> list[dict]:
    rng = random.Random(7)
    examples = []
    for label in ("standing", "sitting", "lying", "bending"):
        for i in range(per_class):
            s = rng.uniform(300, 420)
            a, b = rng.uniform(0, 45), rng.uniform(0, 60)
            arms, forearms = (a, -a), (a + b, -a - b)
            face = rng.choice((1, -1))
            if label == "standing":
                how = "front view, arms and feet apart at random"
                j = mannequin((320, 300), s, thighs=(rng.uniform(-5, 10), -rng.uniform(-5, 10)),
                              arms=arms, forearms=forearms)
            elif label == "sitting":
                how = "side view on an unseen chair: thighs level, shins down"
                j = mannequin((320, 330), s, torso=180 - face * rng.uniform(0, 15),
                              thighs=(face * 90, face * 85), shins=(0, face * 5), hip_width=0.03,
                              shoulder_width=0.06, arms=(face * 30, face * 20),
                              forearms=(face * 80, face * 70))
            elif label == "lying":
                how = "front view rotated to horizontal, on the floor"
                j = mannequin((320, 460), s, arms=arms, forearms=forearms,
                              rotate=rng.choice((90, -90)) + rng.uniform(-8, 8))
            else:
                how = "side view, bent forward at the hips, arms hanging"
                j = mannequin((320, 250), s, torso=180 - face * rng.uniform(70, 110),
                              hip_width=0.03, shoulder_width=0.06,
                              arms=(face * rng.uniform(-10, 20), face * rng.uniform(-10, 20)),
                              forearms=(0, 0))
            path = work / f"mannequin-{label}-{i}.png"
            render(j, s, seed=i).save(path)
            people = expert(image=str(path)).data["people"]
            if people:  # the best detection; a render holds one figure
                p = people[0]
                examples.append(_example("render", label, f"YOLO on a PIL mannequin, {how}; "
                                         f"detection {p['confidence']}", p["box"], p["keypoints"]))
    return examples


# --- re-posed real keypoints -----------------------------------------------------------------

def _mid(kps, a, b):
    return ((kps[a][0] + kps[b][0]) / 2, (kps[a][1] + kps[b][1]) / 2)


def _rotate(point, centre, degrees):
    t = math.radians(degrees)
    dx, dy = point[0] - centre[0], point[1] - centre[1]
    return [centre[0] + dx * math.cos(t) - dy * math.sin(t),
            centre[1] + dx * math.sin(t) + dy * math.cos(t)]


def sit(kps, facing, thigh_tilt=0.0, shin_tilt=0.0, thigh_scale=1.0):
    """Thighs turned to `thigh_tilt`° below level towards `facing` (±1), shins hanging."""
    out = [list(k) for k in kps]
    for hip, knee, ankle in ((L_HIP, L_KN, L_AN), (R_HIP, R_KN, R_AN)):
        thigh = math.dist(kps[hip][:2], kps[knee][:2]) * thigh_scale
        shin = math.dist(kps[knee][:2], kps[ankle][:2])
        t = math.radians(thigh_tilt)
        out[knee][:2] = [kps[hip][0] + facing * thigh * math.cos(t), kps[hip][1] + thigh * math.sin(t)]
        s = math.radians(shin_tilt)
        out[ankle][:2] = [out[knee][0] + facing * shin * math.sin(s), out[knee][1] + shin * math.cos(s)]
    return out


def sit_facing_camera(kps, thigh_scale):
    """Front view: thighs point at the camera and look short; the shins keep their length."""
    out = [list(k) for k in kps]
    for hip, knee, ankle in ((L_HIP, L_KN, L_AN), (R_HIP, R_KN, R_AN)):
        kx = kps[hip][0] + (kps[knee][0] - kps[hip][0]) * thigh_scale
        ky = kps[hip][1] + (kps[knee][1] - kps[hip][1]) * thigh_scale
        out[ankle][:2] = [kx + kps[ankle][0] - kps[knee][0], ky + kps[ankle][1] - kps[knee][1]]
        out[knee][:2] = [kx, ky]
    return out


def bend(kps, facing, degrees):
    """Upper body rotated forward about the hips; the arms hang straight down from it."""
    hips = _mid(kps, L_HIP, R_HIP)
    out = [list(k) for k in kps]
    for i in HEAD_ARMS:
        out[i][:2] = _rotate(kps[i], hips, facing * degrees)
    for sh, el, wr in ((L_SH, L_EL, L_WR), (R_SH, R_EL, R_WR)):
        upper, fore = math.dist(kps[sh][:2], kps[el][:2]), math.dist(kps[el][:2], kps[wr][:2])
        out[el][:2] = [out[sh][0], out[sh][1] + upper]
        out[wr][:2] = [out[sh][0], out[sh][1] + upper + fore]
    return out


def rotate_all(kps, degrees):
    hips = _mid(kps, L_HIP, R_HIP)
    return [_rotate(k, hips, degrees) + [k[2]] for k in kps]


def hide(kps, indices):
    out = [list(k) for k in kps]
    for i in indices:
        out[i][2] = 0.05
    return out


def jitter(kps, rng, share=0.03):
    torso = math.dist(_mid(kps, L_SH, R_SH), _mid(kps, L_HIP, R_HIP))
    return [[k[0] + rng.gauss(0, share * torso), k[1] + rng.gauss(0, share * torso), k[2]]
            for k in kps]


def box_of(kps):
    seen = [k for k in kps if k[2] >= 0.3] or kps
    xs, ys = [k[0] for k in seen], [k[1] for k in seen]
    pad = 0.08 * max(max(xs) - min(xs), max(ys) - min(ys))
    return [min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad]


def transform_examples(expert) -> list[dict]:
    rng = random.Random(11)
    people = [p for p in expert(image=str(_assets() / "bus.jpg")).data["people"]
              if p["box"][0] > 5]  # the three in frame, not the man cut off at the left edge
    recipes = [
        ("standing", "jittered", lambda k: k),
        ("standing", "leaning 12° sideways", lambda k: rotate_all(k, rng.choice((12, -12)))),
        ("sitting", "thighs level, facing right", lambda k: sit(k, 1)),
        ("sitting", "thighs 20° below level, shins slanted, facing left",
         lambda k: sit(k, -1, thigh_tilt=20, shin_tilt=-15)),
        ("sitting", "on the floor, legs straight out", lambda k: sit(k, 1, thigh_tilt=-5, shin_tilt=92)),
        ("sitting", "facing the camera, thighs foreshortened to 30%",
         lambda k: sit_facing_camera(k, 0.3)),
        ("bending", "bent 90° forward at the hips", lambda k: bend(k, rng.choice((1, -1)), 90)),
        ("bending", "bent 60° forward at the hips", lambda k: bend(k, rng.choice((1, -1)), 60)),
        ("bending", "bent 40° forward at the hips", lambda k: bend(k, rng.choice((1, -1)), 40)),
        ("bending", "touching the toes, 130°", lambda k: bend(k, rng.choice((1, -1)), 130)),
        ("lying", "whole skeleton rotated 90°", lambda k: rotate_all(k, 90 + rng.uniform(-10, 10))),
        ("lying", "rotated -90° (head left), knees raised",
         lambda k: sit(rotate_all(k, -90), 1, thigh_tilt=-40, shin_tilt=45)),
        ("unknown", "hips hidden", lambda k: hide(k, (L_HIP, R_HIP))),
        ("unknown", "legs hidden (upper body only)", lambda k: hide(k, (L_KN, R_KN, L_AN, R_AN))),
        ("unknown", "shoulders hidden", lambda k: hide(k, (L_SH, R_SH))),
    ]
    examples = []
    for n, person in enumerate(people):
        for label, how, make in recipes:
            kps = jitter(make(person["keypoints"]), rng)
            kps = [[round(x), round(y), c] for x, y, c in kps]
            examples.append(_example("transform", label, f"bus.jpg person {n + 1} (YOLO keypoints), "
                                     f"{how}", [round(v) for v in box_of(kps)], kps))
    return examples


def _example(source: str, label: str, made: str, box, keypoints) -> dict:
    return {"label": label, "source": source, "made": made, "box": box, "keypoints": keypoints}


def main() -> None:
    os.environ.setdefault("HEARTH_HOME", tempfile.mkdtemp(prefix="hearth-postures-"))
    from experts.pose import PoseEstimation

    expert = PoseEstimation()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        examples = photo_examples(expert, work) + render_examples(expert, work) + transform_examples(expert)
    for i, example in enumerate(examples):
        example["id"] = i
    OUT.write_text(json.dumps({
        "about": __doc__.split("\n\n", 2)[2].strip(),
        "format": "keypoints: 17 COCO [x, y, conf] in pixels; box: [x1, y1, x2, y2]",
        "examples": examples,
    }, ensure_ascii=False, separators=(",", ":")).replace('},{"label"', '},\n{"label"'))
    counts = {}
    for e in examples:
        counts[(e["source"], e["label"])] = counts.get((e["source"], e["label"]), 0) + 1
    print(f"{len(examples)} examples -> {OUT}")
    for key, n in sorted(counts.items()):
        print(f"  {key[0]:10} {key[1]:9} {n}")


if __name__ == "__main__":
    main()
