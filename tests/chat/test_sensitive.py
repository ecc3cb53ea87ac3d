"""The file tools never read llmchat's own files and ask before secret locations (issue 20)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from llmchat import paths
from llmchat.chat.builtin_tools import list_directory_tool, read_file_tool
from llmchat.chat.models import Conversation, Message
from llmchat.chat.sensitive import secret_reason
from llmchat.chat.toolloop import ConversationApprovals, ToolCallStarted, ToolLoop, ToolResult, approve_all, deny_all
from llmchat.chat.tools import Tool, ToolError, ToolRegistry
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta
from tests.fakes import FakeProvider

SECRETS = [
    (".ssh/id_rsa", "SSH keys"), ("home/u/.ssh", "SSH keys"), (".ssh/config", "SSH keys"),
    (".aws/credentials", "AWS"), (".gnupg/private-keys-v1.d/x.key", "GnuPG"), (".config/gcloud/adc.json", "Google Cloud"),
    (".config/gh/hosts.yml", "GitHub CLI"), (".kube/config", "Kubernetes"), (".docker/config.json", "Docker"),
    (".netrc", "login credentials"), (".git-credentials", "git"), (".npmrc", "npm"), (".pypirc", "PyPI"),
    (".env", "environment"), (".env.local", "environment"), ("app/.env.production", "environment"),
    (".envrc", "environment"), ("certs/server.pem", "key or certificate"), ("tls/Server.KEY", "private key"),
    ("id_ed25519", "SSH key"), ("backup/id_rsa.pub", "SSH key"), ("id_ecdsa_sk", "SSH key"),
    ("store.p12", "key store"), ("client_secret_123.json", "OAuth"), (".local/share/keyrings/login.keyring", "keyring"),
    ("/home/u/.SSH/id_rsa", "SSH keys"),
]
NOT_SECRETS = ["notes.txt", "src/main.py", "id_helpers.py", "README.md", ".envoy.yaml", ".venv/lib/x.py",
               ".env/lib/site.py", "docs/ssh.md", ".config/nvim/init.lua", "keys.txt", "environment.md"]


@pytest.mark.parametrize(("path", "why"), SECRETS)
def test_secret_locations_are_named(path: str, why: str) -> None:
    reason = secret_reason(path)
    assert reason is not None and why.lower() in reason.lower()


@pytest.mark.parametrize("path", NOT_SECRETS)
def test_ordinary_paths_are_not_secret(path: str) -> None:
    assert secret_reason(path) is None


@pytest.fixture
def home() -> Path:
    """The test session's home (XDG_CONFIG_HOME's parent, see tests/conftest.py) as the
    working directory, holding secrets, llmchat's own files, and links to both."""
    own = paths.config_dir()
    root = own.parent.parent
    own.mkdir(parents=True, exist_ok=True)
    (own / "keys.json").write_text('{"openai": "sk-live"}')
    (root / ".ssh").mkdir()
    (root / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (root / ".env").write_text("OPENAI_API_KEY=sk-live\n")
    (root / "notes.txt").write_text("plain notes\n")
    (root / "innocent.txt").symlink_to(root / ".ssh" / "id_rsa")
    (root / "cfg").symlink_to(own)
    (root / "settings.json").symlink_to(own / "keys.json")
    return root


def read(tool: Tool, path: str) -> str:
    return asyncio.run(tool.run({"path": path}))


def test_llmchat_own_directories_are_refused_outright(home: Path) -> None:
    """Started in $HOME: ``read_file .config/llmchat/keys.json`` (the issue's example), or
    through a symlink."""
    read_tool, listing = read_file_tool(home), list_directory_tool(home)
    keys = os.path.relpath(paths.config_dir() / "keys.json", home)
    for tool, path in [(read_tool, keys), (read_tool, "cfg/keys.json"), (read_tool, "settings.json"),
                       (listing, "cfg"), (listing, os.path.dirname(keys)), (read_tool, f"notes.txt/../{keys}")]:
        with pytest.raises(ToolError, match="llmchat's own files"):
            read(tool, path)
    assert read(read_tool, "notes.txt") == "plain notes\n"
    assert "cfg@" in read(listing, ".")


def test_secret_locations_need_approval_also_through_a_symlink(home: Path) -> None:
    read, listing = read_file_tool(home), list_directory_tool(home)
    assert "SSH keys" in (read.approval_reason({"path": ".ssh/id_rsa"}) or "")
    assert "SSH keys" in (read.approval_reason({"path": "innocent.txt"}) or "")
    assert "environment" in (read.approval_reason({"path": ".env"}) or "")
    assert "SSH keys" in (listing.approval_reason({"path": ".ssh"}) or "")
    assert read.approval_reason({"path": "notes.txt"}) is None
    assert listing.approval_reason({}) is None
    assert read.approval_reason({"path": 5}) is None  # the tool itself says what is wrong


async def run_loop(home: Path, arguments: str, approve: Any) -> tuple[ToolCallStarted, ToolResult]:
    provider = FakeProvider([ToolCallDelta(0, "c1", "read_file", arguments), Finish("tool_calls", "tool_calls")],
                            [ContentDelta("ok"), Finish("stop", "stop")])
    loop = ToolLoop(provider, Conversation(messages=[Message("user", "hi")]), "m",
                    ToolRegistry([read_file_tool(home)]), approve=approve)
    events = [e async for e in loop.events()]
    started = next(e for e in events if isinstance(e, ToolCallStarted))
    result = next(e for e in events if isinstance(e, ToolResult))
    return started, result


async def test_a_secret_read_is_denied_without_approval_and_runs_with_it(home: Path) -> None:
    started, result = await run_loop(home, '{"path": ".ssh/id_rsa"}', deny_all)
    assert started.needs_approval and "SSH keys" in (started.reason or "")
    assert result.output.status == "denied" and "SSH keys" in result.output.text
    assert "PRIVATE KEY" not in result.output.text
    started, result = await run_loop(home, '{"path": ".ssh/id_rsa"}', approve_all)
    assert result.output.status == "ok" and "PRIVATE KEY" in result.output.text
    started, result = await run_loop(home, '{"path": "notes.txt"}', deny_all)
    assert not started.needs_approval and result.output.text == "plain notes\n"


async def test_always_for_a_secret_read_covers_that_path_only(home: Path) -> None:
    asked: list[dict[str, Any]] = []

    async def ask(tool: Tool, arguments: dict[str, Any]) -> str:
        asked.append(arguments)
        return "always"

    approvals = ConversationApprovals(ask)  # type: ignore[arg-type]
    tool = read_file_tool(home)
    assert await approvals(tool, {"path": ".ssh/id_rsa"})
    assert await approvals(tool, {"path": ".ssh/id_rsa"})
    assert await approvals(tool, {"path": ".env"})
    assert asked == [{"path": ".ssh/id_rsa"}, {"path": ".env"}]


# --- every documented class, one row each (README "Security", "Tools") ------------------------

SECRET_DIR_ROWS = [
    (".ssh", "SSH keys (.ssh)"), (".gnupg", "GnuPG keys (.gnupg)"), (".aws", "AWS credentials (.aws)"),
    (".azure", "Azure credentials (.azure)"), (".kube", "Kubernetes credentials (.kube)"),
    (".docker", "Docker registry credentials (.docker)"), (".password-store", "a password store (.password-store)"),
    (".terraform.d", "Terraform credentials (.terraform.d)"), (".gcloud", "Google Cloud credentials (.gcloud)"),
    (".config/gcloud", "Google Cloud credentials (.config/gcloud)"),
    (".config/gh", "GitHub CLI credentials (.config/gh)"), (".config/hub", "GitHub credentials (.config/hub)"),
    (".config/op", "1Password CLI data (.config/op)"),
    (".local/share/keyrings", "the desktop keyring (.local/share/keyrings)"),
    (".mozilla", "browser profiles (cookies, saved passwords) (.mozilla)"),
    (".config/google-chrome", "browser profiles (cookies, saved passwords) (.config/google-chrome)"),
    (".config/chromium", "browser profiles (cookies, saved passwords) (.config/chromium)"),
]


@pytest.mark.parametrize(("folder", "reason"), SECRET_DIR_ROWS)
def test_each_secret_directory_is_named_as_itself_inside_and_deeper(folder: str, reason: str) -> None:
    for path in (folder, f"/home/u/{folder}", f"{folder}/a.txt", f"proj/{folder}/sub/b", folder.upper()):
        assert secret_reason(path) == reason, path


@pytest.mark.parametrize("path", [
    "gcloud/x", "gh/hosts.yml", "hub", "op/x", ".config/x/gcloud", ".config", ".local/share",
    "share/keyrings", ".local/keyrings", "keyrings", ".config/ghx", ".sshx/k", "ssh/id", "x.ssh/y",
])
def test_a_secret_directory_counts_only_as_whole_consecutive_components(path: str) -> None:
    assert secret_reason(path) is None


SECRET_FILE_ROWS = [
    (".netrc", "login credentials"), ("_netrc", "login credentials"), (".git-credentials", "git credentials"),
    (".npmrc", "npm tokens"), (".pypirc", "PyPI tokens"), (".pgpass", "PostgreSQL passwords"),
    (".my.cnf", "MySQL passwords"), (".boto", "cloud credentials"), (".s3cfg", "S3 credentials"),
    (".vault-token", "a Vault token"), (".htpasswd", "password hashes"),
    (".dockercfg", "Docker registry credentials"), ("credentials", "credentials"),
    ("credentials.json", "credentials"), (".envrc", "environment variables (often keys)"),
]


@pytest.mark.parametrize(("name", "why"), SECRET_FILE_ROWS)
def test_each_secret_file_name_is_named_anywhere_and_in_any_case(name: str, why: str) -> None:
    assert secret_reason(name) == f"{why} ({name})"
    assert secret_reason(f"deep/dir/{name}") == f"{why} ({name})"
    assert secret_reason(name.upper()) == f"{why} ({name})"  # reported as compared: lower case
    assert secret_reason(f"{name}.txt.bak") is None


SECRET_PATTERN_ROWS = [
    (".env", "environment variables (often keys)"), (".env.local", "environment variables (often keys)"),
    ("server.pem", "a key or certificate"), ("tls.key", "a private key"), ("store.p12", "a key store"),
    ("store.pfx", "a key store"), ("java.jks", "a key store"), ("release.keystore", "a key store"),
    ("vault.kdbx", "a password database"), ("putty.ppk", "a private key"),
    ("client_secret.json", "OAuth client secrets"), ("client_secret_42.apps.json", "OAuth client secrets"),
]


@pytest.mark.parametrize(("name", "why"), SECRET_PATTERN_ROWS)
def test_each_secret_name_pattern_is_named(name: str, why: str) -> None:
    assert secret_reason(f"a/{name}") == f"{why} ({name})"
    assert secret_reason(name.upper()) == f"{why} ({name})"


@pytest.mark.parametrize("name", ["pem", "server.pem.txt", "key", "keys.txt", "a.p12x", "envfile", "my.env",
                                  "client_secret.yaml", "secret_client.json", "x.kdb", "a.ppkx", "p12"])
def test_names_near_a_pattern_are_not_secret(name: str) -> None:
    assert secret_reason(name) is None


@pytest.mark.parametrize(("name", "secret"), [
    ("id_rsa", True), ("id_ed25519", True), ("id_ed25519_sk", True), ("id_ecdsa.pub", True), ("ID_DSA", True),
    ("id_x", True), ("id_", False), ("id_.pub", False), ("id_rsa.old", False), ("id_rsa.pub.pub", False),
    ("idrsa", False), ("xid_rsa", False), ("id", False),
])
def test_ssh_key_names(name: str, secret: bool) -> None:
    reason = secret_reason(f"keys/{name}")
    assert (reason == f"an SSH key ({name.lower()})") is secret, reason


def test_an_empty_path_is_not_secret() -> None:
    assert secret_reason("") is None
    assert secret_reason(Path("/")) is None


def test_protected_dir_is_the_directory_itself_or_under_it_not_a_sibling(tmp_path: Path) -> None:
    from llmchat.chat.sensitive import protected_dir, resolved_dirs

    own, other = tmp_path / "llmchat", tmp_path / "other"
    assert protected_dir(own, [other, own]) == own
    assert protected_dir(own / "keys.json", [other, own]) == own
    assert protected_dir(tmp_path / "llmchat2" / "x", [own]) is None
    assert protected_dir(tmp_path, [own]) is None
    assert protected_dir(own, []) is None
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert resolved_dirs([tmp_path / "link", real, str(tmp_path / "plain")]) == (
        tmp_path / "link", real, tmp_path / "plain")
    assert resolved_dirs([tmp_path / "link" / "new"]) == (tmp_path / "link" / "new", real / "new")
