"""Dry runs of long articles with each bundled model: Gemma 3 against SmolLM2 (issue 10).

A dry run loads only the model's tokenizer and counts tokens to plan the chunks; it
generates nothing, so its time should grow with the article and barely depend on the model.
It did not: every token count re-hashed Gemma's 253 MB file (``bundled.py``).

For synthetic English articles of 4k, 30k and 200k words, ``summarize FILE --lang en
--model local/<alias> --dry-run`` runs as a fresh process per run (a user's command), with
the verification record in place (one untimed run first); the first run with no record
(``verified-models.json`` removed, so the Gemma file is hashed once) is reported apart.
Figures: median seconds, seconds per 1k words (flat = linear), and gemma3 / smollm2.

Usage: python benchmarks/bench_dry_run.py [--runs 3] [--sizes 4000,30000,200000] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import describe, machine, script, timed_run, write_section

MODELS = ("smollm2", "gemma3")
SIZES = (4_000, 30_000, 200_000)
TARGET_RATIO = 1.5
RECORD = "verified-models.json"  # summarizer/bundled.py's VERIFIED_FILENAME

# News prose to draw paragraphs from: real sentences, so language detection and sentence
# splitting see English, not word salad.
SENTENCES = [
    "The foreign ministers of both countries met in the coastal city of Antalya on Thursday.",
    "It was the highest-level meeting between the two sides since the war began two weeks ago.",
    "Neither delegation announced any agreement on a ceasefire after ninety minutes of talks.",
    "Officials said the humanitarian corridors out of the besieged port city remained closed.",
    "Aid agencies warned that food, water and medicine were running out for those still there.",
    "The Turkish foreign minister, who hosted the meeting, called it a civil and useful start.",
    "Analysts in the capital said few had expected a breakthrough at this stage of the conflict.",
    "Shelling continued overnight on the outskirts of the city, according to local authorities.",
    "More than two million people have now left the country, the United Nations said on Friday.",
    "Most of them crossed into neighbouring countries to the west, where volunteers met trains.",
    "Prices for wheat and fuel rose sharply again as markets reacted to the lack of progress.",
    "The central bank said it would keep interest rates unchanged until the situation is clearer.",
    "A spokesman for the government said negotiations would continue at a lower level next week.",
    "Journalists were not allowed into the hotel where the delegations held their meeting.",
    "Both ministers spoke to reporters separately afterwards and gave very different accounts.",
    "One said his side was ready to keep talking; the other said demands had not changed at all.",
    "European leaders are due to meet in Versailles to discuss further sanctions and energy.",
    "Several large companies announced this week that they would suspend operations there.",
    "Residents described long queues at petrol stations and pharmacies in the eastern regions.",
    "The mayor appealed for generators, blankets and baby food to be sent to the shelters.",
    "Railway workers have kept most passenger lines running despite damage to several bridges.",
    "Teachers in the western city have turned schools into temporary housing for families.",
    "The International Committee of the Red Cross said it was ready to act as a neutral mediator.",
    "Observers noted that the tone of the talks was calmer than the statements that preceded them.",
]


def article(words: int) -> str:
    """A deterministic multi-paragraph English article of about ``words`` words."""
    rng = random.Random(words)
    paragraphs: list[str] = []
    written = 0
    while written < words:
        paragraph = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(3, 6)))
        paragraphs.append(paragraph)
        written += len(paragraph.split())
    return "Talks in Antalya end without progress\n\n" + "\n\n".join(paragraphs) + "\n"


def dry_run(path: Path, alias: str, env: dict[str, str]) -> float:
    argv = [script("summarize"), str(path), "--lang", "en", "--model", f"local/{alias}"]
    seconds, out, err, code = timed_run([*argv, "--dry-run"], env=env)
    if code != 0 or not out:
        raise SystemExit(f"{alias} dry run of {path.name} failed ({code}): {err[-800:]}")
    return seconds


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed warm runs per model and size")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="words, comma-separated")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        cache = base / "cache"  # the verification record lives here, and nothing else
        env = {**os.environ, "SUMMARIZER_CACHE_DIR": str(cache)}
        paths = {}
        for words in sizes:
            paths[words] = base / f"article-{words}.txt"
            paths[words].write_text(article(words), encoding="utf-8")

        # Cold: no record, so Gemma's file is hashed once (and the OS file cache is warmed).
        cold: dict[str, float] = {}
        for alias in MODELS:
            (cache / RECORD).unlink(missing_ok=True)
            cold[alias] = dry_run(paths[sizes[0]], alias, env)
        if not (cache / RECORD).exists():
            raise SystemExit(f"no {RECORD} after a gemma3 run: is bundled.py's record in place?")
        cold_loads = load()

        samples: dict[tuple[str, int], list[float]] = {}
        loads: dict[int, str] = {}
        for words in sizes:
            for alias in MODELS:  # untimed: page cache, langid model, tokenizer files
                dry_run(paths[words], alias, env)
            for _ in range(args.runs):  # interleaved, so background load hits both alike
                for alias in MODELS:
                    samples.setdefault((alias, words), []).append(dry_run(paths[words], alias, env))
            loads[words] = load()
            print(f"{words:,} words done (load {loads[words]})", file=sys.stderr, flush=True)

    rows = []
    met = True
    for index, words in enumerate(sizes):
        base_median = statistics.median(samples[("smollm2", words)])
        for alias in MODELS:
            median = statistics.median(samples[(alias, words)])
            ratio = median / base_median
            if alias == "gemma3":
                met = met and ratio <= TARGET_RATIO
            # The cost of the words added since the previous size: flat when time is linear
            # in words (the per-word average also carries the fixed start-up).
            added = "-"
            if index:
                before = sizes[index - 1]
                extra = median - statistics.median(samples[(alias, before)])
                added = f"{1000 * extra / (words - before):.3f}"
            rows.append(
                f"| {words:,} | {alias} | {describe(samples[(alias, words)])} "
                f"| {1000 * median / words:.3f} | {added} | {ratio:.2f} | {loads[words]} |"
            )
    verdict = f"Target (gemma3 at most {TARGET_RATIO}x smollm2 at every size): " + (
        "met." if met else "**not met**."
    )
    body = "\n".join(
        [
            "## Dry runs of long articles (`bench_dry_run.py`)",
            "",
            f"`summarize FILE --lang en --model local/<alias> --dry-run`, a fresh process per "
            f"run; median of {args.runs} interleaved runs after one untimed run per model and "
            f"size, with Gemma's verification record in place; {machine()}. Articles are "
            "synthetic English news paragraphs (deterministic).",
            "",
            "| words | model | wall time | s per 1k words | s per 1k words added "
            "| ratio to smollm2 | load 1/5 min after |",
            "|---:|---|---|---:|---:|---:|---|",
            *rows,
            "",
            "s per 1k words added: the time the extra words since the previous size took "
            "(constant when time is linear in words; the plain average also carries the fixed "
            "start-up). Most of a long dry run is llama.cpp tokenizing (cProfile); Gemma's "
            "tokenizer is slower to load and per token than SmolLM2's, hence ratios above 1.",
            "",
            f"First run without a verification record ({sizes[0]:,} words; Gemma's 253 MB "
            f"file is hashed once): smollm2 {cold['smollm2']:.2f} s, gemma3 {cold['gemma3']:.2f} s "
            f"(load {cold_loads}).",
            "",
            verdict,
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_dry_run", body)


if __name__ == "__main__":
    main()
