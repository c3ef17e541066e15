"""Date candidates: which extractor should list "every date the article states, as ISO"
(the enum of dates a model may choose from): the project's own
``summarizer.evaluation.normalize.date_mentions`` or ``dateparser.search.search_dates``.

Scored against ``evals/date-gold.yaml``, the calendar dates of the suite's 21 articles,
labelled by hand. Only full dates (day, month, year) are candidates: the gold's month-only
and year-only mentions are there to be *missed*, so a day an extractor makes of "March
2020" or "tahun 1978" counts as a false candidate. Dates are compared per article as sets
of ISO strings (what the enum would hold), so a date found twice counts once.

For each extractor and settings variant: gold dates found (recall), extracted dates not in
the gold (false candidates, and precision), gold dates written without a year that came out
with the right year, and time per article.

* ``date_mentions`` gives full dates as ``readings`` (both readings of an ambiguous short
  date such as "10/03/22": both go to the enum) and a date without a year as ``month_day``
  only. This bench resolves the latter itself (``resolve_yearless``): with the year of the
  article's full dates when exactly one year appears among them; a further variant falls
  back to the publication year from the case file.
* ``dateparser`` runs with ``languages=[the article's language]``; the variants add
  ``RELATIVE_BASE`` (the publication date where the case file gives one, else dateparser's
  default: now), ``PREFER_DATES_FROM``, ``STRICT_PARSING`` and ``REQUIRE_PARTS``.

A false candidate is "misread" when its text overlaps one of the gold spellings (a month or
year mention turned into a day, a wrong year, a wrong reading of a short date), otherwise it
comes from text that states no date at all: bare numbers ("1,4", "00 WIB"), words only
("sa", "jueves", "yesterday") or both ("cinq ans", "24 jam").

    pip install dateparser   # not a dependency: only this comparison uses it
    python3 -m benchmarks.bench_date_candidates
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from benchmarks._report import ROOT, machine, write_section
from summarizer.evaluation.normalize import date_mentions

GOLD = ROOT / "evals" / "date-gold.yaml"
ARTICLES = ROOT / "evals" / "articles"
SHOWN = 40  # false candidates listed per extractor in RESULTS.md


@dataclass
class Article:
    name: str
    language: str
    published: date | None
    text: str
    days: dict[str, list[str]]  # gold full dates -> their spellings in the article
    yearless: set[str]
    spans: list[tuple[int, int]]  # where any gold spelling (day, month, year) occurs


@dataclass
class Candidate:
    iso: str
    text: str
    start: int  # -1: not located


@dataclass
class Result:
    name: str
    runs: dict[str, list[Candidate]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # article -> median seconds


def load_articles() -> list[Article]:
    gold = yaml.safe_load(GOLD.read_text("utf-8"))["articles"]
    articles = []
    for name, entry in sorted(gold.items()):
        text = (ARTICLES / name).read_text("utf-8")
        days: dict[str, list[str]] = {}
        yearless, spans = set(), []
        for item in entry["dates"]:
            for spelling in item["text"]:
                spans += [(m.start(), m.end()) for m in re.finditer(re.escape(spelling), text)]
            if item.get("kind", "day") == "day":
                days[item["date"]] = item["text"]
                if item.get("yearless"):
                    yearless.add(item["date"])
        published = date.fromisoformat(entry["published"]) if entry["published"] else None
        articles.append(Article(name, entry["language"], published, text, days, yearless, spans))
    return articles


# -- date_mentions ----------------------------------------------------------------------------


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def resolve_yearless(
    text: str, mentions: list[Any], fallback_year: int | None = None
) -> list[Candidate]:
    """Full dates as ``date_mentions`` reads them, plus each date without a year given the
    year of the article's full dates when exactly one year appears among them, else
    ``fallback_year`` (None: left out)."""
    found = [Candidate(iso, text[m.start : m.end], m.start) for m in mentions for iso in m.readings]
    years = {c.iso[:4] for c in found}
    year = int(next(iter(years))) if len(years) == 1 else fallback_year
    for m in mentions:
        if not m.readings and m.month_day and year:
            iso = _iso(year, *m.month_day)
            if iso:
                found.append(Candidate(iso, text[m.start : m.end] or "(range start)", m.start))
    return found


def date_mentions_variants() -> dict[str, Callable[[Article], list[Candidate]]]:
    def readings_only(article: Article) -> list[Candidate]:
        text = article.text
        return [
            Candidate(iso, text[m.start : m.end], m.start)
            for m in date_mentions(text)
            for iso in m.readings
        ]

    def one_year(article: Article) -> list[Candidate]:
        return resolve_yearless(article.text, date_mentions(article.text))

    def with_published(article: Article) -> list[Candidate]:
        year = article.published.year if article.published else None
        return resolve_yearless(article.text, date_mentions(article.text), year)

    return {
        "date_mentions, full dates only": readings_only,
        "date_mentions + year-less dates take the article's one year": one_year,
        "date_mentions + that, else the publication year": with_published,
    }


# -- dateparser -------------------------------------------------------------------------------


def dateparser_variants() -> dict[str, Callable[[Article], list[Candidate]]]:
    try:
        from dateparser.search import search_dates
    except ImportError:
        return {}

    def variant(**extra: Any) -> Callable[[Article], list[Candidate]]:
        relative = extra.pop("relative", False)

        def run(article: Article) -> list[Candidate]:
            settings = dict(extra)
            if relative and article.published:
                settings["RELATIVE_BASE"] = datetime.combine(article.published, datetime.min.time())
            hits = search_dates(article.text, languages=[article.language], settings=settings)
            found, position = [], 0
            for piece, when in hits or []:
                start = article.text.find(piece, position)
                if start >= 0:
                    position = start + len(piece)
                found.append(Candidate(when.date().isoformat(), piece, start))
            return found

        return run

    day_month = {"REQUIRE_PARTS": ["day", "month"]}
    return {
        "dateparser, defaults": variant(),
        "dateparser, base=published, PREFER past": variant(relative=True, PREFER_DATES_FROM="past"),
        "dateparser, base=published": variant(relative=True),
        "dateparser, base=published, STRICT_PARSING": variant(relative=True, STRICT_PARSING=True),
        "dateparser, base=published, REQUIRE_PARTS day+month": variant(relative=True, **day_month),
        "dateparser, base=published, PREFER past, REQUIRE_PARTS day+month": variant(
            relative=True, PREFER_DATES_FROM="past", **day_month
        ),
        "dateparser, base=published, REQUIRE_PARTS day+month, DATE_ORDER DMY": variant(
            relative=True, DATE_ORDER="DMY", **day_month
        ),
    }


# -- measuring --------------------------------------------------------------------------------


def measure(
    name: str, extract: Callable[[Article], list[Candidate]], articles: list[Article], runs: int
) -> Result:
    result = Result(name)
    samples: dict[str, list[float]] = {a.name: [] for a in articles}
    for _ in range(runs):
        for article in articles:
            started = time.perf_counter()
            found = extract(article)
            samples[article.name].append(time.perf_counter() - started)
            result.runs[article.name] = found
    result.seconds = {k: statistics.median(v) for k, v in samples.items()}
    return result


def kind_of(candidate: Candidate, article: Article) -> str:
    end = candidate.start + len(candidate.text)
    if candidate.start >= 0 and any(s < end and candidate.start < e for s, e in article.spans):
        return "misread"
    letters = any(ch.isalpha() for ch in candidate.text)
    digits = any(ch.isdigit() for ch in candidate.text)
    return "mixed" if letters and digits else "words" if letters else "numbers"


@dataclass
class Score:
    found: int
    gold: int
    yearless_found: int
    yearless: int
    false: list[tuple[str, Candidate, str]]  # (article, candidate, kind)
    misses: list[tuple[str, str, str]]  # (article, iso, gold spelling)

    @property
    def recall(self) -> float:
        return self.found / self.gold

    @property
    def precision(self) -> float:
        return self.found / (self.found + len(self.false)) if self.found + len(self.false) else 0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(result: Result, articles: list[Article]) -> Score:
    found = yearless_found = 0
    false: list[tuple[str, Candidate, str]] = []
    misses: list[tuple[str, str, str]] = []
    for article in articles:
        candidates = result.runs[article.name]
        isos = {c.iso for c in candidates}
        found += len(isos & set(article.days))
        yearless_found += len(isos & article.yearless)
        for iso, spellings in article.days.items():
            if iso not in isos:
                misses.append((article.name, iso, " / ".join(spellings)))
        seen: set[str] = set()
        for c in candidates:
            if c.iso not in article.days and c.iso not in seen:
                seen.add(c.iso)
                false.append((article.name, c, kind_of(c, article)))
    gold = sum(len(a.days) for a in articles)
    yearless = sum(len(a.yearless) for a in articles)
    return Score(found, gold, yearless_found, yearless, false, misses)


def row(result: Result, s: Score) -> str:
    kinds = {k: sum(1 for *_, kind in s.false if kind == k) for k in KINDS}
    times = list(result.seconds.values())
    slowest = max(result.seconds, key=lambda k: result.seconds[k])
    where = slowest.split(".")[0]
    return (
        f"| {result.name} | {s.found}/{s.gold} ({s.recall:.0%}) "
        f"| {s.yearless_found}/{s.yearless} | {len(s.false)} "
        f"| {' / '.join(str(kinds[k]) for k in KINDS)} | {s.precision:.0%} | {s.f1:.2f} "
        f"| {statistics.mean(times) * 1000:.1f} | {max(times) * 1000:.0f} ({where}) |"
    )


KINDS = ("misread", "numbers", "words", "mixed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    articles = load_articles()
    cold: dict[str, float] = {}
    # First call in the process (imports done, data and patterns not yet loaded), untimed
    # by the runs below.
    started = time.perf_counter()
    date_mentions(articles[0].text)
    cold["date_mentions first call"] = time.perf_counter() - started
    started = time.perf_counter()
    parsers = dateparser_variants()
    if parsers:
        cold["dateparser import"] = time.perf_counter() - started
        started = time.perf_counter()
        next(iter(parsers.values()))(articles[0])
        cold["dateparser first call"] = time.perf_counter() - started

    groups = {"date_mentions": date_mentions_variants(), "dateparser": parsers}
    scored: dict[str, list[tuple[Result, Score]]] = {}
    for group, variants in groups.items():
        for name, extract in variants.items():
            result = measure(name, extract, articles, args.runs)
            scored.setdefault(group, []).append((result, score(result, articles)))

    header = [
        "| extractor, settings | gold dates found | year-less found | false candidates "
        "| misread / numbers / words / mixed | precision | F1 | ms per article (mean) "
        "| slowest article, ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines = [row(r, s) for pairs in scored.values() for r, s in pairs]
    details = ["", "Gold dates missed (article: ISO, as the article writes it):", ""]
    for pairs in scored.values():
        for r, s in pairs:
            missed = "; ".join(f"{a.split('.')[0]} {iso} ({text})" for a, iso, text in s.misses)
            details.append(f"- {r.name}: {missed or 'none'}")
    for group, pairs in scored.items():
        best_result, best = max(pairs, key=lambda p: (p[1].f1, p[1].recall))
        details += [
            "",
            f"False candidates of **{best_result.name}** (best {group} variant by F1), "
            f"{len(best.false)} (article: ISO from text [kind]):",
            "",
            *[f"- {a}: {c.iso} from {c.text!r} [{kind}]" for a, c, kind in best.false[:SHOWN]],
        ]
        if len(best.false) > SHOWN:
            details.append(f"- ... and {len(best.false) - SHOWN} more")
    gold_days = sum(len(a.days) for a in articles)
    gold_yearless = sum(len(a.yearless) for a in articles)
    try:
        from importlib.metadata import version

        dp_version = version("dateparser")
    except Exception:
        dp_version = "not installed"
    body = [
        "## Date candidates: `date_mentions` against dateparser (`bench_date_candidates.py`)",
        "",
        f"Machine: {machine()}. dateparser {dp_version}.",
        "",
        f"Gold: `evals/date-gold.yaml`, {len(articles)} articles, {gold_days} full dates "
        f"({gold_yearless} written without a year), labelled by hand. A candidate is a full "
        "ISO date; per article, dates are compared as sets. Year-less dates from "
        "`date_mentions` are resolved by this bench (`resolve_yearless`: the one year of the "
        "article's full dates, or in the last variant the publication year). dateparser's "
        "`RELATIVE_BASE` is the publication date where the case file gives one (10 of 21), "
        "else now. Time: median of "
        f"{args.runs} runs per article; once per process: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in cold.items())
        + ".",
        "",
        *header,
        *lines,
        *details,
        "",
        "Measured 2026-12-02: `date_mentions` found every gold date with no false candidate",
        "once its year-less dates take the article's one year, else the publication year;",
        "the best dateparser settings found 35 of 39 with 54 false candidates (durations such",
        "as '120 dias' and 'four weeks', relative words, 'mañana' meaning morning, '2,3',",
        "'3-1') and took about 14 times as long. Caveat: `date_mentions` was developed on",
        "these same articles, so its figures are in-sample; dateparser's were not tuned here.",
        "",
        "Reproduce: `python3 -m pip install dateparser && "
        "python3 -m benchmarks.bench_date_candidates`.",
    ]
    text = "\n".join(body)
    if not args.no_write:
        write_section("bench_date_candidates", text)
    print(text)


if __name__ == "__main__":
    main()
