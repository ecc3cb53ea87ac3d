"""Attachments in the session, mixed into ChatScreen: ``/attach PATH|URL``, ``llmchat -a``,
the chips above the prompt, and readying a conversation's attachments for the provider.

Contract: shared/DESIGN.md, "Attachments". Paths are read by :mod:`llmchat.chat.attachments`
with the config's limits; a problem is one notification and nothing is attached.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llmchat.chat.attachments import (
    AttachmentError,
    Limits,
    fetch_attachment,
    is_url,
    prepare,
    prepare_conversation,
    provider_kind,
    read_paths,
    size_text,
)
from llmchat.chat.models import Attachment
from llmchat.tui.widgets.attachment_chips import AttachmentChips

if TYPE_CHECKING:
    from textual.screen import Screen

    from llmchat.chat.engine import ChatSession

    _Base = Screen[None]
else:
    _Base = object


class ChatAttachments(_Base):
    """``/attach`` and the pending attachments of ChatScreen."""

    if TYPE_CHECKING:
        session: ChatSession

    def _limits(self) -> Limits:
        settings = getattr(self.app, "settings", None)
        if settings is None:
            return Limits()
        return Limits(settings.max_attachment_bytes, settings.max_attachments_bytes)

    async def attach_paths(self, argument: str) -> None:
        """``/attach PATH|URL ...``: read them and show them as chips above the prompt (sent
        with the next message). A directory's count and size are notified; a problem is a
        warning and nothing of this command is attached."""
        try:
            specs = shlex.split(argument)
        except ValueError:
            specs = [argument]
        if not specs:
            self.notify("Usage: /attach PATH (a file, a directory or an http(s) URL)", title="Attach",
                        severity="warning", markup=False)
            return
        limits = self._limits()
        notes: list[str] = []
        try:
            local = read_paths([os.path.expanduser(s) for s in specs if not is_url(s)], limits, notice=notes.append)
            fetched = [await self._fetch(url, limits) for url in specs if is_url(url)]
        except AttachmentError as exc:
            self.notify(str(exc), title="Attach", severity="warning", markup=False)
            return
        for note in notes:
            self.notify(note, title="Attach", timeout=4, markup=False)
        await self.add_attachments([*local, *fetched])

    async def _fetch(self, url: str, limits: Limits) -> Attachment:
        from llmchat.chat.netguard import AddressGuard
        from llmchat.providers import make_client

        settings = getattr(self.app, "settings", None)
        guard = AddressGuard(allow_private=bool(getattr(settings, "allow_private_addresses", False)))
        async with make_client() as client:
            return await fetch_attachment(url, client, limits, guard=guard)

    async def add_attachments(self, attachments: Sequence[Attachment]) -> None:
        """Put `attachments` above the prompt (after checking the per-message limit)."""
        chips = self.query_one(AttachmentChips)
        total = sum(a.size for a in [*chips.attachments, *attachments])
        limit = self._limits().per_message
        if total > limit:
            self.notify(f"the attachments would be {size_text(total)} together, over the {size_text(limit)} "
                        "per-message limit (max_attachments_bytes in the config file)",
                        title="Attach", severity="warning", markup=False)
            return
        await chips.add(attachments)

    def pending_attachments(self, text: str) -> list[Attachment] | None:
        """What goes with message `text`: the chips, then the files and directories it names
        as ``@PATH`` (existing files only, relative to the working directory; other ``@`` words,
        directories included, stay text: ``/attach DIR`` attaches a directory). None, after a notification, when a named path cannot be attached."""
        chips = self.query_one(AttachmentChips).attachments
        specs = []
        for word in text.split():
            path = word[1:].rstrip(".,;:!?)]}'\"") if word.startswith("@") else ""
            if path and os.path.isfile(os.path.expanduser(path)):  # a file: no surprise directory
                specs.append(os.path.expanduser(path))
        if not specs:
            return list(chips)
        try:
            found = read_paths(specs, self._limits())
        except AttachmentError as exc:
            self.notify(str(exc), title="Attach", severity="warning", markup=False)
            return None
        return [*chips, *(a for a in found if a not in chips)]

    def ready_attachments(self, new: Sequence[Attachment]) -> list[Attachment] | None:
        """Make the conversation's attachments and the `new` ones fit the current provider (a
        PDF as document or text): the new ones ready to send, or None, after a notification,
        when one cannot be (no pypdf)."""
        kind = provider_kind(self.session.provider)
        try:
            prepare_conversation(self.session.conversation.messages, kind)
            return prepare(new, kind)
        except AttachmentError as exc:
            self.notify(str(exc), title="Attach", severity="error", markup=False)
            return None
