"""Conversation model, the stream accumulator and the reply loop. No Textual here."""

from __future__ import annotations
