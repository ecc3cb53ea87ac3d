"""The wheel ships the top-level themes/ folder, and a non-editable install finds it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_wheel_contains_themes_and_console_script(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=280,
    )
    (wheel,) = tmp_path.glob("llmchat-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "llmchat = llmchat.cli:main" in zf.read(entry_points).decode()
    assert "llmchat/serve_page/app_index.html" in names  # llmchat serve's page template
    shipped = {p.name for p in (ROOT / "themes").glob("*.toml")}
    assert shipped, "the repo ships no themes"
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("llmchat/themes/")} == shipped

    # Unpacked as a non-editable install would be, paths.builtin_themes_dir() finds them there.
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    probe = (
        "from llmchat import paths; from llmchat.tui.themes import load_themes;"
        "d = paths.builtin_themes_dir(); t, f = load_themes(d);"
        "print(d); print(sorted(x.name for x in t)); print(f)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.splitlines()
    assert out[0] == str(target / "llmchat" / "themes")
    assert "llmchat-dark" in out[1] and "llmchat-light" in out[1]
    assert out[2] == "[]"
