"""Every number llmchat reads (flags, the config file, tool tables) is finite and in range,
or the run stops with one line naming the flag or the file and key, exit 2 (issue 20)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from llmchat import paths
from llmchat.config import load_settings
from llmchat.errors import ConfigError
from tests.loopback import LoopbackServer
from tests.test_cli import ask, assert_clean_stderr, cli_env, stream_of

# (option, a value just inside, a value just outside) for each side of each range.
OPTION_BOUNDS = [
    ("temperature", 0.0, -0.01),
    ("temperature", 2.0, 2.01),
    ("top_p", 0.0, -0.01),
    ("top_p", 1.0, 1.01),
    ("top_k", 1, 0),
    ("top_k", 2**31 - 1, 2**31),
    ("max_tokens", 1, 0),
    ("max_tokens", 2**31 - 1, 2**31),
    ("seed", -(2**63), -(2**63) - 1),
    ("seed", 2**63 - 1, 2**63),
    ("thinking_budget", 0, -1),
    ("thinking_budget", 2**31 - 1, 2**31),
]
NOT_FINITE = [math.nan, math.inf, -math.inf]


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("key", "inside", "outside"), OPTION_BOUNDS)
def test_option_flags_inside_the_range_pass_and_outside_fail(key: str, inside: float, outside: float) -> None:
    assert load_settings(None, {}, options={key: inside}).options[key] == inside
    with pytest.raises(ConfigError, match=f"--{key.replace('_', '-')} must be a") as info:
        load_settings(None, {}, options={key: outside})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("key", ["temperature", "top_p"])
@pytest.mark.parametrize("value", NOT_FINITE)
def test_option_flags_must_be_finite(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"--{key.replace('_', '-')} must be a number"):
        load_settings(None, {}, options={key: value})


@pytest.mark.parametrize(("key", "inside", "outside"), OPTION_BOUNDS)
@pytest.mark.parametrize("table", ["[options]\n", '[providers.work]\nbase_url = "http://127.0.0.1:9/v1"\n[providers.work.options]\n'])
def test_config_options_inside_the_range_pass_and_outside_fail(
    tmp_path: Path, table: str, key: str, inside: float, outside: float
) -> None:
    inside_file = write_config(tmp_path / "in.toml", f"{table}{key} = {inside!r}\n")
    assert load_settings(inside_file, {}, provider="work" if "work" in table else None).options[key] == inside
    outside_file = write_config(tmp_path / "out.toml", f"{table}{key} = {outside!r}\n")
    if isinstance(outside, int) and not -(2**63) <= outside < 2**63:
        pytest.skip("TOML integers are 64-bit: the file cannot hold this value")
    with pytest.raises(ConfigError, match=f"{outside_file}.*'{key}' must be a") as info:
        load_settings(outside_file, {}, provider="work" if "work" in table else None)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", ["temperature", "top_p"])
def test_config_options_must_be_finite(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}' must be a number"):
        load_settings(write_config(tmp_path / "c.toml", f"[options]\n{key} = {value}\n"), {})


TIMEOUT_KEYS = ["timeout", "idle_timeout", "connect_timeout", "first_token_timeout", "total_timeout", "retry_after_cap"]


@pytest.mark.parametrize("key", TIMEOUT_KEYS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "86400.5", "1e300", "true", '"10"'])
def test_timeouts_must_be_finite_positive_seconds(tmp_path: Path, key: str, value: str) -> None:
    path = write_config(tmp_path / "c.toml", f"{key} = {value}\n")
    with pytest.raises(ConfigError, match=f"{path}: '{key}' must be a number of seconds") as info:
        load_settings(path, {})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("key", TIMEOUT_KEYS)
@pytest.mark.parametrize("value", ["0.001", "86400", "30"])
def test_timeouts_inside_the_range_are_kept(tmp_path: Path, key: str, value: str) -> None:
    policy = load_settings(write_config(tmp_path / "c.toml", f"{key} = {value}\n"), {}).policy
    attribute = "idle_timeout" if key == "timeout" else key
    assert getattr(policy, attribute) == float(value)


@pytest.mark.parametrize(("value", "ok"), [("-1", False), ("0", True), ("10", True), ("11", False), ("nan", False)])
def test_retries_range(tmp_path: Path, value: str, ok: bool) -> None:
    path = write_config(tmp_path / "c.toml", f"retries = {value}\n")
    if ok:
        assert load_settings(path, {}).policy.retries == int(value)
    else:
        with pytest.raises(ConfigError, match="'retries' must be a whole number"):
            load_settings(path, {})


@pytest.mark.parametrize("key", ["tool_output_chars", "max_tool_rounds"])
@pytest.mark.parametrize(("value", "ok"), [("0", False), ("1", True), ("2147483647", True), ("2147483648", False),
                                           ("-5", False), ("nan", False), ("2.5", False)])
def test_counts_range(tmp_path: Path, key: str, value: str, ok: bool) -> None:
    path = write_config(tmp_path / "c.toml", f"{key} = {value}\n")
    if ok:
        assert getattr(load_settings(path, {}), key) == int(value)
    else:
        with pytest.raises(ConfigError, match=f"'{key}' must be a whole number"):
            load_settings(path, {})


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("command = 5", "'command'"),
        ('command = ["ok", 5]', "'command'"),
        ('command = "x"\ntimeout = nan', "'timeout'"),
        ('command = "x"\ntimeout = inf', "'timeout'"),
        ('command = "x"\ntimeout = 0', "'timeout'"),
        ('command = "x"\ntimeout = -3', "'timeout'"),
        ('command = "x"\ntimeout = 86401', "'timeout'"),
    ],
)
def test_bad_tool_tables_are_config_errors_at_load(tmp_path: Path, spec: str, named: str) -> None:
    path = write_config(tmp_path / "c.toml", f"[tools.mine]\n{spec}\n")
    with pytest.raises(ConfigError, match=f"{path}: tools.mine: {named}") as info:
        load_settings(path, {})
    assert "\n" not in str(info.value)


def test_a_good_tool_table_loads(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", '[tools.mine]\ncommand = "echo"\ntimeout = 86400\n')
    assert "mine" in load_settings(path, {}).tools


# -- end to end: both command-line parsers (the fast path and Typer) -------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--temperature", "nan"), "--temperature"),  # Typer (the fast path takes plain decimals only)
        (("--temperature", "2.5"), "--temperature"),  # the fast path
        (("--temperature=-0.5",), "--temperature"),
        (("--top-p", "inf"), "--top-p"),
        (("--top-p", "1.5"), "--top-p"),
        (("--max-tokens", "0"), "--max-tokens"),
        (("--max-tokens=-1",), "--max-tokens"),
        (("--thinking-budget=-1",), "--thinking-budget"),
        (("--seed", "99999999999999999999"), "--seed"),
    ],
)
def test_bad_number_flags_exit_2_with_one_line_and_send_nothing(
    server: LoopbackServer, args: tuple[str, ...], named: str
) -> None:
    server.handler = lambda request: stream_of("never")
    result = ask(server, *args, "hi")
    assert result.returncode == 2, result.stderr
    assert_clean_stderr(result.stderr)
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and named in lines[0], lines
    assert result.stdout == b""
    assert server.requests == []


@pytest.mark.parametrize(
    ("config", "args", "named"),
    [
        ("connect_timeout = nan\n", (), "'connect_timeout'"),
        ("idle_timeout = nan\n", (), "'idle_timeout'"),
        ("total_timeout = nan\n", (), "'total_timeout'"),
        ("timeout = inf\n", (), "'timeout'"),
        ("[options]\ntemperature = nan\n", (), "'temperature'"),
        ("[tools.bad]\ncommand = 5\n", ("--tools",), "tools.bad: 'command'"),
    ],
)
def test_bad_numbers_in_the_config_exit_2_naming_file_and_key(
    server: LoopbackServer, config: str, args: tuple[str, ...], named: str
) -> None:
    server.handler = lambda request: stream_of("never")
    config_file = paths.config_file()
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(config, encoding="utf-8")
    result = ask(server, *args, "hi", env=cli_env(server))
    assert result.returncode == 2, result.stderr
    assert_clean_stderr(result.stderr)
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and str(config_file) in lines[0] and named in lines[0], lines
    assert server.requests == []
    assert not paths.history_db().exists() or b"hi" not in paths.history_db().read_bytes()


@pytest.mark.parametrize("args", [("history", "-n", "0"), ("history", "-n", "-1"), ("history", "search", "x", "-n", "0")])
def test_history_limits_must_be_positive(args: tuple[str, ...]) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "llmchat", *args], capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert_clean_stderr(result.stderr)
    assert b"--limit" in result.stderr


@pytest.mark.parametrize(
    ("timeout", "ok"),
    [("NaN", False), ("Infinity", False), ("-Infinity", False), ("0", False), ("-1", False),
     ("0.5", True), ("86400", True), ("86400000", True), ("86400001", False), ("1e300", False)],
)
def test_mcp_server_timeouts_are_finite_and_bounded(timeout: str, ok: bool) -> None:
    from llmchat.mcp.config import parse_server

    spec = json.loads(f'{{"command": "server", "timeout": {timeout}}}')
    if ok:
        assert 0 < parse_server("s", spec, {}).timeout <= 86_400
    else:
        with pytest.raises(ConfigError, match="timeout must") as info:
            parse_server("s", spec, {})
        assert "\n" not in str(info.value)
