"""detect.py: offline source-language identification."""

from __future__ import annotations

from typing import Any

import pytest

from summarizer.clean import clean_article
from summarizer.detect import detect_language


def test_the_seed_article_is_indonesian(seed_article: str) -> None:
    code, probability = detect_language(clean_article(seed_article).text)

    assert code == "id"
    assert 0.5 < probability <= 1.0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The foreign ministers met in Antalya and the talks ended without progress.", "en"),
        ("Les ministres des affaires étrangères se sont rencontrés à Antalya sans progrès.", "fr"),
        ("Die Außenminister trafen sich in Antalya, die Gespräche blieben ohne Fortschritt.", "de"),
        ("Министры иностранных дел встретились в Анталье, переговоры закончились ничем.", "ru"),
        (
            "Los ministros de exteriores se reunieron en Antalya y las conversaciones fracasaron.",
            "es",
        ),
    ],
)
def test_common_languages_are_identified(text: str, code: str) -> None:
    assert detect_language(text)[0] == code


def test_the_code_is_a_plain_str_and_the_probability_a_float() -> None:
    code, probability = detect_language("Hello world, this is an English sentence.")

    assert type(code) is str
    assert type(probability) is float


def test_threads_arriving_together_load_the_identifier_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server's first burst of requests: each thread used to load its own copy."""
    import threading

    from py3langid.langid import LanguageIdentifier

    from summarizer import detect

    loads: list[int] = []
    real = LanguageIdentifier.from_modelpath

    def slow_load(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        threading.Event().wait(0.2)  # long enough for every thread to miss the cache
        return real(*args, **kwargs)

    monkeypatch.setattr(LanguageIdentifier, "from_modelpath", slow_load)
    detect._load_identifier.cache_clear()
    detect._load_restricted.cache_clear()
    barrier = threading.Barrier(8)

    def detect_both() -> None:
        barrier.wait()
        detect.detect_language("Perundingan damai berakhir tanpa kemajuan.")
        detect.detect_among("Peace talks ended without progress.", ("en", "id"))

    threads = [threading.Thread(target=detect_both) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 2  # one identifier, one restricted to the same candidates
    detect._load_identifier.cache_clear()
    detect._load_restricted.cache_clear()
