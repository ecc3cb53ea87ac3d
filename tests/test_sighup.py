"""SIGHUP (the terminal window was closed) is handled like SIGTERM (issue 20): the partial
reply is stored, marked cancelled, the connection is closed, and the process exits 129 —
in `ask` and in the session. Real subprocesses against the loopback server; the last tests
close a real pseudo-terminal, so the kernel sends the SIGHUP."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

from llmchat.store import Store
from tests.loopback import LoopbackServer, Reply, chunk, sse
from tests.test_cli import TIMEOUT, assert_clean_stderr, cli_env
from tests.test_cli_history import db_path
from tests.tui.test_sigterm import SCRIPT as SESSION_SCRIPT

PARTIAL = "Once upon a time"


def hanging_reply(_request: object) -> Reply:
    return Reply(parts=[sse(chunk(PARTIAL), done=False), 30.0])


def last_reply(db: Path) -> tuple[str, str, str | None]:
    with Store(db) as store:
        _, conversation = store.load_conversation("latest")
    reply = conversation.messages[-1]
    return reply.role, reply.content, reply.finish_reason


def wait_for(condition, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def stored_partial(db: Path) -> bool:
    """The write-ahead row holds the partial text (it is saved about once a second)."""
    if not db.exists():
        return False
    try:
        return last_reply(db)[1] == PARTIAL
    except Exception:  # not written yet
        return False


def test_ask_sighup_stores_the_partial_reply_as_cancelled(server: LoopbackServer) -> None:
    server.handler = hanging_reply
    proc = subprocess.Popen([sys.executable, "-m", "llmchat", "ask", "tell me a story"], env=cli_env(server),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.read(len(PARTIAL)) == PARTIAL.encode()
        proc.send_signal(signal.SIGHUP)
        rest, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 129, stderr
    assert rest == b""
    assert_clean_stderr(stderr)
    assert server.disconnected.wait(5)
    assert last_reply(db_path()) == ("assistant", PARTIAL, "cancelled")


def spawn_on_terminal(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start `args` in a new session whose controlling terminal is a fresh pty; return the
    process and the pty's master end (closing it hangs the terminal up)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")  # 24 x 80
    # A new session (setsid, done by subprocess itself), then a small exec wrapper makes the
    # pty its controlling terminal: no preexec_fn, which is unsafe in a process with threads.
    take_terminal = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execv(sys.argv[1], sys.argv[1:])"
    proc = subprocess.Popen([sys.executable, "-c", take_terminal, *args], env=env, stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True, close_fds=True)
    os.close(slave)
    return proc, master


def drain(master: int) -> None:
    """Read what the process wrote so far (so it never blocks on a full terminal)."""
    import select

    while select.select([master], [], [], 0)[0]:
        try:
            if not os.read(master, 65536):
                return
        except OSError:
            return


def test_ask_on_a_closed_terminal_stores_the_partial_reply_as_cancelled(server: LoopbackServer) -> None:
    server.handler = hanging_reply
    env = cli_env(server, TERM="xterm-256color")
    proc, master = spawn_on_terminal([sys.executable, "-m", "llmchat", "ask", "tell me a story"], env)
    try:
        wait_for(lambda: (drain(master), stored_partial(db_path()))[1], "the partial reply to be saved")
        os.close(master)  # the terminal window closes: the kernel sends SIGHUP
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 129
    assert server.disconnected.wait(5)
    assert last_reply(db_path()) == ("assistant", PARTIAL, "cancelled")


def test_session_sighup_saves_the_partial_reply_and_exits(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = hanging_reply
    db = tmp_path / "history.db"
    proc = subprocess.Popen([sys.executable, "-c", SESSION_SCRIPT, server.base_url, str(db)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ))
    try:
        wait_for(lambda: stored_partial(db), "the partial reply to be saved")
        proc.send_signal(signal.SIGHUP)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 129, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr
    assert server.disconnected.wait(5)
    assert last_reply(db) == ("assistant", PARTIAL, "cancelled")


SESSION_ON_TERMINAL = SESSION_SCRIPT.replace("app.run(headless=True)", "app.run()")


def test_session_on_a_closed_terminal_saves_the_partial_reply(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = hanging_reply
    db = tmp_path / "history.db"
    env = {**os.environ, "TERM": "xterm-256color"}
    proc, master = spawn_on_terminal([sys.executable, "-c", SESSION_ON_TERMINAL, server.base_url, str(db)], env)
    try:
        wait_for(lambda: (drain(master), stored_partial(db))[1], "the partial reply to be saved")
        os.close(master)
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 129
    assert server.disconnected.wait(5)
    assert last_reply(db) == ("assistant", PARTIAL, "cancelled")
