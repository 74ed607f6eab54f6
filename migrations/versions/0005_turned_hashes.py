"""Turned hashes: per frame the hashes of its centre turned 5° clockwise and counter-clockwise
(framedb.turned; one column, the two one after the other), and per video whether it has them.

A database made before this revision keeps its frames as they are (no turned hashes: those
videos are matched as before, and a turned copy of them is not found); videos ingested from now
on get them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, which SQLite does in place: no copy of a table of millions of frames.
    op.add_column("frames", sa.Column("turned_hash", sa.LargeBinary, nullable=True))
    op.add_column(
        "videos", sa.Column("has_turned", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("videos") as videos:
        videos.drop_column("has_turned")
    with op.batch_alter_table("frames") as frames:
        frames.drop_column("turned_hash")
