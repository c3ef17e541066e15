"""dates.py: the many ways articles and models write dates, as ISO 8601."""

from __future__ import annotations

import pytest

from summarizer.dates import find_dates, to_iso


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Kamis (10/3/2022)", "2022-03-10"),  # the seed article's own spelling
        ("Kamis, 24 Februari 2022", "2022-02-24"),
        ("10 Maret 2022", "2022-03-10"),
        ("10 March 2022", "2022-03-10"),
        ("Thursday, 10 March 2022", "2022-03-10"),
        ("March 10, 2022", "2022-03-10"),
        ("Mar. 10, 2022", "2022-03-10"),
        ("2022-03-10", "2022-03-10"),
        ("2022-3-1", "2022-03-01"),
        ("10.3.2022", "2022-03-10"),
        ("10 de marzo de 2022", "2022-03-10"),
        ("10 mars 2022", "2022-03-10"),
        ("10. März 2022", "2022-03-10"),
        ("10 Mart 2022", "2022-03-10"),
        ("10 марта 2022", "2022-03-10"),
        ("  10 March 2022  ", "2022-03-10"),
    ],
)
def test_full_dates_become_iso(text: str, iso: str) -> None:
    assert to_iso(text) == iso


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("March 2022", "2022-03"),
        ("Maret 2022", "2022-03"),
        ("2022-03", "2022-03"),
        ("2022", "2022"),
    ],
)
def test_partial_dates_keep_only_what_the_article_gives(text: str, iso: str) -> None:
    assert to_iso(text) == iso


@pytest.mark.parametrize(
    "text",
    [
        "last Thursday",
        "31/2/2022",  # no such day: left as written rather than guessed
        "10/3/2022 and 11/3/2022",  # two dates are not one date
        "in the 1990s",
    ],
)
def test_what_is_not_one_date_is_returned_unchanged(text: str) -> None:
    assert to_iso(text) == text


def test_day_first_is_the_default_and_month_first_reads_us_style() -> None:
    assert to_iso("3/10/2022") == "2022-10-03"
    assert to_iso("3/10/2022", month_first=True) == "2022-03-10"
    # Spelled-out months are unambiguous either way.
    assert to_iso("10 March 2022", month_first=True) == "2022-03-10"


def test_find_dates_lists_every_date_in_order_of_appearance(seed_article: str) -> None:
    assert find_dates(seed_article) == ["2022-03-10", "2022-02-24"]
    assert find_dates("On 11/3/2022, after the talks of 10 March 2022.") == [
        "2022-03-11",
        "2022-03-10",
    ]


def test_find_dates_does_not_count_one_date_twice() -> None:
    assert find_dates("2022-03-10") == ["2022-03-10"]
    assert find_dates("Thursday, March 10, 2022") == ["2022-03-10"]
