"""Branches (llmchat/store/tree.py), rule by rule: which leaf is current when the recorded
one is gone or damaged, where a walk up the tree stops, which child the way down takes, and
where children and the current leaf go when messages are deleted (one, a chain, a root)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llmchat.chat.models import Message
from llmchat.store import ConversationNotFound, Store
from llmchat.store import tree as trees


def chain(store: Store, cid: str, count: int, parent: str | None = None, name: str = "m") -> list[str]:
    """`count` messages, each the child of the one before (the first under `parent`)."""
    ids = []
    for n in range(count):
        if n == 0 and parent is not None:
            ids.append(store.add_message(cid, Message("user", f"{name}{n}"), parent_id=parent))
        else:
            ids.append(store.add_message(cid, Message("user", f"{name}{n}")))
    return ids


def texts(store: Store, cid: str) -> list[str]:
    return [m.content for m in store.load_conversation(cid)[1].messages]


def damage(db_path: Path, sql: str, *args: object) -> None:
    db = sqlite3.connect(db_path)
    with db:
        db.execute(sql, args)
    db.close()


# -- the current leaf ---------------------------------------------------------------------


def test_an_empty_conversation_has_no_leaf_and_no_path(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    assert store.current_leaf(cid) is None
    assert texts(store, cid) == []
    assert store.load_messages(cid).messages == []


def test_a_recorded_leaf_that_is_gone_or_elsewhere_falls_back_to_the_newest_message(
    store: Store, db_path: Path
) -> None:
    cid = store.create_conversation("p", "m", None)
    other = store.create_conversation("p", "m", None)
    a, b = chain(store, cid, 2)
    (elsewhere,) = chain(store, other, 1, name="o")
    store.set_current_leaf(a, descend=False)
    assert store.current_leaf(cid) == a and texts(store, cid) == ["m0"]
    damage(db_path, "UPDATE conversations SET current_leaf = ? WHERE id = ?", elsewhere, cid)
    assert store.current_leaf(cid) == b and texts(store, cid) == ["m0", "m1"]
    damage(db_path, "UPDATE conversations SET current_leaf = 'GONE' WHERE id = ?", cid)
    assert store.current_leaf(cid) == b
    damage(db_path, "UPDATE conversations SET current_leaf = NULL WHERE id = ?", cid)
    assert store.current_leaf(cid) == b
    assert store.current_leaf(other) == elsewhere


def test_a_new_message_goes_after_the_current_leaf_not_the_newest(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b = chain(store, cid, 2)
    store.set_current_leaf(a, descend=False)
    c = store.add_message(cid, Message("user", "after a"))
    assert store.siblings(c) == [b, c]
    assert store.current_leaf(cid) == c
    assert texts(store, cid) == ["m0", "after a"]


# -- walking up and down ------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 2, 3, 12])
def test_the_path_of_a_chain_is_all_of_it(store: Store, length: int) -> None:
    cid = store.create_conversation("p", "m", None)
    ids = chain(store, cid, length)
    assert [m.id for m in store.path_to(ids[-1])] == ids
    assert texts(store, cid) == [f"m{n}" for n in range(length)]
    assert store.load_messages(cid, limit=length).has_more is False
    assert store.load_messages(cid, limit=length - 1).has_more is True


def test_a_parent_that_no_longer_exists_ends_the_walk(store: Store, db_path: Path) -> None:
    cid = store.create_conversation("p", "m", None)
    ids = chain(store, cid, 4)
    damage(db_path, "UPDATE messages SET parent_id = 'GONE' WHERE id = ?", ids[2])
    assert [m.id for m in store.path_to(ids[3])] == ids[2:]
    assert texts(store, cid) == ["m2", "m3"]


def test_the_way_down_takes_the_newest_child_at_each_step(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    root, a = chain(store, cid, 2)
    b = store.add_message(cid, Message("user", "b"), parent_id=root)
    b1 = store.add_message(cid, Message("user", "b1"), parent_id=b)
    b2 = store.add_message(cid, Message("user", "b2"), parent_id=b)
    b2x = store.add_message(cid, Message("user", "b2x"), parent_id=b2)
    store.set_current_leaf(a)
    assert store.set_current_leaf(root) == b2x
    assert store.set_current_leaf(b1) == b1  # a leaf already
    assert store.set_current_leaf(b, descend=False) == b
    assert texts(store, cid) == ["m0", "b"]
    assert store.children(b) == [b1, b2] and store.children(b2x) == []


def test_the_way_down_stops_in_a_damaged_cycle(store: Store, db_path: Path) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b, c = chain(store, cid, 3)
    damage(db_path, "UPDATE messages SET parent_id = ? WHERE id = ?", c, a)
    assert store.set_current_leaf(a) in {b, c}


def test_roots_are_siblings_of_each_other(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    other = store.create_conversation("p", "m", None)
    (first,) = chain(store, cid, 1)
    second = store.add_message(cid, Message("user", "again"), parent_id=None)
    chain(store, other, 1, name="o")
    assert store.siblings(first) == [first, second]
    assert [e for e in store.tree_edges(cid)] == [(first, None), (second, None)]
    with pytest.raises(ConversationNotFound, match="no message 'NOPE'"):
        store.children("NOPE")


# -- deleting -----------------------------------------------------------------------------


def test_deleting_a_middle_message_gives_its_children_its_parent(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b, c = chain(store, cid, 3)
    d = store.add_message(cid, Message("user", "d"), parent_id=b)
    store.delete_messages([b])
    assert dict(store.tree_edges(cid)) == {a: None, c: a, d: a}
    assert store.current_leaf(cid) == d


def test_deleting_a_chain_lifts_its_children_to_the_nearest_survivor(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b, c, d, e = chain(store, cid, 5)
    store.delete_messages([c, b])  # any order
    assert dict(store.tree_edges(cid)) == {a: None, d: a, e: d}
    assert texts(store, cid) == ["m0", "m3", "m4"]


def test_deleting_a_root_makes_its_children_roots(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b, c = chain(store, cid, 3)
    store.delete_messages([a])
    assert dict(store.tree_edges(cid)) == {b: None, c: b}


def test_a_deleted_current_leaf_becomes_its_nearest_surviving_ancestor(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b, c = chain(store, cid, 3)
    other = store.add_message(cid, Message("user", "other"), parent_id=a)  # newest, not on the path
    store.set_current_leaf(c)
    store.delete_messages([c, b])
    assert store.current_leaf(cid) == a  # not the newest message
    assert texts(store, cid) == ["m0"]
    store.delete_messages([a])
    assert store.current_leaf(cid) == other  # no ancestor left: the newest message


def test_deleting_a_message_off_the_path_keeps_the_leaf(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b = chain(store, cid, 2)
    side = store.add_message(cid, Message("user", "side"), parent_id=a)
    store.set_current_leaf(b)
    store.delete_messages([side, "NOPE"])
    assert store.current_leaf(cid) == b


def test_tree_functions_on_a_connection(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b = chain(store, cid, 2)
    db = store._conn
    assert db is not None
    assert trees.has_tree(db) is True
    assert trees.newest_message(db, cid) == b
    assert trees.newest_message(db, "NOPE") is None
    assert trees.parent_of(db, b) == (cid, a) and trees.parent_of(db, a) == (cid, None)
    assert trees.parent_of(db, "NOPE") is None
    assert trees.path_ids(db, b) == [a, b]
    assert trees.children(db, cid, None) == [a]
    assert trees.deepest_leaf(db, cid, a) == b
    assert trees.edges(db, cid) == [(a, None), (b, a)]


@pytest.mark.timeout(30)
def test_deleting_a_damaged_cycle_ends_and_keeps_the_rest(store: Store, db_path: Path) -> None:
    cid = store.create_conversation("p", "m", None)
    a, b, c = chain(store, cid, 3)
    damage(db_path, "UPDATE messages SET parent_id = ? WHERE id = ?", b, a)  # a <-> b
    assert store.delete_messages([a, b]) == 2
    assert [m.id for m in store.load_conversation(cid)[1].messages][-1] == c
    assert store.delete_messages([c]) == 1
    assert store.load_conversation(cid)[1].messages == []


@pytest.mark.parametrize("order", [(1, 2), (2, 1), (1, 2, 3), (3, 1, 2), (2, 3, 1)])
def test_any_order_of_deletes_lifts_children_to_the_nearest_survivor(store: Store, order: tuple[int, ...]) -> None:
    cid = store.create_conversation("p", "m", None)
    ids = chain(store, cid, 5)
    side = store.add_message(cid, Message("user", "side"), parent_id=ids[2])
    store.set_current_leaf(ids[4])
    store.delete_messages([ids[n] for n in order])
    survivors = [n for n in range(5) if n not in order]
    edges = dict(store.tree_edges(cid))
    assert edges[ids[survivors[1]]] == ids[0] and edges[ids[0]] is None
    assert edges[side] == ids[0]  # its parent (2) is deleted in every order here
    assert [m.id for m in store.load_conversation(cid)[1].messages] == [ids[n] for n in survivors]
