"""Match: single-frame matches are seeds, not answers (DESIGN.md section 4). Pure: numpy in,
typed results out; the store is read only to find which videos a probe is near.

Owns the data matching works on and hands out (tracks: Track, MatchParams, Occurrence, Group, and
the form times are shown in), the all-pairs join of codes (join, and partjoin for collections
that do not fit in memory), seeds (seeds), alignment along one offset into pair segments
(align), groups of occurrences and `find_groups`, the whole matcher (groups), loop summaries
(loops), and the hits of `where` (hits).

May import: framedb.store, framedb.hashing, framedb.hashspec, framedb.errors, framedb.cores.
Hands on: `groups.find_groups`, `loops.summarise_loops`, `align.extend_occurrence`, `hits`, and
the types of `tracks`, to framedb.evidence and framedb.api.
"""
