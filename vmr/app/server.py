"""`vmr serve`: the REST API and the web page over one `Library`, whose models stay loaded.

Files are only ever found through the catalogue: a request names a video by its integer id and
the path comes from the database row, so no part of a URL is ever joined onto a path.

Safety (see `Guard`): a request must name this server in its Host header (a loopback name, the
address it is bound to, or one allowed with --allow-host), so that a web page elsewhere cannot
reach it through DNS rebinding; beyond loopback it must carry the server's token; clients
beyond loopback never see a file's absolute path; error bodies quote at most a short excerpt of
what was sent; and no other origin may read the API unless --cors names it.

Searches run concurrently: the library's caches are thread-safe, and each request has its own
catalogue session.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import os
import secrets
import socket
import threading
import typing
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vmr import __version__
from vmr.app.output import to_json, warn
from vmr.app.subtitles import chapters_json, write_vtt
from vmr.catalogue.store import Clip, SlideText, Video
from vmr.errors import MediaError, QueryError
from vmr.ingest.media import read_frame
from vmr.library import Library, VideoEntry, transcript_json
from vmr.search.links import watch_path
from vmr.search.moments import Moment
from vmr.check import whole_jpeg

STATIC = Path(__file__).with_name("static")
PAGE = STATIC / "index.html"
MAX_QUERY_CHARS = 1000
MAX_K = 100
THUMB_WIDTH = 480  # a card shows it at a third of that; the rest is for high-density screens
# An error body quotes at most this many characters of what the client sent.
EXCERPT_CHARS = 40
# ... and its message is at most this long.
MAX_DETAIL_CHARS = 300
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
TOKEN_COOKIE = "vmr-token-{port}"  # one per port: two servers on one host keep their own

VideoId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="a video id, as /api/videos lists them")]
Translation = Annotated[bool, Query(description="the English translation of its speech instead (a video in "
                                                "another language, indexed with --translate)")]


# -- settings and the guard in front of every request


@dataclass(frozen=True)
class ServeSettings:
    """How `vmr serve` exposes the library: `host` is the address it is bound to; `token` is
    required of every request when set; `allow_hosts` are extra Host names it answers to;
    `cors` the origins whose pages may read the API."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    allow_hosts: tuple[str, ...] = ()
    cors: tuple[str, ...] = ()

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)

    @property
    def cookie(self) -> str:
        return TOKEN_COOKIE.format(port=self.port)


def new_token() -> str:
    return secrets.token_hex(24)


def is_loopback(host: str) -> bool:
    """Whether a name or address stays on this computer."""
    host = host.strip("[]").lower().rstrip(".")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


@lru_cache(maxsize=256)
def is_own_address(host: str) -> bool:
    """Whether an IP literal is an address of this computer: only those can be bound. (A DNS
    rebinding attack needs a name; an address in the Host header cannot be one.)"""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
        return True
    except OSError:
        return False


def host_name(header: str) -> str | None:
    """The name in a Host header, without its port, lower case; None when malformed."""
    header = header.strip().lower()
    if not header or any(c in header for c in "/\\@ ?#"):
        return None
    if header.startswith("["):  # [::1]:8000
        name, _, port = header.partition("]")
        name += "]"
        if port and not (port.startswith(":") and port[1:].isdigit()):
            return None
        return name if is_ip(name) else None
    name, _, port = header.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters of what a client sent, marked when cut."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


