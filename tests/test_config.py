"""config.py: defaults < config file < SUMMARIZER_* env vars < CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.config import Settings, config_path, load_settings
from summarizer.errors import ConfigError


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(path))
    return path


def test_defaults_without_any_source() -> None:
    settings = load_settings()

    assert settings == Settings()
    assert settings.model is None
    assert settings.lang == "en"
    assert settings.timeout == 600.0


def test_the_config_file_lives_under_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))

    assert config_path() == tmp_path / "summarizer" / "config.toml"
    (tmp_path / "summarizer").mkdir()
    (tmp_path / "summarizer" / "config.toml").write_text('lang = "fr"\n', encoding="utf-8")
    assert load_settings().lang == "fr"


def test_each_source_overrides_the_one_before(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text(
        'model = "openai/from-file"\nlang = "de"\napi_base = "http://file:1/v1"\ntimeout = 30\n',
        encoding="utf-8",
    )
    from_file = load_settings()
    assert (from_file.model, from_file.lang, from_file.api_base, from_file.timeout) == (
        "openai/from-file",
        "de",
        "http://file:1/v1",
        30.0,
    )

    monkeypatch.setenv("SUMMARIZER_MODEL", "openai/from-env")
    monkeypatch.setenv("SUMMARIZER_TIMEOUT", "45")
    from_env = load_settings()
    assert (from_env.model, from_env.lang, from_env.timeout) == ("openai/from-env", "de", 45.0)

    from_flags = load_settings(model="openai/from-flag", lang=None, timeout=None)
    assert (from_flags.model, from_flags.lang, from_flags.timeout) == (
        "openai/from-flag",
        "de",
        45.0,
    )


def test_an_empty_env_var_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_LANG", "")

    assert load_settings().lang == "en"


def test_a_bad_number_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUMMARIZER_TIMEOUT", "soon")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "SUMMARIZER_TIMEOUT" in caught.value.message
    assert "'soon'" in caught.value.message


def test_a_config_file_that_does_not_parse_is_a_config_error(config_file: Path) -> None:
    config_file.write_text("model = [unclosed\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(config_file) in caught.value.message
    assert caught.value.exit_code == 4


def test_unknown_keys_in_the_config_file_are_refused(config_file: Path) -> None:
    config_file.write_text('modle = "openai/typo"\n', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "modle" in caught.value.message
    assert "model" in (caught.value.hint or "")
