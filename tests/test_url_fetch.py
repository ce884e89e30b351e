"""Image arguments named by URL: only public http(s) addresses are fetched, every refusal says why.

Without internet, the fetch itself is exercised against a loopback HTTP server that only these
tests may reach, through the policy's explicit test hook (`address_ok` / `resolver` / `ports`);
the server counts its requests, so a refusal is shown to happen before any connection is made.
"""

from __future__ import annotations

import base64
import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from demo.url_fetch import FetchPolicy, Refused, data_uri_bytes, image_bytes, is_public
from tests.app_fixtures import CONTENT

JPEG = CONTENT.read_bytes()
LOOPBACK_ONLY = dict(address_ok=lambda ip: ip.is_loopback, ports=None)  # the test hook: this server only


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.requests.append((self.path, self.headers.get("Host")))
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        route(self)

    def log_message(self, *args):  # keep test output quiet
        pass


def send(handler, body: bytes, length: bool = True) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    if length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def endless(handler) -> None:
    """A body with no Content-Length that never ends: the reader must stop at the cap."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    handler.end_headers()
    chunk = b"\xff" * 65536
    try:
        for _ in range(10_000):  # 640 MB, far past any cap
            handler.wfile.write(chunk)
    except (BrokenPipeError, ConnectionResetError):
        handler.server.cut_off = True


def redirect(to: str):
    def route(handler):
        handler.send_response(302)
        handler.send_header("Location", to)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


@pytest.fixture(scope="module")
def loopback_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.requests, srv.cut_off = [], False
    port = srv.server_address[1]
    srv.base = f"http://127.0.0.1:{port}"
    srv.routes = {
        "/cat.jpg": lambda h: send(h, JPEG),
        "/big.jpg": lambda h: send(h, b"\xff" * (3 << 20)),
        "/endless.jpg": endless,
        "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-file": redirect("file:///etc/passwd"),
        "/to-private": redirect("http://10.0.0.7/cat.jpg"),
        "/to-cat": redirect("/cat.jpg"),
        "/loop": redirect("/loop"),
        "/missing": lambda h: h.send_error(404),
    }
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(loopback_server):
    loopback_server.requests.clear()
    return loopback_server


def test_the_fetch_path_reads_an_image_from_an_allowed_address(server):
    policy = FetchPolicy(**LOOPBACK_ONLY)
    assert image_bytes(f"{server.base}/cat.jpg", policy) == JPEG
    assert image_bytes(f"{server.base}/to-cat", policy) == JPEG  # a redirect to an allowed place is followed


def test_the_server_default_refuses_loopback_before_connecting(server):
    with pytest.raises(Refused, match="not a public address"):
        image_bytes(f"{server.base}/cat.jpg", FetchPolicy(ports=None))
    assert server.requests == []


def test_a_public_looking_name_that_resolves_to_loopback_is_refused_before_connecting(server):
    port = server.server_address[1]
    resolver = {"images.example.com": [ipaddress.ip_address("127.0.0.1")]}
    policy = FetchPolicy(ports=None, resolver=lambda host, _: resolver.get(host, []))
    with pytest.raises(Refused, match="'images.example.com' is not a public address"):
        image_bytes(f"http://images.example.com:{port}/cat.jpg", policy)
    assert server.requests == []


def test_a_name_with_one_private_address_among_public_ones_is_refused():
    addresses = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("192.168.1.10")]
    policy = FetchPolicy(resolver=lambda host, port: addresses)
    with pytest.raises(Refused, match="192.168.1.10"):
        image_bytes("http://images.example.com/cat.jpg", policy)


def test_the_connection_goes_to_the_checked_address_and_keeps_the_host_name(server):
    # No second DNS lookup: the name resolves (once, through the policy) to the checked address.
    port = server.server_address[1]
    policy = FetchPolicy(**LOOPBACK_ONLY, resolver=lambda host, _: [ipaddress.ip_address("127.0.0.1")])
    assert image_bytes(f"http://pinned.example:{port}/cat.jpg", policy) == JPEG
    assert server.requests == [("/cat.jpg", f"pinned.example:{port}")]


@pytest.mark.parametrize(
    "path, message",
    [
        ("/to-metadata", "'169.254.169.254' is not a public address"),
        ("/to-private", "'10.0.0.7' is not a public address"),
        ("/to-file", "uses file scheme"),
        ("/loop", "redirected more than 5 times"),
        ("/missing", "answered HTTP 404"),
    ],
)
def test_redirects_are_checked_again_and_failures_are_clear(server, path, message):
    with pytest.raises(Refused, match=message):
        image_bytes(server.base + path, FetchPolicy(**LOOPBACK_ONLY))


def test_bodies_over_the_cap_are_refused_announced_or_not(server):
    policy = FetchPolicy(**LOOPBACK_ONLY, max_bytes=1 << 20)
    with pytest.raises(Refused, match="larger than the 1 MB limit"):
        image_bytes(f"{server.base}/big.jpg", policy)
    with pytest.raises(Refused, match="larger than the 1 MB limit"):
        image_bytes(f"{server.base}/endless.jpg", policy)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.jpg",
        "http://localhost/x.jpg",
        "http://10.1.2.3/x.jpg",
        "http://172.16.0.1/x.jpg",
        "http://192.168.0.1/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.jpg",
        "http://[::ffff:127.0.0.1]/x.jpg",
        "http://[fd00::1]/x.jpg",
        "http://[fe80::1]/x.jpg",
        "http://0.0.0.0/x.jpg",
        "http://100.64.0.1/x.jpg",
        "http://224.0.0.1/x.jpg",
        "http://2130706433/x.jpg",  # 127.0.0.1 as one number
        "http://0x7f.1/x.jpg",
        "https://127.0.0.1/x.jpg",
    ],
)
def test_non_public_addresses_are_refused(url):
    with pytest.raises(Refused, match="not a public address|could not be resolved"):
        image_bytes(url, FetchPolicy())


@pytest.mark.parametrize(
    "value, message",
    [
        ("/etc/passwd", "file path"),
        ("assets/examples/style_starry_night.jpg", "file path"),
        ("~/.ssh/id_rsa", "file path"),
        ("file:///etc/passwd", "file:// URL"),
        ("FILE:///etc/passwd", "file:// URL"),
        ("ftp://example.com/x.jpg", "ftp:// URL"),
        ("gopher://example.com/x", "gopher:// URL"),
        ("", "public http"),
        (None, "public http"),
        ({"path": "/etc/passwd"}, "public http"),
        ("http://example.com:8080/x.jpg", "port 8080"),
        ("http://user:secret@example.com/x.jpg", "user name or password"),
        ("http:///x.jpg", "no host name"),
    ],
)
def test_anything_but_a_public_url_or_data_uri_is_refused_with_a_reason(value, message):
    with pytest.raises(Refused, match=message):
        image_bytes(value, FetchPolicy())


def test_data_uris_are_decoded_with_the_same_cap():
    uri = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    assert image_bytes(uri, FetchPolicy()) == JPEG
    with pytest.raises(Refused, match="larger than"):
        data_uri_bytes(uri, max_bytes=len(JPEG) - 1)
    with pytest.raises(Refused, match="not an image"):
        data_uri_bytes("data:text/html;base64,PGI+", 1 << 20)
    with pytest.raises(Refused, match="not valid base64"):
        data_uri_bytes("data:image/png;base64,@@@", 1 << 20)


@pytest.mark.parametrize(
    "ip, public",
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("169.254.169.254", False),
        ("fc00::1", False),
    ],
)
def test_is_public(ip, public):
    assert is_public(ipaddress.ip_address(ip)) is public
