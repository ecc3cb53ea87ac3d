"""Theme files: one ``*.toml`` per theme, mapping onto the fields of ``textual.theme.Theme``."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.css.stylesheet import Stylesheet, StylesheetParseError
from textual.theme import Theme

_FIELDS = {
    "name", "primary", "secondary", "accent", "foreground", "background", "surface", "panel",
    "boost", "warning", "error", "success", "dark", "luminosity_spread", "text_alpha", "variables",
    "ansi",
}


def load_theme(path: Path) -> Theme:
    """Read one theme file.

    Raises:
        ValueError: invalid TOML, an unknown field, a missing ``name``/``primary``, or a
            value Textual rejects; the message says which.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid TOML: {exc}") from None
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    for required in ("name", "primary"):
        if not isinstance(data.get(required), str):
            raise ValueError(f"{required!r} is required and must be a string")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("'variables' must be a table")
    try:
        theme = Theme(**data)
        system = theme.to_color_system()  # validates every colour now rather than at render time
    except Exception as exc:  # Textual raises several types for bad colours
        raise ValueError(str(exc)) from None
    _check_variables(theme, system.generate())
    return theme


def _check_variables(theme: Theme, resolved: dict[str, str]) -> None:
    """Parse each of the theme's variables as Textual's CSS will use it.

    Textual only reads them when it parses the app's stylesheet, where a bad value stops the
    app; a colour (or a text style, for ``*-text-style``) is checked here instead.
    """
    for name, value in theme.variables.items():
        if not isinstance(value, str):
            raise ValueError(f"variables.{name}: must be a string")
        rule = "text-style" if name.endswith("-text-style") else "color"
        sheet = Stylesheet(variables=resolved)
        sheet.add_source(f"Screen {{ {rule}: ${name}; }}", read_from=("theme", name))
        try:
            sheet.parse()
        except StylesheetParseError:
            raise ValueError(f"variables.{name}: invalid value {value!r}") from None


def load_themes(*dirs: Path) -> tuple[list[Theme], list[str]]:
    """Load every ``*.toml`` in `dirs`, in order (a later theme of the same name wins).

    Returns:
        (themes, failures): the loaded themes, and one ``"file: problem"`` line per file
        that could not be loaded. Missing directories are skipped silently.
    """
    themes: dict[str, Theme] = {}
    failures: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme(path)
            except (ValueError, OSError) as exc:
                failures.append(f"{path}: {exc}")
                continue
            themes[theme.name] = theme
    return list(themes.values()), failures
