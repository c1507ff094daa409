"""Drawing what an expert found onto a copy of the image, for the chat and the trace."""

from __future__ import annotations

from pathlib import Path

from memory import paths

# COCO keypoint pairs that make a skeleton.
SKELETON = [(5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (5, 11), (6, 12), (11, 12), (11, 13),
            (13, 15), (12, 14), (14, 16), (0, 1), (0, 2), (1, 3), (2, 4)]
PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"]


def annotated_path(source_digest: str, expert: str) -> Path:
    folder = paths.user_dir() / "annotated"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{source_digest[:16]}-{expert}.jpg"


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def draw_boxes(image, items: list[tuple[list[float], str]], out: Path) -> Path:
    """`items`: (box [x1, y1, x2, y2], label). Saves a PNG and returns its path."""
    from PIL import ImageDraw

    img = image.copy()
    draw = ImageDraw.Draw(img)
    width = max(2, round(min(img.size) / 250))
    font = _font(max(12, round(min(img.size) / 40)))
    for i, (box, label) in enumerate(items):
        colour = PALETTE[i % len(PALETTE)]
        draw.rectangle(box, outline=colour, width=width)
        if label:
            tx, ty = box[0], max(0, box[1] - font.size - 4)
            bbox = draw.textbbox((tx, ty), label, font=font)
            draw.rectangle(bbox, fill=colour)
            draw.text((tx, ty), label, fill="white", font=font)
    img.save(out, quality=85)  # JPEG: a PNG of a photo took longer to write than to analyse
    return out


def draw_skeletons(image, people: list[dict], out: Path, min_conf: float = 0.3) -> Path:
    from PIL import ImageDraw

    img = image.copy()
    draw = ImageDraw.Draw(img)
    width = max(2, round(min(img.size) / 200))
    font = _font(max(12, round(min(img.size) / 40)))
    for i, person in enumerate(people):
        colour = PALETTE[i % len(PALETTE)]
        kps = person["keypoints"]
        for a, b in SKELETON:
            if kps[a][2] >= min_conf and kps[b][2] >= min_conf:
                draw.line([tuple(kps[a][:2]), tuple(kps[b][:2])], fill=colour, width=width)
        for x, y, c in kps:
            if c >= min_conf:
                draw.ellipse([x - width, y - width, x + width, y + width], fill=colour)
        box = person["box"]
        draw.rectangle(box, outline=colour, width=max(1, width // 2))
        label = person.get("posture", "")
        if label:
            tx, ty = box[0], max(0, box[1] - font.size - 4)
            draw.rectangle(draw.textbbox((tx, ty), label, font=font), fill=colour)
            draw.text((tx, ty), label, fill="white", font=font)
    img.save(out, quality=85)  # JPEG: a PNG of a photo took longer to write than to analyse
    return out
