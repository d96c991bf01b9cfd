"""The cnn-tui Textual app: screens, global keys, the training worker, clean quit.

Start-up stays light: no TensorFlow, Keras or scikit-learn import here. Right after the
first screen has painted, a thread worker imports TensorFlow in the background;
everything that needs it (model summary, training) runs in thread workers too. While the
app runs, fd 2 is silenced (see :mod:`cnn_tui.tui.driver`) so TensorFlow's C++ log lines
never land on the screen.

Training runs in ONE thread worker owned by the App (``group="training"``); the engine's
``on_event`` callback turns each core event into a typed message
(:mod:`cnn_tui.tui.messages`) and ``post_message``s it to the App, which feeds the
:class:`~cnn_tui.tui.training.RunMonitor` the Training screen draws from. Stop and pause
are ``threading.Event`` objects handed to the engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.tui.commands import CnnTuiCommands
from cnn_tui.tui.messages import (
    TensorFlowReady,
    TrainingBatch,
    TrainingEpoch,
    TrainingEvaluated,
    TrainingFailed,
    TrainingFinished,
    TrainingLog,
    TrainingMessage,
    TrainingStarted,
    event_message,
)
from cnn_tui.tui.experiment_runner import ExperimentRunner
from cnn_tui.tui.gc_policy import QuietCollector, end_startup_pause
from cnn_tui.tui.prewarm import PAUSE_SECONDS, mark_styled, prewarm_modes, prewarm_screen
from cnn_tui.tui.setup import SetupScreen

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from cnn_tui.tui.training import RunMonitor, TrainingScreen


TF_PRELOAD_DELAY = 0.3
"""Seconds between the first paint and the start of the background TensorFlow import."""


RESULTS_SCREEN_NAME = "results-last"
"""The installed (kept after pop) Results screen of the run last opened."""


def _folder_stamp(run_dir: Path) -> tuple:
    """What changes when a run folder's contents change (names, sizes, mtimes)."""
    entries = []
    try:
        for entry in run_dir.iterdir():
            st = entry.stat()
            entries.append((entry.name, st.st_size, st.st_mtime_ns))
    except OSError:
        return ()
    return tuple(sorted(entries))


def _same_path(path: Path) -> Path:
    """``path`` made absolute and resolved, to compare two spellings of one folder."""
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path).absolute()


def _training_screen() -> Screen:
    # Imported on first use: plotext costs ~0.1 s that the first paint need not wait for.
    from cnn_tui.tui.training import TrainingScreen

    return TrainingScreen()


def _is_training_screen(screen: Screen) -> bool:
    return screen.id == "training"


