"""Reading and checking attachments (llmchat.chat.attachments) and their Chat Completions
shape (llmchat.chat.models): shared/DESIGN.md, "Attachments"."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
import pytest

from llmchat.chat.attachments import (
    AttachmentError,
    Limits,
    fetch_attachment,
    pdf_text,
    prepare,
    read_directory,
    read_file,
    read_paths,
    sniff,
)
from llmchat.chat.models import Attachment, Message
from llmchat.chat.netguard import AddressGuard, IPAddress, address_problem
from tests.loopback import LoopbackServer, Reply

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(40)
GIF = b"GIF89a" + bytes(20)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(20)


def make_pdf(text: str) -> bytes:
    """A minimal one-page PDF showing `text` (Helvetica), with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize(("data", "media_type"), [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (b"GIF87a" + bytes(9), "image/gif"),
    (WEBP, "image/webp"), (b"%PDF-1.7\n", "application/pdf"), (b"hello", None), (b"RIFF\0\0\0\0WAVE", None),
])
def test_sniff_goes_by_magic_bytes(data: bytes, media_type: str | None) -> None:
    assert sniff(data) == media_type


def test_an_image_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(PNG)
    attachment = read_file(path)
    assert (attachment.media_type, attachment.data, attachment.size, attachment.text) == ("image/png", PNG, len(PNG), None)


def test_a_text_file_keeps_its_bytes_and_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes("\ufeffhé ```x``` \n".encode())
    attachment = read_file(path, name="notes.md")
    assert attachment.media_type == "text/plain" and attachment.text == "hé ```x``` \n"
    assert attachment.text_block() == "notes.md\n````\nhé ```x``` \n````"  # a longer fence than inside


@pytest.mark.parametrize(("content", "reason"), [
    (b"\xff\xfe\x00b\x00i\x00n", "unknown type"), (b"text\0with nul", "unknown type"), (b"\xc3(", "unknown type"),
])
def test_unknown_types_are_refused_naming_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(content)
    with pytest.raises(AttachmentError, match=f"cannot attach .*blob.bin: {reason}"):
        read_file(path)


def test_missing_file_and_directory_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match="no such file or directory") as missing:
        read_file(tmp_path / "nope.png")
    assert "\n" not in str(missing.value)
    with pytest.raises(AttachmentError, match="it is a directory|not a regular file"):
        read_file(tmp_path)


def test_the_per_file_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(AttachmentError, match=r"big.log: it is 2 KiB, over the 1 KiB per-file limit \(max_attachment_bytes"):
        read_file(path, Limits(per_file=1024))
    assert read_file(path, Limits(per_file=2048)).size == 2048


def test_the_per_message_limit_counts_all_attachments(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_bytes(b"y" * 600)
    specs = [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    with pytest.raises(AttachmentError, match=r"1.2 KiB together, over the 1 KiB per-message limit \(max_attachments_bytes"):
        read_paths(specs, Limits(per_file=1024, per_message=1024))
    assert len(read_paths(specs, Limits(per_file=1024, per_message=1200))) == 2


def test_a_directory_attaches_its_text_files_respecting_gitignore(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "src" / "build").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / ".gitignore").write_text("*.log\nbuild/\n")
    (root / "README.md").write_text("readme")
    (root / "debug.log").write_text("ignored")
    (root / "logo.png").write_bytes(PNG)  # not text: skipped in a directory
    (root / "src" / "app.py").write_text("print(1)")
    (root / "src" / "build" / "out.txt").write_text("ignored")
    (root / "src" / ".gitignore").write_text("secret.txt\n")
    (root / "src" / "secret.txt").write_text("ignored")
    notes: list[str] = []
    found = read_paths([str(root)], notice=notes.append)
    assert [a.name for a in found] == [f"{root}/README.md", f"{root}/src/app.py"]
    assert [a.text for a in found] == ["readme", "print(1)"]
    assert notes == [f"attaching 2 text files (14 bytes) from {root}"]


def test_a_directory_without_text_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "img.png").write_bytes(PNG)
    with pytest.raises(AttachmentError, match="no text files"):
        read_directory(tmp_path)


