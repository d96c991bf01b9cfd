"""``cnn-tui serve`` in a real browser: headless Chromium over the DevTools protocol.

The page draws the app into an xterm.js terminal (on a canvas); the test reads the terminal's
text from xterm's buffer (see :data:`_CAPTURE_XTERM`), waits for the Setup screen, presses F5,
waits for the Training screen, then closes the tab and checks that the run was stored as
``stopped`` and that the tab's app process ended. Skipped, with the reason, where Debian's
``chromium`` or textual-serve is missing. Some 20-40 s on 2 CPU cores (TensorFlow's import in
the tab's app, then a few epochs on the 8x8 digits).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cli_env import cli_env
from cnn_tui.cli import main

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

try:
    import aiohttp  # noqa: F401 - textual-serve's web stack; also the DevTools client here
    import textual_serve  # noqa: F401

    _SERVE_MISSING = None
except ImportError as exc:  # pragma: no cover - depends on the installation
    _SERVE_MISSING = f"textual-serve is not installed ({exc})"

needs_serve = pytest.mark.skipif(_SERVE_MISSING is not None, reason=_SERVE_MISSING or "")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium: install Debian's `chromium` (apt-get install chromium) for the browser test"
)
posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups and signals")

# The one place this test reaches into textual-serve's page: its script keeps the xterm.js
# Terminal in a local object as ``this.terminal`` (textual-serve 1.1's textual.js). A setter
# on Object.prototype, installed before the page's scripts run, sees that assignment and keeps
# the terminal where the test can read its buffer (xterm's public API). If textual-serve
# changes that, the browser test fails with the message _NO_TERMINAL.
_CAPTURE_XTERM = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && typeof value.focus === "function" && !window.__cnnTuiTerm) {
      window.__cnnTuiTerm = value;
    }
  },
});
"""
_SCREEN_TEXT = """(() => {
  const t = window.__cnnTuiTerm;
  if (!t) return null;
  const b = t.buffer.active, rows = [];
  for (let y = 0; y < t.rows; y++) { const line = b.getLine(y); rows.push(line ? line.translateToString(true) : ""); }
  return rows.join("\\n");
})()"""
_NO_TERMINAL = (
    "textual-serve's page no longer assigns its xterm.js Terminal to `.terminal` "
    "(tests/test_serve.py _CAPTURE_XTERM): update how the test reads the screen"
)

