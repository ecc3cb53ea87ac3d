"""`llmchat ask --json`'s added keys (shared/DESIGN.md, "`ask --json`, more keys") and the
cost on the plain status line, end to end: a real subprocess against the loopback server."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import LoopbackServer, Reply, chunk, completion, sse
from tests.test_cli import TIMEOUT, ask, assert_clean_stderr, cli_env

genai_prices = pytest.importorskip("genai_prices")


def answered_by(model: str, tokens: list[str], **usage: Any) -> Reply:
    """A Chat Completions stream whose chunks name `model`, ending with `usage`."""
    objs = [chunk("", role=True)] + [chunk(t) for t in tokens] + [chunk(finish="stop")]
    objs.append(chunk(empty_choices=True, usage=usage))
    for obj in objs:
        obj["model"] = model
    return Reply(parts=[sse(*objs)])


def write_config(text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def reference_cost(model: str, provider_id: str, **usage: int) -> dict[str, float]:
    """The price database's own answer, computed here independently of llmchat."""
    result = genai_prices.calc_price(genai_prices.Usage(**usage), model, provider_id=provider_id)
    return {"input": float(result.input_price), "output": float(result.output_price),
            "total": float(result.total_price)}


def test_json_has_conversation_id_timings_and_the_cost_of_a_known_model(server: LoopbackServer) -> None:
    server.handler = lambda r: answered_by("gpt-4o-mini", ["Hel", "lo"], prompt_tokens=1200,
                                           completion_tokens=300, total_tokens=1500)
    result = ask(server, "--model", "gpt-4o-mini", "--json", "hi")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert isinstance(obj["conversation_id"], str) and obj["conversation_id"]
    timings = obj["timings"]
    assert set(timings) == {"ttft_s", "duration_s"}
    assert isinstance(timings["ttft_s"], float) and isinstance(timings["duration_s"], float)
    assert 0 <= timings["ttft_s"] <= timings["duration_s"]
    expected = reference_cost("gpt-4o-mini", "openai", input_tokens=1200, output_tokens=300)
    cost = obj["cost"]
    assert cost["currency"] == "USD"
    assert cost["input"] == pytest.approx(expected["input"])
    assert cost["output"] == pytest.approx(expected["output"])
    assert cost["total"] == pytest.approx(expected["total"])
    # gpt-4o-mini: $0.15 in, $0.60 out per million tokens
    assert cost["total"] == pytest.approx(1200 * 0.15e-6 + 300 * 0.6e-6)
    assert_clean_stderr(result.stderr)

    # -c goes on with the same conversation, and says so
    server.handler = lambda r: answered_by("gpt-4o-mini", ["again"], prompt_tokens=10,
                                           completion_tokens=1, total_tokens=11)
    again = ask(server, "--model", "gpt-4o-mini", "--json", "-c", "more")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["conversation_id"] == obj["conversation_id"]


def test_cached_input_tokens_are_priced_at_the_cache_price(server: LoopbackServer) -> None:
    server.handler = lambda r: answered_by(
        "gpt-4o", ["ok"], prompt_tokens=2000, completion_tokens=10, total_tokens=2010,
        prompt_tokens_details={"cached_tokens": 1536})
    result = ask(server, "--model", "gpt-4o", "--json", "hi")
    assert result.returncode == 0, result.stderr
    cost = json.loads(result.stdout)["cost"]
    # gpt-4o: $2.50 per million input, $1.25 cached, $10 output
    assert cost["input"] == pytest.approx(464 * 2.5e-6 + 1536 * 1.25e-6)
    assert cost["output"] == pytest.approx(10 * 10e-6)


def test_no_log_gives_a_null_conversation_id(server: LoopbackServer) -> None:
    result = ask(server, "--no-log", "--json", "hi")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["conversation_id"] is None
    assert isinstance(obj["timings"]["duration_s"], float)


def test_cost_is_null_when_the_price_is_unknown_never_zero(server: LoopbackServer) -> None:
    result = ask(server, "--model", "no-such-model-anywhere", "--json", "hi")  # answers as test-model
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["usage"] is not None
    assert obj["cost"] is None


def test_cost_is_null_without_usage(server: LoopbackServer) -> None:
    server.handler = lambda r: Reply(parts=[completion(["x"], usage=False)])
    result = ask(server, "--model", "gpt-4o-mini", "--json", "hi")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cost"] is None


def test_config_prices_override_the_database_for_a_private_model(server: LoopbackServer) -> None:
    write_config('[prices."test-model"]\ninput = 0.5\noutput = 1.5\ncached_input = 0.25\n')
    server.handler = lambda r: answered_by(
        "test-model", ["a", "b"], prompt_tokens=1000, completion_tokens=2000, total_tokens=3000,
        prompt_tokens_details={"cached_tokens": 400})
    result = ask(server, "--json", "hi")
    assert result.returncode == 0, result.stderr
    cost = json.loads(result.stdout)["cost"]
    assert cost == {"input": pytest.approx((600 * 0.5 + 400 * 0.25) / 1e6),
                    "output": pytest.approx(2000 * 1.5 / 1e6),
                    "total": pytest.approx((600 * 0.5 + 400 * 0.25 + 2000 * 1.5) / 1e6),
                    "currency": "USD"}


