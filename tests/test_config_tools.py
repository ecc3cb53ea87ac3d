"""The config's tool safety settings (issue 20): the [tools] table's own keys and the caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmchat.config import load_settings
from llmchat.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fetch_url_reaches_public_addresses_only_by_default(tmp_path: Path) -> None:
    assert load_settings(None, {}).allow_private_addresses is False
    assert load_settings(write(tmp_path, ""), {}).allow_private_addresses is False


def test_allow_private_addresses_sits_beside_the_command_tools(tmp_path: Path) -> None:
    path = write(tmp_path, '[tools]\nallow_private_addresses = true\n\n[tools.echo]\ncommand = "cat"\n')
    settings = load_settings(path, {})
    assert settings.allow_private_addresses is True
    assert list(settings.tools) == ["echo"]


@pytest.mark.parametrize("value", ['"yes"', "1", "[true]"])
def test_allow_private_addresses_must_be_a_boolean(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[tools]\nallow_private_addresses = {value}\n")
    with pytest.raises(ConfigError, match=r"'tools\.allow_private_addresses' must be true or false") as info:
        load_settings(path, {})
    assert str(path) in str(info.value)


def test_tool_call_caps_default_and_configured(tmp_path: Path) -> None:
    settings = load_settings(None, {})
    assert (settings.max_tool_calls, settings.tool_results_chars) == (32, 100_000)
    settings = load_settings(write(tmp_path, "max_tool_calls = 4\ntool_results_chars = 5000\n"), {})
    assert (settings.max_tool_calls, settings.tool_results_chars) == (4, 5000)


@pytest.mark.parametrize("key", ["max_tool_calls", "tool_results_chars"])
@pytest.mark.parametrize("value", ["0", "-3", '"ten"', "true", "1.5", "nan"])
def test_tool_call_caps_must_be_positive_whole_numbers(tmp_path: Path, key: str, value: str) -> None:
    path = write(tmp_path, f"{key} = {value}\n")
    with pytest.raises(ConfigError, match=f"'{key}' must be a whole number") as info:
        load_settings(path, {})
    assert str(path) in str(info.value)
