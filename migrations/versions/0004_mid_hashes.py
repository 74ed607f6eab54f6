"""Middle hashes: per frame a third hash, of the centre 90 % of the picture (between the whole
picture and the inner 80 %, where a copy cropped to 90 % is), and per video whether it has them.

A database made before this revision keeps its frames as they are (no middle hash: those videos
are matched on their whole and inner pictures, as before); videos ingested from now on get it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, which SQLite does in place: no copy of a table of millions of frames.
    op.add_column("frames", sa.Column("mid_hash", sa.LargeBinary, nullable=True))
    op.add_column(
        "videos", sa.Column("has_mid", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("videos") as videos:
        videos.drop_column("has_mid")
    with op.batch_alter_table("frames") as frames:
        frames.drop_column("mid_hash")
