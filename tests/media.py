"""Test media: the synthetic footage generator lives in framedb.synth (the demo uses it too)."""

from framedb.synth import Segment, decoded_times, locate, picture, render, write_video

__all__ = ["Segment", "decoded_times", "locate", "picture", "render", "write_video"]
