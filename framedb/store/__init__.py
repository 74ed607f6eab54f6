"""Store: SQL is the truth, the index serves it.

Owns the tables (tables) and their migrations' head (schema), engines and their settings
(engine), opening a database (database), reading and writing rows (rows) and frames in bulk
(bulk), the stored segments and each video's timeline of frame times (segments), what a
decoded video hands over to be stored (hashed), the frame index and its file (index), and
multi-index hashing with its batched and growing forms (mih), the index kept current in memory
and on disk (cache) and caught up from SQL (catchup), the one-writer lock (lock), and `check`
with its repair (integrity).

May import: framedb.hashing, framedb.hashspec, framedb.errors, framedb.cores.
Hands on: `database.open_database`, `rows.Store`, `tables.VideoRow` and `FrameArrays`,
`index.FrameIndex`, `cache.IndexCache`, `lock.writer_lock`, `integrity.check`, `segments`;
`mih` to framedb.match.
"""
