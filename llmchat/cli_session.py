"""The full-screen session as the command line starts it: ``llmchat [OPTIONS]``.

:func:`run_session` is the body of the session command, without Typer: the Typer callback
(:func:`llmchat.cli_app.session`) calls it after parsing the options, and :func:`llmchat.cli.main`
calls it directly for a bare ``llmchat`` (no arguments), which so never imports Typer
(docs/performance.md, "Start-up of the session").

While the session's modules import, a thread lets ``textual-image`` (the ``images`` extra) ask
the terminal which graphics it draws: each question waits up to 0.1 s for an answer that most
terminals never send, and that wait now overlaps the imports instead of following them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from llmchat.cli_shared import Choice, start_debug_log

__all__ = ["run_session"]


def _detect_graphics_in_background() -> threading.Thread:
    """Start :func:`llmchat.tui.widgets.image_view.detect_graphics` in a thread.

    Textual itself is imported first, here: the thread then imports only modules that nothing
    else imports during start-up (PIL, textual-image), so the two threads never wait on each
    other's imports. The caller joins the thread before Textual takes the terminal.
    """
    import logging  # noqa: F401 - what textual-image imports, loaded before the thread starts
    import termios  # noqa: F401
    import tty  # noqa: F401

    import textual.app  # noqa: F401
    import textual.containers  # noqa: F401
    import textual.widget  # noqa: F401

    from llmchat.tui.widgets.image_view import detect_graphics

    thread = threading.Thread(target=detect_graphics, name="llmchat-detect-graphics", daemon=True)
    thread.start()
    return thread


def run_session(
    choice: Choice,
    *,
    debug: bool = False,
    continue_latest: bool = False,
    conversation: str | None = None,
    all_tools: bool = False,
    mcp: Sequence[str] | None = None,
    mcp_config: str | None = None,
    attach: Sequence[str] | None = None,
) -> None:
    """Run the full-screen session with the command line's choices (as ``llmchat`` documents
    them); a problem with the config, ``--mcp`` or ``-a`` exits 2 before the screen starts.

    Raises:
        SystemExit: 2 for a usage problem; the app's return code when it is not 0 (e.g. 2:
            the first-run dialog was quit with nothing to chat with).
    """
    from llmchat.cli_ask import mcp_servers_of, read_attachments

    settings = choice.settings()
    if debug:
        start_debug_log(settings)
    if mcp or mcp_config:
        mcp_servers_of(list(mcp or ()), mcp_config)  # a broken mcp.json or an unknown name: exit 2 now
    attachments = read_attachments(settings, attach or ())  # a bad file: exit 2 now
    detector = _detect_graphics_in_background()  # with the `images` extra: ask the terminal now
    try:
        from llmchat.tui.app import LlmChatApp
    finally:
        detector.join()  # before Textual owns the terminal (a Ctrl+C here too: the tty mode is restored)

    session_app = LlmChatApp(
        settings, conversation="latest" if continue_latest else conversation, tools=all_tools,
        mcp=tuple(mcp or ()), mcp_config=mcp_config, attachments=attachments,
    )
    session_app.run()
    if session_app.return_code:  # e.g. 2: the first-run dialog was quit with nothing to chat with
        raise SystemExit(session_app.return_code)