class CnnTuiApp(ExperimentRunner, App):
    """Setup -> Training -> Results, plus Runs; every action has a key in the footer."""

    TITLE = "cnn-tui"
    CSS_PATH = "app.tcss"
    DEFAULT_MODE = "setup"
    MODES = {"setup": SetupScreen, "training": _training_screen}
    COMMANDS = App.COMMANDS | {CnnTuiCommands}
    BINDINGS = [
        Binding("f5", "train", "Train"),
        Binding("x", "stop", "Stop"),
        Binding("p", "pause", "Pause"),
        Binding("s", "setup", "Setup"),
        Binding("t", "training", "Training"),
        Binding("r", "results", "Results"),
        Binding("u", "runs", "Runs"),
        Binding("E", "experiment", "Experiment"),  # shown once a study was started
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    AUTO_OPEN_RESULTS = True
    """Open the Results screen when a run ends while the Training screen is shown."""
    PRELOAD_TF = True
    """Import TensorFlow in a background thread right after the first paint."""
    PREWARM_SCREENS = True
    """Build the Training and Runs screens, and the latest run's Results screen, in the
    background after start-up (once TensorFlow is loaded when it is preloaded), so their
    first visit is a plain switch."""
    KERAS_SUMMARY = True
    """Build the Keras model summary on the Setup screen (a thread worker)."""
    QUIT_WAIT_SECONDS = 10.0
    """How long quitting waits for a stopped run to be stored."""

    def __init__(
        self,
        *,
        runs_dir: Path | None = None,
        preset: str | None = None,
        engine: Callable[..., Any] | None = None,
        user_presets_dir: Path | None = None,
        resumer: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        from cnn_tui.core.results.store import resolve_runs_dir

        self.runs_dir = resolve_runs_dir(runs_dir)
        self.initial_preset = preset
        self.engine = engine
        self.resumer = resumer
        """Stand-in for ``cnn_tui.core.engine.resume`` (tests); None: the real one."""
        self.user_presets_dir = Path(user_presets_dir) if user_presets_dir else None
        self.monitor: RunMonitor | None = None
        self.last_run_dir: Path | None = None
        self.tf_ready = False
        self.tf_seconds: float | None = None
        self.first_paint_seconds: float | None = None
        self._created = time.perf_counter()
        self._seq = 0
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._train_worker: Worker | None = None
        self._quitting = False
        self._runs_mode = False
        self._results_screen: tuple[Path, tuple, Screen] | None = None
        self.collector = QuietCollector()
        """Full garbage collections between key presses (see :mod:`cnn_tui.tui.gc_policy`)."""

    # -- lifecycle ------------------------------------------------------------------------
    def update_styles(self, node: DOMNode, animate: bool = True) -> None:
        """Restyle ``node`` and its subtree -- unless it is not in the DOM yet.

        Textual restyles a widget whenever a reactive with a toggle class is set, and
        widgets set such reactives in their ``__init__`` (``compact``, a Checkbox's
        ``value``): inside a ``compose`` the app is known, so each control built there was
        styled once before it was mounted and once more when it was. Styles are applied
        to every widget when it is registered (``App._register``), so the early pass is
        wasted: 31 of them on the Setup form, ~40 ms of the first paint here.
        """
        if node is not self and node._parent is None:
            return
        super().update_styles(node, animate)

    def get_driver_class(self) -> type:
        driver = super().get_driver_class()
        try:
            from textual.drivers.linux_driver import LinuxDriver
        except ImportError:  # Windows
            return driver
        if driver is LinuxDriver:
            from cnn_tui.tui.driver import QuietStderrDriver

            return QuietStderrDriver
        from textual.drivers.web_driver import WebDriver

        if driver is WebDriver:  # a browser tab of `cnn-tui serve`
            from cnn_tui.tui.driver import ServedDriver

            return ServedDriver
        return driver

    def on_mount(self) -> None:
        self.refresh_train_label()
        self.collector.busy = self._training_anything
        self.collector.start()
        self.set_interval(1.0, self.collector.tick)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.input()
        await super().on_event(event)

    def first_paint(self) -> None:
        """Called by the Setup screen after its first refresh (time-to-first-paint)."""
        if self.first_paint_seconds is None:
            self.first_paint_seconds = time.perf_counter() - self._created
            end_startup_pause()  # collection was off while the app started (cnn-tui launcher)
            if self.PRELOAD_TF:
                # The import holds the GIL for seconds: start it only once the first frame
                # has really been written to the terminal (first_paint runs after the
                # screen's first refresh, but the frame still has to be flushed by the
                # driver's writer thread, which an import in progress would starve).
                self.set_timer(TF_PRELOAD_DELAY, self._preload_tf)
            elif self.PREWARM_SCREENS:
                self.set_timer(TF_PRELOAD_DELAY, self._prewarm_screens)

    def on_unmount(self) -> None:
        # Threads cannot be killed: make sure a run still going ends so the process can exit.
        self._stop.set()
        self._pause.clear()
        self.collector.stop()

    @work(thread=True, group="tfimport", exit_on_error=False)
    def _preload_tf(self) -> None:
        start = time.perf_counter()
        error = None
        try:
            from cnn_tui.core.tfimport import import_tf

            import_tf()
            if self.engine is None:
                try:
                    import cnn_tui.core.engine  # noqa: F401 - warm the import for the first run
                except ImportError:
                    pass
            # TensorFlow and Keras leave ~300k long-lived objects that every full
            # (generation 2) garbage collection walks again: 0.35-0.46 s with the GIL held,
            # i.e. a frozen screen every few seconds. They live as long as the process, so
            # move them out of the collector's sight.
            gc.freeze()
        except Exception as exc:  # noqa: BLE001 - reported, never a crash
            error = f"{type(exc).__name__}: {exc}"
        self.post_message(TensorFlowReady(time.perf_counter() - start, error))

    def on_tensor_flow_ready(self, message: TensorFlowReady) -> None:
        self.tf_seconds = message.seconds
        if message.error:
            self.notify(f"TensorFlow could not be imported: {message.error}", severity="error")
        else:
            self.tf_ready = True
        if self.PREWARM_SCREENS:
            self._prewarm_screens()

    def _prewarm_screens(self) -> None:
        modes = ["training", "runs"] if self._ensure_runs_mode() else ["training"]
        # A callable, not a coroutine: a worker that never starts (the app is closing) then
        # leaves no coroutine behind that was never awaited.
        self.run_worker(partial(self._prewarm, modes), group="prewarm", exclusive=True, exit_on_error=False)

    async def _prewarm(self, modes: list[str]) -> None:
        await prewarm_modes(self, modes)
        run_dir = self._results_run_dir(quiet=True)
        if run_dir is not None:
            await asyncio.sleep(PAUSE_SECONDS)
            await self._prebuild_results(run_dir)

    # -- screens --------------------------------------------------------------------------
    @property
    def setup_screen(self) -> SetupScreen:
        return self.get_screen_stack("setup")[0]  # type: ignore[return-value]

    @property
    def training_screen(self) -> TrainingScreen | None:
        try:
            stack = self.get_screen_stack("training")  # made on the first visit
        except KeyError:
            return None
        return stack[0] if stack else None  # type: ignore[return-value]

    @property
    def _background_screens(self) -> list[Screen]:
        # Textual counts the screen right under the top one as visible even when the top
        # screen is opaque: that screen keeps laying out and painting, and each of its
        # repaints repaints the whole top screen (App.screen.refresh with its dirty
        # regions). Under the Results screen that is the Training screen, whose plots
        # redraw 4 times a second while a run trains: 4 full repaints a second of the
        # Results screen, in the way of its keys. Nothing under an opaque screen shows.
        stack = self._screen_stack
        if stack and stack[-1].styles.background.a >= 1:
            return []
        return super()._background_screens

    def _goto(self, mode: str) -> None:
        """Show a mode's base screen (pops what was pushed over it, e.g. a Results screen
        left open there before switching away)."""
        if self.current_mode != mode:
            self.switch_mode(mode)
            # Textual restyles a new mode's screen before it is mounted and never records
            # it: without this, the second visit re-parses all CSS again (0.15-0.35 s).
            self.call_after_refresh(mark_styled, self, self.screen)
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_setup(self) -> None:
        self._goto("setup")

    def action_training(self) -> None:
        self._goto("training")

    def action_help(self) -> None:
        from cnn_tui.tui.dialogs.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runs(self) -> None:
        if not self._ensure_runs_mode():
            self.notify("The Runs screen is not available in this build.", severity="warning")
            return
        self._goto("runs")

    def _ensure_runs_mode(self) -> bool:
        if not self._runs_mode:
            try:
                from cnn_tui.tui.runs import RunsScreen
            except ImportError:
                return False
            self.add_mode("runs", lambda: RunsScreen(self.runs_dir))
            self._runs_mode = True
        return True

    def action_results(self) -> None:
        run_dir = self._results_run_dir()
        if run_dir is not None:
            self.open_results(run_dir)

    def _results_run_dir(self, *, quiet: bool = False) -> Path | None:
        """The run r shows: the last one this app ran, else the latest stored."""
        if self.last_run_dir is not None:
            return self.last_run_dir
        try:
            from cnn_tui.core.results.store import RunStore

            return RunStore(self.runs_dir).get("latest").path
        except CnnTuiError as exc:
            if not quiet:
                self.notify(str(exc), severity="warning")
            return None

    def _cached_results_screen(self, run_dir: Path, stamp: tuple) -> Screen | None:
        """The Results screen built for ``run_dir`` when the folder is unchanged since
        (same ``stamp``) and the screen is not shown."""
        cached = self._results_screen
        if cached is not None and cached[:2] == (_same_path(run_dir), stamp) and not self._in_a_stack(cached[2]):
            return cached[2]
        return None

    async def _prebuild_results(self, run_dir: Path) -> bool:
        """Build the Results screen of ``run_dir`` out of sight, so that r shows it at once
        (see :func:`cnn_tui.tui.prewarm.prewarm_screen`); only for a completed run, and not
        while a run trains (a speculative screen is not worth CPU taken from training)."""
        if self.training_active:
            return False
        try:
            from cnn_tui.tui.results import ResultsScreen, load_run

            run = load_run(run_dir)
        except (ImportError, CnnTuiError):
            return False
        if run.state != "completed" or run.metrics is None:
            return False  # nothing worth it, and no error toast for a run nobody asked for
        run_dir = Path(run_dir)
        stamp = _folder_stamp(run_dir)
        if self._cached_results_screen(run_dir, stamp) is not None or self._quitting:
            return False
        if self._results_screen is not None and self._in_a_stack(self._results_screen[2]):
            return False  # a Results screen is shown: leave it be
        screen = ResultsScreen(run_dir)
        self._keep_results_screen(run_dir, stamp, screen)
        return await prewarm_screen(self, screen)

    def open_results(self, run_dir: Path) -> None:
        """Push the Results screen for ``run_dir`` (TUI-B's screen, if present)."""
        try:
            from cnn_tui.tui.results import ResultsScreen
        except ImportError:
            self.notify(f"Run stored in {run_dir} (the Results screen is not available).")
            return
        run_dir = Path(run_dir)
        stamp = _folder_stamp(run_dir)
        cached = self._cached_results_screen(run_dir, stamp)
        if cached is not None:
            # Same run folder, unchanged since: show the screen built last time (composing
            # it and re-reading the run costs ~0.25 s a press of r).
            self.push_screen(cached)
            return
        try:
            screen = ResultsScreen(run_dir)
        except CnnTuiError as exc:
            self.notify(str(exc), severity="error")
            return
        self._keep_results_screen(run_dir, stamp, screen)
        self.push_screen(screen)

    def _keep_results_screen(self, run_dir: Path, stamp: tuple, screen: Screen) -> None:
        """Install ``screen`` as the one Results screen kept (for ``run_dir`` as it is at
        ``stamp``), in place of the one kept before."""
        self._forget_results_screen()
        self.install_screen(screen, name=RESULTS_SCREEN_NAME)
        self._results_screen = (_same_path(run_dir), stamp, screen)

    def _in_a_stack(self, screen: Screen) -> bool:
        return any(screen in stack for stack in self._screen_stacks.values())

    def _forget_results_screen(self) -> None:
        cached = self._results_screen
        if cached is None:
            return
        self._results_screen = None
        try:
            self.uninstall_screen(cached[2])  # refused (ScreenStackError) while on a stack
        except Exception:  # noqa: BLE001 - still on a stack: Textual removes it when popped
            self._installed_screens.pop(RESULTS_SCREEN_NAME, None)
        else:
            if cached[2].is_attached:
                cached[2].remove()

    def action_save_preset(self) -> None:
        self._goto("setup")
        self.call_after_refresh(self.setup_screen.action_save_preset)

    def action_load_preset(self) -> None:
        self._goto("setup")
        self.call_after_refresh(self.setup_screen.action_load_preset)

    # -- bindings shown in the footer -----------------------------------------------------
    @property
    def training_active(self) -> bool:
        w = self._train_worker
        return w is not None and w.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def _training_anything(self) -> bool:
        """A run or a study is training (the garbage collector then waits longer)."""
        return self.training_active or (self.study is not None and self.study.active)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "experiment":
            return self.study is not None
        if action in ("stop", "pause"):
            return self.training_active
        if action == "train":
            return None if self.training_active else True
        if action in ("setup", "training", "runs") and self._on_base_screen(action):
            return False  # already there: keep the key off the footer (it overflowed at 120 columns)
        return True

    def _on_base_screen(self, mode: str) -> bool:
        """Whether ``mode``'s own screen is the one shown (nothing pushed over it)."""
        return self.current_mode == mode and len(self.screen_stack) == 1

    def train_target(self) -> str:
        try:
            screen = self.setup_screen
        except (KeyError, IndexError):
            return "the preset"
        return screen.preset_name or (screen.config.name if screen.config else "the preset")

    def _set_binding_description(self, key: str, description: str) -> None:
        # Footer labels are the Binding's description; this app's copy is replaced so the
        # footer can say "Train digits-quick" / "Resume".
        current = self._bindings.key_to_bindings.get(key)
        if not current:
            return
        new = [dataclasses.replace(b, description=description) for b in current]
        if new != current:
            self._bindings.key_to_bindings[key] = new
            self.refresh_bindings()

    def refresh_train_label(self) -> None:
        if not self._screen_stacks.get(self.current_mode):
            return  # the app is shutting down (a run that ended during the exit): no footer
        self._set_binding_description("f5", f"Train {self.train_target()}")
        self._set_binding_description("p", "Resume" if self._pause.is_set() else "Pause")
        self.refresh_bindings()

    # -- training -------------------------------------------------------------------------
    def action_train(self) -> None:
        """Train the Setup screen's preset with its current toggles."""
        if self.training_active:
            self.notify("A run is in progress: stop it (x) before starting another.", severity="warning")
            return
        setup = self.setup_screen
        config, errors = setup.build_config()
        if errors or config is None:
            self._goto("setup")
            if errors:
                key, message = next(iter(errors.items()))
                self.notify(f"Not training: {key}: {message}", severity="error", title="Invalid setting")
                try:
                    setup.field(key).control.focus()
                except Exception:  # noqa: BLE001 - focusing is a nicety
                    pass
            else:
                self.notify(setup.config_error or "Invalid settings.", severity="error")
            return
        setup.plan(config)  # the summary may lag the last keystroke: check the shapes now
        if setup.plan_error:
            self._goto("setup")
            self.notify(setup.plan_error, severity="error", title="Not training")
            return
        name = setup.preset_name or config.name
        self._new_monitor(name, f"starting {name}: loading {config.data.dataset} and building the model...")
        self._train_worker = self._run_training(config, name, self._seq, self._stop, self._pause)
        self.refresh_train_label()

    def resume_run(self, run: Any) -> None:
        """Continue a crashed, stopped or failed run (a RunInfo) in place, on the Training screen
        (from epoch 0 when it has no checkpoint)."""
        if self.training_active:
            self.notify("A run is in progress: stop it (x) before resuming another.", severity="warning")
            return
        from cnn_tui.core.engine.trainer import check_resumable

        try:
            done = check_resumable(run)
        except CnnTuiError as exc:
            self.notify(str(exc), severity="error", title="Cannot resume")
            return
        if done:
            first = f"resuming {run.run_id} after epoch {done}: loading its data and checkpoint..."
        else:
            first = f"restarting {run.run_id} from epoch 0 (no checkpointed epoch): loading its data..."
        self._new_monitor(run.name, first)
        self._train_worker = self._run_resume(run, self._seq, self._stop, self._pause)
        self.refresh_train_label()

    def _new_monitor(self, name: str, first_line: str) -> None:
        """Fresh stop/pause events and run monitor, shown on the Training screen."""
        self._seq += 1
        self._stop = threading.Event()
        self._pause = threading.Event()
        from cnn_tui.tui.training import RunMonitor

        self.monitor = RunMonitor(self._seq, preset=name)
        self.monitor.add_log("info", first_line)
        screen = self.training_screen
        if screen is not None:
            screen.attach(self.monitor)
        self._goto("training")
        self._quitting = False

    def _event_sink(self, seq: int) -> Callable[[Any], None]:
        """The engine's ``on_event``: core events -> typed messages posted to the App (thread-safe)."""

        def on_event(event: Any) -> None:
            message = event_message(event, seq)
            if message is not None:
                self.post_message(message)

        return on_event

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _run_training(
        self, config: Any, name: str, seq: int, stop: threading.Event, pause: threading.Event
    ) -> Any:
        engine = self.engine
        if engine is None:
            from cnn_tui.core.engine import train as engine  # imports TF: on this thread only

        return engine(config, self._event_sink(seq), stop, runs_dir=self.runs_dir, name=name, pause=pause)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _run_resume(self, run: Any, seq: int, stop: threading.Event, pause: threading.Event) -> Any:
        resumer = self.resumer
        if resumer is None:
            from cnn_tui.core.engine import resume as resumer  # imports TF: on this thread only

        return resumer(run, self._event_sink(seq), stop, pause=pause)

    def _current(self, message: TrainingMessage) -> RunMonitor | None:
        m = self.monitor
        return m if m is not None and m.seq == message.seq else None

    def _sync_training(self) -> None:
        screen = self.training_screen
        if screen is not None:
            screen.sync(force=True)

    def on_training_started(self, message: TrainingStarted) -> None:
        if (m := self._current(message)) is not None:
            m.started(message.event)
            if self._pause.is_set():
                m.set_paused(True)
            self._sync_training()

    def on_training_batch(self, message: TrainingBatch) -> None:
        if (m := self._current(message)) is not None:
            m.batch(message.event)

    def on_training_epoch(self, message: TrainingEpoch) -> None:
        if (m := self._current(message)) is not None:
            m.epoch_end(message.event)

    def on_training_log(self, message: TrainingLog) -> None:
        if (m := self._current(message)) is not None:
            m.add_log(message.event.level, message.event.message)

    def on_training_evaluated(self, message: TrainingEvaluated) -> None:
        if (m := self._current(message)) is not None:
            m.evaluated(message.event)

    def on_training_finished(self, message: TrainingFinished) -> None:
        if (m := self._current(message)) is not None:
            ev = message.event
            m.finished(ev.status, ev.run_dir, ev.metrics)
            self.last_run_dir = Path(ev.run_dir)
            self._sync_training()

    def on_training_failed(self, message: TrainingFailed) -> None:
        if (m := self._current(message)) is not None:
            m.failed(message.event.error)
            if message.event.run_dir:
                self.last_run_dir = Path(message.event.run_dir)
            self.notify(message.event.error, severity="error", title="Run failed")
            self._sync_training()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker is not self._train_worker:
            return
        if self.study_worker_changed(event):  # a study's worker (experiment_runner)
            return
        if event.state == WorkerState.SUCCESS:
            self._training_done(worker.result)
        elif event.state == WorkerState.ERROR:
            self._training_error(worker.error)
        elif event.state == WorkerState.CANCELLED:
            self._training_error(None)

    def _training_done(self, result: Any) -> None:
        m = self.monitor
        status = getattr(result, "status", None) or "completed"
        run_dir = getattr(result, "run_dir", None)
        if run_dir is not None:
            self.last_run_dir = Path(run_dir)
        if m is not None and m.active:
            if status == "failed":
                error = getattr(result, "error", None) or "the run failed"
                m.failed(error)
                self.notify(error, severity="error", title="Run failed")
            else:
                m.finished(status, run_dir, getattr(result, "metrics", None))
        self._after_run()
        if status in ("completed", "stopped") and run_dir is not None and not self._quitting:
            if self.AUTO_OPEN_RESULTS and self.current_mode == "training" and self._showing_training():
                self.open_results(Path(run_dir))
            else:
                self.notify(f"Run {status}: press r for its results.", title="Training")
                if self.PREWARM_SCREENS:
                    self.run_worker(
                        self._prebuild_results(Path(run_dir)), group="prewarm", exclusive=True, exit_on_error=False
                    )

    def _showing_training(self) -> bool:
        """The Training screen is on top (False once the app's screen stacks are emptied
        at exit: a worker's last state change can be handled after that)."""
        try:
            return _is_training_screen(self.screen)
        except ScreenStackError:
            return False

    def _training_error(self, error: BaseException | None) -> None:
        if isinstance(error, CnnTuiError):
            text = str(error)
        elif error is None:
            text = "the training worker was cancelled"
        else:
            text = f"training crashed: {type(error).__name__}: {error}"
        if self.monitor is not None and self.monitor.active:
            self.monitor.failed(text)
        if not self._quitting:
            self.notify(text, severity="error", title="Cannot train")
        self._after_run()

    def _after_run(self) -> None:
        self._pause.clear()
        self._sync_training()
        self.refresh_train_label()
        try:
            self.setup_screen.schedule_validate()  # the Keras summary waited for the run
        except (KeyError, IndexError):
            pass

    def action_stop(self) -> None:
        """Stop the run: the engine ends the current batch, evaluates and keeps it as stopped."""
        if not self.training_active:
            self.notify("No run in progress.")
            return
        self._stop.set()
        self._pause.clear()
        if self.monitor is not None:
            self.monitor.status = "stopping"
            self.monitor.add_log("warning", "stop requested: ending the current batch, then evaluating")
        self._sync_training()
        self.refresh_train_label()

    def action_pause(self) -> None:
        """Pause or resume the run (the engine waits while the pause event is set)."""
        if not self.training_active or self._stop.is_set():
            return
        paused = not self._pause.is_set()
        if paused:
            self._pause.set()
        else:
            self._pause.clear()
        if self.monitor is not None:
            # The status line says it at once; the log gets the engine's own lines ("paused at
            # epoch E, step S" when the loop stops, "resumed"), not a second copy from here.
            self.monitor.set_paused(paused)
        self._sync_training()
        self.refresh_train_label()

    # -- quitting -------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Quit; a run in progress is stopped and stored first (bounded wait)."""
        if not self.training_active or self._quitting:
            self.exit()
            return
        self._quitting = True
        self._stop.set()
        self._pause.clear()
        if self.monitor is not None:
            self.monitor.status = "stopping"
            self.monitor.add_log("warning", "quitting: stopping the run and storing it...")
        self.notify("Stopping the run before quitting (q again quits at once)...", timeout=self.QUIT_WAIT_SECONDS)
        self._quit_when_stored()

    @work(group="quit", exclusive=True)
    async def _quit_when_stored(self) -> None:
        deadline = time.monotonic() + self.QUIT_WAIT_SECONDS
        while self.training_active and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.exit()
