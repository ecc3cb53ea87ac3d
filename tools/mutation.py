"""Mutation testing of the core, one module at a time, against that module's own tests (mutmut).

Each run works in a scratch copy of the project (the work tree is never mutated) whose
pyproject.toml tells mutmut which file to mutate (``only_mutate``) and which test files to run
(``pytest_add_cli_args_test_selection``): a mutant counts as killed only if the module's own
tests catch it, not some far-away end-to-end test. mutmut 3 runs, for each mutant, only the
tests that reached the mutated function, forked from one process that has imported everything:
minutes per module, not hours. It mutates inside functions only (not module-level constants).

    python tools/mutation.py --list                      # the modules and their test files
    python tools/mutation.py safety                      # one module: kill rate, survivors
    python tools/mutation.py providers.sse providers.ndjson --jobs 1
    python tools/mutation.py safety --show               # and the diff of each survivor
    python tools/mutation.py providers.openai --sample 80   # a big module: a sample of its mutants
    python tools/mutation.py safety --keep /tmp/mut      # keep the run; its survivors in /tmp/mut/safety/survivors.txt
    python tools/mutation.py safety --keep /tmp/mut --only /tmp/mut/safety/survivors.txt   # against new tests

Needs the ``mutation`` extra (``pip install -e '.[mutation]'``). The figures per module and the
survivors judged equivalent are in docs/testing.md. Exit status: 0, or 1 when a module is
under --threshold percent killed.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MODULES: dict[str, list[str]] = {
    "safety": ["tests/test_safety.py", "tests/test_safety_boundaries.py", "tests/test_render.py", "tests/test_no_color.py"],
    "providers.sse": ["tests/providers/test_sse.py", "tests/providers/test_caps.py"],
    "providers.ndjson": ["tests/providers/test_ndjson.py", "tests/providers/test_caps.py"],
    "providers.errors": [f"tests/providers/test_{name}.py" for name in (
        "errors", "error_rules", "helpers", "error_lines", "context_overflow", "mappings")],
    "providers.http": [f"tests/providers/test_{name}.py" for name in (
        "resilience", "idle_watch", "timers", "caps", "helpers", "errors", "error_lines", "decoding", "tls",
        "http_rules")],
    "providers.policy": [f"tests/providers/test_{name}.py" for name in (
        "resilience", "helpers", "timers", "policy_rules", "http_rules")],
    "providers.redaction": [*(f"tests/providers/test_{name}.py" for name in (
        "helpers", "errors", "policy_rules", "http_rules", "http_get_rules")), "tests/test_debuglog.py"],
    "providers.tls": ["tests/providers/test_tls.py"],
    "mcp.bounded": ["tests/mcp/test_bounded.py"],
    "providers.http_get": [*(f"tests/providers/test_{name}.py" for name in ("models", "tls", "error_lines", "http_get_rules")),
                           "tests/test_discovery.py", "tests/test_first_run.py"],
    "providers.openai": [f"tests/providers/test_{name}.py" for name in (
        "openai_wire", "openai_variants", "openai_rules", "mappings", "caps", "timers", "models")],
    "providers.anthropic": [f"tests/providers/test_{name}.py" for name in (
        "anthropic_wire", "anthropic_thinking", "anthropic_rules", "mappings", "models")],
    "providers.anthropic_request": [f"tests/providers/test_{name}.py" for name in (
        "anthropic_wire", "anthropic_thinking", "request_options", "anthropic_request_rules")],
    "providers.ollama": [f"tests/providers/test_{name}.py" for name in (
        "ollama_wire", "ollama_rules", "mappings", "caps", "request_options", "models")],
    "providers.gemini": [f"tests/providers/test_{name}.py" for name in ("gemini_wire", "gemini_rules", "models")],
    "providers.gemini_request": [f"tests/providers/test_{name}.py" for name in (
        "gemini_wire", "gemini_rules", "request_options")],
    "providers.responses": [f"tests/providers/test_{name}.py" for name in ("responses_wire", "responses_rules", "models")],
    "providers.chat_shape": ["tests/providers/test_chat_shape.py"],
    "providers.responses_request": [f"tests/providers/test_{name}.py" for name in (
        "responses_wire", "responses_rules", "request_options")],
    "chat.accumulator": ["tests/chat/test_accumulator.py", "tests/chat/test_accumulator_blocks.py",
                         "tests/store/test_write_ahead.py"],
    "chat.reply": ["tests/chat/test_reply.py"],
    "chat.process": ["tests/chat/test_tools.py", "tests/chat/test_command_env.py", "tests/chat/test_process.py"],
    "chat.tools": ["tests/chat/test_tools.py", "tests/chat/test_tool_limits.py"],  # re-exports only: no mutant
    "chat.tool_base": ["tests/chat/test_tools.py", "tests/chat/test_tool_limits.py", "tests/chat/test_tool_rules.py"],
    "chat.tool_registry": ["tests/chat/test_tools.py", "tests/chat/test_tool_limits.py", "tests/chat/test_tool_rules.py"],
    "chat.tool_sources": ["tests/chat/test_tools.py", "tests/chat/test_command_env.py", "tests/chat/test_tool_rules.py",
                          "tests/chat/test_process.py"],
    "chat.builtin_tools": ["tests/chat/test_tools.py", "tests/chat/test_tool_limits.py", "tests/chat/test_sensitive.py",
                           "tests/chat/test_builtin_rules.py"],
    "chat.toollimits": ["tests/chat/test_toollimits.py"],
    "chat.netguard": ["tests/chat/test_netguard.py", "tests/chat/test_netguard_classes.py", "tests/chat/test_fetch.py"],
    "chat.fetch": ["tests/chat/test_fetch.py", "tests/chat/test_tools.py", "tests/chat/test_attachments.py",
                   "tests/chat/test_fetch_rules.py"],
    "chat.sensitive": ["tests/chat/test_sensitive.py"],
    "chat.toolloop": ["tests/chat/test_toolloop.py", "tests/chat/test_toolloop_rules.py", "tests/chat/test_toolloop_thinking.py",
                      "tests/chat/test_toollimits.py",
                      "tests/chat/test_wire_formats_tool_loop.py"],
    "chat.engine": ["tests/chat/test_engine.py", "tests/chat/test_engine_rules.py", "tests/chat/test_engine_session.py"],
    "chat.compare": ["tests/chat/test_compare.py", "tests/chat/test_compare_rules.py"],
    "chat.targets": ["tests/chat/test_targets.py", "tests/chat/test_compare.py"],
    "chat.recording": ["tests/chat/test_recording.py", "tests/chat/test_compare.py"],
    "chat.meter": ["tests/chat/test_meter.py", "tests/tui/test_meter_tui.py"],
    "chat.counting": ["tests/chat/test_counting.py", "tests/chat/test_counting_rules.py"],
    "chat.pricing": ["tests/chat/test_pricing.py", "tests/chat/test_pricing_rules.py"],
    "chat.attachments": ["tests/chat/test_attachments.py", "tests/chat/test_attachment_rules.py"],
    "chat.models": ["tests/chat/test_models.py", "tests/chat/test_attachments.py"],
    "chat.branching": ["tests/chat/test_branching.py", "tests/chat/test_engine_branches.py"],
    "chat.compact": ["tests/chat/test_compact.py", "tests/tui/test_compact_tui.py"],
    "chat.loop_events": ["tests/chat/test_loop_events.py", "tests/chat/test_toolloop.py"],
    "store.sqlite": ["tests/store", "tests/test_history_access.py"],
    "store.recorder": ["tests/store", "tests/chat/test_store_failure.py"],
    "store.search": ["tests/store"],  # (test_search_rules.py is in tests/store)
    "store.records": ["tests/store"],
    "store.export": ["tests/store", "tests/test_cli_history.py"],
    "store.migrations": ["tests/store", "tests/test_history_access.py"],
    "store.replies": ["tests/store"],
    "store.reading": ["tests/store", "tests/test_history_access.py"],
    "store.tree": ["tests/store"],
    "store.blobs": ["tests/store"],
    "store.connection": ["tests/store", "tests/test_history_access.py"],
    "store.ids": ["tests/store"],
    "store.errors": ["tests/store", "tests/test_history_access.py"],
    "providers.base": ["tests/providers/test_base.py"],
    "providers.__init__": ["tests/providers/test_base.py", "tests/providers/test_tls.py"],
    "providers.json_body": ["tests/providers/test_json_body.py"],
    "providers.decoding": ["tests/providers/test_decoding.py"],
    "providers.windows": ["tests/providers/test_windows.py"],
    "providers.vision": ["tests/providers/test_vision.py"],
}
"""Module (under llmchat/) -> the test files or folders that are its own tests (missing ones
are skipped, so the table may name a file that another change adds)."""

COPIED = ("llmchat", "tests", "benchmarks", "themes", "README.md", "CHANGELOG.md")


def module_path(module: str) -> str:
    return "llmchat/" + module.replace(".", "/") + ".py"


def scratch_copy(module: str, tests: list[str], where: Path) -> None:
    """The project, copied into `where`, with a pyproject.toml that points mutmut at `module`."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, where / name, ignore=shutil.ignore_patterns("__pycache__", "mutants"))
        elif source.exists():
            shutil.copy2(source, where / name)
    write_pyproject(module, tests, where)


