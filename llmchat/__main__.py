"""`python -m llmchat` runs the command-line interface."""

from __future__ import annotations

from llmchat.cli import main

main()
