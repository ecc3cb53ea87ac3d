"""``llmchat mcp list`` and ``llmchat mcp tools NAME``: the MCP servers of ``mcp.json``.

Contract: shared/DESIGN.md, "MCP servers". Both commands start the servers they show (in
parallel) and stop them before they exit. Exit status: 0; 1 when a server did not start
(runtime); 2 for a broken or missing config, or an unknown server name.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any, Optional

import typer

from llmchat.errors import ConfigError
from llmchat.mcp.config import McpConfig, ServerConfig
from llmchat.safety import json_text, note, one_line

mcp_app = typer.Typer(help="MCP servers from mcp.json (Claude Desktop's format): list them and their tools.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ConfigOpt = Annotated[
    Optional[str], typer.Option("--mcp-config", help="Read MCP servers from this file instead of mcp.json.")
]


def _fail(message: str, code: int) -> typer.Exit:
    note(f"error: {message}")
    return typer.Exit(code)


def _config(file: str | None) -> McpConfig:
    from llmchat.mcp.use import load_config

    try:
        return load_config(file)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None


async def _start(configs: list[ServerConfig]) -> list[dict[str, Any]]:
    """Start the servers, describe them and their tools, stop them."""
    from llmchat.mcp.tools import mcp_tools, read_only
    from llmchat.mcp.use import servers

    out: list[dict[str, Any]] = []
    async with servers(configs) as group:
        for server in await group.start():
            names = {t.remote_name: t.name for t in mcp_tools([server])}
            out.append({
                "name": server.name,
                "transport": server.config.transport,
                "started": server.state == "running",
                "tools": len(server.tools) if server.state == "running" else None,
                "error": server.error if server.state != "running" else None,
                "log": str(server.log_path),
                "tool_list": [
                    {"name": t.name, "llm_name": names.get(t.name), "description": t.description or "",
                     "read_only": read_only(t), "input_schema": t.input_schema}
                    for t in server.tools
                ],
            })
    return out


@mcp_app.command("list")
def list_servers(json_output: JsonOpt = False, mcp_config: ConfigOpt = None) -> None:
    """Start every server, show its transport, whether it started and its tool count."""
    config = _config(mcp_config)
    if not config.names and not config.disabled:
        if json_output:
            print("[]")
        note(f"no MCP servers in {config.where}")
        return
    rows = asyncio.run(_start(list(config.servers.values())))
    for name, problem in config.problems.items():
        rows.append({"name": name, "transport": None, "started": False, "tools": None,
                     "error": problem, "log": None, "tool_list": []})
    for name in config.disabled:
        rows.append({"name": name, "transport": None, "started": False, "tools": None,
                     "error": "disabled", "log": None, "tool_list": []})
    if json_output:
        print(json_text([{k: v for k, v in row.items() if k != "tool_list"} for row in rows], sys.stdout, indent=2))
    else:
        width = max(len(one_line(r["name"], 40)) for r in rows)
        for row in rows:
            if row["started"]:
                state = f"started  {row['tools']} tools"
            elif row["error"] == "disabled":
                state = "disabled"
            else:
                state = f"failed   {one_line(row['error'] or '', 200)}"
            print(f"{one_line(row['name'], 40):<{width}}  {row['transport'] or '-':<5}  {state}")
    failed = [r for r in rows if not r["started"] and r["error"] != "disabled"]
    if failed:
        raise typer.Exit(1)


@mcp_app.command("tools")
def list_tools(
    name: Annotated[str, typer.Argument(help="The server's name in mcp.json.")],
    json_output: JsonOpt = False,
    mcp_config: ConfigOpt = None,
) -> None:
    """Start one server and list its tools with their input schemas."""
    config = _config(mcp_config)
    try:
        [server] = config.select([name]) if name != "all" else [None]
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    if server is None:
        raise _fail("give one server name", 2)
    [row] = asyncio.run(_start([server]))
    if not row["started"]:
        raise _fail(f"MCP server {name!r} did not start: {row['error']} (log: {row['log']})", 1)
    if json_output:
        print(json_text(row["tool_list"], sys.stdout, indent=2))
        return
    for tool in row["tool_list"]:
        mark = "  (read-only)" if tool["read_only"] else ""
        print(f"{one_line(tool['name'], 80)}  [{tool['llm_name']}]{mark}")
        if tool["description"]:
            print(f"    {one_line(tool['description'], 300)}")
        print(f"    input: {one_line(json.dumps(tool['input_schema'], ensure_ascii=False), 2000)}")
