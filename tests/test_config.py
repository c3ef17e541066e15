"""config.py: defaults < config file < SUMMARIZER_* env vars < CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from summarizer.config import Settings, config_path, load_settings
from summarizer.errors import ConfigError, UsageError


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


# Per field: (TOML value, env value, override, then the value each of those three yields).
FIELDS = [
    ("model", '"openai/f"', "openai/e", "openai/o", "openai/f", "openai/e", "openai/o"),
    ("lang", '"de"', "fr", "tr", "de", "fr", "tr"),
    ("api_base", '"http://f/v1"', "http://e/v1", "http://o/v1", "http://f/v1", "http://e/v1",
     "http://o/v1"),
    ("timeout", "30", "45.5", 60, 30.0, 45.5, 60.0),
    ("retries", "0", "3", 5, 0, 3, 5),
    ("fallbacks", '["openai/a", "ollama/b"]', "openai/c", ["openai/d"], ["openai/a", "ollama/b"],
     ["openai/c"], ["openai/d"]),
    ("context_window", "4096", "16384", 32768, 4096, 16384, 32768),
    ("prompts_dir", '"/f/prompts"', "/e/prompts", Path("/o/prompts"), Path("/f/prompts"),
     Path("/e/prompts"), Path("/o/prompts")),
    ("cache", "false", "true", False, False, True, False),
    ("max_input_bytes", "1000", "2000", 3000, 1000, 2000, 3000),
    ("check_repairs", "2", "0", 1, 2, 0, 1),
    ("strict", "true", "false", True, True, False, True),
]  # fmt: skip


def test_the_table_covers_every_setting() -> None:
    assert sorted(row[0] for row in FIELDS) == sorted(Settings.model_fields)


@pytest.mark.parametrize(
    ("name", "toml", "env", "override", "from_file", "from_env", "from_override"),
    FIELDS,
    ids=[row[0] for row in FIELDS],
)
def test_each_setting_comes_from_file_then_env_then_override(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    toml: str,
    env: str,
    override: object,
    from_file: object,
    from_env: object,
    from_override: object,
) -> None:
    monkeypatch.delenv("SUMMARIZER_" + name.upper(), raising=False)  # conftest sets some
    config_file.write_text("", encoding="utf-8")
    assert getattr(load_settings(), name) == Settings.model_fields[name].get_default(
        call_default_factory=True
    )

    config_file.write_text(f"{name} = {toml}\n", encoding="utf-8")
    assert getattr(load_settings(), name) == from_file

    monkeypatch.setenv("SUMMARIZER_" + name.upper(), env)
    assert getattr(load_settings(), name) == from_env

    assert getattr(load_settings(**{name: override}), name) == from_override
    assert getattr(load_settings(**{name: None}), name) == from_env


def test_fallbacks_from_the_environment_are_comma_separated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUMMARIZER_FALLBACKS", " openai/a , ollama/b:7b,,")

    assert load_settings().fallbacks == ["openai/a", "ollama/b:7b"]


def test_fallbacks_in_the_config_file_are_a_toml_array(config_file: Path) -> None:
    config_file.write_text('fallbacks = ["openai/a", "ollama/b"]\n', encoding="utf-8")

    assert load_settings().fallbacks == ["openai/a", "ollama/b"]


def test_fallbacks_that_are_not_strings_name_the_file(config_file: Path) -> None:
    config_file.write_text('fallbacks = ["openai/a", 3]\n', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(config_file) in caught.value.message
    assert "fallbacks" in caught.value.message


def test_a_bad_value_in_the_config_file_is_a_config_error_naming_the_file(
    config_file: Path,
) -> None:
    config_file.write_text("timeout = -3\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert caught.value.exit_code == 4
    assert caught.value.message == (
        f"timeout in the config file {config_file} must be a positive number of seconds, not -3."
    )
    assert "timeout = 120" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('retries = "x"', ["retries", "0 or more", "'x'"]),
        ("retries = -1", ["retries", "0 or more", "-1"]),
        ("context_window = 0", ["context_window", "positive"]),
        ("max_input_bytes = 0", ["max_input_bytes", "positive"]),
        ('cache = "maybe"', ["cache", "true or false"]),
        ("lang = 3", ["lang", "language"]),
    ],
)
def test_bad_values_in_the_config_file_say_what_is_expected(
    config_file: Path, toml: str, words: list[str]
) -> None:
    config_file.write_text(toml + "\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(config_file) in caught.value.message
    for word in words:
        assert word in caught.value.message


def test_a_bad_value_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUMMARIZER_TIMEOUT", "-3")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert caught.value.exit_code == 4
    assert caught.value.message == (
        "SUMMARIZER_TIMEOUT must be a positive number of seconds, not '-3'."
    )


def test_a_good_env_value_hides_a_bad_one_in_the_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text("timeout = -3\n", encoding="utf-8")
    monkeypatch.setenv("SUMMARIZER_TIMEOUT", "30")

    assert load_settings().timeout == 30.0


def test_a_bad_env_value_is_blamed_on_the_env_even_with_a_config_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text("retries = 1\n", encoding="utf-8")
    monkeypatch.setenv("SUMMARIZER_RETRIES", "many")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "SUMMARIZER_RETRIES" in caught.value.message
    assert str(config_file) not in caught.value.message


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timeout": -3}, "--timeout must be a positive number of seconds, not -3."),
        ({"timeout": -3.0}, "--timeout must be a positive number of seconds, not -3."),
        ({"timeout": 0.0}, "--timeout must be a positive number of seconds, not 0."),
        ({"retries": -1}, "--retries must be 0 or more, not -1."),
        ({"context_window": 0}, "--context-window must be a positive number of tokens, not 0."),
    ],
)
def test_a_bad_override_is_a_usage_error_naming_the_flag(
    config_file: Path, overrides: dict[str, object], message: str
) -> None:
    config_file.write_text("timeout = 30\nretries = 1\n", encoding="utf-8")

    with pytest.raises(UsageError) as caught:
        load_settings(**overrides)

    assert caught.value.exit_code == 2
    assert caught.value.message == message


def test_an_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="modle"):
        load_settings(modle=None)


def test_a_missing_file_named_by_summarizer_config_is_a_config_error(config_file: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert caught.value.exit_code == 4
    assert caught.value.message == (
        f"The config file {config_file} named by SUMMARIZER_CONFIG does not exist."
    )
    assert "unset" in (caught.value.hint or "")


def test_a_directory_named_by_summarizer_config_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(tmp_path))

    with pytest.raises(ConfigError, match="is not a file"):
        load_settings()


def test_a_missing_default_config_file_is_no_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nowhere"))

    assert load_settings() == Settings()


def test_without_xdg_config_home_the_file_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".config" / "summarizer").mkdir(parents=True)
    (tmp_path / ".config" / "summarizer" / "config.toml").write_text("retries = 7\n")

    assert config_path() == tmp_path / ".config" / "summarizer" / "config.toml"
    assert load_settings().retries == 7


def test_a_config_file_that_cannot_be_read_is_a_config_error(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text('lang = "de"\n', encoding="utf-8")

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert caught.value.message == (
        f"The config file {config_file} cannot be read: Permission denied."
    )


def test_a_config_file_that_is_not_utf8_is_a_config_error(config_file: Path) -> None:
    config_file.write_bytes(b'lang = "\xff"\n')

    with pytest.raises(ConfigError, match="does not parse"):
        load_settings()


def test_unknown_keys_are_all_listed_with_every_known_key(config_file: Path) -> None:
    config_file.write_text('modle = "x"\ntimeuot = 3\nlang = "de"\n', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert caught.value.exit_code == 4
    assert (
        caught.value.message == f"The config file {config_file} has unknown keys: modle, timeuot."
    )
    for name in Settings.model_fields:
        assert name in (caught.value.hint or "")


def test_settings_are_frozen() -> None:
    settings = load_settings()

    with pytest.raises(ValidationError):
        settings.timeout = 1  # type: ignore[misc]


def test_the_prompts_dir_expands_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SUMMARIZER_PROMPTS_DIR", "~/prompts")

    assert load_settings().prompts_dir == tmp_path / "prompts"


def test_other_summarizer_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", "/somewhere")
    monkeypatch.setenv("SUMMARIZER_NOT_A_SETTING", "x")

    assert load_settings() == Settings()


def test_the_language_is_checked_where_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from summarizer.errors import UnknownLanguageError

    assert load_settings(lang="French").lang == "fr"
    with pytest.raises(UnknownLanguageError) as flag:
        load_settings(lang="zz")
    assert flag.value.exit_code == 2
    monkeypatch.setenv("SUMMARIZER_LANG", "klingon")
    with pytest.raises(ConfigError, match="in SUMMARIZER_LANG") as variable:
        load_settings()
    assert variable.value.exit_code == 4
    monkeypatch.delenv("SUMMARIZER_LANG")
    config = tmp_path / "config.toml"
    config.write_text('lang = "xx"\n')
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(config))
    with pytest.raises(ConfigError, match="in the config file") as in_file:
        load_settings()
    assert in_file.value.exit_code == 4
