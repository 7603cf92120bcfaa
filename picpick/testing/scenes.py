"""Event-like test and benchmark photos built from the shared face photos.

A real event photo is often 24 MP with several people at different distances; the shared face
photos are small portraits. ``build_scene`` pastes head-and-shoulders cut-outs of them onto a
6000×4000 canvas with a smooth, grainy background (so JPEG size and decode cost resemble a camera
file), at chosen face heights, and returns the ground truth: who is where. Pure: no Django.

Harder variants for the face benchmark: a ``cluttered`` background (hard-edged shapes, many
of them skin-coloured and textured: tables, hands, wood, warm bokeh) and a ``look`` applied to
the finished photo -- ``warm`` (tungsten light, no white balance), ``dim`` (underexposed
and noisy) or ``grey`` (black and white).

The face boxes of the source photos are in ``data/face_sources.json`` beside this module (found
once by face_recognition's HOG detector with one upsample, checked by eye; each source's people
are listed left to right as in the shared manifest).
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from galleries.demo_images import background, faces_dir

REPO = Path(__file__).resolve().parents[2]
SOURCES_JSON = Path(__file__).resolve().parent / "data" / "face_sources.json"


@dataclass(frozen=True)
class SourceFace:
    file: str  # relative to faces_dir()
    person: str
    box: tuple[int, int, int, int]  # left, top, right, bottom in the source photo
    partial: bool = False


@dataclass(frozen=True)
class PlacedFace:
    person: str
    box: tuple[int, int, int, int]  # left, top, right, bottom in the scene
    source: str

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@dataclass
class Scene:
    image: Image.Image
    faces: list[PlacedFace]

    def jpeg(self, quality: int = 90) -> bytes:
        out = io.BytesIO()
        self.image.save(out, "JPEG", quality=quality, subsampling="4:2:0")
        return out.getvalue()


@cache
def source_faces() -> tuple[SourceFace, ...]:
    data = json.loads(SOURCES_JSON.read_text())
    return tuple(
        SourceFace(
            file=item["file"],
            person=item["person"],
            box=tuple(item["box"]),
            partial=item.get("partial", False),
        )
        for item in data
    )


def people() -> list[str]:
    return sorted({face.person for face in source_faces()})


@cache
def _source_image(file: str) -> Image.Image:
    return Image.open(faces_dir() / file).convert("RGB")


def _cutout(face: SourceFace, face_height: int) -> tuple[Image.Image, Image.Image, tuple]:
    """Head and shoulders around ``face``, scaled so the face is ``face_height`` px high."""
    src = _source_image(face.file)
    left, top, right, bottom = face.box
    w, h = right - left, bottom - top
    crop = (
        max(0, int(left - 0.7 * w)),
        max(0, int(top - 0.6 * h)),
        min(src.width, int(right + 0.7 * w)),
        min(src.height, int(bottom + 1.2 * h)),
    )
    scale = face_height / h
    region = src.crop(crop)
    size = (max(1, round(region.width * scale)), max(1, round(region.height * scale)))
    region = region.resize(size, Image.Resampling.LANCZOS)
    mask = Image.new("L", size, 0)
    inset = max(2, min(size) // 12)
    ImageDraw.Draw(mask).rounded_rectangle(
        (inset, inset, size[0] - inset, size[1] - inset), radius=min(size) // 4, fill=255
    )
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, inset // 2)))
    box = (
        round((left - crop[0]) * scale),
        round((top - crop[1]) * scale),
        round((right - crop[0]) * scale),
        round((bottom - crop[1]) * scale),
    )
    return region, mask, box


def build_scene(
    *,
    seed: int,
    face_heights: list[int],
    size: tuple[int, int] = (6000, 4000),
    persons: list[str] | None = None,
    include_partial: bool = False,
    clutter: bool = False,
    look: str = "",
) -> Scene:
    """A scene with one face per entry of ``face_heights``, placed in a grid without overlap.

    ``persons`` (same length) picks who each face is; otherwise they are drawn at random.
    """
    rng = random.Random(seed)
    pool = [f for f in source_faces() if include_partial or not f.partial]
    image = cluttered_background(size, rng) if clutter else background(size, rng)
    count = len(face_heights)
    cols = max(1, round((count * size[0] / size[1]) ** 0.5))
    rows = -(-count // cols)
    cell_w, cell_h = size[0] // cols, size[1] // rows
    cells = [(c, r) for r in range(rows) for c in range(cols)]
    rng.shuffle(cells)
    placed: list[PlacedFace] = []
    for index, height in enumerate(face_heights):
        person = persons[index] if persons else None
        candidates = [f for f in pool if person is None or f.person == person]
        face = rng.choice(candidates)
        region, mask, box = _cutout(face, height)
        col, row = cells[index]
        max_x = max(0, cell_w - region.width)
        max_y = max(0, cell_h - region.height)
        x = col * cell_w + rng.randint(0, max_x)
        y = row * cell_h + rng.randint(0, max_y)
        image.paste(region, (x, y), mask)
        placed.append(
            PlacedFace(
                person=face.person,
                box=(x + box[0], y + box[1], x + box[2], y + box[3]),
                source=face.file,
            )
        )
    return Scene(image=graded(image, look), faces=placed)


def event_scene(seed: int, *, clutter: bool = False, look: str = "") -> Scene:
    """The benchmark's event photo: six faces from crowd-far to portrait-near (40–600 px)."""
    rng = random.Random(seed)
    heights = [rng.choice([40, 56, 72]), rng.choice([80, 110]), 150, 220, 350, 600]
    return build_scene(seed=seed, face_heights=heights, clutter=clutter, look=look)


