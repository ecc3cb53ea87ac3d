"""What ``/compare`` needs to know of the providers and profiles besides the one in use: which
can be offered in the palette's picker, and where a compared reply's price is looked up.

Both read the config the way ``/provider`` does (``load_settings`` for that name, with the
process environment and the key file); they may read files, so callers run them in a thread.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from llmchat.chat.models import Message
from llmchat.chat.pricing import PriceSource
from llmchat.config import BUILTIN_PROFILES, ProviderSettings, Settings, load_settings
from llmchat.errors import ConfigError


def _profile(settings: Settings, name: str) -> ProviderSettings:
    from llmchat import paths

    return load_settings(settings.config_path, os.environ, provider=name, keys_path=paths.keys_file()).provider


def usable_providers(settings: Settings, exclude: str) -> list[tuple[str, str]]:
    """(``NAME:``, ``"NAME: model"``) for every built-in provider and config profile but
    `exclude` that can be used as configured (a hosted one needs its key), sorted by name:
    ``NAME:`` compares its configured model."""
    found = []
    for name in sorted({*BUILTIN_PROFILES, *settings.profiles} - {exclude}):
        try:
            profile = _profile(settings, name)
        except ConfigError:  # a profile that cannot be read is not offered
            continue
        if not profile.missing_credentials():
            found.append((f"{name}:", f"{name}: {profile.model}"))
    return found


def reply_costs(settings: Settings, replies: Sequence[tuple[str, str, Message | None]]) -> list[float | None]:
    """The cost of each reply in USD (None: no usage, or no known price), from
    (provider or profile name, model asked for, reply): each priced by its own provider's
    wire format and base URL, and the config's ``[prices]``."""
    costs: list[float | None] = []
    for name, model, message in replies:
        if message is None or message.usage is None:
            costs.append(None)
            continue
        try:
            profile = _profile(settings, name)
        except ConfigError:
            costs.append(None)
            continue
        cost = PriceSource(profile.kind, profile.base_url, settings.prices).reply_cost(
            message.usage, message.model, model)
        costs.append(cost.total if cost is not None else None)
    return costs
