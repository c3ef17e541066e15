"""summarizer/fetch.py: every limit and every error, against a news site on 127.0.0.1.

The site is on loopback, so ordinary fetches pass ``allow_private=True``. The refusals of
private addresses are tested with ``allow_private=False`` and a fake resolver that makes
``news.example`` a public address for the check, while the connection is routed to the
loopback site (``_LoopbackRouter``) or refused before it is made.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from summarizer import __version__
from summarizer.errors import FetchError, InputError, URLNotAllowed
from summarizer.fetch import (
    FetchLimits,
    check_url,
    decode_body,
    fetch_page,
    is_url,
    non_public_reason,
)
from tests.webpages import BIG_BYTES, PAGES, PageSite, serve_pages

LOOPBACK = FetchLimits(allow_private=True, timeout_s=5.0)
PUBLIC_IP = "93.184.216.34"
_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture(scope="module")
def site() -> Iterator[PageSite]:
    with serve_pages() as running:
        yield running


@pytest.fixture
def fresh_site() -> Iterator[PageSite]:
    """A site of its own, for tests that count the requests it receives."""
    with serve_pages() as running:
        yield running


FakeDNS = Callable[[dict[str, list[str] | None]], list[str]]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """Install a resolver: name -> addresses (None: the name does not exist).

    Each name's list is served in turn, one address per lookup, the last one repeating, so
    ``["93.184.216.34", "127.0.0.1"]`` is a rebinding name. IP literals resolve as usual;
    any other name fails, so no test can reach a real DNS server. Returns the names asked.
    """

    def install(table: dict[str, list[str] | None]) -> list[str]:
        asked: list[str] = []
        turns = {name: 0 for name in table}

        def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
            asked.append(host)
            if host not in table:
                # Numbers only (127.0.0.1, 2130706433, ::1): never a DNS query.
                return _real_getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
                )
            addresses = table[host]
            if addresses is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            address = addresses[min(turns[host], len(addresses) - 1)]
            turns[host] += 1
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return asked

    return install


class _LoopbackRouter(httpx.BaseTransport):
    """Sends every request to the loopback site whatever its host, like a DNS answer would."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(host="127.0.0.1")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


# --- is_url and check_url ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://news.example/a?b=1", True),
        ("HTTP://NEWS.EXAMPLE", True),
        ("  https://news.example/a  ", True),
        ("file:///etc/passwd", True),
        ("ftp://files.example/a.txt", True),
        ("article.txt", False),
        ("-", False),
        ("news/2024/a.html", False),
        ("C:\\news\\a.txt", False),
        ("https://news.example/a b", False),
        ("see https://news.example/a", False),
        ("", False),
    ],
)
def test_is_url(text: str, expected: bool) -> None:
    assert is_url(text) is expected


@pytest.mark.parametrize(
    ("url", "says", "hint"),
    [
        ("file:///etc/passwd", "file:// is not http(s)", "pass its path"),
        ("ftp://files.example/a.txt", "ftp:// is not http(s)", "Only http:// and https://"),
        ("javascript:alert(1)", "not http(s)", "Only http:// and https://"),
        ("http:///path/only", "names no host", None),
        ("http://news.example:99999/", "not a valid URL", None),
    ],
)
def test_check_url_refuses_what_is_not_a_web_address(url: str, says: str, hint: str | None) -> None:
    with pytest.raises(URLNotAllowed) as caught:
        check_url(url, allow_private=True)
    assert says in caught.value.message
    assert caught.value.exit_code == 2
    assert (hint or "") in (caught.value.hint or "")