TINY = """name = "tiny-long"
description = "digits, many epochs: still training when the tab is closed"
[data]
dataset = "digits"
normalization = "rescale"
[model]
architecture = "tiny"
[train]
epochs = 1000
batch_size = 32
checkpoint_every = 0
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_env = cli_env


def _kill_group(proc: subprocess.Popen) -> None:
    """End ``proc`` and everything in its process group (it was started in a session of its own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _app_pids(server_pid: int) -> list[int]:
    """The tab apps' processes: the server's process group, less the server itself."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == server_pid:
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == server_pid:  # state, ppid, pgrp
            pids.append(int(entry.name))
    return pids


def _start_server(tmp_path: Path, port: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnn_tui", "serve", "--port", str(port), *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(tmp_path),
        cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"cnn-tui serve exited {proc.returncode}: {proc.stdout.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    _kill_group(proc)
    raise AssertionError("cnn-tui serve did not listen within 30 s")


def _run_states(runs: Path) -> list[str]:
    states = []
    for status in sorted(runs.glob("*/status.json")):
        try:
            states.append(json.loads(status.read_text(encoding="utf-8"))["state"])
        except (OSError, ValueError, KeyError):
            states.append("?")
    return states


class Chromium:
    """Headless Chromium driven over the DevTools protocol (aiohttp's websocket client)."""

    FLAGS = (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--window-size=1280,900", "--remote-debugging-port=0",
    )  # fmt: skip

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc: subprocess.Popen | None = None
        self.session: Any = None
        self.ws: Any = None
        self.port = 0
        self._id = 0

    async def start(self) -> None:
        import aiohttp

        self.profile.mkdir(parents=True)
        log = self.profile.parent / "chromium.log"
        with open(log, "wb") as stderr:
            self.proc = subprocess.Popen(
                [CHROMIUM, *self.FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
            )  # fmt: skip
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and active.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                said = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no message"]
                pytest.skip(f"Chromium did not start here (exit {self.proc.poll()}: {said[0]}); no browser test")
            await asyncio.sleep(0.1)
        self.port = int(active.read_text().split()[0])
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{self.port}/json/list") as response:
            targets = await response.json(content_type=None)
        page = next(t for t in targets if t["type"] == "page")
        self.target_id = page["id"]
        self.ws = await self.session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)

    async def send(self, method: str, **params: Any) -> dict:
        self._id += 1
        ident = self._id
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.ws.receive_json(), timeout=30)
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def screen_text(self) -> str | None:
        return await self.evaluate(_SCREEN_TEXT)

    async def wait_text(self, needle: str, timeout: float, *, header: bool = False) -> str:
        """The screen's text once ``needle`` is on it (in its header line, the screen's title, if ``header``)."""
        deadline = time.monotonic() + timeout
        text = None
        while time.monotonic() < deadline:
            text = await self.screen_text()
            if text is not None:
                where = (text.strip().splitlines() or [""])[0] if header else text
                if needle in where:
                    return text
            await asyncio.sleep(0.2)
        assert text is not None, _NO_TERMINAL
        raise AssertionError(f"{needle!r} not on the page after {timeout} s; the screen shows:\n{text}")

    async def press_f5(self) -> None:
        await self.evaluate("window.__cnnTuiTerm.focus()")
        key = {"key": "F5", "code": "F5", "windowsVirtualKeyCode": 116, "nativeVirtualKeyCode": 116}
        await self.send("Input.dispatchKeyEvent", type="rawKeyDown", **key)
        await self.send("Input.dispatchKeyEvent", type="keyUp", **key)

    async def close_tab(self) -> None:
        """Close the page as a user closing the tab would (the page's websocket goes away)."""
        async with self.session.get(f"http://127.0.0.1:{self.port}/json/close/{self.target_id}") as response:
            assert response.status == 200, await response.text()

    async def stop(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            _kill_group(self.proc)
        shutil.rmtree(self.profile, ignore_errors=True)


@needs_serve
def test_serve_bad_port_and_host_are_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--port", "0"], ["--port", "http"], ["--port", "70000"], ["--host", "no-such-host.invalid"]):
        assert main(["serve", *args]) == 2, args
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "error:" in err and "Traceback" not in err, (args, err)


@needs_serve
def test_serve_port_in_use_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cnn-tui: error: cannot listen on 127.0.0.1 port") and len(err.splitlines()) == 1, err


@needs_serve
def test_serve_unknown_preset_is_refused_before_listening(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--port", str(_free_port()), "--preset", "no-such-preset"]) == 2
    assert "no-such-preset" in capsys.readouterr().err


@needs_serve
def test_serve_without_textual_serve_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # an installation without it
    assert main(["serve", "--port", str(_free_port())]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'textual-serve" in err, err


def test_cli_import_does_not_load_textual_serve() -> None:
    script = (
        "import sys, cnn_tui.cli; cnn_tui.cli.build_parser(); "
        "print(sorted(m for m in ('textual_serve', 'aiohttp', 'textual') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_page_url_is_one_a_browser_can_reach() -> None:
    from cnn_tui.cli.serve import page_url

    assert page_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert page_url("::1", 8080) == "http://[::1]:8080"  # textual-serve alone: ws://::1:8080/ws
    assert page_url("0.0.0.0", 8000) == f"http://{socket.gethostname()}:8000"  # not the wildcard
    assert page_url("127.0.0.1", 8000, "http://127.0.0.1:9000/") == "http://127.0.0.1:9000"  # --public-url


def test_the_app_command_runs_this_python_with_the_options(tmp_path: Path) -> None:
    import shlex

    from cnn_tui.cli.serve import app_command

    argv = shlex.split(app_command(tmp_path / "my runs", "lecture-basic"))
    assert argv == ["exec", sys.executable, "-m", "cnn_tui", "tui", "--runs-dir", str(tmp_path / "my runs"),
                    "--preset", "lecture-basic"]  # fmt: skip


@posix
@needs_serve
@needs_browser
async def test_browser_setup_f5_training_then_closing_the_tab_stores_the_run_stopped(tmp_path: Path) -> None:
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "tiny-long.toml").write_text(TINY, encoding="utf-8")
    runs = tmp_path / "runs"
    port = _free_port()
    started = time.monotonic()
    server = _start_server(tmp_path, port, "--runs-dir", str(runs), "--preset", "tiny-long")
    browser = Chromium(tmp_path / "chromium-profile")
    try:
        await browser.start()
        await browser.send("Page.enable")  # without it the script below is not added
        await browser.send("Page.addScriptToEvaluateOnNewDocument", source=_CAPTURE_XTERM)
        await browser.send("Page.navigate", url=f"http://127.0.0.1:{port}/")
        setup = await browser.wait_text("cnn-tui — Setup", timeout=60, header=True)
        setup_seconds = time.monotonic() - started
        assert "preset          tiny-long" in setup, setup
        await browser.wait_text("F5 trains tiny-long", timeout=30)  # the form has checked the preset
        await browser.press_f5()
        await browser.wait_text("cnn-tui — Training", timeout=30, header=True)
        # Wait until the run really trains (epochs in its history), then close the tab.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            history = list(runs.glob("*/history.csv"))
            if history and len(history[0].read_text().splitlines()) >= 3:
                break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError(
                f"the run did not reach epoch 2: {_run_states(runs)}; screen:\n{await browser.screen_text()}"
            )
        assert _run_states(runs) == ["running"]
        assert _app_pids(server.pid), "no app process for the tab"
        await browser.close_tab()
        # The tab's app quits: the run is stopped and stored (never left running or crashed), then it exits.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (_run_states(runs) == ["running"] or _app_pids(server.pid)):
            await asyncio.sleep(0.2)
        assert _run_states(runs) == ["stopped"], _run_states(runs)
        assert not _app_pids(server.pid), "the tab's app is still running after the tab was closed"
        assert (next(runs.iterdir()) / "metrics.json").exists()
        assert server.poll() is None, "the server ended with the tab"
        print(f"setup on the page after {setup_seconds:.1f} s; whole test {time.monotonic() - started:.1f} s")
    finally:
        await browser.stop()
        _kill_group(server)
    assert not _group_alive(server.pid)


async def _train_in_a_tab(port: int, runs: Path) -> Any:
    """Open the app as a browser tab does (textual-serve's websocket), press F5 and return the
    open websocket once the run has finished two epochs."""
    import aiohttp

    session = aiohttp.ClientSession()
    ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws?width=160&height=50")
    screen = bytearray()

    async def read() -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                screen.extend(message.data)

    reader = asyncio.create_task(read())
    deadline = time.monotonic() + 60
    while b"Setup" not in screen:
        assert time.monotonic() < deadline, f"no Setup screen on the websocket: {bytes(screen[-500:])!r}"
        await asyncio.sleep(0.2)
    pressed = 0.0
    while True:
        if not _run_states(runs) and time.monotonic() - pressed > 2:  # F5 before the form is ready is ignored
            await ws.send_str(json.dumps(["stdin", "\x1b[15~"]))  # F5, as xterm.js sends it
            pressed = time.monotonic()
        history = list(runs.glob("*/history.csv"))
        if history and len(history[0].read_text().splitlines()) >= 3:
            break
        assert time.monotonic() < deadline, f"the run did not reach epoch 2: {_run_states(runs)}"
        await asyncio.sleep(0.3)
    return session, ws, reader


@posix
@needs_serve
@pytest.mark.parametrize(
    "how",
    [
        # The terminal that runs `cnn-tui serve` goes away (an SSH session drops): SIGHUP to its
        # process group, the server and every tab's app.
        "hangup",
        # `kill PID` / a service manager stops the server alone.
        "terminate",
    ],
)
async def test_ending_the_server_stops_and_stores_each_tabs_run(tmp_path: Path, how: str) -> None:
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "tiny-long.toml").write_text(TINY, encoding="utf-8")
    runs = tmp_path / "runs"
    port = _free_port()
    server = _start_server(tmp_path, port, "--runs-dir", str(runs), "--preset", "tiny-long")
    session = None
    try:
        session, ws, reader = await _train_in_a_tab(port, runs)
        assert _run_states(runs) == ["running"]
        if how == "hangup":
            os.killpg(server.pid, signal.SIGHUP)
        else:
            server.send_signal(signal.SIGTERM)
        ended = time.monotonic()
        while time.monotonic() - ended < 30 and (server.poll() is None or _group_alive(server.pid)):
            await asyncio.sleep(0.2)
        took = time.monotonic() - ended
        assert _run_states(runs) == ["stopped"], _run_states(runs)
        assert server.poll() == 0, (server.poll(), server.stdout.read().decode() if server.poll() is not None else "")
        assert not _group_alive(server.pid), "a tab's app outlived the server"
        # Promptly: the app stops its run at the next batch, evaluates and stores it (about 1-2 s
        # here); not the minute aiohttp's shutdown would wait for an open websocket.
        assert took < 12, f"the server took {took:.1f} s to end"
        reader.cancel()
    finally:
        if session is not None:
            await session.close()
        _kill_group(server)
