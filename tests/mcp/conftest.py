"""Real MCP servers for the tests: tests/mcp/server.py over stdio, Streamable HTTP and SSE."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmchat.mcp.config import ServerConfig

ROOT = Path(__file__).resolve().parent.parent.parent
SERVER = [sys.executable, "-m", "tests.mcp.server"]


def server_env(work: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "MCP_TEST_DIR": str(work)}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The test server's directory (its pid, notes and cancellation marks)."""
    path = tmp_path / "mcp-work"
    path.mkdir()
    return path


@pytest.fixture
def stdio_config(work: Path) -> ServerConfig:
    return ServerConfig("test", "stdio", command=SERVER[0], args=tuple(SERVER[1:]), env=server_env(work))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `condition` until it is true (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def serve_test_server(work: Path, transport: str, *extra: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([*SERVER, "--transport", transport, "--port", str(port), *extra],
                            env={**os.environ, **server_env(work)}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the test server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        wait_for(listening, what="the HTTP test server")
        yield f"http://127.0.0.1:{port}/mcp" if transport == "http" else f"http://127.0.0.1:{port}/sse"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def http_url(work: Path) -> Iterator[str]:
    """The test server over Streamable HTTP on 127.0.0.1 (a random port)."""
    yield from serve_test_server(work, "http")


@pytest.fixture
def sse_url(work: Path) -> Iterator[str]:
    """The test server over the legacy HTTP+SSE transport on 127.0.0.1."""
    yield from serve_test_server(work, "sse")


@pytest.fixture(scope="module")
def shared_http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Streamable HTTP test server for a whole module (for tests that only read from it)."""
    yield from serve_test_server(tmp_path_factory.mktemp("mcp-http"), "http")


def write_mcp_json(path: Path, servers: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def stdio_entry(work: Path, **extra: Any) -> dict[str, Any]:
    return {"command": SERVER[0], "args": SERVER[1:], "env": server_env(work), **extra}