@pytest.mark.parametrize(
    "url", ["https://alice:hunter2@news.example/a", "http://hunter2@news.example/"]
)
def test_credentials_are_refused_and_never_shown(url: str) -> None:
    with pytest.raises(URLNotAllowed) as caught:
        check_url(url, allow_private=True)
    assert "user name or password" in caught.value.message
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in caught.value.url
    assert caught.value.url.startswith(("https://news.example", "http://news.example"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.1.2.3:8080/admin", "loopback"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
        ("http://localhost/", "loopback"),
        ("http://LOCALHOST./", "loopback"),
        ("http://app.localhost/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
        ("http://10.0.0.8/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "non-public"),  # carrier-grade NAT
        ("http://192.0.0.192/", "reserved"),  # Oracle Cloud's metadata service
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 around 127.0.0.1
        ("http://[2002:a9fe:a9fe::]/", "link-local"),  # 6to4 around 169.254.169.254
        ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64 around 127.0.0.1
        ("http://[fe80::1%25eth0]/", "link-local"),  # an interface zone
    ],
)
def test_private_addresses_are_refused_unless_allowed(
    url: str, reason: str, fake_dns: FakeDNS
) -> None:
    fake_dns({})
    with pytest.raises(URLNotAllowed) as caught:
        check_url(url)
    assert f"{reason} address" in caught.value.message
    assert caught.value.url in caught.value.message
    assert "--allow-private-urls" in (caught.value.hint or "")
    assert "--allow-fetch" in (caught.value.hint or "")
    check_url(url, allow_private=True)  # allowed: no lookup, no error


def test_a_name_that_resolves_to_a_private_address_is_refused(fake_dns: FakeDNS) -> None:
    fake_dns({"intranet.example": ["10.1.2.3"], "mixed.example": [PUBLIC_IP, "192.168.0.9"]})
    with pytest.raises(
        URLNotAllowed, match=r"intranet\.example resolves to a private address"
    ) as caught:
        check_url("https://intranet.example/wiki")
    # Not which address: a caller of the service could map internal names with it.
    assert "10.1.2.3" not in caught.value.message


def test_every_address_of_a_name_is_checked(
    fake_dns: FakeDNS, monkeypatch: pytest.MonkeyPatch
) -> None:
    def two_addresses(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.0.9", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    with pytest.raises(URLNotAllowed, match=r"mixed\.example resolves to a private address"):
        check_url("https://mixed.example/")


def test_a_public_name_passes(fake_dns: FakeDNS) -> None:
    asked = fake_dns({"news.example": [PUBLIC_IP]})
    check_url("https://news.example/2024/story.html")
    assert asked == ["news.example"]


def test_a_name_that_does_not_resolve_is_a_fetch_error(fake_dns: FakeDNS) -> None:
    fake_dns({"nowhere.example": None})
    with pytest.raises(FetchError) as caught:
        check_url("https://nowhere.example/a")
    assert "nowhere.example does not resolve" in caught.value.message
    assert caught.value.exit_code == 9
    assert "typos" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (PUBLIC_IP, None),
        ("2606:4700::1111", None),
        ("::ffff:10.0.0.1", "private"),
        ("fe80::1%eth0", "link-local"),
    ],
)
def test_non_public_reason(address: str, reason: str | None) -> None:
    assert non_public_reason(address) == reason


# --- fetching pages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "charset", "encoding", "sample"),
    [
        ("antalya-talks.id.html", "utf-8", "utf-8", "“Tampaknya ada pengambil keputusan"),
        ("measles-campaign.en.html", "UTF-8", "utf-8", "37 cases"),
        # Declared only by <meta charset>; the apostrophe U+2019 is 0x92, only in windows-1252.
        ("iran-airbus.fr.cp1252.html", "windows-1252", "cp1252", "l\u2019achat de 114 Airbus"),
        # Declared only by <meta http-equiv>; Latin-1 labels decode as windows-1252.
        ("water-rationing.es.latin1.html", "iso-8859-1", "cp1252", "la peor sequía"),
    ],
)
def test_pages_are_fetched_and_decoded_by_their_declared_charset(
    site: PageSite, page: str, charset: str, encoding: str, sample: str
) -> None:
    fetched = fetch_page(site.url(f"/page/{page}"), LOOPBACK)
    assert (fetched.status, fetched.content_type, fetched.is_html) == (200, "text/html", True)
    assert (fetched.charset, fetched.encoding) == (charset, encoding)
    assert sample in fetched.html
    assert "\ufffd" not in fetched.html
    assert fetched.size == len((PAGES / page).read_bytes())
    assert fetched.url == fetched.final_url == site.url(f"/page/{page}")
    assert fetched.redirects == 0


