"""Prices: the config's own, then the price database, else unknown (llmchat.chat.pricing)."""

from __future__ import annotations

import pytest

from llmchat.chat.pricing import Cost, ModelPrice, PriceSource, format_usd, parse_prices
from llmchat.errors import ConfigError
from llmchat.providers.events import Usage

genai_prices = pytest.importorskip("genai_prices")

LOCAL = "http://127.0.0.1:9/v1"


def reference(model: str, provider_id: str, **usage: int) -> float:
    return float(genai_prices.calc_price(genai_prices.Usage(**usage), model, provider_id=provider_id).total_price)


def test_openai_model_behind_a_local_base_url_is_priced_as_openai() -> None:
    cost = PriceSource("openai", LOCAL, {}).reply_cost(Usage(1000, 100, 1100), "gpt-4o-mini")
    assert cost is not None
    assert cost.total == pytest.approx(1000 * 0.15e-6 + 100 * 0.6e-6)
    assert cost.total == pytest.approx(reference("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=100))


def test_the_answering_model_is_priced_first_then_the_one_asked_for() -> None:
    source = PriceSource("openai", LOCAL, {})
    dated = source.reply_cost(Usage(1000, 0, 1000), "gpt-4o-2024-08-06", "gpt-4o-mini")
    assert dated is not None and dated.input == pytest.approx(1000 * 2.5e-6)  # gpt-4o, not -mini
    fallback = source.reply_cost(Usage(1000, 0, 1000), "some-proxy-alias", "gpt-4o-mini")
    assert fallback is not None and fallback.input == pytest.approx(1000 * 0.15e-6)


def test_gemini_thinking_tokens_are_billed_as_output() -> None:
    # parse_usage: output = candidates + thoughts, reasoning_tokens = thoughts
    usage = Usage(input_tokens=100, output_tokens=250, total_tokens=350, reasoning_tokens=200)
    cost = PriceSource("gemini", "https://generativelanguage.googleapis.com", {}).reply_cost(
        usage, "gemini-2.5-flash")
    assert cost is not None
    assert cost.output == pytest.approx(250 * 2.5e-6)
    assert cost.input == pytest.approx(100 * 0.3e-6)


def test_anthropic_cache_reads_cost_a_tenth() -> None:
    usage = Usage(input_tokens=10_000, output_tokens=0, total_tokens=10_000, cached_tokens=8_000)
    cost = PriceSource("anthropic", "http://127.0.0.1:9", {}).reply_cost(usage, "claude-3-5-haiku-latest")
    assert cost is not None
    plain = reference("claude-3-5-haiku-latest", "anthropic", input_tokens=10_000)
    assert cost.input == pytest.approx(plain * (2_000 + 800) / 10_000)


def test_a_router_url_uses_the_router_prices() -> None:
    source = PriceSource("openai", "https://openrouter.ai/api/v1", {})
    cost = source.reply_cost(Usage(1000, 1000, 2000), "anthropic/claude-3.5-sonnet")
    assert cost is not None
    assert cost.total == pytest.approx(reference("anthropic/claude-3.5-sonnet", "openrouter",
                                                 input_tokens=1000, output_tokens=1000))
    # a model that router does not list is not guessed from another provider's list
    assert source.reply_cost(Usage(1000, 1000, 2000), "gpt-4o") is None


def test_local_models_and_unknown_names_have_no_price() -> None:
    assert PriceSource("ollama", "http://127.0.0.1:11434", {}).reply_cost(Usage(10, 10, 20), "gpt-4o") is None
    assert PriceSource("openai", LOCAL, {}).reply_cost(Usage(10, 10, 20), "my-finetune-xyz") is None
    assert PriceSource("openai", LOCAL, {}).reply_cost(None, "gpt-4o") is None


def test_config_price_wins_and_prices_local_models() -> None:
    prices = {"llama3.2": ModelPrice(input=1.0, output=2.0), "gpt-4o": ModelPrice(input=0.0, output=0.0)}
    ollama = PriceSource("ollama", "http://127.0.0.1:11434", prices)
    assert ollama.reply_cost(Usage(1_000_000, 500_000, 1_500_000), "llama3.2") == Cost(1.0, 1.0)
    free = PriceSource("openai", LOCAL, prices).reply_cost(Usage(10, 10, 20), "gpt-4o")
    assert free == Cost(0.0, 0.0)  # a zero the user wrote is a real zero


def test_a_turn_is_priced_per_round_and_unknown_if_any_round_is() -> None:
    source = PriceSource("openai", LOCAL, {"m": ModelPrice(input=1.0, output=1.0)})
    rounds = [(Usage(100, 10, 110), None), (Usage(200, 20, 220), "m")]
    total = source.turn_cost(rounds, "m")
    assert total is not None
    assert (total.input, total.output) == (pytest.approx(300e-6), pytest.approx(30e-6))
    assert source.turn_cost([*rounds, (None, None)], "m") is None


def test_context_window_from_the_database() -> None:
    assert PriceSource("openai", LOCAL, {}).context_window("gpt-4o-mini") == 128_000
    assert PriceSource("openai", LOCAL, {}).context_window("my-finetune-xyz") is None


def test_cost_json_shape() -> None:
    assert Cost(0.25, 0.5).as_json() == {"input": 0.25, "output": 0.5, "total": 0.75, "currency": "USD"}


@pytest.mark.parametrize("amount, shown", [(12.3456, "$12.35"), (0.01234, "$0.0123"), (0.00015, "$0.000150"),
                                            (0.0, "$0.000000")])
def test_format_usd(amount: float, shown: str) -> None:
    assert format_usd(amount) == shown


def test_parse_prices_accepts_whole_numbers_and_optional_cache_price() -> None:
    assert parse_prices({"a": {"input": 1, "output": 2.5}}, "f") == {"a": ModelPrice(1.0, 2.5)}
    assert parse_prices({"a": {"input": 1, "output": 2, "cached_input": 0.1}}, "f")["a"].cached_input == 0.1


@pytest.mark.parametrize("table", [{"a": 3}, {"a": {"input": True, "output": 1}}, {"a": {"input": 1e7, "output": 1}},
                                   {"a": {"input": float("inf"), "output": 1}}, [1]])
def test_parse_prices_rejects(table: object) -> None:
    with pytest.raises(ConfigError):
        parse_prices(table, "f")


def test_anthropic_cache_writes_cost_more_than_plain_input() -> None:
    source = PriceSource("anthropic", "http://127.0.0.1:9", {})
    plain = source.reply_cost(Usage(10_000, 0, 10_000), "claude-3-5-haiku-latest")
    written = source.reply_cost(Usage(10_000, 0, 10_000, cache_write_tokens=10_000), "claude-3-5-haiku-latest")
    assert plain is not None and written is not None
    assert written.input == pytest.approx(plain.input * 1.25)  # Anthropic's 5-minute cache write
