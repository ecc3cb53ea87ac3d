"""Theme files: the shipped ones load; broken ones are reported by file; the app applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmchat import paths
from llmchat.config import DEFAULT_THEME
from llmchat.tui.app import LlmChatApp
from llmchat.tui.themes import load_theme, load_themes
from tests.fakes import FakeProvider
from tests.tui.helpers import SIZE, THEME_DIRS, fake_settings

GOOD = """\
name = "{name}"
dark = {dark}
primary = "#5FAFFF"
background = "{background}"

[variables]
"footer-key-foreground" = "#5FAFFF"
"""


def write_good(directory: Path, name: str, *, dark: bool = True) -> Path:
    path = directory / f"{name}.toml"
    background = "#121418" if dark else "#FAFAF7"
    path.write_text(GOOD.format(name=name, dark=str(dark).lower(), background=background))
    return path


def test_builtin_themes_load_without_failures() -> None:
    themes, failures = load_themes(paths.builtin_themes_dir())
    assert failures == []
    by_name = {t.name: t for t in themes}
    assert DEFAULT_THEME in by_name
    assert "llmchat-light" in by_name
    assert any(t.dark for t in themes)
    assert any(not t.dark for t in themes)
    assert by_name["llmchat-dark"].dark is True
    assert by_name["llmchat-light"].dark is False
    for theme in themes:
        theme.to_color_system()  # every colour is valid


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('name = "broken"\nprimary = "#fff\n', "invalid TOML"),
        ('name = "broken"\nprimary = "#FFFFFF"\nprimery = "#000000"\n', "unknown field(s): primery"),
        ('name = "broken"\nprimary = "not-a-colour"\n', ""),
        ('name = "broken"\nprimary = "#FFFFFF"\nbackground = "#12345G"\n', ""),
        ('primary = "#FFFFFF"\n', "'name' is required"),
        ('name = "broken"\n', "'primary' is required"),
        ('name = "broken"\nprimary = "#FFFFFF"\nvariables = 3\n', "'variables' must be a table"),
        ('name = "broken"\nprimary = "#FFFFFF"\n[variables]\n"footer-key-foreground" = "nope"\n',
         "variables.footer-key-foreground: invalid value 'nope'"),
        ('name = "broken"\nprimary = "#FFFFFF"\n[variables]\n"block-cursor-text-style" = "wobbly"\n',
         "variables.block-cursor-text-style"),
        ('name = "broken"\nprimary = "#FFFFFF"\n[variables]\n"footer-key-foreground" = 3\n',
         "must be a string"),
        # Textual cannot resolve a reference inside a theme variable either (its CSS fails).
        ('name = "broken"\nprimary = "#FFFFFF"\n[variables]\n"footer-key-foreground" = "$primary"\n',
         "variables.footer-key-foreground"),
    ],
    ids=["bad-toml", "unknown-field", "bad-primary", "bad-background", "no-name", "no-primary",
         "bad-variables", "bad-variable-colour", "bad-variable-text-style", "non-string-variable",
         "variable-reference"],
)
def test_a_broken_theme_is_reported_by_file_and_the_good_ones_still_load(
    tmp_path: Path, text: str, problem: str
) -> None:
    write_good(tmp_path, "aaa-good-dark")
    broken = tmp_path / "broken.toml"
    broken.write_text(text)
    write_good(tmp_path, "zzz-good-light", dark=False)

    themes, failures = load_themes(tmp_path)

    assert sorted(t.name for t in themes) == ["aaa-good-dark", "zzz-good-light"]
    assert len(failures) == 1
    assert failures[0].startswith(f"{broken}: ")
    assert problem in failures[0]
    assert len(failures[0]) > len(f"{broken}: ")  # says what is wrong
    with pytest.raises(ValueError):
        load_theme(broken)


def test_variables_may_use_alpha_ansi_colours_and_text_styles(tmp_path: Path) -> None:
    (tmp_path / "rich.toml").write_text(
        'name = "rich"\nprimary = "#5FAFFF"\n[variables]\n'
        '"input-selection-background" = "#81a1c1 35%"\n'
        '"scrollbar" = "ansi_bright_blue"\n'
        '"block-cursor-text-style" = "bold reverse"\n'
    )
    themes, failures = load_themes(tmp_path)
    assert failures == []
    assert [t.name for t in themes] == ["rich"]


def test_several_broken_files_are_each_reported(tmp_path: Path) -> None:
    (tmp_path / "one.toml").write_text("name = [")
    (tmp_path / "two.toml").write_text('name = "two"\nprimary = "#fff"\ncolour = "red"\n')
    (tmp_path / "notes.txt").write_text("not a theme")  # ignored: not *.toml
    write_good(tmp_path, "fine")
    themes, failures = load_themes(tmp_path)
    assert [t.name for t in themes] == ["fine"]
    assert [f.split(": ", 1)[0] for f in failures] == [str(tmp_path / "one.toml"), str(tmp_path / "two.toml")]


def test_missing_directories_are_skipped_and_later_dirs_win(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_good(first, "same", dark=True)
    write_good(second, "same", dark=False)
    themes, failures = load_themes(tmp_path / "missing", first, second)
    assert failures == []
    assert len(themes) == 1
    assert themes[0].dark is False


async def test_app_applies_the_configured_theme() -> None:
    app = LlmChatApp(fake_settings(LLMCHAT_THEME="llmchat-light"), provider=FakeProvider([]),
                     theme_dirs=THEME_DIRS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "llmchat-light"
        assert app.current_theme.dark is False
        assert "llmchat-dark" in app.available_themes
        assert [n for n in app._notifications if n.title == "Theme problems"] == []


async def test_app_uses_the_dark_theme_by_default() -> None:
    app = LlmChatApp(fake_settings(), provider=FakeProvider([]), theme_dirs=THEME_DIRS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME == "llmchat-dark"
        assert app.current_theme.dark is True
        assert list(app._notifications) == []


async def test_unknown_theme_falls_back_to_dark_and_notifies() -> None:
    app = LlmChatApp(fake_settings(LLMCHAT_THEME="no-such-theme"), provider=FakeProvider([]),
                     theme_dirs=THEME_DIRS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "llmchat-dark"
        notes = [n for n in app._notifications if n.title == "Theme problems"]
        assert len(notes) == 1
        assert notes[0].severity == "warning"
        assert "no-such-theme" in notes[0].message
        assert "llmchat-dark" in notes[0].message
        assert app.is_running


async def test_broken_theme_file_is_notified_at_start(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("name = [")
    app = LlmChatApp(fake_settings(), provider=FakeProvider([]), theme_dirs=(*THEME_DIRS, tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "llmchat-dark"
        notes = [n for n in app._notifications if n.title == "Theme problems"]
        assert len(notes) == 1
        assert "broken.toml" in notes[0].message
        assert "invalid TOML" in notes[0].message


async def test_a_bad_variable_colour_does_not_stop_the_app(tmp_path: Path) -> None:
    """Regression: Textual reads theme variables only when it parses the CSS, and used to crash."""
    (tmp_path / "odd.toml").write_text(
        'name = "odd"\nprimary = "#FFFFFF"\n[variables]\n"footer-key-foreground" = "nope"\n'
    )
    app = LlmChatApp(fake_settings(LLMCHAT_THEME="odd"), provider=FakeProvider([]),
                     theme_dirs=(*THEME_DIRS, tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.is_running
        assert app.theme == "llmchat-dark"
        notes = [n for n in app._notifications if n.title == "Theme problems"]
        assert len(notes) == 1
        assert "odd.toml" in notes[0].message
        assert "footer-key-foreground" in notes[0].message
        assert "unknown theme 'odd'" in notes[0].message
