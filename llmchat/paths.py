"""Where llmchat keeps its files. The only module that asks platformdirs.

Everything else receives directories as parameters, so tests pass temporary ones.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "llmchat"


def config_dir() -> Path:
    """The user's config directory (``$XDG_CONFIG_HOME/llmchat`` on Linux)."""
    return platformdirs.user_config_path(APP_NAME)


def config_file() -> Path:
    """The TOML config file: ``config_dir()/config.toml``."""
    return config_dir() / "config.toml"


def keys_file() -> Path:
    """The owner-only key file: ``config_dir()/keys.json`` (see llmchat.keys)."""
    return config_dir() / "keys.json"


def mcp_config_file() -> Path:
    """The MCP servers, in Claude Desktop's format: ``config_dir()/mcp.json`` (see llmchat.mcp)."""
    return config_dir() / "mcp.json"


def mcp_log_dir() -> Path:
    """Each MCP server's stderr and protocol errors: ``state_dir()/mcp/NAME.log``."""
    return state_dir() / "mcp"


def data_dir() -> Path:
    """The user's data directory (``$XDG_DATA_HOME/llmchat`` on Linux)."""
    return platformdirs.user_data_path(APP_NAME)


def history_db() -> Path:
    """The SQLite history: ``data_dir()/history.db``."""
    return data_dir() / "history.db"


def state_dir() -> Path:
    """The user's state directory, for logs (``$XDG_STATE_HOME/llmchat`` on Linux)."""
    return platformdirs.user_state_path(APP_NAME)


def cache_dir() -> Path:
    """The user's cache directory (``$XDG_CACHE_HOME/llmchat`` on Linux): files llmchat can
    make again (the tokenizer's encoding files)."""
    return platformdirs.user_cache_path(APP_NAME)


def builtin_themes_dir() -> Path:
    """The shipped themes: ``llmchat/themes`` in a wheel, the repo's ``themes/`` in a checkout."""
    packaged = Path(__file__).parent / "themes"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "themes"


def user_themes_dir() -> Path:
    """The user's own themes: ``config_dir()/themes``."""
    return config_dir() / "themes"


def ui_state_file() -> Path:
    """Small UI choices remembered between sessions (the theme): ``state_dir()/ui.json``."""
    return state_dir() / "ui.json"


def private_dirs() -> list[Path]:
    """Every directory llmchat keeps its own files in: config (keys, MCP servers), data
    (history), state (logs) and cache. The file tools never read them (llmchat.chat.sensitive)."""
    return [config_dir(), data_dir(), state_dir(), cache_dir()]
