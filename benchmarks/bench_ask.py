"""`llmchat ask` side by side with the anchors: start-up (target 1) and throughput (target 2).

    python benchmarks/bench_ask.py [--runs N] [--tokens N] [--anchors-python PATH] [--target startup|throughput|all]

A loopback server (tests/loopback.py, in a subprocess of its own so that its CPU is never
counted) streams OpenAI-style Chat Completions as fast as it can, one SSE event per token,
each its own write. The model name picks the reply: ``tokens-N`` streams the first N
word-sized tokens of a Markdown document (headings, lists, a table, fenced code, non-ASCII
text). Every command reads the same reply from the same server; the runs are interleaved
(a shuffled order per round) after one warm-up round, and each command's stdout goes to a
pipe that this process hashes and compares with the expected bytes.

Measured per run, from ``os.wait4`` of that child: wall time (spawn to exit), CPU time
(user + sys) and peak memory (``ru_maxrss``). The table gives medians; a ratio is the median
of the per-round ratios (each round runs every command once, side by side).

Commands (an anchor that is not installed is skipped, saying so):
- ``llmchat``: ``llmchat ask -m tokens-N PROMPT`` (history stored, in a temporary XDG_DATA_HOME);
- ``python -c pass``: the interpreter's start-up floor;
- ``httpx-min``: a minimal httpx script: read SSE lines, ``json.loads`` each, print the delta
  with ``flush=True``; ``httpx-min-nf`` is the same without the per-delta flush;
- ``openai-sdk``: the openai SDK's streaming loop (``print(..., flush=True)``);
- ``llm``: Simon Willison's ``llm`` CLI, pointed at the server by an extra-openai-models.yaml
  in a temporary LLM_USER_PATH (it logs to its own SQLite database, as llmchat does).

Install the anchors into a separate environment, never into llmchat's::

    python -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install openai llm httpx
    python benchmarks/bench_ask.py --anchors-python /tmp/bench-venv/bin/python
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Write a long Markdown answer."

# -- the reply -----------------------------------------------------------------------------

EXTRA = """## Unicode

Naïve café — “quoted” text, 東京 and emoji 🚀✨ keep the output **byte-exact**.

- one
- two
  - nested *three*

"""
_TOKEN = re.compile(r"\s*\S+|\s+")


def reply_tokens(count: int) -> list[str]:
    """The first `count` tokens of the benchmark document (``Hello`` for a 1-token reply)."""
    if count <= 1:
        return ["Hello"]
    sys.path.insert(0, str(ROOT))
    from tests.loopback import STORY

    unit = _TOKEN.findall(STORY + EXTRA)
    tokens = unit * (count // len(unit) + 1)
    return tokens[:count]


def expected_bytes(count: int) -> bytes:
    return "".join(reply_tokens(count)).encode("utf-8")


# -- the server (a subprocess: `bench_ask.py --serve`) ---------------------------------------


def serve() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.loopback import LoopbackServer, Reply, Request, chunk, json_reply, sse

    cache: dict[int, list[bytes]] = {}

    def parts_for(count: int) -> list[bytes]:
        if count not in cache:
            tokens = reply_tokens(count)
            parts = [sse(chunk("", role=True), done=False)]
            parts += [sse(chunk(tok), done=False) for tok in tokens]
            parts.append(sse(chunk(finish="stop"), chunk(empty_choices=True, usage={
                "prompt_tokens": 12, "completion_tokens": len(tokens), "total_tokens": 12 + len(tokens)})))
            cache[count] = parts
        return cache[count]

    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return json_reply(200, {"object": "list", "data": [{"id": "tokens-1", "object": "model"}]})
        model = str(request.json().get("model", ""))
        match = re.fullmatch(r"tokens-(\d+)", model)
        if not match:
            return json_reply(404, {"error": {"message": f"unknown model {model!r}"}})
        return Reply(parts=parts_for(int(match.group(1))))

    with LoopbackServer(handler) as server:
        print(server.port, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


# -- anchors ---------------------------------------------------------------------------------

HTTPX_MIN = r'''
import json, sys
import httpx
url, model, prompt, flush = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": True}
with httpx.stream("POST", url + "/chat/completions", json=body, timeout=None,
                  headers={"Authorization": "Bearer x"}) as response:
    for line in response.iter_lines():
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            break
        for choice in json.loads(data)["choices"]:
            content = choice["delta"].get("content")
            if content:
                print(content, end="", flush=flush)
'''

OPENAI_SDK = r'''
import sys
from openai import OpenAI
url, model, prompt = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=url, api_key="x")
stream = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": prompt}], stream=True)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
'''


@dataclass
class Command:
    name: str
    argv_for: object  # Callable[[int], list[str]]: the command line for a reply of N tokens
    suffix: bytes = b""  # what the command adds after the reply (llm ends with a newline)
    check_output: bool = True


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    ok: bool
    detail: str = ""


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)


def run_once(argv: list[str], env: dict[str, str], expect: bytes | None, workdir: Path) -> Run:
    """Run one command; measure wall, CPU and peak memory of that child; check its stdout."""
    digest = hashlib.sha256()
    size = [0]
    head = bytearray()
    err_path = workdir / "stderr.txt"
    with open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env)

        def drain() -> None:
            assert proc.stdout is not None
            while block := proc.stdout.read1(1 << 16):
                digest.update(block)
                size[0] += len(block)
                if len(head) < 200:
                    head.extend(block[:200])

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join(30)
        assert proc.stdout is not None
        proc.stdout.close()
    ok = proc.returncode == 0
    detail = "" if ok else f"exit {proc.returncode}: {err_path.read_text(errors='replace')[-500:]}"
    if ok and expect is not None and digest.hexdigest() != hashlib.sha256(expect).hexdigest():
        ok = False
        detail = f"output differs ({size[0]} bytes, expected {len(expect)}): {bytes(head[:80])!r}"
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, ok, detail)


def has_module(python: str | None, module: str) -> bool:
    if not python or not Path(python).exists():
        return False
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False).returncode == 0


def default_anchors_python() -> str | None:
    for candidate in (ROOT / "benchmarks" / ".venv" / "bin" / "python", Path("/tmp/bench-venv/bin/python")):
        if candidate.exists():
            return str(candidate)
    return None


def child_env(base: dict[str, str], tmp: Path, base_url: str) -> dict[str, str]:
    """The environment of every command: no user config, a fresh data directory, no
    interpreter flags that change buffering or bytecode caching."""
    env = {k: v for k, v in base.items()
           if not k.startswith(("LLMCHAT_", "OPENAI_", "ANTHROPIC_", "PYTHON", "LLM_"))}
    env.update({
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-bench",
        "LLM_USER_PATH": str(tmp / "llm"),
        "NO_COLOR": "1",
    })
    return env


def write_llm_config(tmp: Path, base_url: str, counts: list[int]) -> None:
    """llm's documented way to reach an OpenAI-compatible server ("OpenAI-compatible models")."""
    (tmp / "llm").mkdir(parents=True, exist_ok=True)
    lines = []
    for count in counts:
        lines += [f"- model_id: tokens-{count}", f"  model_name: tokens-{count}", f'  api_base: "{base_url}"']
    (tmp / "llm" / "extra-openai-models.yaml").write_text("\n".join(lines) + "\n")


