"""Memory under load: a ~50 MB reply streamed through `llmchat ask` to a pipe.

    python benchmarks/ask_memory.py [--mb 50] [--delta 1024] [--runs 3] [--modes history,no-log,json]
                                    [--pythonpath DIR]   # measure another checkout (e.g. the commit before)
    python benchmarks/ask_memory.py --stdin-mb 50 [--runs 3] [--modes history,no-log]   # piped input

A loopback server (tests/loopback.py, in a thread of this process: its memory and CPU are
never the child's) streams an OpenAI Chat Completions reply of about ``--mb`` MB, one SSE
event per delta of about ``--delta`` characters (Markdown with non-ASCII text and JSON
escapes), then a finish chunk, a usage chunk and ``[DONE]``. Each mode runs `llmchat ask`
as a subprocess, its stdout a pipe that this process hashes as it arrives:

- ``history``: ``llmchat ask`` as by default, the reply written ahead into the history
  (a temporary ``XDG_DATA_HOME``);
- ``no-log``: ``llmchat ask --no-log``, nothing stored;
- ``json``: ``llmchat ask --json`` (history on): one JSON object at the end.

Per child, from ``os.wait4``: peak resident memory (``ru_maxrss``), CPU time (user + sys)
and wall time. The output is checked byte-exact (SHA-256 of the expected content; for
``--json`` the object's ``content``, finish reason and usage), and the stored reply too
(history modes: the final row's content, state and finish reason). A 1-token reply is run
the same way as the baseline, so the table shows the growth per MB of reply. Each child is
started by a small launcher process (``--launch``), never by this one: see "one run" below.
tests/test_load.py uses :class:`BigReply`, :func:`serve` and :func:`run_ask`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from tests.loopback import LoopbackServer, Reply
# tests.loopback is imported where it is used: the launcher (--launch) stays small.

MB = 1_000_000
PROMPT = "Write a very long answer."
EXTRA = 'Naïve café — “quoted” text, 東京 and emoji 🚀✨, a "quote", a \\ and a tab\t.\n\n'
POOL = 61
"""Distinct delta texts; the reply cycles through them (the server keeps them once)."""
MODES = ("history", "no-log", "json")


# -- the reply -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BigReply:
    """A reply of `count` deltas cycling through `pool`: its size, hash and SSE parts.

    Sizes are UTF-8 bytes of the content (what a pipe receives).
    """

    pool: tuple[str, ...]
    count: int

    @classmethod
    def of_size(cls, size: int, delta_chars: int = 1024) -> BigReply:
        """About `size` bytes of content in deltas of `delta_chars` characters (at least one)."""
        from tests.loopback import STORY

        text = (STORY + EXTRA) * (delta_chars // len(STORY + EXTRA) + 2)
        step = max(1, len(text) // POOL)
        pool = tuple(text[(i * step) % len(STORY) :][:delta_chars] for i in range(POOL))
        mean = sum(len(p.encode()) for p in pool) / len(pool)
        return cls(pool, max(1, round(size / mean)))

    @classmethod
    def one_token(cls) -> BigReply:
        """The baseline: a 1-token reply."""
        return cls(("Hello",), 1)

    def deltas(self) -> Iterator[str]:
        """The content deltas, in order."""
        for i in range(self.count):
            yield self.pool[i % len(self.pool)]

    @property
    def size(self) -> int:
        """UTF-8 bytes of the whole content."""
        sizes = [len(p.encode()) for p in self.pool]
        full, rest = divmod(self.count, len(self.pool))
        return full * sum(sizes) + sum(sizes[:rest])

    def sha256(self) -> str:
        """SHA-256 (hex) of the content's UTF-8 bytes."""
        digest = hashlib.sha256()
        for delta in self.deltas():
            digest.update(delta.encode())
        return digest.hexdigest()

    def reply(self) -> Reply:
        """The loopback server's reply: role chunk, one SSE event per delta, finish, usage, [DONE].

        The parts reference one bytes object per distinct delta, so the server holds the
        pool once, not the whole reply.
        """
        from tests.loopback import Reply, chunk, sse

        events = [sse(chunk(d), done=False) for d in self.pool]
        parts: list[bytes] = [sse(chunk("", role=True), done=False)]
        parts += [events[i % len(events)] for i in range(self.count)]
        parts.append(sse(chunk(finish="stop"), chunk(empty_choices=True, usage={
            "prompt_tokens": 12, "completion_tokens": self.count, "total_tokens": 12 + self.count})))
        return Reply(parts=parts)


