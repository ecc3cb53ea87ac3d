"""The built-in tools' limits on both sides of the boundary: a file of exactly the size limit is
read whole and one byte more is cut; a listing of exactly the entry cap is whole and one more is
cut; tool output of exactly the character cap is sent whole. The defaults are the documented
ones (256 KiB, 500 entries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmchat.chat.builtin_tools import list_directory_tool, read_file_tool
from llmchat.chat.tools import Tool, ToolRegistry


@pytest.mark.parametrize("size", [50, 51])
async def test_a_file_of_exactly_the_limit_is_read_whole_one_byte_more_is_cut(tmp_path: Path, size: int) -> None:
    (tmp_path / "f.txt").write_text("x" * size, encoding="utf-8")
    text = await read_file_tool(tmp_path, max_bytes=50).run({"path": "f.txt"})
    if size == 50:
        assert text == "x" * 50
    else:
        assert text == "x" * 50 + "\n\n[file truncated: the first 50 of 51 bytes are shown]"


async def test_the_default_file_limit_is_256_kib(tmp_path: Path) -> None:
    limit = 256 * 1024
    (tmp_path / "exact.txt").write_bytes(b"y" * limit)
    (tmp_path / "over.txt").write_bytes(b"y" * (limit + 1))
    tool = read_file_tool(tmp_path)
    assert await tool.run({"path": "exact.txt"}) == "y" * limit
    over = await tool.run({"path": "over.txt"})
    assert over == "y" * limit + f"\n\n[file truncated: the first {limit} of {limit + 1} bytes are shown]"


async def test_a_character_cut_by_the_limit_is_dropped_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a" * 49 + "é", encoding="utf-8")  # 51 bytes: é is 2
    text = await read_file_tool(tmp_path, max_bytes=50).run({"path": "f.txt"})
    assert text == "a" * 49 + "\n\n[file truncated: the first 50 of 51 bytes are shown]"
    whole = await read_file_tool(tmp_path, max_bytes=51).run({"path": "f.txt"})
    assert whole == "a" * 49 + "é"


def make_entries(folder: Path, count: int) -> None:
    folder.mkdir()
    for n in range(count):
        (folder / f"e{n:04d}").touch()


@pytest.mark.parametrize("count", [3, 4])
async def test_a_listing_of_exactly_the_cap_is_whole_one_more_is_cut(tmp_path: Path, count: int) -> None:
    make_entries(tmp_path / "d", count)
    lines = (await list_directory_tool(tmp_path, max_entries=3).run({"path": "d"})).splitlines()
    assert lines[0] == f"d/ ({count} entries)"
    assert lines[1:4] == [f"e{n:04d}  (0 bytes)" for n in range(3)]
    if count == 3:
        assert len(lines) == 4
    else:
        assert lines[4:] == ["[listing truncated: 3 of 4 entries are shown]"]


async def test_the_default_entry_cap_is_500(tmp_path: Path) -> None:
    make_entries(tmp_path / "exact", 500)
    make_entries(tmp_path / "over", 501)
    tool = list_directory_tool(tmp_path)
    exact = (await tool.run({"path": "exact"})).splitlines()
    assert len(exact) == 501 and "truncated" not in exact[-1]
    over = (await tool.run({"path": "over"})).splitlines()
    assert len(over) == 502 and over[-1] == "[listing truncated: 500 of 501 entries are shown]"


@pytest.mark.parametrize("length", [100, 101])
async def test_tool_output_of_exactly_the_cap_is_sent_whole(length: int) -> None:
    async def produce(arguments: dict[str, Any]) -> str:
        return "z" * length

    output = await ToolRegistry([Tool("p", "p", handler=produce)], max_output_chars=100).call("p", "{}")
    assert output.status == "ok"
    if length == 100:
        assert (output.text, output.truncated) == ("z" * 100, False)
    else:
        assert output.truncated
        assert output.text == "z" * 100 + "\n\n[output truncated: the first 100 of 101 characters are shown]"