def build_commands(args: argparse.Namespace, tmp: Path, base_url: str) -> list[Command]:
    anchors = args.anchors_python
    httpx_python = anchors if has_module(anchors, "httpx") else sys.executable
    (tmp / "httpx_min.py").write_text(HTTPX_MIN)
    (tmp / "openai_sdk.py").write_text(OPENAI_SDK)
    llmchat = args.llmchat.split() if args.llmchat else None
    if llmchat is None:
        script = Path(args.llmchat_python).parent / "llmchat"
        llmchat = [str(script)] if script.exists() else [args.llmchat_python, "-m", "llmchat"]
    commands = [
        Command("llmchat", lambda n: [*llmchat, "ask", "-m", f"tokens-{n}", PROMPT]),
        Command("python -c pass", lambda n: [args.llmchat_python, "-c", "pass"], check_output=False),
        Command("httpx-min", lambda n: [httpx_python, str(tmp / "httpx_min.py"), base_url, f"tokens-{n}",
                                        PROMPT, "1"]),
        Command("httpx-min-nf", lambda n: [httpx_python, str(tmp / "httpx_min.py"), base_url, f"tokens-{n}",
                                           PROMPT, "0"]),
    ]
    if has_module(anchors, "openai"):
        commands.append(Command("openai-sdk", lambda n: [anchors, str(tmp / "openai_sdk.py"), base_url,
                                                         f"tokens-{n}", PROMPT]))
    else:
        print(f"skipped: openai-sdk (no openai module in {anchors or 'any --anchors-python'})")
    llm = args.llm or (str(Path(anchors).parent / "llm") if anchors else None)
    if llm and Path(llm).exists():
        commands.append(Command("llm", lambda n: [llm, "-m", f"tokens-{n}", "--key", "x", PROMPT],
                                suffix=b"\n"))
    else:
        print(f"skipped: llm (no llm command{' at ' + llm if llm else ''}; pass --llm or --anchors-python)")
    return commands


def measure(commands: list[Command], tokens: int, runs: int, env: dict[str, str], tmp: Path,
            label: str) -> dict[str, Series]:
    expect = expected_bytes(tokens)
    results = {c.name: Series() for c in commands}
    rnd = random.Random(tokens)
    for round_no in range(runs + 1):  # round 0 warms up (bytecode, disk cache) and is dropped
        order = commands[:]
        rnd.shuffle(order)
        for command in order:
            run = run_once(command.argv_for(tokens), env, expect + command.suffix if command.check_output
                           else None, tmp)
            if not run.ok:
                print(f"  {command.name}: FAILED: {run.detail}", file=sys.stderr)
            if round_no:
                results[command.name].runs.append(run)
        print(f"  {label}: round {round_no}/{runs}{' (warm-up)' if not round_no else ''}",
              file=sys.stderr, flush=True)
    return results


