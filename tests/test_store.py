"""The catalogue, on SQLite and PostgreSQL: migrations match the ORM, open upgrades in place
(once, with several processes opening a new library; clip vectors move out to files), removal
cascades, types round-trip."""

from __future__ import annotations

import subprocess
import sys
from datetime import timezone

import numpy as np
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, select, text

from vmr.catalogue.reads import SCHEMA_REVISION
from vmr.catalogue.store import (
    Base, Clip, Segment, Video, VideoChannel, Word, alembic_config,
    bump_generation, current_revision, generation, open_engine, session_factory, utcnow,
)
from vmr.catalogue.vectors import VectorFiles


def test_schema_revision_is_the_migrations_head():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_REVISION


def test_migrations_build_exactly_the_orm_schema(db_url):
    engine = open_engine(db_url)
    assert current_revision(engine) == SCHEMA_REVISION
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_reopening_keeps_rows_and_generation(db_url):
    sessions = session_factory(open_engine(db_url))
    with sessions() as session, session.begin():
        session.add(_video("/v/a.mp4"))
        bump_generation(session)
    sessions = session_factory(open_engine(db_url))
    with sessions() as session:
        assert session.scalar(select(func.count(Video.id))) == 1
        assert generation(session) == 1


def test_deleting_a_video_removes_all_its_rows(db_url):
    engine = open_engine(db_url)
    sessions = session_factory(engine)
    with sessions() as session, session.begin():
        video = _video("/v/a.mp4")
        video.clips.append(Clip(idx=0, start=0.0, end=2.0, keyframe_time=1.0))
        video.channels.append(VideoChannel(channel="speech", model="m", dim=2))
        segment = Segment(idx=0, start=0.0, end=1.0, text="hello")
        video.segments.append(segment)
        session.add(video)
        session.flush()
        segment.words.append(Word(idx=0, video_id=video.id, start=0.0, end=0.5, text="hello", probability=0.9))
        session.add(_video("/v/b.mp4"))
    with sessions() as session, session.begin():
        session.delete(session.scalar(select(Video).where(Video.path == "/v/a.mp4")))
    with engine.connect() as connection:
        for table in ("clips", "video_channels", "segments", "words"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        assert connection.execute(text("SELECT count(*) FROM videos")).scalar() == 1


def test_new_library_opened_by_several_processes_at_once_is_migrated_once(db_url):
    code = "import sys; from vmr.catalogue.store import open_engine; open_engine(sys.argv[1])"
    opening = [subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
               for _ in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in opening]
    assert [p.returncode for p in opening] == [0, 0, 0], errors
    assert current_revision(open_engine(db_url)) == SCHEMA_REVISION


def test_column_types_round_trip(db_url):
    sessions = session_factory(open_engine(db_url))
    long_path = "/" + "/".join(f"lecture-folder-{i:04d}" for i in range(200)) + "/talk.mp4"  # 4 kB
    when = utcnow()
    with sessions() as session, session.begin():
        video = _video(long_path)
        video.size, video.mtime, video.indexed_at = 5 * 2**40, 1_732_245_123.123456789, when
        video.clips.append(Clip(idx=0, start=0.0, end=2.0, keyframe_time=None))
        video.channels.append(VideoChannel(channel="speech", model="m" * 1024, dim=384))
        session.add(video)
    with sessions() as session:
        video = session.scalar(select(Video))
        assert (video.path, video.size, video.mtime) == (long_path, 5 * 2**40, 1_732_245_123.123456789)
        # SQLite keeps no zone: vmr writes UTC, so a naive value reads as UTC.
        assert video.indexed_at.replace(tzinfo=video.indexed_at.tzinfo or timezone.utc) == when
        assert session.scalar(select(VideoChannel.model)) == "m" * 1024


def test_clip_vectors_move_out_of_a_0002_catalogue_into_files(db_url, tmp_path):
    """Every float32 vector row of a library from before 0003 ends up, bit for bit, in its
    video's file; absent clips are NaN rows; the table goes; nothing is indexed again."""
    engine = create_engine(db_url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 8)).astype(np.float32)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO videos (id, path, content_hash, size, mtime, duration, fps, width, height, has_audio, "
            "status, indexed_at) VALUES (1, '/v/a.mp4', :hash, 1, 0, 6, 10, 16, 16, true, 'indexed', :now)"),
            {"hash": "ab" * 32, "now": utcnow()})
        for idx in range(3):
            connection.execute(text("INSERT INTO clips (id, video_id, idx, start, \"end\") VALUES (:i, 1, :x, :s, :e)"),
                               {"i": idx + 1, "x": idx, "s": 2.0 * idx, "e": 2.0 * idx + 2})
        for idx in (0, 2):  # the middle clip has no speech
            connection.execute(text("INSERT INTO clip_vectors VALUES (:clip, 'speech', 'm', 8, 'float32', :v)"),
                               {"clip": idx + 1, "v": vectors[idx].tobytes()})
    engine.dispose()
    engine = open_engine(db_url, tmp_path)
    assert current_revision(engine) == SCHEMA_REVISION
    assert "clip_vectors" not in inspect(engine).get_table_names()
    with session_factory(engine)() as session:
        assert [(c.video_id, c.channel, c.model, c.dim) for c in session.scalars(select(VideoChannel))] == \
            [(1, "speech", "m", 8)]
    moved = VectorFiles(tmp_path).read("ab" * 32, "speech", "m")
    np.testing.assert_array_equal(moved[[0, 2]], vectors[[0, 2]])
    assert np.isnan(moved[1]).all()


def _video(path: str) -> Video:
    return Video(path=path, content_hash="0" * 64, size=1, mtime=0.0, duration=2.0, fps=25.0,
                 width=16, height=16, has_audio=False, status="indexed", indexed_at=utcnow())
