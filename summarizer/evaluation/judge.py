"""Optional model-graded check: a judge model gives an A-E verdict per reference fact.

The rubric follows openai/evals ``modelgraded/fact.yaml`` (D = contradiction) and lives in
``prompts/judge/``. The judge sees the article, the case's forbidden claims, the fact and
the output. Judge verdicts are recorded next to the deterministic ones and never replace
them; how far to trust them is measured on the labelled outputs (``agreement.py``), and
until a judge agrees with the labels on at least ``TRUSTED_AGREEMENT`` of them its
verdicts stay advisory.

Each verdict is one structured call (``structured.ask``: validated, re-asked with the
``repair`` prompt when it does not fit ``JudgeAnswer``), like every other JSON answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from summarizer.errors import SummarizerError
from summarizer.evaluation.cases import Case, Fact
from summarizer.languages import language_name
from summarizer.llm import LLMClient
from summarizer.prompts import Message, messages_sha256, render
from summarizer.structured import CallRecord, Question, ask

Verdict = Literal["A", "B", "C", "D", "E"]
SUPPORTED = frozenset({"A", "B"})
# A judge whose verdicts agree with the labelled outputs' labels this often may gate.
TRUSTED_AGREEMENT = 0.9
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


@dataclass(frozen=True)
class Judge:
    """A judge model and how to reach it (``Summarizer.client(model)``)."""

    model: str
    client: LLMClient
    prompts_dir: Path | None = None

    def verdicts(
        self, case: Case, output_text: str, article: str | None = None
    ) -> list[JudgeVerdict]:
        """One verdict per reference fact of ``case`` on ``output_text``; see ``judge_facts``."""
        source = case.article_text() if article is None else article
        return [_judge_fact(case, fact, output_text, source, self) for fact in case.reference_facts]


def judge_facts(
    case: Case,
    output_text: str,
    *,
    model: str,
    client: LLMClient,
    prompts_dir: Path | None = None,
) -> list[JudgeVerdict]:
    """One verdict per reference fact of ``case`` on ``output_text``.

    A fact the judge cannot answer for (invalid JSON after the re-asks, a prompt too long
    for its context window, a provider failure) gets the verdict ``"?"`` with the error as
    its reason, so one bad answer does not lose the others.

    Raises:
        TemplateError: the judge or repair templates cannot be rendered.
    """
    return Judge(model, client, prompts_dir).verdicts(case, output_text)


def judged_pass(case: Case, verdicts: list[JudgeVerdict]) -> bool:
    """The judge's verdict on a whole output: every critical fact stated (A or B) and no
    fact contradicted (D). Compared with the labelled outputs' labels for agreement."""
    critical = {f.id for f in case.reference_facts if f.critical}
    # "?" (the judge gave no usable answer) is no verdict either way.
    return all(v.supported or v.verdict == "?" for v in verdicts if v.fact_id in critical) and (
        not any(v.verdict == "D" for v in verdicts)
    )


def _judge_fact(
    case: Case, fact: Fact, output_text: str, article: str, judge: Judge
) -> JudgeVerdict:
    question = Question(
        task="judge",
        model=judge.model,
        messages=render(
            "judge",
            judge.prompts_dir,
            article=article,
            forbidden=[item.statement for item in case.forbidden],
            fact=fact.statement,
            output=output_text,
            output_language_name=language_name(case.output_language),
        ).messages,
        schema=JudgeAnswer.model_json_schema(),
        max_tokens=JUDGE_MAX_TOKENS,
    )
    calls: list[CallRecord] = []

    def repair(problem: str, errors: list[str]) -> list[Message]:
        return render(
            "repair", judge.prompts_dir, roles=("user",), problem=problem, errors=errors
        ).messages

    verdict: str
    try:
        answer = ask(judge.client, question, JudgeAnswer, repair=repair, on_call=calls.append)
        verdict, reason = answer.verdict, answer.reason
    except SummarizerError as exc:
        verdict, reason = "?", exc.message
    return JudgeVerdict(fact.id, verdict, reason, messages_sha256(c.messages for c in calls))
