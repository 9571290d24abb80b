"""The catalogue: SQLAlchemy 2.0 ORM over SQLite (default) or any SQLAlchemy URL.

Rows hold everything needed to rebuild the search matrices (`vmr.search.matrices`): videos, their clip
grid, transcript segments and words, timed slide text, and one vector per clip and channel. The schema is owned by
Alembic migrations in `migrations/`, applied when a store is opened.
"""

from __future__ import annotations

import os
import uuid
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
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from vmr.catalogue.reads import (
    SCHEMA_REVISION, CatalogueDamaged, NoLibrary, Read, check_sqlite_file, generation as read_generation, revision,
)
from vmr.errors import VmrError

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
    status: Mapped[str] = mapped_column(String(16))  # INDEXED, or MISSING: its file is gone
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
    translation: Mapped[list[TranslatedSentence]] = relationship(
        back_populates="video", cascade="all, delete-orphan", passive_deletes=True,
        order_by="TranslatedSentence.idx"
    )


class _TimedRow:
    """The columns of every timed row of a video (clips, segments, slides, translated
    sentences, chapters): its place in the video's list, and its span in seconds."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)


class Clip(_TimedRow, Base):
    __tablename__ = "clips"
    __table_args__ = (UniqueConstraint("video_id", "idx"),)

    keyframe_time: Mapped[float | None] = mapped_column(Float)

    video: Mapped[Video] = relationship(back_populates="clips")


class Segment(_TimedRow, Base):
    __tablename__ = "segments"

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


class SlideText(_TimedRow, Base):
    """What was on screen from `start` to `end`: one row per picture (a slide), its OCR text
    ("" for a picture without text, or when OCR was off); the starts are the picture changes."""

    __tablename__ = "slide_texts"

    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)

    video: Mapped[Video] = relationship(back_populates="slides")


class TranslatedSentence(_TimedRow, Base):
    """A timed sentence of a video's speech translated into English by Whisper (videos in
    another language; `vmr.ingest.analysis.IndexOptions.translate`), searched beside the
    transcript."""

    __tablename__ = "translations"

    text: Mapped[str] = mapped_column(Text)

    video: Mapped[Video] = relationship(back_populates="translation")

    @property
    def words(self) -> list:
        """No word times: a subtitle writer spreads the text over the sentence's span."""
        return []


class ChapterRow(_TimedRow, Base):
    """A chapter of a video (a topic, cut from slide changes and shifts in what is said,
    `vmr.ingest.structure`): the chapters of a video cover it from 0 to its end."""

    __tablename__ = "chapters"

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


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API objects)
    cursor = dbapi_connection.cursor()
    # Foreign keys: cascades on remove. (WAL, so that a search reads while an index run writes,
    # is kept by the file: set once, on a catalogue known to be vmr's; see _wal.)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL (None for other databases and in-memory ones)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def known_revisions() -> set[str]:
    """The migrations this vmr has (their revision ids are their file names' first part)."""
    import migrations

    folder = Path(migrations.__file__).parent / "versions"
    return {p.name.split("_", 1)[0] for p in folder.glob("[0-9]*_*.py")}


def describe_url(url: str) -> str:
    """The catalogue as a message names it: the file for SQLite, else the URL without password."""
    from sqlalchemy.engine import make_url

    database = sqlite_file(url)
    if database is not None:
        return str(database)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def catalogue_failure(exc: Exception, url: str) -> VmrError:
    """What a database error while reading or writing the catalogue means for the user, in
    one line: a damaged or foreign catalogue, or one that cannot be reached."""
    import sqlite3

    orig = getattr(exc, "orig", None) or exc
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    where = describe_url(url)
    if isinstance(orig, sqlite3.OperationalError) or (
            isinstance(exc, OperationalError) and not isinstance(orig, sqlite3.DatabaseError)):
        # Locked, unreachable, no permission: the catalogue may be fine.
        return VmrError(f"cannot use the catalogue {where}: {reason}")
    if isinstance(orig, sqlite3.DatabaseError):
        return CatalogueDamaged(where, reason)
    return CatalogueDamaged(where, reason, "use another database, or restore a copy, and re-index")


