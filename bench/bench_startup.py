"""Benchmark 3 -- start-up.

Figures, each from fresh processes (cold imports; the OS file cache is warm, as on any
second launch), repetitions interleaved:

* first paint, real terminal -- the ``cnn-tui`` console script is started in a
  pseudo-terminal (120x40, TERM=xterm-256color) and the parent reads the pty; the time
  runs from just before ``fork`` to the read that completes the first frame showing the
  Setup screen (its header "Setup" and its "preset" field, ANSI codes stripped).
  Target: < 1.0 s.
* first paint, app hook -- the same app under ``App.run_test`` in a fresh process; the
  time from just before the process is spawned to the Setup screen's first-paint
  callback (``CnnTuiApp.first_paint``, called after the screen's first refresh). The same
  callback records whether ``tensorflow`` / ``keras`` are already in ``sys.modules``.
  Target: TensorFlow absent at first paint.
* import cnn_tui.cli -- ``time.perf_counter()`` around ``import cnn_tui.cli`` in a fresh
  ``python -c``; TensorFlow must not be in ``sys.modules`` afterwards. The slowest modules
  of one ``python -X importtime`` run go to the JSON.
* bare Textual -- a Textual app with only a Header (title "Setup"), a Label "preset" and
  a Footer, timed in the pty exactly like cnn-tui: the floor any Textual app pays on this
  machine that day (informational), and cnn-tui / bare per repetition.
* interpreter -- ``python -c pass``, the floor every launch pays (baseline).

Before measuring, cnn-tui's own modules are byte-compiled (``compileall`` into their
``__pycache__``, ignored by git), so every launch reads cached bytecode like any launch
after the first one of an installed app (``pip install`` compiles a regular install; an
editable one caches on its first run). Without it, on a machine that sets
``PYTHONDONTWRITEBYTECODE`` (this one does), every launch would compile ~40 modules from
source: ~60 ms of the first paint here.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

TARGET_PAINT = 1.0
ANSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[a-zA-Z~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[>=78]")

CHILD = r"""
import asyncio, json, os, sys, time
t0 = float(os.environ["BENCH_T0"])
from pathlib import Path
import cnn_tui.tui.app as appmod

