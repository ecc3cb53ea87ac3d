"""Plain data for conversations: :class:`Message` and :class:`Conversation`."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from llmchat.providers.base import ChatRequest
from llmchat.providers.events import FinishReason, Usage

Role = Literal["user", "assistant", "tool"]


@dataclass(slots=True)
class ToolCall:
    """A complete tool call: `arguments` is the JSON text the model produced (maybe invalid)."""

    id: str
    name: str
    arguments: str


IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
"""The image media types every provider's image part takes (shared/DESIGN.md, "Attachments")."""
PDF_TYPE = "application/pdf"


@dataclass(slots=True, frozen=True)
class Attachment:
    """A file (or fetched URL) sent with a user message (shared/DESIGN.md, "Attachments").

    `data` holds the exact bytes as read; `text` the text sent for it: for a text file its
    UTF-8 text, for a PDF the extracted text when the provider takes no documents (see
    :func:`llmchat.chat.attachments.prepare`), None for images and for PDFs sent as documents.
    Read and checked by :mod:`llmchat.chat.attachments`.
    """

    name: str
    """The file name (or URL) shown to the model and the user."""
    media_type: str
    """``text/plain``, ``image/png``, ``image/jpeg``, ``image/gif``, ``image/webp`` or ``application/pdf``."""
    data: bytes
    text: str | None = None

    @property
    def size(self) -> int:
        """The size in bytes."""
        return len(self.data)

    @property
    def is_image(self) -> bool:
        """True for an image sent as the protocol's image part."""
        return self.media_type in IMAGE_TYPES

    def data_url(self) -> str:
        """The bytes as an RFC 2397 ``data:`` URL with base64 (``data:image/png;base64,...``)."""
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def text_block(self) -> str:
        """The text sent for a text attachment: the file name, then a fenced block (a fence
        longer than any backtick run inside)."""
        body = self.text or ""
        longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
        fence = "`" * max(3, longest + 1)
        newline = "" if body.endswith("\n") else "\n"
        return f"{self.name}\n{fence}\n{body}{newline}{fence}"

    def wire_part(self) -> dict[str, Any] | None:
        """This attachment as a Chat Completions content part, or None for text (sent in the
        message's text part): an image as ``{"type": "image_url", "image_url": {"url": data
        URL}}``, a PDF as ``{"type": "file", "file": {"filename", "file_data": data URL}}``
        (OpenAI's file part; the providers translate both into their own shape)."""
        if self.is_image:
            return {"type": "image_url", "image_url": {"url": self.data_url()}}
        if self.media_type == PDF_TYPE and self.text is None:
            return {"type": "file", "file": {"filename": self.name, "file_data": self.data_url()}}
        return None


def wire_content(text: str, attachments: Sequence[Attachment]) -> str | list[dict[str, Any]]:
    """A user message's content with its attachments: the text attachments' blocks, then
    `text`, as one string when there are no images or documents; else a list of content
    parts, images and documents first, then one text part."""
    blocks = [a.text_block() for a in attachments if a.wire_part() is None]
    joined = "\n\n".join([*blocks, text] if text else blocks)
    parts = [part for a in attachments if (part := a.wire_part()) is not None]
    if not parts:
        return joined
    if joined:
        parts.append({"type": "text", "text": joined})
    return parts