# Skin tones (RGB) from pale to deep, and the warm materials that share their colour.
_SKIN_LIKE = (
    (236, 188, 160),
    (224, 172, 105),
    (198, 134, 66),
    (141, 85, 36),
    (255, 219, 172),
    (181, 120, 90),
    (160, 110, 70),  # wood
    (214, 170, 120),  # sand, cardboard
)


def cluttered_background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A busy room: hundreds of hard-edged, textured things (fabric, wood grain, print), a third
    of them skin-coloured, in front of smooth walls."""
    image = background(size, rng)
    shapes = Image.new("RGB", size)
    mask = Image.new("L", size, 0)
    draw, draw_mask = ImageDraw.Draw(shapes), ImageDraw.Draw(mask)
    scale = size[0] / 6000
    for _ in range(420):
        if rng.random() < 0.35:
            base = rng.choice(_SKIN_LIKE)
            colour = tuple(max(0, min(255, c + rng.randint(-20, 20))) for c in base)
        else:
            colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = (round(rng.randint(20, 500) * scale) + 1 for _ in range(2))
        shape = rng.random()
        for target, fill in ((draw, colour), (draw_mask, 255)):
            if shape < 0.4:
                target.rectangle((x, y, x + w, y + h), fill=fill)
            elif shape < 0.75:
                target.ellipse((x, y, x + w, y + h), fill=fill)
            else:
                width = max(1, round(rng.randint(2, 30) * scale))
                target.line((x, y, x + w, y + h), fill=fill, width=width)
    texture = Image.effect_noise((size[0] // 4, size[1] // 4), 90).resize(
        size, Image.Resampling.BILINEAR
    )
    shapes = Image.blend(shapes, texture.convert("RGB"), 0.12)
    image.paste(shapes, (0, 0), mask)
    return image


def graded(image: Image.Image, look: str) -> Image.Image:
    """``image`` as a camera without white balance or exposure help would have recorded it."""
    if not look:
        return image
    if look == "grey":
        return image.convert("L").convert("RGB")
    red, green, blue = image.split()
    if look == "warm":  # tungsten light: red up, blue down
        return Image.merge(
            "RGB",
            (red.point(lambda v: min(255, v * 1.12 + 10)), green, blue.point(lambda v: v * 0.62)),
        )
    if look == "dim":  # two stops under, then noise as a high ISO adds it
        dark = image.point(lambda v: round(255 * (v / 255) ** 1.6 * 0.55))
        noise = Image.effect_noise(image.size, 40).convert("RGB")
        return Image.blend(dark, noise, 0.06)
    raise ValueError(f"unknown look {look!r}")
