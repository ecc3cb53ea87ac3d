"""What a tool is and how the registry runs it, rule by rule: names, handlers, approval,
results, arguments, output cut at the cap, errors turned into text, and every setting of a
``[tools.NAME]`` table on both sides of its limits (README "Tools", "Security")."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest

from llmchat.chat.tools import (
    DEFAULT_MAX_OUTPUT_CHARS,
    DEFAULT_TIMEOUT,
    MAX_TOOL_TIMEOUT,
    CommandTool,
    Tool,
    ToolError,
    ToolOutput,
    ToolRegistry,
    ToolText,
    error_output,
    parse_arguments,
    tools_from_config,
    truncate,
)
from llmchat.errors import ConfigError

# --- Tool -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "x" * 64, "Az09_-", "get-weather", "_", "-", "9"])
def test_valid_names_up_to_64_characters(name: str) -> None:
    assert Tool(name, "d").name == name


@pytest.mark.parametrize("name", ["x" * 65, "a b", "a.b", "a/b", "a:b", "é", "a\n", "\na", "a+b"])
def test_names_outside_the_rule_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ValueError, match=r"invalid tool name .*: use 1 to 64 letters, digits, '_' or '-'"):
        Tool(name, "d")


def test_the_defaults_of_a_tool() -> None:
    tool = Tool("t", "d")
    assert (tool.read_only, tool.timeout, tool.source, tool.sensitive, tool.handler) == (
        False, 30.0, "builtin", None, None)
    assert DEFAULT_TIMEOUT == 30.0 and DEFAULT_MAX_OUTPUT_CHARS == 20_000  # README: tool_output_chars = 20000
    assert tool.definition()["function"]["parameters"] == {"type": "object", "properties": {}}
    tool.definition()["function"]["parameters"]["x"] = 1  # a copy: the tool's schema stays as it was
    assert tool.parameters == {"type": "object", "properties": {}}
    assert Tool("u", "d").parameters is not tool.parameters


async def test_a_tool_without_a_handler_cannot_run() -> None:
    with pytest.raises(NotImplementedError, match="tool 't' has no handler"):
        await Tool("t", "d").run({})
    output = await ToolRegistry([Tool("t", "d")]).call("t", "{}")
    assert output.status == "error" and output.text == "Error: the tool 't' failed: NotImplementedError: tool 't' has no handler"


async def test_handlers_async_sync_and_sync_returning_an_awaitable() -> None:
    async def coroutine(arguments: dict[str, Any]) -> str:
        return f"async {arguments['x']}"

    def plain(arguments: dict[str, Any]) -> str:
        return f"sync {arguments['x']}"

    async def later(x: int) -> list[Any]:
        return ["later", x]

    def deferred(arguments: dict[str, Any]) -> Any:
        return later(arguments["x"])

    assert await Tool("a", "d", handler=coroutine).run({"x": 1}) == "async 1"
    assert await Tool("b", "d", handler=plain).run({"x": 2}) == "sync 2"
    assert await Tool("c", "d", handler=deferred).run({"x": 3}) == '["later", 3]'


@pytest.mark.parametrize(("result", "text"), [
    ({"city": "Zürich", "n": 1}, '{"city": "Zürich", "n": 1}'),  # not \u00fc: ensure_ascii=False
    ([1, None, True], "[1, null, true]"), (3, "3"), (None, "null"), ("as is", "as is"), ("", ""),
])
async def test_a_result_that_is_not_text_is_sent_as_json(result: Any, text: str) -> None:
    def handler(arguments: dict[str, Any]) -> Any:
        return result

    assert await Tool("t", "d", handler=handler).run({}) == text


def test_approval_reason_by_read_only_and_the_sensitive_hook() -> None:
    def secret(arguments: dict[str, Any]) -> str | None:
        return "SSH keys (.ssh)" if arguments.get("path") == ".ssh" else None

    def broken(arguments: dict[str, Any]) -> str | None:
        raise KeyError("path")

    rows = [
        (Tool("w", "d"), {}, "it is not read-only"),
        (Tool("w", "d", sensitive=secret), {"path": "x"}, "it is not read-only"),  # writes always ask
        (Tool("r", "d", read_only=True), {"path": ".ssh"}, None),
        (Tool("r", "d", read_only=True, sensitive=secret), {"path": ".ssh"}, "SSH keys (.ssh)"),
        (Tool("r", "d", read_only=True, sensitive=secret), {"path": "notes"}, None),
        (Tool("r", "d", read_only=True, sensitive=broken), {}, "its arguments could not be checked (KeyError: 'path')"),
    ]
    for tool, arguments, reason in rows:
        assert tool.approval_reason(arguments) == reason, (tool, arguments)


def test_tool_text_carries_images() -> None:
    text = ToolText("two shots", [("image/png", "AAA"), ("image/jpeg", "BBB")])
    assert text == "two shots" and isinstance(text, str)
    assert text.images == (("image/png", "AAA"), ("image/jpeg", "BBB"))
    assert ToolText("none").images == ()


@pytest.mark.parametrize(("status", "is_error"), [
    ("ok", False), ("error", True), ("denied", True), ("cancelled", True), ("skipped", True)])
def test_every_status_but_ok_is_an_error(status: Any, is_error: bool) -> None:
    assert ToolOutput("x", status).is_error is is_error


def test_error_output_and_the_defaults_of_an_output() -> None:
    assert error_output("bad") == ToolOutput("Error: bad", "error")
    assert error_output("no", "denied") == ToolOutput("Error: no", "denied")
    output = ToolOutput("x")
    assert (output.status, output.truncated, output.duration, output.images) == ("ok", False, None, ())


@pytest.mark.parametrize(("text", "value"), [
    ("", {}), ("   ", {}), ("\n\t", {}), ("{}", {}), (' {"a": [1]} ', {"a": [1]}), ('{"é": "ü"}', {"é": "ü"})])
def test_arguments_that_parse(text: str, value: dict[str, Any]) -> None:
    assert parse_arguments(text) == value


@pytest.mark.parametrize(("text", "message"), [
    ("null", "must be a JSON object"), ("[]", "must be a JSON object"), ("1", "must be a JSON object"),
    ('"{}"', "must be a JSON object"), ("{", r"^the arguments are not valid JSON \(.*\); send a JSON object$"),
    ("{'a': 1}", "not valid JSON"), ("NaNx", "not valid JSON")])
def test_arguments_that_do_not(text: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        parse_arguments(text)


@pytest.mark.parametrize(("length", "cut"), [(0, False), (9, False), (10, False), (11, True), (25, True)])
def test_truncate_on_both_sides_of_the_cap(length: int, cut: bool) -> None:
    text, truncated = truncate("a" * length, 10)
    assert truncated is cut
    if cut:
        assert text == "a" * 10 + f"\n\n[output truncated: the first 10 of {length} characters are shown]"
    else:
        assert text == "a" * length


# --- ToolRegistry --------------------------------------------------------------------------


def handler_returning(value: Any) -> Any:
    async def run(arguments: dict[str, Any]) -> Any:
        return value

    return run


async def test_the_default_output_cap_is_20000_characters() -> None:
    for length, cut in ((20_000, False), (20_001, True)):
        output = await ToolRegistry([Tool("t", "d", handler=handler_returning("q" * length))]).call("t", "{}")
        assert output.truncated is cut and output.text.startswith("q" * 20_000)
        if cut:
            assert output.text.endswith("first 20000 of 20001 characters are shown]")
        else:
            assert len(output.text) == 20_000


async def test_select_read_only_and_merge_keep_the_output_cap() -> None:
    tools = [Tool("r", "d", read_only=True, handler=handler_returning("z" * 50)), Tool("w", "d")]
    registry = ToolRegistry(tools, max_output_chars=7)
    merged, problems = ToolRegistry.merge(tools, max_output_chars=7)
    assert problems == []
    for derived in (registry.select(["r"]), registry.read_only(), merged):
        assert derived.max_output_chars == 7
        output = await derived.call("r", "{}")
        assert output.truncated and output.text.startswith("z" * 7 + "\n\n")


def test_iteration_order_and_lookups() -> None:
    tools = [Tool("b", "1"), Tool("a", "2", read_only=True), Tool("c", "3", read_only=True)]
    registry = ToolRegistry(tools)
    assert list(registry) == tools and registry.names() == ["b", "a", "c"] and len(registry) == 3
    assert registry.read_only().names() == ["a", "c"]
    assert registry.select(["c", "b"]).names() == ["c", "b"]
    assert registry.select([]).names() == [] and len(ToolRegistry()) == 0
    assert registry.get("a") is tools[1] and registry.get("A") is None
    assert "c" in registry and "d" not in registry and 3 not in registry
    assert [d["function"]["name"] for d in registry.definitions()] == ["b", "a", "c"]
    with pytest.raises(KeyError, match=r"no tool named 'x' \(known: none\)"):
        ToolRegistry().select(["x"])
    with pytest.raises(ValueError, match="a tool named 'b' is already registered"):
        ToolRegistry([Tool("b", "1"), Tool("b", "2")])


def test_merge_reports_each_name_taken_and_keeps_the_first() -> None:
    first = [Tool("x", "config x", source="config"), Tool("y", "config y", source="config")]
    second = [Tool("x", "builtin x"), Tool("z", "builtin z")]
    third = [Tool("y", "plugin y", source="plugin:p"), Tool("z", "plugin z", source="plugin:p")]
    registry, problems = ToolRegistry.merge(first, second, third)
    assert registry.names() == ["x", "y", "z"]
    assert [t.description for t in registry] == ["config x", "config y", "builtin z"]
    assert problems == [
        "tool 'x' from builtin ignored: config has one by that name",
        "tool 'y' from plugin:p ignored: config has one by that name",
        "tool 'z' from plugin:p ignored: builtin has one by that name",
    ]
    assert ToolRegistry.merge()[0].names() == [] and ToolRegistry.merge()[0].max_output_chars == 20_000


async def test_resolve_says_why_a_call_cannot_run() -> None:
    registry = ToolRegistry([Tool("echo", "e", handler=handler_returning("x")), Tool("other", "o")])
    assert registry.resolve("nope", "{}") == error_output("there is no tool named 'nope' (available: echo, other)")
    assert ToolRegistry().resolve("nope", "{}") == error_output("there is no tool named 'nope' (available: none)")
    bad = registry.resolve("echo", "[1]")
    assert bad == error_output("echo: the arguments must be a JSON object")
    tool, arguments = registry.resolve("echo", '{"k": "v"}')  # type: ignore[misc]
    assert tool is registry.get("echo") and arguments == {"k": "v"}
    assert await registry.call("nope", "{}") == registry.resolve("nope", "{}")


async def test_invoke_turns_each_failure_into_error_text_with_a_duration() -> None:
    async def tool_error(arguments: dict[str, Any]) -> str:
        raise ToolError("the city is unknown")

    async def crash(arguments: dict[str, Any]) -> str:
        raise ValueError("bad value")

    async def inner_timeout(arguments: dict[str, Any]) -> str:
        raise TimeoutError("the upstream API timed out")

    async def images(arguments: dict[str, Any]) -> str:
        return ToolText("a picture", [("image/png", "iVBO")])

    registry = ToolRegistry([Tool("te", "d", handler=tool_error), Tool("cr", "d", handler=crash),
                             Tool("it", "d", handler=inner_timeout, timeout=600), Tool("im", "d", handler=images)])
    outputs = {name: await registry.call(name, "{}") for name in ("te", "cr", "it", "im")}
    assert outputs["te"].text == "Error: the city is unknown"
    assert outputs["cr"].text == "Error: the tool 'cr' failed: ValueError: bad value"
    assert outputs["it"].text == "Error: the tool 'it' failed: TimeoutError: the upstream API timed out"
    assert [outputs[n].status for n in ("te", "cr", "it")] == ["error"] * 3
    assert outputs["im"] == ToolOutput("a picture", "ok", False, outputs["im"].duration, (("image/png", "iVBO"),))
    for output in outputs.values():
        assert output.duration is not None and output.duration >= 0


async def test_a_timeout_is_reported_in_seconds_and_no_timeout_means_none() -> None:
    started = asyncio.Event()

    async def hang(arguments: dict[str, Any]) -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    gate = asyncio.Event()

    async def waits_for_the_gate(arguments: dict[str, Any]) -> str:
        await gate.wait()
        return "opened"

    registry = ToolRegistry([Tool("hang", "d", handler=hang, timeout=0.25),
                             Tool("free", "d", handler=waits_for_the_gate, timeout=None)])
    output = await registry.call("hang", "{}")
    assert started.is_set()
    assert (output.status, output.text) == ("error", "Error: the tool 'hang' timed out after 0.25 seconds")
    free = asyncio.create_task(registry.call("free", "{}"))
    await asyncio.sleep(0)
    gate.set()
    assert (await asyncio.wait_for(free, 30)).text == "opened"


async def test_cancelling_a_call_is_raised_not_turned_into_text() -> None:
    started = asyncio.Event()

    async def hang(arguments: dict[str, Any]) -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    task = asyncio.create_task(ToolRegistry([Tool("hang", "d", handler=hang)]).call("hang", "{}"))
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- [tools.NAME] tables --------------------------------------------------------------------


def one_tool(**spec: Any) -> CommandTool:
    (tool,) = tools_from_config({"t": {"command": "true", **spec}}, where="llmchat.toml")
    assert isinstance(tool, CommandTool)
    return tool


@pytest.mark.parametrize("timeout", [MAX_TOOL_TIMEOUT, 86_400, 86_399.5, 0.001, 1, 30.5])
def test_timeouts_above_0_and_at_most_a_day_are_taken(timeout: float) -> None:
    assert one_tool(timeout=timeout).timeout == float(timeout)
    assert isinstance(one_tool(timeout=timeout).timeout, float)


@pytest.mark.parametrize("timeout", [86_400.001, 86_401, 0, 0.0, -1, -0.5, math.inf, -math.inf, math.nan, "30",
                                     None, True, False, [30]])
def test_other_timeouts_are_refused_naming_the_limit(timeout: Any) -> None:
    with pytest.raises(ConfigError, match=r"^llmchat\.toml: tools\.t: 'timeout' must be a number of seconds above 0 "
                                          r"and at most 86400 \(got "):
        one_tool(timeout=timeout)


def test_a_table_with_every_setting() -> None:
    tool = one_tool(description="D", parameters={"type": "object", "properties": {"a": {"type": "string"}}},
                    read_only=True, timeout=7, cwd="~/work", env=["A_B", "_X1"], inherit_env=True)
    assert (tool.description, tool.read_only, tool.timeout, tool.env, tool.inherit_env, tool.source) == (
        "D", True, 7.0, ("A_B", "_X1"), True, "config")
    assert tool.parameters == {"type": "object", "properties": {"a": {"type": "string"}}}
    assert str(tool.cwd) == str(__import__("pathlib").Path("~/work").expanduser()) and "~" not in str(tool.cwd)


def test_the_defaults_of_a_table() -> None:
    tool = one_tool()
    assert (tool.description, tool.read_only, tool.timeout, tool.cwd, tool.env, tool.inherit_env) == (
        "Runs the command 'true'.", False, 30.0, None, (), False)
    assert one_tool(cwd="").cwd is None
    assert one_tool(description="").description == "Runs the command 'true'."
    assert one_tool(parameters={"properties": {}}).parameters == {"properties": {}}  # type defaults to object
    (listed,) = tools_from_config({"t": {"command": ["prog", "--flag"]}})
    assert isinstance(listed, CommandTool) and listed.command == ("prog", "--flag")
    assert listed.description == "Runs the command ['prog', '--flag']."


@pytest.mark.parametrize(("spec", "message"), [
    ({"command": "   "}, "'command' must be a command line or a list of strings"),
    ({"command": []}, "'command' must be a command line or a list of strings"),
    ({"command": 5}, "'command' must be a command line or a list of strings"),
    ({"command": ("a",)}, "'command' must be a command line or a list of strings"),
    ({"command": "x", "parameters": []}, "'parameters' must be a JSON schema of type \"object\""),
    ({"command": "x", "read_only": 1}, "'read_only' must be true or false"),
    ({"command": "x", "cwd": 3}, "'cwd' must be a directory path"),
    ({"command": "x", "env": ["1A"]}, "'env' must be a list of environment variable names"),
    ({"command": "x", "env": ["A-B"]}, "'env' must be a list of environment variable names"),
    ({"command": "x", "env": ["A\n"]}, "'env' must be a list of environment variable names"),
    ({"command": "x", "env": [""]}, "'env' must be a list of environment variable names"),
    ({"command": "x", "inherit_env": 1}, "'inherit_env' must be true or false"),
    ({"command": "x", "zeta": 1, "alpha": 2}, "unknown key 'alpha' (known: command, cwd, description, env, "
                                              "inherit_env, parameters, read_only, timeout)"),
])
def test_each_invalid_setting_is_named(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        tools_from_config({"t": spec}, where="llmchat.toml")
    assert str(info.value) == f"llmchat.toml: tools.t: {message}"


@pytest.mark.parametrize("key", ["description", "parameters", "command", "read_only", "timeout", "cwd", "env",
                                 "inherit_env"])
def test_each_documented_key_is_known(key: str) -> None:
    values = {"description": "d", "parameters": {"type": "object"}, "command": "c", "read_only": True,
              "timeout": 3, "cwd": "/tmp", "env": ["X"], "inherit_env": True}
    (tool,) = tools_from_config({"t": {"command": "c", key: values[key]}})
    assert tool.name == "t"


def test_several_tables_keep_their_order_and_names_are_checked() -> None:
    tools = tools_from_config({"b": {"command": "1"}, "a": {"command": "2"}})
    assert [t.name for t in tools] == ["b", "a"] and tools_from_config({}) == []
    with pytest.raises(ConfigError, match=r"^config: tools\.x y: invalid tool name 'x y'"):
        tools_from_config({"x y": {"command": "c"}})
    with pytest.raises(ConfigError, match=r"^config: tools\.t must be a table \(\[tools\.t\]\)$"):
        tools_from_config({"t": ["command"]})


async def test_a_command_tool_receives_the_arguments_as_utf8_json() -> None:
    import sys

    tool = one_tool(command=[sys.executable, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"])
    assert json.loads(await tool.run({"city": "Zürich"})) == {"city": "Zürich"}
    assert "Zürich" in await tool.run({"city": "Zürich"})  # not \u00fc


class Ticks:
    """A stand-in for the registry's ``time`` module: each monotonic() reading 2.5 s later."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        self.now += 2.5
        return self.now - 2.5