def test_a_url_is_refused_without_a_fetcher() -> None:
    with pytest.raises(AttachmentError, match="cannot attach https://example.com/x.png"):
        read_paths(["https://example.com/x.png"])


def test_user_message_wire_shape_with_text_and_image() -> None:
    image = Attachment("shot.png", "image/png", PNG)
    text = Attachment("a.txt", "text/plain", b"alpha", "alpha")
    wire = Message("user", "what?", attachments=[text, image]).to_wire()
    assert wire == {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}},
        {"type": "text", "text": "a.txt\n```\nalpha\n```\n\nwhat?"},
    ]}
    only_text = Message("user", "q", attachments=[text]).to_wire()
    assert only_text == {"role": "user", "content": "a.txt\n```\nalpha\n```\n\nq"}  # a plain string still


def test_pdf_is_a_document_for_anthropic_and_gemini_and_text_elsewhere() -> None:
    pdf = Attachment("paper.pdf", "application/pdf", make_pdf("Hello PDF world"))
    for kind in ("anthropic", "gemini"):
        (document,) = prepare([pdf], kind)
        wire = Message("user", "sum", attachments=[document]).to_wire()
        assert wire["content"][0] == {"type": "file", "file": {
            "filename": "paper.pdf", "file_data": "data:application/pdf;base64," + base64.b64encode(pdf.data).decode()}}
    for kind in ("openai", "openai-responses", "ollama"):
        (as_text,) = prepare([pdf], kind)
        assert as_text.data == pdf.data
        assert Message("user", "sum", attachments=[as_text]).to_wire()["content"] == (
            "paper.pdf\n```\nHello PDF world\n```\n\nsum")


def test_pdf_text_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AttachmentError, match="bad.pdf: not a readable PDF"):
        pdf_text("bad.pdf", b"%PDF-1.4\nthis is not a pdf")
    import sys

    monkeypatch.setitem(sys.modules, "pypdf", None)
    with pytest.raises(AttachmentError, match=r"needs pypdf \(pip install pypdf\)"):
        pdf_text("paper.pdf", make_pdf("x"))


def loopback_is_public(address: IPAddress) -> str | None:
    return None if str(address) == "127.0.0.1" else address_problem(address)


async def test_url_attachment_image_and_html(server: LoopbackServer) -> None:
    def handler(request: object) -> Reply:
        if request.path == "/shot":  # type: ignore[attr-defined]
            return Reply(parts=[PNG], headers={"content-type": "image/png"})
        return Reply(parts=[b"<html><script>x()</script><p>Visible</p></html>"], headers={"content-type": "text/html"})

    server.handler = handler
    guard = AddressGuard(problem=loopback_is_public)
    async with httpx.AsyncClient() as client:
        image = await fetch_attachment(f"http://127.0.0.1:{server.port}/shot", client, guard=guard)
        page = await fetch_attachment(f"http://127.0.0.1:{server.port}/page", client, guard=guard)
    assert (image.media_type, image.data) == ("image/png", PNG)
    assert (page.media_type, page.text) == ("text/plain", "Visible")


async def test_url_attachment_keeps_fetch_url_safety_rules(server: LoopbackServer) -> None:
    server.handler = lambda request: Reply(parts=[PNG], headers={"content-type": "image/png"})
    async with httpx.AsyncClient() as client:
        with pytest.raises(AttachmentError, match="not a public address"):
            await fetch_attachment(f"http://127.0.0.1:{server.port}/shot", client)
        big = Limits(per_file=100)
        with pytest.raises(AttachmentError, match="per-file limit"):
            await fetch_attachment(f"http://127.0.0.1:{server.port}/shot", client, big,
                                   guard=AddressGuard(problem=loopback_is_public))
    assert len(server.requests) == 1  # the refused one never reached the server


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = tmp_path / "locked.txt"
    path.write_text("x")
    path.chmod(0)
    with pytest.raises(AttachmentError, match="permission denied"):
        read_file(path)
