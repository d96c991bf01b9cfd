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
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from cnn_tui.tui.commands import CnnTuiCommands
from cnn_tui.tui import footer_keys
from cnn_tui.tui.compat.app import CompatApp
from cnn_tui.tui.messages import (
    ExperimentTrialFinished,
    ExperimentTrialProgress,
    ExperimentTrialStarted,
    TensorFlowReady,
    TrainingMessage,
    run_message,
)
from cnn_tui.tui.gc_policy import QuietCollector
from cnn_tui.tui.navigation import Navigator
from cnn_tui.tui.session import Session
from cnn_tui.tui.setup import SetupScreen
from cnn_tui.tui.startup import Startup, driver_class

if TYPE_CHECKING:
    from cnn_tui.tui.training import RunMonitor, TrainingScreen


def _training_screen() -> Screen:
    # Imported on first use: plotext costs ~0.1 s that the first paint need not wait for.
    from cnn_tui.tui.training import TrainingScreen

    return TrainingScreen()


class CnnTuiApp(CompatApp):
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
        self.startup = Startup(self)
        """The first paint, the background TensorFlow import, the screens built after it."""
        self.navigator = Navigator(self)
        """Moves between screens; the Results screen kept for the next r."""
        self.executor_factory: Callable[[int], Any] | None = None
        """``workers -> executor`` for parallel studies (tests); None: worker processes."""
        self.session = Session(self)
        """The training job: run numbers, stop/pause/skip, monitors, its one end."""
        self._job: Worker | None = None
        self.collector = QuietCollector()
        """Full garbage collections between key presses (see :mod:`cnn_tui.tui.gc_policy`)."""

    # -- lifecycle (start-up: cnn_tui/tui/startup.py) --------------------------------------
    @property
    def first_paint_seconds(self) -> float | None:
        """Seconds from the app's creation to the Setup screen's first frame (None: not yet)."""
        return self.startup.first_paint_seconds

    @property
    def tf_ready(self) -> bool:
        """TensorFlow is imported (the background import after the first paint ended)."""
        return self.startup.tf_ready

    def get_driver_class(self) -> type:
        return driver_class(super().get_driver_class())

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
        self.startup.first_paint()

    def on_unmount(self) -> None:
        # Threads cannot be killed: make sure a run still going ends so the process can exit.
        self.session.shutdown()
        self.collector.stop()

    def on_tensor_flow_ready(self, message: TensorFlowReady) -> None:
        self.startup.tf_loaded(message)

    # -- screens (moves and the kept Results screen: cnn_tui/tui/navigation.py) ----------
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

    def _goto(self, mode: str) -> None:
        """Show a mode's base screen (pops what was pushed over it)."""
        self.navigator.goto(mode)

    def action_setup(self) -> None:
        self._goto("setup")

    def action_training(self) -> None:
        self._goto("training")

    def action_help(self) -> None:
        from cnn_tui.tui.dialogs.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runs(self) -> None:
        self.navigator.ensure_mode("runs")
        self._goto("runs")

    def action_results(self) -> None:
        run_dir = self.navigator.results_run_dir()
        if run_dir is not None:
            self.open_results(run_dir)

    def open_results(self, run_dir: Path) -> None:
        """Push the Results screen for ``run_dir`` (the one kept when its folder is unchanged)."""
        self.navigator.open_results(run_dir)

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
        return footer_keys.action_state(self, action)

    def refresh_train_label(self) -> None:
        footer_keys.refresh_labels(self)

    # -- training: the session (tui/session.py) decides, the App runs and draws ------------
    @property
    def last_run_dir(self) -> Path | None:
        return self.session.last_run_dir

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
        self.navigator.ensure_mode("experiment")
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
                self.run_worker(self.navigator.prebuild_results(run_dir), group="prewarm", exclusive=True, exit_on_error=False)

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
