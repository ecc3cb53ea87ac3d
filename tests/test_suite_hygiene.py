"""The suite keeps its own rules: no test asserts on wall-clock time, and none waits for the app
with a fixed pause (docs/testing.md). A loaded 2-core machine must not turn a correct program red."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CLOCKS = {"monotonic", "perf_counter", "time", "process_time", "monotonic_ns", "perf_counter_ns", "time_ns"}


def clock_names(tree: ast.AST) -> set[str]:
    """Names bound to a clock reading (``started = time.monotonic()``) anywhere in the module."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and reads_clock(node.value):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def reads_clock(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in CLOCKS
               and isinstance(n.func.value, ast.Name) and n.func.value.id == "time" for n in ast.walk(node))


def timed_asserts(path: Path) -> list[int]:
    """Lines of assertions that compare a clock reading (or a name bound to one) with something."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = clock_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        for compare in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            if _is_deadline_loop_guard(compare):
                continue
            used = {n.id for n in ast.walk(compare) if isinstance(n, ast.Name)}
            if reads_clock(compare) or used & names:
                found.append(node.lineno)
    return found


def _is_deadline_loop_guard(compare: ast.Compare) -> bool:
    """``time.monotonic() < deadline``: a wait's failure bound (it fails a test that hangs), not a
    measurement."""
    return (len(compare.ops) == 1 and isinstance(compare.ops[0], ast.Lt) and reads_clock(compare.left)
            and isinstance(compare.comparators[0], ast.Name) and compare.comparators[0].id == "deadline")


def fixed_pauses(path: Path) -> list[int]:
    """Lines of ``pilot.pause(<number>)`` outside a loop: a fixed sleep used to wait for the app
    (inside a loop it is the poll step of a wait on a condition, as in wait_until)."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_loops = {id(n) for loop in ast.walk(tree) if isinstance(loop, (ast.For, ast.AsyncFor, ast.While))
                for n in ast.walk(loop)}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "pause"
                and node.args and isinstance(node.args[0], ast.Constant) and id(node) not in in_loops):
            found.append(node.lineno)
    return found


def test_no_test_asserts_on_wall_clock_time() -> None:
    found = [f"{path.relative_to(TESTS)}:{line}" for path in sorted(TESTS.rglob("*.py")) for line in timed_asserts(path)]
    assert found == [], "timing goals belong in benchmarks/ (docs/performance.md); wait on conditions"


def test_no_test_waits_for_the_app_with_a_fixed_pause() -> None:
    found = [f"{path.relative_to(TESTS)}:{line}" for path in sorted(TESTS.rglob("*.py")) for line in fixed_pauses(path)]
    assert found == [], "wait for a condition (tests/tui/helpers.py: wait_until) instead"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """Each check finds what it looks for (a check that finds nothing passes whatever the suite does)."""
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import time\n"
        "async def test_x(pilot):\n"
        "    started = time.monotonic()\n"
        "    await pilot.pause(0.3)\n"
        "    assert time.monotonic() - started < 2\n"
        "    elapsed = time.perf_counter()\n"
        "    assert elapsed < 5\n"
        "    deadline = time.monotonic() + 5\n"
        "    assert time.monotonic() < deadline\n"
        "    await pilot.pause()\n"
        "    while not done():\n"
        "        await pilot.pause(0.02)\n",
        encoding="utf-8",
    )
    assert timed_asserts(sample) == [5, 7]
    assert fixed_pauses(sample) == [4]