def open_engine(url: str, home: Path | None = None, create: bool = True) -> Engine:
    """An engine whose schema is at the newest migration (upgraded in place when older).
    `home`: where the library's files live (a migration may move data there). Without
    `create`, a catalogue that does not exist yet raises NoLibrary instead of being made."""
    database = sqlite_file(url)
    if database is not None:
        if database.exists():
            check_sqlite_file(database)
        elif not create:
            raise NoLibrary(f"no vmr library at {database}")
        else:
            _create_sqlite(url, database, home)
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
        # Tables first: a migrator committing between the two reads then shows its version;
        # in the other order its tables could look like another program's.
        tables = _has_tables(engine)
        revision = current_revision(engine)
        if revision is None:
            if tables:
                raise CatalogueDamaged(describe_url(url), "holds tables, but not vmr's", "use another database"
                                       if database is None else "move it away and re-index, or restore a copy")
            if database is not None:  # the file exists but holds nothing: vmr never leaves one so
                raise CatalogueDamaged(str(database), "an empty database, not made by vmr")
            if not create:
                raise NoLibrary(f"no vmr library in {describe_url(url)} (the database holds no vmr tables)")
        elif revision not in known_revisions():
            raise VmrError(f"{describe_url(url)}: written by a newer vmr (schema {revision}, this vmr knows "
                           f"{SCHEMA_REVISION}); upgrade vmr")
        if revision != SCHEMA_REVISION:
            upgrade(engine, home)
        if engine.dialect.name == "sqlite":
            _wal(engine)
    except VmrError:
        engine.dispose()
        raise
    except DBAPIError as exc:
        engine.dispose()
        raise catalogue_failure(exc, url) from exc
    return engine


def _create_sqlite(url: str, database: Path, home: Path | None) -> None:
    """A new SQLite catalogue, made whole under another name and then linked into place, so
    that no half-made (or 0-byte) catalogue is ever seen under its name; when another process
    made it first, theirs is kept."""
    from sqlalchemy.engine import make_url

    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(f".{database.name}.{uuid.uuid4().hex}.new")
    engine = create_engine(make_url(url).set(database=str(partial)))
    event.listen(engine, "connect", _sqlite_pragmas)
    try:
        _wal(engine)
        upgrade(engine, home)
        engine.dispose()  # the last connection closes: the WAL is checkpointed into the file
        try:
            os.link(partial, database)
        except FileExistsError:
            pass  # another process made it first: theirs is kept
        except OSError:  # a file system without hard links: a rename, which may replace a racing twin's
            if not database.exists():
                os.replace(partial, database)
    finally:
        engine.dispose()
        for leftover in (partial, partial.with_name(partial.name + "-wal"), partial.with_name(partial.name + "-shm")):
            leftover.unlink(missing_ok=True)


def _wal(engine: Engine) -> None:
    """Write-ahead logging (a setting the database file keeps), unless it has it already."""
    with engine.connect() as connection:
        if connection.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal":
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def _has_tables(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(engine).get_table_names())


def current_revision(engine: Engine) -> str | None:
    """The applied migration, read with one query so that opening a store costs no Alembic
    import; None for a database without vmr's version table. Other errors (a damaged file, an
    unreachable server) are raised."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            present = connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").first()
        else:
            present = connection.execute(text("SELECT to_regclass('alembic_version')")).scalar() \
                if engine.dialect.name == "postgresql" else True
        if not present:
            return None
        try:
            return revision(sqlalchemy_read(connection))
        except ProgrammingError:  # another database kind, without the table
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


def sqlalchemy_read(executor: Session | Connection) -> Read:
    """The `Read` of a session or connection: the statements of vmr.catalogue.reads on any catalogue."""
    return lambda sql, parameters: executor.execute(text(sql), parameters).all()


def generation(session: Session) -> int:
    return read_generation(sqlalchemy_read(session))


def bump_generation(session: Session) -> int:
    """Called inside the transaction that changes what search sees."""
    setting = session.get(Setting, "generation")
    if setting is None:
        setting = Setting(key="generation", value="0")
        session.add(setting)
    setting.value = str(int(setting.value) + 1)
    return int(setting.value)