class Guard:
    """ASGI middleware in front of the app: the Host check, then the token (when one is set)."""

    def __init__(self, app: ASGIApp, settings: ServeSettings):
        self.app = app
        self.settings = settings
        self.hosts = {name.lower().rstrip(".") for name in settings.allow_hosts}
        if not is_wildcard(settings.host):
            self.hosts.add(settings.host.lower())
            self.hosts.add(f"[{settings.host.strip('[]').lower()}]")
        else:  # every address of this computer is bound: its own names are the bound names
            self.hosts |= {socket.gethostname().lower(), socket.getfqdn().lower()}

    def host_allowed(self, name: str) -> bool:
        return (name in self.hosts or is_loopback(name)
                or (is_wildcard(self.settings.host) and is_own_address(name)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        name = host_name(headers.get("host", ""))
        if name is None:
            return await refuse(send, 400, "a request must name this server in its Host header")
        if not self.host_allowed(name):
            return await refuse(send, 421, f"this server does not answer for the host {excerpt(name)!r} "
                                           "(vmr serve --allow-host NAME allows a name)")
        token = self.settings.token
        if token is None or scope["method"] == "OPTIONS":  # a CORS preflight never carries credentials
            return await self.app(scope, receive, send)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 (a malformed cookie header is no token)
            cookies = SimpleCookie()
        cookie = cookies.get(self.settings.cookie)
        bearer = headers.get("authorization", "")
        offered = [query.get("token"), cookie.value if cookie else None,
                   bearer[7:].strip() if bearer.lower().startswith("bearer ") else None]
        if not any(secrets.compare_digest(o.encode(), token.encode()) for o in offered if o):
            return await refuse(send, 401, "this server needs its token: open the link `vmr serve` printed "
                                           "(…/?token=…), or send Authorization: Bearer TOKEN",
                                {"www-authenticate": 'Bearer realm="vmr"'})
        if query.get("token") and scope["method"] in ("GET", "HEAD") and not scope["path"].startswith(("/api/", "/media/")):
            # A page opened with ?token=: keep the token in a cookie, and the address bar clean
            # (the share links the page makes must not carry it).
            rest = urlencode([(k, v) for k, v in parse_qsl(scope["query_string"].decode("latin-1"),
                                                           keep_blank_values=True) if k != "token"])
            # One leading slash: "//host/…" would send the browser to another site.
            location = "/" + quote(scope["path"].lstrip("/"), safe="/") + (f"?{rest}" if rest else "")
            cookie_header = (f"{self.settings.cookie}={token}; Path=/; HttpOnly; SameSite=Lax; "
                             "Max-Age=2592000")
            return await refuse(send, 303, "see " + location,
                                {"location": location, "set-cookie": cookie_header, "cache-control": "no-store"})
        return await self.app(scope, receive, send)


async def refuse(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class ConditionalGet:
    """ASGI middleware: every answer to a GET that has no ETag of its own (JSON, captions) gets
    one, a hash of its body, and a request whose If-None-Match holds it gets 304 Not Modified
    without the body. Those bodies are small; files (media, thumbnails, the page, /static) have
    their own ETags and answer conditionally by themselves."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        wanted = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"if-none-match"), None)
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if message["status"] == 200 and b"etag" not in headers:
                    start = message
                    return
                return await send(message)
            if start is None:
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            etag = f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"etag", etag.encode()))
            if wanted is not None and etag_matches(wanted, etag):
                await send({"type": "http.response.start", "status": 304, "headers": [
                    (k, v) for k, v in headers if k.lower() not in (b"content-type",)]})
                await send({"type": "http.response.body", "body": b""})
                return
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110's weak comparison of an If-None-Match list with one ETag."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


class FileAnswer(FileResponse):
    """A file answered as clients expect: 304 when If-None-Match holds its ETag; a Range
    header that is not valid byte-range syntax ignored (RFC 9110 14.2: the whole file, 200);
    an unsatisfiable one 416."""

    def __init__(self, path: Path, **kwargs: Any):
        super().__init__(path, stat_result=os.stat(path), **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.lower(): v.decode("latin-1") for k, v in scope["headers"]}
        wanted = headers.get(b"if-none-match")
        if wanted is not None and etag_matches(wanted, self.headers["etag"]):
            keep = {k: v for k, v in self.headers.items() if k in ("etag", "cache-control", "last-modified")}
            return await Response(status_code=304, headers=keep)(scope, receive, send)
        if b"range" in headers:
            try:
                self._parse_range_header(headers[b"range"], self.stat_result.st_size)
            except MalformedRangeHeader:
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]}
            except RangeNotSatisfiable:
                pass  # 416, with the size
        await super().__call__(scope, receive, send)


# -- response models: what the OpenAPI document promises, derived from the result dataclasses


MOMENT_FIELDS = {
    "video": "the video file's absolute path (its file name, to clients beyond loopback)",
    "video_id": "the video's id in this library",
    "start": "seconds from the video's start", "end": "seconds from the video's start",
    "score": "fused relevance of the moment's window",
    "text": "why it matched: the words said, or the slide's text when the slide is why",
    "link": "a file:// URI with a media fragment (#t=start,end); the page's watch link beyond loopback",
    "why": "speech or slides: which one explains the moment",
    "speech_text": "the words said in the moment", "slide_text": "the text on screen at its best clip",
    "frame": "seconds: the frame that shows the moment best (its thumbnail)",
    "weak": "true when the moment is only the closest thing found, not a confident answer",
    "title": "the video's file name", "thumbnail": "the moment's picture: a JPEG of `frame`",
    "watch": "the page's link that plays the moment",
}
VIDEO_FIELDS = {
    "video_id": "the video's id", "path": "the file's absolute path (its name, to clients beyond loopback)",
    "duration": "seconds", "clips": "search clips", "words": "words transcribed",
    "has_audio": "whether it has a sound track", "asr_model": "the Whisper model that transcribed it",
    "indexed_at": "when it was indexed (ISO 8601, UTC)", "title": "the file's name",
    "media": "the file, with Range requests", "thumbnail": "a JPEG of its first clip",
    "transcript": "its timed segments and words (JSON)", "captions": "its transcript as WebVTT captions",
    "translated": "whether its speech has an English translation (indexed with --translate): "
                  "?translation=true on transcript and captions",
}


def model_of(name: str, source: type, extra: dict[str, type], descriptions: dict[str, str]) -> type[BaseModel]:
    """A pydantic model of a result dataclass's fields and the server's extra ones, so that the
    OpenAPI document follows the dataclass as it grows."""
    hints = typing.get_type_hints(source)
    fields: dict[str, Any] = {
        f.name: (hints[f.name], Field(description=descriptions.get(f.name)))
        for f in dataclasses.fields(source)
    }
    fields |= {key: (kind, Field(description=descriptions.get(key))) for key, kind in extra.items()}
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


MomentModel = model_of("Moment", Moment, {"title": str, "thumbnail": str, "watch": str}, MOMENT_FIELDS)
VideoModel = model_of("Video", VideoEntry, {"title": str, "media": str, "thumbnail": str, "transcript": str,
                                            "captions": str}, VIDEO_FIELDS)


class TranscriptWord(BaseModel):
    start: float
    end: float
    text: str
    probability: float | None


class TranscriptSegment(BaseModel):
    start: float
    end: float
    text: str
    words: list[TranscriptWord]


class Transcript(BaseModel):
    model_config = ConfigDict(extra="forbid")
    video: str = Field(description="the file's absolute path (its name, to clients beyond loopback)")
    video_id: int
    language: str | None = Field(description="the language of the segments' text")
    translated_from: str | None = Field(description="the language spoken, where the segments are its English "
                                                    "translation (?translation=true), else null")
    segments: list[TranscriptSegment]


class Chapter(BaseModel):
    start: float
    end: float
    title: str = Field(description="the slide's heading where there is one, else a key phrase of what is said")


class Error(BaseModel):
    detail: str = Field(description="one line saying what is wrong")


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    input: str | None = Field(None, description=f"at most {EXCERPT_CHARS} characters of what was sent")


class ValidationFailure(BaseModel):
    detail: list[ValidationIssue]


TranscriptModel = Transcript


def errors(*codes: int) -> dict[int | str, dict]:
    described = {
        304: {"description": "Not Modified: If-None-Match holds the current ETag"},
        400: {"model": Error, "description": "Bad request"},
        401: {"model": Error, "description": "The server's token is missing or wrong"},
        404: {"model": Error, "description": "No such video, or its file is gone"},
        416: {"description": "Range Not Satisfiable (Content-Range: bytes */SIZE)"},
        421: {"model": Error, "description": "The Host header names another server"},
        422: {"model": ValidationFailure, "description": "A parameter is missing or invalid"},
    }
    return {code: described[code] for code in (401, 421, 422, 304, *codes)}


# -- the app


def create_app(library: Library, settings: ServeSettings | None = None) -> FastAPI:
    """The app, with the library's encoder and search build loaded now, so the first search is fast."""
    settings = settings or ServeSettings()
    # One BLAS thread for the whole process: a query's matrices are a few rows (the encoder
    # limits itself to one thread per call, but a process-wide setting changed and restored by
    # concurrent calls would leave some of them on all threads, 20x slower).
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    # Loads the encoder, maps the build and compiles the kernels; says once, as the server
    # starts, what the build goes without (the API's answers keep their shape).
    warn(library.search("warm up", k=1).problems)
    searching = SearchSlots(library)

    # No /docs: Swagger UI comes from a CDN, and the page must work offline. /openapi.json stays.
    app = FastAPI(title="vmr", version=__version__, docs_url=None, redoc_url=None,
                  description="Find the moments inside lecture videos that match a text query.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def get(path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        """A GET route that also answers HEAD (headers only), as clients such as wget expect."""
        def register(endpoint: Callable) -> Callable:
            app.add_api_route(path, endpoint, methods=["GET"], **kwargs)
            app.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False,
                              **{k: v for k, v in kwargs.items() if k not in ("responses", "summary",
                                                                              "include_in_schema")})
            return endpoint
        return register

    def local(request: Request) -> bool:
        """Whether the client is on this computer and asked for it by a loopback name: it may
        see the files' paths. (A proxy on this computer forwards another name.)"""
        client = request.client.host if request.client else ""
        return is_loopback(client) and is_loopback(host_name(request.headers.get("host", "")) or "")

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

    def answer(value: object) -> JSONResponse:
        return JSONResponse(to_json(value))

    @get("/api/search", summary="Moments matching a query, best first", response_model=list[MomentModel],
         responses=errors(400))
    def search_moments(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS,
                                description='what to look for; "quoted words" must be said or shown')],
        k: Annotated[int, Query(ge=1, le=MAX_K, description="number of moments")] = 10,
    ) -> JSONResponse:
        try:
            with searching():
                found = library.search(q, k)
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from exc
        return answer([moment_json(m, local(request)) for m in found])

    @get("/api/videos", summary="Every indexed video", response_model=list[VideoModel], responses=errors())
    def list_videos(request: Request) -> JSONResponse:
        return answer([video_json(entry, local(request)) for entry in library.videos()])

    @get("/api/examples", summary="A few searches to start from: titles of the library's slides",
         response_model=list[str], responses=errors())
    def get_examples(n: Annotated[int, Query(ge=1, le=20, description="how many")] = 4) -> JSONResponse:
        return answer(examples(library, n))

    @get("/api/videos/{video_id}", summary="One indexed video", response_model=VideoModel, responses=errors(404))
    def get_video(request: Request, video_id: VideoId) -> JSONResponse:
        found = library.videos(video_id)
        if not found:
            raise HTTPException(404, f"video {video_id} is not in the index")
        return answer(video_json(found[0], local(request)))

    def transcript(video_id: int, translation: bool) -> tuple[Video, list]:
        """Library.transcript of an indexed video; 404 where it has no translation to give."""
        with library.session() as session:
            indexed(session, video_id)
        video, segments = library.transcript(video_id, translation)
        if translation and not segments:
            raise HTTPException(404, f"video {video_id} has no English translation (indexed without --translate, "
                                     "or its speech is English)")
        return video, segments

    @get("/api/videos/{video_id}/transcript", summary="A video's timed segments and words",
         response_model=Transcript, responses=errors(404))
    def get_transcript(request: Request, video_id: VideoId, translation: Translation = False) -> JSONResponse:
        found = transcript_json(*transcript(video_id, translation), translation)
        if not local(request):
            found["video"] = title(found["video"])
        return answer(found)

    @get("/api/videos/{video_id}/captions.vtt", summary="A video's transcript as WebVTT captions",
         response_class=Response, responses={200: {"content": {"text/vtt": {}}, "description": "WebVTT"},
                                             **errors(404)})
    def get_captions(video_id: VideoId, translation: Translation = False) -> Response:
        _, segments = transcript(video_id, translation)
        return Response(write_vtt(segments), media_type="text/vtt; charset=utf-8")

    @get("/api/videos/{video_id}/chapters", summary="A video's chapters: start, end and title of each",
         response_model=list[Chapter], responses=errors(404))
    def get_chapters(video_id: VideoId) -> JSONResponse:
        """[] for a video indexed before chapters (the next `vmr index` derives them)."""
        with library.session() as session:
            if indexed(session, video_id).structure is None:
                return answer([])
        return answer(chapters_json(library.chapters(video_id)[1]))

    @get("/api/videos/{video_id}/thumbnail", summary="JPEG keyframe of the clip at a time",
         response_class=FileResponse,
         responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG, at most "
                          f"{THUMB_WIDTH} pixels wide"}, **errors(404)})
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
        if not whole_jpeg(cached):  # not made yet, or damaged since: made (again)
            try:
                write_thumbnail(video_file(video), at, cached)
            except MediaError as exc:
                raise HTTPException(404, f"video {video_id}: cannot read its frame at {at:.3f} s") from exc
        return FileAnswer(cached, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    @get("/media/{video_id}", summary="The video file; Range requests let the player seek",
         response_class=FileResponse,
         responses={200: {"content": {"video/mp4": {}, "video/webm": {}, "video/*": {}},
                          "description": "The whole file"},
                    206: {"description": "The bytes asked for with Range"}, **errors(404, 416)})
    def get_media(video_id: VideoId) -> FileResponse:
        with library.session() as session:
            path = video_file(indexed(session, video_id))
        return FileAnswer(path)  # answers Range with 206 and Content-Range, or 416

    @get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileAnswer(PAGE, headers={"Cache-Control": "no-cache"})

    @get("/watch/{video_id}", include_in_schema=False)
    def watch(video_id: VideoId) -> FileResponse:
        # The page reads t and end itself; an unknown id still gets the page, which says so.
        with library.session() as session:
            known = session.get(Video, video_id) is not None
        return FileAnswer(PAGE, status_code=200 if known else 404, headers={"Cache-Control": "no-cache"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the whole input (a 100 KB query comes back whole).
        issues = [{"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                   "msg": excerpt(e.get("msg", ""), MAX_DETAIL_CHARS), "type": str(e.get("type", "")),
                   **({"input": excerpt(e["input"])} if e.get("input") is not None else {})}
                  for e in exc.errors()]
        return JSONResponse({"detail": issues}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 304 or exc.status_code < 400:
            return Response(status_code=exc.status_code, headers=exc.headers)
        detail = excerpt(exc.detail, MAX_DETAIL_CHARS) if isinstance(exc.detail, str) else "error"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    # The last added runs first: the guard, then CORS (a preflight carries no token), then ETags.
    app.add_middleware(ConditionalGet)
    if settings.cors:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors), allow_methods=["GET", "HEAD"],
                           allow_headers=["Authorization", "If-None-Match", "Range"],
                           expose_headers=["ETag", "Content-Range", "Content-Length"])
    app.add_middleware(Guard, settings=settings)
    return app


# Slide titles that say nothing of a lecture's content.
GENERIC_TITLES = frozenset({"summary", "outline", "agenda", "overview", "contents", "questions",
                            "thank you", "thanks", "references", "recap", "introduction"})


def examples(library: Library, n: int) -> list[str]:
    """Up to `n` searches to try: from each video in turn, the title (first line) of the slide
    it shows longest, leaving out its first slide (the lecture's title) and generic ones."""
    with library.session() as session:
        rows = session.execute(select(SlideText.video_id, SlideText.idx, SlideText.start, SlideText.end,
                                      SlideText.text).where(SlideText.text != "")
                               .order_by(SlideText.video_id, SlideText.idx)).all()
    per_video: dict[int, dict[str, float]] = {}
    for video_id, idx, start, end, text in rows:
        line = text.strip().splitlines()[0].strip() if text.strip() else ""
        if idx == 0 or len(line) < 4 or len(line) > 60 or line.lower().rstrip(":.") in GENERIC_TITLES:
            continue
        shown = per_video.setdefault(video_id, {})
        shown[line] = shown.get(line, 0.0) + (end - start)
    ranked = [sorted(shown, key=lambda line: -shown[line]) for _, shown in sorted(per_video.items())]
    found: list[str] = []
    for depth in range(max((len(r) for r in ranked), default=0)):
        for titles in ranked:
            if depth < len(titles) and titles[depth].lower() not in {f.lower() for f in found}:
                found.append(titles[depth])
    return found[:n]


class SearchSlots:
    """What a search holds while it runs. A library small enough for the numpy kernels (one
    BLAS thread each) runs its searches at once. A larger one runs them one at a time: each
    search's Numba kernels already use every core, so more at once only thrash (8 clients at once
    on a 1M-clip library on 2 cores: p95 18 s, and fewer searches a second than one at a time),
    and Numba's fallback threading layer, workqueue, aborts the process when two threads launch
    a parallel kernel."""

    def __init__(self, library: Library):
        self.library = library
        self.one_at_a_time = threading.Lock()

    def __call__(self) -> AbstractContextManager:
        import kernels

        return nullcontext() if self.library.mapped_clips < kernels.SMALL_LIBRARY else self.one_at_a_time


def title(path: str) -> str:
    return Path(path).name


def moment_json(moment: Moment, local: bool = True) -> dict:
    """`vmr search --json`'s fields, plus what the page shows and links to. Beyond loopback,
    the path is the file's name and the link the page's."""
    found = to_json(moment) | {
        "title": title(moment.video),
        "thumbnail": f"/api/videos/{moment.video_id}/thumbnail?t={round(moment.frame, 3)}",
        "watch": watch_path(moment.video_id, moment.start, moment.end),
    }
    if not local:
        found |= {"video": found["title"], "link": found["watch"]}
    return found


def video_json(entry: VideoEntry, local: bool = True) -> dict:
    found = to_json(entry) | {
        "title": title(entry.path),
        "media": f"/media/{entry.video_id}",
        "thumbnail": f"/api/videos/{entry.video_id}/thumbnail",
        "transcript": f"/api/videos/{entry.video_id}/transcript",
        "captions": f"/api/videos/{entry.video_id}/captions.vtt",
    }
    if not local:
        found["path"] = found["title"]
    return found


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
