"""Errors of llmchat itself (provider errors live in llmchat.providers.errors).

Hierarchy::

    LlmchatError
    └── ConfigError            a bad config file, option or environment variable
        └── MissingCredentials  no API key and no base URL: llmchat cannot talk to anyone
"""

from __future__ import annotations


class LlmchatError(Exception):
    """Base of llmchat's own errors."""


class ConfigError(LlmchatError):
    """The configuration is invalid; the message names the file or variable and the key."""


class MissingCredentials(ConfigError):
    """No key for a provider that needs one; the message says how to set one."""
