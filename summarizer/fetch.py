"""Fetching a web page: the only module that downloads pages (with httpx).

A URL given to ``summarize`` may come from anyone (a shared link, a request to the HTTP
service), so a fetch is kept on a short leash:

* only ``http`` and ``https``, no credentials in the URL;
* no private, loopback, link-local, reserved or multicast address (``169.254.169.254``,
  the cloud metadata service, is link-local) unless allowed (``--allow-private-urls``);
* redirects are followed here, one hop at a time, and every hop is checked the same way,
  so a public page cannot redirect us into the local network;
* the name is resolved once per connection, by us, and the connection goes to the very
  address that was checked (``_CheckedBackend``), so DNS rebinding (public at the check,
  127.0.0.1 at the connection) does not get through either;
* a timeout for the connection and each read, and a deadline for the whole download;
* a size cap (``max_input_bytes``), from ``Content-Length`` and again while streaming;
* only HTML and plain text: a PDF or an image is refused before its body is read.

Known limits: environment proxies (``HTTPS_PROXY``...) are not used, because the check
must see the address we connect to; and the connection pinning relies on httpx's
``HTTPTransport`` keeping its httpcore pool in ``_pool`` (true from httpx 0.18 to 0.28).
When a ``transport`` is passed (tests), only the per-hop ``check_url`` guards addresses.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from summarizer import __version__
from summarizer.errors import FetchError, InputError, URLNotAllowed
from summarizer.extract import looks_like_html

PROJECT_URL = "https://github.com/summarizer/summarizer"
USER_AGENT = f"summarizer/{__version__} (+{PROJECT_URL})"
ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8"
SIZE_HINT = (
    "Raise max_input_bytes (config file or SUMMARIZER_MAX_INPUT_BYTES), or save the "
    "article text to a file and summarise that."
)
PRIVATE_HINT = (
    "Private, loopback and link-local addresses are refused so that a URL cannot reach "
    "services inside your network. If you trust this one, pass --allow-private-urls (the "
    "HTTP service needs --allow-fetch and --allow-private-urls)."
)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_TEXT_TYPES = ("text/plain",)
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$")
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Labels browsers read as windows-1252 (WHATWG Encoding): pages declaring Latin-1 almost
# always use the curly quotes and dashes that only windows-1252 has.
_WINDOWS_1252_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii"}
_SNIFF_BYTES = 4096
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class FetchLimits:
    """How far a fetch may go. ``max_bytes`` is the caller's ``max_input_bytes``."""

    timeout_s: float = 20.0  # connect and each read; also the deadline for the whole fetch
    max_redirects: int = 5
    max_bytes: int = 10_000_000  # the default max_input_bytes; callers pass theirs
    allow_private: bool = False


@dataclass(frozen=True)
class Page:
    """A downloaded page, decoded. ``is_html`` is False for ``text/plain``.

    ``charset`` is what the page declared (header, else ``<meta>``), None when it declared
    nothing; ``encoding`` is the codec that decoded it.
    """

    url: str
    final_url: str
    status: int
    content_type: str
    charset: str | None
    html: str
    size: int
    redirects: int
    is_html: bool = True
    encoding: str = "utf-8"


DEFAULT_LIMITS = FetchLimits()


