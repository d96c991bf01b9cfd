"""The cnn-tui Textual app: screens, global keys, the training worker, clean quit.

Start-up stays light: no TensorFlow, Keras or scikit-learn import here. Right after the
first screen has painted, a thread worker imports TensorFlow in the background;
everything that needs it (model summary, training) runs in thread workers too. While the
app runs, fd 2 is silenced (see :mod:`cnn_tui.tui.driver`) so TensorFlow's C++ log lines
never land on the screen.

A training, resume or study is run by the :class:`~cnn_tui.tui.session.Session` (no Textual
there): the App is its host -- it runs the session's job in ONE thread worker
(``group="training"``), posts each core event back as a typed message
(:mod:`cnn_tui.tui.messages`), hands the messages and the worker's end to the session, and
redraws the Training and Experiment screens from the monitors the session owns.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.tui.commands import CnnTuiCommands
from cnn_tui.tui.messages import (
    ExperimentTrialFinished,
    ExperimentTrialProgress,
    ExperimentTrialStarted,
    TensorFlowReady,
    TrainingMessage,
    run_message,
)
from cnn_tui.tui.gc_policy import QuietCollector, end_startup_pause
from cnn_tui.tui.prewarm import PAUSE_SECONDS, mark_styled, prewarm_modes, prewarm_screen
from cnn_tui.tui.session import Session
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


class CnnTuiApp(App):
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

    _experiment_mode = False
    """Whether the Experiment mode was added (on the first E)."""
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
        self.tf_ready = False
        self.tf_seconds: float | None = None
        self.first_paint_seconds: float | None = None
        self._created = time.perf_counter()
        self.executor_factory: Callable[[int], Any] | None = None
        """``workers -> executor`` for parallel studies (tests); None: worker processes."""
        self.session = Session(self)
        """The training job: run numbers, stop/pause/skip, monitors, its one end."""
        self._job: Worker | None = None
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
        self.session.shutdown()
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
        from cnn_tui.tui.help import HelpScreen

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
        return self.session.active

    def _training_anything(self) -> bool:
        return self.session.busy

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "experiment":
            return self.session.study is not None
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
        self._set_binding_description("p", "Resume" if self.session.paused else "Pause")
        self.refresh_bindings()

    # -- training: the session (tui/session.py) decides, the App runs and draws ------------
    @property
    def last_run_dir(self) -> Path | None:
        return self.session.last_run_dir

    @property
    def _quitting(self) -> bool:
        return self.session.quitting

    def action_train(self) -> None:
        """Train the Setup screen's preset with its current toggles."""
        if self.session.refuse_while_active("starting another"):
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
        self.session.train(config, setup.preset_name or config.name)

    def resume_run(self, run: Any) -> None:
        """Continue a crashed, stopped or failed run (a RunInfo) on the Training screen."""
        self.session.resume(run)

    def start_study(self, config: Any, plan: Any, name: str, workers: int = 1) -> bool:
        """Run a study (the Setup screen's experiment dialog); False if a job is running."""
        return self.session.start_study(config, plan, name, workers)

    def action_stop(self) -> None:
        """Stop the run: the engine ends the current batch, evaluates and keeps it as stopped."""
        self.session.stop()

    def action_pause(self) -> None:
        """Pause or resume the run (the engine waits while the pause event is set)."""
        self.session.toggle_pause()

    def action_experiment_dialog(self) -> None:
        """The Setup screen's experiment dialog (command palette)."""
        self._goto("setup")
        self.call_after_refresh(self.setup_screen.action_experiment_dialog)

    def action_experiment(self) -> None:
        """Show the Experiment screen (the queue and the table of the running or last study)."""
        if self.session.study is None:
            self.notify("No experiment yet: press ctrl+e on the Setup screen to define one.")
            return
        if not self._experiment_mode:
            from cnn_tui.tui.experiment import ExperimentScreen

            self.add_mode("experiment", ExperimentScreen)
            self._experiment_mode = True
        self._goto("experiment")

    # Host of the session (see cnn_tui.tui.session.Host)
    def run_job(self, job: Callable[[], Any]) -> None:
        self._job = self.run_worker(job, name="training", group="training", thread=True, exclusive=True,
                                    exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._job and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                         WorkerState.CANCELLED):
            self.session.job_ended(event.worker.result, event.worker.error, event.state == WorkerState.CANCELLED)

    def deliver(self, event: Any, seq: int) -> None:
        message = run_message(event, seq)  # thread-safe, never blocks the training thread
        if message is not None:
            self.post_message(message)

    @on(TrainingMessage)
    def _training_message(self, message: TrainingMessage) -> None:
        self.session.training_event(message.event, message.seq)

    @on(ExperimentTrialStarted)
    @on(ExperimentTrialProgress)
    @on(ExperimentTrialFinished)
    def _trial_message(self, message: ExperimentTrialStarted) -> None:
        self.session.trial_event(message.event, message.seq)

    def run_monitor(self, seq: int, name: str) -> RunMonitor:
        from cnn_tui.tui.training import RunMonitor

        return RunMonitor(seq, preset=name)

    def show_run(self, monitor: RunMonitor, goto: bool) -> None:
        screen = self.training_screen
        if screen is not None:
            screen.attach(monitor)
        if goto:
            self._goto("training")

    def sync(self, training: bool = True, study: bool = False, reload: bool = False) -> None:
        screen = self.training_screen if training else None
        if screen is not None:
            screen.sync(force=True)
        try:
            stack = self.get_screen_stack("experiment") if study else []
        except KeyError:  # not visited yet
            return
        if stack:
            stack[0].sync(force=True, reload=reload)

    def job_done(self) -> None:
        self.sync()
        self.refresh_train_label()
        try:
            self.setup_screen.schedule_validate()  # the Keras summary waited for the run
        except (KeyError, IndexError):
            pass

    def run_stored(self, status: str, run_dir: Path) -> None:
        if self.AUTO_OPEN_RESULTS and self.current_mode == "training" and self.showing_training():
            self.open_results(run_dir)
        else:
            self.notify(f"Run {status}: press r for its results.", title="Training")
            if self.PREWARM_SCREENS:
                self.run_worker(self._prebuild_results(run_dir), group="prewarm", exclusive=True, exit_on_error=False)

    def showing_training(self) -> bool:
        """The Training screen is on top (False once the app's screen stacks are emptied
        at exit: a worker's last state change can be handled after that)."""
        try:
            return self.screen.id == "training"
        except ScreenStackError:
            return False

    # -- quitting -------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Quit; a run in progress is stopped and stored first (bounded wait)."""
        if not self.session.begin_quit():
            self.exit()
            return
        self.notify("Stopping the run before quitting (q again quits at once)...", timeout=self.QUIT_WAIT_SECONDS)
        self._quit_when_stored()

    @work(group="quit", exclusive=True)
    async def _quit_when_stored(self) -> None:
        deadline = time.monotonic() + self.QUIT_WAIT_SECONDS
        while self.training_active and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.exit()