def serve(replies: dict[str, BigReply]) -> LoopbackServer:
    """A started loopback server; the request's model name picks the reply."""
    from tests.loopback import LoopbackServer, Request, json_reply


    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return json_reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in replies]})
        model = str(request.json().get("model", ""))
        if model not in replies:
            return json_reply(404, {"error": {"message": f"unknown model {model!r}"}})
        return replies[model].reply()

    return LoopbackServer(handler).start()


# -- one run ---------------------------------------------------------------------------------
#
# Peak RSS comes from ``os.wait4`` of the child, and Linux folds the spawning process's own
# high-water mark into a child's ``ru_maxrss`` when it execs (with vfork, as subprocess uses,
# the parent's peak so far). A parent that ever held a big reply (this script checking a
# --json object, pytest after a few hundred tests) would make every child look that big. So
# each run is spawned by a launcher (this file with ``--launch``): a fresh, small interpreter
# that starts the child first and only then reads and checks its output.


@dataclass
class Run:
    """One child: peak RSS (MiB), CPU and wall time (seconds), and whether the output was right."""

    rss_mib: float
    cpu: float
    wall: float
    ok: bool
    detail: str = ""


def child_env(tmp: Path, base_url: str) -> dict[str, str]:
    """No user config, a fresh history, no interpreter flags that change buffering."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LLMCHAT_", "OPENAI_", "ANTHROPIC_", "OLLAMA_", "PYTHON", "XDG_"))}
    env.update({
        "XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_STATE_HOME": str(tmp / "state"), "XDG_CACHE_HOME": str(tmp / "cache"),
        "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-bench", "NO_COLOR": "1",
    })
    return env


def ask_argv(model: str, mode: str, python: str = sys.executable) -> list[str]:
    """``python -m llmchat ask -m MODEL [--no-log | --json] PROMPT``."""
    extra = {"history": [], "no-log": ["--no-log"], "json": ["--json"]}[mode]
    return [python, "-m", "llmchat", "ask", "-m", model, *extra, PROMPT]


def write_input(path: Path, size: int) -> Path:
    """A file of `size` bytes of ASCII Markdown to pipe into ``ask`` (``--stdin-mb``)."""
    from tests.loopback import STORY

    text = STORY.encode("ascii", "replace")
    with path.open("wb") as out:
        for _ in range(size // len(text)):
            out.write(text)
        out.write(text[: size % len(text)])
    return path


def allow_input(env: dict[str, str], size: int) -> None:
    """Raise ``max_input_bytes`` in the child's config so that `size` bytes may be piped in."""
    config = Path(env["XDG_CONFIG_HOME"]) / "llmchat" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"max_input_bytes = {max(size, 1)}\n")