def is_url(text: str) -> bool:
    """Whether ``text`` is one token that starts with a scheme (``https://``, ``file://``...).

    Any scheme counts, so that ``file:///etc/passwd`` gets ``check_url``'s clear refusal
    instead of being taken for a path.
    """
    return bool(_URL_SCHEME.match(text.strip()))


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Refuse a URL we will not fetch; resolves the host when private ones are refused.

    Raises:
        URLNotAllowed: not http(s), credentials in it, no host, or (unless
            ``allow_private``) a host that is or resolves to a non-public address.
        FetchError: the host name does not resolve.
    """
    shown = display_url(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise URLNotAllowed(f"{shown} is not a valid URL: {exc}.", url=shown) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        hint = (
            "To summarise a local file, pass its path instead."
            if scheme == "file"
            else "Only http:// and https:// pages are fetched."
        )
        raise URLNotAllowed(
            f"Will not fetch {shown}: {scheme}:// is not http(s).", url=shown, hint=hint
        )
    if parts.username is not None or parts.password is not None:
        raise URLNotAllowed(
            f"Will not fetch {shown}: it contains a user name or password.",
            url=shown,
            hint="Remove them from the URL; logins are never sent to web sites.",
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise URLNotAllowed(f"Will not fetch {shown}: it names no host.", url=shown)
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        _refuse(shown, host, "127.0.0.1", "loopback")
    if "%" in host:  # an IPv6 zone (fe80::1%eth0): an interface of this machine
        _refuse(shown, host, host, "link-local")
    for address in _resolve(host, port or (443 if scheme == "https" else 80), shown):
        reason = non_public_reason(address)
        if reason:
            _refuse(shown, host, address, reason)


# Blocks Python's ``is_global`` has not always refused (it changed between 3.10 and 3.13):
# IETF protocol assignments, where Oracle Cloud's metadata service (192.0.0.192) lives.
_ALSO_NON_PUBLIC = (ipaddress.ip_network("192.0.0.0/24"),)
# IPv6 prefixes that carry an IPv4 address (NAT64): the embedded address is what is reached.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def non_public_reason(address: str) -> str | None:
    """Why an IP address is not one we fetch from without permission, or None if public.

    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by
    the IPv4 address it leads to; one with a zone (``fe80::1%eth0``) is never public."""
    if "%" in address:
        return "link-local"
    ip = _embedded_ipv4(ipaddress.ip_address(address))
    if any(ip in network for network in _ALSO_NON_PUBLIC):
        return "reserved"
    # Most specific first: Python counts link-local, reserved... as private too.
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-public"  # shared (100.64/10), documentation...


def _embedded_ipv4(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def display_url(url: str) -> str:
    """The URL as messages show it: without any user name or password."""
    try:
        parts = urlsplit(url.strip())
        if "@" not in parts.netloc:
            return url.strip()
        netloc = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "the URL"


def fetch_page(
    url: str, limits: FetchLimits = DEFAULT_LIMITS, *, transport: httpx.BaseTransport | None = None
) -> Page:
    """Download one page, following redirects ourselves and checking every hop.

    Args:
        url: An http(s) URL.
        limits: Timeouts, redirects, size cap and whether private addresses are allowed.
        transport: An httpx transport (tests pass a ``MockTransport``); by default one that
            connects only to addresses it has checked.

    Raises:
        URLNotAllowed: the URL, a redirect or the address connected to is refused.
        FetchError: DNS, connection, timeout, HTTP error status, too many redirects, or
            larger than ``limits.max_bytes``.
        InputError: the page is not HTML or plain text (a PDF, an image...).
    """
    shown = display_url(url)
    deadline = time.monotonic() + limits.timeout_s
    with _client(limits, transport) as client, _errors(shown, limits):
        current = url.strip()
        for hop in range(limits.max_redirects + 1):
            check_url(current, allow_private=limits.allow_private)
            timeout = httpx.Timeout(max(0.001, deadline - time.monotonic()))
            with client.stream("GET", current, timeout=timeout) as response:
                if response.has_redirect_location:
                    current = _redirect_target(response, shown)
                    continue
                return _read_page(
                    response, url=shown, redirects=hop, limits=limits, deadline=deadline
                )
    raise FetchError(
        f"{shown} redirected more than {limits.max_redirects} times "
        f"(the last hop to {display_url(current)}).",
        url=shown,
        hint="Open it in a browser: it may loop, or want cookies or a script this tool lacks.",
    )


def _client(limits: FetchLimits, transport: httpx.BaseTransport | None) -> httpx.Client:
    return httpx.Client(
        transport=transport or _CheckedTransport(limits.allow_private),
        follow_redirects=False,
        timeout=limits.timeout_s,
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        trust_env=False,
    )


def _redirect_target(response: httpx.Response, shown: str) -> str:
    location = response.headers.get("location", "")
    try:
        return str(response.url.join(location))
    except httpx.InvalidURL as exc:
        raise FetchError(
            f"{shown} redirected to an invalid URL ({location[:200]!r}).",
            url=shown,
            status=response.status_code,
        ) from exc


def _read_page(
    response: httpx.Response, *, url: str, redirects: int, limits: FetchLimits, deadline: float
) -> Page:
    _check_status(response, url)
    media_type, charset = _content_type(response.headers.get("content-type", ""))
    _check_media_type(media_type, url)
    body = _read_body(response, url, limits, deadline)
    if not media_type and not looks_like_html(body[:_SNIFF_BYTES].decode("latin-1")):
        raise InputError(
            f"{url} has no Content-Type and does not look like a web page.",
            path=url,
            hint="Download it, convert it to text and summarise the text file.",
        )
    text, declared, encoding = decode_body(body, charset)
    return Page(
        url=url,
        final_url=display_url(str(response.url)),
        status=response.status_code,
        content_type=media_type,
        charset=declared,
        html=text,
        size=len(body),
        redirects=redirects,
        is_html=media_type not in _TEXT_TYPES,
        encoding=encoding,
    )


def _check_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status in (401, 403):
        hint = (
            "The site refuses automated access or needs a login: save the article text to a file."
        )
    elif status in (404, 410):
        hint = "Check the URL: the page does not exist (any more)."
    elif status == 429:
        hint = "The site is rate limiting: wait a while and try again."
    elif status >= 500:
        hint = "The site's server failed: try again later."
    else:
        hint = "Check the URL, or save the article text to a file."
    where = "" if str(response.url) == url else f" (at {display_url(str(response.url))})"
    raise FetchError(
        f"{url} answered HTTP {status} {response.reason_phrase}{where}.",
        url=url,
        hint=hint,
        status=status,
        retryable=status in _RETRYABLE_STATUS,
    )


def _content_type(header: str) -> tuple[str, str | None]:
    """The media type, lowercased, and the charset parameter of a Content-Type header."""
    media_type, *params = header.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip(" \"'"):
            charset = value.strip(" \"'")
    return media_type.strip().lower(), charset


def _check_media_type(media_type: str, url: str) -> None:
    if not media_type or media_type in _HTML_TYPES or media_type in _TEXT_TYPES:
        return
    if media_type == "application/pdf":
        hint = (
            "Download it and convert it to text (pdftotext FILE.pdf), then summarise the text file."
        )
    else:
        hint = "Download it and convert it to text, then summarise the text file."
    raise InputError(
        f"{url} is {media_type}, not a web page: only HTML and plain text pages are read.",
        path=url,
        hint=hint,
    )


def _read_body(response: httpx.Response, url: str, limits: FetchLimits, deadline: float) -> bytes:
    """The body, refused as soon as it is known to be over the cap or past the deadline."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        _too_big(url, f"{int(declared):,} bytes", limits)
    chunks: list[bytes] = []
    size = 0
    # iter_bytes decodes gzip/br as it goes, so the cap bounds memory, not just the wire.
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limits.max_bytes:
            _too_big(url, f"more than {limits.max_bytes:,} bytes", limits)
        if time.monotonic() > deadline:
            raise _timeout(url, limits)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(url: str, size: str, limits: FetchLimits) -> NoReturn:
    raise FetchError(
        f"{url} is {size}, over the {limits.max_bytes:,}-byte download cap (max_input_bytes).",
        url=url,
        hint=SIZE_HINT,
    )


