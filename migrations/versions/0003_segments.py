"""Stored segments: the footage each video shares with itself and with the videos stored before
it, found at ingest, so that `matches` and `loops` answer from SQL instead of from the frames.

`timelines` holds each video's frame times in one row (what grouping segments reads of a video);
videos stored before have none, and their times are read from their frames.

`videos.segments` holds the key of the matcher that found a video's segments (its parameters and
version); NULL for videos stored before this revision, whose segments are found by the next
`framedb matches --recompute` (until then `matches` answers from their frames, and says so).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.add_column("videos", sa.Column("segments", sa.String(128), nullable=True))
    op.create_table(
        "segments",
        sa.Column("id", Id, primary_key=True),
        sa.Column("video_a", Id, sa.ForeignKey("videos.id"), nullable=False),
        sa.Column("video_b", Id, sa.ForeignKey("videos.id"), nullable=False),
        sa.Column("a_start", sa.Integer, nullable=False),
        sa.Column("a_end", sa.Integer, nullable=False),
        sa.Column("b_start", sa.Integer, nullable=False),
        sa.Column("b_end", sa.Integer, nullable=False),
        sa.Column("a_start_time", sa.Float, nullable=False),
        sa.Column("a_end_time", sa.Float, nullable=False),
        sa.Column("b_start_time", sa.Float, nullable=False),
        sa.Column("b_end_time", sa.Float, nullable=False),
        sa.Column("dt", sa.Float, nullable=False),
        sa.Column("rate", sa.Float, nullable=False),
        sa.Column("mirrored", sa.Boolean, nullable=False),
        sa.Column("distance", sa.Float, nullable=False),
    )
    op.create_index("ix_segments_video_a", "segments", ["video_a"])
    op.create_index("ix_segments_video_b", "segments", ["video_b"])
    op.create_table(
        "timelines",
        sa.Column("video_id", Id, sa.ForeignKey("videos.id"), primary_key=True),
        sa.Column("times", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("timelines")
    op.drop_index("ix_segments_video_b", "segments")
    op.drop_index("ix_segments_video_a", "segments")
    op.drop_table("segments")
    with op.batch_alter_table("videos") as videos:
        videos.drop_column("segments")
