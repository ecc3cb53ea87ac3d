"""Running a command for a tool (llmchat/chat/process.py, CommandTool): the output cap and the
stderr excerpt on both sides of their limits, stdin, the working directory, the environment,
exit statuses, and no process left behind however the command ends. Every command is a real
process; waits are on conditions (a file written, a process gone)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from llmchat.chat.process import BASE_ENVIRONMENT, minimal_environment, run_command
from llmchat.chat.tools import CommandTool, ToolError, ToolRegistry
from tests.chat.test_tools import alive, wait_for_file, wait_gone

STDERR_KEEP = 4096  # the docstring: "the first bytes of standard error (enough for an error message)"


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


async def run(command: Any, stdin: bytes = b"", **kwargs: Any) -> Any:
    return await asyncio.wait_for(run_command(command, stdin, **kwargs), 60)  # a hang guard


@pytest.mark.parametrize(("size", "truncated"), [(0, False), (999, False), (1000, False), (1001, True), (70_000, True)])
async def test_stdout_of_exactly_the_cap_is_whole_one_byte_more_is_cut(size: int, truncated: bool) -> None:
    result = await run(sh(f"head -c {size} /dev/zero | tr '\\0' 'y'"), max_output=1000)
    assert result.truncated is truncated
    assert result.stdout == b"y" * min(size, 1000)
    if not truncated:
        assert result.returncode == 0


async def test_stdout_in_many_small_writes_is_capped_the_same() -> None:
    script = "i=0; while [ $i -lt 300 ]; do printf 'abcd'; i=$((i+1)); done"  # 1,200 bytes in 4-byte writes
    whole = await run(sh(script), max_output=1200)
    assert (whole.stdout, whole.truncated) == (b"abcd" * 300, False)
    cut = await run(sh(script), max_output=1199)
    assert (cut.stdout, cut.truncated) == ((b"abcd" * 300)[:1199], True)


@pytest.mark.parametrize("size", [STDERR_KEEP - 1, STDERR_KEEP, STDERR_KEEP + 1, 2_000_000])
async def test_stderr_keeps_its_first_4096_bytes_and_is_read_to_the_end(size: int) -> None:
    """A command that writes far more to stderr than a pipe and the reader's buffer hold
    (2 MB) still finishes: stderr is drained, not left to block the command."""
    result = await run(sh(f"head -c {size} /dev/zero | tr '\\0' 'e' >&2; printf done"))
    assert result.stderr == b"e" * min(size, STDERR_KEEP)
    assert (result.stdout, result.returncode, result.truncated) == (b"done", 0, False)


async def test_stdin_is_written_whole_and_closed() -> None:
    data = bytes(range(256)) * 1024  # 256 KiB: more than a pipe holds
    result = await run(sh("cat"), data, max_output=len(data))
    assert (result.stdout, result.truncated) == (data, False)
    result = await run(sh("wc -c"), b"12345")
    assert result.stdout.strip() == b"5"


async def test_a_command_that_does_not_read_stdin_is_not_an_error() -> None:
    result = await run(sh("printf ignored"), b"x" * 1_000_000)
    assert (result.stdout, result.returncode) == (b"ignored", 0)


async def test_a_command_that_stops_reading_stdin_halfway_is_not_an_error() -> None:
    """It reads one byte and exits with most of a megabyte still queued: the pipe breaks (the
    write and the wait for the pipe's close both see it), and the call still returns."""
    result = await run(sh("head -c 1 >/dev/null; printf 'read one'"), b"x" * 1_000_000)
    assert (result.stdout, result.returncode, result.truncated) == (b"read one", 0, False)


@pytest.mark.parametrize(("size", "truncated"), [(1_000_000, False), (1_000_001, True)])
async def test_the_default_cap_of_run_command_is_a_million_bytes(size: int, truncated: bool) -> None:
    result = await asyncio.wait_for(run_command(sh(f"head -c {size} /dev/zero"), b""), 60)  # a hang guard
    assert result.truncated is truncated and len(result.stdout) == 1_000_000


async def test_exit_statuses_are_reported() -> None:
    assert (await run(sh("exit 3"))).returncode == 3
    assert (await run(sh("exit 0"))).returncode == 0
    assert (await run(sh("kill -9 $$"))).returncode == -9


async def test_a_shell_line_and_an_argument_vector() -> None:
    env = {"PATH": os.environ["PATH"], "WHO": "world"}
    assert (await run("printf '%s' \"$WHO\"", env=env)).stdout == b"world"
    assert (await run(["printf", "%s", "$WHO"], env=env)).stdout == b"$WHO"  # no shell: no expansion
    with pytest.raises(OSError):
        await run(["/nonexistent/program"])


async def test_the_working_directory_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCHAT_TEST_MARK", "ours")
    here = await run(sh("pwd -P; printf '%s' \"${LLMCHAT_TEST_MARK-unset}\""), cwd=tmp_path)
    assert here.stdout.decode().splitlines() == [str(tmp_path.resolve()), "ours"]  # env None: our own
    given = await run(sh("printf '%s' \"${LLMCHAT_TEST_MARK-unset}\""), env={"PATH": os.environ["PATH"]})
    assert given.stdout == b"unset"  # a given environment is the whole environment


SPAWNER = "sleep 60 & echo $! > {pid}; {rest}"


@pytest.mark.parametrize("rest", ["exit 0", "exit 1", "head -c 5000 /dev/zero"])
async def test_nothing_the_command_started_outlives_it(tmp_path: Path, rest: str) -> None:
    pid_file = tmp_path / "pid"
    result = await run(sh(SPAWNER.format(pid=pid_file, rest=rest)), max_output=100)
    assert result.truncated is ("head" in rest)
    (pid,) = [int(p) for p in (await wait_for_file(pid_file)).split()]
    await wait_gone([pid])


async def test_the_output_cap_kills_the_command_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"sleep 60 & echo $! > {pid_file}; while :; do printf 'zzzzzzzz'; done"
    task = asyncio.create_task(run(sh(script), max_output=10))
    (pid,) = [int(p) for p in (await wait_for_file(pid_file)).split()]
    result = await task
    assert (result.stdout, result.truncated) == (b"z" * 10, True)
    await wait_gone([pid])


# --- the environment --------------------------------------------------------------------------

DOCUMENTED = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR"]
"""README "Security", "Tools": what every command tool gets (with LC_* and LLMCHAT_TOOL)."""
WINDOWS = ["TEMP", "TMP", "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE"]


@pytest.mark.parametrize("name", [*DOCUMENTED, *WINDOWS, "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_"])
def test_each_variable_of_the_minimal_environment_is_passed(name: str) -> None:
    assert minimal_environment(source={name: "v", "OTHER": "o"}) == {name: "v"}
    assert name in BASE_ENVIRONMENT or name.startswith("LC_")


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "GITHUB_TOKEN", "SSH_AUTH_SOCK", "PATHX", "XPATH", "path",
                                  "lc_all", "XLC_ALL", "LC", "PYTHONPATH", "LD_PRELOAD", "HOMEDIR"])
