"""``llmchat history`` (list, show, search, rm) and the transcript writer behind
``llmchat export``: the stored conversations seen from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from llmchat.cli_options import YesOpt
from llmchat.cli_shared import confirm, fail, open_store
from llmchat.safety import for_stream, is_terminal, json_safe, json_text, one_line
from llmchat.store import StoreError

history_app = typer.Typer(help="List, show, search and delete stored conversations.")


@history_app.callback(invoke_without_command=True)
def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many, newest first.")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List stored conversations, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    store = open_store(required=True, read_only_ok=True)
    assert store is not None
    rows = store.list_conversations(limit=limit)
    if json_output:
        print(json_text([
            {"id": r.id, "title": r.display_title, "provider": r.provider, "model": r.model,
             "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat(),
             "message_count": r.message_count}
            for r in rows
        ], sys.stdout))
        return
    for r in rows:
        title = one_line(r.display_title, 50)
        print(f"{r.id}  {r.updated_at:%Y-%m-%d %H:%M}  {r.message_count:>4} msgs  "
              f"{one_line(r.model or '-', 60):<24}  {title}")


@history_app.command("show")
def history_show(ref: Annotated[str, typer.Argument(help="Conversation ID or 'latest'.")]) -> None:
    """Print one conversation's current path as Markdown; a "⎇ N other branches here" line
    marks each message where other branches split off."""
    write_export(ref, "md")


@history_app.command("search")
def history_search(
    text: Annotated[str, typer.Argument(help="Words to find.")],
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many conversations.")] = 20,
) -> None:
    """Search every stored message: one line per conversation (its best match); exits 1 with
    "no match" on stderr when nothing matches, as grep does."""
    store = open_store(required=True, read_only_ok=True)
    assert store is not None
    best: dict[str, tuple[object, int]] = {}  # conversation -> (its best hit, how many hits)
    for hit in store.search(text, limit=limit * 20):
        first, count = best.get(hit.conversation_id, (hit, 0))
        best[hit.conversation_id] = (first, count + 1)
    if not best:
        raise fail("no match", 1)
    for first, count in list(best.values())[:limit]:
        more = f"  (+{count - 1} more)" if count > 1 else ""
        print(f"{first.conversation_id}  {one_line(first.title or '', 40):<40}  "  # type: ignore[attr-defined]
              f"{one_line(first.snippet, 80)}{more}")  # type: ignore[attr-defined]


@history_app.command("rm")
def history_rm(ref: Annotated[str, typer.Argument(help="Conversation ID or 'latest'.")], yes: YesOpt = False) -> None:
    """Delete a conversation (asks first on a terminal, unless -y)."""
    store = open_store(required=True)
    assert store is not None
    try:
        summary, _ = store.load_conversation(ref)
        if not confirm(f"Delete conversation {summary.id} ({summary.display_title})?", yes=yes):
            raise fail("not deleted", 1)
        store.delete(summary.id)
    except StoreError as exc:
        raise fail(str(exc)) from None


def write_export(ref: str, format: str) -> None:  # noqa: A002
    """Write conversation `ref` to stdout in `format` (one of EXPORT_FORMATS), made safe on a
    terminal and exact into a pipe or file; a store failure exits 2 with one line."""
    store = open_store(required=True, read_only_ok=True)
    assert store is not None
    try:
        text = store.export(ref, format)
    except StoreError as exc:
        raise fail(str(exc)) from None
    text = text if text.endswith("\n") else text + "\n"
    # A terminal gets the transcript made safe (it holds server text); a pipe or file, exactly.
    sys.stdout.write((json_safe if is_terminal(sys.stdout) else str)(text) if format == "json"
                     else for_stream(text, sys.stdout))
