"""The built-in tools rule by rule: what each one is (read-only, its timeout, its schema), the
clock's time zones, read_file's binary and UTF-8 rules at the size limit, list_directory's
entry kinds and order, the protected and secret paths, and how builtin_tools and
default_registry pass their settings on (README "Tools", "Security")."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from llmchat.chat.builtin_tools import (
    builtin_tools,
    current_time_tool,
    default_registry,
    list_directory_tool,
    read_file_tool,
)
from llmchat.chat.tools import ToolError
from llmchat.errors import ConfigError
from tests.loopback import LoopbackServer, Reply


def test_what_each_built_in_is(tmp_path: Path) -> None:
    tools = {t.name: t for t in builtin_tools(tmp_path, httpx.AsyncClient(trust_env=False))}
    assert list(tools) == ["current_time", "read_file", "list_directory", "fetch_url"]
    assert {name: (t.read_only, t.timeout, t.source) for name, t in tools.items()} == {
        "current_time": (True, 5, "builtin"), "read_file": (True, 10, "builtin"),
        "list_directory": (True, 10, "builtin"), "fetch_url": (True, 25.0, "builtin")}
    assert tools["read_file"].parameters["required"] == ["path"]
    assert "required" not in tools["list_directory"].parameters  # the path defaults to "."
    assert "files larger than 262144 bytes are cut" in tools["read_file"].description
    assert tools["current_time"].sensitive is None and tools["fetch_url"].sensitive is None
    assert tools["read_file"].sensitive is not None and tools["list_directory"].sensitive is not None
    for tool in tools.values():
        assert tool.approval_reason({"path": "notes.txt", "url": "https://example.com/"}) is None


# --- current_time ---------------------------------------------------------------------------


def fixed_clock(asked: list[Any]) -> Any:
    def clock(zone: Any) -> datetime:
        asked.append(zone)
        moment = datetime(2025, 6, 1, 23, 30, 5, tzinfo=UTC)
        return moment.astimezone(zone) if zone else moment.astimezone(timezone(timedelta(hours=-4), "EDT"))

    return clock


@pytest.mark.parametrize(("arguments", "zone", "expected"), [
    ({}, None, "2025-06-01T19:30:05-04:00 (Sunday, EDT)"),
    ({"timezone": ""}, None, "2025-06-01T19:30:05-04:00 (Sunday, EDT)"),
    ({"timezone": None}, None, "2025-06-01T19:30:05-04:00 (Sunday, EDT)"),
    ({"timezone": "Asia/Tokyo"}, "Asia/Tokyo", "2025-06-02T08:30:05+09:00 (Monday, JST)"),
    ({"timezone": "UTC"}, "UTC", "2025-06-01T23:30:05+00:00 (Sunday, UTC)"),
])
async def test_the_clock_in_a_time_zone(arguments: dict[str, Any], zone: str | None, expected: str) -> None:
    asked: list[Any] = []
    assert await current_time_tool(fixed_clock(asked)).run(arguments) == expected
    assert asked == [None if zone is None else ZoneInfo(zone)]


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "/abs", 5, "Europe/"])
async def test_unknown_time_zones_are_one_clear_error(name: Any) -> None:
    asked: list[Any] = []
    with pytest.raises(ToolError) as info:
        await current_time_tool(fixed_clock(asked)).run({"timezone": name})
    assert str(info.value) == f"unknown time zone {name!r}; use an IANA name such as Europe/Paris"
    assert asked == []


async def test_the_real_clock() -> None:
    utc = await current_time_tool().run({"timezone": "UTC"})
    assert utc.endswith(", UTC)") and "+00:00 (" in utc
    local = await current_time_tool().run({})
    moment = datetime.fromisoformat(local.split(" ", 1)[0])
    assert moment.utcoffset() is not None and moment.microsecond == 0


# --- read_file --------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "result"), [
    (b"x" * 10 + b"\0", "x" * 10 + "\n\n[file truncated: the first 10 of 11 bytes are shown]"),  # past the cap
    (b"x" * 9 + b"\0", None),  # the last byte read
    (b"\0" + b"x" * 20, None),
])
async def test_a_nul_byte_makes_a_binary_file_only_within_what_is_read(
    tmp_path: Path, content: bytes, result: str | None
) -> None:
    (tmp_path / "f").write_bytes(content)
    tool = read_file_tool(tmp_path, max_bytes=10)
    if result is None:
        with pytest.raises(ToolError) as info:
            await tool.run({"path": "f"})
        assert str(info.value) == "'f' is a binary file; only text files can be read"
    else:
        assert await tool.run({"path": "f"}) == result


async def test_invalid_utf8_is_refused_also_in_a_cut_file(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"ab\xffcd" + b"x" * 20)
    (tmp_path / "end.txt").write_bytes(b"abc\xc3")  # a character cut by the end of the file itself
    for name in ("bad.txt", "end.txt"):
        with pytest.raises(ToolError) as info:
            await read_file_tool(tmp_path, max_bytes=10).run({"path": name})
        assert str(info.value) == f"'{name}' is not UTF-8 text; only text files can be read"
    (tmp_path / "empty.txt").write_bytes(b"")
    assert await read_file_tool(tmp_path).run({"path": "empty.txt"}) == ""


@pytest.mark.parametrize("arguments", [{}, {"path": ""}, {"path": 3}, {"path": None}, {"path": ["a"]}])
async def test_the_path_must_be_a_non_empty_string(tmp_path: Path, arguments: dict[str, Any]) -> None:
    with pytest.raises(ToolError) as info:
        await read_file_tool(tmp_path).run(arguments)
    assert str(info.value) == "'path' must be a non-empty string"


async def test_paths_that_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    tool = read_file_tool(tmp_path)
    for path in ("loop", "x" * 300):
        with pytest.raises(ToolError, match=r"cannot be opened|does not exist"):
            await tool.run({"path": path})
    with pytest.raises(ToolError) as info:
        await tool.run({"path": "loop"})
    assert str(info.value).startswith("'loop' cannot be opened: ")
    with pytest.raises(ToolError) as info:
        await tool.run({"path": "missing.txt"})
    assert str(info.value) == "'missing.txt' does not exist"
    with pytest.raises(ToolError) as info:
        await tool.run({"path": "/"})
    assert str(info.value) == "'/' is outside the working directory; only files under it can be read"


async def test_the_working_directory_itself_and_paths_given_in_a_protected_list(tmp_path: Path) -> None:
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "k.txt").write_text("key")
    (tmp_path / "open.txt").write_text("open")
    reader = read_file_tool(tmp_path, protected=[tmp_path / "private"])
    lister = list_directory_tool(tmp_path, protected=[tmp_path / "private"])
    assert await reader.run({"path": "open.txt"}) == "open"
    for tool, path in ((reader, "private/k.txt"), (lister, "private"), (lister, "private/..//private")):
        with pytest.raises(ToolError) as info:
            await tool.run({"path": path})
        assert str(info.value) == (f"{path!r} is in llmchat's own files ({tmp_path / 'private'}: keys, history, "
                                   "logs); the file tools never read them")
    assert (await lister.run({})).splitlines()[0] == "./ (2 entries)"
    with pytest.raises(ToolError, match="is not a regular file"):
        await reader.run({"path": "."})


async def test_a_secret_location_asks_by_the_path_as_written_or_resolved(tmp_path: Path) -> None:
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("[default]")
    (tmp_path / "plain").symlink_to(tmp_path / ".aws" / "credentials")
    (tmp_path / "id_rsa").symlink_to(tmp_path / ".aws")  # the name written looks secret, the target too
    reader, lister = read_file_tool(tmp_path), list_directory_tool(tmp_path)
    assert reader.approval_reason({"path": ".aws/credentials"}) == "AWS credentials (.aws)"
    assert reader.approval_reason({"path": "plain"}) == "AWS credentials (.aws)"
    assert reader.approval_reason({"path": "id_rsa/../notes"}) is None  # normalized: "notes"
    assert lister.approval_reason({"path": ".aws"}) == "AWS credentials (.aws)"
    assert lister.approval_reason({}) is None and lister.approval_reason({"path": ""}) is None
    assert reader.approval_reason({"path": "new.pem"}) == "a key or certificate (new.pem)"  # need not exist


# --- list_directory ----------------------------------------------------------------------------


async def test_each_kind_of_entry_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b_dir").mkdir()
    (tmp_path / "a_file.txt").write_bytes(b"12345")
    (tmp_path / "c_link").symlink_to(tmp_path / "a_file.txt")
    (tmp_path / "d_dirlink").symlink_to(tmp_path / "b_dir")
    os.mkfifo(tmp_path / "e_fifo")
    (tmp_path / "B_upper").write_bytes(b"")
    listing = await list_directory_tool(tmp_path).run({"path": "."})
    assert listing.splitlines() == [
        "./ (6 entries)", "B_upper  (0 bytes)", "a_file.txt  (5 bytes)", "b_dir/", "c_link@", "d_dirlink@", "e_fifo"]


async def test_the_listing_names_the_directory_relative_to_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    tool = list_directory_tool(tmp_path)
    assert (await tool.run({"path": "a/b"})).splitlines() == ["a/b/ (0 entries)"]
    assert (await tool.run({"path": "link"})).splitlines() == ["a/ (1 entries)", "b/"]
    assert (await tool.run({"path": str(tmp_path / "a")})).splitlines()[0] == "a/ (1 entries)"
    with pytest.raises(ToolError) as info:
        await tool.run({"path": "link/missing"})
    assert str(info.value) == "'link/missing' does not exist"


@pytest.mark.parametrize(("count", "cap"), [(0, 1), (1, 1), (2, 1), (5, 5), (6, 5)])
async def test_the_entry_cap_on_both_sides(tmp_path: Path, count: int, cap: int) -> None:
    (tmp_path / "d").mkdir()
    for n in range(count):
        (tmp_path / "d" / f"f{n}").mkdir()
    lines = (await list_directory_tool(tmp_path, max_entries=cap).run({"path": "d"})).splitlines()
    assert lines[0] == f"d/ ({count} entries)"
    assert lines[1:1 + min(count, cap)] == [f"f{n}/" for n in range(min(count, cap))]
    if count > cap:
        assert lines[1 + cap:] == [f"[listing truncated: {cap} of {count} entries are shown]"]
    else:
        assert len(lines) == 1 + count


# --- builtin_tools and default_registry --------------------------------------------------------


async def test_builtin_tools_pass_the_size_limits_on(tmp_path: Path, server: LoopbackServer) -> None:
    (tmp_path / "f.txt").write_text("abcdef")
    server.handler = lambda r: Reply(parts=[b"123456"], headers={"content-type": "text/plain"})
    async with httpx.AsyncClient(trust_env=False) as client:
        tools = {t.name: t for t in builtin_tools(tmp_path, client, max_file_bytes=4, max_url_bytes=3,
                                                  allow_private_addresses=True)}
        assert (await tools["read_file"].run({"path": "f.txt"})).startswith("abcd\n\n[file truncated: the first 4 of 6")
        page = await tools["fetch_url"].run({"url": f"http://127.0.0.1:{server.port}/"})
        assert page.endswith("\n\n123\n\n[response truncated: only the first 3 bytes were read]")


@pytest.mark.parametrize("allow", [False, True])
async def test_private_addresses_only_when_allowed(tmp_path: Path, server: LoopbackServer, allow: bool) -> None:
    server.handler = lambda r: Reply(parts=[b"local"], headers={"content-type": "text/plain"})
    url = f"http://127.0.0.1:{server.port}/"
    async with httpx.AsyncClient(trust_env=False) as client:
        for registry in (default_registry(tmp_path, client, plugins=False, allow_private_addresses=allow)[0],):
            output = await registry.call("fetch_url", f'{{"url": "{url}"}}')
            if allow:
                assert output.status == "ok" and output.text.endswith("local")
            else:
                assert output.is_error and "not a public address (loopback" in output.text
        fetch = {t.name: t for t in builtin_tools(tmp_path, client, allow_private_addresses=allow)}["fetch_url"]
        if allow:
            assert (await fetch.run({"url": url})).endswith("local")
        else:
            with pytest.raises(ToolError, match="allow_private_addresses"):
                await fetch.run({"url": url})
    assert len(server.requests) == (2 if allow else 0)


async def test_default_registry_passes_its_settings_on(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("z" * 50)
    registry, problems = default_registry(tmp_path, plugins=False, max_output_chars=10,
                                          config={"echo": {"command": [sys.executable, "-c", "print('x' * 30)"]}})
    assert problems == [] and registry.names() == ["echo", "current_time", "read_file", "list_directory"]
    assert registry.max_output_chars == 10
    output = await registry.call("read_file", '{"path": "big.txt"}')
    assert output.truncated and output.text.startswith("z" * 10 + "\n\n[output truncated")
    with pytest.raises(ConfigError, match=r"^my\.toml: tools\.bad: 'command'"):
        default_registry(tmp_path, config={"bad": {}}, config_where="my.toml", plugins=False)
    registry, problems = default_registry(tmp_path, config=None, plugins=False)
    assert registry.names() == ["current_time", "read_file", "list_directory"] and problems == []
    assert registry.max_output_chars == 20_000


async def test_by_default_private_addresses_are_refused(tmp_path: Path, server: LoopbackServer) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        fetch = {t.name: t for t in builtin_tools(tmp_path, client)}["fetch_url"]
        with pytest.raises(ToolError, match=r"not a public address \(loopback"):
            await fetch.run({"url": f"http://127.0.0.1:{server.port}/"})
    assert server.requests == []


async def test_the_real_clock_in_a_zone_without_summer_time() -> None:
    tokyo = await current_time_tool().run({"timezone": "Asia/Tokyo"})
    assert "+09:00 (" in tokyo and tokyo.endswith(", JST)")


def test_the_default_config_name_in_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config: tools\.bad: 'command'"):
        default_registry(tmp_path, config={"bad": {}}, plugins=False)


def test_the_file_tools_schemas_and_descriptions(tmp_path: Path) -> None:
    reader, lister = read_file_tool(tmp_path, max_bytes=100), list_directory_tool(tmp_path)
    assert reader.parameters == {"type": "object", "properties": {"path": {"type": "string",
                                 "description": "The file's path."}}, "required": ["path"]}
    assert lister.parameters == {"type": "object", "properties": {"path": {
        "type": "string", "description": "The directory, relative to the working directory; default '.'."}}}
    assert reader.description == ("Read a UTF-8 text file under the working directory. The path is relative to the "
                                  "working directory; files larger than 100 bytes are cut.")
    assert lister.description == ("List a directory under the working directory: directories end in '/', "
                                  "symlinks in '@', files show their size.")


def test_listing_a_secret_directory_as_the_default_path_asks(tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    assert list_directory_tool(tmp_path / ".ssh").approval_reason({}) == "SSH keys (.ssh)"
    assert list_directory_tool(tmp_path).approval_reason({}) is None


def test_the_clocks_schema() -> None:
    assert current_time_tool().parameters == {"type": "object", "properties": {"timezone": {
        "type": "string", "description": "An IANA time zone such as Europe/Paris; default: the user's."}}}
    assert current_time_tool().description == "The current date and time (ISO 8601), weekday and time zone."
