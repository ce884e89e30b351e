"""Images named by a string (an MCP tool argument): a public http(s) URL or a data: URI, nothing else.

A URL makes the server send a request, so whoever writes the URL must not be able to point it at
the server's own network: every address the host resolves to must be public (not private,
loopback, link-local, shared, multicast or reserved), the connection goes to the very address that
was checked (no second lookup a DNS rebinding could answer differently), and each redirect is
checked again the same way. Bodies are capped like uploads. A server file path or a file:// URL is
never read. Every refusal raises `Refused` with a sentence for the caller.

    data = image_bytes("https://example.org/cat.jpg", FetchPolicy(max_bytes=20 << 20))
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = (301, 302, 303, 307, 308)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv6 addresses that embed an IPv4 one
ACCEPTED = "a public http(s) URL or a data: URI (data:image/png;base64,…)"


class Refused(ValueError):
    """An image argument the server will not read, with the reason for the caller."""


def is_public(ip: Address) -> bool:
    """True for globally routable unicast addresses only; IPv4 embedded in IPv6 is judged as IPv4."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback)


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (IPv4 and IPv6); a literal address resolves to itself."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


@dataclass(frozen=True)
class FetchPolicy:
    """What a URL fetch may do. The defaults are the server's; only tests widen `address_ok`/`ports`
    (to serve a body from loopback), and nothing outside code can change them."""

    max_bytes: int = 20 << 20  # body size cap, as for uploads
    timeout: float = 10.0  # seconds per connect or read
    deadline: float = 30.0  # seconds for the whole fetch, redirects included
    max_redirects: int = 5
    max_url_length: int = 4096
    ports: frozenset[int] | None = frozenset({80, 443})  # None: any port
    address_ok: Callable[[Address], bool] = is_public
    resolver: Callable[[str, int], Sequence[Address]] = resolve
    user_agent: str = "Sensorium-image-fetch/1"
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context, compare=False, repr=False)


def image_bytes(value: object, policy: FetchPolicy, role: str = "image") -> bytes:
    """The bytes of an image argument: a data: URI decoded, or a public http(s) URL fetched."""
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"The {role} must be given as {ACCEPTED}.")
    text = value.strip()
    if text[:5].lower() == "data:":
        return data_uri_bytes(text, policy.max_bytes, role)
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("http", "https"):
        return fetch(text, policy, role)
    what = f"a {scheme}:// URL" if scheme else "a file path or other text"
    raise Refused(f"The {role} was {what}; this server reads no server files and accepts only {ACCEPTED}.")


def data_uri_bytes(uri: str, max_bytes: int, role: str = "image") -> bytes:
    """Decode data:[<type>][;base64],<payload>; the size is checked before decoding."""
    header, comma, payload = uri[5:].partition(",")
    if not comma:
        raise Refused(f"The {role} data: URI has no ',' before its data.")
    kind = header.split(";")[0].strip().lower()
    if kind and not kind.startswith("image/"):
        raise Refused(f"The {role} data: URI is {kind}, not an image.")
    if len(payload) * 3 // 4 > max_bytes + 3:
        raise Refused(f"The {role} is larger than the {max_bytes / 2**20:g} MB limit.")
    try:
        if header.lower().endswith(";base64"):
            data = base64.b64decode("".join(payload.split()), validate=True)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise Refused(f"The {role} data: URI is not valid base64.") from None
    if len(data) > max_bytes:
        raise Refused(f"The {role} is larger than the {max_bytes / 2**20:g} MB limit.")
    return data