async def test_the_duration_is_the_time_between_start_and_end_on_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmchat.chat import tool_registry

    async def ok(arguments: dict[str, Any]) -> str:
        return "plain"

    async def refused(arguments: dict[str, Any]) -> str:
        raise ToolError("no")

    async def crash(arguments: dict[str, Any]) -> str:
        raise RuntimeError("bug")

    async def inner_timeout(arguments: dict[str, Any]) -> str:
        raise TimeoutError("upstream")

    registry = ToolRegistry([Tool("ok", "d", handler=ok), Tool("refused", "d", handler=refused),
                             Tool("crash", "d", handler=crash), Tool("inner", "d", handler=inner_timeout)])
    for name in ("ok", "refused", "crash", "inner"):
        monkeypatch.setattr(tool_registry, "time", Ticks())  # the registry's own name only, not asyncio's clock
        output = await registry.call(name, "{}")
        assert output.duration == 2.5, name
    assert (await registry.call("ok", "{}")).images == ()  # a plain str result has no images



# --- tools from installed packages ---------------------------------------------------------------

OWN_SOURCE = Tool("own_source", "keeps its source", source="mine")
MIXED = [Tool("mixed_ok", "fine"), "not a tool"]


def generated_tools() -> Any:
    return (Tool(f"gen_{n}", "generated") for n in range(2))


def a_tool() -> Tool:
    return Tool("made", "made by a factory", read_only=True)


def entry(name: str, attribute: str) -> Any:
    import importlib.metadata

    return importlib.metadata.EntryPoint(name, f"tests.chat.test_tool_rules:{attribute}", "llmchat.tools")


def test_each_shape_an_entry_point_may_name() -> None:
    from llmchat.chat.tools import tools_from_entry_points

    tools, problems = tools_from_entry_points([
        entry("one", "OWN_SOURCE"), entry("factory", "a_tool"), entry("gen", "generated_tools"),
        entry("mixed", "MIXED"),
    ])
    assert [(t.name, t.source) for t in tools] == [
        ("own_source", "mine"), ("made", "plugin:factory"), ("gen_0", "plugin:gen"), ("gen_1", "plugin:gen")]
    assert problems == ["tools of 'mixed' (tests.chat.test_tool_rules:MIXED) not loaded: "
                        "TypeError: 'not a tool' is not a llmchat Tool"]  # none of its tools, not half of them
    assert tools_from_entry_points([]) == ([], [])
