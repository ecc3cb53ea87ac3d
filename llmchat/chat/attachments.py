"""Reading and checking attachments: files, directories and URLs sent with a user message.

Contract: shared/DESIGN.md, "Attachments". What a path or URL becomes:

- a UTF-8 text file (code, logs, Markdown, CSV...): its text, sent as the file name and a
  fenced block (:meth:`llmchat.chat.models.Attachment.text_block`);
- a PNG, JPEG, GIF or WebP image, recognised by its magic bytes (not its name): the
  protocol's image part;
- a PDF (``%PDF-``): a document for the protocols that take one (:data:`DOCUMENT_KINDS`),
  its extracted text for the others (:func:`prepare`, with the optional ``pypdf``);
- a directory: its text files, in name order, leaving out what its ``.gitignore`` files
  (read with ``pathspec``, git's own rules) and hidden names exclude;
- an http(s) URL: fetched under ``fetch_url``'s rules (:func:`llmchat.chat.fetch.fetch_body`).

Everything is checked before anything is sent: a missing file, a file of another type, one
over the per-file limit or attachments over the per-message limit raise
:class:`AttachmentError`, whose message is one line naming the file and the limit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from llmchat.chat.models import PDF_TYPE, Attachment, Message

if TYPE_CHECKING:
    import httpx

    from llmchat.chat.netguard import AddressGuard

DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
"""Default per-file limit (config key ``max_attachment_bytes``): 20 MiB."""
DEFAULT_MAX_MESSAGE_BYTES = 50 * 1024 * 1024
"""Default limit of one message's attachments together (``max_attachments_bytes``): 50 MiB."""
DOCUMENT_KINDS = frozenset({"anthropic", "gemini"})
"""Provider kinds that take a PDF as a document; the others get its text."""
TEXT_TYPE = "text/plain"

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, PDF_TYPE),
)
_KINDS_SAID = "UTF-8 text, a PNG, JPEG, GIF or WebP image, or a PDF"


class AttachmentError(Exception):
    """A path or URL cannot be attached; the message is one line that says why."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much may be attached: bytes per file and per message (config ``max_attachment_bytes``
    and ``max_attachments_bytes``)."""

    per_file: int = DEFAULT_MAX_FILE_BYTES
    per_message: int = DEFAULT_MAX_MESSAGE_BYTES


def size_text(count: int) -> str:
    """`count` bytes as people say it: ``2.5 MiB``, ``512 KiB``, ``100 bytes``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{count} bytes"


def sniff(data: bytes) -> str | None:
    """The media type of an image or PDF by its magic bytes, or None (maybe text)."""
    for magic, offset, media_type in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode_text(data: bytes) -> str | None:
    """`data` as UTF-8 text (a leading BOM dropped), or None when it is not text (not valid
    UTF-8, or it has NUL bytes)."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def from_bytes(name: str, data: bytes, *, html: bool = False) -> Attachment:
    """An attachment of `data` (named `name`), its type found from its content.

    Args:
        html: the bytes are an HTML page (a fetched URL): its visible text is attached.

    Raises:
        AttachmentError: `data` is none of the kinds llmchat attaches.
    """
    media_type = sniff(data)
    if media_type is not None:
        return Attachment(name, media_type, data)
    text = decode_text(data)
    if text is None:
        raise AttachmentError(f"cannot attach {name}: unknown type (attachments are {_KINDS_SAID})")
    if html:
        from llmchat.chat.fetch import html_to_text

        text = html_to_text(text)
    return Attachment(name, TEXT_TYPE, data, text)


def read_file(path: str | os.PathLike[str], limits: Limits = Limits(), *, name: str | None = None) -> Attachment:
    """Read one file as an attachment (checked against the per-file limit before reading).

    Raises:
        AttachmentError: missing, unreadable, not a regular file, over the limit, or of an
            unknown type.
    """
    shown = name or os.fspath(path)
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise AttachmentError(f"cannot attach {shown}: not a regular file")
            _check_size(shown, info.st_size, limits)
            data = handle.read(limits.per_file + 1)
    except FileNotFoundError:
        raise AttachmentError(f"cannot attach {shown}: no such file or directory") from None
    except IsADirectoryError:
        raise AttachmentError(f"cannot attach {shown}: it is a directory") from None
    except PermissionError:
        raise AttachmentError(f"cannot attach {shown}: permission denied") from None
    except OSError as exc:
        raise AttachmentError(f"cannot attach {shown}: {exc.strerror or exc}") from None
    _check_size(shown, len(data), limits)
    return from_bytes(shown, data)


