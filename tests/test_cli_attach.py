"""`llmchat ask -a PATH|URL`: each provider's image part and text block on the wire, bad files
refused before anything is sent (shared/DESIGN.md, "Attachments"). Real subprocesses against
the loopback server."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.attach_support import PROVIDERS, any_provider, provider_env, user_turns
from tests.chat.test_attachments import PNG, make_pdf
from tests.loopback import LoopbackServer
from tests.test_cli import ask, assert_clean_stderr, cli_env

B64 = base64.b64encode(PNG).decode()
TEXT_BLOCK = "notes.txt\n```\nline one\nline two\n```\n\nDescribe."

EXPECTED_USER = {
    "openai": {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}},
        {"type": "text", "text": TEXT_BLOCK}]},
    "openai-responses": {"role": "user", "content": [
        {"type": "input_image", "image_url": f"data:image/png;base64,{B64}", "detail": "auto"},
        {"type": "input_text", "text": TEXT_BLOCK}]},
    "anthropic": {"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64}},
        {"type": "text", "text": TEXT_BLOCK}]},
    "ollama": {"role": "user", "content": TEXT_BLOCK, "images": [B64]},
    "gemini": {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": B64}}, {"text": TEXT_BLOCK}]},
}


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "shot.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("line one\nline two\n")
    (tmp_path / "paper.pdf").write_bytes(make_pdf("Quarterly numbers"))
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02\xff" * 8)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("provider", PROVIDERS)
def test_image_and_text_reach_each_provider_in_its_own_shape(server: LoopbackServer, files: Path, provider: str) -> None:
    server.handler = any_provider
    env = provider_env(server, cli_env(None))
    result = ask(None, "-p", provider, "-m", "m1", "-a", "shot.png", "--attach", "notes.txt", "Describe.", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"seen"
    assert_clean_stderr(result.stderr)
    assert user_turns(provider, server.requests[-1].json()) == [EXPECTED_USER[provider]]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_pdf_is_a_document_or_its_text(server: LoopbackServer, files: Path, provider: str) -> None:
    server.handler = any_provider
    result = ask(None, "-p", provider, "-m", "m1", "-a", "paper.pdf", "Sum up.", env=provider_env(server, cli_env(None)))
    assert result.returncode == 0, result.stderr
    (turn,) = user_turns(provider, server.requests[-1].json())
    b64 = base64.b64encode((files / "paper.pdf").read_bytes()).decode()
    if provider == "anthropic":
        assert turn["content"][0] == {"type": "document", "source": {
            "type": "base64", "media_type": "application/pdf", "data": b64}}
    elif provider == "gemini":
        assert turn["parts"][0] == {"inlineData": {"mimeType": "application/pdf", "data": b64}}
    else:
        assert "paper.pdf\n```\nQuarterly numbers\n```\n\nSum up." in json.dumps(turn, ensure_ascii=False).replace(
            "\\n", "\n")
        assert b64 not in json.dumps(turn)


@pytest.mark.parametrize(("args", "message"), [
    (["-a", "missing.png"], b"cannot attach missing.png: no such file or directory"),
    (["-a", "blob.bin"], b"cannot attach blob.bin: unknown type"),
    (["-a", "notes.txt", "-a", "nope.txt"], b"cannot attach nope.txt: no such file"),
    (["--attach=blob.bin"], b"cannot attach blob.bin: unknown type"),  # the Typer path
])
def test_bad_files_exit_2_before_anything_is_sent(server: LoopbackServer, files: Path, args: list[str],
                                                    message: bytes) -> None:
    server.handler = any_provider
    result = ask(server, *args, "Describe.")
    assert result.returncode == 2
    assert result.stderr.startswith(b"llmchat: error: " + message)
    assert result.stderr.count(b"\n") == 1
    assert_clean_stderr(result.stderr)
    assert server.requests == []


def test_over_the_configured_limits_names_the_limit(server: LoopbackServer, files: Path) -> None:
    env = cli_env(server)
    config = Path(env["XDG_CONFIG_HOME"]) / "llmchat" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("max_attachment_bytes = 100\nmax_attachments_bytes = 300\n")
    big = ask(server, "-a", "shot.png", "q", env=env)  # 264 bytes
    assert big.returncode == 2 and b"per-file limit (max_attachment_bytes" in big.stderr
    (files / "t1.txt").write_text("a" * 90)
    (files / "t2.txt").write_text("a" * 90)
    (files / "t3.txt").write_text("a" * 90)
    (files / "t4.txt").write_text("a" * 90)
    many = ask(server, "-a", "t1.txt", "-a", "t2.txt", "-a", "t3.txt", "-a", "t4.txt", "q", env=env)
    assert many.returncode == 2 and b"per-message limit (max_attachments_bytes" in many.stderr
    assert server.requests == []
    config.write_text("max_attachment_bytes = -5\n")
    bad = ask(server, "-a", "t1.txt", "q", env=env)
    assert bad.returncode == 2 and b"max_attachment_bytes" in bad.stderr


def test_a_directory_is_announced_on_stderr(server: LoopbackServer, files: Path) -> None:
    server.handler = any_provider
    (files / "src").mkdir()
    (files / "src" / "a.py").write_text("A = 1\n")
    (files / "src" / "b.py").write_text("B = 2\n")
    result = ask(server, "-a", "src", "Review.")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"llmchat: attaching 2 text files (12 bytes) from src\n"
    content = server.requests[-1].json()["messages"][-1]["content"]
    assert content == "src/a.py\n```\nA = 1\n```\n\nsrc/b.py\n```\nB = 2\n```\n\nReview."


def test_attachments_without_a_prompt_are_sent(server: LoopbackServer, files: Path) -> None:
    server.handler = any_provider
    result = ask(server, "-a", "notes.txt")
    assert result.returncode == 0, result.stderr
    assert server.requests[-1].json()["messages"][-1]["content"] == "notes.txt\n```\nline one\nline two\n```"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_continue_sends_the_stored_attachments_again(server: LoopbackServer, files: Path, provider: str) -> None:
    server.handler = any_provider
    env = provider_env(server, cli_env(None))
    first = ask(None, "-p", provider, "-m", "m1", "-a", "shot.png", "-a", "notes.txt", "Describe.", env=env)
    assert first.returncode == 0, first.stderr
    (files / "shot.png").unlink()  # the stored bytes are sent, not the file read again
    again = ask(None, "-p", provider, "-m", "m1", "-c", "And now?", env=env)
    assert again.returncode == 0, again.stderr
    turns = user_turns(provider, server.requests[-1].json())
    assert turns[0] == EXPECTED_USER[provider]
    assert len(turns) == 2 and "And now?" in json.dumps(turns[1])


def test_continue_with_a_pdf_on_another_provider_sends_its_text(server: LoopbackServer, files: Path) -> None:
    server.handler = any_provider
    env = provider_env(server, cli_env(None))
    assert ask(None, "-p", "anthropic", "-m", "m1", "-a", "paper.pdf", "Sum up.", env=env).returncode == 0
    assert server.requests[-1].json()["messages"][0]["content"][0]["type"] == "document"
    again = ask(None, "-p", "openai", "-m", "m1", "-c", "Shorter.", env=env)
    assert again.returncode == 0, again.stderr
    assert server.requests[-1].json()["messages"][0]["content"] == "paper.pdf\n```\nQuarterly numbers\n```\n\nSum up."


def test_history_show_and_export_list_the_attachments(server: LoopbackServer, files: Path) -> None:
    import subprocess
    import sys

    server.handler = any_provider
    assert ask(server, "-a", "shot.png", "Describe.").returncode == 0
    env = cli_env(server)
    shown = subprocess.run([sys.executable, "-m", "llmchat", "history", "show", "latest"], env=env,
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert shown.returncode == 0, shown.stderr
    assert f"- Attached: `shot.png` (image/png, {len(PNG)} bytes)".encode() in shown.stdout
    exported = subprocess.run([sys.executable, "-m", "llmchat", "export", "--format", "json", "latest"], env=env,
                              capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    attachments = json.loads(exported.stdout)["messages"][0]["attachments"]
    assert [(a["name"], base64.b64decode(a["data"])) for a in attachments] == [("shot.png", PNG)]


VISION_REFUSALS = [
    ("openai", 400, {"error": {"message": "Invalid content type. image_url is only supported by certain models.",
                               "type": "invalid_request_error"}}),
    ("openai", 500, {"error": {"code": 500, "type": "server_error", "message":
                               "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"}}),
    ("openai", 404, {"error": {"message": "No endpoints found that support image input", "code": 404}}),
    ("ollama", 500, {"error": "this model is missing data required for image input"}),
    ("anthropic", 400, {"type": "error", "error": {"type": "invalid_request_error",
                                                   "message": "This model does not support image input."}}),
    ("gemini", 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                               "message": "Image input modality is not enabled: this model does not support images"}}),
]


@pytest.mark.parametrize(("provider", "status", "body"), VISION_REFUSALS)
def test_a_model_without_vision_is_named_as_such_and_not_retried(
    server: LoopbackServer, files: Path, provider: str, status: int, body: dict[str, object]
) -> None:
    from tests.loopback import json_reply

    server.handler = lambda _r: json_reply(status, body)
    result = ask(None, "-p", provider, "-m", "m1", "-a", "shot.png", "Describe.", env=provider_env(server, cli_env(None)))
    assert result.returncode == 1
    assert b"this model does not take images" in result.stderr
    assert_clean_stderr(result.stderr)
    assert len(server.requests) == 1


def test_models_marks_the_models_that_take_images(server: LoopbackServer) -> None:
    import subprocess
    import sys

    from tests.loopback import Request, json_reply

    def handler(request: Request) -> object:
        if request.path == "/v1/models":
            return json_reply(200, {"data": [
                {"id": "vision-model", "architecture": {"input_modalities": ["text", "image"]}},
                {"id": "old-style", "architecture": {"modality": "text+image->text"}},
                {"id": "text-model", "architecture": {"input_modalities": ["text"]}},
                {"id": "plain"}]})
        if request.path == "/api/tags":
            return json_reply(200, {"models": [{"name": "llava:7b"}, {"name": "qwen3:8b"}]})
        if request.path == "/api/show":
            vision = request.json()["model"] == "llava:7b"
            return json_reply(200, {"capabilities": ["completion", "vision"] if vision else ["completion"]})
        return json_reply(404, {"error": "no"})

    server.handler = handler
    env = provider_env(server, cli_env(None))

    def models(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "llmchat", "models", *args], env=env, capture_output=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    listed = models()
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.decode().splitlines() == [
        "old-style  (images)", "plain", "text-model", "vision-model  (images)"]
    assert json.loads(models("--json").stdout) == ["old-style", "plain", "text-model", "vision-model"]
    ollama = models("-p", "ollama")
    assert ollama.stdout.decode().splitlines() == ["llava:7b  (images)", "qwen3:8b"]


def test_attach_before_the_command_is_refused_not_dropped(server: LoopbackServer, files: Path) -> None:
    result = ask(server, "q", before_ask=("-a", "notes.txt"))
    assert result.returncode == 2
    assert b"-a/--attach goes after the command (llmchat ask -a PATH" in result.stderr
    assert server.requests == []
