"""The chat commands of the command palette (Ctrl+P), next to Textual's system commands."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from llmchat.tui.screens.chat import ChatScreen


def chat_commands(screen: ChatScreen) -> list[tuple[str, str, Callable[[], object]]]:
    """(name, help, callback) of every chat command, in the order the palette lists them."""
    return [
        ("New conversation", "Stop any reply and start an empty conversation", screen.action_new_conversation),
        ("Toggle sidebar", "Show or hide the sidebar", screen.action_toggle_sidebar),
        ("Open history", "Browse, search and open stored conversations", screen.action_open_history),
        ("Copy last answer", "Copy the last answer to the clipboard", screen.action_copy_last),
        ("Export conversation", "Write the conversation as Markdown to the working directory",
         screen.action_export),
        ("Switch model…", "Choose from the provider's models", screen.choose_model),
        ("Switch provider…", "Choose a built-in provider or a profile of the config file",
         screen.choose_provider),
        ("Compare models…", "Send the next message to several models at once and pick a reply (/compare)",
         screen.choose_compare_models),
        ("Set system prompt…", "Edit the system prompt of this conversation", screen.action_set_system_prompt),
        ("Regenerate last answer", "Stream a new answer; the old one stays, as another branch",
         screen.action_retry),
        ("Edit last message", "Put the last message back in the prompt", screen.action_edit_last),
        ("New tab", "A new conversation in a tab of its own (this tab's provider and model)",
         partial(screen.run_tab_command, "new")),
        ("Close tab", "Close this tab (asks first while its reply streams)", partial(screen.run_tab_command, "close")),
        ("Next tab", "Show the next tab", partial(screen.run_tab_command, "next")),
        ("Previous tab", "Show the previous tab", partial(screen.run_tab_command, "prev")),
        ("Switch tab…", "Choose among the open tabs", screen.choose_tab),
    ]


class ChatCommands(Provider):
    """New conversation, sidebar, history, copy, export, model, system prompt, retry, edit, tabs.

    Only offered while the chat screen is the one under the palette.
    """

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        from llmchat.tui.screens.chat import ChatScreen

        screen = self.screen
        return chat_commands(screen) if isinstance(screen, ChatScreen) else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, partial(self._run, callback), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self._run, callback), text=name, help=help_text)

    async def _run(self, callback: Callable[[], object]) -> None:
        result = callback()
        if hasattr(result, "__await__"):
            await result  # type: ignore[misc]
