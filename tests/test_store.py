"""The catalogue: migrations match the ORM, open upgrades in place, removal cascades."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from vmr.store import (
    SCHEMA_REVISION, Base, Clip, ClipVector, Segment, Video, Word, alembic_config,
    bump_generation, current_revision, generation, open_engine, session_factory, sqlite_url, utcnow,
)


def test_schema_revision_is_the_migrations_head():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_REVISION


def test_migrations_build_exactly_the_orm_schema(tmp_path):
    engine = open_engine(sqlite_url(tmp_path))
    assert current_revision(engine) == SCHEMA_REVISION
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_reopening_keeps_rows_and_generation(tmp_path):
    sessions = session_factory(open_engine(sqlite_url(tmp_path)))
    with sessions() as session, session.begin():
        session.add(_video("/v/a.mp4"))
        bump_generation(session)
    sessions = session_factory(open_engine(sqlite_url(tmp_path)))
    with sessions() as session:
        assert session.scalar(select(func.count(Video.id))) == 1
        assert generation(session) == 1


def test_deleting_a_video_removes_all_its_rows(tmp_path):
    engine = open_engine(sqlite_url(tmp_path))
    sessions = session_factory(engine)
    with sessions() as session, session.begin():
        video = _video("/v/a.mp4")
        clip = Clip(idx=0, start=0.0, end=2.0, keyframe_time=1.0)
        clip.vectors.append(ClipVector(channel="speech", model="m", dim=2, dtype="float32", vector=b"\0" * 8))
        video.clips.append(clip)
        segment = Segment(idx=0, start=0.0, end=1.0, text="hello")
        video.segments.append(segment)
        session.add(video)
        session.flush()
        segment.words.append(Word(idx=0, video_id=video.id, start=0.0, end=0.5, text="hello", probability=0.9))
        session.add(_video("/v/b.mp4"))
    with sessions() as session, session.begin():
        session.delete(session.scalar(select(Video).where(Video.path == "/v/a.mp4")))
    with engine.connect() as connection:
        for table in ("clips", "clip_vectors", "segments", "words"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        assert connection.execute(text("SELECT count(*) FROM videos")).scalar() == 1


def _video(path: str) -> Video:
    return Video(path=path, content_hash="0" * 64, size=1, mtime=0.0, duration=2.0, fps=25.0,
                 width=16, height=16, has_audio=False, status="indexed", indexed_at=utcnow())
