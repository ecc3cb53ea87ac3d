"""Everything that imports Textual: the full-screen session."""

from __future__ import annotations
