"""Chapters per video, and which version of the lecture structure a video has.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Videos indexed before this revision have no chapters (`videos.structure` is NULL) and no
passage or chapter vectors: they keep answering on sentences and slides, and the next
`vmr index` over them derives both from their stored words and slide text (no Whisper, no
OCR: an encoder pass of a few seconds per video).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chapters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("video_id", sa.Integer(), sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
    )
    # A plain ADD COLUMN (SQLite and PostgreSQL both have it): never a table copy, whose DROP
    # would cascade to every clip.
    op.add_column("videos", sa.Column("structure", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("structure")
    op.drop_table("chapters")
