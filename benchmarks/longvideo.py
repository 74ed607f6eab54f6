"""A very long video made in seconds: a show encoded once, its packets repeated by remuxing.

The show (a synthetic scene of framedb.synth, which never repeats itself) is encoded once with
libx264 between an intro and an outro of other scenes, each part starting on an IDR frame and
without B-frames, so that every part decodes on its own. The long file is then intro, show x N,
outro: the show's packets written again and again with shifted timestamps (no re-encoding), so a
24-hour file takes about 20 s to make, and every repetition decodes to exactly the same pictures.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from common import DATA

FPS = 30
SIZE = (160, 90)
SHOW = 27.0  # seconds
INTRO = 20.0
OUTRO = 13.0
SHOW_SCENE, INTRO_SCENE, OUTRO_SCENE = 32, 31, 33


def _frames(scene: int, seconds: float) -> list[Any]:
    """`seconds` of one of framedb.synth's scenes (drifting grating, moving blobs: footage that
    does not repeat itself, unlike FFmpeg's periodic test patterns)."""
    import av

    from framedb.synth import render

    width, height = SIZE
    return [
        av.VideoFrame.from_ndarray(render(scene, k / FPS, width, height), "rgb24").reformat(
            format="yuv420p"
        )
        for k in range(int(round(seconds * FPS)))
    ]


def _encode_parts(path: Path) -> list[int]:
    """Write intro, show and outro to `path` as one H.264 stream; returns each part's frames."""
    import av

    parts = [
        _frames(INTRO_SCENE, INTRO),
        _frames(SHOW_SCENE, SHOW),
        _frames(OUTRO_SCENE, OUTRO),
    ]
    width, height = SIZE
    with av.open(str(path), "w") as out:
        stream: Any = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {
            "preset": "veryfast",
            "crf": "30",
            "bf": "0",
            "forced-idr": "1",
            "x264-params": "keyint=300:min-keyint=30:scenecut=0",
        }
        pts = 0
        for frames in parts:
            for k, frame in enumerate(frames):
                frame.pts = pts
                frame.time_base = Fraction(1, FPS)
                frame.pict_type = av.video.frame.PictureType.I if k == 0 else 0
                pts += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return [len(p) for p in parts]


def long_video(hours: float = 24.0, name: str | None = None) -> tuple[Path, dict[str, float]]:
    """The long file (made once, kept in bench-data/) and its layout: intro, show period, count."""
    import av

    repeats = max(2, int((hours * 3600 - INTRO - OUTRO) // SHOW))
    path = DATA / (name or f"show-loop-{hours:g}h-160x90.mp4")
    layout = {"intro": INTRO, "period": SHOW, "repeats": repeats, "outro": OUTRO}
    layout["frames"] = round((INTRO + repeats * SHOW + OUTRO) * FPS)
    if path.exists():
        return path, layout
    DATA.mkdir(parents=True, exist_ok=True)
    parts_path = path.with_suffix(".parts.mp4")
    counts = _encode_parts(parts_path)
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(parts_path)) as src:
        packets = [p for p in src.demux(video=0) if p.size]
        template = src.streams.video[0]
        tb = template.time_base
        step = int(round(1 / (FPS * tb)))
        packets.sort(key=lambda p: p.dts)
        intro, show = packets[: counts[0]], packets[counts[0] : counts[0] + counts[1]]
        outro = packets[counts[0] + counts[1] :]
        if not (show[0].is_keyframe and outro[0].is_keyframe):
            raise RuntimeError("the show does not start on a keyframe: cannot repeat its packets")
        with av.open(str(tmp), "w") as out:
            stream = out.add_stream_from_template(template)
            shift = 0

            def write(part: list[Any], first_pts: int) -> None:
                for p in part:
                    copy = av.Packet(bytes(p))
                    copy.pts = p.pts - first_pts + shift
                    copy.dts = p.dts - first_pts + shift
                    copy.time_base = tb
                    copy.is_keyframe = p.is_keyframe
                    copy.stream = stream
                    out.mux_one(copy)

            base = intro[0].pts
            write(intro, base)
            shift += counts[0] * step
            for _ in range(repeats):
                write(show, show[0].pts)
                shift += counts[1] * step
            write(outro, outro[0].pts)
    parts_path.unlink()
    tmp.rename(path)
    return path, layout


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    started = time.perf_counter()
    made, shape = long_video(args.hours)
    print(made, shape, f"{time.perf_counter() - started:.1f} s")
