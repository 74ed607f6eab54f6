"""Initial schema: meta, videos, frames.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "videos",
        sa.Column("id", Id, primary_key=True),
        sa.Column("path", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime", sa.Float, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("codec", sa.String(64)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("rotation", sa.Integer),
        sa.Column("time_base", sa.String(32)),
        sa.Column("average_rate", sa.String(32)),
        sa.Column("frame_count", sa.BigInteger, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("hash_kind", sa.String(16), nullable=False),
        sa.Column("hash_size", sa.Integer, nullable=False),
        sa.Column("ingested_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_videos_fingerprint", "videos", ["fingerprint"])
    op.create_index("ix_videos_status", "videos", ["status"])
    op.create_table(
        "frames",
        sa.Column("id", Id, primary_key=True, autoincrement=False),
        sa.Column("video_id", Id, sa.ForeignKey("videos.id"), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("pts", sa.BigInteger, nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("detail", sa.Float, nullable=False),
        sa.UniqueConstraint("video_id", "ordinal", name="uq_frames_video_ordinal"),
    )


def downgrade() -> None:
    op.drop_table("frames")
    op.drop_index("ix_videos_status", "videos")
    op.drop_index("ix_videos_fingerprint", "videos")
    op.drop_table("videos")
    op.drop_table("meta")
