"""`llmchat config path|show|edit`: paths, resolved settings with keys redacted, the editor."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmchat import paths
from llmchat.cli_app import app

SECRET = "sk-test-SECRET-1234567890"


def run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_config_path_prints_the_config_file() -> None:
    result = run("config", "path")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(paths.config_file())


def test_config_show_redacts_the_key_and_shows_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        'provider = "work"\nsystem = "Be brief."\n[options]\ntemperature = 0.5\n'
        '[providers.work]\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "WORK_KEY"\nmodel = "m1"\n'
        'headers = { "X-Token" = "header-secret" }\n'
    )
    monkeypatch.setenv("WORK_KEY", SECRET)
    result = run("config", "show")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert SECRET not in out and "header-secret" not in out
    assert "set (from WORK_KEY)" in out
    assert "http://127.0.0.1:9/v1" in out and "m1" in out and "Be brief." in out
    assert "X-Token=<redacted>" in out

    data = json.loads(run("config", "show", "--json").stdout)
    assert data["provider"] == "work" and data["api_key"] == "set (from WORK_KEY)"
    assert data["options"] == {"temperature": 0.5}
    assert data["config_file_exists"] is True


def test_config_show_follows_the_global_flags() -> None:
    result = run("-p", "ollama", "-m", "qwen", "config", "show", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["provider"] == "ollama" and data["model"] == "qwen" and data["api_key"] == "not set"


def test_config_show_in_a_subprocess_never_prints_the_key(tmp_path: Path) -> None:
    import subprocess

    env = {**os.environ, "OPENAI_API_KEY": SECRET}
    result = subprocess.run([sys.executable, "-m", "llmchat", "config", "show"], capture_output=True, check=False,
                            text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "set (from OPENAI_API_KEY)" in result.stdout


def test_config_edit_creates_the_template_and_runs_the_editor(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    editor = tmp_path / "editor"
    editor.write_text(f"#!{sys.executable}\nimport sys, pathlib\n"
                      "p = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text() + 'model = \"edited\"\\n')\n")
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(editor))
    assert not paths.config_file().exists()
    result = run("config", "edit")
    assert result.exit_code == 0, result.output
    text = paths.config_file().read_text()
    assert text.startswith("# llmchat configuration")
    assert 'model = "edited"' in text


def test_config_edit_reports_an_invalid_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    editor = tmp_path / "editor"
    editor.write_text(f"#!{sys.executable}\nimport sys, pathlib\npathlib.Path(sys.argv[1]).write_text('bogus = 1\\n')\n")
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(editor))
    result = run("config", "edit")
    assert result.exit_code == 2
    assert "bogus" in result.output


def test_config_edit_without_an_editor_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    result = run("config", "edit")
    assert result.exit_code == 2
    assert "$EDITOR" in result.output


def test_provider_help_and_config_template_name_every_builtin_provider() -> None:
    import typing

    from llmchat.cli_app import CONFIG_TEMPLATE, ProviderOpt
    from llmchat.config_profiles import BUILTIN_PROFILES

    help_text = typing.get_args(ProviderOpt)[1].help
    help_names = {name.strip() for name in help_text.split(", or ")[0].split(",")}
    assert help_names == set(BUILTIN_PROFILES)
    template_line = " ".join(line.split("#")[-1] for line in CONFIG_TEMPLATE.splitlines()
                             if "providers.NAME] below" in line or line.startswith("# provider ="))
    for name in BUILTIN_PROFILES:
        assert f" {name}," in template_line, name