def test_the_header_charset_wins_over_the_meta_tag(site: PageSite) -> None:
    url = site.url("/page/antalya-talks.id.html?type=text/html;%20charset=windows-1252")
    fetched = fetch_page(url, LOOPBACK)
    assert (fetched.charset, fetched.encoding) == ("windows-1252", "cp1252")
    assert "â€œTampaknya" in fetched.html  # UTF-8 read as windows-1252, as the header says


def test_a_page_sends_a_real_user_agent_and_asks_for_html(fresh_site: PageSite) -> None:
    fetch_page(fresh_site.url("/page/clinic-opening.en.html"), LOOPBACK)
    ((_, headers),) = fresh_site.requests
    assert headers["User-Agent"].startswith(f"summarizer/{__version__} (+https://")
    assert headers["Accept"].startswith("text/html")


def test_plain_text_is_accepted_as_text(site: PageSite) -> None:
    fetched = fetch_page(site.url("/text"), LOOPBACK)
    assert (fetched.content_type, fetched.is_html, fetched.charset) == (
        "text/plain",
        False,
        "utf-8",
    )
    assert fetched.html.startswith("Port Linden fishermen")


def test_html_without_a_content_type_is_accepted(site: PageSite) -> None:
    fetched = fetch_page(site.url("/page/measles-campaign.en.html?type="), LOOPBACK)
    assert (fetched.content_type, fetched.is_html) == ("", True)


def test_something_without_a_content_type_that_is_not_html_is_refused() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"\x00\x01binary"))
    with pytest.raises(InputError, match="no Content-Type and does not look like a web page"):
        fetch_page("https://news.example/blob", LOOPBACK, transport=transport)


@pytest.mark.parametrize(
    ("path", "ctype", "hint"),
    [
        ("/doc.pdf", "application/pdf", "pdftotext"),
        ("/page/measles-campaign.en.html?type=image/png", "image/png", "convert it to text"),
        ("/page/measles-campaign.en.html?type=application/json", "application/json", "convert"),
    ],
)
def test_what_is_not_a_web_page_is_refused_by_type(
    site: PageSite, path: str, ctype: str, hint: str
) -> None:
    with pytest.raises(InputError) as caught:
        fetch_page(site.url(path), LOOPBACK)
    assert f"is {ctype}, not a web page" in caught.value.message
    assert caught.value.exit_code == 3
    assert hint in (caught.value.hint or "")
    assert caught.value.path == site.url(path)


@pytest.mark.parametrize(
    ("status", "retryable", "hint"),
    [
        (404, False, "Check the URL"),
        (410, False, "Check the URL"),
        (403, False, "login"),
        (429, True, "rate limiting"),
        (500, True, "try again later"),
        (503, True, "try again later"),
    ],
)
def test_http_errors(site: PageSite, status: int, retryable: bool, hint: str) -> None:
    url = site.url(f"/status/{status}")
    with pytest.raises(FetchError) as caught:
        fetch_page(url, LOOPBACK)
    error = caught.value
    assert (error.status, error.retryable, error.timed_out, error.exit_code) == (
        status,
        retryable,
        False,
        9,
    )
    assert f"{url} answered HTTP {status}" in error.message
    assert hint in (error.hint or "")


def test_redirects_are_followed_and_counted(site: PageSite) -> None:
    url = site.url("/redirect-to/redirect-to/page/harbour-strike.en.html")
    fetched = fetch_page(url, LOOPBACK)
    assert fetched.url == url
    assert fetched.final_url == site.url("/page/harbour-strike.en.html")
    assert fetched.redirects == 2


def test_an_error_after_a_redirect_names_where_it_happened(site: PageSite) -> None:
    with pytest.raises(FetchError, match=r"answered HTTP 404 Not Found \(at http://127\.0\.0\.1"):
        fetch_page(site.url("/redirect-to/status/404"), LOOPBACK)


@pytest.mark.parametrize("max_redirects", [0, 2, 5])
def test_too_many_redirects(fresh_site: PageSite, max_redirects: int) -> None:
    limits = FetchLimits(allow_private=True, max_redirects=max_redirects)
    with pytest.raises(FetchError) as caught:
        fetch_page(fresh_site.url("/redirect-loop"), limits)
    assert f"redirected more than {max_redirects} times" in caught.value.message
    assert caught.value.retryable is False
    assert fresh_site.paths() == ["/redirect-loop"] * (max_redirects + 1)


