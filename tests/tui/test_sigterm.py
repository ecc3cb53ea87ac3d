"""SIGTERM during a reply: the partial answer is saved as cancelled and the app exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from llmchat.store import Store
from tests.loopback import LoopbackServer, Reply, chunk, sse
from tests.procwait import wait_until_read_and_idle

SCRIPT = """
import sys
from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.prompt_input import PromptInput

class Auto(LlmChatApp):
    def on_ready(self) -> None:
        prompt = self.screen.query_one(PromptInput)
        prompt.insert("tell me a long story")
        prompt.action_submit()

settings = load_settings(None, {"OPENAI_BASE_URL": sys.argv[1], "OPENAI_API_KEY": "k"})
app = Auto(settings, history=__import__("pathlib").Path(sys.argv[2]))
app.run(headless=True)
sys.exit(app.return_code or 0)
"""


def test_sigterm_saves_the_partial_reply_and_exits(server: LoopbackServer, tmp_path: Path) -> None:
    sent = threading.Event()
    server.handler = lambda _r: Reply(parts=[sse(chunk("Once upon a time"), done=False), sent.set, 30.0])
    db = tmp_path / "history.db"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, server.base_url, str(db)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ))
    try:
        assert sent.wait(30), "the app never sent its request"
        wait_until_read_and_idle(proc.pid, server.port)  # the app has the first chunk
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr
    assert server.disconnected.wait(5)
    with Store(db) as store:
        _, conversation = store.load_conversation("latest")
    reply = conversation.messages[-1]
    assert (reply.role, reply.content, reply.finish_reason) == ("assistant", "Once upon a time", "cancelled")
