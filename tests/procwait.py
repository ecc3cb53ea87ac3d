"""Wait, without a fixed sleep, until a child process has handled what a loopback server sent it.

Tests that signal a running ``llmchat`` (SIGINT, SIGTERM) mid-reply need the first chunk to have
been read *and handled* first, and the process may show nothing of it (``ask --json`` prints at
the end; the headless TUI prints nothing). Linux tells both halves: the client's socket has an
empty receive queue (``/proc/net/tcp``: it read all the server sent), and the process's main
thread sleeps in ``poll``/``epoll`` (``/proc/PID/wchan``: its event loop has no ready work left,
so every callback that the data woke has run). Call it only once the server has written the data
(a callable part after it in the Reply, e.g. ``threading.Event().set``), and the server must then
stay silent, as the tests' replies do (a long pause after the first part).
"""

from __future__ import annotations

import time
from pathlib import Path


def _receive_queues(server_port: int) -> list[int]:
    """Receive-queue sizes of the established IPv4 connections *to* `server_port` (client side)."""
    queues: list[int] = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state, queues_field = fields[2], fields[3], fields[4]
        if state == "01" and int(remote.rsplit(":", 1)[1], 16) == server_port:
            queues.append(int(queues_field.split(":")[1], 16))
    return queues


def _sleeps_in_poll(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False
    return state == "S" and "poll" in wchan


def wait_until_read_and_idle(pid: int, server_port: int, timeout: float = 30.0) -> None:
    """Return once process `pid` has a connection to `server_port` whose receive queue is empty
    and then sleeps in poll; AssertionError after `timeout` seconds (a failure, not a pace)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queues = _receive_queues(server_port)
        if queues and not any(queues) and _sleeps_in_poll(pid):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not read and handle the server's data in {timeout:g} s")
