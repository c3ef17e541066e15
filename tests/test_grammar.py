"""grammar.py: our JSON-Schema-to-GBNF converter, checked by llama.cpp's own parser.

Hermetic: no model file. ``LlamaGrammar.from_string`` (what ``local.py`` builds) only stores
the text in llama-cpp-python 0.3.x; llama.cpp parses it when a sampler is made. So the test
builds the grammar the same way and hands its text to ``llama_sampler_init_grammar`` with no
vocabulary, which runs llama.cpp's real parser and returns NULL on any error.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from summarizer.grammar import DEFAULT_MAX_STRING, schema_to_gbnf
from summarizer.schema import (
    ProseDraft,
    SummaryDraft,
    Translation,
    capped_schema,
    translation_schema,
)

llama_cpp = pytest.importorskip("llama_cpp")


def llama_cpp_parses(grammar_text: str) -> bool:
    """True when llama.cpp's grammar parser accepts ``grammar_text`` (root rule ``root``)."""
    grammar = llama_cpp.LlamaGrammar.from_string(grammar_text, verbose=False)
    sampler = llama_cpp.llama_sampler_init_grammar(
        None, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    )
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def test_the_checker_rejects_broken_grammars() -> None:
    # Without this the tests below could not fail.
    assert llama_cpp_parses('root ::= "a" [0-9]{1,3}')
    assert not llama_cpp_parses("root ::= undefined-rule")
    assert not llama_cpp_parses('root ::= "a" [')
    assert not llama_cpp_parses('other ::= "a"')  # no root


SCHEMAS: dict[str, Any] = {
    "summary-draft": SummaryDraft.model_json_schema(),
    "summary-draft-capped": capped_schema(
        SummaryDraft.model_json_schema(), max_length=240, max_items=4
    ),
    "prose-draft": ProseDraft.model_json_schema(),
    "translation-1": translation_schema([120]),
    "translation-15": translation_schema([50 * i for i in range(1, 16)]),
    "translation-output": Translation.model_json_schema(),  # anyOf with null, $defs, $ref
}


@pytest.mark.parametrize("name", SCHEMAS)
def test_llama_cpp_parses_the_grammar_of(name: str) -> None:
    grammar = schema_to_gbnf(SCHEMAS[name])

    assert re.search(r"^root ::= ", grammar, re.MULTILINE)
    assert llama_cpp_parses(grammar), grammar


def test_bounds_are_spelled_as_repetition_not_as_nested_rules() -> None:
    # The reason the module exists: one rule per bounded string, however long.
    grammar = schema_to_gbnf(SummaryDraft.model_json_schema())

    assert "char{1,1000}" in grammar  # summary: maxLength 1000
    assert "char{1,150}" in grammar  # title
    assert len(grammar.splitlines()) < 60


def test_capped_schema_lowers_every_bound() -> None:
    grammar = schema_to_gbnf(
        capped_schema(SummaryDraft.model_json_schema(), max_length=240, max_items=4)
    )
    bounds = [int(high) for high in re.findall(r"char\{\d+,(\d+)\}", grammar)]

    assert bounds and max(bounds) <= 240
    # Lists of at most 4 items: the first item, then at most 3 more.
    assert "{0,3}" in grammar
    assert "{0,7}" not in grammar


def test_translation_grammar_demands_exactly_n_paragraphs() -> None:
    grammar = schema_to_gbnf(translation_schema([10, 20, 30]))

    assert re.search(r'\("," ws \S+\)\{2,2\}', grammar), grammar


def test_enum_and_property_names_are_json_literals() -> None:
    grammar = schema_to_gbnf(SummaryDraft.model_json_schema())

    for entity_type in ("person", "organization", "location", "event", "other"):
        assert json.dumps(json.dumps(entity_type)) in grammar
    for key in ("title", "summary", "key_points", "entities", "dates", "quotes"):
        assert json.dumps(json.dumps(key)) in grammar


def test_unbounded_strings_get_the_default_bound() -> None:
    grammar = schema_to_gbnf({"type": "object", "properties": {"x": {"type": "string"}}})

    assert f"char{{0,{DEFAULT_MAX_STRING}}}" in grammar
    assert llama_cpp_parses(grammar)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}},
        {"type": "object", "properties": {"x": {"not": {"type": "string"}}}},
    ],
)
def test_unsupported_schemas_are_refused_clearly(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        schema_to_gbnf(schema)
