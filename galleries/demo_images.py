"""Generated event-like photos for the demo gallery (``manage.py load_demo``). Pure: no Django.

``background`` is shared with the test scenes (``tests/scenes.py``), which paste the shared
face photos onto it with ground truth. The demo pastes those portraits too when the folder is
there (it is not on a fresh machine) and otherwise draws its guests.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parent.parent


def faces_dir() -> Path:
    """The shared face photos: ``$PICPICK_FACES_DIR`` or ``shared/faces`` beside the repo
    (present on developers' machines and CI, absent on a bare clone: the demo then draws)."""
    configured = os.environ.get("PICPICK_FACES_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "faces"


def background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Smooth colour fields with soft shapes and sensor-like grain."""
    small = Image.new("RGB", (12, 8))
    base = (rng.randint(60, 190), rng.randint(60, 170), rng.randint(50, 160))
    small.putdata(
        [tuple(max(0, min(255, c + rng.randint(-50, 50))) for c in base) for _ in range(96)]
    )
    canvas = small.resize(size, Image.Resampling.BICUBIC)
    shapes = Image.new("RGB", (size[0] // 8, size[1] // 8))
    shapes.paste(canvas.resize(shapes.size))
    draw = ImageDraw.Draw(shapes)
    for _ in range(25):
        x, y = rng.randrange(shapes.width), rng.randrange(shapes.height)
        r = rng.randint(10, 120)
        colour = tuple(max(0, min(255, c + rng.randint(-80, 80))) for c in base)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    shapes = shapes.filter(ImageFilter.GaussianBlur(6)).resize(size, Image.Resampling.BICUBIC)
    canvas = Image.blend(canvas, shapes, 0.6)
    # Full-resolution grain: real camera files owe much of their size (and decode cost) to it.
    grain = Image.effect_noise(size, 64).convert("RGB")
    return Image.blend(canvas, grain, 0.10)


def portraits(folder: Path, limit: int = 8) -> list[Image.Image]:
    """Single-person photos listed in the folder's ``manifest.json``; none if it is absent."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return []
    try:
        entries = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return []
    out: list[Image.Image] = []
    for name, persons in sorted(entries.items()):
        if len(persons) != 1 or "partial" in name or "small" in name:
            continue
        try:
            with Image.open(folder / name) as image:
                out.append(image.convert("RGB"))
        except OSError:
            continue
        if len(out) >= limit:
            break
    return out


def _soft_mask(size: tuple[int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    inset = max(2, min(size) // 12)
    ImageDraw.Draw(mask).rounded_rectangle(
        (inset, inset, size[0] - inset, size[1] - inset), radius=min(size) // 4, fill=255
    )
    return mask.filter(ImageFilter.GaussianBlur(max(1, inset // 2)))


def _draw_guests(image: Image.Image, rng: random.Random) -> None:
    """Simple figures (a body and a head each) standing along the lower half of the frame."""
    draw = ImageDraw.Draw(image)
    width, height = image.size
    count = rng.randint(2, 5)
    for index in range(count):
        scale = rng.uniform(0.25, 0.45) * height
        cx = int(width * (index + 0.5) / count + rng.uniform(-0.05, 0.05) * width)
        base_y = int(height * rng.uniform(0.95, 1.05))
        body = (int(cx - scale * 0.22), int(base_y - scale), int(cx + scale * 0.22), base_y)
        cloth = tuple(rng.randint(20, 230) for _ in range(3))
        draw.rounded_rectangle(body, radius=int(scale * 0.12), fill=cloth)
        head_r = int(scale * 0.13)
        head_y = body[1] - head_r
        skin = rng.choice([(241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36)])
        draw.ellipse((cx - head_r, head_y - head_r, cx + head_r, head_y + head_r), fill=skin)


def demo_image(index: int, size: tuple[int, int], faces: list[Image.Image]) -> Image.Image:
    """The ``index``-th demo photo (deterministic): guests drawn, or real portraits pasted on
    every fourth photo when ``faces`` are available."""
    rng = random.Random(7_000 + index)
    image = background(size, rng)
    if faces and index % 4 == 0:
        for slot in range(rng.randint(1, 2)):
            face = rng.choice(faces)
            target_h = int(size[1] * rng.uniform(0.45, 0.7))
            scaled = face.resize(
                (max(1, face.width * target_h // face.height), target_h),
                Image.Resampling.LANCZOS,
            )
            x = int(size[0] * (0.1 + 0.45 * slot) + rng.uniform(0, 0.05) * size[0])
            y = size[1] - target_h - int(rng.uniform(0, 0.1) * size[1])
            image.paste(scaled, (x, max(0, y)), _soft_mask(scaled.size))
    else:
        _draw_guests(image, rng)
    return image
