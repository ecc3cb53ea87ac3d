"""Branching operations of a :class:`~llmchat.chat.engine.ChatSession` (mixed into it): a
conversation is a tree, the session holds its current path.

A regenerated answer or an edited question is a *sibling* of the message it replaces: the
messages after the branch point leave the session's conversation, and the recorder is told
that the next message stored goes after the branch point (:meth:`Recording.branch`), so the
old branch stays in the history. Switching to another sibling loads the stored path through it.
With history off (:class:`~llmchat.chat.recording.NoRecording`) there is one branch.
"""

from __future__ import annotations

from llmchat.chat.models import Conversation, Message
from llmchat.chat.recording import Recording


class Branching:
    """Where the next message goes, and which branch the conversation follows."""

    conversation: Conversation
    recorder: Recording
    running: bool

    def _last_user(self) -> int:
        """The index of the last user message."""
        if self.running:
            raise RuntimeError("a turn is running: cancel it first")
        messages = self.conversation.messages
        index = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
        if index is None:
            raise ValueError("there is no user message in the conversation")
        return index

    def _branch_at(self, index: int) -> None:
        """Messages from `index` on leave the conversation; the next one stored is their
        sibling (they stay in the history, as another branch)."""
        messages = self.conversation.messages
        self.recorder.branch(messages[index - 1] if index > 0 else None)
        del messages[index:]

    def rewind(self) -> Message:
        """Take the last user message and everything after it out of the conversation and
        return it, e.g. to put its text back in an editor: the next message sent becomes its
        sibling (the old branch stays in the history).

        Raises:
            ValueError: the conversation has no user message.
            RuntimeError: a turn is running.
        """
        index = self._last_user()
        message = self.conversation.messages[index]
        self._branch_at(index)
        return message

    def branches(self, message: Message) -> tuple[int, int]:
        """(which, how many): `message`'s place among the stored branches at its point,
        1-based; (1, 1) when it has no siblings or is not stored."""
        ids = self.recorder.siblings(message)
        if message.id not in ids:
            return 1, 1
        return ids.index(message.id) + 1, len(ids)

    def switch_branch(self, message: Message, number: int) -> list[Message]:
        """Follow sibling `number` (1-based, see :meth:`branches`) of `message` instead:
        the conversation becomes the stored path through it, down to its newest leaf.

        Returns:
            The new conversation messages (also in :attr:`conversation`).

        Raises:
            ValueError: no such sibling, or the history is off (branches live there).
            RuntimeError: a turn is running.
        """
        if self.running:
            raise RuntimeError("a turn is running: cancel it first")
        ids = self.recorder.siblings(message)
        if not 1 <= number <= len(ids):
            raise ValueError(f"there is no branch {number} here ({len(ids) or 1} in all)")
        path = self.recorder.switch(ids[number - 1])
        if path is None:
            raise ValueError("branches are kept in the history, which is off")
        self.conversation.messages[:] = path
        return self.conversation.messages
