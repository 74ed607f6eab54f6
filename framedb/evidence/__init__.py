"""Evidence: what a person looks at to believe an answer.

Owns two frames side by side with their difference (show), the hash sweep of the published
experiment (tune), dot plots of frame matches (dots), spans of footage on a timeline (spans),
the charts (plots), and the self-contained HTML report with its template (report, templates/).

May import: framedb.match, framedb.store, framedb.ingest (only to decode the frames it shows:
decoding lives once, in ingest), framedb.hashing, framedb.hashspec, framedb.errors.
Hands on: results with their own `save`/`plot` (Comparison, TuneResult) and `write_report`, to
framedb.api.
"""
