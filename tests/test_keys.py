"""Keys from the key file and from key commands; never a world-readable file."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from llmchat.config import load_settings
from llmchat.errors import ConfigError
from llmchat.keys import delete_key, read_keys, set_key


def test_set_read_delete_with_owner_only_modes(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "keys.json"
    set_key(path, "groq", "gsk-123\n")
    set_key(path, "openai", "sk-abc")
    assert read_keys(path) == {"groq": "gsk-123", "openai": "sk-abc"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert delete_key(path, "groq") and not delete_key(path, "groq")
    assert read_keys(path) == {"openai": "sk-abc"}


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    set_key(path, "openai", "sk-abc")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_keys(path)


def test_load_settings_uses_env_then_key_file_then_command(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    set_key(keys, "groq", "from-file")
    assert load_settings(None, {"GROQ_API_KEY": "from-env"}, provider="groq", keys_path=keys).provider.api_key == "from-env"
    settings = load_settings(None, {}, provider="groq", keys_path=keys)
    assert settings.provider.api_key == "from-file" and settings.provider.missing_credentials() is None
    assert "from-file" not in repr(settings)

    config = tmp_path / "config.toml"
    command = f"{sys.executable} -c \"print('from-command')\""
    config.write_text(f'[providers.work]\nbase_url = "http://127.0.0.1:9/v1"\napi_key_cmd = """{command}"""\n')
    assert load_settings(config, {}, provider="work", keys_path=keys).provider.api_key == "from-command"


def test_a_failing_key_command_names_its_place_not_its_output(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[providers.work]\nbase_url = "http://127.0.0.1:9/v1"\napi_key_cmd = "echo sk-leak; exit 3"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, {}, provider="work")
    assert "providers.work.api_key_cmd" in str(info.value) and "exit status 3" in str(info.value)
    assert "sk-leak" not in str(info.value)


def test_keys_commands_end_to_end(tmp_path: Path) -> None:
    import subprocess

    def llmchat(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "llmchat", *args], input=stdin, capture_output=True, timeout=120)

    def listed_when_none_stored() -> None:  # stdout (the names) stays empty; stderr says why
        empty = llmchat("keys", "list")
        assert (empty.returncode, empty.stdout) == (0, b"")
        assert empty.stderr.startswith(b"llmchat: no stored keys in ") and b"keys.json" in empty.stderr

    listed_when_none_stored()  # no key file yet
    assert llmchat("keys", "set", "groq", stdin=b"gsk-from-stdin\n").returncode == 0
    assert llmchat("keys", "list").stdout == b"groq\n"
    keys = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat" / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600 and "gsk-from-stdin" in keys.read_text()
    assert llmchat("keys", "rm", "groq").returncode == 0
    assert llmchat("keys", "rm", "groq").returncode == 1
    listed_when_none_stored()  # a key file with no key left
