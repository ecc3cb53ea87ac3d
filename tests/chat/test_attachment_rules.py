"""Attachment rules its main tests leave open (llmchat.chat.attachments): both sides of the
per-file and per-message limits for files, directories and several paths, sizes as people say
them, what is not a regular file, magic bytes cut short, the token estimates of each kind, and
which content types make a fetched page its visible text."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from llmchat.chat.attachments import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    AttachmentError,
    Limits,
    check_total,
    decode_text,
    estimate_tokens,
    fetch_attachment,
    from_bytes,
    is_url,
    prepare,
    pdf_text,
    prepare_conversation,
    provider_kind,
    read_directory,
    read_file,
    read_paths,
    size_text,
    sniff,
)
from llmchat.chat.models import PDF_TYPE, Attachment, Message
from llmchat.chat.netguard import AddressGuard, IPAddress, address_problem
from tests.loopback import LoopbackServer, Reply


def test_the_default_limits() -> None:
    # DESIGN "Attachments": 20 MiB a file, 50 MiB a message
    assert (Limits().per_file, Limits().per_message) == (20 * 1024 * 1024, 50 * 1024 * 1024)
    assert (DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_MESSAGE_BYTES) == (20 << 20, 50 << 20)


@pytest.mark.parametrize(("count", "text"), [
    (0, "0 bytes"), (1, "1 bytes"), (1023, "1023 bytes"), (1024, "1 KiB"), (1025, "1.0 KiB"), (1536, "1.5 KiB"),
    ((1 << 20) - 1, "1024.0 KiB"), (1 << 20, "1 MiB"), (5 * (1 << 20) // 2, "2.5 MiB"), (20 << 20, "20 MiB"),
    ((1 << 30) - 1, "1024.0 MiB"), (1 << 30, "1 GiB"), (3 << 30, "3 GiB"), ((1 << 30) * 3 // 2, "1.5 GiB"),
])
def test_sizes_as_people_say_them(count: int, text: str) -> None:
    assert size_text(count) == text


def test_a_file_of_exactly_the_limit_is_attached_and_one_byte_more_is_not(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 100)
    assert read_file(path, Limits(per_file=100)).size == 100
    with pytest.raises(AttachmentError) as caught:
        read_file(path, Limits(per_file=99))
    assert str(caught.value) == (f"cannot attach {path}: it is 100 bytes, over the 99 bytes per-file limit "
                                 "(max_attachment_bytes in the config file)")


def test_a_file_is_named_as_given(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("hi")
    assert read_file(path, name="shown.txt").name == "shown.txt"
    assert read_file(path).name == str(path)
    with pytest.raises(AttachmentError, match="cannot attach shown.txt: it is 2 bytes"):
        read_file(path, Limits(per_file=1), name="shown.txt")


def test_what_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError) as caught:
        read_file("/dev/null")
    assert str(caught.value) == "cannot attach /dev/null: not a regular file"
    with pytest.raises(AttachmentError) as caught:
        read_file(tmp_path)
    assert str(caught.value) == f"cannot attach {tmp_path}: it is a directory"
    with pytest.raises(AttachmentError) as caught:
        read_file(tmp_path / "missing.txt")
    assert str(caught.value) == f"cannot attach {tmp_path / 'missing.txt'}: no such file or directory"
    (tmp_path / "file").write_text("x")
    with pytest.raises(AttachmentError) as caught:
        read_file(tmp_path / "file" / "below")  # ENOTDIR: another OSError, its words
    assert str(caught.value) == f"cannot attach {tmp_path / 'file' / 'below'}: Not a directory"


@pytest.mark.parametrize(("sizes", "limit", "fits"), [
    ([60, 40], 100, True), ([60, 41], 100, False), ([100], 100, True), ([101], 100, False), ([], 0, True),
])
def test_the_per_message_limit_on_both_sides(sizes: list[int], limit: int, fits: bool) -> None:
    attachments = [Attachment(f"f{i}", "text/plain", b"x" * n, "x" * n) for i, n in enumerate(sizes)]
    if fits:
        check_total(attachments, Limits(per_message=limit))
    else:
        with pytest.raises(AttachmentError) as caught:
            check_total(attachments, Limits(per_message=limit))
        assert str(caught.value) == (f"the attachments are {sum(sizes)} bytes together, over the 100 bytes "
                                     "per-message limit (max_attachments_bytes in the config file)")


def test_several_paths_are_checked_together_on_both_sides(tmp_path: Path) -> None:
    for name, size in (("a.txt", 60), ("b.txt", 40), ("c.txt", 1)):
        (tmp_path / name).write_bytes(b"y" * size)
    a, b, c = (str(tmp_path / n) for n in ("a.txt", "b.txt", "c.txt"))
    assert [x.size for x in read_paths([a, b], Limits(per_message=100))] == [60, 40]
    with pytest.raises(AttachmentError, match="101 bytes together, over the 100 bytes per-message limit"):
        read_paths([a, b, c], Limits(per_message=100))


def test_a_directory_keeps_files_of_exactly_the_limit_and_skips_bigger_ones(tmp_path: Path) -> None:
    (tmp_path / "at.txt").write_bytes(b"a" * 10)
    (tmp_path / "over.txt").write_bytes(b"b" * 11)
    (tmp_path / "small.txt").write_bytes(b"c")
    found = read_directory(tmp_path, Limits(per_file=10))
    assert [Path(a.name).name for a in found] == ["at.txt", "small.txt"]
    assert [a.name for a in found] == [f"{tmp_path}/at.txt", f"{tmp_path}/small.txt"]


def test_a_directory_of_exactly_the_message_limit_is_attached_and_one_byte_more_is_not(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a" * 6)
    (tmp_path / "b.txt").write_bytes(b"b" * 4)
    assert len(read_directory(tmp_path, Limits(per_message=10))) == 2
    with pytest.raises(AttachmentError, match="11 bytes together, over the 10 bytes per-message limit"):
        (tmp_path / "c.txt").write_bytes(b"c")
        read_directory(tmp_path, Limits(per_message=10))
    # many small files past the limit: refused at once, not after reading them all
    for i in range(50):
        (tmp_path / f"z{i:02}.txt").write_bytes(b"z")
    with pytest.raises(AttachmentError, match="11 bytes together"):
        read_directory(tmp_path, Limits(per_message=10))


def test_a_directory_skips_hidden_binary_and_linked_entries(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET=1")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "in.txt").write_text("hidden")
    (tmp_path / "bin.dat").write_bytes(b"\x00\x01")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4 text-like")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b")
    (tmp_path / "a.txt").write_text("a")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("outside")
    os.symlink(outside, tmp_path / "link.txt")
    os.symlink(tmp_path / "sub", tmp_path / "linkdir")
    assert [a.text for a in read_directory(tmp_path)] == ["a", "b"]


def test_a_gitignore_applies_below_its_own_folder_only(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / ".gitignore").write_text("*.txt\n!keep.txt\n")
    (tmp_path / "two" / ".gitignore").write_text("y.txt\n")  # the second of two specs
    for folder in ("one", "two"):
        (tmp_path / folder / "x.txt").write_text(folder)
    (tmp_path / "one" / "keep.txt").write_text("kept")
    (tmp_path / "two" / "y.txt").write_text("ignored")
    names = [Path(a.name).relative_to(tmp_path).as_posix() for a in read_directory(tmp_path)]
    assert names == ["one/keep.txt", "two/x.txt"]


def test_a_directory_notice_counts_its_files(tmp_path: Path) -> None:
    notes: list[str] = []
    (tmp_path / "only.txt").write_text("12345")
    read_paths([str(tmp_path)], notice=notes.append)
    (tmp_path / "two.txt").write_bytes(b"x" * 2043)
    read_paths([str(tmp_path)], notice=notes.append)
    assert notes == [f"attaching 1 text file (5 bytes) from {tmp_path}",
                     f"attaching 2 text files (2 KiB) from {tmp_path}"]


def test_a_url_goes_through_the_fetcher() -> None:
    fetched: list[str] = []

    def fetch(url: str) -> Attachment:
        fetched.append(url)
        return Attachment(url, "text/plain", b"page", "page")

    assert [a.text for a in read_paths(["HTTPS://example.com/a", "http://example.com/b"], fetch=fetch)] == [
        "page", "page"]
    assert fetched == ["HTTPS://example.com/a", "http://example.com/b"]


@pytest.mark.parametrize(("spec", "url"), [
    ("http://x", True), ("https://x/y", True), ("HTTP://X", True), ("Https://x", True),
    ("ftp://x", False), ("http:/x", False), ("file:///etc/passwd", False), ("./http://x", False), ("httpx", False),
])
def test_what_counts_as_a_url(spec: str, url: bool) -> None:
    assert is_url(spec) is url


@pytest.mark.parametrize(("data", "media_type"), [
    (b"\x89PNG\r\n\x1a", None),  # one byte short of the PNG signature
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8", None), (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF88a", None), (b"GIF8", None),
    (b"%PDF", None), (b"%PDF-", PDF_TYPE), (b"x%PDF-", None),
    (b"RIFF\0\0\0\0WEBP", "image/webp"), (b"RIFF\0\0\0\0WEB", None), (b"RIFX\0\0\0\0WEBP", None),
    (b"\0\0\0\0\0\0\0\0WEBP", None), (b"", None),
])
def test_magic_bytes_must_be_whole_and_at_the_start(data: bytes, media_type: str | None) -> None:
    assert sniff(data) == media_type


@pytest.mark.parametrize(("data", "text"), [
    (b"", ""), (b"plain", "plain"), (b"\xef\xbb\xbfwith BOM", "with BOM"), ("é ü 漢".encode(), "é ü 漢"),
    (b"a\x00b", None), (b"\x00", None), (b"caf\xe9", None), (b"\xef\xbb", None),
])
def test_what_is_text(data: bytes, text: str | None) -> None:
    assert decode_text(data) == text


def test_bytes_become_an_attachment_of_their_kind() -> None:
    assert from_bytes("a.png", b"\x89PNG\r\n\x1a\nrest").media_type == "image/png"
    assert from_bytes("a.png", b"\x89PNG\r\n\x1a\nrest").text is None
    note = from_bytes("n", b"\xef\xbb\xbfhi")
    assert (note.media_type, note.text, note.data) == ("text/plain", "hi", b"\xef\xbb\xbfhi")
    page = from_bytes("u", b"<p>Hi</p><script>x()</script>", html=True)
    assert page.text == "Hi"
    assert from_bytes("u", b"<p>Hi</p>").text == "<p>Hi</p>"
    with pytest.raises(AttachmentError) as caught:
        from_bytes("blob.bin", b"\x00\x01")
    assert str(caught.value) == ("cannot attach blob.bin: unknown type (attachments are UTF-8 text, a PNG, "
                                 "JPEG, GIF or WebP image, or a PDF)")


def png(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little")


@pytest.mark.parametrize(("attachment", "tokens"), [
    (Attachment("t", "text/plain", b"", ""), 1),
    (Attachment("t", "text/plain", b"", "abc"), 1),
    (Attachment("t", "text/plain", b"", "abcdefg"), 1),
    (Attachment("t", "text/plain", b"", "abcdefgh"), 2),
    (Attachment("t", "text/plain", b"", "x" * 4000), 1000),
    (Attachment("p", PDF_TYPE, b"x" * 5000, "x" * 400), 100),  # a PDF sent as its text
    (Attachment("i", "image/png", png(300, 250)), 100),  # 75,000 pixels / 750
    (Attachment("i", "image/png", png(301, 250)), 100),
    (Attachment("i", "image/png", png(1, 1)), 1),
    (Attachment("i", "image/png", png(1200, 1000)), 1600),  # at most 1,600
    (Attachment("i", "image/png", png(1000, 1200)), 1600),
    (Attachment("i", "image/png", png(1095, 1095)), 1598),
    (Attachment("i", "image/png", png(300, 250)[:23]), 1000),  # no size in a cut header
    (Attachment("i", "image/gif", gif(300, 250)), 100),
    (Attachment("i", "image/gif", gif(2, 1)), 1),
    (Attachment("i", "image/gif", gif(4000, 4000)), 1600),
    (Attachment("i", "image/gif", gif(300, 250)[:9]), 1000),
    (Attachment("i", "image/gif", gif(750, 1) + b"rest"), 1),  # little-endian: 750 x 1
    (Attachment("i", "image/jpeg", b"\xff\xd8\xff" + bytes(100)), 1000),
    (Attachment("i", "image/webp", b"RIFF\0\0\0\0WEBP" + bytes(100)), 1000),
    (Attachment("d", PDF_TYPE, b"x" * 75_000), 1500),  # a document: by its size
    (Attachment("d", PDF_TYPE, b"x" * 49), 1),
    (Attachment("d", PDF_TYPE, b"x" * 100), 2),
])
def test_the_token_estimate_of_each_kind(attachment: Attachment, tokens: int) -> None:
    assert estimate_tokens(attachment) == tokens


def test_a_png_header_is_read_big_endian() -> None:
    assert estimate_tokens(Attachment("i", "image/png", png(750, 1))) == 1
    assert estimate_tokens(Attachment("i", "image/png", png(256 * 3, 1))) == 1  # not 3 x 256 little-endian
    assert estimate_tokens(Attachment("i", "image/png", png(750 * 2, 1)[:24])) == 2


def test_prepare_keeps_everything_that_is_not_a_pdf_and_text_already_read() -> None:
    note = Attachment("n.txt", "text/plain", b"n", "n")
    image = Attachment("i.png", "image/png", b"\x89PNG\r\n\x1a\n")
    read = Attachment("r.pdf", PDF_TYPE, b"%PDF- broken", "its text")  # not read again
    for kind in ("openai", "ollama", "openai-responses"):
        assert prepare([note, image, read], kind) == [note, image, read]
    assert prepare([read], "anthropic") == [Attachment("r.pdf", PDF_TYPE, b"%PDF- broken", None)]
    assert prepare([read], "gemini")[0].text is None
    with pytest.raises(AttachmentError, match="not a readable PDF"):
        prepare([Attachment("b.pdf", PDF_TYPE, b"%PDF- broken")], "openai")


def test_prepare_conversation_changes_only_messages_with_attachments() -> None:
    read = Attachment("r.pdf", PDF_TYPE, b"%PDF-", "text")
    user = Message("user", "q", attachments=[read])
    plain = Message("user", "p")
    prepare_conversation([user, plain], "anthropic")
    assert user.attachments[0].text is None and plain.attachments == []


@pytest.mark.parametrize(("module", "kind"), [
    ("llmchat.providers.anthropic", "anthropic"), ("llmchat.providers.gemini", "gemini"),
    ("llmchat.providers.openai", "openai"), ("plugin", "plugin"),
])
def test_the_provider_kind_is_its_modules_last_name(module: str, kind: str) -> None:
    provider = type("Provider", (), {"__module__": module})()
    assert provider_kind(provider) == kind


def loopback_is_public(address: IPAddress) -> str | None:
    return None if str(address) == "127.0.0.1" else address_problem(address)


@pytest.mark.parametrize(("content_type", "as_text"), [
    ("text/html", True), ("text/html; charset=utf-8", True), ("TEXT/HTML", True), (" text/html ;q=1", True),
    ("application/xhtml+xml", True), ("text/plain", False), ("application/xml", False), ("", False),
])
async def test_a_fetched_page_is_its_visible_text_by_content_type(server: LoopbackServer, content_type: str,
                                                                  as_text: bool) -> None:
    body = b"<p>Visible</p><script>hidden()</script>"
    server.handler = lambda _r: Reply(parts=[body], headers={"content-type": content_type})
    async with httpx.AsyncClient() as client:
        page = await fetch_attachment(f"http://127.0.0.1:{server.port}/p", client,
                                      guard=AddressGuard(problem=loopback_is_public))
    assert page.text == ("Visible" if as_text else body.decode())
    assert page.data == body


async def test_a_fetch_of_exactly_the_limit_is_attached_and_other_failures_are_named(server: LoopbackServer) -> None:
    server.handler = lambda r: (Reply(parts=[b"x" * 100], headers={"content-type": "text/plain"}) if r.path == "/ok"
                                else Reply(status=404, parts=[b"gone"], headers={"content-type": "text/plain"}))
    guard = AddressGuard(problem=loopback_is_public)
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient() as client:
        assert (await fetch_attachment(f"{base}/ok", client, Limits(per_file=100), guard=guard)).size == 100
        with pytest.raises(AttachmentError) as caught:
            await fetch_attachment(f"{base}/ok", client, Limits(per_file=99), guard=guard)
        assert str(caught.value) == (f"cannot attach {base}/ok: it is over the 99 bytes per-file limit "
                                     "(max_attachment_bytes in the config file)")
        with pytest.raises(AttachmentError) as caught:
            await fetch_attachment(f"{base}/missing", client, guard=guard)
        assert str(caught.value).startswith(f"cannot attach {base}/missing: HTTP 404")


def test_a_pdf_without_text_is_refused_and_its_text_is_stripped() -> None:
    from tests.chat.test_attachments import make_pdf

    with pytest.raises(AttachmentError) as caught:
        pdf_text("scan.pdf", make_pdf(""))
    assert str(caught.value) == "cannot attach scan.pdf: the PDF has no text to extract (a scanned PDF?)"
    assert pdf_text("one.pdf", make_pdf("  Only words  ")) == "Only words"
