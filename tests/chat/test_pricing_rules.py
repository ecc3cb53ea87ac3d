"""Pricing rules its main tests leave open (llmchat.chat.pricing): both sides of every limit of
the config's prices and budget, the budget check at exactly the cap, cached tokens past the
input, which names are tried and in what order, each wire format's provider in the database,
and the USD format's thresholds."""

from __future__ import annotations

import pytest

from llmchat.chat.pricing import (
    BudgetCheck,
    Cost,
    ModelPrice,
    PriceSource,
    budget_check,
    format_usd,
    parse_budget,
    parse_prices,
)
from llmchat.errors import ConfigError
from llmchat.providers.events import Usage

LOCAL = "http://127.0.0.1:9/v1"
MILLION = 1_000_000


@pytest.mark.parametrize(("amount", "shown"), [
    (1.0, "$1.00"), (0.999, "$0.9990"), (1234.5, "$1,234.50"), (1_000_000.0, "$1,000,000.00"),
    (0.01, "$0.0100"), (0.00999, "$0.009990"), (0.0099999, "$0.010000"), (0.0, "$0.000000"),
])
def test_the_usd_format_on_both_sides_of_each_threshold(amount: float, shown: str) -> None:
    assert format_usd(amount) == shown


def test_costs_add_up() -> None:
    total = Cost(0.25, 0.5) + Cost(1.0, 2.0)
    assert (total.input, total.output, total.total, total.currency) == (1.25, 2.5, 3.75, "USD")
    assert Cost(0.25, 0.5, "EUR").__add__(Cost(1.0, 1.0)).currency == "EUR"


