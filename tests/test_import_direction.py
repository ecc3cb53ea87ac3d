"""Imports point one way: front-ends -> chat -> providers / store (shared/STYLE.md, section 1).

The package's imports are read from the source (``ast``), every one of them: at module level,
inside functions (lazy imports) and under ``TYPE_CHECKING``, because a lazy import that points
back up is still a cycle in the design. The tests fail on any import cycle between modules,
on a private name (``_name``) imported from another module, and on an import that points
against the layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "llmchat"

FRONT_ENDS = ("llmchat.ask", "llmchat.ask_compare", "llmchat.cli_compare", "llmchat.ask_dry_run", "llmchat.ask_output", "llmchat.cli", "llmchat.cli_app", "llmchat.cli_ask", "llmchat.cli_mcp",
              "llmchat.cli_config", "llmchat.cli_history", "llmchat.cli_keys", "llmchat.cli_options",
              "llmchat.cli_session", "llmchat.cli_shared", "llmchat.render", "llmchat.serve", "llmchat.serve_guard",
              "llmchat.__main__", "llmchat.tui")
"""Modules (and packages) that talk to the user; nothing below them imports them."""

ALLOWED: dict[str, tuple[str, ...]] = {
    "llmchat.providers": ("llmchat.providers", "llmchat.errors"),
    "llmchat.chat": ("llmchat.chat", "llmchat.providers", "llmchat.errors", "llmchat.safety",
                     "llmchat.paths"),
    "llmchat.store": ("llmchat.store", "llmchat.chat.models", "llmchat.chat.accumulator",
                      "llmchat.providers.events", "llmchat.providers.errors", "llmchat.errors",
                      "llmchat.safety"),
}
"""What the lower layers may import from llmchat (a module, or a package and all it holds;
the package itself, for ``__version__``, always). ``errors``, ``safety`` and ``paths`` are
leaves that import nothing of llmchat (the built-in file tools default to never reading
llmchat's own directories, ``paths.private_dirs()``)."""


@dataclass(frozen=True)
class Import:
    source: str
    """The importing module."""
    target: str
    """The llmchat module imported (for ``from package import name``: the module `name` when
    it is one, else the package)."""
    name: str | None
    """The name imported by ``from ... import name``."""
    line: int

    def __str__(self) -> str:
        what = f"{self.target}.{self.name}" if self.name and not self.target.endswith(f".{self.name}") else self.target
        return f"{self.source}:{self.line} imports {what}"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(known: dict[str, Path]) -> Iterator[Import]:
    """Every import of an llmchat module, anywhere in the package's source."""
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "llmchat":
                        yield Import(module, _known(alias.name, known), None, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                if base.split(".")[0] != "llmchat":
                    continue
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    yield Import(module, full if full in known else _known(base, known), alias.name, node.lineno)


def _known(name: str, known: dict[str, Path]) -> str:
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


@pytest.fixture(scope="module")
def all_imports() -> list[Import]:
    return list(imports(modules()))


def test_the_reader_sees_the_imports_it_must_see(all_imports: list[Import]) -> None:
    edges = {(i.source, i.target) for i in all_imports}
    assert ("llmchat.ask", "llmchat.chat.engine") in edges  # module level
    assert ("llmchat.cli_session", "llmchat.tui.app") in edges  # inside a function
    assert ("llmchat.cli", "llmchat.cli_app") in edges  # inside main()
    assert ("llmchat.cli_shared", "llmchat.paths") in edges  # from llmchat import paths


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) is None


def test_no_import_cycle(all_imports: list[Import]) -> None:
    graph: dict[str, set[str]] = {}
    for i in all_imports:
        if i.source != i.target:
            graph.setdefault(i.source, set()).add(i.target)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_no_private_name_is_imported_from_another_module(all_imports: list[Import]) -> None:
    private = [str(i) for i in all_imports
               if i.name and i.name.startswith("_") and not i.name.startswith("__") and i.target != i.source]
    assert private == []


def test_imports_point_down_the_layers(all_imports: list[Import]) -> None:
    wrong = []
    for i in all_imports:
        if _under(i.target, FRONT_ENDS) and not _under(i.source, FRONT_ENDS):
            wrong.append(f"{i} (a front-end)")
        for layer, allowed in ALLOWED.items():
            if _under(i.source, (layer,)) and not (i.target == "llmchat" or _under(i.target, allowed)):
                wrong.append(f"{i} (not allowed from {layer})")
        if _under(i.source, ("llmchat.tui",)) and _under(i.target, FRONT_ENDS) and not _under(i.target, ("llmchat.tui",)):
            wrong.append(f"{i} (the TUI is a front-end of its own)")
    assert wrong == []


def test_the_shared_leaves_import_nothing_of_llmchat(all_imports: list[Import]) -> None:
    leaves = ("llmchat.errors", "llmchat.safety", "llmchat.paths")
    assert [str(i) for i in all_imports if i.source in leaves and i.target != "llmchat"] == []