def test_other_variables_are_not(name: str) -> None:
    assert minimal_environment(source={name: "v"}) == {}
    assert minimal_environment([name], {name: "v"}) == {name: "v"}  # unless named


def test_the_minimal_environment_reads_our_own_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    monkeypatch.setenv("SOME_API_KEY", "sk-x")
    env = minimal_environment()
    assert env["TZ"] == "Europe/Paris" and "SOME_API_KEY" not in env


def test_a_command_tools_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_API_KEY", "sk-x")
    monkeypatch.setenv("NAMED", "n")
    tool = CommandTool("probe", "d", command="true", env=("NAMED",))
    env = tool.environment()
    assert env["LLMCHAT_TOOL"] == "probe" and env["NAMED"] == "n" and "SOME_API_KEY" not in env
    everything = CommandTool("all", "d", command="true", inherit_env=True, env=("NAMED",)).environment()
    assert everything["SOME_API_KEY"] == "sk-x" and everything["LLMCHAT_TOOL"] == "all"
    assert "LLMCHAT_TOOL" not in os.environ  # the tool's copy, not ours


# --- CommandTool ------------------------------------------------------------------------------


def test_the_defaults_of_a_command_tool() -> None:
    tool = CommandTool("c", "d", command="true")
    assert (tool.timeout, tool.read_only, tool.max_output_bytes, tool.cwd, tool.env, tool.inherit_env) == (
        30.0, False, 1_000_000, None, (), False)


@pytest.mark.parametrize(("size", "cut"), [(1_000_000, False), (1_000_001, True)])
async def test_the_default_output_cap_is_a_million_bytes(size: int, cut: bool) -> None:
    tool = CommandTool("big", "d", command=sh(f"head -c {size} /dev/zero | tr '\\0' 'b'"))
    text = await asyncio.wait_for(tool.run({}), 60)
    if cut:
        assert text == "b" * 1_000_000 + "\n\n[output truncated: the command was stopped after 1000000 bytes]"
    else:
        assert text == "b" * 1_000_000


