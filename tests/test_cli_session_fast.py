"""A bare ``llmchat`` starts the session without Typer (llmchat.cli_session), with exactly what
the Typer command would pass; anything else still goes through Typer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli import TIMEOUT

# Runs `llmchat ARGS` with the app replaced by a recorder: what the app was built with, whether
# Typer was imported, and whether the terminal's graphics detection had finished before `run`.
PROBE = """
import json, sys, threading, time
import llmchat.tui.app, llmchat.tui.widgets.image_view as image_view
detected = threading.Event()

def slow_detection():
    time.sleep(0.2)  # a terminal that does not answer textual-image's question
    detected.set()

image_view.detect_graphics = slow_detection

class Recorder:
    return_code = int(sys.argv[1])
    def __init__(self, settings, **kwargs):
        self.seen = {"model": settings.provider.model, "provider": settings.provider.name,
                     **{k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}}
    def run(self):
        self.seen["detected_before_run"] = detected.is_set()
        self.seen["typer"] = "typer" in sys.modules
        self.seen["detection_thread"] = [t.name for t in threading.enumerate() if "graphics" in t.name]
        print("SEEN " + json.dumps(self.seen, default=str), flush=True)

llmchat.tui.app.LlmChatApp = Recorder
sys.argv = ["llmchat", *sys.argv[2:]]
if sys.argv[1:2] == ["--via-typer"]:
    from llmchat.cli_app import app
    app([])
from llmchat.cli import main
main()
"""


def run_probe(tmp_path: Path, *args: str, return_code: int = 0) -> tuple[int, dict[str, object], str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    result = subprocess.run([sys.executable, "-c", PROBE, str(return_code), *args], env=env, capture_output=True,
                            text=True, timeout=TIMEOUT, check=False)
    seen = [line for line in result.stdout.splitlines() if line.startswith("SEEN ")]
    return result.returncode, json.loads(seen[0][5:]) if seen else {}, result.stderr


def test_bare_llmchat_builds_the_app_as_typer_does_without_importing_typer(tmp_path: Path) -> None:
    code, fast, stderr = run_probe(tmp_path)
    assert code == 0, stderr
    code, typer, stderr = run_probe(tmp_path, "--via-typer")
    assert code == 0, stderr
    assert fast.pop("typer") is False
    assert typer.pop("typer") is True
    assert fast == typer
    assert fast["conversation"] is None and fast["tools"] is False and fast["attachments"] == []


def test_the_terminal_is_asked_before_the_app_takes_it(tmp_path: Path) -> None:
    code, seen, stderr = run_probe(tmp_path)
    assert code == 0, stderr
    assert seen["detected_before_run"] is True
    assert seen["detection_thread"] == []


def test_the_apps_return_code_is_the_exit_status(tmp_path: Path) -> None:
    code, seen, stderr = run_probe(tmp_path, return_code=2)
    assert seen and code == 2, stderr


def test_a_bad_config_exits_2_before_the_screen(tmp_path: Path) -> None:
    (tmp_path / "config" / "llmchat").mkdir(parents=True)
    (tmp_path / "config" / "llmchat" / "config.toml").write_text("this is = = not toml\n")
    code, seen, stderr = run_probe(tmp_path)
    assert code == 2
    assert seen == {}
    assert "error" in stderr and "Traceback" not in stderr


def test_options_still_go_through_typer(tmp_path: Path) -> None:
    code, seen, stderr = run_probe(tmp_path, "-m", "gpt-4o", "--continue")
    assert code == 0, stderr
    assert seen["typer"] is True
    assert seen["model"] == "gpt-4o"
    assert seen["conversation"] == "latest"
