"""`framedb show`: two stored frames side by side with their amplified difference, labelled and
captioned with the hash distance and pixel statistics, written as one PNG.

The pictures come from framedb.ingest.frames (the very frames that were ingested); drawing is
Pillow.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framedb import hashing
from framedb.errors import BadArgumentError
from framedb.hashspec import HashSpec
from framedb.ingest.frames import DecodedFrame
from framedb.match.tracks import format_time
from framedb.store.atomic import write_bytes

if TYPE_CHECKING:
    from PIL import Image as PILImage

DEFAULT_GAIN = 4


@dataclass(frozen=True)
class Comparison:
    """Two frames compared: the image written, the stored hashes' distance, the pixel difference.

    `boxes` holds where each panel is in the image: (left, top, right, bottom) of "first",
    "second" and "difference".
    """

    first: DecodedFrame
    second: DecodedFrame
    distance: int
    bits: int
    gain: int
    mean_difference: float
    max_difference: int
    psnr: float
    scaled: bool
    boxes: dict[str, tuple[int, int, int, int]]
    image: PILImage.Image = field(repr=False)

    def text(self) -> str:
        def name(f: DecodedFrame) -> str:
            return f"{Path(f.video.path).name} frame {f.ordinal} ({format_time(f.time)})"

        return (
            f"{name(self.first)} vs {name(self.second)}: Hamming distance {self.distance} of "
            f"{self.bits} bits; pixel difference mean {self.mean_difference:.1f}, max "
            f"{self.max_difference} of 255, PSNR {_psnr_text(self.psnr)}"
        )

    def as_dict(self) -> dict[str, Any]:
        """The frames, the hash distance and the pixel statistics (`framedb show --json`)."""
        return {
            "frames": [
                {"video": f.video.path, "frame": f.ordinal, "time": f.time, "drift": f.drift}
                for f in (self.first, self.second)
            ],
            "distance": self.distance,
            "bits": self.bits,
            "mean_difference": self.mean_difference,
            "max_difference": self.max_difference,
            "psnr": None if self.psnr == float("inf") else self.psnr,
        }

    def save(self, out: str | os.PathLike[str]) -> int:
        """Write the image as a PNG; returns its size in bytes."""
        return write_png(self.image, out)


def parse_ref(text: str) -> tuple[str, str]:
    """`VIDEO@FRAME` -> (video, frame); the last `@` splits, so a path may contain `@`."""
    video, at, frame = text.rpartition("@")
    if not at or not video or not frame:
        raise BadArgumentError(
            f"{text!r}: give VIDEO@FRAME, e.g. a.mp4@120 (an ordinal) or a.mp4@12.5s (a time)"
        )
    return video, frame


def compare_frames(
    a: DecodedFrame, b: DecodedFrame, spec: HashSpec, *, gain: int = DEFAULT_GAIN
) -> Comparison:
    """Lay out A | B | |A - B| x gain with labels and a caption (B is scaled to A's size first)."""
    from PIL import Image

    first = Image.fromarray(a.rgb)
    second = Image.fromarray(b.rgb)
    scaled = second.size != first.size
    matched = second.resize(first.size, Image.Resampling.LANCZOS) if scaled else second
    diff = np.abs(a.rgb.astype(np.int16) - np.asarray(matched).astype(np.int16))
    mse = float(np.mean(diff.astype(np.float64) ** 2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    amplified = Image.fromarray(np.clip(diff * gain, 0, 255).astype(np.uint8))
    distance = int(hashing.hamming(a.stored.code, b.stored.code))
    labels = [
        f"A: {Path(a.video.path).name} @ {format_time(a.time)} (frame {a.ordinal})",
        f"B: {Path(b.video.path).name} @ {format_time(b.time)} (frame {b.ordinal})",
        f"|A - B| x {gain}",
    ]
    if scaled:
        labels[2] += f" (B scaled {second.width}x{second.height} -> {first.width}x{first.height})"
    caption = [
        f"A: {a.video.path}",
        f"B: {b.video.path}",
        f"Hamming distance {distance} of {spec.bits} bits ({spec}); pixel difference mean "
        f"{diff.mean():.1f}, max {int(diff.max()) if diff.size else 0} of 255, "
        f"PSNR {_psnr_text(psnr)}",
    ]
    for f, tag in ((a, "A"), (b, "B")):
        if f.drift:
            caption.append(
                f"warning: {tag} decoded now differs from the ingested frame by {f.drift} bits"
            )
    image, boxes = _layout([first, second, amplified], labels, caption)
    return Comparison(
        first=a,
        second=b,
        distance=distance,
        bits=spec.bits,
        gain=gain,
        mean_difference=float(diff.mean()),
        max_difference=int(diff.max()) if diff.size else 0,
        psnr=psnr,
        scaled=scaled,
        boxes=boxes,
        image=image,
    )


def _psnr_text(psnr: float) -> str:
    return "infinite (identical pixels)" if math.isinf(psnr) else f"{psnr:.1f} dB"


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: one small bitmap font
        return ImageFont.load_default()


def _fit(draw: Any, text: str, font: Any, width: int) -> list[str]:
    """`text` as at most two lines that fit `width` pixels, cut with an ellipsis if need be."""
    if draw.textlength(text, font=font) <= width:
        return [text]
    words = text.split(" ")
    lines, current = [], ""
    for word in words:
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    lines.append(current)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    fitted = []
    for line in lines:
        while line and draw.textlength(line, font=font) > width:
            line = line[:-2] + "…"
        fitted.append(line)
    return fitted


def _layout(
    panels: Sequence[PILImage.Image], labels: Sequence[str], caption: Sequence[str]
) -> tuple[PILImage.Image, dict[str, tuple[int, int, int, int]]]:
    from PIL import Image, ImageDraw

    tallest = max(p.height for p in panels)
    size = max(13, min(36, tallest // 22))
    font = _font(size)
    pad, line = max(8, size // 2), int(size * 1.45)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    heads = [_fit(measure, text, font, p.width) for text, p in zip(labels, panels, strict=True)]
    head = line * max(len(h) for h in heads)
    width = pad + sum(p.width + pad for p in panels)
    height = pad + head + tallest + pad + line * len(caption) + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    x = pad
    top = pad + head
    for name, panel, lines in zip(("first", "second", "difference"), panels, heads, strict=True):
        canvas.paste(panel, (x, top))
        draw.rectangle((x - 1, top - 1, x + panel.width, top + panel.height), outline="#888888")
        for k, text in enumerate(lines):
            draw.text((x, pad + k * line), text, fill="black", font=font)
        boxes[name] = (x, top, x + panel.width, top + panel.height)
        x += panel.width + pad
    y = top + tallest + pad
    for text in caption:
        colour = "#b00000" if text.startswith("warning") else "black"
        draw.text((pad, y), text, fill=colour, font=font)
        y += line
    return canvas, boxes


def write_png(image: PILImage.Image, out: str | os.PathLike[str]) -> int:
    """Write a PNG atomically (temporary name, then rename); returns its size in bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes(buffer.getvalue(), out)
    return buffer.tell()
