"""API keys kept by llmchat itself: an owner-only key file, and key commands.

Keys come, in this order, from the environment variable the provider names
(``api_key_env``), from the key file (``llmchat keys set NAME``), or from the profile's
``api_key_cmd`` (a password manager: ``api_key_cmd = "pass show openai"``). A key never
goes into the config file, the history, logs or error messages.

The key file is ``keys.json`` in the config directory, mode 0600 in a 0700 directory. A
key file that others can read is refused with the command that fixes it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from llmchat.errors import ConfigError


def read_keys(path: Path) -> dict[str, str]:
    """The keys in `path` by provider name ({} when there is no file).

    Raises:
        ConfigError: the file is readable or writable by others, or is not a JSON object
            of strings.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} can be read by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"llmchat will not use it: run  chmod 600 {path}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the key file: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError(f"{path}: the key file must be a JSON object of strings")
    return data


def write_keys(path: Path, keys: dict[str, str]) -> None:
    """Write `keys` to `path` atomically, the file 0600 and its directory 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keys, f, indent=1, sort_keys=True)
    os.replace(temporary, path)


def set_key(path: Path, name: str, value: str) -> None:
    """Store `value` as the key of provider `name`."""
    keys = read_keys(path)
    keys[name] = value.strip()
    write_keys(path, keys)


def delete_key(path: Path, name: str) -> bool:
    """Forget the key of provider `name`; False when there was none."""
    keys = read_keys(path)
    if keys.pop(name, None) is None:
        return False
    write_keys(path, keys)
    return True


def run_key_command(command: str, where: str, timeout: float = 30.0) -> str:
    """Run a profile's ``api_key_cmd`` and return the key it prints (first line, stripped).

    Raises:
        ConfigError: the command failed, timed out or printed nothing; the message names
            the command's place in the config, never its output.
    """
    try:
        result = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{where}.api_key_cmd did not finish in {timeout:g} s") from None
    key = result.stdout.strip().splitlines()[0].strip() if result.stdout.strip() else ""
    if result.returncode != 0 or not key:
        raise ConfigError(
            f"{where}.api_key_cmd failed (exit status {result.returncode}"
            f"{', no output' if not key else ''})"
        )
    return key