@pytest.mark.parametrize(("usage", "cost"), [
    (Usage(MILLION, MILLION, 0), Cost(2.0, 8.0)),
    (Usage(MILLION, 0, 0, cached_tokens=MILLION // 2), Cost(1.0 + 0.25, 0.0)),  # half at the cached price
    (Usage(MILLION, 0, 0, cached_tokens=2 * MILLION), Cost(0.5, 0.0)),  # no more cached than input
    (Usage(MILLION, 0, 0, cached_tokens=-5), Cost(2.0, 0.0)),  # nonsense: none cached
    (Usage(MILLION, 0, 0, cached_tokens=None), Cost(2.0, 0.0)),
    (Usage(0, 500_000, 0), Cost(0.0, 4.0)),
])
def test_a_config_price_with_a_cached_price(usage: Usage, cost: Cost) -> None:
    source = PriceSource("ollama", LOCAL, {"m": ModelPrice(input=2.0, output=8.0, cached_input=0.5)})
    found = source.reply_cost(usage, "m")
    assert found is not None
    assert (found.input, found.output) == (pytest.approx(cost.input), pytest.approx(cost.output))


def test_a_config_price_without_a_cached_price_charges_cached_tokens_as_input() -> None:
    source = PriceSource("ollama", LOCAL, {"m": ModelPrice(input=2.0, output=8.0)})
    assert source.reply_cost(Usage(MILLION, 0, 0, cached_tokens=MILLION // 2), "m") == Cost(2.0, 0.0)


def test_the_first_model_with_a_price_is_used_and_names_are_tried_once() -> None:
    prices = {"asked": ModelPrice(1.0, 1.0), "answered": ModelPrice(3.0, 3.0)}
    source = PriceSource("ollama", LOCAL, prices)
    usage = Usage(MILLION, 0, 0)
    assert source.reply_cost(usage, "answered", "asked") == Cost(3.0, 0.0)
    assert source.reply_cost(usage, None, "asked") == Cost(1.0, 0.0)
    assert source.reply_cost(usage, "", "unknown", "asked") == Cost(1.0, 0.0)
    assert source.reply_cost(usage) is None
    # a config price for the model asked for wins over a database price for the one that answered
    mixed = PriceSource("openai", LOCAL, {"alias": ModelPrice(1.0, 1.0)})
    assert mixed.reply_cost(usage, "gpt-4o-mini", "alias") == Cost(1.0, 0.0)
    # the database is asked for each name in turn
    database = PriceSource("openai", LOCAL, {})
    found = database.reply_cost(Usage(1000, 0, 1000), "no-such-model", "gpt-4o-mini")
    assert found is not None and found.input == pytest.approx(1000 * 0.15e-6)


def test_input_cost_prices_input_tokens_only() -> None:
    source = PriceSource("ollama", LOCAL, {"m": ModelPrice(2.0, 8.0, cached_input=0.0)})
    assert source.input_cost(MILLION, "m") == Cost(2.0, 0.0)  # none of it cached
    assert source.input_cost(MILLION, "x") is None
    assert source.input_cost(0, "m") == Cost(0.0, 0.0)


def test_a_turn_of_no_rounds_and_of_several() -> None:
    source = PriceSource("ollama", LOCAL, {"m": ModelPrice(1.0, 2.0), "n": ModelPrice(10.0, 20.0)})
    assert source.turn_cost([], "m") is None
    assert source.turn_cost([(Usage(MILLION, MILLION, 0), "n"), (Usage(MILLION, 0, 0), None)], "m") == Cost(11.0, 20.0)
    assert source.turn_cost([(Usage(1, 1, 2), "x")], "m") == Cost(1e-6, 2e-6)  # the asked model's price
    assert source.turn_cost([(Usage(1, 1, 2), "x")], "y") is None


@pytest.mark.parametrize(("kind", "model", "priced"), [
    ("openai", "gpt-4o-mini", True),
    ("openai-responses", "gpt-4o-mini", True),  # the Responses API: OpenAI's prices
    ("anthropic", "claude-3-5-haiku-latest", True),
    ("gemini", "gemini-2.5-flash", True),
    ("openai", "anthropic/claude-3-5-haiku-latest", True),  # a router's vendor/model behind a proxy
    ("ollama", "gpt-4o-mini", False),  # local models: no price unless the config gives one
    ("ollama", "claude-3-5-haiku-latest", False),
    ("something-else", "gpt-4o-mini", False),
])
def test_each_wire_format_names_its_provider_to_the_database(kind: str, model: str, priced: bool) -> None:
    cost = PriceSource(kind, LOCAL, {}).reply_cost(Usage(1000, 0, 1000), model)
    assert (cost is not None) is priced
    window = PriceSource(kind, LOCAL, {}).context_window(model)
    assert (window is not None and window > 0) is priced


def test_a_known_providers_url_is_not_guessed_past() -> None:
    official = PriceSource("openai", "https://api.openai.com/v1", {})
    assert official.reply_cost(Usage(1000, 0, 1000), "gpt-4o-mini") is not None
    assert official.reply_cost(Usage(1000, 0, 1000), "claude-3-5-haiku-latest") is None
    # an unknown URL (a proxy, a test server) falls back to the wire format's provider
    assert PriceSource("openai", "", {}).reply_cost(Usage(1000, 0, 1000), "gpt-4o-mini") is not None


def test_cached_and_written_tokens_are_never_more_than_the_input() -> None:
    source = PriceSource("anthropic", LOCAL, {})
    model = "claude-3-5-haiku-latest"
    plain = source.reply_cost(Usage(1000, 0, 1000), model)
    all_cached = source.reply_cost(Usage(1000, 0, 1000, cached_tokens=1000), model)
    over_cached = source.reply_cost(Usage(1000, 0, 1000, cached_tokens=9000), model)
    assert plain and all_cached and over_cached
    assert over_cached == all_cached and all_cached.input == pytest.approx(plain.input / 10)
    exact = source.reply_cost(Usage(1000, 0, 1000, cached_tokens=600, cache_write_tokens=400), model)
    over = source.reply_cost(Usage(1000, 0, 1000, cached_tokens=600, cache_write_tokens=5000), model)
    assert exact == over
    assert exact is not None and exact.input == pytest.approx(plain.input * (0.6 * 0.1 + 0.4 * 1.25))


def test_the_context_window_of_the_first_known_model() -> None:
    source = PriceSource("openai", LOCAL, {})
    assert source.context_window(None, "", "no-such-model", "gpt-4o") == 128_000
    assert source.context_window() is None
    assert source.context_window("no-such-model") is None


@pytest.mark.parametrize("value", [0, 0.0, 1_000_000, 1e6, 0.000001, 3])
def test_a_price_from_zero_to_a_million_is_accepted(value: float) -> None:
    assert parse_prices({"m": {"input": value, "output": value, "cached_input": value}}, "f") == {
        "m": ModelPrice(float(value), float(value), float(value))}


@pytest.mark.parametrize(("entry", "message"), [
    ({"input": -0.000001, "output": 1}, "f: prices.m: 'input' must be a number of USD per million tokens from 0 to "
                                        "1000000 (got -1e-06)"),
    ({"input": 1, "output": 1_000_000.5}, "'output' must be a number of USD per million tokens from 0 to 1000000 "
                                          "(got 1000000.5)"),
    ({"input": 1, "output": 1, "cached_input": -1}, "'cached_input' must be a number"),
    ({"input": float("nan"), "output": 1}, "'input' must be a number"),
    ({"input": float("-inf"), "output": 1}, "'input' must be a number"),
    ({"input": "1", "output": 1}, "(got '1')"),
    ({"input": None, "output": 1}, "(got None)"),
    ({"input": 1, "output": False}, "'output' must be a number"),
    ({"output": 1}, "f: prices.m: 'input' is required (USD per million tokens)"),
    ({"input": 1}, "f: prices.m: 'output' is required (USD per million tokens)"),
    ({"input": 1, "output": 1, "cache": 1}, "f: prices.m: unknown key 'cache' (known: cached_input, input, output)"),
])
def test_a_bad_price_is_named_with_its_file_and_key(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_prices({"m": entry}, "f")
    assert message in str(caught.value)


def test_price_tables_name_the_model_as_toml_would() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_prices({"my-model:7b": 3}, "config.toml")
    assert str(caught.value) == "config.toml: prices.'my-model:7b' must be a table (input = ..., output = ...)"
    with pytest.raises(ConfigError) as caught:
        parse_prices({"gpt4": []}, "config.toml")
    assert str(caught.value) == "config.toml: prices.gpt4 must be a table (input = ..., output = ...)"
    with pytest.raises(ConfigError) as caught:
        parse_prices([], "config.toml")
    assert str(caught.value) == "config.toml: 'prices' must be a table ([prices.\"MODEL\"])"
    assert parse_prices({}, "f") == {}
    assert parse_prices({"a": {"input": 1, "output": 2}, "b": {"output": 3, "input": 4}}, "f") == {
        "a": ModelPrice(1.0, 2.0), "b": ModelPrice(4.0, 3.0)}
    assert parse_prices({"a": {"input": 1, "output": 2}}, "f")["a"].cached_input is None


@pytest.mark.parametrize(("table", "caps"), [
    ({}, {}), ({"conversation": 0.5}, {"conversation": 0.5}), ({"day": 2}, {"day": 2.0}),
    ({"conversation": 1e-9, "day": 1e9}, {"conversation": 1e-9, "day": 1e9}),
])
def test_a_budget_above_zero_is_accepted(table: dict[str, object], caps: dict[str, float]) -> None:
    parsed = parse_budget(table, "f")
    assert parsed == caps and all(type(v) is float for v in parsed.values())


@pytest.mark.parametrize(("table", "message"), [
    ({"conversation": 0}, "f: 'budget.conversation' must be a number of USD above 0 (got 0)"),
    ({"day": -1}, "f: 'budget.day' must be a number of USD above 0 (got -1)"),
    ({"day": True}, "(got True)"),
    ({"day": float("inf")}, "(got inf)"),
    ({"day": float("nan")}, "(got nan)"),
    ({"day": "5"}, "(got '5')"),
    ({"week": 5}, "f: unknown key 'budget.week' (known: conversation, day)"),
    ([1], "f: 'budget' must be a table ([budget] conversation = USD, day = USD)"),
])
def test_a_bad_budget_is_named_with_its_file_and_key(table: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_budget(table, "f")
    assert message in str(caught.value)


@pytest.mark.parametrize(("spent", "upcoming", "over"), [
    (0.75, 0.25, False),  # exactly the cap is not over it
    (0.75, 0.2500001, True),
    (1.0, 0.0, False),
    (1.0000001, 0.0, True),
    (0.0, 1.5, True),
])
def test_the_budget_is_over_only_past_the_cap(spent: float, upcoming: float, over: bool) -> None:
    assert BudgetCheck(spent, upcoming, 0).over(1.0) is over


def test_the_budget_line() -> None:
    assert BudgetCheck(0.5, 0.02, 0).describe(0.51) == (
        "this conversation: $0.5000 so far, and the next request adds about $0.0200: over the budget of $0.5100")
    assert BudgetCheck(1.5, 0.0, 3).describe(1.0, "today") == (
        "today: $1.50 so far (+ 3 replies of unknown price), and the next request adds about $0.000000: "
        "over the budget of $1.00")


def test_budget_check_sums_priced_replies_and_counts_the_others() -> None:
    source = PriceSource("ollama", LOCAL, {"m": ModelPrice(1.0, 2.0), "n": ModelPrice(4.0, 4.0)})
    check = budget_check(source, [(Usage(MILLION, MILLION, 0), None), (None, "m"), (Usage(MILLION, 0, 0), "x"),
                                  (None, None), (Usage(MILLION, 0, 0), "n"), (None, "n")], "m", MILLION // 2)
    assert (check.spent, check.next_input, check.unpriced) == (pytest.approx(3.0 + 1.0 + 4.0), pytest.approx(0.5), 3)
    unknown = budget_check(source, [(Usage(1, 1, 2), "x")], "x", 1000)
    assert (unknown.spent, unknown.next_input, unknown.unpriced) == (0.0, 0.0, 1)