class App(appmod.CnnTuiApp):
    CSS_PATH = str(Path(appmod.__file__).with_name("app.tcss"))
    seen = None
    def first_paint(self):
        if App.seen is None:
            App.seen = {"since_spawn": time.time() - t0,
                        "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}
        super().first_paint()

async def main():
    app = App(runs_dir=Path(os.environ["BENCH_RUNS"]))
    app.PRELOAD_TF = False  # the preload starts right after the paint; not needed here
    async with app.run_test(size=(120, 40)):
        end = time.monotonic() + 60
        while App.seen is None and time.monotonic() < end:
            await asyncio.sleep(0.005)
        App.seen["app_first_paint_seconds"] = app.first_paint_seconds
        app.exit()
asyncio.run(main())
print("BENCH" + json.dumps(App.seen), flush=True)
"""

IMPORT_CHILD = (
    "import time, sys; t = time.perf_counter(); import cnn_tui.cli; dt = time.perf_counter() - t; "
    "print('BENCH', dt, 'tensorflow' in sys.modules, 'keras' in sys.modules, 'textual' in sys.modules)"
)


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40", CNN_TUI_RUNS_DIR=str(tmp / "runs"))
    return env


BARE_TEXTUAL = r"""
from textual.app import App
from textual.widgets import Footer, Header, Label

class Bare(App):
    TITLE = "Setup"
    BINDINGS = [("q", "quit", "Quit")]
    def compose(self):
        yield Header()
        yield Label("preset")
        yield Footer()

Bare().run()
"""


def cnn_tui_argv() -> list[str]:
    exe = Path(sys.executable).with_name("cnn-tui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cnn_tui"]


def first_paint_pty(tmp: Path, argv: list[str] | None = None, timeout: float = 60.0) -> float:
    """Seconds from fork to the pty read completing a frame with "Setup" and "preset"."""
    import fcntl
    import pty
    import struct
    import termios

    argv = argv or cnn_tui_argv()
    env = _env(tmp)
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        try:
            os.chdir(tmp)
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    buf = b""
    found = None
    try:
        end = t0 + timeout
        while time.perf_counter() < end:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(fd, 1 << 16)
            except OSError:
                break
            if not data:
                break
            now = time.perf_counter()
            buf += data
            text = ANSI.sub(b"", buf)
            if b"Setup" in text and b"preset" in text:
                found = now - t0
                break
    finally:
        for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            done = False
            while time.monotonic() < deadline:
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    done = True
                    break
                time.sleep(0.02)
            if done:
                break
        os.close(fd)
    if found is None:
        tail = ANSI.sub(b"", buf)[-400:].decode(errors="replace")
        raise RuntimeError(f"no Setup screen on the pty within {timeout:.0f} s; last output: {tail!r}")
    return found


def first_paint_hook(tmp: Path) -> dict:
    env = _env(tmp)
    env["BENCH_RUNS"] = str(tmp / "runs")
    env["BENCH_T0"] = repr(time.time())
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH")), None)
    if line is None:
        raise RuntimeError(f"first-paint child failed: {out.stderr[-800:]}")
    return json.loads(line[5:])


def import_cli(tmp: Path) -> tuple[float, bool, bool]:
    out = subprocess.run([sys.executable, "-c", IMPORT_CHILD], cwd=tmp, capture_output=True, text=True, timeout=60)
    parts = next(ln for ln in out.stdout.splitlines() if ln.startswith("BENCH")).split()
    return float(parts[1]), parts[2] == "True", parts[4] == "True"


def interpreter(tmp: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=tmp, check=True)
    return time.perf_counter() - t


def importtime_top(tmp: Path, n: int = 8) -> list[dict]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import cnn_tui.cli"], cwd=tmp,
                         capture_output=True, text=True, timeout=60)
    rows = []
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append({"module": m.group(4), "self_ms": int(m.group(1)) / 1000, "cumulative_ms": int(m.group(2)) / 1000,
                         "depth": len(m.group(3)) // 2})
    top_level = sorted((r for r in rows if r["depth"] <= 1), key=lambda r: -r["cumulative_ms"])
    return top_level[:n]


def ensure_bytecode() -> bool:
    """Byte-compile cnn-tui's package (see the module docstring); True if all compiled."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("cnn_tui")
    if spec is None or not spec.submodule_search_locations:
        return False
    return all(compileall.compile_dir(d, quiet=1) for d in spec.submodule_search_locations)


def main() -> int:
    args = C.parser(__doc__.splitlines()[1]).parse_args()
    started = time.perf_counter()
    compiled = ensure_bytecode()
    reps = 3 if args.quick else 7
    tmp = Path(tempfile.mkdtemp(prefix="cnn-tui-bench-startup-"))
    pty_s, bare_s, hook_s, app_s, imp_s, interp_s = [], [], [], [], [], []
    tf_at_paint, tf_after_import, textual_after_import = [], [], []
    for rep in range(reps):
        interp_s.append(interpreter(tmp))
        t, tf, textual = import_cli(tmp)
        imp_s.append(t)
        tf_after_import.append(tf)
        textual_after_import.append(textual)
        pty_s.append(first_paint_pty(tmp))
        bare_s.append(first_paint_pty(tmp, [sys.executable, "-c", BARE_TEXTUAL]))
        seen = first_paint_hook(tmp)
        hook_s.append(seen["since_spawn"])
        app_s.append(seen["app_first_paint_seconds"] or float("nan"))
        tf_at_paint.append(bool(seen["tensorflow"] or seen["keras"]))
        print(f"  rep {rep + 1}/{reps}  pty {pty_s[-1]:.3f} s  bare textual {bare_s[-1]:.3f} s  "
              f"hook {hook_s[-1]:.3f} s  import cli {imp_s[-1]:.3f} s  "
              f"python {interp_s[-1]:.3f} s  tf at paint {tf_at_paint[-1]}", flush=True)
    paint = C.median(pty_s)
    figures = [
        C.figure("first_paint_pty", "first paint, real terminal (cnn-tui in a pty)", pty_s, unit="s",
                 target=f"< {TARGET_PAINT:g} s", met=paint < TARGET_PAINT,
                 note=f"{paint / TARGET_PAINT:.2f} x the target; bytecode "
                      f"{'cached' if compiled else 'NOT cached (compileall failed)'}"),
        C.figure("first_paint_bare_textual", "first paint, real terminal, bare Textual app (Header, Label, Footer)",
                 bare_s, unit="s", note="informational: the floor of any Textual app on this machine"),
        C.figure("first_paint_vs_bare", "first paint cnn-tui / bare Textual app (same repetition)",
                 [a / b for a, b in zip(pty_s, bare_s)], note="informational: what the app adds to Textual's start"),
        C.figure("first_paint_hook", "first paint, process spawn -> SetupScreen first_paint (run_test)", hook_s,
                 unit="s", target=f"< {TARGET_PAINT:g} s", met=C.median(hook_s) < TARGET_PAINT),
        C.figure("first_paint_in_app", "first paint, App() created -> first_paint (app.first_paint_seconds)", app_s,
                 unit="s", note="informational: the part spent inside the app"),
        C.figure("tf_absent_at_first_paint", "runs with TensorFlow/Keras absent from sys.modules at first paint",
                 [0.0 if x else 1.0 for x in tf_at_paint], value=sum(not x for x in tf_at_paint) / reps,
                 target="all runs (1.00)", met=not any(tf_at_paint)),
        C.figure("import_cli", "cold import cnn_tui.cli", imp_s, unit="s", digits=3,
                 note=f"TensorFlow in sys.modules after it: {'yes' if any(tf_after_import) else 'no'}; "
                      f"textual: {'yes' if any(textual_after_import) else 'no'}"),
        C.figure("tf_absent_after_import_cli", "runs with TensorFlow absent after import cnn_tui.cli",
                 [0.0 if x else 1.0 for x in tf_after_import], value=sum(not x for x in tf_after_import) / reps,
                 target="all runs (1.00)", met=not any(tf_after_import)),
        C.figure("interpreter", "python -c pass (baseline)", interp_s, unit="s", digits=3),
    ]
    return C.finish("startup", figures, args, started, repetitions=reps, importtime_top=importtime_top(tmp),
                    bytecode_cached=compiled,
                    method="pty read of the first Setup frame; run_test first_paint hook")


if __name__ == "__main__":
    raise SystemExit(main())
