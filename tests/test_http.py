"""HTTP as clients expect it, against the real `vmr serve` (uvicorn) with httpx: HEAD on every
GET route, invalid ranges ignored, ETag and If-None-Match, and an OpenAPI document that says
what each route answers."""

from __future__ import annotations

import httpx
import pytest
from pydantic import TypeAdapter

from serving import served
from vmr.app.server import MomentModel, TranscriptModel, VideoModel

QUERY = "what is overfitting"


@pytest.fixture(scope="module")
def base(sample_home):
    with served(sample_home) as url:
        yield url


@pytest.fixture(scope="module")
def routes(base) -> list[str]:
    """A URL for every GET route of the API and the page."""
    video = httpx.get(base + "api/videos").json()[0]
    moment = httpx.get(base + "api/search", params={"q": QUERY, "k": 1}).json()[0]
    return ["", f"watch/{video['video_id']}?t=5", "api/search?q=overfitting", "api/videos", "api/examples",
            f"api/videos/{video['video_id']}", video["transcript"].lstrip("/"), video["captions"].lstrip("/"),
            moment["thumbnail"].lstrip("/"), video["media"].lstrip("/"), "static/app.js", "openapi.json"]


def test_head_answers_every_get_route_with_its_headers_and_no_body(base, routes):
    for route in routes:
        got = httpx.get(base + route)
        head = httpx.head(base + route)
        assert got.status_code == 200, route
        assert head.status_code == 200, route
        assert head.content == b"", route
        assert head.headers["content-type"] == got.headers["content-type"], route
        assert int(head.headers["content-length"]) == len(got.content), route


@pytest.mark.parametrize("header", ["bytes=5-2", "bytes=abc", "bytes=-", "items=0-5", "bytes", "bytes=1-2-3"])
def test_an_invalid_range_is_ignored(base, sample_video, header):
    response = httpx.get(base + "media/1", headers={"Range": header})
    assert response.status_code == 200, response.text
    assert response.content == sample_video.read_bytes()


def test_valid_and_unsatisfiable_ranges(base, sample_video):
    data = sample_video.read_bytes()
    partial = httpx.get(base + "media/1", headers={"Range": "bytes=5-20"})
    assert partial.status_code == 206 and partial.content == data[5:21]
    beyond = httpx.get(base + "media/1", headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_if_none_match_gives_304_on_every_route(base, routes):
    for route in routes:
        first = httpx.get(base + route)
        etag = first.headers.get("etag")
        assert etag, route
        again = httpx.get(base + route, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"", route
        assert again.headers["etag"] == etag, route
        other = httpx.get(base + route, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == first.content, route
        listed = httpx.get(base + route, headers={"If-None-Match": f'"x", {etag}'})
        assert listed.status_code == 304, route


def test_an_etag_changes_with_the_answer(base):
    a = httpx.get(base + "api/search", params={"q": QUERY, "k": 2}).headers["etag"]
    b = httpx.get(base + "api/search", params={"q": QUERY, "k": 3}).headers["etag"]
    assert a != b


def test_openapi_describes_every_response(base):
    doc = httpx.get(base + "openapi.json").json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]

    def schema(route: str, code: str = "200", media: str = "application/json") -> dict:
        return paths[route]["get"]["responses"][code]["content"][media]["schema"]

    assert schema("/api/search")["items"]["$ref"] == "#/components/schemas/Moment"
    moment = schemas["Moment"]["properties"]
    assert {"video", "video_id", "start", "end", "score", "text", "link", "why", "speech_text", "slide_text",
            "frame", "weak", "title", "thumbnail", "watch"} <= moment.keys()
    assert moment["weak"]["type"] == "boolean" and moment["start"]["type"] == "number"
    assert schema("/api/videos/{video_id}")["$ref"] == "#/components/schemas/Video"
    assert schema("/api/videos/{video_id}/transcript")["$ref"] == "#/components/schemas/Transcript"
    assert "image/jpeg" in paths["/api/videos/{video_id}/thumbnail"]["get"]["responses"]["200"]["content"]
    assert "video/mp4" in paths["/media/{video_id}"]["get"]["responses"]["200"]["content"]
    assert "text/vtt" in paths["/api/videos/{video_id}/captions.vtt"]["get"]["responses"]["200"]["content"]
    for route in ("/api/videos/{video_id}", "/api/videos/{video_id}/transcript", "/media/{video_id}"):
        assert schema(route, "404")["$ref"] == "#/components/schemas/Error"
    assert schema("/api/search", "400")["$ref"] == "#/components/schemas/Error"
    assert "416" in paths["/media/{video_id}"]["get"]["responses"]
    assert "422" in paths["/api/search"]["get"]["responses"]


def test_answers_are_what_the_models_say(base):
    """Every field of every answer is in the OpenAPI models, with its type (the models forbid
    others), so the document cannot fall behind what the server sends."""
    found = httpx.get(base + "api/search", params={"q": QUERY, "k": 5}).json()
    TypeAdapter(list[MomentModel]).validate_python(found)
    videos = httpx.get(base + "api/videos").json()
    TypeAdapter(list[VideoModel]).validate_python(videos)
    TranscriptModel.model_validate(httpx.get(base + videos[0]["transcript"].lstrip("/")).json())


def test_captions_are_the_transcript_in_webvtt(base):
    response = httpx.get(base + "api/videos/1/captions.vtt")
    assert response.headers["content-type"] == "text/vtt; charset=utf-8"
    assert response.text.startswith("WEBVTT\n\n00:00:0") and "Welcome" in response.text
