"""Inner hashes: per frame a second hash of the inner picture, and per video whether it has them.

A database made before this revision keeps its frames as they are (no inner hash: those videos
are matched on their whole pictures, as before); videos ingested from now on get both.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, which SQLite does in place: no copy of a table of millions of frames.
    op.add_column("frames", sa.Column("inner_hash", sa.LargeBinary, nullable=True))
    op.add_column(
        "videos", sa.Column("has_inner", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("videos") as videos:
        videos.drop_column("has_inner")
    with op.batch_alter_table("frames") as frames:
        frames.drop_column("inner_hash")