def _timeout(url: str, limits: FetchLimits) -> FetchError:
    return FetchError(
        f"{url} did not answer and download within {limits.timeout_s:g} s.",
        url=url,
        hint="The site is slow or unreachable: try again later.",
        retryable=True,
        timed_out=True,
    )


def decode_body(body: bytes, header_charset: str | None) -> tuple[str, str | None, str]:
    """Decode a page as a browser would, never failing.

    A byte order mark wins, then the header's charset, then ``<meta charset>`` or
    ``<meta http-equiv>`` in the first 4 KiB, then UTF-8 if the bytes are valid UTF-8,
    else windows-1252. Latin-1 labels decode as windows-1252 (as in browsers); bytes a
    declared codec cannot decode become U+FFFD.

    Returns:
        The text, the charset the page declared (None if none), and the codec used.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", errors="replace"), header_charset, "utf-8"
    declared = header_charset or _meta_charset(body[:_SNIFF_BYTES])
    codec = _codec(declared) if declared else None
    if codec:
        return body.decode(codec, errors="replace"), declared, codec
    try:
        return body.decode("utf-8"), declared, "utf-8"
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace"), declared, "cp1252"


def _meta_charset(head: bytes) -> str | None:
    match = _META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def _codec(label: str) -> str | None:
    """Python's codec for a charset label, or None when Python does not know it."""
    label = label.strip().lower()
    if label in _WINDOWS_1252_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