@pytest.mark.parametrize(
    ("path", "size"), [("/big", r"is \d{3},\d{3} bytes"), ("/big-chunked", "is more than 100,000")]
)
def test_a_page_over_the_cap_is_refused(site: PageSite, path: str, size: str) -> None:
    limits = FetchLimits(allow_private=True, max_bytes=100_000)
    with pytest.raises(FetchError) as caught:
        fetch_page(site.url(path), limits)
    assert re.search(size, caught.value.message)
    assert "100,000-byte download cap (max_input_bytes)" in caught.value.message
    assert "SUMMARIZER_MAX_INPUT_BYTES" in (caught.value.hint or "")
    assert caught.value.retryable is False


def test_a_page_under_the_cap_is_read_whole(site: PageSite) -> None:
    fetched = fetch_page(
        site.url("/big-chunked"), FetchLimits(allow_private=True, max_bytes=BIG_BYTES * 2)
    )
    assert fetched.size > BIG_BYTES
    assert fetched.html.endswith("</p>\n")


def test_a_server_that_does_not_answer_times_out(site: PageSite) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_page(site.url("/slow?s=5"), FetchLimits(allow_private=True, timeout_s=0.3))
    assert time.monotonic() - started < 2
    error = caught.value
    assert (error.timed_out, error.retryable, error.status, error.exit_code) == (
        True,
        True,
        None,
        9,
    )
    assert "within 0.3 s" in error.message


def test_a_page_that_trickles_in_hits_the_overall_deadline(site: PageSite) -> None:
    # Each byte comes well within the read timeout, the whole page does not.
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_page(
            site.url("/drip?n=40&every=0.05"), FetchLimits(allow_private=True, timeout_s=0.5)
        )
    assert time.monotonic() - started < 1.5
    assert caught.value.timed_out is True


def test_a_closed_port_is_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        fetch_page(f"http://127.0.0.1:{port}/a", LOOPBACK)
    assert "connection refused" in caught.value.message
    assert (caught.value.retryable, caught.value.status) == (False, None)


def test_a_host_that_does_not_resolve_when_private_addresses_are_allowed(fake_dns: FakeDNS) -> None:
    fake_dns({"nowhere.example": None})
    with pytest.raises(FetchError, match=r"nowhere\.example does not resolve"):
        fetch_page("http://nowhere.example/a", LOOPBACK)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ReadTimeout("read timed out"), {"timed_out": True, "retryable": True}),
        (
            httpx.RemoteProtocolError("peer closed connection"),
            {"timed_out": False, "retryable": True},
        ),
        (httpx.ReadError("connection reset"), {"timed_out": False, "retryable": True}),
    ],
)
def test_transport_errors_become_fetch_errors(raised: Exception, expected: dict[str, bool]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise raised

    with pytest.raises(FetchError) as caught:
        fetch_page("https://news.example/a", LOOPBACK, transport=httpx.MockTransport(fail))
    assert {"timed_out": caught.value.timed_out, "retryable": caught.value.retryable} == expected
    assert "https://news.example/a" in caught.value.message


def test_a_bad_certificate_says_so() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
        cause.verify_message = "certificate has expired"
        raise httpx.ConnectError("TLS failed") from cause

    with pytest.raises(FetchError, match="invalid TLS certificate: certificate has expired"):
        fetch_page("https://news.example/a", LOOPBACK, transport=httpx.MockTransport(fail))


# --- redirects and connections into private addresses ----------------------------------


def test_a_redirect_into_a_private_address_is_refused(
    fresh_site: PageSite, fake_dns: FakeDNS
) -> None:
    fake_dns({"news.example": [PUBLIC_IP]})
    url = fresh_site.url("/redirect-private", host="news.example")
    with pytest.raises(URLNotAllowed) as caught:
        fetch_page(url, FetchLimits(timeout_s=5), transport=_LoopbackRouter())
    assert "127.0.0.1 is a loopback address" in caught.value.message
    assert "--allow-private-urls" in (caught.value.hint or "")
    assert caught.value.exit_code == 2
    assert fresh_site.paths() == ["/redirect-private"]  # the private page was never asked


def test_the_same_redirect_is_followed_when_private_addresses_are_allowed(
    fresh_site: PageSite, fake_dns: FakeDNS
) -> None:
    fake_dns({"news.example": [PUBLIC_IP]})
    url = fresh_site.url("/redirect-private", host="news.example")
    fetched = fetch_page(url, LOOPBACK, transport=_LoopbackRouter())
    assert fetched.final_url == fresh_site.url("/page/measles-campaign.en.html")
    assert fresh_site.paths() == ["/redirect-private", "/page/measles-campaign.en.html"]


def test_a_redirect_to_another_scheme_is_refused() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(302, headers={"Location": "file:///etc/passwd"})
    )
    with pytest.raises(URLNotAllowed, match="file:// is not http"):
        fetch_page("https://news.example/a", LOOPBACK, transport=transport)


