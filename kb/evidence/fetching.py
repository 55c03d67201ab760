"""Fetching a page to capture (``capture_source SOURCE URL``) without letting the page reach the server.

Every hop of a redirect chain is checked the same way: http or https only; the host is
resolved once, every address it resolves to must be public (not loopback, private,
link-local, multicast, reserved or unspecified) unless ``allow_private`` (an intranet
source, on purpose), and the connection goes to the address that was checked, never to a
name resolved again (so a name that changes its answer between the check and the connect,
DNS rebinding, cannot slip a local address in). The whole fetch, redirects included, has
one deadline and one size cap: a server that trickles a byte every few seconds is cut off
at the deadline, not after a timeout per read. The body is decoded with the charset the
response declares, or else the one its HTML declares in a ``<meta>``, or else UTF-8.

The result names the final URL (the capture's origin: where the text came from) and the
chain of redirects that led there.
"""

import http.client
import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from kb.evidence.errors import CaptureError

MAX_REDIRECTS = 5
USER_AGENT = "kb-capture/1.0"
SCHEMES = {"http": 80, "https": 443}
REDIRECTS = {301, 302, 303, 307, 308}
READ_SIZE = 64 * 1024
# <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html; charset=x"> near the start.
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Fetched:
    text: str
    url: str  # the final URL, after the redirects
    content_type: str
    charset: str
    redirects: list = field(default_factory=list)  # [(status, from URL, to URL), ...]


def is_public(address):
    """Whether an IP address is one anyone on the Internet could reach (never this machine or its network)."""
    address = ipaddress.ip_address(address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def resolve(host, port, allow_private):
    """The address to connect to for ``host``: every address it resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise CaptureError(f"Could not resolve {host}: {error}.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        refused = [address for address in addresses if not is_public(address)]
        if refused:
            raise CaptureError(
                f"Refused to fetch from {host}: it resolves to {', '.join(refused)}, an address of this machine "
                "or a private network (loopback, private, link-local, multicast or reserved). For a source "
                "on your intranet, pass --allow-private."
            )
    return addresses[0]


class _Deadline:
    def __init__(self, seconds):
        self.seconds = seconds
        self.stop = time.monotonic() + seconds

    def remaining(self, url):
        left = self.stop - time.monotonic()
        if left <= 0:
            raise CaptureError(f"Could not capture {url}: not received whole within {self.seconds:g} s.")
        return left


def _connection(parts, address, timeout):
    port = parts.port or SCHEMES[parts.scheme]
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout)  # certificate checked for the name
    else:
        conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)

    def connect_to_the_checked_address(_address, timeout=None, source_address=None):
        return socket.create_connection((address, port), timeout, source_address)

    conn._create_connection = connect_to_the_checked_address
    return conn


def _check_url(url):
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise CaptureError(f"{url!r} is not an http or https address: refused.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise CaptureError(f"{url!r} has an invalid port.") from None
    return parts


def size_text(size):
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size:,} bytes"


def charset_of(response_charset, body):
    if response_charset:
        return response_charset
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else "utf-8"


def decode(body, charset, url):
    try:
        return body.decode(charset)
    except LookupError:
        raise CaptureError(f"{url} declares the charset {charset!r}, which is not one Python knows.") from None
    except UnicodeDecodeError as error:
        raise CaptureError(
            f"{url} is not valid {charset} text (byte {error.start} cannot be decoded), so it cannot be captured."
        ) from None


def fetch(url, *, deadline=20.0, max_bytes=5 * 1024 * 1024, allow_private=False, accept=("text/html", "text/plain")):
    """GET ``url`` within one overall ``deadline`` (seconds) and ``max_bytes``, following checked redirects."""
    clock = _Deadline(deadline)
    redirects = []
    for _ in range(MAX_REDIRECTS + 1):
        parts = _check_url(url)
        address = resolve(parts.hostname, parts.port or SCHEMES[parts.scheme], allow_private)
        conn = _connection(parts, address, clock.remaining(url))
        try:
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            try:
                conn.request(
                    "GET",
                    target,
                    headers={"User-Agent": USER_AGENT, "Accept": ", ".join(accept), "Accept-Encoding": "identity"},
                )
                sock = conn.sock  # the response keeps reading it after a "Connection: close" lets conn go
                response = conn.getresponse()
                if response.status in REDIRECTS:
                    location = response.getheader("Location")
                    if not location:
                        raise CaptureError(f"{url} redirects ({response.status}) without saying where.")
                    next_url = urljoin(url, location.strip())
                    redirects.append((response.status, url, next_url))
                    url = next_url
                    continue
                if response.status != 200:
                    raise CaptureError(
                        f"Could not capture {url}: the server answered {response.status} {response.reason}."
                    )
                content_type = response.headers.get_content_type()
                if content_type not in accept and content_type != "application/xhtml+xml":
                    raise CaptureError(f"{url} is {content_type}, not an HTML page or plain text.")
                body = _read(response, sock, clock, url, max_bytes)
            except (OSError, http.client.HTTPException) as error:
                if time.monotonic() >= clock.stop:
                    raise CaptureError(f"Could not capture {url}: not received whole within {deadline:g} s.") from None
                reason = getattr(error, "reason", None) or error or type(error).__name__
                raise CaptureError(f"Could not reach {url}: {reason}.") from None
        finally:
            conn.close()
        charset = charset_of(response.headers.get_content_charset(), body)
        return Fetched(decode(body, charset, url), url, content_type, charset, redirects)
    raise CaptureError(f"Could not capture {redirects[0][1]}: more than {MAX_REDIRECTS} redirects.")


def _read(response, sock, clock, url, max_bytes):
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise CaptureError(f"{url} is larger than {size_text(max_bytes)}; a capture is one page.")
    chunks, size = [], 0
    while True:
        sock.settimeout(clock.remaining(url))  # each read gets only what is left of the whole deadline
        chunk = response.read1(READ_SIZE)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise CaptureError(f"{url} is larger than {size_text(max_bytes)}; a capture is one page.")
        chunks.append(chunk)