def write_pyproject(module: str, tests: list[str], where: Path) -> None:
    """The project's pyproject.toml in `where`, with mutmut's settings for `module`."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    selection = json.dumps(tests)
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["llmchat"]\n'
        f'only_mutate = ["{module_path(module)}"]\n'
        f"pytest_add_cli_args_test_selection = {selection}\n"
        # -p no:cacheprovider: no .pytest_cache in the copy; -x: a mutant dies at its first failure;
        # -n 0: in one process (pyproject spreads the suite over xdist workers, where mutmut
        # would see no test reach the mutated code).
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q", "-n", "0"]\n'
        "use_git_change_detection = false\n"
    )
    (where / "pyproject.toml").write_text(pyproject, encoding="utf-8")


def mutant_statuses(where: Path, env: dict[str, str]) -> dict[str, str]:
    """Every mutant's name and status ("killed", "survived", "not checked" ...) in `where`."""
    results = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=where, env=env,
                             capture_output=True, text=True, check=False).stdout
    statuses: dict[str, str] = {}
    for line in results.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            statuses[name] = status
    return statuses


def run_module(module: str, jobs: int, show: bool, keep: Path | None, sample: int = 0,
               only: list[str] | None = None) -> tuple[int, int, list[str]]:
    """Mutate `module` against its tests; returns (killed, total, survivor names). With `sample`,
    only the first mutant of each function and then a random sample up to `sample` mutants in
    all are run (seeded: the same sample each time)."""
    tests = [t for t in MODULES[module] if (ROOT / t).exists()]
    if not tests:
        raise SystemExit(f"{module}: none of its test files exist: {MODULES[module]}")
    where = keep or Path(tempfile.mkdtemp(prefix=f"mutation-{module}-"))
    if keep is None or not (where / "pyproject.toml").exists():
        where.mkdir(parents=True, exist_ok=True)
        scratch_copy(module, tests, where)
    elif only:  # the code and tests as they are now (mutmut mutates changed files again and
        # runs its stats again for new tests; a survivor's name then means the same change of
        # the function as it is now)
        for name, copy in (("llmchat", where / "llmchat"), ("tests", where / "tests"),
                           ("tests", where / "mutants" / "tests")):
            if copy.is_dir():
                shutil.copytree(ROOT / name, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        write_pyproject(module, tests, where)  # the module's test files as they are now
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, "-m", "mutmut", "run", f"--max-children={jobs}"]
    print(f"== {module}: {module_path(module)} against {' '.join(tests)}  ({where})", flush=True)
    if only:  # e.g. the survivors of an earlier run, against the tests written since
        subprocess.run([*command, *only], cwd=where, env=env, check=False, stdout=subprocess.DEVNULL)
        statuses = {n: st for n, st in mutant_statuses(where, env).items()
                    if any(fnmatch.fnmatchcase(n, pattern) for pattern in only)}
    elif sample:
        subprocess.run([*command, "llmchat.*__mutmut_1"], cwd=where, env=env, check=False, stdout=subprocess.DEVNULL)
        unchecked = sorted(n for n, s in mutant_statuses(where, env).items() if s == "not checked")
        chosen = random.Random(1).sample(unchecked, min(len(unchecked), sample))
        if chosen:
            subprocess.run([*command, *chosen], cwd=where, env=env, check=False, stdout=subprocess.DEVNULL)
    else:
        subprocess.run(command, cwd=where, env=env, check=False, stdout=subprocess.DEVNULL)
    if not only:
        statuses = mutant_statuses(where, env)
    killed = sum(s in ("killed", "timeout") for s in statuses.values())  # a hang is caught too
    counted = {n: s for n, s in statuses.items() if s not in ("not checked", "skipped")}
    survivors = sorted(n for n, s in counted.items() if s in ("survived", "no tests", "suspicious"))
    total = len(counted)
    if not total:  # not a pass: mutmut found no test reaching the module, or did not run
        print(f"{module}: no mutant was run (run `python -m mutmut run` in {where} to see why)", flush=True)
        return 0, 0, []
    rate = 100.0 * killed / total
    print(f"{module}: {killed} of {total} mutants killed ({rate:.1f} %)", flush=True)
    for name in survivors:
        print(f"  {counted[name]:9}  {name}")
        if show:
            diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=where, env=env,
                                  capture_output=True, text=True, check=False).stdout
            print("    " + diff.replace("\n", "\n    "))
    if keep is None:
        shutil.rmtree(where, ignore_errors=True)
    elif not only:  # for a later `--only FOLDER/survivors.txt` against new tests
        (where / "survivors.txt").write_text("".join(f"{name}\n" for name in survivors), encoding="utf-8")
    return killed, total, survivors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="modules under llmchat/ (e.g. safety, providers.sse)")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1: a shared machine)")
    parser.add_argument("--show", action="store_true", help="print the diff of each surviving mutant")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (re-runs resume there)")
    parser.add_argument("--threshold", type=float, default=85.0, help="percent killed below which to fail")
    parser.add_argument("--only", type=Path, metavar="FILE",
                        help="run only the mutants named in FILE, one a line (e.g. an earlier run's survivors;"
                             " a line may be a pattern: llmchat.safety.x_one_line__mutmut_*)")
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="run the first mutant of each function and N more chosen at random (big modules)")
    args = parser.parse_args()
    if args.list or not args.modules:
        for module, tests in MODULES.items():
            print(f"{module:22} {module_path(module):36} {' '.join(tests)}")
        return
    failed = False
    for module in args.modules:
        if module not in MODULES:
            raise SystemExit(f"unknown module {module!r}; --list shows them")
        keep = args.keep / module if args.keep else None
        only = args.only.read_text().split() if args.only else None
        killed, total, _ = run_module(module, args.jobs, args.show, keep, args.sample, only)
        failed |= total == 0 or 100.0 * killed / total < args.threshold
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
