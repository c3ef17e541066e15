"""Optional model-graded check: a judge model gives an A-E verdict per reference fact.

The rubric follows openai/evals ``modelgraded/fact.yaml`` (D = contradiction) and lives in
``prompts/judge/``. Judge verdicts are recorded next to the deterministic ones; they never
replace them and never decide whether a case passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from summarizer.evaluation.cases import Case
from summarizer.languages import language_name
from summarizer.llm import LLMClient
from summarizer.pipeline import Run, parse_model

Verdict = Literal["A", "B", "C", "D", "E"]
SUPPORTED = frozenset({"A", "B"})
JUDGE_MAX_TOKENS = 200


class JudgeAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    reason: str = Field(default="", max_length=300)


@dataclass
class JudgeVerdict:
    fact_id: str
    verdict: str
    reason: str
    prompt_sha256: str

    @property
    def supported(self) -> bool:
        return self.verdict in SUPPORTED


def judge_facts(
    case: Case,
    output_text: str,
    *,
    model: str,
    client: LLMClient,
    prompts_dir: Path | None = None,
) -> list[JudgeVerdict]:
    """One verdict per reference fact of ``case`` on ``output_text``.

    A fact the judge cannot answer for (invalid JSON after the re-asks) gets the verdict
    ``"?"`` with the error as its reason, so one bad answer does not lose the others.
    """
    from summarizer.errors import SummarizerError

    verdicts: list[JudgeVerdict] = []
    schema = JudgeAnswer.model_json_schema()
    for fact in case.reference_facts:
        run = Run(client=client, model=model, prompts_dir=prompts_dir)
        messages = run.render(
            "judge",
            fact=fact.statement,
            output=output_text,
            output_language_name=language_name(case.output_language),
        )
        try:
            answer = run.ask(
                "judge",
                messages,
                schema=schema,
                max_tokens=JUDGE_MAX_TOKENS,
                parse=parse_model(JudgeAnswer),
            )
            verdicts.append(
                JudgeVerdict(fact.id, answer.verdict, answer.reason, run.meta(1, []).prompt_sha256)
            )
        except SummarizerError as exc:
            verdicts.append(JudgeVerdict(fact.id, "?", exc.message, run.meta(1, []).prompt_sha256))
    return verdicts
