"""The suite keeps its own rules (docs/testing.md): no test asserts on wall-clock time, none waits
for the app with a fixed pause or sleep (a loaded 2-core machine must not turn a correct program
red, nor a slow one green), no assertion is true whatever the code does, and every test checks
something."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CLOCKS = {"monotonic", "perf_counter", "time", "process_time", "monotonic_ns", "perf_counter_ns", "time_ns"}


@cache
def parsed(path: Path) -> tuple[ast.Module, list[str]]:
    """A file's syntax tree and lines (each file is read once per run: the checks share them)."""
    source = path.read_text(encoding="utf-8")
    return ast.parse(source), source.splitlines()


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
    tree = parsed(path)[0]
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


SLEEPS = {("asyncio", "sleep"), ("time", "sleep"), ("anyio", "sleep"), ("trio", "sleep")}
MARK = "under test"
"""A comment on the line that says a fixed pause is the behaviour under test (a consumer that
reads slowly, a stream that stops for its settle time) exempts it."""


def fixed_pauses(path: Path) -> list[int]:
    """Lines of a fixed wait used to wait for the app or a server: ``pilot.pause(<seconds>)``
    anywhere, and ``asyncio.sleep`` / ``time.sleep(<seconds>)`` in a test, a fixture or a
    module-level helper (not in a function defined inside one, nor in a class's method: a fake's
    slowness is its behaviour). Seconds are a number, or
    a module-level name bound to one. Exempt: inside a loop that polls a condition (one that can
    end early: a ``while`` test, a ``break`` / ``return`` / ``raise``, an ``else``), as in
    wait_until, and lines marked with a comment naming the pause as the behaviour under test."""
    tree, lines = parsed(path)
    names = number_names(tree)
    polled = {id(n) for loop in ast.walk(tree) if isinstance(loop, (ast.For, ast.AsyncFor, ast.While))
              and polls(loop) for n in ast.walk(loop)}
    waiting = [fn for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
               and (is_test_or_fixture(fn) or fn in tree.body)]
    in_tests = {id(n) for fn in waiting for n in walk_local(fn)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
                and is_seconds(node.args[0], names)) or id(node) in polled or MARK in lines[node.lineno - 1]:
            continue
        func = node.func
        sleep = isinstance(func.value, ast.Name) and (func.value.id, func.attr) in SLEEPS
        if func.attr == "pause" or (sleep and id(node) in in_tests):
            found.append(node.lineno)
    return sorted(found)


def number_names(tree: ast.Module) -> set[str]:
    """Module-level names bound to a number (``WAIT = 0.3``)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and is_seconds(node.value, set(), positive=False):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def is_seconds(node: ast.expr, names: set[str], *, positive: bool = True) -> bool:
    """`node` is a number (a literal, arithmetic on literals, or a name in `names`), above zero
    when `positive` (``sleep(0)`` only yields to the event loop: it waits on no clock)."""
    numeric = all(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop, ast.expr_context))
                  or (isinstance(n, ast.Constant) and type(n.value) in (int, float))
                  or (isinstance(n, ast.Name) and n.id in names) for n in ast.walk(node))
    if not numeric or not positive:
        return numeric
    try:
        return bool(ast.literal_eval(node) > 0)
    except ValueError:  # a name: a duration
        return True


def polls(loop: ast.For | ast.AsyncFor | ast.While) -> bool:
    """The loop waits on a condition: it can end before its count (or never ends otherwise)."""
    if isinstance(loop, ast.While) and not (isinstance(loop.test, ast.Constant) and loop.test.value):
        return True
    return bool(loop.orelse) or any(isinstance(n, (ast.Break, ast.Return, ast.Raise)) for n in walk_local(loop))


def walk_local(node: ast.AST) -> list[ast.AST]:
    """The nodes under `node`, not descending into the functions, lambdas and classes it defines."""
    found: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(node))
    while todo:
        child = todo.pop()
        found.append(child)
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(child))
    return found


def is_test_or_fixture(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return fn.name.startswith("test") or any("fixture" in ast.unparse(d) for d in fn.decorator_list)


def always_true(path: Path) -> list[int]:
    """Lines of assertions that hold whatever the code does: a true constant or a non-empty
    tuple, list or f-string (``assert (x == 1, "why")``), ``x or True``, and a value compared with
    itself (``x == x``; calls excepted: comparing two calls can check determinism)."""
    found = []
    for node in ast.walk(parsed(path)[0]):
        if not isinstance(node, ast.Assert):
            continue
        test = node.test
        if (is_truthy(test) or (isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or)
                                and any(is_truthy(v) for v in test.values))):
            found.append(node.lineno)
            continue
        for compare in (n for n in ast.walk(test) if isinstance(n, ast.Compare)):
            sides = [compare.left, *compare.comparators]
            if (any(isinstance(op, (ast.Eq, ast.Is, ast.GtE, ast.LtE)) and ast.dump(a) == ast.dump(b)
                    for op, a, b in zip(compare.ops, sides[:-1], sides[1:], strict=True))
                    and not any(isinstance(n, ast.Call) for n in ast.walk(compare))):
                found.append(node.lineno)
                break
    return found


def is_truthy(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts)
    return isinstance(node, (ast.JoinedStr, ast.Dict, ast.Lambda)) and (not isinstance(node, ast.Dict) or bool(node.keys))


CHECKS = {"raises", "fail", "warns", "deprecated_call"}


def checking_functions(trees: list[ast.Module]) -> set[str]:
    """Names of the functions of the suite that check something: an ``assert``, a ``raise``,
    ``pytest.raises`` / ``fail`` / ``warns``, or a call of another such function by its name
    (:func:`called_name`)."""
    calls: dict[str, set[str]] = {}
    checking: set[str] = set()
    for tree in trees:
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            called = {called_name(n) for n in ast.walk(fn) if isinstance(n, ast.Call)}
            calls.setdefault(fn.name, set()).update(called)
            if called & CHECKS or any(isinstance(n, (ast.Assert, ast.Raise)) for n in ast.walk(fn)):
                checking.add(fn.name)
    grew = True
    while grew:
        more = {name for name, called in calls.items() if name not in checking and called & checking}
        checking |= more
        grew = bool(more)
    return checking


def called_name(call: ast.Call) -> str:
    """The name a call reaches a helper by: ``check(x)``; of a method call only pytest's checks
    (``pytest.raises``): a method's name (``stream``, ``run``) is shared by too many fakes that
    raise."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) and func.attr in CHECKS else ""


