"""The REST API and media server against the real app over the indexed sample, and the real
`vmr serve` in a subprocess; the security tests try to reach files the catalogue does not hold."""

from __future__ import annotations

import socket

import cv2
import httpx
import numpy as np
import pytest

from conftest import local_client, run_json, run_vmr
from serving import served
from vmr.ingest.media import read_frame
from vmr.app.server import MAX_QUERY_CHARS, THUMB_WIDTH

QUERY = "what is overfitting"


@pytest.fixture(scope="module")
def client(sample_home):
    with local_client(sample_home) as client:
        yield client


@pytest.fixture(scope="module")
def video(client):
    return client.get("/api/videos").json()[0]


def jpeg(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return image


# -- the API


def test_search_answers_what_the_cli_answers_plus_page_links(client, sample_home):
    found = client.get("/api/search", params={"q": QUERY, "k": 3}).json()
    cli = run_json("search", QUERY, "-k", "3", home=sample_home)
    assert [{key: m[key] for key in cli[0]} for m in found] == cli
    best = found[0]
    assert "overfitting" in best["text"].lower()
    assert best["title"] == "lecture.mp4"
    assert best["watch"] == f"/watch/{best['video_id']}?t={best['start']:.1f}&end={best['end']:.1f}"
    assert jpeg(client.get(best["thumbnail"])).shape[1] == THUMB_WIDTH


def test_k_limits_the_number_of_moments(client):
    assert len(client.get("/api/search", params={"q": QUERY, "k": 1}).json()) == 1
    assert len(client.get("/api/search", params={"q": QUERY, "k": 5}).json()) == 5


def test_videos_list_and_detail(client, sample_video):
    videos = client.get("/api/videos").json()
    assert len(videos) == 1
    video = videos[0]
    assert video["path"] == str(sample_video) and video["title"] == "lecture.mp4"
    assert video["clips"] == 84 and video["words"] > 300 and 168 < video["duration"] < 169
    assert video["media"] == f"/media/{video['video_id']}"
    assert client.get(f"/api/videos/{video['video_id']}").json() == video


def test_transcript_is_the_cli_transcript(client, sample_home, video):
    served_transcript = client.get(video["transcript"]).json()
    assert served_transcript == run_json("transcript", str(video["video_id"]), home=sample_home)
    assert served_transcript["segments"][0]["text"].startswith("Welcome")


def test_openapi_lists_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/videos", "/api/videos/{video_id}", "/api/videos/{video_id}/transcript",
            "/api/videos/{video_id}/thumbnail", "/media/{video_id}"} <= paths.keys()
    assert {p["name"] for p in paths["/api/search"]["get"]["parameters"]} == {"q", "k"}


def test_page_and_watch_page_are_the_static_page(client, video):
    page = client.get("/")
    assert page.status_code == 200 and '<input id="q"' in page.text
    watch = client.get(f"/watch/{video['video_id']}", params={"t": 64, "end": 72})
    assert watch.status_code == 200 and watch.text == page.text
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        assert text and "http://" not in text and "https://" not in text  # offline: nothing from a CDN


# -- media: Range requests let the player seek


