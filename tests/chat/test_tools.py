"""Tools: the registry's error handling, the built-ins' confinement and limits, command tools
(JSON on stdin, exit status, timeout and cancellation kill the processes), config tables and
entry points."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmchat.chat.builtin_tools import (
    builtin_tools,
    current_time_tool,
    default_registry,
    fetch_url_tool,
    html_to_text,
    list_directory_tool,
    read_file_tool,
)
from llmchat.chat.tools import (
    CommandTool,
    Tool,
    ToolError,
    ToolRegistry,
    parse_arguments,
    tools_from_config,
    tools_from_entry_points,
    truncate,
)
from llmchat.errors import ConfigError
from llmchat.chat.netguard import AddressGuard
from tests.loopback import LoopbackServer, Reply, Request

PY = sys.executable


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


async def wait_for_file(path: Path, timeout: float = 30.0) -> str:
    for _ in range(int(timeout / 0.01)):
        if path.exists() and path.read_text().strip():
            return path.read_text()
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} was never written")


async def wait_gone(pids: list[int], timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if not any(alive(pid) for pid in pids):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still running: {[p for p in pids if alive(p)]}")


def echo_tool(**kwargs: Any) -> Tool:
    async def run(arguments: dict[str, Any]) -> str:
        return json.dumps(arguments)

    return Tool("echo", "Echoes its arguments.", handler=run, read_only=True, **kwargs)


# --- Tool and ToolRegistry ---------------------------------------------------------------


def test_definition_is_chat_completions_shaped() -> None:
    tool = Tool("weather", "The weather.", {"type": "object", "properties": {"city": {"type": "string"}}})
    assert tool.definition() == {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "The weather.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    assert ToolRegistry([tool]).definitions() == [tool.definition()]


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "dot.ted", "ünï"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid tool name"):
        Tool(name, "x")


def test_registry_lookup_select_and_duplicates() -> None:
    registry = ToolRegistry([echo_tool(), Tool("write", "w")])
    assert registry.get("echo") is not None and registry.get("nope") is None
    assert "echo" in registry and len(registry) == 2 and registry.names() == ["echo", "write"]
    assert registry.select(["write"]).names() == ["write"]
    assert registry.read_only().names() == ["echo"]
    with pytest.raises(KeyError, match="known: echo, write"):
        registry.select(["nope"])
    with pytest.raises(ValueError, match="already registered"):
        registry.add(Tool("echo", "again"))
    merged, problems = ToolRegistry.merge([Tool("a", "1", source="config")], [Tool("a", "2"), Tool("b", "3")])
    assert merged.names() == ["a", "b"] and merged.get("a").description == "1"  # type: ignore[union-attr]
    assert problems == ["tool 'a' from builtin ignored: config has one by that name"]


async def test_unknown_tool_and_bad_arguments_are_error_results_not_exceptions() -> None:
    registry = ToolRegistry([echo_tool()])
    unknown = await registry.call("nope", "{}")
    assert unknown.status == "error" and "no tool named 'nope'" in unknown.text and "echo" in unknown.text
    for bad in ('{"a": ', "[1, 2]", "not json"):
        output = await registry.call("echo", bad)
        assert output.is_error and output.text.startswith("Error: echo:"), output
    ok = await registry.call("echo", '{"a": 1}')
    assert (ok.status, ok.text, ok.truncated) == ("ok", '{"a": 1}', False)
    assert (await registry.call("echo", "")).text == "{}"


def test_parse_arguments() -> None:
    assert parse_arguments(' {"x": [1]} ') == {"x": [1]}
    assert parse_arguments("  ") == {}
    with pytest.raises(ToolError, match="not valid JSON"):
        parse_arguments('{"x": 1')
    with pytest.raises(ToolError, match="JSON object"):
        parse_arguments('"text"')


async def test_output_is_truncated_with_a_note() -> None:
    async def big(arguments: dict[str, Any]) -> str:
        return "x" * 1000

    registry = ToolRegistry([Tool("big", "b", handler=big)], max_output_chars=100)
    output = await registry.call("big", "{}")
    assert output.truncated and output.text.startswith("x" * 100 + "\n\n[output truncated")
    assert "first 100 of 1000 characters" in output.text
    assert truncate("short", 10) == ("short", False)


async def test_timeouts_crashes_sync_handlers_and_json_results() -> None:
    async def slow(arguments: dict[str, Any]) -> str:
        await asyncio.sleep(10)
        return "late"

    def crash(arguments: dict[str, Any]) -> str:
        raise KeyError("boom")

    def sync(arguments: dict[str, Any]) -> dict[str, Any]:
        return {"sum": arguments["a"] + arguments["b"]}

    async def own_timeout(arguments: dict[str, Any]) -> str:
        raise TimeoutError("upstream")

    registry = ToolRegistry([
        Tool("slow", "s", handler=slow, timeout=0.05),
        Tool("crash", "c", handler=crash),
        Tool("sync", "s", handler=sync),
        Tool("own", "o", handler=own_timeout),
    ])
    timed_out = await registry.call("slow", "{}")
    assert timed_out.is_error and "timed out after 0.05 seconds" in timed_out.text
    crashed = await registry.call("crash", "{}")
    assert crashed.is_error and "KeyError" in crashed.text and "boom" in crashed.text
    assert (await registry.call("sync", '{"a": 1, "b": 2}')).text == '{"sum": 3}'
    assert "TimeoutError: upstream" in (await registry.call("own", "{}")).text


# --- current_time ------------------------------------------------------------------------


async def test_current_time() -> None:
    def clock(zone: Any) -> datetime:
        moment = datetime(2025, 3, 4, 12, 30, 0, tzinfo=UTC)
        return moment.astimezone(zone) if zone else moment

    tool = current_time_tool(clock)
    assert tool.read_only
    assert await tool.run({}) == "2025-03-04T12:30:00+00:00 (Tuesday, UTC)"
    assert await tool.run({"timezone": "Europe/Paris"}) == "2025-03-04T13:30:00+01:00 (Tuesday, CET)"
    with pytest.raises(ToolError, match="unknown time zone"):
        await tool.run({"timezone": "Mars/Olympus"})
    assert "T" in await current_time_tool().run({})


# --- read_file / list_directory ----------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ with files, a subdirectory and symlinks in and out; secret.txt outside it."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_text("héllo\nworld\n", encoding="utf-8")
    (root / "sub" / "inner.txt").write_text("inner", encoding="utf-8")
    (root / "bin.dat").write_bytes(b"\x00\x01\x02binary")
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (root / "outside_dir").symlink_to(tmp_path)
    (root / "inside_link.txt").symlink_to(root / "sub" / "inner.txt")
    return root


async def test_read_file_reads_text_under_the_root(tree: Path) -> None:
    tool = read_file_tool(tree)
    assert tool.read_only
    assert await tool.run({"path": "hello.txt"}) == "héllo\nworld\n"
    assert await tool.run({"path": "sub/inner.txt"}) == "inner"
    assert await tool.run({"path": "sub/../hello.txt"}) == "héllo\nworld\n"
    assert await tool.run({"path": "inside_link.txt"}) == "inner"
    assert await tool.run({"path": str(tree / "hello.txt")}) == "héllo\nworld\n"


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "sub/../../secret.txt", "escape.txt", "outside_dir/secret.txt", "/etc/passwd"],
)
async def test_read_file_refuses_paths_outside_the_root(tree: Path, path: str) -> None:
    with pytest.raises(ToolError, match="outside the working directory"):
        await read_file_tool(tree).run({"path": path})


async def test_read_file_refuses_binary_non_utf8_dirs_fifos_and_missing_files(tree: Path) -> None:
    tool = read_file_tool(tree)
    with pytest.raises(ToolError, match="binary"):
        await tool.run({"path": "bin.dat"})
    with pytest.raises(ToolError, match="not UTF-8"):
        await tool.run({"path": "latin1.txt"})
    with pytest.raises(ToolError, match="not a regular file"):
        await tool.run({"path": "sub"})
    os.mkfifo(tree / "pipe")
    with pytest.raises(ToolError, match="not a regular file"):
        await asyncio.wait_for(tool.run({"path": "pipe"}), 30)  # a hang guard: a FIFO must not block
    with pytest.raises(ToolError, match="does not exist"):
        await tool.run({"path": "missing.txt"})
    with pytest.raises(ToolError, match="'path'"):
        await tool.run({})
    registry = ToolRegistry([tool])
    output = await registry.call("read_file", '{"path": "../secret.txt"}')
    assert output.is_error and "top secret" not in output.text


async def test_read_file_size_limit_cuts_on_a_character_boundary(tree: Path) -> None:
    (tree / "big.txt").write_text("é" * 100, encoding="utf-8")  # 200 bytes
    text = await read_file_tool(tree, max_bytes=51).run({"path": "big.txt"})
    body, note = text.split("\n\n", 1)
    assert body == "é" * 25
    assert note == "[file truncated: the first 51 of 200 bytes are shown]"


async def test_list_directory(tree: Path) -> None:
    tool = list_directory_tool(tree)
    listing = await tool.run({})
    lines = listing.splitlines()
    assert lines[0] == "./ (7 entries)"
    assert "sub/" in lines and "escape.txt@" in lines and "outside_dir@" in lines
    assert "hello.txt  (13 bytes)" in lines
    assert (await tool.run({"path": "sub"})).splitlines() == ["sub/ (1 entries)", "inner.txt  (5 bytes)"]
    for path in ("..", "outside_dir", "sub/../.."):
        with pytest.raises(ToolError, match="outside the working directory"):
            await tool.run({"path": path})
    with pytest.raises(ToolError, match="not a directory"):
        await tool.run({"path": "hello.txt"})
    few = await list_directory_tool(tree, max_entries=2).run({})
    assert few.splitlines()[-1] == "[listing truncated: 2 of 7 entries are shown]"


# --- fetch_url ----------------------------------------------------------------------------


async def test_fetch_url_reads_text_with_a_size_limit(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/big":
            return Reply(parts=[b"a" * 1000] * 50, headers={"content-type": "text/plain"})
        if request.path == "/page":
            html = b"<html><head><title>T</title><style>p{}</style></head><body><h1>Hi</h1>" \
                   b"<script>evil()</script><p>Some &amp; text</p></body></html>"
            return Reply(parts=[html], headers={"content-type": "text/html; charset=utf-8"})
        if request.path == "/latin":
            return Reply(parts=["café".encode("latin-1")], headers={"content-type": "text/plain; charset=latin-1"})
        if request.path == "/image":
            return Reply(parts=[b"\x89PNG"], headers={"content-type": "image/png"})
        return Reply(status=404, parts=[b"nope"], headers={"content-type": "text/plain"})

    server.handler = handler
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient() as client:
        tool = fetch_url_tool(client, max_bytes=4096, guard=AddressGuard(allow_private=True))
        assert tool.read_only
        big = await tool.run({"url": f"{base}/big"})
        assert big.startswith(f"URL: {base}/big\nStatus: 200\nContent-Type: text/plain\n\n")
        assert big.split("\n\n")[1] == "a" * 4096
        assert big.endswith("[response truncated: only the first 4096 bytes were read]")
        page = await tool.run({"url": f"{base}/page"})
        assert page.split("\n\n", 1)[1] == "T\nHi\nSome & text"
        assert (await tool.run({"url": f"{base}/latin"})).endswith("café")
        with pytest.raises(ToolError, match="not text"):
            await tool.run({"url": f"{base}/image"})
        with pytest.raises(ToolError, match="HTTP 404"):
            await tool.run({"url": f"{base}/missing"})
        for url in ("file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)"):
            with pytest.raises(ToolError, match="only http and https"):
                await tool.run({"url": url})
        with pytest.raises(ToolError, match="could not fetch"):
            await tool.run({"url": "http://127.0.0.1:1/"})


def test_html_to_text() -> None:
    assert html_to_text("<p>a<br>b</p><ul><li>x</li><li>y  z</li></ul>") == "a\nb\nx\ny z"


def test_builtin_tools_are_all_read_only(tmp_path: Path) -> None:
    tools = builtin_tools(tmp_path)
    assert [t.name for t in tools] == ["current_time", "read_file", "list_directory"]
    with_client = builtin_tools(tmp_path, httpx.AsyncClient())
    assert [t.name for t in with_client][-1] == "fetch_url"
    assert all(t.read_only for t in with_client)


# --- command tools ------------------------------------------------------------------------


def command(code: str) -> list[str]:
    return [PY, "-c", code]


async def test_command_tool_gets_json_on_stdin_and_returns_stdout() -> None:
    tool = CommandTool(
        "weather", "w", command=command(
            "import json, sys; args = json.load(sys.stdin); print('sunny in ' + args['city'])"
        ),
    )
    assert await tool.run({"city": "Zürich"}) == "sunny in Zürich\n"
    shell = CommandTool("shell", "s", command=f"{PY} -c \"import sys; print(sys.stdin.read().upper())\"")
    assert await shell.run({"a": "b"}) == '{"A": "B"}\n'


async def test_command_tool_non_zero_exit_is_an_error_result() -> None:
    tool = CommandTool("fail", "f", command=command("import sys; print('out'); sys.exit('bad city')"))
    with pytest.raises(ToolError, match="exited with status 1: bad city"):
        await tool.run({})
    output = await ToolRegistry([tool]).call("fail", "{}")
    assert output.is_error and "bad city" in output.text
    missing = CommandTool("missing", "m", command=["/nonexistent/program"])
    assert "could not start" in (await ToolRegistry([missing]).call("missing", "{}")).text


async def test_command_tool_output_cap_stops_the_command() -> None:
    tool = CommandTool(
        "flood", "f", max_output_bytes=1000,
        command=command("import sys\nwhile True: sys.stdout.write('y' * 4096)"),
    )
    text = await asyncio.wait_for(tool.run({}), 60)  # a hang guard (a loaded machine starts Python slowly)
    assert text.startswith("y" * 1000 + "\n\n[output truncated")


SLEEPER = (
    "import os, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "open(sys.argv[1], 'w').write(f'{os.getpid()} {child.pid}')\n"
    "time.sleep(60)\n"
)


async def test_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    tool = CommandTool("slow", "s", command=[PY, "-c", SLEEPER, str(pid_file)], timeout=1.0)
    output = await ToolRegistry([tool]).call("slow", "{}")
    assert output.is_error and "timed out after 1 seconds" in output.text
    pids = [int(p) for p in (await wait_for_file(pid_file)).split()]
    await wait_gone(pids)


async def test_cancellation_kills_the_command_and_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pids"
    monkeypatch.setenv("SLEEPER", SLEEPER)
    tool = CommandTool("slow", "s", command=f"{PY} -c \"$SLEEPER\" {pid_file}", timeout=120, env=("SLEEPER",))
    task = asyncio.create_task(ToolRegistry([tool]).call("slow", "{}"))
    pids = [int(p) for p in (await wait_for_file(pid_file)).split()]
    assert all(alive(pid) for pid in pids)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_gone(pids)


# --- config tables ------------------------------------------------------------------------


def test_tools_from_config() -> None:
    (tool,) = tools_from_config({
        "weather": {
            "description": "The weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "command": "weather-cli --json",
            "read_only": True,
            "timeout": 5,
        }
    })
    assert isinstance(tool, CommandTool)
    assert (tool.name, tool.command, tool.read_only, tool.timeout, tool.source) == (
        "weather", "weather-cli --json", True, 5.0, "config")
    assert tool.definition()["function"]["parameters"]["required"] == ["city"]
    (default,) = tools_from_config({"x": {"command": ["a", "b"]}})
    assert (default.read_only, default.timeout, default.command) == (False, 30.0, ("a", "b"))
    assert default.parameters == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "'command'"),
        ({"command": ""}, "'command'"),
        ({"command": ["a", 1]}, "'command'"),
        ({"command": "x", "timeout": 0}, "'timeout'"),
        ({"command": "x", "timeout": True}, "'timeout'"),
        ({"command": "x", "read_only": "yes"}, "'read_only'"),
        ({"command": "x", "parameters": {"type": "string"}}, "'parameters'"),
        ({"command": "x", "description": 3}, "'description'"),
        ({"command": "x", "shell": True}, "unknown key 'shell'"),
        ("not a table", "must be a table"),
    ],
)
def test_tools_from_config_errors_name_the_key(spec: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        tools_from_config({"weather": spec}, where="config.toml")
    assert str(info.value).startswith("config.toml: tools.weather")


def test_tools_from_config_bad_name() -> None:
    with pytest.raises(ConfigError, match="invalid tool name"):
        tools_from_config({"bad name": {"command": "x"}})


# --- entry points -------------------------------------------------------------------------

PLUGIN_TOOL = Tool("plugin_one", "From a package.", read_only=True)


def plugin_tools() -> list[Tool]:
    return [Tool("plugin_two", "2"), Tool("plugin_three", "3")]


def plugin_not_tools() -> list[object]:
    return ["nope"]


def plugin_raises() -> Tool:
    raise RuntimeError("no API key")


def entry_point(name: str, attribute: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name, f"tests.chat.test_tools:{attribute}", "llmchat.tools")


def test_tools_from_entry_points_loads_tools_and_reports_failures() -> None:
    tools, problems = tools_from_entry_points([
        entry_point("one", "PLUGIN_TOOL"),
        entry_point("many", "plugin_tools"),
        entry_point("wrong", "plugin_not_tools"),
        entry_point("raises", "plugin_raises"),
        importlib.metadata.EntryPoint("gone", "no_such_module:x", "llmchat.tools"),
    ])
    assert [t.name for t in tools] == ["plugin_one", "plugin_two", "plugin_three"]
    assert [t.source for t in tools] == ["plugin:one", "plugin:many", "plugin:many"]
    assert len(problems) == 3
    assert "'wrong'" in problems[0] and "not a llmchat Tool" in problems[0]
    assert "'raises'" in problems[1] and "RuntimeError: no API key" in problems[1]
    assert "'gone'" in problems[2] and "ModuleNotFoundError" in problems[2]


def test_default_registry_reads_installed_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    groups: list[str] = []

    def fake_entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        groups.append(group)
        return [entry_point("one", "PLUGIN_TOOL"), entry_point("raises", "plugin_raises"),
                importlib.metadata.EntryPoint("clash", "tests.chat.test_tools:clash", "llmchat.tools")]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    registry, problems = default_registry(
        tmp_path, config={"read_file": {"command": "cat"}, "weather": {"command": "w"}}
    )
    assert groups == ["llmchat.tools"]
    assert registry.names() == [
        "read_file", "weather", "current_time", "list_directory", "plugin_one"]
    assert isinstance(registry.get("read_file"), CommandTool)  # the config's replaces the built-in
    assert any("RuntimeError: no API key" in p for p in problems)
    assert "tool 'read_file' from builtin ignored: config has one by that name" in problems
    assert "tool 'current_time' from plugin:clash ignored: builtin has one by that name" in problems
    registry, problems = default_registry(tmp_path, plugins=False)
    assert "plugin_one" not in registry and problems == []


clash = Tool("current_time", "a plugin's clock")
