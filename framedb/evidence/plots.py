"""Charts as PNG bytes, drawn with matplotlib's Agg backend (no display, no global pyplot state).

matplotlib is imported inside the functions so that commands which draw nothing start fast.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

DOT_COLOUR = "#1f3a93"
DPI = 100


class SweepSetting(Protocol):
    """What tune_plot reads of one setting of a sweep (framedb.evidence.tune.TuneSetting; the
    counts it draws are read by name)."""

    @property
    def kind(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def coverage(self) -> float: ...


class Sweep(Protocol):
    """What tune_plot reads of a sweep (framedb.evidence.tune.TuneResult): charts import none of the
    modules that call them."""

    @property
    def name(self) -> str: ...
    @property
    def frames(self) -> int: ...
    @property
    def detailed(self) -> int: ...
    @property
    def kinds(self) -> tuple[str, ...]: ...
    @property
    def settings(self) -> Sequence[SweepSetting]: ...
    @property
    def current(self) -> int | None: ...


@dataclass(frozen=True)
class Plot:
    """A rendered chart: PNG bytes, their size in pixels, and where the data axes landed.

    `box` is (left, top, right, bottom) of the axes in image pixels, `x_range` and `y_range` the
    data limits along them (y grows upwards), so that a caller can map data to pixels.
    """

    png: bytes
    width: int
    height: int
    box: tuple[float, float, float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def pixel(self, x: float, y: float) -> tuple[int, int]:
        """The image pixel (column, row) where the data point (x, y) is drawn."""
        left, top, right, bottom = self.box
        fx = (x - self.x_range[0]) / (self.x_range[1] - self.x_range[0])
        fy = (y - self.y_range[0]) / (self.y_range[1] - self.y_range[0])
        return int(round(left + fx * (right - left))), int(round(bottom - fy * (bottom - top)))


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def _clock(span: float) -> Any:
    """Axis labels for times: seconds for short spans, m:ss, or h:mm:ss for long ones."""
    from matplotlib.ticker import FuncFormatter

    def label(seconds: float, _pos: object = None) -> str:
        if span < 120:
            return f"{seconds:g} s"
        whole = int(round(seconds))
        hours, rest = divmod(abs(whole), 3600)
        minutes, secs = divmod(rest, 60)
        sign = "-" if whole < 0 else ""
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"

    return FuncFormatter(label)


def _time_ticks(span: float) -> Any:
    """Tick steps that are round numbers of seconds, minutes or hours."""
    from matplotlib.ticker import MaxNLocator, MultipleLocator

    if span < 120:
        return MaxNLocator(6, steps=[1, 2, 2.5, 5, 10])
    for step in (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600):
        if span / step <= 7:
            return MultipleLocator(step)
    return MaxNLocator(6)


def _render(fig: Any, ax: Any) -> Plot:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    FigureCanvasAgg(fig)
    drawn = io.BytesIO()
    fig.savefig(drawn, format="png", dpi=DPI)  # draws once; the axes' extent is known after
    # charts have few colours: a 64-colour palette makes the PNG about 3 times smaller
    with Image.open(drawn) as image:
        palette = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    width, height = (int(round(v)) for v in fig.get_size_inches() * DPI)
    extent = ax.get_window_extent()
    box = (float(extent.x0), float(height - extent.y1), float(extent.x1), float(height - extent.y0))
    return Plot(
        png=buffer.getvalue(),
        width=width,
        height=height,
        box=box,
        x_range=tuple(float(v) for v in ax.get_xlim()),  # type: ignore[arg-type]
        y_range=tuple(float(v) for v in ax.get_ylim()),  # type: ignore[arg-type]
    )


def dot_plot(
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    x_span: tuple[float, float],
    y_span: tuple[float, float],
    x_label: str,
    y_label: str,
    title: str,
    same_video: bool,
    size: float = 4.6,
) -> Plot:
    """Time against time, one dot per matching pair of frames: repeated footage draws diagonals
    (a loop of period P is the line y = x + P). For one video the main diagonal is drawn faint."""
    fig = _figure(size, size)
    fig.subplots_adjust(left=0.17, right=0.96, bottom=0.14, top=0.9)
    ax = fig.add_subplot()
    if same_video:
        ax.plot(x_span, x_span, color="#cccccc", linewidth=0.8, zorder=1)
    if len(xs):
        ax.plot(xs, ys, "s", markersize=1.6, markeredgewidth=0, color=DOT_COLOUR, zorder=2)
    ax.set_xlim(*x_span)
    ax.set_ylim(*y_span)
    for axis, (lo, hi) in ((ax.xaxis, x_span), (ax.yaxis, y_span)):
        axis.set_major_formatter(_clock(hi - lo))
        axis.set_major_locator(_time_ticks(hi - lo))
    ax.set_xlabel(x_label, fontsize=8)
    ax.set_ylabel(y_label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8)
    ax.grid(True, linewidth=0.3, color="#eeeeee")
    ax.set_axisbelow(True)
    if same_video:
        ax.set_aspect("equal", adjustable="box")
    return _render(fig, ax)


def tune_plot(result: Sweep) -> Plot:
    """The hash-resolution sweep: exact-hash buckets (left) and matched loop groups (right)."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(11.0, 4.4)
    fig.subplots_adjust(left=0.07, right=0.93, bottom=0.13, top=0.84, wspace=0.42)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    right_share = right.twinx()
    styles: Sequence[str] = ("-", "--", ":", "-.")
    for k, kind in enumerate(result.kinds):
        rows = [s for s in result.settings if s.kind == kind]
        sizes = [s.size for s in rows]
        style = styles[k % len(styles)]
        lines = (
            (left, "buckets", "o", "C0", "buckets"),
            (left, "mean_bucket", "s", "C1", "mean bucket size"),
            (left, "max_bucket", "^", "C3", "largest bucket"),
            (right, "groups", "o", "C2", "groups"),
        )
        for ax, attr, marker, colour, label in lines:
            ax.plot(
                sizes,
                # on the log scale a count of 0 is left out rather than drawn at -infinity
                [(getattr(s, attr) or np.nan) if ax is left else getattr(s, attr) for s in rows],
                style,
                marker=marker,
                color=colour,
                label=f"{kind}: {label}",
            )
        right_share.plot(
            sizes,
            [100 * s.coverage for s in rows],
            style,
            marker="D",
            color="C4",
            label=f"{kind}: % of video in loops",
        )
    left.set_yscale("log")
    left.set_xlabel("hash size N (N x N bits)")
    left.set_ylabel("frames / buckets")
    left.set_title("exact-hash buckets (frames with identical hashes)", fontsize=9)
    right.set_xlabel("hash size N (N x N bits)")
    right.set_ylabel("groups of repeated footage", color="C2")
    right_share.set_ylabel("% of the video in loops", color="C4")
    right_share.set_ylim(0, 105)
    right.set_ylim(bottom=0)
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_title("segments framedb matches (radius scaled to the hash size)", fontsize=9)
    for ax in (left, right):
        ax.set_xticks(sorted({s.size for s in result.settings}))
        ax.grid(True, linewidth=0.3, color="#dddddd")
        if result.current is not None:
            ax.axvline(result.current, color="#999999", linewidth=0.8, linestyle=":")
    left.legend(fontsize=7, loc="best")
    handles = right.get_legend_handles_labels()
    more = right_share.get_legend_handles_labels()
    right.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, loc="best")
    fig.suptitle(
        f"{result.name}: {result.frames} frames, {result.detailed} with detail "
        f"(flat frames are left out)",
        fontsize=10,
    )
    return _render(fig, left)
