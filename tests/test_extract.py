"""summarizer/extract.py on the pages in tests/pages/ (what each one tests: its README).

For every page: the article's paragraphs all come out, in order, one blank line apart, and
none of the page's furniture does (navigation, read-also links, comments, cookie banner,
newsletter box, footer); title, date and author where the page has them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarizer.errors import InputError
from summarizer.extract import MIN_ARTICLE_CHARS, extract_article, looks_like_html
from summarizer.fetch import FetchLimits, fetch_page
from tests.webpages import PAGES, PageSite, serve_pages

ROOT = Path(__file__).resolve().parent.parent
ENCODINGS = {"iran-airbus.fr.cp1252.html": "cp1252", "water-rationing.es.latin1.html": "latin-1"}


def _html(page: str) -> str:
    return (PAGES / page).read_text(encoding=ENCODINGS.get(page, "utf-8"))


def _article(name: str) -> list[str]:
    """The paragraphs of an eval article the page was built from, read-also lines left out."""
    text = (ROOT / "evals" / "articles" / name).read_text(encoding="utf-8")
    return [p for p in text.split("\n\n") if not p.startswith(("Read also:", "Lee también:"))]


# page -> (paragraphs it must give, in order; strings that must not appear)
ARTICLES: dict[str, tuple[list[str], list[str]]] = {
    "antalya-talks.id.html": (
        [
            line
            for line in (ROOT / "examples" / "antalya-talks.id.txt").read_text().splitlines()
            if line and not line.startswith("Baca juga")
        ]
        + ["(TribunnewsSultra.com/Amelda Devi Indriyani)"],
        [
            "Baca juga",
            "Chelsea Kena Sanksi",
            "Berita Terkait",
            "Terpopuler",
            "Kebijakan Privasi",
            "Copyright",
            "Bagikan ke",
            "Cari berita",
            "Sultra Terkini",
            "(AFP)",
            "Penulis",
            "Tags",
        ],
    ),
    "harbour-strike.en.html": (
        [p for p in _article("harbour-strike.en.txt") if not p.startswith("Ignore previous")],
        ["Newsletter", "Sign up", "More from Business", "cycle lanes", "Registered in", "Opinion"],
    ),
    "measles-campaign.en.html": (
        _article("measles-campaign.en.txt")[:-1],  # its last line is the newsletter box
        ["Sign up", "daily briefing", "Share this story", "Cookie settings", "correspondent"],
    ),
    "iran-airbus.fr.cp1252.html": (
        _article("iran-airbus.fr.txt")[1:],  # the first line is the title
        ["Se connecter", "Article au hasard", "Sources", "Figaro", "Catégories", "Creative"],
    ),
    "water-rationing.es.latin1.html": (
        _article("water-rationing.es.txt")[:-1],  # the last line is the follow-us box
        ["Lee también", "aceite de oliva", "Síguenos", "Lo más leído", "Aviso legal", "Portada"],
    ),
    "clinic-opening.en.html": (
        _article("clinic-opening.en.txt"),
        [
            "cookies",
            "harbourmum84",
            "Three point four million",
            "Join the discussion",
            "Most read",
            "sardine",
            "showers",
            "Peninsula Media",
        ],
    ),
    "sri-lanka-fish.de.html": (
        _article("sri-lanka-fish.de.txt")[2:],  # title and an editing note
        ["Startseite", "Artikel teilen", "Datenschutz", "Impressum"],
    ),
}

METADATA = {
    "antalya-talks.id.html": (
        "Perundingan Damai Rusia-Ukraina di Antalya Berakhir Tanpa Kemajuan",
        "2022-03-11",
        "Amelda Devi Indriyani",
        "TribunnewsSultra.com",
        "id",
    ),
    "harbour-strike.en.html": (
        "Westhaven dockworkers begin 72-hour strike over pay",
        "2026-03-02",
        "Tom Hadley",
        "Coast Ledger",
        "en",
    ),
    "measles-campaign.en.html": (
        "Measles vaccination campaign to start after 37 cases in schools",
        "2026-09-03",
        "Priya Natarajan",
        "Valley Herald",
        "en",
    ),
    "iran-airbus.fr.cp1252.html": (
        "L\u2019Iran annonce le prochain achat de 114 Airbus",
        "2016-01-24",
        None,
        "Wikinews",
        "fr",
    ),
    "water-rationing.es.latin1.html": (
        "San Esteban del Campo aprueba cortes nocturnos de agua por la sequía",
        "2026-07-15",
        "Lucía Fernández",
        None,
        None,
    ),
    "clinic-opening.en.html": (
        "New maternity clinic opens in Port Linden",
        "2026-02-20",
        "Sam Okoro",
        "Linden Coast News",
        "en",
    ),
    "sri-lanka-fish.de.html": (
        "EU-Kommission droht Sri Lanka mit Fischimportverbot",
        "2014-10-21",
        "Katrin Vogel",
        "Nachrichtenportal Europa",
        "de",
    ),
}


@pytest.fixture(scope="module")
def site() -> Iterator[PageSite]:
    with serve_pages() as running:
        yield running


@pytest.mark.parametrize("page", sorted(ARTICLES))
def test_the_article_and_nothing_else(page: str) -> None:
    paragraphs, forbidden = ARTICLES[page]
    article = extract_article(_html(page))
    assert article.text.split("\n\n") == [p.strip() for p in paragraphs]
    assert [word for word in forbidden if word in article.text] == []


@pytest.mark.parametrize("page", sorted(METADATA))
def test_metadata(page: str) -> None:
    article = extract_article(_html(page), url=f"https://news.example/{page}")
    found = (article.title, article.date, article.author, article.sitename, article.language)
    assert found == METADATA[page] or (
        # Without og:site_name trafilatura names the site after the URL's host.
        page.startswith("water-") and found == (*METADATA[page][:3], "news.example", None)
    )
    assert article.url == f"https://news.example/{page}"
    assert article.html_chars == len(_html(page))
    assert article.extractor.startswith("trafilatura ")


@pytest.mark.parametrize("page", sorted(ARTICLES))
def test_the_text_never_repeats_the_title(page: str) -> None:
    article = extract_article(_html(page))
    assert article.title
    assert article.title not in article.text.split("\n\n")


@pytest.mark.parametrize("page", ["iran-airbus.fr.cp1252.html", "water-rationing.es.latin1.html"])
def test_pages_declaring_their_charset_only_in_html_come_out_right(
    site: PageSite, page: str
) -> None:
    fetched = fetch_page(site.url(f"/page/{page}"), FetchLimits(allow_private=True, timeout_s=5))
    article = extract_article(fetched.html, url=fetched.final_url)
    assert article.text.split("\n\n") == [p.strip() for p in ARTICLES[page][0]]


def test_a_paywall_teaser_is_too_little_text() -> None:
    with pytest.raises(InputError) as caught:
        extract_article(_html("paywall.en.html"), url="https://news.example/bridge")
    error = caught.value
    assert (
        "https://news.example/bridge has too little article text (133 characters" in error.message
    )
    assert error.exit_code == 3
    assert error.path == "https://news.example/bridge"
    for reason in ("paywall", "consent", "JavaScript", "save the article text to a file"):
        assert reason in (error.hint or "")


@pytest.mark.xfail(strict=True, reason="known limit: a sales box named like nothing we prune")
def test_a_paywall_box_with_an_unknown_name_is_still_caught() -> None:
    html = _html("paywall.en.html").replace('class="subscribe-wall"', 'class="offer-box"')
    with pytest.raises(InputError):
        extract_article(html)


@pytest.mark.parametrize(
    "html", [_html("consent-wall.html"), "", "   \n", "<html><body></body></html>"]
)
def test_no_article_text(html: str) -> None:
    with pytest.raises(InputError) as caught:
        extract_article(html)
    assert "Found no article text in the page" in caught.value.message
    assert "JavaScript" in (caught.value.hint or "")


def test_the_minimum_is_between_teasers_and_the_shortest_articles() -> None:
    shortest = min(len(extract_article(_html(page)).text) for page in ARTICLES)
    assert 133 < MIN_ARTICLE_CHARS < shortest / 2


def test_extraction_never_opens_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("extraction tried to connect")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    article = extract_article(_html("measles-campaign.en.html"), url="http://127.0.0.1:9/a")
    assert article.date == "2026-09-03"


# --- looks_like_html --------------------------------------------------------------------


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.html")))
def test_every_test_page_looks_like_html(page: str) -> None:
    assert looks_like_html(_html(page))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!DOCTYPE html><title>x</title>", True),
        ("\ufeff  <html lang='en'>", True),
        ('<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">', True),
        ("<div class='story'><p>One.</p><p>Two.</p></div>", True),
        ("<article><h1>T</h1><p>Body</p></article>", True),
        ("Prices rose < 5% while wages rose > 3%.", False),
        ("Use the <p> tag to start a paragraph, and </p> to end one.", False),
        ("I <3 this town.\n\nSo do I.", False),
        ("# Heading\n\nSome *markdown* text with a <br> in it.", False),
        ("", False),
    ],
)
def test_looks_like_html(text: str, expected: bool) -> None:
    assert looks_like_html(text) is expected


def test_news_text_is_not_html() -> None:
    for path in sorted((ROOT / "evals" / "articles").glob("*.txt")):
        assert not looks_like_html(path.read_text(encoding="utf-8")), path.name
