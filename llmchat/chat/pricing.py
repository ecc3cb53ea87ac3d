"""What a reply costs, in US dollars: the price database and the config's own prices.

Prices come from two places, in this order:

1. the config file's ``[prices."MODEL"]`` tables (USD per million tokens), for private
   deployments and models the database does not know::

       [prices."my-model"]
       input = 0.5          # per million input tokens
       output = 1.5         # per million output tokens (reasoning tokens are output tokens)
       cached_input = 0.05  # optional: per million cached input tokens (default: input)

2. `genai-prices <https://github.com/pydantic/genai-prices>`_ (pydantic's maintained price
   database: tiered prices, cache reads, per-provider prices), when it is installed
   (a dependency). It is imported on the first price asked for, never at
   start-up, and it never goes to the network (its bundled snapshot is used).

A model that neither knows has no price: :func:`reply_cost` returns None, never a made-up zero.

Usage follows :class:`~llmchat.providers.events.Usage`: ``input_tokens`` includes the cached
input tokens (``cached_tokens``, billed at the cache-read price) and those written to the cache
(``cache_write_tokens``, Anthropic's cache writes, billed above the input price), and
``output_tokens`` includes the reasoning tokens, which every provider bills at its output price.
A config price has no cache-write price: those tokens cost the input price there.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from llmchat.errors import ConfigError
from llmchat.providers.events import Usage

PER = 1_000_000
"""Config prices are USD per this many tokens."""

_PROVIDER_IDS = {"openai": "openai", "openai-responses": "openai", "anthropic": "anthropic", "gemini": "google"}
"""The price database's provider for each wire format, when the base URL names none (a proxy,
a test server). Ollama runs local models: no price unless the config gives one."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A model's price from the config, in USD per million tokens."""

    input: float
    """Per million input tokens (not cached)."""
    output: float
    """Per million output tokens (reasoning included)."""
    cached_input: float | None = None
    """Per million cached input tokens; None: the input price."""


@dataclass(frozen=True, slots=True)
class Cost:
    """The price of some usage, in US dollars."""

    input: float
    output: float
    currency: str = "USD"

    @property
    def total(self) -> float:
        """Input plus output."""
        return self.input + self.output

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.input + other.input, self.output + other.output, self.currency)

    def as_json(self) -> dict[str, Any]:
        """``{"input", "output", "total", "currency"}`` (shared/DESIGN.md, "`ask --json`, more keys")."""
        return {"input": self.input, "output": self.output, "total": self.total, "currency": self.currency}


@dataclass(frozen=True, slots=True)
class PriceSource:
    """Where prices are looked up for one provider: its wire format, base URL and the
    config's prices (see the module docstring)."""

    kind: str
    base_url: str
    overrides: Mapping[str, ModelPrice]

    def reply_cost(self, usage: Usage | None, *models: str | None) -> Cost | None:
        """The cost of one reply's `usage`, priced as the first of `models` with a known
        price (pass the model that answered, then the one asked for); None when the usage
        or every price is unknown."""
        if usage is None:
            return None
        for model in _names(models):
            price = self.overrides.get(model)
            if price is not None:
                return _cost_from(price, usage)
        for model in _names(models):
            cost = _database_cost(model, self.kind, self.base_url, usage.input_tokens,
                                  usage.output_tokens, usage.cached_tokens or 0, usage.cache_write_tokens or 0)
            if cost is not None:
                return cost
        return None

    def input_cost(self, tokens: int, *models: str | None) -> Cost | None:
        """The cost of sending `tokens` input tokens (none cached) to the first of `models`
        with a known price; None when none is known."""
        return self.reply_cost(Usage(tokens, 0, tokens), *models)

    def turn_cost(self, usages: Iterable[tuple[Usage | None, str | None]], model: str) -> Cost | None:
        """The cost of several replies (the rounds of a tool loop), each priced on its own
        (a tier applies per request); None when any reply's cost is unknown."""
        total: Cost | None = None
        for usage, answered in usages:
            cost = self.reply_cost(usage, answered, model)
            if cost is None:
                return None
            total = cost if total is None else total + cost
        return total

    def context_window(self, *models: str | None) -> int | None:
        """The context window the price database gives for the first of `models` it knows
        (tokens), or None."""
        for model in _names(models):
            window = _database_window(model, self.kind, self.base_url)
            if window is not None:
                return window
        return None


