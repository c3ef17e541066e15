"""clean.py: datelines, read-also lines, paragraphs and whitespace, before any model sees text."""

from __future__ import annotations

import pytest

from summarizer.clean import clean_article, split_paragraphs


def test_seed_article_loses_its_dateline_and_read_also_lines(seed_article: str) -> None:
    article = clean_article(seed_article)

    assert article.paragraphs[0].startswith("Perundingan damai putaran ketiga")
    assert "TRIBUNNEWSSULTRA.COM" not in article.paragraphs[0]
    assert not any(p.startswith("Baca juga") for p in article.paragraphs)
    assert article.removed[0] == "TRIBUNNEWSSULTRA.COM -"
    assert sum(r.startswith("Baca juga:") for r in article.removed) == 3
    # 18 non-empty lines, 3 of them read-also links: 15 paragraphs of story remain.
    assert len(article.paragraphs) == 15
    assert article.text == "\n\n".join(article.paragraphs)
    # The story's own mention of the site (a quotation's attribution) is kept.
    assert any("TribunnewsSultra.com dari Aljazeera" in p for p in article.paragraphs)


@pytest.mark.parametrize(
    ("raw", "dateline"),
    [
        ("TRIBUNNEWSSULTRA.COM - Perundingan berakhir.", "TRIBUNNEWSSULTRA.COM -"),
        ("JAKARTA, KOMPAS.com - Presiden berkata.", "JAKARTA, KOMPAS.com -"),
        ("LONDON (Reuters) - The talks ended.", "LONDON (Reuters) -"),
        ("Kompas.com -- Hujan turun.", "Kompas.com --"),
    ],
)
def test_site_datelines_are_stripped(raw: str, dateline: str) -> None:
    article = clean_article(raw)

    assert article.removed == [dateline]
    assert article.paragraphs == [raw[len(dateline) :].strip()]


@pytest.mark.parametrize(
    "sentence",
    [
        "Mr. Smith - the mayor - said the port reopens.",
        "U.S. officials - who spoke anonymously - confirmed it.",
        "The minister said talks would go on.",
    ],
)
def test_ordinary_first_sentences_are_not_taken_for_datelines(sentence: str) -> None:
    article = clean_article(sentence)

    assert article.paragraphs == [sentence]
    assert article.removed == []


def test_a_dateline_is_only_stripped_from_the_first_paragraph() -> None:
    raw = "The talks ended.\n\nLONDON (Reuters) - a later line that looks like a dateline."

    assert clean_article(raw).paragraphs[1].startswith("LONDON (Reuters) -")


@pytest.mark.parametrize(
    "line",
    [
        "Baca juga: Ukraina Tegaskan Tolak 4 Tuntutan Rusia",
        "BACA JUGA: huruf besar",
        "Read also: Another story",
        "Read more - Another story",
        "Lire aussi : Un autre article",
        "Leia também: Outra notícia",
        "Lesen Sie auch: Ein anderer Artikel",
        "Читайте также: Другая статья",
        "Czytaj także: Inny artykuł",
    ],
)
def test_read_also_lines_are_removed_in_many_languages(line: str) -> None:
    article = clean_article(f"The story begins.\n{line}\nThe story ends.")

    assert article.paragraphs == ["The story begins.", "The story ends."]
    assert article.removed == [line]


@pytest.mark.parametrize(
    "paragraph",
    [
        "Relatedly, the minister said the talks would continue.",
        "Read the full statement on the ministry's site.",
        "Baca juga berita lain besok, kata redaksi.",
    ],
)
def test_sentences_starting_with_a_prefix_word_but_no_separator_are_kept(paragraph: str) -> None:
    assert clean_article(f"Start.\n{paragraph}").paragraphs == ["Start.", paragraph]


def test_whitespace_is_normalised_inside_paragraphs() -> None:
    raw = "  Two\u00a0\u00a0spaces,\ta tab and a zero\u200bwidth space.  \r\n\r\n\r\nNext   one. "

    assert clean_article(raw).paragraphs == [
        "Two spaces, a tab and a zerowidth space.",
        "Next one.",
    ]


def test_unicode_is_normalised_to_nfc() -> None:
    decomposed = "Cafe\u0301 opens."

    assert clean_article(decomposed).paragraphs == ["Caf\u00e9 opens."]


def test_blank_lines_separate_paragraphs_and_hard_wraps_are_joined() -> None:
    raw = "First paragraph,\nhard-wrapped.\n\nSecond paragraph.\n"

    assert split_paragraphs(raw) == ["First paragraph, hard-wrapped.", "Second paragraph."]


def test_without_blank_lines_every_line_is_a_paragraph() -> None:
    assert split_paragraphs("One.\nTwo.\r\nThree.\n") == ["One.", "Two.", "Three."]


def test_lists_keep_their_line_breaks() -> None:
    raw = "Intro.\n\n- first item\n- second item"

    assert clean_article(raw).paragraphs == ["Intro.", "- first item\n- second item"]


def test_an_article_of_only_noise_cleans_to_nothing() -> None:
    article = clean_article("Baca juga: satu\n\nRead also: two\n   \n")

    assert article.text == ""
    assert article.paragraphs == []
    assert len(article.removed) == 2


@pytest.mark.parametrize(
    "variant",
    [
        lambda t: t + "\n\n",
        lambda t: "\n\n" + t,
        lambda t: t.replace("\n", "  \n"),
        lambda t: t.replace("Baca juga", "\nBaca juga"),
    ],
    ids=["trailing-blank-lines", "leading-blank-lines", "trailing-spaces", "blank-before-noise"],
)
def test_stray_blank_lines_do_not_merge_one_line_paragraphs(seed_article, variant) -> None:
    expected = clean_article(seed_article)
    article = clean_article(variant(seed_article))
    assert article.paragraphs == expected.paragraphs
    assert len(article.removed) == 4  # the dateline and three "Baca juga" lines


def test_hard_wrapped_prose_is_unwrapped_but_lists_keep_their_lines() -> None:
    text = "# Title\n\nSome wrapped\nprose here that\ncontinues.\n\n- item one\n- item two"
    assert clean_article(text).paragraphs == [
        "# Title",
        "Some wrapped prose here that continues.",
        "- item one\n- item two",
    ]
