"""``llmchat ask``: from the command line's values to one engine turn (:func:`ask_command`).

The Typer command (:mod:`llmchat.cli_app`) and the fast path of :mod:`llmchat.cli` both
call :func:`ask_command`; the turn itself is rendered by :mod:`llmchat.ask`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from llmchat.cli_shared import (
    Choice,
    ensure_credentials,
    fail,
    given_options,
    open_store,
    start_debug_log,
    warn,
)
from llmchat.errors import ConfigError


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
    dry_run: bool = False,
    attach: list[str] | None = None,
    template: str | None = None,
    compare: str | None = None,
) -> NoReturn:
    """``llmchat ask`` (options: see :func:`llmchat.cli_app.ask`); `parent` holds the
    options given before ``ask``. Always ends with SystemExit and the exit status."""
    from llmchat.ask import join_prompt, run_ask
    from llmchat.chat.models import Conversation, Message
    from llmchat.store import StoreError
    from llmchat.store.recorder import Recorder

    choice = Choice(provider, model, system, None, given_options(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed,
        reasoning_effort=reasoning_effort, thinking_budget=thinking_budget,
    )).over(parent)
    settings = choice.settings()
    chosen_template = None
    if template is not None:  # -t NAME: its provider, model, system and options under the flags
        chosen_template = settings.templates.get(template)
        if chosen_template is None:
            known = ", ".join(sorted(settings.templates)) or "none defined"
            raise fail(f"unknown template {template!r} (known: {known}; see llmchat templates)")
        t = chosen_template
        choice = Choice(choice.provider or t.provider, choice.model or t.model,
                        choice.system if choice.system is not None else t.system, choice.theme,
                        {**t.options, **choice.options})
        settings = choice.settings()
    if debug:
        start_debug_log(settings)
    if complete and (all_tools or tool or mcp):
        raise fail("--complete cannot use tools")
    mcp_servers = mcp_servers_of(mcp, mcp_config)
    if complete and settings.provider.kind != "openai":
        raise fail("--complete needs an OpenAI-compatible provider (/v1/completions)")
    targets = None
    if compare is not None:  # ask several models at once (llmchat.ask_compare)
        from llmchat.cli_compare import check_options, compare_settings

        check_options(model=model is not None or parent.model is not None, complete=complete,
                      tools=bool(all_tools or tool or mcp), reasoning=reasoning)
        targets = compare_settings(choice, settings, compare)
    piped = sys.stdin is not None and not sys.stdin.isatty()
    if piped:
        text = read_input(sys.stdin.buffer, prompt, settings.max_input_bytes, settings.config_path)
    elif prompt is None and (attach or (chosen_template is not None and chosen_template.prompt)):
        text = ""
    elif prompt is None:
        raise fail('no prompt: give one (llmchat ask "...") or pipe text into llmchat ask')
    else:
        text = join_prompt(prompt, None)
    if chosen_template is not None:
        text = chosen_template.render(text)
    if (not text or text.isspace()) and not attach:  # (not text.strip(): a copy of a long input)
        raise fail("the prompt is empty")
    if attach and complete:
        raise fail("--complete cannot send attachments")
    attachments = read_attachments(settings, attach or ())
    ref = "latest" if continue_latest else conversation
    if dry_run and targets is not None:
        from llmchat.ask_compare import compare_dry_run

        raise SystemExit(compare_dry_run(targets, lambda t: _dry_run(
            t, choice, text, ref, read_attachments(t, attach or ()), complete=False, json_output=json_output,
            tools=None), json_output=json_output))
    if dry_run:
        raise SystemExit(_dry_run(settings, choice, text, ref, attachments, complete=complete, json_output=json_output,
                                  tools=_tool_choice(settings, all_tools, tool, yes, mcp, mcp_servers)))
    if targets is None:
        settings = ensure_credentials(settings, interactive=not piped and sys.stderr.isatty())
    store = (
        open_store(required=True, read_only_ok=True) if ref is not None else None if no_log else open_store()
    )
    history, conversation_id = Conversation(system=settings.system), None
    if store is not None and ref is not None:
        try:
            summary, history = store.load_conversation(ref)
        except StoreError as exc:
            raise fail(str(exc)) from None
        conversation_id = summary.id
        if choice.system is not None:  # -s given now replaces the stored system prompt
            history.system = settings.system
        prepare_history(history, settings.provider.kind)
    recorder = Recorder(None if no_log or (store is not None and store.read_only) else store, warn)
    recorder.open(conversation_id, settings.provider.name, settings.provider.model, history.system)
    user = Message("user", text, attachments=attachments)
    history.messages.append(user)
    for each in targets or [settings]:
        if each.budget_conversation is not None or each.budget_day is not None:
            check_budget(each, history, store)  # before anything is stored or sent
    recorder.user(user)
    if targets is not None:
        from llmchat.ask_compare import run_compare

        raise SystemExit(run_compare(targets, history, recorder=recorder, json_output=json_output))
    raise SystemExit(run_ask(
        settings, history, complete=complete, json_output=json_output, show_reasoning=reasoning,
        recorder=recorder, tools=_tool_choice(settings, all_tools, tool, yes, mcp, mcp_servers),
    ))


def check_budget(settings: Any, history: Any, store: Any) -> None:
    """``[budget]``: stop (exit 2, one line) when the conversation's replies, or today's
    (every conversation in the history since local midnight), and the next request's input
    would pass the cap; nothing has been sent or stored."""
    import datetime

    from llmchat.chat.counting import count_request
    from llmchat.chat.pricing import PriceSource, budget_check

    source = PriceSource(settings.provider.kind, settings.provider.base_url, settings.prices)
    model = settings.provider.model
    tokens = count_request(history.request(model, **settings.options), settings.provider.kind).tokens
    if settings.budget_conversation is not None:
        replies = [(m.usage, m.model) for m in history.messages if m.role == "assistant"]
        check = budget_check(source, replies, model, tokens)
        if check.over(settings.budget_conversation):
            raise fail(f"budget: {check.describe(settings.budget_conversation)} ([budget] conversation in the "
                       "config file; start a new conversation or raise the budget)")
    if settings.budget_day is not None and store is not None:
        midnight = datetime.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        today = [(m.usage, m.model) for m in store.replies_since(midnight.timestamp())]
        check = budget_check(source, today, model, tokens)
        if check.over(settings.budget_day):
            raise fail(f"budget: {check.describe(settings.budget_day, 'today')} ([budget] day in the config file)")


def _tool_choice(
    settings: Any, all_tools: bool, tool: list[str] | None, yes: bool, mcp: list[str] | None, servers: list[Any]
) -> Any:
    """The tools ``--tools``, ``-T`` and ``--mcp`` offer (a :class:`llmchat.ask.ToolChoice`),
    or None."""
    if not (all_tools or tool or mcp):
        return None
    from llmchat.ask import ToolChoice

    return ToolChoice(
        tuple(tool or ()), yes=yes, config=settings.tools, builtin=bool(all_tools or tool),
        mcp=tuple(servers), mcp_strict="all" not in (mcp or ()),
    )


def _dry_run(
    settings: Any, choice: Choice, text: str, ref: str | None, attachments: list[Any], *, complete: bool,
    json_output: bool, tools: Any,
) -> int:
    """``ask --dry-run``: the conversation (the stored one with ``-c``, read, never written)
    and the new message, counted by :func:`llmchat.ask_dry_run.run_dry_run`; no credentials
    needed, nothing sent or stored."""
    from llmchat.ask_dry_run import run_dry_run
    from llmchat.chat.models import Conversation, Message
    from llmchat.store import StoreError

    history = Conversation(system=settings.system)
    if ref is not None:
        store = open_store(required=True, read_only_ok=True)
        assert store is not None
        try:
            _, history = store.load_conversation(ref)
        except StoreError as exc:
            raise fail(str(exc)) from None
        finally:
            store.close()
        if choice.system is not None:  # -s given now replaces the stored system prompt
            history.system = settings.system
        prepare_history(history, settings.provider.kind)
    history.messages.append(Message("user", text, attachments=attachments))
    return run_dry_run(settings, history, complete=complete, json_output=json_output, tools=tools)


def read_attachments(settings: Any, specs: Sequence[str]) -> list[Any]:
    """The attachments of ``-a PATH|URL`` (shared/DESIGN.md, "Attachments"), read, checked
    and made ready for the provider's protocol; a directory's file count and size are shown
    on stderr first. Exit 2 naming the file and the limit on any problem, before anything
    is sent or stored."""
    if not specs:
        return []
    from llmchat.chat.attachments import AttachmentError, Limits, prepare, read_paths
    from llmchat.safety import note

    limits = Limits(settings.max_attachment_bytes, settings.max_attachments_bytes)

    def fetch(url: str) -> Any:
        import asyncio

        from llmchat.chat.attachments import fetch_attachment
        from llmchat.chat.netguard import AddressGuard
        from llmchat.providers import make_client

        async def run() -> Any:
            async with make_client() as client:
                guard = AddressGuard(allow_private=settings.allow_private_addresses)
                return await fetch_attachment(url, client, limits, guard=guard)

        return asyncio.run(run())

    try:
        return prepare(read_paths(specs, limits, notice=note, fetch=fetch), settings.provider.kind)
    except AttachmentError as exc:
        raise fail(str(exc)) from None


def prepare_history(history: Any, kind: str) -> None:
    """Make a stored conversation's attachments ready for provider kind `kind` (PDF text for
    protocols without documents); exit 2 when one cannot be."""
    from llmchat.chat.attachments import AttachmentError, prepare

    try:
        for message in history.messages:
            if message.attachments:
                message.attachments = prepare(message.attachments, kind)
    except AttachmentError as exc:
        raise fail(str(exc)) from None


def read_input(stream: Any, prompt: str | None, cap: int, config_path: Any = None) -> str:
    """PROMPT and the piped input joined as :func:`llmchat.ask.join_prompt` joins them (PROMPT,
    a blank line, the input), the input read as UTF-8 (undecodable bytes replaced), at most
    `cap` bytes of it.

    The input is read into one buffer, the prompt put in front of it, and the buffer decoded
    once and freed: the text is held about twice at the peak (bytes and text), never more.

    Raises:
        SystemExit: (exit 2, one line naming the cap and the config key) the input is longer;
            nothing has been sent or stored.
    """
    buffer = bytearray()
    while chunk := stream.read(min(1 << 20, cap + 1 - len(buffer)) or 1):
        buffer += chunk
        if len(buffer) > cap:
            where = f" in {config_path}" if config_path else " in the config file"
            raise fail(f"the piped input is larger than the {_size(cap)} cap; nothing was sent "
                       f"(raise max_input_bytes{where} to allow more)")
    if prompt and buffer:
        buffer[0:0] = prompt.encode("utf-8", "surrogateescape") + b"\n\n"
    elif prompt:
        return prompt
    text = buffer.decode("utf-8", "replace")
    del buffer
    return text


def _size(count: int) -> str:
    """`count` bytes as people say it: ``16 MiB``, ``512 KiB``, ``100 bytes``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{count} bytes"


def mcp_servers_of(names: list[str] | None, config_file: str | None) -> list[Any]:
    """The MCP servers of ``--mcp NAME`` (and ``--mcp-config FILE``), or exit 2 naming the
    problem before anything is sent."""
    from llmchat.mcp.use import load_config

    if not names:
        if config_file is not None:  # the session: servers can be switched on in /mcp
            try:
                load_config(config_file)
            except ConfigError as exc:
                raise fail(str(exc)) from None
        return []
    try:
        config = load_config(config_file)
        chosen = config.select(names)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if not chosen:
        raise fail(f"no MCP servers configured in {config.where}")
    return chosen