def _check_size(name: str, size: int, limits: Limits) -> None:
    if size > limits.per_file:
        raise AttachmentError(
            f"cannot attach {name}: it is {size_text(size)}, over the {size_text(limits.per_file)} "
            "per-file limit (max_attachment_bytes in the config file)"
        )


def check_total(attachments: Sequence[Attachment], limits: Limits) -> None:
    """Raise :class:`AttachmentError` when `attachments` together are over the per-message limit."""
    total = sum(a.size for a in attachments)
    if total > limits.per_message:
        raise AttachmentError(
            f"the attachments are {size_text(total)} together, over the {size_text(limits.per_message)} "
            "per-message limit (max_attachments_bytes in the config file)"
        )


def read_directory(path: str | os.PathLike[str], limits: Limits = Limits()) -> list[Attachment]:
    """The text files under directory `path` (names relative to it joined to `path`), in name
    order, without hidden names and what the ``.gitignore`` files exclude. Images, PDFs and
    other binary files inside are skipped, and so are files over the per-file limit.

    Raises:
        AttachmentError: `path` has no text file to attach, or they are over the
            per-message limit.
    """
    root = Path(path)
    found: list[Attachment] = []
    total = 0
    for file in _walk(root):
        try:
            if file.stat().st_size > limits.per_file:
                continue
            data = file.read_bytes()
        except OSError:
            continue
        text = decode_text(data) if sniff(data) is None else None
        if text is None:
            continue
        total += len(data)
        found.append(Attachment(os.path.join(os.fspath(path), file.relative_to(root).as_posix()), TEXT_TYPE,
                                data, text))
        if total > limits.per_message:
            check_total(found, limits)
    if not found:
        raise AttachmentError(f"cannot attach {os.fspath(path)}: no text files in it")
    return found


def _walk(root: Path) -> Iterator[Path]:
    """Files under `root`, in name order, skipping hidden names and ignored paths."""
    import pathspec

    specs: list[tuple[Path, pathspec.PathSpec]] = []

    def ignored(candidate: Path, is_dir: bool) -> bool:
        for base, spec in specs:
            if base == candidate or base not in candidate.parents:
                continue
            relative = candidate.relative_to(base).as_posix() + ("/" if is_dir else "")
            if spec.match_file(relative):
                return True
        return False

    def visit(folder: Path) -> Iterator[Path]:
        gitignore = folder / ".gitignore"
        if gitignore.is_file():
            try:
                lines = gitignore.read_text("utf-8", errors="replace").splitlines()
                specs.append((folder, pathspec.GitIgnoreSpec.from_lines(lines)))
            except OSError:
                pass
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = folder / entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if ignored(child, is_dir):
                continue
            if is_dir:
                yield from visit(child)
            elif entry.is_file(follow_symlinks=False):
                yield child

    yield from visit(root)


def is_url(spec: str) -> bool:
    """True for an ``http://`` or ``https://`` URL (anything else is a path)."""
    return spec.lower().startswith(("http://", "https://"))


async def fetch_attachment(
    url: str, client: httpx.AsyncClient, limits: Limits = Limits(), *, guard: AddressGuard | None = None
) -> Attachment:
    """Fetch `url` under ``fetch_url``'s safety rules; an HTML page becomes its visible text.

    Raises:
        AttachmentError: refused, failed, over the per-file limit, or of an unknown type.
    """
    from llmchat.chat.fetch import fetch_body
    from llmchat.chat.tools import ToolError

    try:
        _, content_type, data = await fetch_body(client, url, max_bytes=limits.per_file, guard=guard)
    except ToolError as exc:
        message = str(exc)
        if "is larger than" in message:
            raise AttachmentError(
                f"cannot attach {url}: it is over the {size_text(limits.per_file)} per-file limit "
                "(max_attachment_bytes in the config file)"
            ) from None
        raise AttachmentError(f"cannot attach {url}: {message}") from None
    kind = content_type.split(";")[0].strip().lower()
    return from_bytes(url, data, html=kind in ("text/html", "application/xhtml+xml"))


