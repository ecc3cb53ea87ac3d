"""Run a command for a tool: JSON on stdin, its stdout back, and no process left behind.

The command runs in a new session (its own process group), so a shell command and every
process it starts are killed together: on a timeout, on cancellation (Escape), when its
output passes the size cap, and once it exits (nothing it left in the background survives,
nor keeps the call waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_STDERR_KEEP = 4096
"""Bytes of stderr kept for the error message."""
_EXIT_POLL = 0.05
"""Seconds between looks at whether the command itself has exited (asyncio tells a process's
exit only together with the end of its pipes, which a background process keeps open)."""

BASE_ENVIRONMENT = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR",
    "TEMP", "TMP", "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE",
)
"""Variables every command tool gets (with every ``LC_*``): where programs, home, temporary
files and the locale are. Nothing that holds a credential (no ``*_API_KEY``, tokens, agent
sockets)."""


def minimal_environment(
    names: Iterable[str] = (), source: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a command tool: :data:`BASE_ENVIRONMENT`, ``LC_*`` and `names`.

    Args:
        names: more variables to pass (a tool's ``env = [...]`` in the config).
        source: where the values come from (default: our own environment).

    Returns:
        The variables of those names that are set in `source`.
    """
    source = os.environ if source is None else source
    wanted = {*BASE_ENVIRONMENT, *names}
    return {k: v for k, v in source.items() if k in wanted or k.startswith("LC_")}


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended."""

    returncode: int
    stdout: bytes
    """Standard output, at most `max_output` bytes."""
    stderr: bytes
    """The first bytes of standard error (enough for an error message)."""
    truncated: bool
    """True when the output passed `max_output` and the command was stopped there."""


async def run_command(
    command: str | Sequence[str],
    stdin: bytes,
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    max_output: int = 1_000_000,
) -> CommandResult:
    """Run `command`, write `stdin` to it, and collect its output.

    Args:
        command: a shell command line (run by ``/bin/sh -c``), or an argument vector
            (run directly, no shell).
        stdin: the bytes written to the command's standard input, which is then closed.
        cwd: the working directory; None keeps ours.
        env: the command's whole environment (see :func:`minimal_environment`); None
            passes ours.
        max_output: stdout cap in bytes; past it the command is killed and the result is
            marked truncated.

    Returns:
        The exit status, stdout and the start of stderr.

    Raises:
        OSError: the command could not be started (e.g. the program does not exist).
        asyncio.CancelledError: re-raised after the process group was killed.
    """
    kwargs = {
        "stdin": asyncio.subprocess.PIPE,
        "stdout": asyncio.subprocess.PIPE,
        "stderr": asyncio.subprocess.PIPE,
        "cwd": cwd,
        "env": dict(env) if env is not None else None,
        "start_new_session": os.name == "posix",
    }
    if isinstance(command, str):
        start = asyncio.create_subprocess_shell(command, **kwargs)  # type: ignore[arg-type]
    else:
        start = asyncio.create_subprocess_exec(*command, **kwargs)  # type: ignore[arg-type]
    starting = asyncio.ensure_future(start)
    try:
        process = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # Cancelled while asyncio was still setting the process up (it may already run):
        # asyncio would kill the command alone and then wait for the pipes that what it
        # started holds open. Let the start finish, then kill the whole group.
        with contextlib.suppress(OSError):  # it could not start: nothing to kill
            await _kill_and_drain(await starting)
        raise
    try:
        assert process.stdin and process.stdout and process.stderr

        async def read_stdout(stream: asyncio.StreamReader) -> tuple[bytes, bool]:
            data, truncated = await _read_capped(stream, max_output)
            if truncated:
                _kill(process)  # the pipes close, so the other readers end too
                # Read on to the end of the pipe, dropping what comes: with reading paused (a
                # full buffer) the pipe never reports its end, and Python 3.11's wait() waits
                # for every pipe to close before it returns (seen as a hang under load).
                while await stream.read(1 << 16):
                    pass
            return data, truncated

        async def kill_the_rest_when_it_exits() -> None:
            # A process the command left in the background holds the pipes open, so they would
            # not end before it does: once the command itself has exited, its group is killed.
            while process.returncode is None:
                await asyncio.sleep(_EXIT_POLL)
            _kill(process)

        watcher = asyncio.ensure_future(kill_the_rest_when_it_exits())
        try:
            (out, truncated), (err, _), _ = await asyncio.gather(
                read_stdout(process.stdout),
                _read_capped(process.stderr, _STDERR_KEEP, drain=True),
                _feed(process.stdin, stdin),
            )
        finally:
            watcher.cancel()
        returncode = await process.wait()
        return CommandResult(returncode, out, err, truncated)
    finally:
        _kill(process)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                await process.wait()


async def _kill_and_drain(process: asyncio.subprocess.Process) -> None:
    """Kill the command's group, read its pipes to their end and wait for it."""
    _kill(process)
    streams = [stream for stream in (process.stdout, process.stderr) if stream is not None]
    await asyncio.gather(*(_read_capped(stream, 0, drain=True) for stream in streams))
    await process.wait()


async def _read_capped(
    stream: asyncio.StreamReader, cap: int, *, drain: bool = False
) -> tuple[bytes, bool]:
    """Read up to `cap` bytes and say whether there was more.

    Past the cap, stop reading, or with `drain` read on to the end and drop the rest (so
    the command never blocks on a full pipe).
    """
    data = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        room = cap - len(data)
        if len(chunk) > room:
            data += chunk[: max(room, 0)]
            truncated = True
            if not drain:
                break
        else:
            data += chunk
    return bytes(data), truncated


async def _feed(stream: asyncio.StreamWriter, data: bytes) -> None:
    """Write stdin and close it; a command that does not read it is not an error."""
    try:
        stream.write(data)
        await stream.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        stream.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await stream.wait_closed()


def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the command's process group (the command and all it started)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
