"""Ingest: the way in for video files, up to the rows the store writes.

Owns finding files (files), opening them safely for FFmpeg (container), decoding every frame
with its exact timestamp to a small grey picture (decode), hashing batches in a helper process
(offload), decoding a long video as two halves (split), worker processes with timeouts and a
memory cap (workers, forked), how many jobs and cores (jobs), the hashing of a whole file
(extract), the ingest run that stores each video in one transaction (run), the Dask path
(cluster), and decoding a stored frame again at full size for pictures (frames).

May import: framedb.store, framedb.hashing, framedb.hashspec, framedb.errors, framedb.cores.
Hands on: `run.Ingest` and `run.IngestResult` (to framedb.api), `extract.hash_video` (a clip hashed
without storing it), `frames.grab` (to framedb.evidence).

This file imports nothing, so that a worker process loads only the modules it uses.
"""
