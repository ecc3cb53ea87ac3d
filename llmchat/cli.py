"""The command line: ``llmchat`` (full-screen session), ``llmchat ask`` (one-shot) and
``llmchat models``.

Contract: shared/DESIGN.md, "Command-line contract". The commands, their options and help
are defined with Typer in :mod:`llmchat.cli_app`; this module holds the entry point and what
the commands share.

Start-up (docs/performance.md): importing Typer and building its command costs more than
everything else ``llmchat ask`` does (Typer validates parameters with pydantic). So
:func:`main` parses a plain ``llmchat ask`` command line itself, with exactly Typer's
meaning, and only imports Typer for anything else: help, other commands, options before
``ask``, unusual spellings (``-mNAME``, ``--``, clustered flags) and every error, which so
keep Typer's messages. Textual is imported only inside the TUI command, so ``llmchat ask``
never loads it.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

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
            raise _fail(str(exc)) from None


def _options(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, [])}


def _fail(message: str, code: int = 2) -> SystemExit:
    from llmchat.safety import note

    note(f"error: {message}")
    return SystemExit(code)


def ask_command(
    parent: Choice,
    *,
    prompt: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    system: str | None = None,
    json_output: bool = False,
    reasoning: bool = False,
    complete: bool = False,
    continue_latest: bool = False,
    conversation: str | None = None,
    no_log: bool = False,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    stop: list[str] | None = None,
    seed: int | None = None,
    reasoning_effort: str | None = None,
    thinking_budget: int | None = None,
    all_tools: bool = False,
    tool: list[str] | None = None,
    yes: bool = False,
    debug: bool = False,
    mcp: list[str] | None = None,
    mcp_config: str | None = None,
) -> NoReturn:
    """``llmchat ask`` (options: see :func:`llmchat.cli_app.ask`); `parent` holds the
    options given before ``ask``. Always ends with SystemExit and the exit status."""
    from llmchat.ask import join_prompt, run_ask
    from llmchat.chat.models import Conversation, Message
    from llmchat.store import StoreError
    from llmchat.store.recorder import Recorder

    choice = Choice(provider, model, system, None, _options(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed,
        reasoning_effort=reasoning_effort, thinking_budget=thinking_budget,
    )).over(parent)
    settings = choice.settings()
    if debug:
        start_debug_log(settings)
    if complete and (all_tools or tool or mcp):
        raise _fail("--complete cannot use tools")
    mcp_servers = _mcp_servers(mcp, mcp_config)
    if complete and settings.provider.kind != "openai":
        raise _fail("--complete needs an OpenAI-compatible provider (/v1/completions)")
    stdin_text = None
    if sys.stdin is not None and not sys.stdin.isatty():
        stdin_text = sys.stdin.buffer.read().decode("utf-8", "replace")
    elif prompt is None:
        raise _fail('no prompt: give one (llmchat ask "...") or pipe text into llmchat ask')
    text = join_prompt(prompt, stdin_text)
    if not text.strip():
        raise _fail("the prompt is empty")
    settings = _ensure_credentials(settings, interactive=stdin_text is None and sys.stderr.isatty())
    ref = "latest" if continue_latest else conversation
    store = (
        _open_store(required=True, read_only_ok=True) if ref is not None else None if no_log else _open_store()
    )
    history, conversation_id = Conversation(system=settings.system), None
    if store is not None and ref is not None:
        try:
            summary, history = store.load_conversation(ref)
        except StoreError as exc:
            raise _fail(str(exc)) from None
        conversation_id = summary.id
        if choice.system is not None:  # -s given now replaces the stored system prompt
            history.system = settings.system
    recorder = Recorder(None if no_log or (store is not None and store.read_only) else store, _warn)
    recorder.open(conversation_id, settings.provider.name, settings.provider.model, history.system)
    user = Message("user", text)
    history.messages.append(user)
    recorder.user(user)
    tools = None
    if all_tools or tool or mcp:
        from llmchat.ask import ToolChoice

        tools = ToolChoice(
            tuple(tool or ()), yes=yes, config=settings.tools, builtin=bool(all_tools or tool),
            mcp=tuple(mcp_servers), mcp_strict="all" not in (mcp or ()),
        )
    raise SystemExit(run_ask(
        settings, history, complete=complete, json_output=json_output, show_reasoning=reasoning,
        recorder=recorder, tools=tools,
    ))


def _mcp_servers(names: list[str] | None, config_file: str | None) -> list[Any]:
    """The MCP servers of ``--mcp NAME`` (and ``--mcp-config FILE``), or exit 2 naming the
    problem before anything is sent."""
    if not names:
        if config_file is not None:
            raise _fail("--mcp-config needs --mcp NAME (or --mcp all)")
        return []
    from llmchat.mcp.use import load_config

    try:
        config = load_config(config_file)
        chosen = config.select(names)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if not chosen:
        raise _fail(f"no MCP servers configured in {config.where}")
    return chosen


def start_debug_log(settings: Settings) -> None:
    """``--debug``: log everything of this run to the state directory, keys redacted."""
    from llmchat import debuglog

    from llmchat.safety import note

    path = debuglog.enable(paths.state_dir(), [settings.provider.api_key or ""])
    note(f"debug log: {path}")


def _warn(message: str) -> None:
    from llmchat.safety import note

    note(f"warning: {message}")


def _open_store(*, required: bool = False, read_only_ok: bool = False) -> Store | None:
    """The history store; None (after one warning) when it cannot be opened, unless `required`.

    With `read_only_ok`, a database llmchat may not write (a read-only data directory or
    file) is opened for reading, after one warning that new replies will not be stored. A
    database of a newer llmchat is never opened (:class:`~llmchat.store.SchemaTooNew`).
    """
    from llmchat.store import SchemaTooNew, Store, StoreError

    path = paths.history_db()
    try:
        store = Store.open(path)
    except StoreError as exc:
        if read_only_ok and not isinstance(exc, SchemaTooNew) and path.is_file() and not (
            exc.code or ""
        ).startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            try:
                store = Store.open(path, read_only=True)
            except StoreError:
                pass
            else:
                _warn(f"history database {path} cannot be written: opened read-only, "
                      "new replies will not be stored")
                return store
        if required:
            raise _fail(str(exc)) from None
        _warn(f"history is off for this session: {exc}")
        return None
    if store.recovered:
        _warn(f"{store.recovered} interrupted repl{'y' if store.recovered == 1 else 'ies'} found "
              "in the history and marked interrupted")
    return store


def _ensure_credentials(settings: Settings, *, interactive: bool) -> Settings:
    """Stop with a clear message when the provider cannot be used; offer a local server."""
    problem = settings.provider.missing_credentials()
    if problem is None:
        return settings
    import asyncio

    from llmchat.discovery import find_local_servers
    from llmchat.safety import note, one_line

    servers = [s for s in asyncio.run(find_local_servers()) if s.models]
    note(problem)
    for server in servers:  # model ids come from the server: shown made safe
        note(f"found {server.label} at {server.base_url} (models: {', '.join(server.models[:5])})")
        if interactive:
            answer = input(f"Use {server.label} with model {one_line(server.models[0], 80)}? [Y/n] ")
            if answer.strip().lower() in ("", "y", "yes"):
                return settings.with_provider(server.provider_settings())
        else:
            note(f"to use it: export OPENAI_BASE_URL={server.base_url}  (and -m {server.models[0]})")
    raise SystemExit(2)


# -- the fast path for `llmchat ask` ---------------------------------------------------------

_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?")
_INTEGER = re.compile(r"0|[1-9][0-9]{0,17}")


def _float(value: str) -> float | None:
    return float(value) if _NUMBER.fullmatch(value) else None


def _int(value: str) -> int | None:
    return int(value) if _INTEGER.fullmatch(value) else None


_ASK_FLAGS = {
    "--json": "json_output",
    "--reasoning": "reasoning",
    "--complete": "complete",
    "-c": "continue_latest",
    "--continue": "continue_latest",
    "--no-log": "no_log",
    "--tools": "all_tools",
    "--yes": "yes",
    "--debug": "debug",
}
"""Boolean options of ``ask`` (as in :func:`llmchat.cli_app.ask`)."""
_ASK_OPTIONS: dict[str, tuple[str, Any]] = {
    "-p": ("provider", str),
    "--provider": ("provider", str),
    "-m": ("model", str),
    "--model": ("model", str),
    "-s": ("system", str),
    "--system": ("system", str),
    "--conversation": ("conversation", str),
    "--temperature": ("temperature", _float),
    "--top-p": ("top_p", _float),
    "--max-tokens": ("max_tokens", _int),
    "--stop": ("stop", str),
    "--seed": ("seed", _int),
    "--reasoning-effort": ("reasoning_effort", str),
    "--thinking-budget": ("thinking_budget", _int),
    "-T": ("tool", str),
    "--tool": ("tool", str),
    "--mcp": ("mcp", str),
    "--mcp-config": ("mcp_config", str),
}
"""Options of ``ask`` that take a value: its parameter name and how the value converts."""


def _plain(arg: str) -> bool:
    """True for an argument that is valid UTF-8 text (no undecodable bytes)."""
    if arg.isascii():
        return True
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_ask(args: list[str]) -> dict[str, Any] | None:
    """The parameters of ``llmchat ask ARGS`` as Typer would pass them to the command, or
    None when `args` use anything but the plain forms (``--opt value``, ``--opt=value``,
    ``-o value``, flags, one prompt) or would be a usage error: Typer handles those.

    Numbers are taken only in plain decimal spellings (``0.7``, ``512``), which Typer reads
    the same way; an option given twice (but ``--stop``) also goes to Typer.
    """
    values: dict[str, Any] = {}
    repeated: dict[str, list[str]] = {"stop": [], "tool": [], "mcp": []}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not _plain(arg):
            return None
        if arg[:1] != "-":
            if "prompt" in values:
                return None  # an extra argument: a usage error
            values["prompt"] = arg
            continue
        if arg in _ASK_FLAGS:
            values[_ASK_FLAGS[arg]] = True
            continue
        name, eq, value = arg.partition("=")
        spec = _ASK_OPTIONS.get(name)
        if spec is None or (eq and not name.startswith("--")):
            return None  # help, "--", "-", an unknown option, "-mNAME", "-m=NAME", a value for a flag...
        if not eq:
            if i == len(args):
                return None  # the value is missing
            value = args[i]
            i += 1
            if value[:1] == "-" or not _plain(value):
                return None
        dest, convert = spec
        converted = convert(value)
        if converted is None:
            return None
        if dest in repeated:
            repeated[dest].append(converted)
        elif dest in values:
            return None
        else:
            values[dest] = converted
    values.update({dest: items for dest, items in repeated.items() if items})
    return values


class _PacifyFlush:
    """Wraps a stream so that flushing into a closed pipe is quiet (as click does)."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def _run_ask_fast(values: dict[str, Any]) -> NoReturn:
    """Run ``ask`` as Typer's standalone mode would around the command."""
    try:
        ask_command(Choice(), **values)
    except EOFError:
        print(file=sys.stderr)
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _PacifyFlush(sys.stdout)
        sys.stderr = _PacifyFlush(sys.stderr)
        sys.exit(1)


def main() -> None:
    """Console-script entry point."""
    args = sys.argv[1:]
    # httpx imports its own command line (click, rich, pygments) whenever click is installed,
    # which extras such as ``mcp`` pull in: about 60 ms that no llmchat command needs.
    # ``None`` in sys.modules makes that import fail, and httpx then skips it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    if args[:1] == ["ask"] and not any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        values = parse_ask(args[1:])
        if values is not None:
            _run_ask_fast(values)
    from llmchat.cli_app import app

    app()


def __getattr__(name: str) -> Any:
    """``llmchat.cli.app``: the Typer application, built on first use."""
    if name == "app":
        from llmchat.cli_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