def fetch(url: str, policy: FetchPolicy, role: str = "image") -> bytes:
    """GET a public http(s) URL, following up to `max_redirects` redirects, each one checked anew."""
    start = time.monotonic()
    for _ in range(policy.max_redirects + 1):
        scheme, host, port, target = checked_url(url, policy, role)
        address = checked_address(host, port, policy, role)
        remaining = policy.deadline - (time.monotonic() - start)
        if remaining <= 0:
            raise Refused(f"Fetching the {role} took longer than {policy.deadline:g} s.")
        conn = pinned_connection(scheme, host, port, address, min(policy.timeout, remaining), policy.tls)
        try:
            try:
                conn.request("GET", target, headers={"User-Agent": policy.user_agent, "Accept": "image/*"})
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as err:
                raise Refused(f"Could not fetch the {role} from {host}: {reason(err)}.") from None
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise Refused(f"The {role} URL redirected without saying where to.")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise Refused(f"The {role} URL answered HTTP {response.status}, not an image.")
            return read_capped(response, policy, start, role)
        finally:
            conn.close()
    raise Refused(f"The {role} URL redirected more than {policy.max_redirects} times.")


def checked_url(url: str, policy: FetchPolicy, role: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, request target) of an http(s) URL this policy allows, else Refused."""
    if len(url) > policy.max_url_length:
        raise Refused(f"The {role} URL is longer than {policy.max_url_length} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(f"The {role} URL is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused(f"The {role} URL (or a redirect) uses {scheme or 'no'} scheme; only {ACCEPTED} is accepted.")
    if not parts.hostname:
        raise Refused(f"The {role} URL has no host name.")
    if parts.username or parts.password:
        raise Refused(f"The {role} URL carries a user name or password; please give a plain public URL.")
    port = port or (443 if scheme == "https" else 80)
    if policy.ports is not None and port not in policy.ports:
        raise Refused(f"The {role} URL uses port {port}; only the standard ports 80 and 443 are fetched.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused(f"The {role} URL's host name is not valid.") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(c in target for c in "\r\n "):
        raise Refused(f"The {role} URL contains spaces or line breaks.")
    return scheme, host, port, target


def checked_address(host: str, port: int, policy: FetchPolicy, role: str) -> Address:
    """The address to connect to: `host` resolved, and every one of its addresses allowed."""
    addresses = list(policy.resolver(host, port))
    if not addresses:
        raise Refused(f"The {role} URL's host {host!r} could not be resolved.")
    blocked = [a for a in addresses if not policy.address_ok(a)]
    if blocked:
        raise Refused(f"The {role} URL's host {host!r} is not a public address ({blocked[0]}: private, loopback, "
                      "link-local or reserved); this server fetches only public URLs.")  # fmt: skip
    return addresses[0]


def pinned_connection(scheme: str, host: str, port: int, address: Address, timeout: float,
                      tls: ssl.SSLContext) -> http.client.HTTPConnection:  # fmt: skip
    """An HTTP(S) connection to `address` (already checked) that still says `host` in the Host
    header and verifies `host`'s TLS certificate."""

    def open_socket(self) -> None:
        self.sock = socket.create_connection((str(address), port), timeout)
        if scheme == "https":
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)

    kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = kind(host, port, timeout=timeout, **({"context": tls} if scheme == "https" else {}))
    conn.connect = open_socket.__get__(conn)
    return conn


def read_capped(response: http.client.HTTPResponse, policy: FetchPolicy, start: float, role: str) -> bytes:
    """The body, refused as soon as it passes `max_bytes` (announced or not) or the deadline."""
    limit = f"the {policy.max_bytes / 2**20:g} MB limit"
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > policy.max_bytes:
        raise Refused(f"The {role} at that URL is larger than {limit}.")
    chunks, size = [], 0
    while True:
        try:
            chunk = response.read(min(1 << 16, policy.max_bytes + 1 - size))
        except (OSError, http.client.HTTPException) as err:
            raise Refused(f"Could not fetch the {role}: {reason(err)}.") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > policy.max_bytes:
            raise Refused(f"The {role} at that URL is larger than {limit}.")
        if time.monotonic() - start > policy.deadline:
            raise Refused(f"Fetching the {role} took longer than {policy.deadline:g} s.")


def reason(err: BaseException) -> str:
    if isinstance(err, TimeoutError | socket.timeout):
        return "it timed out"
    if isinstance(err, ssl.SSLError):
        return "its TLS certificate could not be verified"
    return str(err) or type(err).__name__