@contextlib.contextmanager
def _errors(url: str, limits: FetchLimits) -> Iterator[None]:
    """httpx's exceptions, and the checked backend's refusal, as ours."""
    try:
        yield
    except _Refused as exc:
        _refuse(url, exc.host, exc.address, exc.reason)
    except httpx.TimeoutException as exc:
        raise _timeout(url, limits) from exc
    except httpx.ConnectError as exc:
        raise _connect_error(url, exc) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise URLNotAllowed(f"Will not fetch {url}: {exc}.", url=url) from exc
    except httpx.RequestError as exc:  # dropped connection, protocol error, bad gzip
        raise FetchError(
            f"The connection to {url} failed: {exc or type(exc).__name__}.",
            url=url,
            hint="Try again later.",
            retryable=True,
        ) from exc


def _connect_error(url: str, exc: httpx.ConnectError) -> FetchError:
    cause = _cause(exc, (socket.gaierror, ssl.SSLCertVerificationError, ConnectionRefusedError))
    host = urlsplit(url).hostname or url
    if isinstance(cause, socket.gaierror):
        return _dns_error(url, host, cause)
    if isinstance(cause, ssl.SSLCertVerificationError):
        why = getattr(cause, "verify_message", None) or cause
        return FetchError(
            f"{url} has an invalid TLS certificate: {why}.",
            url=url,
            hint="Check the address; if you trust the site, save the article text to a file.",
        )
    refused = isinstance(cause, ConnectionRefusedError)
    return FetchError(
        f"Could not connect to {host} for {url}: {'connection refused' if refused else exc}.",
        url=url,
        hint="Check the URL and your network connection; the site may be down.",
        retryable=not refused,
    )


def _dns_error(url: str, host: str, exc: socket.gaierror) -> FetchError:
    return FetchError(
        f"Could not fetch {url}: the host name {host} does not resolve ({exc.strerror or exc}).",
        url=url,
        hint="Check the address for typos, and your network connection.",
        retryable=exc.errno == socket.EAI_AGAIN,
    )


def _cause(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _resolve(host: str, port: int, url: str) -> list[str]:
    """Every address ``host`` resolves to; a name that does not resolve is a FetchError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _dns_error(url, host, exc) from exc
    addresses: list[str] = []
    for *_, sockaddr in infos:
        if str(sockaddr[0]) not in addresses:
            addresses.append(str(sockaddr[0]))
    return addresses


def _refuse(url: str, host: str, address: str, reason: str) -> NoReturn:
    article = "an" if reason[0] in "aeiou" else "a"
    # Not which address a name resolves to: a caller of the service could map internal
    # names that way.
    what = f"{host} is" if host == address else f"{host} resolves to"
    raise URLNotAllowed(
        f"Will not fetch {url}: {what} {article} {reason} address.", url=url, hint=PRIVATE_HINT
    )


class _Refused(Exception):
    """Raised inside httpcore when a connection would go to a non-public address."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host, self.address, self.reason = host, address, reason
        super().__init__(f"{host} -> {address} ({reason})")


class _CheckedBackend(httpcore.NetworkBackend):
    """Resolves each host itself and connects only to an address it has checked."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self._allow_private:
            for address in addresses:
                reason = non_public_reason(address)
                if reason:
                    raise _Refused(host, address, reason)
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses ``_CheckedBackend``.

    httpx has no public hook for the network backend, so the pool it built is replaced by
    an equivalent one (same TLS settings) that has it.
    """

    def __init__(self, allow_private: bool) -> None:
        context = _ssl_context()
        super().__init__(verify=context)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=_CheckedBackend(allow_private)
        )


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """httpx's default TLS settings (certifi, or SSL_CERT_FILE); loading them takes 0.1 s."""
    return httpx.create_ssl_context(trust_env=True)
