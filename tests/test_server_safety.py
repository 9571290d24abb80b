"""A safe server (#16): the real `vmr serve` and real HTTP requests (httpx, and raw sockets where
a client would refuse to send what an attacker sends): Host header checks against DNS
rebinding, a token beyond loopback, no absolute paths to clients elsewhere, short error bodies,
and CORS closed unless asked for."""

from __future__ import annotations

import socket

import httpx
import pytest

from serving import serving

ORIGIN = "https://lectures.example.org"


def raw(port: int, request: bytes, host: str = "127.0.0.1") -> tuple[int, bytes]:
    """Sends a raw request; returns the status and everything answered."""
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def own_address() -> str | None:
    """An address of this computer other than loopback (the one it would reach the network
    from; no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def loopback(sample_home):
    with serving(sample_home) as server:
        yield server


@pytest.fixture(scope="module")
def network(sample_home):
    """Bound to every address, with a name allowed and one origin allowed to read the API."""
    with serving(sample_home, "--host", "0.0.0.0", "--allow-host", "lectures.example.org",
                 "--cors", ORIGIN) as server:
        yield server


# -- on loopback (the default): no token, but only requests that name this server


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST", "localhost.", "127.0.0.1:{port}",
                                  "localhost:{port}", "[::1]:{port}"])
def test_loopback_names_are_answered(loopback, host):
    response = httpx.get(loopback.url + "api/videos", headers={"Host": host.format(port=loopback.port)})
    assert response.status_code == 200 and response.json()[0]["title"] == "lecture.mp4"
    assert response.json()[0]["path"].startswith("/")  # a client here may see where the file is


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "lectures.example.org", "10.1.2.3"])
def test_other_hosts_are_refused_as_dns_rebinding_would_send_them(loopback, host, sample_video):
    for path in ("api/videos", "api/search?q=overfitting", "media/1", ""):
        response = httpx.get(loopback.url + path, headers={"Host": host.format(port=loopback.port)})
        assert response.status_code == 421, (host, path)
        assert str(sample_video.parent) not in response.text and len(response.content) < 400


def test_a_request_without_host_or_with_a_malformed_one_is_400(loopback):
    status, answer = raw(loopback.port, b"GET /api/videos HTTP/1.0\r\n\r\n")
    assert status == 400 and b"Host header" in answer
    status, _ = raw(loopback.port, b"GET /api/videos HTTP/1.1\r\nHost: a b@c\r\nConnection: close\r\n\r\n")
    assert status == 400


def test_error_bodies_quote_only_an_excerpt(loopback):
    query = "overfitting+" + "x" * 100_000
    status, answer = raw(loopback.port, f"GET /api/search?q={query} HTTP/1.1\r\nHost: localhost\r\n"
                         "Connection: close\r\n\r\n".encode())
    assert status == 422
    assert len(answer) < 1500 and b"x" * 60 not in answer and b"100012 characters" in answer
    response = httpx.get(loopback.url + "api/videos/" + "9" * 5000)
    assert response.status_code == 422 and len(response.content) < 1500
    response = httpx.get(loopback.url + "api/search", params={"q": "   "})
    assert response.status_code == 400 and response.json() == {"detail": "empty query: type what you are looking for"}


def test_cors_is_closed_by_default(loopback):
    response = httpx.get(loopback.url + "api/videos", headers={"Origin": ORIGIN})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    preflight = httpx.options(loopback.url + "api/videos", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


# -- beyond loopback: a token, a warning, no paths


def test_binding_beyond_loopback_warns_and_prints_a_token_once(network):
    warning = network.errors()
    assert "vmr: warning: listening on 0.0.0.0, beyond this computer" in warning
    assert network.token and len(network.token) >= 32 and network.token not in warning
    assert network.link == f"http://0.0.0.0:{network.port}/?token={network.token}"


@pytest.mark.parametrize("path", ["api/videos", "api/search?q=overfitting", "media/1", "api/videos/1/transcript",
                                  "", "watch/1?t=5", "openapi.json"])
def test_without_the_token_nothing_is_answered(network, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": f"vmr-token-{network.port}=wrong"}):
        response = httpx.get(f"http://127.0.0.1:{network.port}/{path}", headers=headers)
        assert response.status_code == 401, (path, headers)
        assert "token" in response.json()["detail"] and "lecture" not in response.text
    wrong = httpx.get(f"http://127.0.0.1:{network.port}/{path}{'&' if '?' in path else '?'}token=nope")
    assert wrong.status_code == 401


def test_the_token_opens_the_api_and_the_page_keeps_it_in_a_cookie(network):
    base = f"http://127.0.0.1:{network.port}/"
    bearer = httpx.get(base + "api/videos", headers={"Authorization": f"Bearer {network.token}"})
    assert bearer.status_code == 200 and bearer.json()[0]["title"] == "lecture.mp4"
    assert httpx.get(base + "api/videos", params={"token": network.token}).status_code == 200
    with httpx.Client() as browser:
        opened = browser.get(base + f"watch/1?t=5&token={network.token}")
        assert opened.status_code == 303 and opened.headers["location"] == "/watch/1?t=5"  # no token in the bar
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith(f"vmr-token-{network.port}={network.token};") and "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        elsewhere = browser.get(base + f"/evil.example/x?token={network.token}")  # //evil.example/x
        assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/evil.example/x"
        page = browser.get(base + "watch/1?t=5")
        assert page.status_code == 200 and '<input id="q"' in page.text
        assert browser.get(base + "api/search", params={"q": "overfitting"}).status_code == 200
        assert browser.get(base + "media/1", headers={"Range": "bytes=0-9"}).status_code == 206


def test_clients_elsewhere_never_see_absolute_paths(network, sample_video):
    address = own_address()
    if address is None:
        pytest.skip("this computer has no address but loopback")
    base = f"http://{address}:{network.port}/"
    auth = {"Authorization": f"Bearer {network.token}"}
    found = []
    for path in ("api/videos", "api/videos/1", "api/search?q=overfitting&k=5", "api/videos/1/transcript",
                 "api/videos/999", "media/999"):
        response = httpx.get(base + path, headers=auth)
        found.append(response.text)
        assert response.status_code in (200, 404), path
    text = "\n".join(found)
    assert str(sample_video.parent) not in text and "file://" not in text
    moment = httpx.get(base + "api/search", params={"q": "overfitting", "k": 1}, headers=auth).json()[0]
    assert moment["video"] == "lecture.mp4" and moment["link"] == moment["watch"]
    # The same server tells a client on this computer where the file is.
    here = httpx.get(f"http://127.0.0.1:{network.port}/api/videos/1", headers=auth).json()
    assert here["path"] == str(sample_video)


def test_allowed_host_names_and_cors_origins(network):
    auth = {"Authorization": f"Bearer {network.token}"}
    base = f"http://127.0.0.1:{network.port}/"
    allowed = httpx.get(base + "api/videos", headers={**auth, "Host": "lectures.example.org"})
    assert allowed.status_code == 200
    for host in ("evil.example", "lectures.example.org.evil.example"):
        assert httpx.get(base + "api/videos", headers={**auth, "Host": host}).status_code == 421
    preflight = httpx.options(base + "api/search", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ORIGIN
    read = httpx.get(base + "api/videos", headers={**auth, "Origin": ORIGIN})
    assert read.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.get(base + "api/videos", headers={**auth, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_a_token_given_on_loopback_is_required_and_not_printed(sample_home):
    with serving(sample_home, "--token", "s3cret-for-this-test") as server:
        assert server.token is None and "s3cret" not in server.link
        assert httpx.get(server.url + "api/videos").status_code == 401
        assert httpx.get(server.url + "api/videos", headers={"Authorization": "Bearer s3cret-for-this-test"}).status_code == 200
        assert "warning" not in server.errors()
