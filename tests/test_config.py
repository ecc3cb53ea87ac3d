"""Settings: defaults < config file < environment < flags (shared/DESIGN.md, "Environment and files")."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmchat.config import load_settings
from llmchat.config_profiles import (
    BUILTIN_PROFILES,
    OPENAI_DEFAULT_BASE_URL,
    OPENAI_DEFAULT_MODEL,
    ProviderSettings,
    ollama_host,
)
from llmchat.errors import ConfigError
from llmchat.providers.policy import StreamPolicy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", [None, "nope.toml"])
def test_defaults(tmp_path: Path, missing: str | None) -> None:
    path = tmp_path / missing if missing else None
    settings = load_settings(path, {})
    p = settings.provider
    assert (p.name, p.kind, p.base_url, p.model) == (
        "openai", "openai", "https://api.openai.com/v1", "gpt-4o-mini")
    assert OPENAI_DEFAULT_BASE_URL == "https://api.openai.com/v1"
    assert OPENAI_DEFAULT_MODEL == "gpt-4o-mini"
    assert p.api_key is None
    assert p.api_key_env == "OPENAI_API_KEY"
    assert settings.system is None
    assert settings.theme == "llmchat-dark"
    assert settings.policy == StreamPolicy()
    assert settings.profiles == ()


def test_openai_key_comes_from_the_environment() -> None:
    settings = load_settings(None, {"OPENAI_API_KEY": "sk-env"})
    assert settings.provider.api_key == "sk-env"


# -- precedence -------------------------------------------------------------------------------

FILE = """
provider = "openai"
model = "file-model"
system = "file system"
theme = "file-theme"
timeout = 30

[profiles.openai]
base_url = "http://file.example/v1/"
"""


def test_config_file_values(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    settings = load_settings(path, {})
    assert settings.provider.name == "openai"
    assert settings.provider.model == "file-model"
    assert settings.provider.base_url == "http://file.example/v1"  # trailing slash dropped
    assert settings.system == "file system"
    assert settings.theme == "file-theme"
    assert settings.policy.idle_timeout == 30
    assert settings.config_path == path
    assert settings.profiles == ("openai",)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "LLMCHAT_MODEL": "env-model",
        "LLMCHAT_SYSTEM": "env system",
        "LLMCHAT_THEME": "env-theme",
        "OPENAI_BASE_URL": "http://env.example/v1",
    }
    settings = load_settings(write(tmp_path, FILE), env)
    assert settings.provider.model == "env-model"
    assert settings.provider.base_url == "http://env.example/v1"
    assert settings.system == "env system"
    assert settings.theme == "env-theme"


def test_environment_provider_overrides_the_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FILE), {"LLMCHAT_PROVIDER": "ollama"})
    assert settings.provider.name == "ollama"


def test_flags_override_the_environment(tmp_path: Path) -> None:
    env = {
        "LLMCHAT_PROVIDER": "ollama",
        "LLMCHAT_MODEL": "env-model",
        "LLMCHAT_SYSTEM": "env system",
        "LLMCHAT_THEME": "env-theme",
    }
    settings = load_settings(
        write(tmp_path, FILE), env, provider="openai", model="flag-model", system="flag system",
        theme="flag-theme",
    )
    assert settings.provider.name == "openai"
    assert settings.provider.model == "flag-model"
    assert settings.system == "flag system"
    assert settings.theme == "flag-theme"


def test_empty_system_flag_overrides_env_and_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FILE), {"LLMCHAT_SYSTEM": "env"}, system="")
    assert settings.system == ""


# -- profiles and keys ------------------------------------------------------------------------

GROQ = """
[profiles.groq]
base_url = "https://api.groq.com/openai/v1"
api_key_env = "GROQ_API_KEY"
model = "llama-3.3-70b-versatile"