def run_ask(model: str, expected: BigReply, mode: str, env: dict[str, str], workdir: Path,
            python: str = sys.executable, timeout: float | None = None, stdin: Path | None = None) -> Run:
    """Run ``llmchat ask -m MODEL`` in `mode` once (through the launcher) and check what it
    printed and, unless ``no-log``, what it stored.

    Args:
        model: the server's name for `expected`.
        expected: the reply the server streams.
        mode: ``history``, ``no-log`` or ``json``.
        env: the child's environment (see :func:`child_env`).
        workdir: the child's working directory; its stderr is kept there.
        python: the interpreter that runs ``-m llmchat`` (and the launcher).
        timeout: seconds before the launcher (and so the run) is given up.
        stdin: a file piped into the child (default: none, stdin is /dev/null).

    Raises:
        subprocess.TimeoutExpired: the run took longer than `timeout`.
    """
    history = Path(env["XDG_DATA_HOME"]) / "llmchat" / "history.db"
    spec = {"argv": ask_argv(model, mode, python), "cwd": str(workdir), "json": mode == "json",
            "history": None if mode == "no-log" else str(history),
            "stderr": str(workdir / f"stderr-{mode}-{model}.txt"), "stdin": str(stdin) if stdin else None}
    launcher = subprocess.run(
        [python, str(Path(__file__).resolve()), "--launch", json.dumps(spec)],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    if launcher.returncode != 0:
        return Run(0, 0, 0, False, f"launcher failed: {launcher.stderr[-1000:]}")
    got = json.loads(launcher.stdout)
    run = Run(got["rss_kib"] / 1024, got["cpu"], got["wall"], got["code"] == 0)
    want = expected.sha256()
    if got["code"] != 0:
        run.detail = f"exit {got['code']}: {got['stderr'][-500:]}"
    elif mode == "json":
        obj = got["json"]
        if obj["content_sha256"] != want:
            run.ok, run.detail = False, f"--json content differs ({obj['content_bytes']} bytes, expected {expected.size})"
        elif obj["finish_reason"] != "stop" or (obj["usage"] or {}).get("output_tokens") != expected.count:
            run.ok, run.detail = False, f"--json finish/usage wrong: {obj['finish_reason']} {obj['usage']}"
    elif got["stdout_sha256"] != want:
        run.ok, run.detail = False, f"stdout differs ({got['stdout_bytes']} bytes, expected {expected.size})"
    if run.ok and mode != "no-log":
        stored = got["history"]
        if stored is None:
            run.ok, run.detail = False, "no reply stored"
        elif (stored["state"], stored["finish_reason"]) != ("final", "stop"):
            run.ok, run.detail = False, f"stored reply is {stored['state']}/{stored['finish_reason']}"
        elif stored["content_sha256"] != want:
            run.ok, run.detail = False, f"stored reply differs ({stored['content_bytes']} bytes)"
    return run


def launch(spec: dict[str, Any]) -> dict[str, Any]:
    """The launcher (``--launch SPEC``): start the child at once, while this process is small,
    then hash its stdout as it arrives, ``wait4`` it, and check the --json object and the
    stored reply. Returns what :func:`run_ask` reads (sizes in bytes, times in seconds)."""
    digest, size, kept = hashlib.sha256(), [0], bytearray()
    with open(spec["stderr"], "wb") as err:
        start = time.perf_counter()
        stdin = open(spec["stdin"], "rb") if spec.get("stdin") else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(spec["argv"], stdin=stdin, stdout=subprocess.PIPE,
                                stderr=err, cwd=spec["cwd"])
        if stdin is not subprocess.DEVNULL:
            stdin.close()

        def drain() -> None:
            assert proc.stdout is not None
            while block := proc.stdout.read1(1 << 16):
                digest.update(block)
                size[0] += len(block)
                if spec["json"]:
                    kept.extend(block)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        reader.join(60)
        assert proc.stdout is not None
        proc.stdout.close()
    result: dict[str, Any] = {
        "code": os.waitstatus_to_exitcode(status),
        "rss_kib": usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss,  # bytes there
        "cpu": usage.ru_utime + usage.ru_stime, "wall": wall,
        "stdout_sha256": digest.hexdigest(), "stdout_bytes": size[0],
        "stderr": Path(spec["stderr"]).read_text(errors="replace")[-2000:], "json": None, "history": None,
    }
    if spec["json"] and result["code"] == 0:
        obj = json.loads(kept)
        content = obj["content"].encode()
        result["json"] = {"content_sha256": hashlib.sha256(content).hexdigest(),
                          "content_bytes": len(content), "finish_reason": obj["finish_reason"],
                          "usage": obj["usage"]}
    if spec["history"] and Path(spec["history"]).exists():
        db = sqlite3.connect(spec["history"])
        try:
            row = db.execute(
                "SELECT content, state, finish_reason FROM messages WHERE role = 'assistant'"
                " ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            db.close()
        if row is not None:
            content = row[0].encode()
            result["history"] = {"content_sha256": hashlib.sha256(content).hexdigest(),
                                 "content_bytes": len(content), "state": row[1], "finish_reason": row[2]}
    return result


# -- the table -------------------------------------------------------------------------------


def main() -> None:
    if sys.argv[1:2] == ["--launch"]:
        print(json.dumps(launch(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=50.0, help="reply size in MB (10^6 bytes)")
    parser.add_argument("--delta", type=int, default=1024, help="characters per delta")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode and size (medians)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: " + ", ".join(MODES))
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs -m llmchat")
    parser.add_argument("--pythonpath", help="import llmchat from this directory (another checkout)")
    parser.add_argument("--stdin-mb", type=float, default=0.0,
                        help="instead: pipe this many MB of input into ask (1-token reply)")
    parser.add_argument("--no-cap-config", action="store_true",
                        help="with --stdin-mb: do not raise max_input_bytes (a checkout before the cap)")
    args = parser.parse_args()
    if args.stdin_mb:
        stdin_table(args)
        return
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}")

    big = BigReply.of_size(int(args.mb * MB), args.delta)
    replies = {"tokens-1": BigReply.one_token(), "big": big}
    server = serve(replies)
    print(f"reply: {big.size / MB:.1f} MB in {big.count:,} deltas of ~{args.delta} characters; "
          f"{args.runs} run(s) per cell, medians", flush=True)
    results: dict[tuple[str, str], list[Run]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="llmchat-mem-") as tmp_name:
            tmp = Path(tmp_name)
            env = child_env(tmp, server.base_url)
            if args.pythonpath:
                env["PYTHONPATH"] = str(Path(args.pythonpath).resolve())
            for _ in range(args.runs):
                for mode in modes:
                    for model in ("tokens-1", "big"):
                        run = run_ask(model, replies[model], mode, env, tmp, args.python)
                        results.setdefault((mode, model), []).append(run)
                        if not run.ok:
                            print(f"FAILED {mode} {model}: {run.detail}", file=sys.stderr, flush=True)
                        history = tmp / "data" / "llmchat" / "history.db"
                        for suffix in ("", "-wal", "-shm"):  # every run starts from an empty history
                            Path(f"{history}{suffix}").unlink(missing_ok=True)
    finally:
        server.stop()

    def med(runs: list[Run], attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in runs)

    size_mb = big.size / MB
    print()
    print("| mode | 1-token: peak MiB | big: peak MiB | growth MiB per MB of reply | big: CPU s | big: wall s | output |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for mode in modes:
        base, load = results[(mode, "tokens-1")], results[(mode, "big")]
        growth = (med(load, "rss_mib") - med(base, "rss_mib")) / size_mb
        ok = sum(r.ok for r in base + load)
        print(f"| {mode} | {med(base, 'rss_mib'):.1f} | {med(load, 'rss_mib'):.1f} | {growth:.2f} "
              f"| {med(load, 'cpu'):.2f} | {med(load, 'wall'):.2f} | {ok}/{len(base + load)} exact |")
    if not all(r.ok for runs in results.values() for r in runs):
        raise SystemExit(1)


def stdin_table(args: argparse.Namespace) -> None:
    """``--stdin-mb``: peak memory of ``ask`` with a big piped input and a 1-token reply, in
    the modes asked for, against the same with a 2-byte input."""
    size = int(args.stdin_mb * MB)
    replies = {"tokens-1": BigReply.one_token()}
    server = serve(replies)
    modes = [m for m in args.modes.split(",") if m in ("history", "no-log")] or ["history", "no-log"]
    print(f"input: {size / MB:.1f} MB piped into ask; {args.runs} run(s) per cell, medians", flush=True)
    print()
    print("| mode | 2-byte input: peak MiB | big input: peak MiB | growth MiB per MB of input | big: CPU s |")
    print("|---|---:|---:|---:|---:|")
    try:
        with tempfile.TemporaryDirectory(prefix="llmchat-mem-") as tmp_name:
            tmp = Path(tmp_name)
            env = child_env(tmp, server.base_url)
            if args.pythonpath:
                env["PYTHONPATH"] = str(Path(args.pythonpath).resolve())
            if not args.no_cap_config:
                allow_input(env, size)
            small, big = write_input(tmp / "small.txt", 2), write_input(tmp / "big.txt", size)
            for mode in modes:
                runs: dict[Path, list[Run]] = {small: [], big: []}
                for _ in range(args.runs):
                    for piped in (small, big):
                        run = run_ask("tokens-1", replies["tokens-1"], mode, env, tmp, args.python, stdin=piped)
                        if not run.ok:
                            print(f"FAILED {mode}: {run.detail}", file=sys.stderr, flush=True)
                        runs[piped].append(run)
                        history = tmp / "data" / "llmchat" / "history.db"
                        for suffix in ("", "-wal", "-shm"):
                            Path(f"{history}{suffix}").unlink(missing_ok=True)
                base = statistics.median(r.rss_mib for r in runs[small])
                peak = statistics.median(r.rss_mib for r in runs[big])
                cpu = statistics.median(r.cpu for r in runs[big])
                print(f"| {mode} | {base:.1f} | {peak:.1f} | {(peak - base) / (size / MB):.2f} | {cpu:.2f} |", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
