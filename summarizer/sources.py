"""An article from wherever it is: a text file, standard input, an HTML file, or a web page.

Every face reads its input here, so an input means the same thing in each: ``summarize
URL``, a URL line in ``summarize batch --urls``, ``{"url": ...}`` on the HTTP service and a
URL as the last chat message are one fetch (``fetch``), and a page and an ``.html`` file
are one extraction (``extract``).

What the model reads of a page is its article as text: the title, the publication date
(YYYY-MM-DD) and the main text, paragraphs separated by blank lines (``page_text``). That
is exactly what ``summarize extract`` prints, so a page and its extracted text saved as a
file give the same summary. Where it came from goes into ``meta.source``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from summarizer.errors import URLNotAllowed
from summarizer.files import load_article
from summarizer.schema import Source

if TYPE_CHECKING:
    from summarizer.extract import ExtractedArticle

# fetch (httpx) and extract (trafilatura, lxml, dateparser) are imported when an input
# needs them: plain text, the common case, starts no faster for them.

__all__ = [
    "ArticleText",
    "FetchPolicy",
    "from_text",
    "looks_like_url",
    "page_text",
    "read_input",
    "read_url",
]

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown")


@dataclass(frozen=True)
class FetchPolicy:
    """Whether URLs may be fetched, and where: the CLI fetches public addresses; the HTTP
    service fetches nothing unless its operator says so (``--allow-fetch``). Private,
    loopback and link-local addresses need ``allow_private`` everywhere."""

    enabled: bool = True
    allow_private: bool = False
    timeout_s: float = 20.0
    max_redirects: int = 5


@dataclass(frozen=True)
class ArticleText:
    """The text the model reads, and where it came from (``None`` for plain text)."""

    text: str
    source: Source | None = None
    notice: str | None = None


def read_input(
    spec: str,
    *,
    max_bytes: int,
    encoding: str | None = None,
    fetch: FetchPolicy | None = None,
) -> ArticleText:
    """The article ``spec`` names: a URL, ``-`` (stdin) or a file; HTML is extracted.

    Args:
        max_bytes: the largest file, stdin or download accepted (``max_input_bytes``).
        encoding: the file's encoding, when it cannot be told (not for URLs: the page's
            headers and ``<meta>`` say).
        fetch: how URLs may be fetched; default ``FetchPolicy()`` (public addresses).

    Raises:
        URLNotAllowed: a scheme other than http(s), or an address not allowed.
        FetchError: the page could not be fetched.
        InputError: the file cannot be read, or no article text was found in the HTML.
    """
    if looks_like_url(spec):
        return read_url(spec, max_bytes=max_bytes, fetch=fetch or FetchPolicy())
    article = load_article(spec, max_bytes=max_bytes, encoding=encoding)
    suffix = Path(spec).suffix.lower()
    # A text or Markdown file may mention <div> or carry a <br>: it is text all the same.
    html = True if suffix in HTML_SUFFIXES else False if suffix in TEXT_SUFFIXES else None
    return from_text(article.text, html=html, notice=article.notice)


def looks_like_url(spec: str) -> bool:
    """Whether an input names a URL (any scheme: ``file://`` gets a clear refusal, not
    "no such file"). Only a spec with ``://`` costs the import of httpx."""
    if "://" not in spec:
        return False
    from summarizer.fetch import is_url

    return is_url(spec)


def from_text(text: str, *, html: bool | None = None, notice: str | None = None) -> ArticleText:
    """An article given as a string: plain text as it is, HTML's article extracted
    (``html``: whether it is HTML; ``None``: sniff it).

    Raises:
        InputError: HTML with no article text in it.
    """
    if html is None:
        html = _looks_like_html(text)
    if not html:
        return ArticleText(text, None, notice)
    from summarizer.extract import extract_article

    extracted = extract_article(text)
    return ArticleText(page_text(extracted), _source("html", extracted), notice)


def read_url(url: str, *, max_bytes: int, fetch: FetchPolicy) -> ArticleText:
    """The article at ``url``: fetched within ``fetch``'s limits, its HTML extracted.

    Raises:
        URLNotAllowed, FetchError, InputError: as ``read_input``.
    """
    from summarizer.extract import extract_article
    from summarizer.fetch import FetchLimits, display_url, fetch_page

    if not fetch.enabled:
        shown = display_url(url)
        raise URLNotAllowed(
            f"This service does not fetch URLs ({shown}).",
            url=shown,
            hint="Send the article's text instead, or ask the operator to start the "
            "service with --allow-fetch.",
        )
    limits = FetchLimits(
        timeout_s=fetch.timeout_s,
        max_redirects=fetch.max_redirects,
        max_bytes=max_bytes,
        allow_private=fetch.allow_private,
    )
    page = fetch_page(url, limits)
    if not page.is_html:  # plain text: read as it is, and still say where it came from
        plain = Source(
            kind="url",
            url=display_url(url),
            final_url=display_url(page.final_url),
            html_chars=0,
            text_chars=len(page.html),
            extractor="none (text/plain)",
        )
        return ArticleText(page.html, plain, None)
    extracted = extract_article(page.html, url=page.final_url)
    source = _source("url", extracted, url=url, final_url=page.final_url)
    return ArticleText(page_text(extracted), source, None)


def _looks_like_html(text: str) -> bool:
    # Only text that has a tag at all is worth importing the extractor for.
    if "<" not in text[:4096]:
        return False
    from summarizer.extract import looks_like_html

    return looks_like_html(text)


def page_text(article: ExtractedArticle) -> str:
    """What the model reads of a page: its title, its date and its main text, one
    paragraph each, unless the text already starts with the title."""
    head = []
    if article.title and not article.text.startswith(article.title):
        head.append(article.title)
    if article.date:
        head.append(article.date)
    return "\n\n".join([*head, article.text])


def _source(
    kind: str, article: ExtractedArticle, *, url: str | None = None, final_url: str | None = None
) -> Source:
    return Source.model_validate(
        {
            "kind": kind,
            "url": url,
            "final_url": final_url,
            "title": article.title,
            "date": article.date,
            "author": article.author,
            "sitename": article.sitename,
            "html_chars": article.html_chars,
            "text_chars": len(article.text),
            "extractor": article.extractor,
        }
    )
