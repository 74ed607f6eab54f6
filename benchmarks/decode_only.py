"""The baseline: a process that only decodes every frame with PyAV (best threading)."""

import sys

import av

with open(sys.argv[1], "rb") as handle, av.open(handle) as container:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    count = sum(1 for _ in container.decode(stream))
print(count)
