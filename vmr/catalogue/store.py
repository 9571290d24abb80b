"""The catalogue: SQLAlchemy 2.0 ORM over SQLite (default) or any SQLAlchemy URL.

Rows hold everything needed to rebuild the search matrices (`vmr.search.matrices`): videos, their clip
grid, transcript segments and words, timed slide text, and one vector per clip and channel. The schema is owned by
Alembic migrations in `migrations/`, applied when a store is opened.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from vmr.errors import VmrError

# The newest migration in migrations/versions; a test keeps the two equal.
SCHEMA_REVISION = "0004"
# A PostgreSQL advisory lock key (locks are per database): schema upgrades, one at a time.
MIGRATION_LOCK = 0x766D7201


class Base(DeclarativeBase):
    pass


class Video(Base):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(4096), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[float] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float)
    fps: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    has_audio: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))  # "indexed"; kept open for later states
    asr_model: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str | None] = mapped_column(String(16))
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The version of `vmr.ingest.structure` its chapters and passage/chapter vectors come from;
    # None for a video indexed before them (the next `vmr index` derives them from its rows).
    structure: Mapped[int | None] = mapped_column(Integer, nullable=True)

    clips: Mapped[list[Clip]] = relationship(
        back_populates="video", cascade="all, delete-orphan", passive_deletes=True, order_by="Clip.idx"
    )
    segments: Mapped[list[Segment]] = relationship(
        back_populates="video", cascade="all, delete-orphan", passive_deletes=True, order_by="Segment.idx"
    )
    slides: Mapped[list[SlideText]] = relationship(
        back_populates="video", cascade="all, delete-orphan", passive_deletes=True, order_by="SlideText.idx"
    )
    channels: Mapped[list[VideoChannel]] = relationship(
        back_populates="video", cascade="all, delete-orphan", passive_deletes=True
    )
    chapters: Mapped[list[ChapterRow]] = relationship(
        back_populates="video", cascade="all, delete-orphan", passive_deletes=True, order_by="ChapterRow.idx"
    )


class Clip(Base):
    __tablename__ = "clips"
    __table_args__ = (UniqueConstraint("video_id", "idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    keyframe_time: Mapped[float | None] = mapped_column(Float)

    video: Mapped[Video] = relationship(back_populates="clips")


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    avg_logprob: Mapped[float | None] = mapped_column(Float)
    no_speech_prob: Mapped[float | None] = mapped_column(Float)

    video: Mapped[Video] = relationship(back_populates="segments")
    words: Mapped[list[Word]] = relationship(
        back_populates="segment", cascade="all, delete-orphan", passive_deletes=True, order_by="Word.idx"
    )


class Word(Base):
    __tablename__ = "words"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(String(256))
    probability: Mapped[float | None] = mapped_column(Float)

    segment: Mapped[Segment] = relationship(back_populates="words")


class SlideText(Base):
    """What was on screen from `start` to `end`: one row per picture (a slide), its OCR text
    ("" for a picture without text, or when OCR was off); the starts are the picture changes."""

    __tablename__ = "slide_texts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)

    video: Mapped[Video] = relationship(back_populates="slides")


class ChapterRow(Base):
    """A chapter of a video (a topic, cut from slide changes and shifts in what is said,
    `vmr.ingest.structure`): the chapters of a video cover it from 0 to its end."""

    __tablename__ = "chapters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    title: Mapped[str] = mapped_column(Text)

    video: Mapped[Video] = relationship(back_populates="chapters")


class VideoChannel(Base):
    """A channel a video has clip vectors for, and the model that made them; the vectors are in
    the file `VectorFiles.path(video.content_hash, channel, model)` under the home."""

    __tablename__ = "video_channels"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(1024))
    dim: Mapped[int] = mapped_column(Integer)

    video: Mapped[Video] = relationship(back_populates="channels")


class Setting(Base):
    """Small library-wide values; `generation` counts changes so stale matrices are noticed."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'vmr.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API objects)
    cursor = dbapi_connection.cursor()
    # WAL: a search reads while an index run writes; foreign keys: cascades on remove.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def open_engine(url: str, home: Path | None = None) -> Engine:
    """An engine whose schema is at the newest migration (upgraded in place when older).
    `home`: where the library's files live (a migration may move data there)."""
    try:
        engine = create_engine(url)
    except ImportError as exc:  # the dialect's driver, e.g. psycopg for postgresql+psycopg://
        fix = "pip install 'vmr[postgresql]'" if url.startswith("postgresql") else f"install {exc.name}"
        raise VmrError(f"--db {url.split(':')[0]}: its driver is not installed ({exc.name}): {fix}") from exc
    except ArgumentError as exc:
        raise VmrError(f"--db: not a database URL: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        if current_revision(engine) != SCHEMA_REVISION:
            upgrade(engine, home)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise VmrError(f"cannot open the catalogue {engine.url.render_as_string()}: {reason}") from exc
    return engine


def current_revision(engine: Engine) -> str | None:
    """The applied migration, read with one query so that opening a store costs no Alembic import."""
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:  # noqa: BLE001 (no table yet: a new database)
            connection.rollback()
            return None


def upgrade(engine: Engine, home: Path | None = None) -> None:
    from alembic import command

    with engine.begin() as connection:
        # One migrator at a time, in one transaction: a second process opening the same new
        # library waits here, then finds the schema at head and has nothing to do.
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        elif engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite would run DDL outside a transaction
        config = alembic_config()
        config.attributes["connection"] = connection
        config.attributes["home"] = home
        command.upgrade(config, "head")


def alembic_config():  # noqa: ANN201 (alembic is imported lazily)
    from alembic.config import Config

    import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def generation(session: Session) -> int:
    value = session.scalar(select(Setting.value).where(Setting.key == "generation"))
    return int(value) if value is not None else 0


def bump_generation(session: Session) -> int:
    """Called inside the transaction that changes what search sees."""
    setting = session.get(Setting, "generation")
    if setting is None:
        setting = Setting(key="generation", value="0")
        session.add(setting)
    setting.value = str(int(setting.value) + 1)
    return int(setting.value)
