"""A clipboard that works and says the truth (issue 17): the local clipboard command when the
session is local, tmux's buffer inside tmux, OSC 52 (wrapped for tmux / screen) over SSH, and
/copy > FILE or /save FILE, which always work. The clipboard commands here are fakes on PATH
that write what they read to a file."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from llmchat.clipboard import copy_text, local_commands, osc52
from llmchat.providers.events import ContentDelta, Finish
from tests.tui.conftest import OpenChat
from tests.tui.helpers import chat_screen, send, wait_until

ANSWER = "Use `ls -la`.\n\n```sh\nls -la\n```\n"


def fake_command(folder: Path, name: str) -> Path:
    """A `name` on PATH that writes its arguments and then stdin to folder/name.out."""
    out = folder / f"{name}.out"
    script = folder / name
    script.write_text(f'#!/bin/sh\necho "$@" > "{out}"\ncat >> "{out}"\n')
    script.chmod(0o755)
    return out


def notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


async def answered(chat) -> None:  # type: ignore[no-untyped-def]
    screen = chat_screen(chat.pilot)
    await send(chat.pilot, "how do I list files?")
    await wait_until(chat.pilot, lambda: not screen.streaming and len(screen.conversation.messages) >= 2)


def script() -> list[object]:
    return [ContentDelta(ANSWER), Finish("stop", "stop")]


def test_osc52_is_wrapped_for_tmux_and_screen() -> None:
    plain = f"\x1b]52;c;{base64.b64encode('hé'.encode()).decode()}\a"
    assert osc52("hé", {}) == plain
    assert osc52("hé", {"TMUX": "/tmp/tmux-0/default,1,0"}) == "\x1bPtmux;" + plain.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    assert osc52("hé", {"STY": "123.pts-0"}) == "\x1bP" + plain + "\x1b\\"


def test_local_commands_follow_the_session() -> None:
    assert local_commands({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux")[0] == ["wl-copy"]
    assert [c[0] for c in local_commands({"DISPLAY": ":0"}, "linux")] == ["xclip", "xsel"]
    assert local_commands({}, "darwin") == [["pbcopy"]]
    assert local_commands({"WSL_DISTRO_NAME": "Ubuntu"}, "linux") == [["clip.exe"]]
    assert local_commands({}, "linux") == []


def test_xsel_is_used_when_xclip_fails(tmp_path: Path) -> None:
    out = fake_command(tmp_path, "xsel")
    (tmp_path / "xclip").write_text("#!/bin/sh\nexit 1\n")  # e.g. no X server answers
    (tmp_path / "xclip").chmod(0o755)
    copied = copy_text("text", {"DISPLAY": ":0", "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}, "linux")
    assert (copied.how, copied.tool, copied.sequence) == ("local", "xsel", "")
    assert out.read_text() == "--clipboard --input\ntext"


async def test_a_local_session_copies_with_the_local_command(
    open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = fake_command(tmp_path, "xclip")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":0")
    async with open_chat(script()) as chat:
        await answered(chat)
        await send(chat.pilot, "/copy")
        assert out.read_text() == "-selection clipboard\n" + ANSWER
        assert any(n.startswith("Copied the last answer") for n in notes(chat.app))


async def test_over_ssh_it_is_sent_by_osc52_and_says_so(
    open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = fake_command(tmp_path, "xclip")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":0")  # X forwarding: still not the user's clipboard
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
    async with open_chat(script()) as chat:
        await answered(chat)
        await send(chat.pilot, "/copy")
        assert not out.exists()
        assert chat.app.clipboard == ANSWER
        note = next(n for n in notes(chat.app) if "last answer" in n)
        assert "terminal's clipboard" in note and not note.startswith("Copied")


async def test_inside_tmux_the_text_goes_to_tmux(
    open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = fake_command(tmp_path, "tmux")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    monkeypatch.setenv("SSH_TTY", "/dev/pts/1")
    async with open_chat(script()) as chat:
        await answered(chat)
        await send(chat.pilot, "/copy 1")
        assert out.read_text() == "load-buffer -w -\nls -la"
        assert any("tmux's paste buffer" in n for n in notes(chat.app))


async def test_copy_to_a_file_always_works(
    open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_chat(script()) as chat:
        await answered(chat)
        await send(chat.pilot, "/copy > answer.md")
        assert (tmp_path / "answer.md").read_text() == ANSWER
        await send(chat.pilot, "/save sub/none/x.md")  # a folder that does not exist: said, no crash
        assert any("Could not write" in n for n in notes(chat.app))
        await send(chat.pilot, "/copy 1 > code.sh")
        assert (tmp_path / "code.sh").read_text() == "ls -la\n"
        await send(chat.pilot, "/save again.md")
        assert (tmp_path / "again.md").read_text() == ANSWER
        assert any(n.startswith("Wrote the last answer to " + str(tmp_path / "again.md")) for n in notes(chat.app))