@dataclass(slots=True)
class Message:
    """One message of a conversation. Assistant messages carry how their reply went."""

    role: Role
    content: str = ""
    reasoning: str = ""
    """The model's reasoning ("thinking") text, never sent back to the model."""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    """Normalized finish reason; None for user messages and replies still streaming."""
    raw_finish_reason: str | None = None
    """The provider's own finish reason value (e.g. "end_turn")."""
    usage: Usage | None = None
    error: str | None = None
    """Why the reply failed (the provider's message), when finish_reason is "error"."""
    ttft: float | None = None
    """Time to first token, seconds from sending the request."""
    duration: float | None = None
    """Seconds from sending the request to the end of the stream."""
    tool_call_id: str | None = None
    """For a "tool" message: the id of the tool call it answers."""
    id: str | None = None
    """The store's id for this message; None until it is saved (llmchat.store)."""
    provider: str | None = None
    """The provider (or profile) that wrote this reply, when known."""
    model: str | None = None
    """The model that wrote this reply, when known."""
    created_at: datetime | None = None
    """When the message was stored (UTC); None until it is saved."""
    thinking_blocks: list[dict[str, Any]] = field(default_factory=list)
    """Provider-specific and opaque: the reply's reasoning blocks that the provider wants back
    unchanged when the turn goes on with tool results (Anthropic's ``thinking`` blocks with
    their signature, ``redacted_thinking`` blocks with their data, in order). Sent as the
    wire message's ``thinking_blocks``, which only the Anthropic provider reads (the others
    drop it). Kept in memory only, not by :mod:`llmchat.store`: a resumed conversation goes on
    with a new user turn, for which the API does not need earlier turns' blocks."""
    is_error: bool = False
    """For a "tool" message: the call failed (error, denied, timed out, not run). Sent as
    the wire message's ``is_error`` (only when True), which only the Anthropic provider reads
    (``tool_result.is_error``); the text says what went wrong for every provider."""
    images: list[tuple[str, str]] = field(default_factory=list)
    """For a "tool" message: images of the result, (media type, base64 data) pairs. Sent as
    the wire message's ``images`` (``[{"media_type", "data"}]``), which only the Anthropic
    provider reads (image blocks in ``tool_result``); kept in memory only."""
    attachments: list[Attachment] = field(default_factory=list)
    """For a "user" message: the files sent with it (see :func:`wire_content`)."""

    def to_wire(self, tool_calls: Sequence[ToolCall] | None = None) -> dict[str, Any]:
        """This message in Chat Completions shape (``{"role": ..., "content": ...}``).

        An assistant message with tool calls gets ``tool_calls`` (``[{"id", "type":
        "function", "function": {"name", "arguments"}}]``) and ``content`` None when it has
        no text, as the Chat Completions API returns it; a ``tool`` message gets
        ``tool_call_id``. The providers translate this shape into their own.

        Two keys outside Chat Completions, for the Anthropic provider only (the others leave
        them out, see :data:`llmchat.providers.base.WIRE_EXTENSIONS`): an assistant
        message with :attr:`thinking_blocks` gets ``thinking_blocks`` (the same list, not
        copied), a failed tool message gets ``"is_error": True``.

        Args:
            tool_calls: the calls to send instead of :attr:`tool_calls` (the conversation
                leaves out calls that were never answered).
        """
        calls = self.tool_calls if tool_calls is None else tool_calls
        wire: dict[str, Any]
        if self.role == "assistant" and calls:
            wire = {
                "role": "assistant",
                "content": self.content or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in calls
                ],
            }
        elif self.role == "tool":
            wire = {"role": "tool", "tool_call_id": self.tool_call_id or "", "content": self.content}
            if self.is_error:
                wire["is_error"] = True
            if self.images:
                wire["images"] = [{"media_type": m, "data": d} for m, d in self.images]
            return wire
        elif self.attachments:
            wire = {"role": self.role, "content": wire_content(self.content, self.attachments)}
        else:
            wire = {"role": self.role, "content": self.content}
        if self.role == "assistant" and self.thinking_blocks:
            wire["thinking_blocks"] = self.thinking_blocks
        return wire


@dataclass(slots=True)
class Conversation:
    """A conversation: a system prompt and its messages, oldest first."""

    system: str | None = None
    messages: list[Message] = field(default_factory=list)

    def wire_messages(self) -> list[dict[str, Any]]:
        """Every message to send with the next request.

        Partial replies (cancelled, interrupted) are sent as they stand; assistant replies
        with no text and no tool calls are left out, because providers reject empty
        assistant turns. Every provider requires each tool call to be answered by the
        ``tool`` messages right after it, and each result to answer such a call: so a call
        without a result (a reply cancelled while its calls streamed) is left out, and so is
        a result whose call is not in the assistant message just before it.
        """
        out: list[dict[str, Any]] = []
        messages = self.messages
        offered: set[str] = set()  # ids of the calls sent with the last assistant message
        for i, message in enumerate(messages):
            if message.role == "tool":
                if message.tool_call_id in offered:
                    out.append(message.to_wire())
                continue
            offered = set()
            if message.role != "assistant":
                out.append(message.to_wire())
                continue
            calls: list[ToolCall] = []
            if message.tool_calls:
                answered = set()
                for later in messages[i + 1 :]:
                    if later.role != "tool":
                        break
                    answered.add(later.tool_call_id)
                calls = [c for c in message.tool_calls if c.id and c.id in answered]
                offered = {c.id for c in calls}
            if calls or message.content.strip():
                out.append(message.to_wire(calls))
        return out

    def request(
        self, model: str, *, tools: Sequence[Mapping[str, Any]] = (), **options: Any
    ) -> ChatRequest:
        """The :class:`ChatRequest` for the next reply to this conversation.

        Args:
            model: the model name.
            tools: tool definitions in Chat Completions shape
                (:meth:`llmchat.chat.tools.ToolRegistry.definitions`).
            **options: generation options by neutral name.
        """
        return ChatRequest(
            model=model,
            messages=self.wire_messages(),
            system=self.system,
            tools=tuple(tools),
            options=options,
        )
