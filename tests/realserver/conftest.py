"""The opt-in integration tier: real server software from the package registries on loopback.

Run with ``pytest -m realserver`` (the default run deselects it). The servers and the official
SDKs live in their own virtual environment, so their many dependencies never meet llmchat's::

    python -m venv /tmp/rs && /tmp/rs/bin/pip install 'litellm[proxy]==1.80.0' llm-katan openai anthropic
    LLMCHAT_REALSERVER_BIN=/tmp/rs/bin python -m pytest -m realserver

Without ``LLMCHAT_REALSERVER_BIN`` the executables are looked for beside the running Python
and on ``PATH``; a test whose server is missing is skipped, saying what to install.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

MASTER_KEY = "sk-master-realserver"
MOCK_TEXT = "Hello from the LiteLLM mock, with a café ☕ and 世界."
INSTALL = "pip install 'litellm[proxy]==1.80.0' llm-katan openai anthropic (see tests/realserver/conftest.py)"


def executable(name: str) -> str | None:
    """`name` from LLMCHAT_REALSERVER_BIN, beside the running Python, or on PATH."""
    for folder in (os.environ.get("LLMCHAT_REALSERVER_BIN"), str(Path(sys.executable).parent)):
        if folder and (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    return shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A started server: its root URL and its log file."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]


def start(command: list[str], url: str, ready_path: str, log: Path, env: dict[str, str], wait: float) -> Server:
    """Start `command` and wait (at most `wait` s) until ``url + ready_path`` answers below 500."""
    handle = log.open("wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env=env, cwd=log.parent)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{command[0]} exited at start: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url + ready_path, timeout=2).status_code < 500:
                return Server(url, log, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.terminate()
    pytest.fail(f"{command[0]} did not answer within {wait:g} s: {log.read_text(errors='replace')[-2000:]}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)


def server_env() -> dict[str, str]:
    """The environment for a server: no keys of the developer's, no proxies."""
    drop = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "HTTP_PROXY", "HTTPS_PROXY")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def katan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """llm-katan in echo mode (no model weights) serving the OpenAI, Anthropic and Gemini
    (Vertex) protocols under the model name ``gpt-4o``."""
    path = executable("llm-katan")
    if path is None:
        pytest.skip(f"llm-katan is not installed: {INSTALL}")
    folder = tmp_path_factory.mktemp("katan")
    port = free_port()
    server = start([path, "--model", "echo", "--served-model-name", "gpt-4o", "--backend", "echo",
                    "--providers", "openai,anthropic,vertexai", "--host", "127.0.0.1", "--port", str(port),
                    "--stats-file", str(folder / "stats.json")],
                   f"http://127.0.0.1:{port}", "/health", folder / "katan.log", server_env(), wait=60)
    yield server
    stop(server)


@pytest.fixture(scope="module")
def litellm(katan: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The LiteLLM proxy with ``mock_response`` models and two routes to llm-katan (as an
    OpenAI upstream, and as a vLLM one, which LiteLLM's Responses bridge serves)."""
    path = executable("litellm")
    if path is None:
        pytest.skip(f"the LiteLLM proxy is not installed: {INSTALL}")
    folder = tmp_path_factory.mktemp("litellm")
    (folder / "config.yaml").write_text(f"""\
model_list:
  - model_name: mock-gpt
    litellm_params: {{model: openai/gpt-4o-mini, api_key: sk-fake, mock_response: "{MOCK_TEXT}"}}
  - model_name: mock-overflow
    litellm_params: {{model: openai/gpt-4o-mini, api_key: sk-fake, mock_response: litellm.ContextWindowExceededError}}
  - model_name: katan
    litellm_params: {{model: openai/gpt-4o, api_base: "{katan.url}/v1", api_key: sk-fake}}
  - model_name: katan-bridge
    litellm_params: {{model: hosted_vllm/gpt-4o, api_base: "{katan.url}/v1", api_key: sk-fake}}
general_settings:
  master_key: {MASTER_KEY}
""", encoding="utf-8")
    port = free_port()
    server = start([path, "--config", str(folder / "config.yaml"), "--host", "127.0.0.1", "--port", str(port)],
                   f"http://127.0.0.1:{port}", "/health/liveliness", folder / "litellm.log", server_env(), wait=150)
    yield server
    stop(server)


@pytest.fixture(scope="module")
def sdk_python() -> str:
    """A Python that has the official ``openai`` SDK (the servers' environment has it)."""
    for candidate in (executable("python"), sys.executable):
        if candidate and subprocess.run([candidate, "-c", "import openai"], capture_output=True,
                                        timeout=60).returncode == 0:
            return candidate
    pytest.skip(f"the openai SDK is not installed: {INSTALL}")
