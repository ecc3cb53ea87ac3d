"""Paths the file tools must not hand to the model unasked.

``read_file`` and ``list_directory`` are read-only, so they run without a question; what they
read is sent to the provider. A prompt injection (a web page, a file the model read) can ask
for the user's keys. Two rules, applied to the path as written *and* to the path with every
symlink resolved:

- llmchat's own directories (config with ``keys.json`` and ``mcp.json``, history, logs, cache:
  :func:`llmchat.paths.private_dirs`) are refused outright (:func:`protected_dir`).
- Well-known secret locations need the user's approval, like a tool that is not read-only
  (:func:`secret_reason`): credential directories (``.ssh``, ``.gnupg``, ``.aws``, ``.azure``,
  ``.kube``, ``.docker``, ``.config/gcloud``, ``.config/gh`` ...), credential files
  (``.netrc``, ``.git-credentials``, ``.npmrc``, ``.pypirc``, ``.pgpass`` ...), environment
  files (``.env``, ``.env.*``, ``.envrc``), private keys and key stores (``*.pem``, ``*.key``,
  ``id_rsa`` and the other ``id_*`` SSH keys, ``*.p12`` ...). Names are compared without case.

This is a list of the usual places, not a proof that nothing else is secret: the working
directory the tools are confined to is still the user's choice.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

SECRET_DIRS: dict[tuple[str, ...], str] = {
    (".ssh",): "SSH keys",
    (".gnupg",): "GnuPG keys",
    (".aws",): "AWS credentials",
    (".azure",): "Azure credentials",
    (".kube",): "Kubernetes credentials",
    (".docker",): "Docker registry credentials",
    (".password-store",): "a password store",
    (".terraform.d",): "Terraform credentials",
    (".gcloud",): "Google Cloud credentials",
    (".config", "gcloud"): "Google Cloud credentials",
    (".config", "gh"): "GitHub CLI credentials",
    (".config", "hub"): "GitHub credentials",
    (".config", "op"): "1Password CLI data",
    (".local", "share", "keyrings"): "the desktop keyring",
    (".mozilla",): "browser profiles (cookies, saved passwords)",
    (".config", "google-chrome"): "browser profiles (cookies, saved passwords)",
    (".config", "chromium"): "browser profiles (cookies, saved passwords)",
}
"""Directories (as path components, anywhere in a path) that hold credentials."""

SECRET_FILES: dict[str, str] = {
    ".netrc": "login credentials", "_netrc": "login credentials",
    ".git-credentials": "git credentials", ".npmrc": "npm tokens", ".pypirc": "PyPI tokens",
    ".pgpass": "PostgreSQL passwords", ".my.cnf": "MySQL passwords", ".boto": "cloud credentials",
    ".s3cfg": "S3 credentials", ".vault-token": "a Vault token", ".htpasswd": "password hashes",
    ".dockercfg": "Docker registry credentials", "credentials": "credentials",
    "credentials.json": "credentials", ".envrc": "environment variables (often keys)",
}
"""File names that commonly hold secrets."""

SECRET_PATTERNS: dict[str, str] = {
    ".env": "environment variables (often keys)", ".env.*": "environment variables (often keys)",
    "*.pem": "a key or certificate", "*.key": "a private key", "*.p12": "a key store",
    "*.pfx": "a key store", "*.jks": "a key store", "*.keystore": "a key store",
    "*.kdbx": "a password database", "*.ppk": "a private key", "client_secret*.json": "OAuth client secrets",
}
"""Name patterns (:mod:`fnmatch`) of files that commonly hold secrets."""


def _is_ssh_key(name: str) -> bool:
    """``id_rsa``, ``id_ed25519_sk``, ``id_ecdsa.pub`` ...: ``id_`` and no other suffix."""
    stem = name.removesuffix(".pub")
    return stem.startswith("id_") and len(stem) > 3 and "." not in stem


def secret_reason(path: str | os.PathLike[str]) -> str | None:
    """Why `path` looks like a secret location ("SSH keys (.ssh)"), or None.

    Only the path's components are looked at (no file is opened): a directory component
    from :data:`SECRET_DIRS` anywhere, or a last component matching :data:`SECRET_FILES`,
    :data:`SECRET_PATTERNS` or an SSH key name.
    """
    parts = [part.lower() for part in Path(path).parts]
    for index in range(len(parts)):
        for dirs, why in SECRET_DIRS.items():
            if tuple(parts[index : index + len(dirs)]) == dirs:
                return f"{why} ({'/'.join(dirs)})"
    name = parts[-1] if parts else ""
    if name in SECRET_FILES:
        return f"{SECRET_FILES[name]} ({name})"
    for pattern, why in SECRET_PATTERNS.items():
        if fnmatch.fnmatchcase(name, pattern):
            return f"{why} ({name})"
    if _is_ssh_key(name):
        return f"an SSH key ({name})"
    return None


def protected_dir(path: Path, protected: Iterable[Path]) -> Path | None:
    """The directory of `protected` that `path` is in (or is), or None.

    Args:
        path: an absolute path (resolved or not: callers check both forms).
        protected: absolute, resolved directories.
    """
    return next((d for d in protected if path == d or path.is_relative_to(d)), None)


def resolved_dirs(dirs: Iterable[str | os.PathLike[str]]) -> tuple[Path, ...]:
    """`dirs` made absolute, each both as written and with symlinks resolved (a directory
    need not exist)."""
    found: list[Path] = []
    for entry in dirs:
        for form in (Path(os.path.abspath(entry)), Path(entry).resolve()):
            if form not in found:
                found.append(form)
    return tuple(found)