def unchecked_tests(path: Path, checking: set[str]) -> list[int]:
    """Lines of ``test_*`` functions that check nothing, directly or through a helper of the suite
    (`checking`). A property test (hypothesis ``@given``) whose property is "never raises" is
    a check."""
    found = []
    for fn in ast.walk(parsed(path)[0]):
        if (isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name.startswith("test_")
                and fn.name not in checking
                and not any("given" in ast.unparse(d) for d in fn.decorator_list)):
            found.append(fn.lineno)
    return found


def test_no_test_asserts_on_wall_clock_time() -> None:
    found = [f"{path.relative_to(TESTS)}:{line}" for path in sorted(TESTS.rglob("*.py")) for line in timed_asserts(path)]
    assert found == [], "timing goals belong in benchmarks/ (docs/performance.md); wait on conditions"


def test_no_test_waits_for_the_app_with_a_fixed_pause() -> None:
    found = [f"{path.relative_to(TESTS)}:{line}" for path in sorted(TESTS.rglob("*.py")) for line in fixed_pauses(path)]
    assert found == [], ("wait for a condition (tests/tui/helpers.py: wait_until) instead; a pause that is "
                         f"the behaviour under test says so in a comment on its line ({MARK!r})")


def test_no_assertion_holds_whatever_the_code_does() -> None:
    found = [f"{path.relative_to(TESTS)}:{line}" for path in sorted(TESTS.rglob("*.py")) for line in always_true(path)]
    assert found == []


def test_every_test_checks_something() -> None:
    paths = sorted(TESTS.rglob("*.py"))
    checking = checking_functions([parsed(p)[0] for p in paths])
    found = [f"{p.relative_to(TESTS)}:{line}" for p in paths if p.name.startswith("test_")
             for line in unchecked_tests(p, checking)]
    assert found == [], "a test without an assertion passes whatever the code does"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """Each check finds what it looks for (a check that finds nothing passes whatever the suite does)."""
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import asyncio, time\n"
        "WAIT = 0.3\n"
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
        "        await pilot.pause(0.02)\n"
        "    await asyncio.sleep(0.01)\n"
        "    time.sleep(WAIT)\n"
        "    await asyncio.sleep(0)\n"
        "    for _ in range(3):\n"
        "        await pilot.pause(0.1)\n"
        "    for _ in range(300):\n"
        "        if done():\n"
        "            break\n"
        "        await asyncio.sleep(0.01)\n"
        "    await asyncio.sleep(0.3)  # a slow reader: the pause under test\n"
        "    async def slow_tool(arguments):\n"
        "        await asyncio.sleep(30)\n"
        "async def settle():\n"
        "    await asyncio.sleep(0.5)\n"
        "class SlowServer:\n"
        "    async def reply(self):\n"
        "        await asyncio.sleep(WAIT)\n",
        encoding="utf-8",
    )
    assert timed_asserts(sample) == [6, 8]
    assert fixed_pauses(sample) == [5, 14, 15, 18, 27]

    sample = tmp_path / "test_asserts.py"  # (a new name: files are parsed once)
    sample.write_text(
        "def test_y(x, items):\n"
        "    assert x == 1 or True\n"
        "    assert (x == 1, 'x is one')\n"
        "    assert x == x\n"
        "    assert items[0].name == items[0].name\n"
        "    assert f'{x}'\n"
        "    assert x == 1 and x\n"
        "    assert f() == f()\n"
        "    assert x.a == x.b\n",
        encoding="utf-8",
    )
    assert always_true(sample) == [2, 3, 4, 5, 6]

    sample = tmp_path / "test_checks.py"
    sample.write_text(
        "import pytest\n"
        "def check(x):\n"
        "    assert x\n"
        "def through_check(x):\n"
        "    check(x)\n"
        "def test_nothing(x):\n"
        "    x.run()\n"
        "def test_helper(x):\n"
        "    through_check(x)\n"
        "def test_raises(x):\n"
        "    with pytest.raises(ValueError):\n"
        "        x.run()\n"
        "@given(st.text())\n"
        "def test_never_raises(text):\n"
        "    parse(text)\n",
        encoding="utf-8",
    )
    assert unchecked_tests(sample, checking_functions([parsed(sample)[0]])) == [6]