def read_paths(
    specs: Sequence[str], limits: Limits = Limits(), *, notice: Callable[[str], None] | None = None,
    fetch: Callable[[str], Attachment] | None = None,
) -> list[Attachment]:
    """The attachments of ``-a`` values in order: files, directories (`notice` is told their
    file count and size first) and URLs (through `fetch`; without it a URL is an error).

    Raises:
        AttachmentError: one of them cannot be attached, or all together are over the
            per-message limit.
    """
    out: list[Attachment] = []
    for spec in specs:
        if is_url(spec):
            if fetch is None:
                raise AttachmentError(f"cannot attach {spec}: URLs cannot be attached here")
            out.append(fetch(spec))
        elif os.path.isdir(spec):
            found = read_directory(spec, limits)
            if notice is not None:
                size = size_text(sum(a.size for a in found))
                notice(f"attaching {len(found)} text file{'s' * (len(found) != 1)} ({size}) from {spec}")
            out.extend(found)
        else:
            out.append(read_file(spec, limits))
        check_total(out, limits)
    return out


def prepare(attachments: Sequence[Attachment], kind: str) -> list[Attachment]:
    """`attachments` as provider kind `kind` takes them: PDFs keep their bytes as documents
    for :data:`DOCUMENT_KINDS` and get their extracted text for the others.

    Raises:
        AttachmentError: a PDF's text is needed and ``pypdf`` is not installed, the PDF
            cannot be read, or it has no text.
    """
    out = []
    for attachment in attachments:
        if attachment.media_type == PDF_TYPE:
            if kind in DOCUMENT_KINDS:
                attachment = replace(attachment, text=None)
            elif attachment.text is None:
                attachment = replace(attachment, text=pdf_text(attachment.name, attachment.data))
        out.append(attachment)
    return out


def prepare_conversation(messages: Sequence[Message], kind: str) -> None:
    """:func:`prepare` every message's attachments in place for provider kind `kind` (before
    a request, as the provider may have changed since they were attached).

    Raises:
        AttachmentError: as :func:`prepare`.
    """
    for message in messages:
        if message.attachments:
            message.attachments = prepare(message.attachments, kind)


def provider_kind(provider: object) -> str:
    """The wire protocol of a provider object, by its module (``llmchat.providers.anthropic``
    -> ``"anthropic"``): enough to tell :data:`DOCUMENT_KINDS` apart."""
    return type(provider).__module__.rsplit(".", 1)[-1]


def estimate_tokens(attachment: Attachment) -> int:
    """A rough count of the tokens `attachment` costs: text at four characters a token; an
    image by its size in pixels where the header gives it (PNG, GIF: width x height / 750, as
    Anthropic counts, at most 1,600), else 1,000; a PDF sent as a document about 1,500 a
    page (estimated from its size)."""
    if attachment.text is not None:
        return max(1, len(attachment.text) // 4)
    data = attachment.data
    if attachment.media_type == "image/png" and len(data) >= 24:
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return max(1, min(1600, width * height // 750))
    if attachment.media_type == "image/gif" and len(data) >= 10:
        width, height = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        return max(1, min(1600, width * height // 750))
    if attachment.is_image:
        return 1000
    return max(1, attachment.size // 50)


def pdf_text(name: str, data: bytes) -> str:
    """The text of a PDF, page by page (``pypdf``, imported here: an optional extra).

    Raises:
        AttachmentError: ``pypdf`` is missing, the file is not a readable PDF, or it has no
            text (a scanned PDF).
    """
    try:
        import pypdf
    except ImportError:
        raise AttachmentError(
            f"cannot attach {name}: this provider takes PDFs as text, and reading it needs pypdf "
            "(pip install pypdf)"
        ) from None
    import io

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many kinds on a broken file
        raise AttachmentError(f"cannot attach {name}: not a readable PDF ({type(exc).__name__})") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise AttachmentError(f"cannot attach {name}: the PDF has no text to extract (a scanned PDF?)")
    return text
