"""Branches from the shell (issue 21 part 3): `history show` marks where other branches split
off, `export --format json` holds the whole tree, `ask -c` continues the current path — real
subprocesses on a real database in the temporary XDG data dir."""

from __future__ import annotations

import json

from llmchat.chat.models import Message
from llmchat.store import Store
from tests.loopback import LoopbackServer, Reply, completion
from tests.test_cli import ask
from tests.test_cli_history import db_path, llmchat


def branched() -> tuple[str, dict[str, str]]:
    """q1 -> a1 -> (q2 -> a2 | q2' -> a2' (current)), with a1 answered twice (a1b unused)."""
    with Store.open(db_path()) as store:
        cid = store.create_conversation("openai", "m", None)
        ids = {"q1": store.add_message(cid, Message("user", "q1"))}
        ids["a1"] = store.add_message(cid, Message("assistant", "a1", finish_reason="stop"))
        ids["a1b"] = store.add_message(cid, Message("assistant", "a1 again", finish_reason="stop"), ids["q1"])
        store.set_current_leaf(ids["a1"])
        ids["q2"] = store.add_message(cid, Message("user", "q2"))
        ids["a2"] = store.add_message(cid, Message("assistant", "a2", finish_reason="stop"))
        ids["q2e"] = store.add_message(cid, Message("user", "q2 edited"), ids["a1"])
        ids["a2e"] = store.add_message(cid, Message("assistant", "a2 edited", finish_reason="stop"))
    return cid, ids


def test_history_show_gives_the_current_path_and_marks_the_splits(server: LoopbackServer) -> None:
    cid, _ = branched()
    result = llmchat(server, "history", "show", cid)
    assert result.returncode == 0, result.stderr
    shown = result.stdout.decode()
    assert "q2 edited" in shown and "a2 edited" in shown
    assert "\nq2\n" not in shown and "a1 again" not in shown
    lines = shown.splitlines()
    notes = [i for i, line in enumerate(lines) if "other branch" in line]
    assert [lines[i] for i in notes] == ["*⎇ 1 other branch here*", "*⎇ 1 other branch here*"]
    # Each note stands right before the message where the branches split.
    assert lines[notes[0] + 2].startswith("## Assistant") and lines[notes[0] + 4] == "a1"
    assert lines[notes[1] + 2].startswith("## User") and lines[notes[1] + 4] == "q2 edited"


def test_export_json_has_the_whole_tree_and_keeps_its_keys(server: LoopbackServer) -> None:
    cid, ids = branched()
    result = llmchat(server, "export", cid, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"id", "title", "provider", "model", "system_prompt", "created_at", "updated_at",
            "messages"} <= data.keys()
    assert [m["content"] for m in data["messages"]] == ["q1", "a1", "q2 edited", "a2 edited"]
    assert data["current_leaf"] == ids["a2e"]
    tree = {m["id"]: m for m in data["tree"]}
    assert len(tree) == 7 and tree[ids["q1"]]["parent_id"] is None
    assert tree[ids["a1b"]]["parent_id"] == ids["q1"]
    assert tree[ids["q2"]]["parent_id"] == tree[ids["q2e"]]["parent_id"] == ids["a1"]
    assert tree[ids["a2"]]["content"] == "a2" and tree[ids["a2"]]["parent_id"] == ids["q2"]
    assert [m["parent_id"] for m in data["messages"]] == [None, ids["q1"], ids["a1"], ids["q2e"]]


def test_ask_continue_goes_on_from_the_current_leaf(server: LoopbackServer) -> None:
    cid, ids = branched()
    with Store.open(db_path()) as store:
        store.set_current_leaf(ids["q2"])  # the older branch, down to its answer
    server.handler = lambda _r: Reply(parts=[completion(["a3"])])
    result = ask(server, "-c", "q3")
    assert result.returncode == 0, result.stderr
    sent = [m["content"] for m in server.requests[-1].json()["messages"]]
    assert sent == ["q1", "a1", "q2", "a2", "q3"]
    with Store.open(db_path()) as store:
        path = [m.content for m in store.load_conversation(cid)[1].messages]
        assert path == ["q1", "a1", "q2", "a2", "q3", "a3"]
        assert len(store.tree_edges(cid)) == 9
