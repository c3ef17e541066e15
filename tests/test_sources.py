"""Web pages in, through every face: ``summarize URL``, ``summarize extract``, HTML files and
stdin, ``summarize batch`` over URLs, and ``{"url": ...}`` on the HTTP service (with its
SSRF guard). The pages are served from tests/pages/ on loopback (``tests.webpages``); the
model is the fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from summarizer.cli import app
from summarizer.server import create_app
from summarizer.sources import FetchPolicy
from tests.fakes import FakeLLM
from tests.test_cli import Recorder, sent  # noqa: F401 (the fixture)
from tests.test_server import make_summarizer, running
from tests.webpages import PageSite, serve_pages

ANTALYA = "/page/antalya-talks.id.html"


@pytest.fixture(scope="module")
def site() -> Iterator[PageSite]:
    with serve_pages() as pages:
        yield pages


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


# -- summarize URL ------------------------------------------------------------------------


def test_a_url_summarizes_as_its_extracted_text_saved_as_a_file(
    sent: Recorder,  # noqa: F811
    site: PageSite,
    tmp_path: Path,
) -> None:
    url = site.url(ANTALYA)
    code, out, err = run(url, "--allow-private-urls", "--no-cache", "-q", "-f", "json")
    assert code == 0, err
    from_url = json.loads(out)
    source = from_url["meta"]["source"]
    assert source["kind"] == "url" and source["url"] == url and source["final_url"] == url
    assert source["date"] == "2022-03-11"  # the page was published the day after
    assert "Antalya" in (source["title"] or "")
    assert source["extractor"].startswith("trafilatura")
    url_messages = [r.messages for r in sent.requests]

    extracted = tmp_path / "extracted.txt"
    code, _, err = run("extract", url, "--allow-private-urls", "-q", "-o", str(extracted))
    assert code == 0, err
    text = extracted.read_text(encoding="utf-8")
    assert "Baca juga" not in text and "Lavrov" in text
    sent.fake.requests.clear()
    code, out, err = run(str(extracted), "--no-cache", "-q", "-f", "json")
    assert code == 0, err
    # The model read exactly the same messages: the same summary, by construction.
    assert [r.messages for r in sent.requests] == url_messages
    from_file = json.loads(out)
    assert "source" not in from_file["meta"]
    assert {k: v for k, v in from_file.items() if k != "meta"} == {
        k: v for k, v in from_url.items() if k != "meta"
    }


def test_the_model_reads_the_pages_title_and_date_first(
    sent: Recorder,  # noqa: F811
    site: PageSite,
) -> None:
    code, out, err = run("extract", site.url(ANTALYA), "--allow-private-urls", "-f", "json")
    assert code == 0, err
    extracted = json.loads(out)
    title, date, first = extracted["text"].split("\n\n")[:3]
    assert title == extracted["source"]["title"]
    assert date == "2022-03-11"
    assert first and first != title


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/status/404", 9, "404"),
        ("/doc.pdf", 3, "application/pdf"),
        ("/page/paywall.en.html", 3, "too little article text"),
        ("/redirect-loop", 9, "redirect"),
    ],
)
def test_pages_that_give_no_article_exit_with_their_code(
    sent: Recorder,  # noqa: F811
    site: PageSite,
    path: str,
    code: int,
    message: str,
) -> None:
    exit_code, out, err = run(site.url(path), "--allow-private-urls")
    assert exit_code == code, err
    assert message in err
    assert out == ""
    assert sent.requests == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/a.html", "gopher://example.com/"],
)
def test_only_http_and_https_are_fetched(sent: Recorder, url: str) -> None:  # noqa: F811
    code, _, err = run(url)
    assert code == 2, err
    assert "http" in err
    assert sent.requests == []


def test_a_loopback_url_needs_allow_private_urls(
    sent: Recorder,  # noqa: F811
    site: PageSite,
) -> None:
    seen = len(site.requests)
    code, _, err = run(site.url(ANTALYA))
    assert code == 2, err
    assert "--allow-private-urls" in err
    assert len(site.requests) == seen  # refused before connecting
    assert sent.requests == []


# -- HTML files and stdin --------------------------------------------------------------------


def test_an_html_file_and_html_on_stdin_are_extracted(
    sent: Recorder,  # noqa: F811
    tmp_path: Path,
) -> None:
    page = Path(__file__).parent / "pages" / "antalya-talks.id.html"
    code, out, err = run(str(page), "-q", "-f", "json")
    assert code == 0, err
    assert json.loads(out)["meta"]["source"]["kind"] == "html"
    sent_text = sent.requests[0].messages[-1]["content"]
    assert "Lavrov" in sent_text
    assert "Baca juga" not in sent_text and "<div" not in sent_text and "<p>" not in sent_text

    code, out, err = run("-", "-q", "-f", "json", input=page.read_text(encoding="utf-8"))
    assert code == 0, err
    assert json.loads(out)["meta"]["source"]["kind"] == "html"


# -- batch over URLs -----------------------------------------------------------------------


def test_batch_takes_urls_and_a_urls_file_and_resumes_by_url(
    sent: Recorder,  # noqa: F811
    site: PageSite,
    tmp_path: Path,
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"# two pages and a missing one\n{site.url(ANTALYA)}\n\n{site.url('/status/404')}\n",
        encoding="utf-8",
    )
    out = tmp_path / "results.jsonl"
    measles = site.url("/page/measles-campaign.en.html")
    args = ["batch", measles, "--urls", str(urls), "--out", str(out), "--allow-private-urls", "-q"]
    code, _, err = run(*args)
    assert code == 1, err  # one page failed
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["input"] for line in lines) == sorted(
        [measles, site.url(ANTALYA), site.url("/status/404")]
    )
    by_input = {line["input"]: line for line in lines}
    assert by_input[measles]["ok"] and by_input[measles]["result"]["meta"]["source"]["url"] == (
        measles
    )
    failed = by_input[site.url("/status/404")]
    assert not failed["ok"] and "404" in failed["error"]["message"]
    calls, fetched = len(sent.requests), len(site.requests)
    run(*args)  # a rerun skips every page already in the file, by its URL
    assert len(sent.requests) == calls and len(site.requests) == fetched
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_a_urls_file_line_that_is_not_a_url_is_refused(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("https://example.com/a\nnot a url\n", encoding="utf-8")
    code, _, err = run("batch", "--urls", str(urls), "--out", str(tmp_path / "r.jsonl"))
    assert code == 3, err
    assert "line 2" in err


# -- the HTTP service -----------------------------------------------------------------------


def _post(base: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{base}/v1/summaries", json=body, timeout=60)


def test_the_service_fetches_nothing_unless_allowed(site: PageSite) -> None:
    fake = FakeLLM()
    with running(create_app(make_summarizer(fake), preload=False)) as base:
        refused = _post(base, {"url": site.url(ANTALYA), "target_language": "en"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "url_not_allowed"
    assert "--allow-fetch" in refused.json()["hint"]
    assert fake.requests == []


def test_an_ssrf_attempt_is_refused_before_any_request(site: PageSite) -> None:
    """Fetching on, private addresses not allowed: loopback, the cloud metadata address,
    a redirect into the local network, all 403 before the model is called."""
    fake = FakeLLM()
    app = create_app(make_summarizer(fake), preload=False, fetch=FetchPolicy())
    seen = len(site.requests)
    with running(app) as base:
        for url in (
            site.url(ANTALYA),
            site.url(ANTALYA, host="localhost"),
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:1/",
            "http://10.0.0.1/",
        ):
            refused = _post(base, {"url": url})
            assert refused.status_code == 403, (url, refused.text)
            assert refused.json()["error"] == "url_not_allowed"
    assert fake.requests == []
    assert len(site.requests) == seen  # the page server was never contacted


def test_the_service_summarizes_a_url_when_allowed(site: PageSite) -> None:
    fake = FakeLLM()
    policy = FetchPolicy(allow_private=True)
    with running(create_app(make_summarizer(fake), preload=False, fetch=policy)) as base:
        answer = _post(base, {"url": site.url(ANTALYA), "target_language": "en"})
        both = _post(base, {"url": site.url(ANTALYA), "text": "x"})
        missing = _post(base, {"url": site.url("/status/404")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["meta"]["source"]["kind"] == "url"
    assert both.status_code == 422
    assert missing.status_code == 502 and missing.json()["error"] == "fetch_failed"


def test_html_sent_as_text_is_extracted_by_the_service() -> None:
    fake = FakeLLM()
    page = (Path(__file__).parent / "pages" / "antalya-talks.id.html").read_text(encoding="utf-8")
    with running(create_app(make_summarizer(fake), preload=False)) as base:
        answer = _post(base, {"text": page})
    assert answer.status_code == 200, answer.text
    assert answer.json()["meta"]["source"]["kind"] == "html"
    assert "<div" not in fake.requests[0].messages[-1]["content"]


def test_a_text_file_that_mentions_tags_stays_text(
    sent: Recorder,  # noqa: F811
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text(
        "Web layout explained: a <div> holds a <section>, an <article> sits in <main>"
        " inside <body>.<br><br>See <a href='x'>the guide</a>.\n\nSecond paragraph.",
        encoding="utf-8",
    )
    code, out, err = run(str(notes), "-q", "-f", "json")
    assert code == 0, err
    assert "source" not in json.loads(out)["meta"]
    assert "<section>" in sent.requests[0].messages[-1]["content"]


def test_a_plain_text_page_is_read_as_it_is_and_says_where_it_came_from(
    sent: Recorder,  # noqa: F811
    site: PageSite,
) -> None:
    code, out, err = run(site.url("/text"), "--allow-private-urls", "-q", "-f", "json")
    assert code == 0, err
    source = json.loads(out)["meta"]["source"]
    assert source["kind"] == "url" and source["extractor"] == "none (text/plain)"
    assert source["html_chars"] == 0 and source["text_chars"] > 0


def test_a_urls_file_takes_only_http_and_https(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("https://example.com/a\nftp://example.com/b\n", encoding="utf-8")
    code, _, err = run("batch", "--urls", str(urls), "--out", str(tmp_path / "r.jsonl"))
    assert code == 3, err
    assert "line 2" in err


def test_a_chat_message_with_an_overlong_url_is_a_422_not_a_bug() -> None:
    fake = FakeLLM()
    policy = FetchPolicy(allow_private=True)
    with running(create_app(make_summarizer(fake), preload=False, fetch=policy)) as base:
        answer = httpx.post(
            f"{base}/v1/chat/completions",
            json={
                "model": "summarizer-en",
                "messages": [{"role": "user", "content": "https://example.com/" + "a" * 3000}],
            },
            timeout=60,
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["type"] == "invalid_input"
    assert fake.requests == []
