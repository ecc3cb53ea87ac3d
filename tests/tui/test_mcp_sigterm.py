"""SIGTERM to the session during an MCP tool call: the call is cancelled on the server, the
app exits 143, and the server process does not outlive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Reply, completion, json_reply
from tests.mcp.conftest import pid_alive, stdio_entry, wait_for, write_mcp_json
from tests.test_cli_tools import scripted, tool_call_reply

SCRIPT = """
import sys
from pathlib import Path
from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.prompt_input import PromptInput

class Auto(LlmChatApp):
    def on_ready(self) -> None:
        prompt = self.screen.query_one(PromptInput)
        prompt.insert("take your time")
        prompt.action_submit()

settings = load_settings(None, {"OPENAI_BASE_URL": sys.argv[1], "OPENAI_API_KEY": "k"})
app = Auto(settings, history=Path(sys.argv[2]), mcp=("test",), mcp_config=sys.argv[3])
app.run(headless=True)
sys.exit(app.return_code or 0)
"""


@pytest.mark.timeout(120)  # a loaded machine: starting the app and the server can be slow
def test_sigterm_during_an_mcp_call_leaves_no_server(server: LoopbackServer, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = write_mcp_json(tmp_path / "mcp.json", {"test": stdio_entry(work)})
    chat = scripted(tool_call_reply("test__slow", '{"seconds": 60}'), Reply(parts=[completion(["x"])]))
    # only chat requests take the scripted replies (the app may also ask for /models)
    server.handler = lambda r: chat(r) if r.path.endswith("/chat/completions") else json_reply(404, {})
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, server.base_url, str(tmp_path / "h.db"), str(config)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ))
    try:
        wait_for((work / "slow-started").exists, timeout=60, what="the MCP call to start")
        pid = int((work / "pid").read_text())
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr
    wait_for(lambda: not pid_alive(pid), what="the MCP server to exit")
    assert (work / "slow-cancelled").exists()