[profiles.local]
base_url = "http://127.0.0.1:9999/v1"
"""


def test_profile_uses_its_own_key_never_openai_api_key(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": "sk-openai-secret", "GROQ_API_KEY": "gsk-groq", "OPENAI_BASE_URL": "http://x/v1"}
    p = load_settings(write(tmp_path, GROQ), env, provider="groq").provider
    assert p.name == "groq"
    assert p.kind == "openai"
    assert p.base_url == "https://api.groq.com/openai/v1"  # OPENAI_BASE_URL is for "openai" only
    assert p.model == "llama-3.3-70b-versatile"
    assert p.api_key == "gsk-groq"
    assert p.api_key_env == "GROQ_API_KEY"


def test_profile_without_its_key_does_not_fall_back_to_openai_api_key(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": "sk-openai-secret"}
    p = load_settings(write(tmp_path, GROQ), env, provider="groq").provider
    assert p.api_key is None
    problem = p.missing_credentials()
    assert problem is not None and "GROQ_API_KEY" in problem
    assert "sk-openai-secret" not in problem


def test_profile_without_api_key_env_has_no_key(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": "sk-openai-secret"}
    p = load_settings(write(tmp_path, GROQ), env, provider="local").provider
    assert p.api_key is None
    assert p.model == OPENAI_DEFAULT_MODEL
    assert p.missing_credentials() is None  # a keyless local server is fine


def test_profile_selected_by_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'provider = "groq"\n' + GROQ)
    settings = load_settings(path, {"GROQ_API_KEY": "gsk"})
    assert settings.provider.name == "groq"
    assert set(settings.profiles) == {"groq", "local"}


def test_model_precedence_for_a_profile(tmp_path: Path) -> None:
    path = write(tmp_path, 'model = "top-model"\n' + GROQ)
    assert load_settings(path, {}, provider="groq").provider.model == "llama-3.3-70b-versatile"
    assert load_settings(path, {}, provider="local").provider.model == "top-model"
    assert load_settings(path, {"LLMCHAT_MODEL": "env"}, provider="groq").provider.model == "env"
    assert load_settings(path, {"LLMCHAT_MODEL": "env"}, provider="groq", model="flag").provider.model == "flag"


# -- errors -----------------------------------------------------------------------------------


def raises_config_error(path: Path, **kw: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, **kw)
    message = str(info.value)
    assert str(path) in message
    return message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = raises_config_error(write(tmp_path, 'modle = "x"\n'))
    assert "modle" in message


def test_unknown_profile_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.groq]\nbase_url = "http://h/v1"\napi_key = "sk-in-file"\n')
    message = raises_config_error(path, provider="groq")
    assert "profiles.groq.api_key" in message


def test_bad_toml(tmp_path: Path) -> None:
    message = raises_config_error(write(tmp_path, 'model = "unterminated\n'))
    assert "TOML" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("model = 5\n", "model"),
        ("system = true\n", "system"),
        ("theme = [1]\n", "theme"),
        ("provider = 3\n", "provider"),
        ('timeout = "slow"\n', "timeout"),
        ("timeout = -1\n", "timeout"),
        ("timeout = true\n", "timeout"),
        ('profiles = "groq"\n', "profiles"),
    ],
)
def test_wrong_type(tmp_path: Path, text: str, key: str) -> None:
    message = raises_config_error(write(tmp_path, text))
    assert key in message


def test_wrong_type_in_the_file_is_an_error_even_when_overridden(tmp_path: Path) -> None:
    message = raises_config_error(write(tmp_path, "model = 5\n"), model="flag-model")
    assert "model" in message


@pytest.mark.parametrize(
    ("profile", "key"),
    [
        ('base_url = "http://h/v1"\nmodel = 1\n', "model"),
        ("base_url = 1\n", "base_url"),
        ('base_url = "http://h/v1"\napi_key_env = 2\n', "api_key_env"),
        ('base_url = "http://h/v1"\nheaders = { X-Key = 1 }\n', "headers"),
        ('model = "m"\n', "base_url"),
        ('base_url = "http://h/v1"\nkind = "grpc"\n', "kind"),
    ],
)
def test_bad_profile(tmp_path: Path, profile: str, key: str) -> None:
    message = raises_config_error(write(tmp_path, "[profiles.work]\n" + profile), provider="work")
    assert "work" in message
    assert key in message


def test_unknown_provider(tmp_path: Path) -> None:
    message = raises_config_error(write(tmp_path, GROQ), provider="nosuch")
    assert "nosuch" in message


@pytest.mark.parametrize(
    ("env_url", "expected"),
    [
        (None, "https://api.anthropic.com"),
        ("http://127.0.0.1:9/", "http://127.0.0.1:9"),
        ("http://127.0.0.1:9/v1", "http://127.0.0.1:9"),  # a trailing /v1 is not doubled later
    ],
)
def test_anthropic_builtin(env_url: str | None, expected: str) -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant", "OPENAI_API_KEY": "sk-openai"}
    if env_url:
        env["ANTHROPIC_BASE_URL"] = env_url
    p = load_settings(None, env, provider="anthropic").provider
    assert (p.kind, p.base_url, p.api_key, p.api_key_env) == ("anthropic", expected, "sk-ant", "ANTHROPIC_API_KEY")
    assert p.model == BUILTIN_PROFILES["anthropic"].model


def test_anthropic_without_key_says_which_variable() -> None:
    problem = load_settings(None, {}, provider="anthropic").provider.missing_credentials()
    assert problem is not None and "ANTHROPIC_API_KEY" in problem


@pytest.mark.parametrize("table", ["providers", "profiles"])
def test_providers_and_profiles_tables_are_the_same(tmp_path: Path, table: str) -> None:
    path = write(tmp_path, f'[{table}.local]\nkind = "ollama"\nbase_url = "http://127.0.0.1:9"\nmodel = "qwen3"\n')
    p = load_settings(path, {}, provider="local").provider
    assert (p.kind, p.base_url, p.model, p.api_key_env) == ("ollama", "http://127.0.0.1:9", "qwen3", None)


def test_builtin_hosted_profile_needs_its_own_key() -> None:
    p = load_settings(None, {"OPENAI_API_KEY": "sk-openai"}, provider="groq").provider
    assert (p.kind, p.base_url, p.api_key) == ("openai", "https://api.groq.com/openai/v1", None)
    assert "GROQ_API_KEY" in (p.missing_credentials() or "")
    p = load_settings(None, {"GROQ_API_KEY": "gsk"}, provider="groq").provider
    assert p.api_key == "gsk" and p.missing_credentials() is None


def test_options_merge_file_profile_and_flags(tmp_path: Path) -> None:
    path = write(tmp_path, '[options]\ntemperature = 0.2\nmax_tokens = 100\n\n'
                 '[providers.groq]\noptions = { max_tokens = 200, stop = ["END"] }\n')
    s = load_settings(path, {}, provider="groq", options={"temperature": 0.9, "seed": None})
    assert s.options == {"temperature": 0.9, "max_tokens": 200, "stop": ["END"]}


@pytest.mark.parametrize(
    ("text", "named"),
    [('[options]\ntemprature = 1\n', "temprature"), ('[options]\nmax_tokens = "9"\n', "max_tokens"),
     ('[options]\nstop = [1]\n', "stop"), ('options = 3\n', "options")],
)
def test_bad_options(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(write(tmp_path, text), {})


# -- ollama -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "http://127.0.0.1:11434"),
        ("   ", "http://127.0.0.1:11434"),
        ("localhost", "http://localhost:11434"),
        ("host:1234", "http://host:1234"),
        (":5678", "http://127.0.0.1:5678"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        # As Ollama's own clients: an explicit scheme without a port means that scheme's port.
        ("http://h", "http://h:80"),
        ("https://h", "https://h:443"),
        ("https://h:8443", "https://h:8443"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:9999", "http://127.0.0.1:9999"),
        ("h/", "http://h:11434"),
        ("https://h/ollama/", "https://h:443/ollama"),
    ],
)
def test_ollama_host(value: str, expected: str) -> None:
    assert ollama_host(value) == expected


@pytest.mark.parametrize("value", ["", "localhost", "host:1234", "http://h", "https://h", "0.0.0.0"])
def test_ollama_provider_uses_ollama_host(value: str) -> None:
    p = load_settings(None, {"OLLAMA_HOST": value, "OPENAI_API_KEY": "sk-x"}, provider="ollama").provider
    assert p.name == "ollama"
    assert p.kind == "ollama"
    assert p.base_url == ollama_host(value)
    assert p.model == BUILTIN_PROFILES["ollama"].model
    assert p.api_key is None  # never the OpenAI key
    assert p.missing_credentials() is None


def test_ollama_without_ollama_host() -> None:
    p = load_settings(None, {}, provider="ollama").provider
    assert p.base_url == "http://127.0.0.1:11434"


# -- credentials and secrecy ------------------------------------------------------------------


def test_missing_credentials() -> None:
    def openai(key: str | None, requires_key: bool) -> ProviderSettings:
        return ProviderSettings(name="openai", kind="openai", base_url=OPENAI_DEFAULT_BASE_URL, model="m",
                                api_key=key, api_key_env="OPENAI_API_KEY", requires_key=requires_key)

    assert openai("sk-x", True).missing_credentials() is None
    assert openai(None, False).missing_credentials() is None
    assert load_settings(None, {"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}).provider.missing_credentials() is None
    problem = openai(None, True).missing_credentials()
    assert problem is not None
    assert "OPENAI_API_KEY" in problem
    assert "OPENAI_BASE_URL" in problem


def test_missing_credentials_through_load_settings() -> None:
    assert load_settings(None, {}).provider.missing_credentials() is not None
    assert load_settings(None, {"OPENAI_API_KEY": "k"}).provider.missing_credentials() is None
    assert load_settings(None, {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}).provider.missing_credentials() is None


def test_repr_never_shows_the_key(tmp_path: Path) -> None:
    secret, groq_secret = "sk-very-secret-0123456789", "gsk-also-secret-987"
    env = {"OPENAI_API_KEY": secret, "GROQ_API_KEY": groq_secret}
    for settings in (
        load_settings(None, env),
        load_settings(write(tmp_path, GROQ), env, provider="groq"),
    ):
        assert settings.provider.api_key in (secret, groq_secret)
        for text in (repr(settings), str(settings), repr(settings.provider), str(settings.provider)):
            assert secret not in text
            assert groq_secret not in text
