"""Load: a 50 MB reply streams through `llmchat ask` with bounded memory, byte-exact.

Real subprocesses against the loopback server; peak RSS from ``os.wait4`` of the child,
spawned by a small launcher so that this (large) pytest process does not leak its own size
into the child's figure (see benchmarks/ask_memory.py, which these tests share). Before the
reply text was written ahead in chunk rows and kept only where needed, a 50 MB reply took
about 13.3 MiB of memory per MB with history on (some 700 MiB) and 7.7 with ``--no-log``;
now about 3.2 (the final row's write, inside SQLite) and nothing (docs/performance.md,
"Memory under load").
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.ask_memory import MB, BigReply, child_env, run_ask, serve
from llmchat.ask_output import json_result, write_json
from llmchat.chat.accumulator import Accumulator
from llmchat.config import load_settings
from llmchat.providers.events import ContentDelta, Finish, ReasoningDelta, Usage
from tests.loopback import LoopbackServer

SIZE = 50 * MB
HISTORY_GROWTH_PER_MB = 6.0
"""MiB of peak memory per MB of reply allowed with history on (was 13.3; now 3.2)."""
NO_LOG_GROWTH = 16.0
"""MiB of peak memory allowed over a 1-token reply with ``--no-log``, whatever the size
(was 383 for 50 MB; now under 1)."""


@pytest.fixture(scope="module")
def replies() -> dict[str, BigReply]:
    return {"tokens-1": BigReply.one_token(), "big": BigReply.of_size(SIZE)}


@pytest.fixture(scope="module")
def big_server(replies: dict[str, BigReply]) -> Iterator[LoopbackServer]:
    server = serve(replies)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(150)
def test_a_50_mb_reply_with_history_on_stays_bounded_and_exact(
    tmp_path: Path, big_server: LoopbackServer, replies: dict[str, BigReply]
) -> None:
    env = child_env(tmp_path, big_server.base_url)
    base = run_ask("tokens-1", replies["tokens-1"], "history", env, tmp_path, timeout=60)
    assert base.ok, base.detail
    run = run_ask("big", replies["big"], "history", env, tmp_path, timeout=120)
    assert run.ok, run.detail  # stdout byte-exact, and the stored reply final and complete
    growth = run.rss_mib - base.rss_mib
    assert growth < HISTORY_GROWTH_PER_MB * SIZE / MB, (
        f"peak {run.rss_mib:.0f} MiB for a {SIZE / MB:.0f} MB reply (1-token reply: {base.rss_mib:.0f} MiB)")


@pytest.mark.timeout(150)
def test_a_50_mb_reply_without_history_keeps_nothing(
    tmp_path: Path, big_server: LoopbackServer, replies: dict[str, BigReply]
) -> None:
    env = child_env(tmp_path, big_server.base_url)
    base = run_ask("tokens-1", replies["tokens-1"], "no-log", env, tmp_path, timeout=60)
    assert base.ok, base.detail
    run = run_ask("big", replies["big"], "no-log", env, tmp_path, timeout=120)
    assert run.ok, run.detail
    assert run.rss_mib - base.rss_mib < NO_LOG_GROWTH, (
        f"peak {run.rss_mib:.0f} MiB for a {SIZE / MB:.0f} MB reply (1-token reply: {base.rss_mib:.0f} MiB)")


def test_the_json_object_is_written_in_pieces_with_the_same_bytes(tmp_path: Path) -> None:
    """``--json`` writes content and reasoning from the accumulator's pieces; the object is
    byte for byte what ``json.dumps`` makes of the whole message."""
    settings = load_settings(tmp_path / "none.toml", {"OPENAI_API_KEY": "sk-test"}, model="m")
    acc = Accumulator()
    acc.start()
    tricky = ['"quoted"', "back\\slash", "tab\t", "nl\n", "\x00\x1f", "\u2028", "é東京🚀", "</script>"]
    for i in range(5000):
        acc.add(ContentDelta(f"{tricky[i % len(tricky)]} {i} "))
        if i % 3 == 0:
            acc.add(ReasoningDelta(f"{tricky[-1 - i % len(tricky)]}{i}"))
    acc.add(Usage(3, 5001, 5004))
    acc.add(Finish("stop", "stop"))
    assert len(list(acc.content_chunks())) > 1
    out = io.StringIO()
    write_json(out, settings, acc.message(text=False), acc)
    expected = json.dumps(json_result(settings, acc.message()), ensure_ascii=False) + "\n"
    assert out.getvalue() == expected
    assert json.loads(out.getvalue())["content"] == acc.content
