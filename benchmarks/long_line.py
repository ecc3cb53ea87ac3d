"""Long lines cost linear time: a reply that is one single line, N and 4N characters long.

    python benchmarks/long_line.py [--sizes 250000,1000000] [--targets ask-tty,ask-pipe,session]
                                   [--pythonpath DIR] [--timeout 300]

Targets:
- ``ask-tty``: ``llmchat ask`` with stdout on a pseudo-terminal (the Markdown renderer,
  llmchat/render.py), against a loopback server (a thread of this process) streaming the line
  in 5-character deltas ("word " repeated, no newline until the end);
- ``ask-pipe``: the same with stdout a pipe (the bytes go straight through);
- ``session``: the session's ``StreamingMarkdown`` (llmchat/tui/widgets/stream_markdown.py) in a
  headless app in a subprocess, fed the same deltas as fast as it takes them, then finished.

Each run is a subprocess; the time is wall time from start to exit (ask) or from the first delta
to the end of the final render (session). The table gives the time per size and the ratio of
4N to N: about 4 is linear, 16 quadratic. ``--pythonpath`` measures another checkout (e.g. the
commit before a change). Timing goals live here, never in tests (tests/test_long_lines.py counts
work instead).
"""

from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DELTA = "word "

SESSION = r"""
import asyncio, sys, time
from textual.app import App, ComposeResult
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown

size, delta = int(sys.argv[1]), sys.argv[2]

class Bench(App):
    def compose(self) -> ComposeResult:
        yield StreamingMarkdown()

async def main() -> None:
    app = Bench()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(StreamingMarkdown)
        start = time.perf_counter()
        for i in range(size // len(delta)):
            view.append(delta)
            if i % 2000 == 0:
                await asyncio.sleep(0)
        await view.finish()
        await pilot.pause()
        print(time.perf_counter() - start)

asyncio.run(main())
"""


def serve(size: int):  # type: ignore[no-untyped-def]
    from tests.loopback import LoopbackServer, Reply, chunk, sse

    event = sse(chunk(DELTA), done=False)
    count = size // len(DELTA)

    def handler(_request):  # type: ignore[no-untyped-def]
        return Reply(parts=[*([event] * count), sse(chunk("\n", finish="stop"))])

    return LoopbackServer(handler).start()


def run_ask(size: int, tty: bool, env: dict[str, str], timeout: float) -> float:
    server = serve(size)
    try:
        env = {**env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bench", "TERM": "xterm-256color",
               "COLUMNS": "100", "LINES": "40"}
        argv = [sys.executable, "-m", "llmchat", "ask", "--no-log", "go"]
        start = time.perf_counter()
        if not tty:
            done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout, check=False)
            assert done.returncode == 0 and len(done.stdout) == size // len(DELTA) * len(DELTA) + 1, done.stderr[-500:]
            return time.perf_counter() - start
        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        got = [0]

        def drain() -> None:
            while True:
                try:
                    data = os.read(master, 1 << 16)
                except OSError:
                    return
                if not data:
                    return
                got[0] += len(data)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return float("inf")
        finally:
            elapsed = time.perf_counter() - start
            reader.join(5)
            os.close(master)
        assert proc.returncode == 0, proc.stderr.read()[-500:] if proc.stderr else ""
        return elapsed
    finally:
        server.stop()


def run_session(size: int, env: dict[str, str], timeout: float) -> float:
    try:
        done = subprocess.run([sys.executable, "-c", SESSION, str(size), DELTA], env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return float("inf")
    assert done.returncode == 0, done.stderr[-2000:]
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="250000,1000000")
    parser.add_argument("--targets", default="ask-tty,ask-pipe,session")
    parser.add_argument("--pythonpath", default=str(ROOT))
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMCHAT_", "OPENAI_", "XDG_"))}
        env.update({"PYTHONPATH": args.pythonpath, "XDG_DATA_HOME": f"{tmp}/data",
                    "XDG_CONFIG_HOME": f"{tmp}/config", "XDG_STATE_HOME": f"{tmp}/state"})
        print(f"{'target':<10} " + " ".join(f"{s:>12,}" for s in sizes) + "   ratio per x4")
        for target in args.targets.split(","):
            times = []
            for size in sizes:
                if target == "session":
                    times.append(run_session(size, env, args.timeout))
                else:
                    times.append(run_ask(size, target == "ask-tty", env, args.timeout))
            ratios = [b / a for a, b in zip(times, times[1:]) if a]
            print(f"{target:<10} " + " ".join(f"{t:>11.2f}s" for t in times) + "   "
                  + ", ".join(f"{r:.1f}" for r in ratios), flush=True)


if __name__ == "__main__":
    main()
