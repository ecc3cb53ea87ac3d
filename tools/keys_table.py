"""Rewrite the key table in README.md from the session's bindings (llmchat/tui/key_table.py).

    python tools/keys_table.py          # rewrite README.md
    python tools/keys_table.py --check  # exit 1 when README.md's table is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from llmchat.tui.app import session_bindings
from llmchat.tui.key_table import markdown_table, replace_table

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> int:
    """Rewrite (or with ``--check``, compare) the README's key table; returns the exit status."""
    text = README.read_text(encoding="utf-8")
    updated = replace_table(text, markdown_table(session_bindings()))
    if "--check" in sys.argv[1:]:
        if updated != text:
            print("README.md's key table is out of date: run python tools/keys_table.py", file=sys.stderr)
            return 1
        return 0
    if updated != text:
        README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