def test_media_whole_file(client, video, sample_video):
    response = client.get(video["media"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == sample_video.read_bytes()


@pytest.mark.parametrize("header, part", [
    ("bytes=0-99", slice(0, 100)),
    ("bytes=1000-", slice(1000, None)),
    ("bytes=-500", slice(-500, None)),
])
def test_media_range(client, video, sample_video, header, part):
    data = sample_video.read_bytes()
    response = client.get(video["media"], headers={"Range": header})
    assert response.status_code == 206
    assert response.content == data[part]
    first = part.start % len(data)
    assert response.headers["content-range"] == f"bytes {first}-{first + len(data[part]) - 1}/{len(data)}"


def test_media_range_beyond_the_end_is_416(client, video, sample_video):
    size = sample_video.stat().st_size
    response = client.get(video["media"], headers={"Range": f"bytes={size}-{size + 10}"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


# -- thumbnails


def test_thumbnail_is_the_keyframe_of_the_clip_at_t(client, video, sample_video, sample_home):
    image = jpeg(client.get(video["thumbnail"], params={"t": 65.3}))
    frame = read_frame(sample_video, 65.0)  # clip 64-66 s; its keyframe is at its middle
    height, width = frame.shape[:2]
    assert image.shape == (round(height * THUMB_WIDTH / width), THUMB_WIDTH, 3)
    expected = cv2.resize(frame, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(image.astype(int) - expected).mean() < 6  # JPEG noise only
    elsewhere = jpeg(client.get(video["thumbnail"], params={"t": 5}))
    assert np.abs(image.astype(int) - elsewhere).mean() > 6  # another slide
    assert len(list((sample_home / "thumbs").glob(f"{video['video_id']}-*.jpg"))) >= 2


def test_thumbnail_past_the_end_is_the_last_clip(client, video):
    last = jpeg(client.get(video["thumbnail"], params={"t": 1e6}))
    assert np.array_equal(last, jpeg(client.get(video["thumbnail"], params={"t": video["duration"] - 0.1})))


# -- bad input and attempts to reach other files


@pytest.mark.parametrize("t", ["../../x", "-1", "nan", "inf", "-inf", "1e309", "1e30", "", "1;DROP"])
def test_thumbnail_rejects_bad_times(client, video, t):
    response = client.get(f"{video['thumbnail']}?t={t}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "t"]


@pytest.mark.parametrize("params, status, message", [
    ({}, 422, "Field required"),
    ({"q": ""}, 422, "at least 1 character"),
    ({"q": "   "}, 400, "empty query"),
    ({"q": "x" * 60_000}, 422, f"at most {MAX_QUERY_CHARS} characters"),  # the client's URL limit is 64 KB
    ({"q": QUERY, "k": 0}, 422, "greater than or equal to 1"),
    ({"q": QUERY, "k": 101}, 422, "less than or equal to 100"),
    ({"q": QUERY, "k": "ten"}, 422, "valid integer"),
    ({"q": QUERY, "k": "1;DROP TABLE videos"}, 422, "valid integer"),
])
def test_search_rejects_bad_queries_with_a_clear_message(client, params, status, message):
    response = client.get("/api/search", params=params)
    assert response.status_code == status
    assert message in str(response.json()["detail"])


def test_longest_allowed_query_is_answered(client):
    assert client.get("/api/search", params={"q": "overfitting " * (MAX_QUERY_CHARS // 12)}).status_code == 200


@pytest.mark.parametrize("raw", [
    "q=%", "q=%ZZ", "q=%FF%FE%FD", "q=%00", "q=a&&&k=2", "q=a&k=1&k=", "=&=&q", "q=a%26k%3D1000",
    "q=../../etc/passwd", "q=%2e%2e%2f%2e%2e%2fetc%2fpasswd", "q=<script>alert(1)</script>",
])
def test_malformed_query_strings_are_answered_not_crashed(client, raw):
    response = client.get(f"/api/search?{raw}")
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code == 200:
        assert all(m["title"] == "lecture.mp4" for m in response.json())


@pytest.mark.parametrize("url", [
    "/media/..%2F..%2F..%2Fetc%2Fpasswd",
    "/media/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/media/..%5C..%5Cetc%5Cpasswd",
    "/media/%2Fetc%2Fpasswd",
    "/media//etc/passwd",
    "/media/1%00",
    "/media/1;DROP TABLE videos",
    "/media/-1",
    "/media/0",
    "/media/99999999999999999999999",
    "/api/videos/../../etc/passwd",
    "/api/videos/..%2F..%2Fetc%2Fpasswd",
    "/api/videos/1;DROP TABLE videos",
    "/api/videos/..%2F..%2Fetc%2Fpasswd/transcript",
    "/api/videos/%2Fetc%2Fpasswd/thumbnail",
    "/watch/..%2F..%2Fetc%2Fpasswd",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/%2e%2e/server.py",
    "/static/..%2Fserver.py",
    "/static//etc/passwd",
    "/etc/passwd",
])
def test_path_traversal_reaches_nothing(client, url):
    response = client.get(url)
    assert response.status_code in (404, 422), f"{url}: {response.status_code}"
    assert "root:" not in response.text and "create_app" not in response.text
    assert len(client.get("/api/videos").json()) == 1  # and the catalogue is intact


@pytest.mark.parametrize("url", [
    "/api/videos/999", "/api/videos/999/transcript", "/api/videos/999/thumbnail", "/media/999",
])
def test_unknown_ids_are_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.json() == {"detail": "video 999 is not in the index"}


def test_watch_page_of_an_unknown_id_is_404(client):
    response = client.get("/watch/999")
    assert response.status_code == 404 and '<input id="q"' in response.text


def test_a_file_beside_the_indexed_video_cannot_be_fetched(client, video, sample_video):
    secret = b"NOT-INDEXED-" + np.random.default_rng().bytes(16).hex().encode()
    for name in ("secret.mp4", "2", "lecture.mp4.part"):
        (sample_video.parent / name).write_bytes(secret)
    try:
        next_id = video["video_id"] + 1
        urls = [
            f"/media/{next_id}", f"/api/videos/{next_id}", f"/api/videos/{next_id}/thumbnail",
            "/media/secret.mp4", "/media/..%2Fsecret.mp4", f"/media/{video['video_id']}%2F..%2Fsecret.mp4",
            "/media/2", "/static/secret.mp4", f"/static/..%2F..%2F..%2F{sample_video.parent.name}%2Fsecret.mp4",
            f"/media/{sample_video.parent}/secret.mp4".replace("/", "%2F"), "/secret.mp4",
        ]
        for url in urls:
            response = client.get(url)
            assert response.status_code in (404, 422), f"{url}: {response.status_code}"
            assert secret not in response.content, url
    finally:
        for name in ("secret.mp4", "2", "lecture.mp4.part"):
            (sample_video.parent / name).unlink()


# -- the real command


def test_vmr_serve_answers_over_http_and_stops_on_ctrl_c(sample_home):
    with served(sample_home) as url:
        videos = httpx.get(url + "api/videos").json()
        assert [v["title"] for v in videos] == ["lecture.mp4"]
        found = httpx.get(url + "api/search", params={"q": QUERY, "k": 2}).json()
        assert len(found) == 2 and "overfitting" in found[0]["text"].lower()
        assert httpx.get(url).headers["content-type"].startswith("text/html")
        assert oversized_request_status(url, 100_000) == 422  # the length cap, past what clients send
        assert httpx.get(url + "api/videos").status_code == 200  # and still serving


def oversized_request_status(url: str, size: int) -> int:
    """The status answering a query of `size` bytes, sent raw: httpx refuses URLs over 64 KB."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(f"GET /api/search?q={'x' * size} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return int(connection.recv(4096).split(b" ", 2)[1])


def test_vmr_serve_on_a_busy_port_is_a_one_line_error(sample_home):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run_vmr("serve", "--port", port, home=sample_home, check=False, timeout=120)
    assert result.returncode == 1
    assert result.stderr == f"vmr: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
