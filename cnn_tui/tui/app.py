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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.tui.commands import CnnTuiCommands
from cnn_tui.tui.compat.app import CompatApp, relabel_binding, screen_stacks
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
from cnn_tui.tui.gc_policy import QuietCollector
from cnn_tui.tui.navigation import Navigator
from cnn_tui.tui.setup import SetupScreen
from cnn_tui.tui.startup import Startup, driver_class

if TYPE_CHECKING:
    from cnn_tui.tui.training import RunMonitor, TrainingScreen


def _training_screen() -> Screen:
    # Imported on first use: plotext costs ~0.1 s that the first paint need not wait for.
    from cnn_tui.tui.training import TrainingScreen

    return TrainingScreen()


def _is_training_screen(screen: Screen) -> bool:
    return screen.id == "training"


class CnnTuiApp(ExperimentRunner, CompatApp):
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
        self.startup = Startup(self)
        """The first paint, the background TensorFlow import, the screens built after it."""
        self.navigator = Navigator(self)
        """Moves between screens; the Results screen kept for the next r."""
        self._seq = 0
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._train_worker: Worker | None = None
        self._quitting = False
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
        self._stop.set()
        self._pause.clear()
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
        from cnn_tui.tui.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runs(self) -> None:
        self.navigator.ensure_runs_mode()
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
        if relabel_binding(self, key, description):
            self.refresh_bindings()

    def refresh_train_label(self) -> None:
        if not screen_stacks(self).get(self.current_mode):
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
                        self.navigator.prebuild_results(Path(run_dir)), group="prewarm", exclusive=True,
                        exit_on_error=False,
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
