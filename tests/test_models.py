"""models.py: one model string names every model, local or remote."""

from __future__ import annotations

import pytest

from summarizer.errors import ConfigError
from summarizer.models import DEFAULT_LOCAL_MODEL, LOCAL_PREFIX, parse_model


def test_no_model_means_the_bundled_default() -> None:
    for value in (None, "", "   "):
        ref = parse_model(value)
        assert ref.name == LOCAL_PREFIX + DEFAULT_LOCAL_MODEL
        assert ref.local_name == DEFAULT_LOCAL_MODEL
        assert ref.is_local and ref.is_bundled


@pytest.mark.parametrize(
    ("value", "name", "local_name", "bundled"),
    [
        ("smollm2", "local/smollm2", "smollm2", True),
        ("gemma3", "local/gemma3", "gemma3", True),
        ("local/gemma3", "local/gemma3", "gemma3", True),
        ("/models/qwen.gguf", "local//models/qwen.gguf", "/models/qwen.gguf", False),
        ("Qwen.GGUF", "local/Qwen.GGUF", "Qwen.GGUF", False),
        ("local/models/qwen.gguf", "local/models/qwen.gguf", "models/qwen.gguf", False),
    ],
)
def test_local_models_by_alias_or_gguf_path(
    value: str, name: str, local_name: str, bundled: bool
) -> None:
    ref = parse_model(value)

    assert (ref.name, ref.local_name, ref.is_local, ref.is_bundled) == (
        name,
        local_name,
        True,
        bundled,
    )


@pytest.mark.parametrize(
    "value",
    [
        "openai/gpt-4o-mini",
        "anthropic/claude-3-5-haiku-latest",
        "gemini/gemini-1.5-flash",
        "ollama/qwen2.5:7b",
        "openai/my-served-model",
    ],
)
def test_remote_model_strings_pass_through_unchanged(value: str) -> None:
    ref = parse_model(f"  {value} ")

    assert ref.name == value
    assert not ref.is_local and not ref.is_bundled


@pytest.mark.parametrize("value", ["local/", "gpt 4o", "openai/gpt-4o mini"])
def test_strings_that_cannot_name_a_model_are_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_model(value)

    assert caught.value.exit_code == 4
    assert caught.value.hint
