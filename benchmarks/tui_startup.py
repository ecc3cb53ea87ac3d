"""Start-up of the session: from spawning `python -m llmchat` to its prompt on screen.

Each run starts the real app in a tmux session (160x50 by default) with an empty history and
no config, as a first start with a key in the environment (OPENAI_API_KEY; the base URL points
at a closed loopback port, so nothing answers and nothing is asked at start-up). Per run, for
the llmchat process only:

- wall time from spawning to the prompt's placeholder in `tmux capture-pane` (polled every
  few ms; includes tmux's own start, tens of ms on a busy machine);
- CPU seconds (utime + stime, /proc/PID/stat) spent by then: robust on a loaded machine,
  where wall time mostly measures the wait for a core;
- CPU seconds and RSS one second later (work the app defers past the first frame).

With --baseline COMMIT the same runs are made against a `git worktree` of that commit,
alternating with the working tree's runs. Figures are medians with the range over --runs.

    python benchmarks/tui_startup.py --runs 7 --baseline HEAD~3
    python benchmarks/tui_startup.py --runs 1 --importtime /tmp/imports.txt   # -X importtime
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.tui_everyday import READY, capture, cpu_seconds, rss_mib, spread  # noqa: E402


@dataclass
class Start:
    wall: float
    cpu: float
    cpu_later: float
    rss: float


def one_start(tree: Path, args: argparse.Namespace, importtime: str | None = None) -> Start:
    """Start the app from `tree` once, measure until its prompt shows; the session is killed."""
    session = f"perf-start-{os.getpid()}"
    home = Path(tempfile.mkdtemp(prefix="tui-startup-"))
    env = {
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_API_KEY": "sk-bench",
        "PYTHONPATH": str(tree),
        "TERM": "xterm-256color",
    }
    command = ["exec", "env", *[f"{k}={v}" for k, v in env.items()], sys.executable, "-m", "llmchat"]
    if importtime:
        wrapper = home / "importtime.py"
        wrapper.write_text(
            "import os, sys\nterminal = os.dup(2)\n"  # -X importtime writes to fd 2: a file; Textual gets a copy
            f"os.dup2(os.open({importtime!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)\n"
            "sys.__stderr__ = sys.stderr = os.fdopen(terminal, 'w')\nsys.argv = ['llmchat']\n"
            "import runpy\nrunpy.run_module('llmchat', run_name='__main__')\n"
        )
        command = ["exec", "env", *[f"{k}={v}" for k, v in env.items()], sys.executable, "-X", "importtime",
                   str(wrapper)]
    started = time.monotonic()
    spawned = subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(args.width), "-y",
                              str(args.height), " ".join(command)], cwd=tree, capture_output=True, text=True)
    if spawned.returncode:
        raise RuntimeError(f"tmux new-session failed: {spawned.stderr.strip()}")
    try:
        pid = int(subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout)
        while READY not in capture(session):
            if time.monotonic() - started > 60:
                raise TimeoutError("the app did not show its prompt in 60 s")
            time.sleep(0.003)
        wall = time.monotonic() - started
        cpu = cpu_seconds(pid)
        time.sleep(1.0)
        return Start(wall, cpu, cpu_seconds(pid), rss_mib(pid))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="a commit to measure side by side (a temporary git worktree)")
    parser.add_argument("--importtime", metavar="FILE", help="one start with python -X importtime into FILE")
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed")
    if args.importtime:
        one_start(ROOT, args, importtime=os.path.abspath(args.importtime))
        print(f"import times in {args.importtime}")
        return
    trees: dict[str, Path] = {"this tree": ROOT}
    base_dir: Path | None = None
    if args.baseline:
        commit = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        base_dir = Path(tempfile.mkdtemp(prefix="tui-startup-base-")) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_dir), commit], cwd=ROOT, check=True,
                       capture_output=True)
        trees = {f"baseline {commit}": base_dir, "this tree": ROOT}
    results: dict[str, list[Start]] = {}
    try:
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
        for tree in trees.values():
            one_start(tree, args)  # warm-up: bytecode cache, disk cache
        for index in range(args.runs):
            order = list(trees.items())
            if index % 2:
                order.reverse()
            for name, tree in order:
                start = one_start(tree, args)
                results.setdefault(name, []).append(start)
                print(f"run {index + 1} {name}: prompt after {start.wall:.2f} s, CPU {start.cpu:.2f} s"
                      f" (+1 s: {start.cpu_later:.2f} s), RSS {start.rss:.0f} MiB", flush=True)
        print(f"machine: load average {os.getloadavg()[0]:.1f} at the end")
        columns = list(trees)
        print("| | " + " | ".join(columns) + " |")
        print("| --- |" + " ---: |" * len(columns))
        rows = [
            ("prompt on screen after spawning, s", lambda s: s.wall, "{:.2f}"),
            ("CPU seconds by then", lambda s: s.cpu, "{:.2f}"),
            ("CPU seconds one second later", lambda s: s.cpu_later, "{:.2f}"),
            ("RSS one second later, MiB", lambda s: s.rss, "{:.0f}"),
        ]
        for label, pick, fmt in rows:
            cells = [spread([pick(s) for s in results.get(col, [])], 1, fmt) for col in columns]
            print(f"| {label} | " + " | ".join(cells) + " |")
    finally:
        if base_dir is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_dir)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
