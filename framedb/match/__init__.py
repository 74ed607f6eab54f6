"""Match: single-frame matches are seeds, not answers (DESIGN.md section 4). The matcher is pure:
numpy in, typed results out; the modules around it read and write the store.

Owns the data matching works on and hands out (tracks: Track, MatchParams, Occurrence, Group, and
the form times are shown in), the all-pairs join of codes (join, and partjoin for collections
that do not fit in memory), seeds (seeds), alignment along one offset into pair segments
(align, diagonals), groups of occurrences and `find_groups`, the whole matcher (groups), loop
summaries (loops), and the hits of `where` (hits). Around it: the segments found at ingest and
on `--recompute` (finder), their rows and the groups formed from them (stored), the answers
given from them or from the frames (answers), and their part of `check` (audit).

May import: framedb.store, framedb.hashing, framedb.hashspec, framedb.errors, framedb.cores.
Hands on: `answers.StoredAnswers` (and through it the finder ingest calls), `groups.find_groups`,
`loops.summarise_loops`, `align.extend_occurrence`, `hits`, `audit.check_segments`, and the
types of `tracks`, to framedb.evidence and framedb.api.
"""