@pytest.mark.parametrize(("script", "message"), [
    ("printf 'out'; printf '  bad city \\n' >&2; exit 2", "the command exited with status 2: bad city"),
    ("printf '  only stdout \\n'; exit 1", "the command exited with status 1: only stdout"),
    ("printf '   '; printf '\\n' >&2; exit 4", "the command exited with status 4: no output"),
    ("exit 255", "the command exited with status 255: no output"),
])
async def test_a_failed_command_says_why_in_one_message(script: str, message: str) -> None:
    with pytest.raises(ToolError) as info:
        await asyncio.wait_for(CommandTool("f", "d", command=sh(script)).run({}), 60)
    assert str(info.value) == message


async def test_a_command_stopped_at_its_cap_is_not_a_failure() -> None:
    tool = CommandTool("flood", "d", max_output_bytes=8, command=sh("while :; do printf 'abcd'; done"))
    output = await ToolRegistry([tool]).call("flood", "{}")
    assert output.status == "ok"
    assert output.text == "abcdabcd\n\n[output truncated: the command was stopped after 8 bytes]"


async def test_output_that_is_not_utf8_is_replaced_not_an_error(tmp_path: Path) -> None:
    tool = CommandTool("bytes", "d", command=sh("printf 'caf\\351'; printf 'caf\\351' >&2; exit 1"))
    with pytest.raises(ToolError, match="status 1: caf\ufffd"):
        await tool.run({})
    ok = CommandTool("ok", "d", command=sh("printf 'caf\\351'"))
    assert await ok.run({}) == "caf\ufffd"


async def test_a_command_that_cannot_start_names_the_tool(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"^the command of tool 'gone' could not start: "):
        await CommandTool("gone", "d", command=["/nonexistent/program"]).run({})
    with pytest.raises(ToolError, match=r"could not start"):
        await CommandTool("nowhere", "d", command=["true"], cwd=tmp_path / "missing").run({})


async def test_the_command_runs_in_its_working_directory_with_the_arguments_on_stdin(tmp_path: Path) -> None:
    code = "import json, os, sys; print(json.dumps([os.getcwd(), json.load(sys.stdin), os.environ['LLMCHAT_TOOL']]))"
    tool = CommandTool("where", "d", command=[sys.executable, "-c", code], cwd=tmp_path)
    assert json.loads(await tool.run({"q": "é"})) == [str(tmp_path), {"q": "é"}, "where"]


async def test_cancelling_a_command_tool_kills_it_while_it_runs(tmp_path: Path) -> None:
    """Cancelled as soon as the command has written its pid: often while asyncio is still
    setting the process up, whose own clean-up kills the shell alone and then waits for the
    pipes the background sleep holds (a 300 s hang before the fix)."""
    pid_file = tmp_path / "pid"
    tool = CommandTool("slow", "d", command=sh(f"echo $$ > {pid_file}; sleep 300 & wait"), timeout=None)
    task = asyncio.create_task(tool.run({}))
    (pid,) = [int(p) for p in (await wait_for_file(pid_file)).split()]
    assert alive(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)  # a TimeoutError here: the cancellation hangs
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped before the cancellation goes on
    await wait_gone([pid])


async def test_cancelled_while_asyncio_still_sets_the_process_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process runs but asyncio has not handed it over yet (under load it is still
    connecting the pipes) when the call is cancelled: what the command started is killed too,
    and the cancellation does not wait for it."""
    real = asyncio.create_subprocess_exec
    handed_over, gate = asyncio.Event(), asyncio.Event()

    async def slow_setup(*args: Any, **kwargs: Any) -> Any:
        process = await real(*args, **kwargs)
        handed_over.set()
        await gate.wait()  # still setting up
        return process

    monkeypatch.setattr(asyncio, "create_subprocess_exec", slow_setup)
    pid_file = tmp_path / "pid"
    task = asyncio.create_task(run_command(sh(f"printf unread; sleep 300 & echo $! > {pid_file}; wait"), b""))
    await asyncio.wait_for(handed_over.wait(), 30)
    (child,) = [int(p) for p in (await wait_for_file(pid_file)).split()]
    task.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)  # a TimeoutError here: the cancellation hangs
    await wait_gone([child])
