"""Copying to the clipboard, and saying truthfully what happened.

Three ways, tried in this order (issue 17):

1. The local clipboard, when the session runs on this machine (no ``SSH_CONNECTION`` /
   ``SSH_TTY``): ``wl-copy`` (Wayland), ``xclip`` / ``xsel`` (X11), ``pbcopy`` (macOS),
   ``clip.exe`` (Windows, WSL). The text is known to be copied.
2. Inside tmux, ``tmux load-buffer -w -``: tmux keeps the text as its paste buffer and passes
   it on to the outer terminal's clipboard itself (tmux 3.2+), which works under tmux's
   default ``set-clipboard external`` where an application's own OSC 52 is ignored.
3. OSC 52 (xterm's "Manipulate Selection Data" control sequence), written to the terminal;
   inside GNU screen wrapped in a DCS passthrough (``ESC P ... ESC \\``), and inside tmux
   (when its command failed) in tmux's ``ESC P tmux; ... ESC \\`` passthrough. Whether the
   terminal honours it cannot be known, so it is reported as "sent to the terminal's
   clipboard", never as "copied".

No Textual here: :mod:`llmchat.tui.app` uses :func:`copy_text` and writes the sequence.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

TIMEOUT = 3.0
"""Seconds a clipboard command may take (they read stdin and return, or fork and return)."""


@dataclass(frozen=True, slots=True)
class Copied:
    """The outcome of a copy: `how` is ``"local"``, ``"tmux"`` or ``"osc52"``; `tool` names the
    command used (``xclip``...) or is ""; `sequence` is what to write to the terminal ("" when
    nothing is to be written)."""

    how: str
    tool: str = ""
    sequence: str = ""

    def describe(self, what: str) -> str:
        """The notification for copying `what` (e.g. "the answer (12 characters)")."""
        if self.how == "local":
            return f"Copied {what}."
        if self.how == "tmux":
            return f"Copied {what} to tmux's paste buffer (and sent it to the terminal's clipboard)."
        return (f"Sent {what} to the terminal's clipboard (OSC 52; if nothing arrives, your terminal "
                "does not allow it: use /copy > FILE).")


def is_remote(env: Mapping[str, str]) -> bool:
    """True when the session runs over SSH (the local clipboard would be the server's)."""
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("SSH_CLIENT"))


def local_commands(env: Mapping[str, str], platform: str = sys.platform) -> list[list[str]]:
    """The local clipboard commands worth trying here, best first (not checked on PATH)."""
    commands: list[list[str]] = []
    if env.get("WAYLAND_DISPLAY"):
        commands.append(["wl-copy"])
    if env.get("DISPLAY"):
        commands += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    if platform == "darwin":
        commands.append(["pbcopy"])
    if platform == "win32" or env.get("WSL_DISTRO_NAME"):
        commands.append(["clip.exe"])
    return commands


def run_command(command: list[str], text: str, env: Mapping[str, str]) -> bool:
    """Feed `text` to `command` (found on env's PATH); True when it exited 0. Never raises."""
    path = shutil.which(command[0], path=env.get("PATH"))
    if path is None:
        return False
    data = text.encode("utf-16-le" if command[0] == "clip.exe" else "utf-8")
    try:
        # DEVNULL, not pipes: xclip and wl-copy leave a child serving the selection, which
        # must not hold an output pipe this call would wait on.
        result = subprocess.run([path, *command[1:]], input=data, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=TIMEOUT, env=dict(env))
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def osc52(text: str, env: Mapping[str, str], *, tmux: bool | None = None) -> str:
    """The OSC 52 sequence that sets the clipboard to `text`, wrapped for GNU screen (``STY``)
    or tmux (``TMUX``, unless `tmux` is False) so that it reaches the outer terminal."""
    sequence = f"\x1b]52;c;{base64.b64encode(text.encode('utf-8')).decode('ascii')}\a"
    if (env.get("TMUX") if tmux is None else tmux):
        return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    if env.get("STY"):
        return "\x1bP" + sequence + "\x1b\\"
    return sequence


def copy_text(text: str, env: Mapping[str, str] | None = None, platform: str = sys.platform) -> Copied:
    """Copy `text` the best way this session allows (see the module's doc). Returns what was
    done; when it is OSC 52, the caller writes :attr:`Copied.sequence` to the terminal."""
    env = os.environ if env is None else env
    if not is_remote(env):
        for command in local_commands(env, platform):
            if run_command(command, text, env):
                return Copied("local", command[0])
    if env.get("TMUX") and run_command(["tmux", "load-buffer", "-w", "-"], text, env):
        return Copied("tmux", "tmux")
    return Copied("osc52", "", osc52(text, env))
