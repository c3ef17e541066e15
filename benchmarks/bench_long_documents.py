"""Long documents through a fake client with a fixed per-call delay.

For synthetic documents of 1k, 10k, 50k and 200k words: number of calls, wall time and
peak Python memory (tracemalloc) of ``pipeline.summarize`` and ``pipeline.translate``.
Calls and time must grow linearly with size; memory beyond the document itself stays flat.

Run: python benchmarks/bench_long_documents.py [--delay 0.02]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from summarizer import pipeline
from summarizer.llm import ChatRequest, ChatResponse
from summarizer.schema import Usage

SIZES = (1_000, 10_000, 50_000, 200_000)
WINDOW = 8192


class DelayedFake:
    """Word-count tokens, a 8k window, valid answers after a fixed delay."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        time.sleep(self.delay)
        if request.task == "translate":
            count = request.response_schema["properties"]["paragraphs"]["minItems"]  # type: ignore[index]
            text = json.dumps({"paragraphs": ["translated paragraph"] * count})
        else:
            text = json.dumps(
                {
                    "title": "t",
                    "summary": "s.",
                    "key_points": ["k"],
                    **(
                        {"entities": [], "dates": [], "quotes": []}
                        if request.task == "summarize"
                        else {}
                    ),
                }
            )
        return ChatResponse(text=text, usage=Usage(input_tokens=1, output_tokens=1))

    def count_tokens(self, model: str, text: str) -> int:
        return len(text.split())

    def context_window(self, model: str) -> int:
        return WINDOW


def document(words: int) -> str:
    rng = random.Random(words)
    vocabulary = [
        "the",
        "minister",
        "said",
        "talks",
        "in",
        "the",
        "city",
        "of",
        "Antalya",
        "ended",
        "without",
        "progress",
        "on",
        "a",
        "ceasefire",
        "while",
        "aid",
        "reached",
        "civilians",
    ]
    paragraphs, written = [], 0
    while written < words:
        n = min(80, words - written)
        sentence_words = [rng.choice(vocabulary) for _ in range(n)]
        paragraphs.append(" ".join(sentence_words).capitalize() + ".")
        written += n
    return "\n\n".join(paragraphs)


def measure(task: str, words: int, delay: float) -> dict[str, float]:
    text = document(words)
    client = DelayedFake(delay)
    run = pipeline.summarize if task == "summarize" else pipeline.translate
    tracemalloc.start()
    started = time.perf_counter()
    result = run(text, pipeline.Job(client, "openai/bench", target_language="en"))
    wall = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "words": words,
        "calls": client.calls,
        "chunks": result.meta.chunks,
        "wall_s": wall,
        "delay_s": client.calls * delay,
        "peak_mib": peak / 2**20,
        "doc_mib": len(text.encode()) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.02, help="seconds per fake call")
    args = parser.parse_args()
    measure("summarize", 200, 0.0)  # warm-up: language-ID model, templates, imports
    rows = [
        measure(task, words, args.delay) for task in ("summarize", "translate") for words in SIZES
    ]
    print(
        "| task | words | calls | chunks | wall s | of which call delay s | "
        "peak MiB | document MiB | calls per 1k words | wall ms per 1k words |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for task, row in zip([t for t in ("summarize", "translate") for _ in SIZES], rows, strict=True):
        print(
            f"| {task} | {row['words']:,} | {row['calls']} | {row['chunks']} | "
            f"{row['wall_s']:.2f} | {row['delay_s']:.2f} | {row['peak_mib']:.1f} | "
            f"{row['doc_mib']:.2f} | {1000 * row['calls'] / row['words']:.2f} | "
            f"{1e6 * row['wall_s'] / row['words']:.2f} |"
        )


if __name__ == "__main__":
    main()
