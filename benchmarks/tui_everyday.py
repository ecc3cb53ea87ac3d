"""The real app in a real terminal at the everyday rate: what a 50-500 tokens/s reply costs.

Each run starts `python -m llmchat` in a tmux session (160x50 by default) against a loopback
server (tests/loopback.py, in a process of its own) that streams a Markdown reply with code
blocks and tables (benchmarks/markdown_doc.py, 5,000 tokens by default) paced on the clock, a
batch every 10 ms. The reply ends with a marker paragraph so that the last token can be seen
in `tmux capture-pane`. Per run, for the llmchat process only (its /proc/PID/stat and status):

- start-up: from spawning the app to the prompt on screen (capture-pane polled);
- CPU share over the stream: CPU seconds (utime + stime) from the server's first content chunk
  to the last token on screen, divided by that time (robust on a loaded machine, unlike wall
  time: a process that gets the core half the time still spends the same CPU seconds);
- last token on screen after the server's last chunk (capture-pane polled every ~5 ms; the
  clocks are the same, time.monotonic in both processes);
- key presses while streaming: a letter sent with `tmux send-keys` every --press-every s, timed
  until the prompt line on screen shows it;
- RSS (VmRSS) at the end of the reply, and idle CPU share over --idle seconds after it with the
  long conversation open.

With --baseline COMMIT the same runs are made against a `git worktree` of that commit (in a
temporary directory, removed afterwards), alternating with the working tree's runs, so both
columns see the same machine load. Figures are medians with the range over --runs.

Run from the repo root:
    python benchmarks/tui_everyday.py --rates 50,200,500 --runs 3 --baseline HEAD~1
    python benchmarks/tui_everyday.py --rates 200 --runs 1 --tokens 2000       # a quick look
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARKER = "END-OF-REPLY-QZ7"
TICKS = os.sysconf("SC_CLK_TCK")
READY = "Message (Enter to send"


def reply_tokens(count: int) -> list[str]:
    """The benchmark reply: `count` Markdown tokens, then the marker paragraph."""
    from benchmarks.markdown_doc import markdown_reply

    tokens = markdown_reply(count)
    text = "".join(tokens)
    closing = "\n```\n" if text.count("```") % 2 else ""  # a reply cut inside a code fence
    return [*tokens, f"{closing}\n\n{MARKER}"]


def serve(conn: Connection, count: int) -> None:
    """The server process: model `rate-N` streams the reply at N tokens/s; sends its marks."""
    from tests.loopback import LoopbackServer, Reply, Request, chunk, json_reply, sse

    tokens = reply_tokens(count)

    def handler(request: Request) -> Reply:
        if request.path.endswith("/models") or not request.body:
            return json_reply(200, {"object": "list", "data": [{"id": "rate-200", "object": "model"}]})
        rate = float(request.json()["model"].split("-", 1)[1])
        per_batch = max(1, round(rate / 100))
        marks: dict[str, float] = {}

        def begin() -> None:
            marks["first"] = time.monotonic()
            conn.send(("first_chunk", marks["first"]))

        def until(due: float) -> Any:
            return lambda: marks["first"] + due - time.monotonic()

        parts: list[Any] = [sse(chunk("", role=True), done=False), begin]
        for i in range(0, len(tokens), per_batch):
            parts.append(until(i / rate))
            parts.append(sse(*[chunk(t) for t in tokens[i : i + per_batch]], done=False))
        parts.append(lambda: conn.send(("last_chunk", time.monotonic())))
        usage = {"prompt_tokens": 9, "completion_tokens": len(tokens), "total_tokens": 9 + len(tokens)}
        parts.append(sse(chunk(finish="stop"), chunk(empty_choices=True, usage=usage)))
        return Reply(parts=parts)

    with LoopbackServer(handler) as server:
        conn.send(("base_url", server.base_url))
        conn.recv()


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    ).stdout


def send_keys(session: str, *keys: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *keys], check=True)


@dataclass
class Run:
    startup: float = 0.0
    cpu_share: float = 0.0
    cpu: float = 0.0
    stream: float = 0.0
    last_token: float = 0.0
    rss: float = 0.0
    idle_share: float = 0.0
    keys: list[float] = field(default_factory=list)


class Marks:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.values: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        while self.conn.poll():
            key, value = self.conn.recv()
            self.values[key] = value
        return self.values.get(name)

    def wait(self, name: str, timeout: float) -> Any:
        end = time.monotonic() + timeout
        while (value := self.get(name)) is None:
            if time.monotonic() > end:
                raise TimeoutError(f"no {name} in {timeout} s")
            time.sleep(0.005)
        return value


def one_run(tree: Path, base_url: str, marks: Marks, rate: float, args: argparse.Namespace) -> Run:
    """Start the app from `tree`, stream one reply at `rate`, measure; the session is killed."""
    run = Run()
    session = f"perf-bench-{os.getpid()}"
    home = Path(tempfile.mkdtemp(prefix="tui-everyday-"))
    env = {
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-bench",
        "PYTHONPATH": str(tree),
        "TERM": "xterm-256color",
    }
    nice = ["nice", "-n", str(args.nice)] if args.nice else []
    command = ["exec", "env", *[f"{k}={v}" for k, v in env.items()], *nice, sys.executable, "-m", "llmchat",
               "-m", f"rate-{rate:g}"]
    marks.values.pop("first_chunk", None)
    marks.values.pop("last_chunk", None)
    started = time.monotonic()
    for attempt in range(5):  # "server exited unexpectedly": the last session's server was closing
        spawned = subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(args.width), "-y",
                                  str(args.height), " ".join(command)], cwd=tree, capture_output=True, text=True)
        if spawned.returncode == 0:
            break
        time.sleep(0.5)
        started = time.monotonic()
    else:
        raise RuntimeError(f"tmux new-session failed: {spawned.stderr.strip()}")
    try:
        pid = int(subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout)
        while READY not in capture(session):
            if time.monotonic() - started > 60:
                raise TimeoutError("the app did not show its prompt in 60 s")
            time.sleep(0.01)
        run.startup = time.monotonic() - started
        time.sleep(1.0)  # let start-up work settle (first paint, model list)
        send_keys(session, "stream please", "Enter")
        first = marks.wait("first_chunk", 30)
        cpu0 = cpu_seconds(pid)
        profiler = None
        if args.profile:
            out = Path(args.profile) / f"{tree.name}-{rate:g}-{time.strftime('%H%M%S')}.txt"
            profiler = subprocess.Popen([args.py_spy, "record", "--pid", str(pid), "--format", "raw",
                                         "--rate", "50", "--output", str(out), "--nonblocking"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        typed = 0
        next_key = time.monotonic() + args.press_every
        while marks.get("last_chunk") is None:
            now = time.monotonic()
            if args.press_every and now >= next_key:
                typed += 1
                sent = time.monotonic()
                send_keys(session, "z")
                want = "z" * typed
                while want not in capture(session):
                    if time.monotonic() - sent > 10:
                        raise TimeoutError("a key press was not shown in 10 s")
                    time.sleep(0.003)
                run.keys.append(time.monotonic() - sent)
                next_key = max(next_key + args.press_every, time.monotonic() + 0.05)
            time.sleep(0.01)
        last = marks.values["last_chunk"]
        while MARKER not in capture(session):
            if time.monotonic() - last > 60:
                raise TimeoutError("the last token was not on screen 60 s after the last chunk")
            time.sleep(0.003)
        shown = time.monotonic()
        run.cpu = cpu_seconds(pid) - cpu0
        if profiler is not None:
            profiler.send_signal(2)  # py-spy writes its output on SIGINT
            profiler.wait(30)
        run.stream = shown - first
        run.cpu_share = run.cpu / run.stream
        run.last_token = shown - last
        time.sleep(2.0)  # the final render, the store
        run.rss = rss_mib(pid)
        if args.idle:
            idle0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(args.idle)
            run.idle_share = (cpu_seconds(pid) - idle0) / (time.monotonic() - t0)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    return run


def spread(values: list[float], scale: float = 1.0, fmt: str = "{:.0f}") -> str:
    if not values:
        return "-"
    ordered = sorted(v * scale for v in values)
    mid = fmt.format(statistics.median(ordered))
    if len(ordered) == 1:
        return mid
    return f"{mid} ({fmt.format(ordered[0])}-{fmt.format(ordered[-1])})"


def table(results: dict[tuple[str, float], list[Run]], columns: list[str], rates: list[float]) -> str:
    rows = [
        ("CPU share over the stream, % of a core", lambda r: [x.cpu_share for x in r], 100, "{:.0f}"),
        ("CPU seconds over the stream", lambda r: [x.cpu for x in r], 1, "{:.1f}"),
        ("last token on screen after the last chunk, ms", lambda r: [x.last_token for x in r], 1000, "{:.0f}"),
        ("key press on screen, median ms", lambda r: [statistics.median(x.keys) for x in r if x.keys], 1000, "{:.0f}"),
        ("key press on screen, worst ms", lambda r: [max(x.keys) for x in r if x.keys], 1000, "{:.0f}"),
        ("RSS at the end, MiB", lambda r: [x.rss for x in r], 1, "{:.0f}"),
        ("idle CPU after the reply, % of a core", lambda r: [x.idle_share for x in r], 100, "{:.1f}"),
        ("start-up to the prompt, s", lambda r: [x.startup for x in r], 1, "{:.2f}"),
    ]
    lines = []
    for rate in rates:
        lines.append(f"\n{rate:g} tokens/s")
        lines.append("| | " + " | ".join(columns) + " |")
        lines.append("| --- |" + " ---: |" * len(columns))
        for name, pick, scale, fmt in rows:
            cells = [spread(pick(results.get((col, rate), [])), scale, fmt) for col in columns]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="50,200,500", help="tokens per second, comma-separated")
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="a commit to measure side by side (a temporary git worktree)")
    parser.add_argument("--press-every", type=float, default=1.0, help="seconds between key presses (0: none)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measured after the reply")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the app at this niceness (e.g. -10 as root: on a loaded machine the app"
                             " then gets the core when it asks, as on an idle one; its render passes are"
                             " paced by wall time, so a starved app renders less and looks cheaper)")
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the app over each stream (raw"
                        " collapsed stacks in DIR; the profiler's own CPU is not the app's)")
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable")
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=50)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed")
    trees: dict[str, Path] = {"this tree": ROOT}
    base_dir: Path | None = None
    if args.baseline:
        commit = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        base_dir = Path(tempfile.mkdtemp(prefix="tui-everyday-base-")) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_dir), commit], cwd=ROOT, check=True,
                       capture_output=True)
        trees = {f"baseline {commit}": base_dir, "this tree": ROOT}
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    server = context.Process(target=serve, args=(child_conn, args.tokens), daemon=True)
    server.start()
    results: dict[tuple[str, float], list[Run]] = {}
    try:
        marks = Marks(conn)
        base_url = marks.wait("base_url", 30)
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} at the start", flush=True)
        for index in range(args.runs):
            for rate in rates:
                order = list(trees.items())
                if index % 2:
                    order.reverse()  # alternate which tree goes first
                for name, tree in order:
                    run = one_run(tree, base_url, marks, rate, args)
                    results.setdefault((name, rate), []).append(run)
                    keys = f"keys median {1000 * statistics.median(run.keys):.0f} ms" if run.keys else ""
                    print(f"run {index + 1} {rate:g}/s {name}: CPU {run.cpu:.1f} s over {run.stream:.1f} s"
                          f" = {100 * run.cpu_share:.0f}%, last token +{1000 * run.last_token:.0f} ms,"
                          f" RSS {run.rss:.0f} MiB, idle {100 * run.idle_share:.1f}%,"
                          f" start-up {run.startup:.2f} s, {keys}", flush=True)
        load = os.getloadavg()
        print(f"machine: load average {load[0]:.1f} at the end")
        print(table(results, list(trees), rates))
    finally:
        conn.send("stop")
        server.join(5)
        if base_dir is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_dir)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
