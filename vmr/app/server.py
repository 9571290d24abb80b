"""`vmr serve`: the REST API and the web page over one `Library`, whose models stay loaded.

Files are only ever found through the catalogue: a request names a video by its integer id and
the path comes from the database row, so no part of a URL is ever joined onto a path.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.orm import Session

from vmr import __version__
from vmr.app.output import to_json
from vmr.errors import MediaError, QueryError
from vmr.library import Library, VideoEntry, transcript_json
from vmr.search.links import watch_path
from vmr.ingest.media import read_frame
from vmr.search.moments import Moment
from vmr.catalogue.store import Clip, Video

STATIC = Path(__file__).with_name("static")
PAGE = STATIC / "index.html"
MAX_QUERY_CHARS = 1000
MAX_K = 100
THUMB_WIDTH = 480  # a card shows it at a third of that; the rest is for high-density screens

VideoId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="a video id, as /api/videos lists them")]


def create_app(library: Library) -> FastAPI:
    """The app, with the library's encoder and search build loaded now, so the first search is fast."""
    # Endpoints run in a threadpool; the encoder cache and the matrix rebuild are not thread-safe.
    search_lock = threading.Lock()
    with search_lock:
        library.search("warm up", k=1)  # loads the encoder, maps the build, loads the kernels

    # No /docs: Swagger UI comes from a CDN, and the page must work offline. /openapi.json stays.
    app = FastAPI(title="vmr", version=__version__, docs_url=None, redoc_url=None,
                  description="Find the moments inside lecture videos that match a text query.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def indexed(session: Session, video_id: int) -> Video:
        video = session.get(Video, video_id)
        if video is None:
            raise HTTPException(404, f"video {video_id} is not in the index")
        return video

    def video_file(video: Video) -> Path:
        path = Path(video.path)
        if not path.is_file():
            raise HTTPException(404, f"video {video.id}: its file is gone (moved or deleted since indexing)")
        return path

    @app.get("/api/search", summary="Moments matching a query, best first")
    def search_moments(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="what to look for")],
        k: Annotated[int, Query(ge=1, le=MAX_K, description="number of moments")] = 10,
    ) -> list[dict]:
        try:
            with search_lock:
                found = library.search(q, k)
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from exc
        return [moment_json(m) for m in found]

    @app.get("/api/videos", summary="Every indexed video")
    def list_videos() -> list[dict]:
        return [video_json(entry) for entry in library.videos()]

    @app.get("/api/videos/{video_id}", summary="One indexed video")
    def get_video(video_id: VideoId) -> dict:
        found = library.videos(video_id)
        if not found:
            raise HTTPException(404, f"video {video_id} is not in the index")
        return video_json(found[0])

    @app.get("/api/videos/{video_id}/transcript", summary="A video's timed segments and words")
    def get_transcript(video_id: VideoId) -> dict:
        with library.session() as session:
            indexed(session, video_id)
        return transcript_json(*library.transcript(video_id))

    @app.get("/api/videos/{video_id}/chapters", summary="A video's chapters: start, end and title of each")
    def get_chapters(video_id: VideoId) -> list[dict]:
        """[] for a video indexed before chapters (the next `vmr index` derives them)."""
        from vmr.app.subtitles import chapters_json

        with library.session() as session:
            if indexed(session, video_id).structure is None:
                return []
        return chapters_json(library.chapters(video_id)[1])

    @app.get("/api/videos/{video_id}/thumbnail", summary="JPEG keyframe of the clip at a time",
             response_class=FileResponse)
    def get_thumbnail(
        video_id: VideoId,
        t: Annotated[float, Query(ge=0, le=1e7, allow_inf_nan=False, description="seconds")] = 0.0,
    ) -> FileResponse:
        with library.session() as session:
            video = indexed(session, video_id)
            clip = session.scalars(select(Clip).where(Clip.video_id == video_id, Clip.start <= t)
                                   .order_by(Clip.start.desc()).limit(1)).first()
        if clip is None:
            raise HTTPException(404, f"video {video_id} has no clips")
        at = clip.keyframe_time if clip.keyframe_time is not None else clip.start
        # Named from the row alone; the content hash keeps a re-indexed file from showing old frames.
        cached = library.home / "thumbs" / f"{video.id}-{video.content_hash[:16]}-{round(at * 1000)}.jpg"
        if not cached.exists():
            try:
                write_thumbnail(video_file(video), at, cached)
            except MediaError as exc:
                raise HTTPException(404, str(exc)) from exc
        return FileResponse(cached, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    @app.get("/media/{video_id}", summary="The video file; Range requests let the player seek",
             response_class=FileResponse)
    def get_media(video_id: VideoId) -> FileResponse:
        with library.session() as session:
            path = video_file(indexed(session, video_id))
        return FileResponse(path)  # answers Range with 206 and Content-Range, or 416

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE)

    @app.get("/watch/{video_id}", include_in_schema=False)
    def watch(video_id: VideoId) -> FileResponse:
        # The page reads t and end itself; an unknown id still gets the page, which says so.
        with library.session() as session:
            known = session.get(Video, video_id) is not None
        return FileResponse(PAGE, status_code=200 if known else 404)

    return app


def title(path: str) -> str:
    return Path(path).name


def moment_json(moment: Moment) -> dict:
    """`vmr search --json`'s fields, plus what the page shows and links to."""
    return to_json(moment) | {
        "title": title(moment.video),
        "thumbnail": f"/api/videos/{moment.video_id}/thumbnail?t={round(moment.start, 3)}",
        "watch": watch_path(moment.video_id, moment.start, moment.end),
    }


def video_json(entry: VideoEntry) -> dict:
    return to_json(entry) | {
        "title": title(entry.path),
        "media": f"/media/{entry.video_id}",
        "thumbnail": f"/api/videos/{entry.video_id}/thumbnail",
        "transcript": f"/api/videos/{entry.video_id}/transcript",
    }


def write_thumbnail(video: Path, seconds: float, target: Path) -> None:
    """The frame at `seconds`, at most THUMB_WIDTH wide, as a JPEG written atomically (two
    requests for one thumbnail may race)."""
    import cv2

    frame = read_frame(video, seconds)
    height, width = frame.shape[:2]
    if width > THUMB_WIDTH:
        frame = cv2.resize(frame, (THUMB_WIDTH, round(height * THUMB_WIDTH / width)), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise MediaError(video, f"cannot encode the frame at {seconds:.3f} s as JPEG")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
    partial.write_bytes(jpeg.tobytes())
    os.replace(partial, target)
