"""History store at scale: 10,000 conversations / 200,000 messages, then the operations the UI waits on.

    python benchmarks/store_bench.py [--conversations N] [--messages N] [--keep PATH]

The fill uses one bulk transaction straight into the tables (the full-text triggers still run,
so the index is real). Then it times, best and median of several runs: the first page of the
history list, searching a common and a rare word, opening the largest conversation (its newest
50 messages, and all 2,000), and the per-token-second write paths (add_message, save_partial).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmchat.chat.models import Message  # noqa: E402
from llmchat.store import Store  # noqa: E402
from llmchat.store.ids import new_id, timestamp  # noqa: E402

LARGEST = 2_000
RARE_WORD = "quetzalcoatl"


def _vocabulary(rnd: random.Random, size: int = 5_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rnd.choice(letters) for _ in range(rnd.randint(3, 10))) for _ in range(size)]


def fill(store: Store, conversations: int, messages: int, seed: int = 7) -> tuple[str, float]:
    """Bulk-load the store; returns the largest conversation's id and the seconds it took."""
    rnd = random.Random(seed)
    vocab = _vocabulary(rnd)
    common = vocab[:50]  # Zipf-ish: a few words everywhere (titles use only the first 25)
    db = store._conn
    assert db is not None
    started = time.perf_counter()
    base = time.time() - 365 * 86400
    sizes = [LARGEST] + [0] * (conversations - 1)
    rest = messages - LARGEST
    for i in range(1, conversations):
        sizes[i] = rest // (conversations - 1) + (1 if i <= rest % (conversations - 1) else 0)
    rnd.shuffle(sizes)
    largest_index = sizes.index(LARGEST)
    largest_id = ""
    db.execute("BEGIN IMMEDIATE")
    for c, size in enumerate(sizes):
        moment = base + c * 3000
        cid = new_id(moment)
        if c == largest_index:
            largest_id = cid
        ts_start = timestamp(moment)
        ts_end = timestamp(moment + size * 10)
        title = " ".join(rnd.choices(common[:25], k=2) + rnd.choices(vocab[50:], k=3)).capitalize()
        db.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at, provider, model,"
            " system_prompt) VALUES (?, ?, ?, ?, 'openai', 'gpt-4o-mini', NULL)",
            (cid, title, ts_start, ts_end),
        )
        rows = []
        for p in range(size):
            user = p % 2 == 0
            n = rnd.randint(8, 40) if user else rnd.randint(40, 250)
            words = rnd.choices(common, k=n // 3) + rnd.choices(vocab, k=n - n // 3)
            rnd.shuffle(words)
            if rnd.random() < 0.0005:
                words.append(RARE_WORD)
            ts = timestamp(moment + p * 10)
            rows.append((
                new_id(moment + p * 10), cid, p, "user" if user else "assistant", " ".join(words),
                None if user else "stop", None if user else n, None if user else n * 2,
                None if user else n * 3, ts, ts,
            ))
        db.executemany(
            "INSERT INTO messages (id, conversation_id, position, role, content, finish_reason,"
            " input_tokens, output_tokens, total_tokens, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA optimize")
    return largest_id, time.perf_counter() - started


def timed(label: str, fn: Callable[[], object], runs: int = 20) -> None:
    """Run `fn` `runs` times after one warm-up; print best and median in milliseconds."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    size = f"  ({len(result)} rows)" if isinstance(result, list) else ""
    print(f"  {label:<44} best {min(times):8.2f} ms   median {statistics.median(times):8.2f} ms{size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="build the database here and keep it"
                        " (an existing one is reused as it is)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "history.db"
        reuse = path.exists()
        with Store.open(path) as store:
            if reuse:
                largest = max(store.list_conversations(), key=lambda s: s.message_count).id
                print(f"reusing {path}")
            else:
                largest, seconds = fill(store, args.conversations, args.messages)
                print(f"  {'bulk fill (one transaction, FTS triggers on)':<44} {seconds:8.1f} s")
            db = store._conn
            assert db is not None
            (n_conv,), (n_msg,) = (db.execute(f"SELECT count(*) FROM {t}").fetchone()
                                   for t in ("conversations", "messages"))
            size = path.stat().st_size / 2**20
            print(f"store: {n_conv:,} conversations, {n_msg:,} messages, {size:.0f} MiB,"
                  f" full-text: {store.full_text}")
            vocab = _vocabulary(random.Random(7))
            title_word, body_word, medium_word = vocab[0], vocab[40], vocab[1000]
            timed("list_conversations(limit=50)", lambda: store.list_conversations(limit=50))
            timed("list_conversations(limit=50, offset=5000)",
                  lambda: store.list_conversations(limit=50, offset=5000))
            timed("search: word in many titles (limit 20)", lambda: store.search(title_word))
            timed("search: word in most messages (limit 20)", lambda: store.search(body_word))
            timed("search: word in ~1% of messages (limit 20)", lambda: store.search(medium_word))
            timed("search: two words (limit 20)", lambda: store.search(f"{body_word} {medium_word}"))
            timed("search: rare word (limit 50)", lambda: store.search(RARE_WORD, limit=50))
            timed(f"load_messages(largest, 50) [{LARGEST} msgs]", lambda: store.load_messages(largest, 50))
            timed(f"load_conversation(largest) [{LARGEST} msgs]", lambda: store.load_conversation(largest),
                  runs=5)
            timed("export(largest, 'md')", lambda: store.export(largest), runs=3)
            cid = store.create_conversation("openai", "gpt-4o-mini", None)
            timed("add_message (one commit)", lambda: store.add_message(cid, Message("user", "hi there")))
            mid = store.begin_reply(cid, "openai", "gpt-4o-mini")
            words = ["token"] * 800

            def grow() -> bool:
                words.append("more")  # as streaming does: a little more text each save
                return store.save_partial(mid, " ".join(words), "")

            timed("save_partial (~800-word reply so far)", grow)
            timed("Store.open (migrations + recovery check)", lambda: Store.open(path).close(), runs=5)


if __name__ == "__main__":
    main()
