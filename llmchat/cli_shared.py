"""What the commands of the command line share: the user's choices on top of the settings,
the one-line error exit, the history store and the credentials check.

Used by :mod:`llmchat.cli_ask` (``llmchat ask``), :mod:`llmchat.cli_app` (the Typer
application) and :mod:`llmchat.serve`; it imports none of them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmchat import paths
from llmchat.errors import ConfigError

if TYPE_CHECKING:
    from llmchat.config import Settings
    from llmchat.store import Store


@dataclass
class Choice:
    """What the user chose on the command line (None: not given)."""

    provider: str | None = None
    model: str | None = None
    system: str | None = None
    theme: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def over(self, parent: Choice) -> Choice:
        """These choices, falling back to `parent`'s (options given here win)."""
        return Choice(
            self.provider or parent.provider,
            self.model or parent.model,
            self.system if self.system is not None else parent.system,
            self.theme or parent.theme,
            {**parent.options, **{k: v for k, v in self.options.items() if v not in (None, [])}},
        )

    def settings(self) -> Settings:
        """Load settings with these choices on top, or exit 2 with the config problem."""
        from llmchat.config import load_settings

        try:
            return load_settings(
                paths.config_file(), os.environ, provider=self.provider, model=self.model,
                system=self.system, theme=self.theme, options=self.options,
                keys_path=paths.keys_file(),
            )
        except ConfigError as exc:
            raise fail(str(exc)) from None


def given_options(**values: Any) -> dict[str, Any]:
    """The generation options that were given (None and [] mean "not given")."""
    return {k: v for k, v in values.items() if v not in (None, [])}


def fail(message: str, code: int = 2) -> SystemExit:
    """Print ``llmchat: error: MESSAGE`` on stderr and return the SystemExit to raise
    (exit status `code`, 2: bad usage)."""
    from llmchat.safety import note

    note(f"error: {message}")
    return SystemExit(code)


def start_debug_log(settings: Settings) -> None:
    """``--debug``: log everything of this run to the state directory, keys redacted."""
    from llmchat import debuglog

    from llmchat.safety import note

    path = debuglog.enable(paths.state_dir(), [settings.provider.api_key or ""])
    note(f"debug log: {path}")


def confirm(question: str, *, yes: bool) -> bool:
    """True when a destructive command may go ahead: with `yes` (``--yes/-y``), or when stdin
    is not a terminal (scripts keep working, as ``rm`` without ``-i``), or when the user
    answers y/yes to `question` (asked on stderr; anything else, or end of input, is no)."""
    if yes or sys.stdin is None or not sys.stdin.isatty():
        return True
    from llmchat.safety import one_line

    sys.stderr.write(one_line(f"{question} [y/N]", 200) + " ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def warn(message: str) -> None:
    """Print ``llmchat: warning: MESSAGE`` on stderr."""
    from llmchat.safety import note

    note(f"warning: {message}")


def open_store(*, required: bool = False, read_only_ok: bool = False) -> Store | None:
    """The history store; None (after one warning) when it cannot be opened, unless `required`.

    With `read_only_ok`, a database llmchat may not write (a read-only data directory or
    file) is opened for reading, after one warning that new replies will not be stored. A
    database of a newer llmchat is never opened (:class:`~llmchat.store.SchemaTooNew`).
    """
    from llmchat.store import Store, StoreError

    path = paths.history_db()
    try:
        store = Store.open_or_read(path) if read_only_ok else Store.open(path)
    except StoreError as exc:
        if required:
            raise fail(str(exc)) from None
        warn(f"history is off for this session: {exc}")
        return None
    if store.read_only:
        warn(f"history database {path} cannot be written: opened read-only, new replies will not be stored")
        return store
    if store.recovered:
        warn(f"{store.recovered} interrupted repl{'y' if store.recovered == 1 else 'ies'} found "
              "in the history and marked interrupted")
    return store


def ensure_credentials(settings: Settings, *, interactive: bool) -> Settings:
    """The settings to run with, or exit 2 with a clear message when no provider can be used.

    When the user chose no provider and the default has no key, the providers the
    environment allows are used (:mod:`llmchat.first_run`): one as it is, several listed
    (on a terminal, the one picked is remembered in the config file). A provider the user
    chose is never replaced; without its key, the message says which variable to set.
    """
    problem = settings.provider.missing_credentials()
    if problem is None:
        return settings
    import asyncio

    from llmchat.first_run import find_candidates, remember_provider, use_candidate
    from llmchat.safety import note, one_line

    candidates = asyncio.run(find_candidates(settings, os.environ, paths.keys_file()))
    if len(candidates) == 1:
        note(f"using {candidates[0].name} ({one_line(candidates[0].reason, 120)}); "
             "choose another with -p NAME")
        return use_candidate(settings, candidates[0])
    if candidates:
        note("no provider chosen, and several can be used:")
        for number, candidate in enumerate(candidates, 1):
            note(f"  {number}. {candidate.name}  ({one_line(candidate.reason, 120)})")
        if interactive:
            answer = input(f"Use which (1-{len(candidates)}, Enter for 1)? ").strip() or "1"
            if answer.isdigit() and 1 <= int(answer) <= len(candidates):
                chosen = candidates[int(answer) - 1]
                trouble = remember_provider(settings.config_path, chosen.name)
                note(f"could not remember the choice: {trouble}" if trouble else
                     f"remembered: provider = {chosen.name!r} in {settings.config_path}")
                return use_candidate(settings, chosen)
        note(f'choose one with -p NAME, or set provider = "NAME" in {settings.config_path}')
        raise SystemExit(2)
    note(problem)
    if settings.provider_explicit:
        raise SystemExit(2)
    from llmchat.discovery import find_local_servers

    servers = [s for s in asyncio.run(find_local_servers()) if s.models]
    for server in servers:  # model ids come from the server: shown made safe
        note(f"found {server.label} at {server.base_url} (models: {', '.join(server.models[:5])})")
        if interactive:
            answer = input(f"Use {server.label} with model {one_line(server.models[0], 80)}? [Y/n] ")
            if answer.strip().lower() in ("", "y", "yes"):
                return settings.with_provider(server.provider_settings())
        else:
            note(f"to use it: export OPENAI_BASE_URL={server.base_url}  (and -m {server.models[0]})")
    raise SystemExit(2)
