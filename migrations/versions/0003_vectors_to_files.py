"""Clip vectors leave the catalogue for per-video files under the home.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Every clip's float32 vector was a row of `clip_vectors`, most of the catalogue's bytes. They
move, video by video, into `HOME/clip-vectors/<hash>/<channel>.<model key>.npy` (the layout of
`vmr.catalogue.vectors`), and `video_channels` records which channels each video has, from
which model. Nothing is indexed again.
"""

from pathlib import Path

import numpy as np
import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _files():
    from vmr.catalogue.vectors import VectorFiles

    home = context.config.attributes.get("home")
    if home is None:
        raise RuntimeError("migration 0003 moves clip vectors into the library's home: open the "
                           "catalogue through vmr (Library, or vmr.catalogue.store.open_engine(url, home))")
    return VectorFiles(Path(home))


def upgrade() -> None:
    op.create_table(
        "video_channels",
        sa.Column("video_id", sa.Integer(), sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(1024), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
    )
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT 1 FROM clip_vectors LIMIT 1")).first() is not None:
        files = _files()
        if connection.dialect.name == "postgresql":
            # Fresh statistics, so that each video's rows are found through the indexes (a
            # library loaded in bulk may have none, and a scan per video never ends).
            connection.execute(sa.text("ANALYZE clips"))
            connection.execute(sa.text("ANALYZE clip_vectors"))
        videos = connection.execute(sa.text("SELECT id, content_hash FROM videos ORDER BY id")).all()
        for video_id, content_hash in videos:
            clips = connection.execute(sa.text(
                "SELECT v.channel, v.model, v.dim, v.vector, c.idx FROM clip_vectors v "
                "JOIN clips c ON c.id = v.clip_id WHERE c.video_id = :video ORDER BY v.channel, c.idx"),
                {"video": video_id}).all()
            count = connection.execute(sa.text("SELECT count(*) FROM clips WHERE video_id = :video"),
                                       {"video": video_id}).scalar()
            by_channel: dict[tuple[str, str], dict[int, np.ndarray]] = {}
            for channel, model, _dim, vector, idx in clips:
                by_channel.setdefault((channel, model), {})[idx] = np.frombuffer(vector, dtype=np.float32)
            for (channel, model), vectors in by_channel.items():
                dim = files.write(content_hash, channel, model, count, vectors)
                connection.execute(sa.text(
                    "INSERT INTO video_channels (video_id, channel, model, dim) VALUES (:v, :c, :m, :d)"),
                    {"v": video_id, "c": channel, "m": model, "d": dim})
    op.drop_table("clip_vectors")
    # The search build changes with the catalogue's generation: rebuild it without the table.
    connection.execute(sa.text("UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS VARCHAR(32)) "
                               "WHERE key = 'generation'"))


def downgrade() -> None:
    op.create_table(
        "clip_vectors",
        sa.Column("clip_id", sa.Integer(), sa.ForeignKey("clips.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT c.video_id, v.content_hash, c.channel, c.model FROM video_channels c "
        "JOIN videos v ON v.id = c.video_id")).all()
    files = _files() if rows else None
    for video_id, content_hash, channel, model in rows:
        matrix = files.read(content_hash, channel, model)
        clip_ids = connection.execute(sa.text("SELECT id FROM clips WHERE video_id = :v ORDER BY idx"),
                                      {"v": video_id}).scalars().all()
        for clip_id, vector in zip(clip_ids, matrix):
            if not np.isnan(vector).any():
                connection.execute(sa.text(
                    "INSERT INTO clip_vectors (clip_id, channel, model, dim, dtype, vector) "
                    "VALUES (:i, :c, :m, :d, 'float32', :b)"),
                    {"i": clip_id, "c": channel, "m": model, "d": len(vector),
                     "b": np.ascontiguousarray(vector, dtype=np.float32).tobytes()})
    op.drop_table("video_channels")