def test_the_connection_goes_to_the_address_that_was_checked(
    fresh_site: PageSite, fake_dns: FakeDNS
) -> None:
    # No real DNS knows news.example: the page arrives only if the connection used ours.
    fake_dns({"news.example": ["127.0.0.1"]})
    fetched = fetch_page(
        fresh_site.url("/page/clinic-opening.en.html", host="news.example"), LOOPBACK
    )
    assert "maternity clinic" in fetched.html
    ((_, headers),) = fresh_site.requests
    assert headers["Host"] == f"news.example:{fresh_site.port}"


def test_dns_rebinding_is_refused_at_the_connection(
    fresh_site: PageSite, fake_dns: FakeDNS
) -> None:
    # Public when check_url asks, loopback when the connection is made.
    asked = fake_dns({"rebind.example": [PUBLIC_IP, "127.0.0.1"]})
    url = fresh_site.url("/page/clinic-opening.en.html", host="rebind.example")
    with pytest.raises(URLNotAllowed) as caught:
        fetch_page(url, FetchLimits(timeout_s=5))
    assert "rebind.example resolves to a loopback address" in caught.value.message
    assert asked == ["rebind.example", "rebind.example"]
    assert fresh_site.requests == []


def test_a_url_with_credentials_is_refused_before_any_request(fake_dns: FakeDNS) -> None:
    asked = fake_dns({})
    with pytest.raises(URLNotAllowed) as caught:
        fetch_page("https://alice:hunter2@news.example/a")
    assert "hunter2" not in str(caught.value)
    assert asked == []


# --- decoding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "header", "text", "declared", "codec"),
    [
        ("Crème brûlée".encode(), None, "Crème brûlée", None, "utf-8"),
        ("Crème brûlée".encode("cp1252"), None, "Crème brûlée", None, "cp1252"),
        (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "iso-8859-1", "<p>café</p>", "iso-8859-1", "utf-8"),
        (b"\x93quoted\x94", "ISO-8859-1", "“quoted”", "ISO-8859-1", "cp1252"),
        (
            b'<meta charset="koi8-r"><p>\xd0\xd2\xc9\xd7\xc5\xd4</p>',
            None,
            "привет",
            "koi8-r",
            "koi8-r",
        ),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">\x80',
            None,
            "€",
            "windows-1252",
            "cp1252",
        ),
        (b'<meta charset="windows-1252"><p>\xc3\xa9</p>', "utf-8", "<p>é</p>", "utf-8", "utf-8"),
        (b"<p>caf\xe9</p>", "x-no-such-charset", "<p>café</p>", "x-no-such-charset", "cp1252"),
        (b"<p>bad \xff\xfe bytes</p>", "utf-8", "<p>bad \ufffd\ufffd bytes</p>", "utf-8", "utf-8"),
        (b"<p>\x81\x8d</p>", None, "<p>\ufffd\ufffd</p>", None, "cp1252"),  # not even cp1252
    ],
)
def test_decoding(
    body: bytes, header: str | None, text: str, declared: str | None, codec: str
) -> None:
    decoded, charset, used = decode_body(body, header)
    assert text in decoded
    assert (charset, used) == (declared, codec)


def test_a_meta_charset_after_the_first_4_kib_is_not_read() -> None:
    body = b"<p>" + b"x" * 5000 + b'</p><meta charset="koi8-r">\xe9'
    assert decode_body(body, None)[1:] == (None, "cp1252")
