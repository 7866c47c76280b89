"""Where each picture goes in the lesson MP4: the frame size and the picture-in-picture boxes.

Pure geometry, kept apart from decoding and encoding so the layout rules can be read and tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CompositeSettings:
    width: int = 1280
    height: int = 720
    fps: int = 15
    preset: str = "veryfast"
    crf: int = 26
    threads: int = 1
    audio_bit_rate: int = 96000


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


def _even(v: float) -> int:
    return int(v) // 2 * 2


def _size(v: float) -> int:
    return max(2, _even(v))


def fit(frame_w: int, frame_h: int, box: Rect) -> Rect:
    """The largest rectangle of the frame's aspect inside `box`, centred, with even coordinates."""
    scale = min(box.w / frame_w, box.h / frame_h)
    w, h = _size(frame_w * scale), _size(frame_h * scale)
    return Rect(_even(box.x + (box.w - w) / 2), _even(box.y + (box.h - h) / 2), w, h)


def corner(settings: CompositeSettings, side: str, slot: int = 0) -> Rect:
    """A picture-in-picture box a quarter of the width along the bottom edge: `slot` 0 is the corner
    `side` ('right' or 'left'), 1 the place beside it towards the middle, and so on."""
    w = _size(settings.width / 4)
    h = _size(w * 3 / 4)
    margin = _even(settings.width / 64)
    step = w + margin
    x = settings.width - w - margin - slot * step if side == "right" else margin + slot * step
    return Rect(x, settings.height - h - margin, w, h)


def stage_boxes(settings: CompositeSettings, count: int, courseware: bool) -> list[Rect]:
    """Where classrooms on stage go: along the bottom, from the left beside the teacher's corner while
    courseware is on, from the right when the teacher fills the picture; as many as fit."""
    boxes: list[Rect] = []
    teacher = corner(settings, "right")
    while len(boxes) < count:
        box = corner(settings, "left" if courseware else "right", len(boxes))
        fits = box.x + box.w < teacher.x if courseware else box.x >= 0
        if not fits:
            break
        boxes.append(box)
    return boxes
