"""Test doubles for the model seam (summarizer.llm.LLMClient)."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from summarizer.llm import ChatRequest, ChatResponse
from summarizer.schema import Usage


def draft(**overrides: Any) -> dict[str, Any]:
    """A valid SummaryDraft as a dict, with ``overrides`` applied."""
    value: dict[str, Any] = {
        "title": "Russia-Ukraine talks in Antalya end without progress",
        "summary": "The foreign ministers of Ukraine and Russia met in Antalya, Turkey, on "
        "10 March 2022. They made no progress towards a ceasefire.",
        "key_points": ["No ceasefire was agreed.", "Kuleba said Ukraine will not surrender."],
        "entities": [
            {
                "name": "Dmytro Kuleba",
                "type": "person",
                "description": "Ukraine's foreign minister",
            },
            {"name": "Sergei Lavrov", "type": "person", "description": "Russia's foreign minister"},
        ],
        "dates": [{"date": "2022-03-10", "event": "Talks in Antalya"}],
        "quotes": [{"speaker": "Dmytro Kuleba", "text": "Ukraine has not surrendered."}],
    }
    value.update(overrides)
    return value


class FakeLLM:
    """Answers from a queue and records every request (like simonw/llm's MockModel).

    Token counts are whitespace-separated words, so tests can reason about chunk sizes.
    When the queue is empty it answers with a valid placeholder for the request's schema
    (a summary draft, or the right number of translated paragraphs) unless ``strict``.
    """

    def __init__(self, *, context_window: int = 4096, strict: bool = False) -> None:
        self.replies: deque[ChatResponse | Exception] = deque()
        self.requests: list[ChatRequest] = []
        self.window = context_window
        self.strict = strict

    def enqueue(self, *replies: str | dict[str, Any] | ChatResponse | Exception) -> FakeLLM:
        for reply in replies:
            if isinstance(reply, dict):
                reply = json.dumps(reply)
            if isinstance(reply, str):
                reply = ChatResponse(text=reply, usage=Usage(input_tokens=10, output_tokens=5))
            self.replies.append(reply)
        return self

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if self.replies:
            reply = self.replies.popleft()
            if isinstance(reply, Exception):
                raise reply
            return reply
        if self.strict:
            raise AssertionError(f"unexpected call: {request.task}")
        if request.task == "translate":
            count = request.response_schema["properties"]["paragraphs"]["minItems"]  # type: ignore[index]
            text = json.dumps({"paragraphs": [f"translated {i}" for i in range(1, count + 1)]})
        else:
            # A summary draft, limited to the fields the schema asks for (combine: prose).
            fields = (request.response_schema or {}).get("properties") or draft()
            text = json.dumps({k: v for k, v in draft().items() if k in fields})
        return ChatResponse(text=text, usage=Usage(input_tokens=10, output_tokens=5))

    def count_tokens(self, model: str, text: str) -> int:
        return len(text.split())

    def context_window(self, model: str) -> int:
        return self.window
