"""The baseline: a process that only decodes every frame with PyAV.

`decode_only.py VIDEO [THREADS]`: THREADS is `auto` (FFmpeg's default, the default here) or a
number of decoding threads; the benchmarks run every setting and take the fastest."""

import sys

import av

threads = sys.argv[2] if len(sys.argv) > 2 else "auto"
with open(sys.argv[1], "rb") as handle, av.open(handle) as container:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    if threads != "auto":
        stream.codec_context.thread_count = int(threads)
    count = sum(1 for _ in container.decode(stream))
print(count)