def paired_ratio(a: Series, b: Series, attr: str) -> float:
    """Median over rounds of a.attr / b.attr (the same round: side by side)."""
    return statistics.median(getattr(x, attr) / getattr(y, attr) for x, y in zip(a.runs, b.runs))


def median(series: Series, attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in series.runs)


def report_startup(results: dict[str, Series]) -> dict[str, float]:
    ours = results["llmchat"]
    print("\nTarget 1: start-up, 1-token reply, whole process (wall time)")
    print(f"{'command':<16}{'wall ms':>10}{'min ms':>9}{'CPU ms':>9}{'peak MB':>9}{'ok':>7}{'llmchat/this':>14}")
    ratios = {}
    for name, series in results.items():
        ratio = paired_ratio(ours, series, "wall")
        ratios[name] = ratio
        ok = sum(r.ok for r in series.runs)
        print(f"{name:<16}{median(series, 'wall') * 1000:>10.0f}{min(r.wall for r in series.runs) * 1000:>9.0f}"
              f"{median(series, 'cpu') * 1000:>9.0f}{median(series, 'rss_mb'):>9.1f}"
              f"{ok:>4}/{len(series.runs):<2}{ratio:>14.2f}")
    if "llm" in results:
        verdict = "MET" if ratios["llm"] <= 0.3 else "NOT MET"
        print(f"llmchat / llm wall time = {ratios['llm']:.2f} (target <= 0.30): {verdict}")
    return ratios


def report_throughput(results: dict[str, Series], tokens: int) -> None:
    ours = results["llmchat"]
    print(f"\nTarget 2: throughput, {tokens:,}-token Markdown reply to a pipe (CPU = user + sys of the child)")
    print(f"{'command':<16}{'CPU s':>8}{'wall s':>8}{'peak MB':>9}{'exact':>7}{'llmchat/this':>14}{'this/llmchat':>14}")
    for name, series in results.items():
        if name == "python -c pass":
            continue
        ratio = paired_ratio(ours, series, "cpu")
        ok = sum(r.ok for r in series.runs)
        print(f"{name:<16}{median(series, 'cpu'):>8.2f}{median(series, 'wall'):>8.2f}"
              f"{max(r.rss_mb for r in series.runs):>9.1f}{ok:>4}/{len(series.runs):<2}{ratio:>14.2f}{1 / ratio:>14.2f}")
    checks = []
    if "httpx-min" in results:
        r = paired_ratio(ours, results["httpx-min"], "cpu")
        checks.append((f"llmchat / httpx-min CPU = {r:.2f} (target <= 1.5)", r <= 1.5))
    for anchor in ("openai-sdk", "llm"):
        if anchor in results:
            r = 1 / paired_ratio(ours, results[anchor], "cpu")
            checks.append((f"{anchor} / llmchat CPU = {r:.1f} (target >= 4)", r >= 4))
    peak = max(r.rss_mb for r in ours.runs)
    checks.append((f"llmchat peak memory = {peak:.1f} MB (target < 60)", peak < 60))
    exact = all(r.ok for r in ours.runs)
    checks.append((f"llmchat output byte-exact in {sum(r.ok for r in ours.runs)}/{len(ours.runs)} runs", exact))
    for text, met in checks:
        print(f"{text}: {'MET' if met else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="measured rounds per target (after one warm-up)")
    parser.add_argument("--startup-runs", type=int, help="rounds for target 1 (default: 2 x --runs)")
    parser.add_argument("--tokens", type=int, default=50_000, help="tokens of the throughput reply")
    parser.add_argument("--target", choices=("startup", "throughput", "all"), default="all")
    parser.add_argument("--anchors-python", default=default_anchors_python(),
                        help="interpreter of a separate venv with openai, llm and httpx "
                             "(default: benchmarks/.venv or /tmp/bench-venv when present)")
    parser.add_argument("--llm", help="the llm command (default: next to --anchors-python)")
    parser.add_argument("--llmchat-python", default=sys.executable, help="llmchat's interpreter")
    parser.add_argument("--llmchat", help="llmchat's command line (default: the llmchat script next to "
                                          "--llmchat-python)")
    parser.add_argument("--only", help="comma-separated command names to run (llmchat is always run)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return

    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ask-"))
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        base_url = f"http://127.0.0.1:{port}/v1"
        env = child_env(dict(os.environ), tmp, base_url)
        write_llm_config(tmp, base_url, [1, args.tokens])
        commands = build_commands(args, tmp, base_url)
        if args.only:
            keep = {"llmchat", *args.only.split(",")}
            commands = [c for c in commands if c.name in keep]
        print(f"server {base_url}; llmchat: {' '.join(commands[0].argv_for(1)[:-4])}; "
              f"anchors: {args.anchors_python or '(none)'}; {os.cpu_count()} CPUs", flush=True)
        if args.target in ("startup", "all"):
            results = measure(commands, 1, args.startup_runs or 2 * args.runs, env, tmp, "start-up")
            report_startup(results)
        if args.target in ("throughput", "all"):
            results = measure([c for c in commands if c.name != "python -c pass"], args.tokens, args.runs,
                              env, tmp, "throughput")
            report_throughput(results, args.tokens)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