def _names(models: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for model in models:
        if model and model not in seen:
            seen.append(model)
    return seen


def _cost_from(price: ModelPrice, usage: Usage) -> Cost:
    cached = min(max(usage.cached_tokens or 0, 0), usage.input_tokens)
    cached_price = price.input if price.cached_input is None else price.cached_input
    return Cost(
        input=((usage.input_tokens - cached) * price.input + cached * cached_price) / PER,
        output=usage.output_tokens * price.output / PER,
    )


@lru_cache(maxsize=256)
def _database_model(model: str, kind: str, base_url: str) -> Any:
    """``(calc_price, model_ref, lookup keywords)`` that find `model` in the database, or None."""
    try:
        from genai_prices import Usage as DbUsage
        from genai_prices import calc_price
    except ImportError:  # the [meter] extra is not installed
        return None
    attempts: list[tuple[str, dict[str, str]]] = []
    if base_url:
        attempts.append((model, {"provider_api_url": base_url}))
    provider_id = _PROVIDER_IDS.get(kind)
    if provider_id is not None:
        attempts.append((model, {"provider_id": provider_id}))
        if "/" in model:  # a router's "vendor/model" through a proxy
            vendor, _, name = model.partition("/")
            attempts.append((name, {"provider_id": vendor}))
        attempts.append((model, {}))
    probe = DbUsage(input_tokens=0, output_tokens=0)
    for ref, where in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                calc_price(probe, ref, **where)  # type: ignore[call-overload]
        except (LookupError, ValueError):
            if "provider_api_url" in where and _known_url(base_url):
                return None  # that provider's own list does not have it: no guessing elsewhere
            continue
        return calc_price, DbUsage, ref, where
    return None


def _known_url(base_url: str) -> bool:
    """Whether the price database names a provider for `base_url`."""
    try:
        from genai_prices.data_snapshot import get_snapshot

        get_snapshot().find_provider(None, None, base_url)
    except (ImportError, LookupError):
        return False
    return True


def _database_cost(
    model: str, kind: str, base_url: str, inp: int, out: int, cached: int, written: int = 0
) -> Cost | None:
    found = _database_model(model, kind, base_url)
    if found is None:
        return None
    calc_price, db_usage, ref, where = found
    cached = min(cached, inp)
    written = min(written, inp - cached)
    usage = db_usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cached or None,
                     cache_write_tokens=written or None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = calc_price(usage, ref, **where)
    except (LookupError, ValueError):
        return None
    return Cost(input=float(result.input_price), output=float(result.output_price))


def _database_window(model: str, kind: str, base_url: str) -> int | None:
    found = _database_model(model, kind, base_url)
    if found is None:
        return None
    calc_price, db_usage, ref, where = found
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            window = calc_price(db_usage(input_tokens=0, output_tokens=0), ref, **where).model.context_window
    except (LookupError, ValueError):
        return None
    return window if isinstance(window, int) and window > 0 else None


def parse_prices(table: Any, where: str) -> dict[str, ModelPrice]:
    """The config's ``[prices."MODEL"]`` tables, validated.

    Args:
        table: the value of the config's ``prices`` key.
        where: the config file's name, for messages.

    Returns:
        model name -> :class:`ModelPrice`.

    Raises:
        ConfigError: not a table, an unknown key, a missing ``input`` or ``output``, or a
            price that is not a finite number from 0 to 1,000,000; the message names the
            file and the key.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f'{where}: \'prices\' must be a table ([prices."MODEL"])')
    prices: dict[str, ModelPrice] = {}
    for model, entry in table.items():
        here = f"{where}: prices.{model!r}" if not str(model).isidentifier() else f"{where}: prices.{model}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{here} must be a table (input = ..., output = ...)")
        for key in entry:
            if key not in ("input", "output", "cached_input"):
                raise ConfigError(f"{here}: unknown key {key!r} (known: cached_input, input, output)")
        values: dict[str, float] = {}
        for key in ("input", "output", "cached_input"):
            if key not in entry:
                if key == "cached_input":
                    continue
                raise ConfigError(f"{here}: {key!r} is required (USD per million tokens)")
            value = entry[key]
            if (
                isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or not 0 <= value <= PER
            ):
                raise ConfigError(
                    f"{here}: {key!r} must be a number of USD per million tokens from 0 to {PER} (got {value!r})"
                )
            values[key] = float(value)
        prices[str(model)] = ModelPrice(**values)
    return prices


def format_usd(amount: float) -> str:
    """`amount` dollars for a status line: cents above a dollar, more digits below
    (``$1.25``, ``$0.0123``, ``$0.000150``)."""
    if amount >= 1:
        return f"${amount:,.2f}"
    if amount >= 0.01:
        return f"${amount:.4f}"
    return f"${amount:.6f}"


def parse_budget(table: Any, where: str) -> dict[str, float]:
    """The config's ``[budget]`` table: ``conversation`` = USD one conversation may cost,
    ``day`` = USD all replies of a day (local time) may cost; each optional.

    Raises:
        ConfigError: not a table, an unknown key, or a value that is not a finite number above
            0; the message names the file and the key.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: 'budget' must be a table ([budget] conversation = USD, day = USD)")
    caps: dict[str, float] = {}
    for key, value in table.items():
        if key not in ("conversation", "day"):
            raise ConfigError(f"{where}: unknown key 'budget.{key}' (known: conversation, day)")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{where}: 'budget.{key}' must be a number of USD above 0 (got {value!r})")
        caps[key] = float(value)
    return caps


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """What a conversation has cost and what its next request would add (input only: the
    reply's length is not known before it is written)."""

    spent: float
    """USD of the replies with a known price."""
    next_input: float
    """USD of the next request's input (0 when its price is unknown)."""
    unpriced: int
    """Replies whose cost is unknown (not in :attr:`spent`)."""

    def over(self, cap: float) -> bool:
        """Whether the conversation, with the next request, passes `cap` USD."""
        return self.spent + self.next_input > cap

    def describe(self, cap: float, what: str = "this conversation") -> str:
        """One line: what was spent, what comes, the cap (`what`: "this conversation", "today")."""
        unpriced = f" (+ {self.unpriced} replies of unknown price)" if self.unpriced else ""
        return (f"{what}: {format_usd(self.spent)} so far{unpriced}, and the next request adds about "
                f"{format_usd(self.next_input)}: over the budget of {format_usd(cap)}")


def budget_check(source: PriceSource, replies: Iterable[tuple[Usage | None, str | None]], model: str,
                 next_input_tokens: int) -> BudgetCheck:
    """Sum the cost of `replies` ((usage, answering model) each) and price the next request's
    `next_input_tokens` for `model`."""
    spent, unpriced = 0.0, 0
    for usage, answered in replies:
        cost = source.reply_cost(usage, answered, model)
        if cost is None:
            unpriced += 1
        else:
            spent += cost.total
    upcoming = source.input_cost(next_input_tokens, model)
    return BudgetCheck(spent, upcoming.total if upcoming else 0.0, unpriced)
