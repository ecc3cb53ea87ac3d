"""Helpers for the ``llmchat serve`` tests: the server as a subprocess, and raw HTTP requests
and WebSocket handshakes against it on 127.0.0.1 (http.client, so every header, Host and
Origin included, is exactly what the test says)."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.loopback import LoopbackServer

WEBSOCKET_HEADERS = {
    "Upgrade": "websocket", "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    """A running ``llmchat serve``: the base URL (no slash), the URL it printed (with the
    token), the token, its port and its log file."""

    url: str
    printed: str
    token: str
    port: int
    log: Path


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str


def get(port: int, path: str, headers: dict[str, str] | None = None) -> Answer:
    """GET `path` from 127.0.0.1:`port` with exactly `headers` (plus what http.client adds:
    Host unless given, Accept-Encoding)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = dict(headers or {})
        connection.putrequest("GET", path, skip_host="Host" in headers)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        if response.status == 101:  # a session started: do not read (it never ends)
            return Answer(101, response.headers, "")
        return Answer(response.status, response.headers, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


def websocket(port: int, path: str = "/ws?width=80&height=24", **headers: str) -> Answer:
    """The answer to a WebSocket handshake on `path` with `headers` (e.g. Origin=...,
    Cookie=..., Host=...; underscores in names become dashes)."""
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    return get(port, path, {**WEBSOCKET_HEADERS, **extra})


class serving:
    """``llmchat serve --port FREE ARGS`` as a subprocess against `server`, its output in a
    log file; enters with a :class:`Served` once the page answers (with the printed token),
    and on exit stops the server with SIGTERM and checks that it exits."""

    def __init__(self, tmp_path: Path, server: LoopbackServer, *args: str, **env: str) -> None:
        self.port = free_port()
        self.log = tmp_path / f"serve-{self.port}.log"
        self.command = [sys.executable, "-m", "llmchat", "serve", "--port", str(self.port), *args]
        self.env = dict(os.environ, OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test", **env)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Served:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
            )
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90  # a hang guard: start-up under a loaded CI machine is slow
        while not (found := re.search(r"llmchat: serving on (\S+)", self.log.read_text())):
            assert self.process.poll() is None, f"llmchat serve exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"llmchat serve did not start:\n{self.log.read_text()}"
            time.sleep(0.1)
        printed = found.group(1)
        token = re.fullmatch(re.escape(url) + r"/\?token=([A-Za-z0-9_~.-]+)", printed)
        assert token, f"the printed URL has no token: {printed}"
        while True:
            try:
                page = get(self.port, f"/?token={token.group(1)}")
                break
            except OSError:
                assert time.monotonic() < deadline, f"llmchat serve did not answer:\n{self.log.read_text()}"
                time.sleep(0.1)
        assert page.status == 200, page
        assert f"ws://127.0.0.1:{self.port}/ws" in page.body
        return Served(url, printed, token.group(1), self.port, self.log)

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise AssertionError(f"llmchat serve did not stop on SIGTERM:\n{self.log.read_text()}") from None