@pytest.mark.parametrize("table, words", [
    ('[prices."m"]\ninput = -1\noutput = 1\n', "'input' must be a number"),
    ('[prices."m"]\ninput = nan\noutput = 1\n', "'input' must be a number"),
    ('[prices."m"]\ninput = "cheap"\noutput = 1\n', "'input' must be a number"),
    ('[prices."m"]\ninput = 1\n', "'output' is required"),
    ('[prices."m"]\ninput = 1\noutput = 1\nper = 1000\n', "unknown key 'per'"),
    ('prices = 3\n', "'prices' must be a table"),
])
def test_a_bad_price_in_the_config_is_one_clear_line_and_exit_2(
        server: LoopbackServer, table: str, words: str) -> None:
    write_config(table)
    result = ask(server, "--json", "hi")
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and words in lines[0] and "config.toml" in lines[0], lines
    assert server.requests == []


def run_with_stderr_on_tty(server: LoopbackServer, *args: str) -> tuple[int, bytes, bytes]:
    """``llmchat ask ARGS`` with stdout piped and stderr on a pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "llmchat", "ask", *args], env=cli_env(server),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    err = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], TIMEOUT)
            if not ready:
                raise AssertionError(f"no output from {args} in {TIMEOUT} s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            err += data
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, bytes(err)


def test_the_status_line_on_a_terminal_shows_the_cost(server: LoopbackServer) -> None:
    write_config('[prices."test-model"]\ninput = 2\noutput = 8\n')
    server.handler = lambda r: answered_by("test-model", ["Hi"], prompt_tokens=1000, completion_tokens=500,
                                           total_tokens=1500)
    code, out, err = run_with_stderr_on_tty(server, "hi")
    assert code == 0, err
    assert out == b"Hi"
    status = err.decode().strip().splitlines()[-1]
    assert "1000 in / 500 out tokens" in status
    assert "$0.006000" in status  # 1000 * $2/M + 500 * $8/M


def test_the_status_line_leaves_out_an_unknown_cost(server: LoopbackServer) -> None:
    code, out, err = run_with_stderr_on_tty(server, "--model", "no-such-model-anywhere", "hi")
    assert code == 0, err
    status = err.decode().strip().splitlines()[-1]
    assert "tokens" in status and "$" not in status
    assert status.startswith("openai/test-model")  # the model that answered, not the one asked for


# -- [budget] conversation ------------------------------------------------------------------


def test_ask_over_the_conversation_budget_exits_2_before_sending(server: LoopbackServer) -> None:
    write_config('[prices."test-model"]\ninput = 1000\noutput = 1000\n[budget]\nconversation = 0.05\n')
    server.handler = lambda r: answered_by("test-model", ["ok"], prompt_tokens=20, completion_tokens=20,
                                           total_tokens=40)
    first = ask(server, "-m", "test-model", "--json", "hi")  # $0.04: under the cap
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["cost"]["total"] == pytest.approx(0.04)
    sent = len(server.requests)
    again = ask(server, "-m", "test-model", "-c", "and more")  # $0.04 spent + the next input (~30 tokens, $0.03) > $0.05
    assert again.returncode == 2
    lines = again.stderr.decode().splitlines()
    assert len(lines) == 1 and "budget" in lines[0] and "$0.0500" in lines[0] and "$0.0400" in lines[0], lines
    assert len(server.requests) == sent  # nothing sent
    # nothing stored either: the conversation still ends with the first reply
    dry = ask(server, "--dry-run", "--json", "-c", "x")
    assert json.loads(dry.stdout)["messages"] == 3


def test_a_new_conversation_under_the_budget_goes_through(server: LoopbackServer) -> None:
    write_config('[budget]\nconversation = 1.0\n')
    result = ask(server, "-m", "gpt-4o-mini", "hi")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("table, words", [('[budget]\nconversation = 0\n', "above 0"),
                                          ('[budget]\nweek = 1\n', "unknown key 'budget.week'"),
                                          ('budget = 1\n', "'budget' must be a table")])
def test_a_bad_budget_is_one_clear_line(server: LoopbackServer, table: str, words: str) -> None:
    write_config(table)
    result = ask(server, "hi")
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and words in lines[0], lines


def test_ask_over_the_day_budget_exits_2_across_conversations(server: LoopbackServer) -> None:
    write_config('[prices."test-model"]\ninput = 1000\noutput = 1000\n[budget]\nday = 0.09\n')
    server.handler = lambda r: answered_by("test-model", ["ok"], prompt_tokens=20, completion_tokens=20,
                                           total_tokens=40)
    for _ in range(2):  # two new conversations, $0.04 each
        result = ask(server, "-m", "test-model", "hi")
        assert result.returncode == 0, result.stderr
    sent = len(server.requests)
    third = ask(server, "-m", "test-model", "a third conversation")  # $0.08 today + the next input > $0.09
    assert third.returncode == 2
    lines = third.stderr.decode().splitlines()
    assert len(lines) == 1 and "today: $0.0800 so far" in lines[0] and "$0.0900" in lines[0], lines
    assert len(server.requests) == sent
