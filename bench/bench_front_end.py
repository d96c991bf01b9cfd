"""Benchmark 1 -- front-end overhead.

Same model (the default preset's `tiny` CNN, built by cnn-tui's builder), same data (a
Fashion-MNIST subset through cnn-tui's tf.data pipeline), same epochs, three ways:

* bare   -- ``keras.Model.fit`` with no cnn-tui callback (only an epoch-end clock);
* engine -- ``cnn_tui.core.engine.train`` headless (events, history, checkpoint,
            TensorBoard scalars, run folder: the product's defaults);
* tui    -- the real Textual app (``CnnTuiApp.run_test``) training with the real engine,
            Training screen shown, live plots redrawing.

Throughput = training images / wall time between consecutive epoch ends, over the
steady-state epochs (epoch 1 -- tracing, warm-up -- is skipped). The three are
interleaved (bare, engine, tui, bare, engine, tui, ...) in one process and each
repetition gives a ratio engine/bare and tui/bare; the figure is the median ratio with
its min-max spread. Target: both >= 0.98.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

TARGET = 0.98


def bare_fit(cfg, dataset) -> list[float]:
    """keras.Model.fit on the same model/pipeline; the periods between epoch ends."""
    import keras

    from cnn_tui.core.data import make_tf_dataset
    from cnn_tui.core.engine.optimizer import make_optimizer
    from cnn_tui.core.models import build_model

    t = cfg.train
    keras.utils.set_random_seed(t.seed)
    model = build_model(cfg.model, cfg.data, dataset.image_shape, dataset.num_classes, seed=t.seed)
    model.compile(
        optimizer=make_optimizer(cfg),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
        jit_compile=t.jit_compile,
    )
    steps = -(-len(dataset.y_train) // t.batch_size)
    train = make_tf_dataset(dataset.x_train, dataset.y_train, t.batch_size, shuffle=True, seed=t.seed, repeat=True)
    val = make_tf_dataset(dataset.x_val, dataset.y_val, t.batch_size, shuffle=False, seed=t.seed, repeat=False)
    ends: list[float] = []

    class Clock(keras.callbacks.Callback):
        async_safe = True  # keeps Keras' async batch dispatch as in the engine

        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    model.fit(train, validation_data=val, epochs=t.epochs, steps_per_epoch=steps, callbacks=[Clock()],
              shuffle=False, verbose=0)
    return [b - a for a, b in zip(ends, ends[1:])]


def engine_run(cfg, runs_dir: Path) -> list[float]:
    from cnn_tui.core.engine import train

    clock = C.EpochClock()
    result = train(cfg, clock, runs_dir=runs_dir)
    if result.status != "completed":
        raise RuntimeError(f"engine run {result.status}: {result.error}")
    return clock.periods()


async def _tui_run(cfg, runs_dir: Path, presets_dir: Path, name: str) -> tuple[list[float], dict[str, Any]]:
    from cnn_tui.core.config import config_to_dict
    from cnn_tui.core.engine import train
    from cnn_tui.core.presets import save_preset
    from cnn_tui.tui.app import CnnTuiApp

    save_preset(name, cfg, presets_dir, overwrite=True)
    clock = C.EpochClock()
    seen: dict[str, Any] = {}

    def engine(config, on_event, stop, **kw):
        # The real engine; the clock only timestamps EpochEnd and forwards every event.
        seen["config"] = config
        clock.forward = on_event
        return train(config, clock, stop, **kw)

    app = CnnTuiApp(runs_dir=runs_dir, preset=name, engine=engine, user_presets_dir=presets_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        setup = app.setup_screen
        await _wait(lambda: setup.config is not None and setup.preset_name == name and app.tf_ready, 120)
        await pilot.press("f5")
        # The UI thread is this one (run_test runs the app on this event loop): its CPU
        # time while the run trains is the front end's own cost (the bench's polling,
        # every 0.25 s so that it wakes the app less often than the app's own timers,
        # included), a steadier figure than the throughput ratio.
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        await _wait(lambda: app.session.monitor is not None and not app.session.monitor.active, 900, poll=0.25)
        ui_cpu = (time.thread_time() - cpu0) / (time.perf_counter() - wall0)
        monitor = app.session.monitor
        info = {
            "ui_thread_cpu": ui_cpu,
            "status": monitor.status,
            "screen_during_run": "training",
            "plot_points": len(monitor.epoch_x),
            "same_config": _same(config_to_dict(seen["config"]), config_to_dict(cfg)),
        }
        # The app opens the Results screen when a run ends: let it finish mounting first.
        from cnn_tui.tui.results import ResultsScreen

        await _wait(lambda: isinstance(app.screen, ResultsScreen), 60)
        await pilot.pause()
        await app.action_quit()
    if info["status"] != "completed":
        raise RuntimeError(f"tui run {info['status']}: {monitor.error}")
    return clock.periods(), info


def _same(a: dict, b: dict) -> bool:
    a, b = dict(a), dict(b)
    a.pop("name", None), b.pop("name", None)
    return a == b


async def _wait(cond, timeout: float, poll: float = 0.05) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(poll)


def main() -> int:
    C.quiet_tf_env()
    p = C.parser(__doc__.splitlines()[1])
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5 quick, 7 full)")
    p.add_argument("--train-limit", type=int, default=None, help="Fashion-MNIST images (default 3000 quick, 8000 full)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 6)")
    args = p.parse_args()
    started = time.perf_counter()
    C.require_fashion()
    reps, limit, epochs = (5, 3000, 6) if args.quick else (7, 8000, 6)
    reps, limit, epochs = args.reps or reps, args.train_limit or limit, args.epochs or epochs
    cfg = C.config("digits-quick", C.fashion_overrides(limit, epochs))

    from cnn_tui.core.data import load_dataset
    from cnn_tui.core.tfimport import import_tf

    import_tf()  # quietly (TF writes to fd 2 on import)

    dataset = load_dataset(cfg.data)
    n_train = len(dataset.y_train)
    tmp = Path(tempfile.mkdtemp(prefix="cnn-tui-bench-"))
    runs_dir, presets_dir = tmp / "runs", tmp / "presets"

    tput: dict[str, list[float]] = {"bare": [], "engine": [], "tui": []}
    ratios: dict[str, list[float]] = {"engine": [], "tui": []}
    tui_info: list[dict[str, Any]] = []
    for rep in range(reps):
        # Rotate the order too, so no variant always runs right after the same other one.
        order = ["bare", "engine", "tui"]
        order = order[rep % 3 :] + order[: rep % 3]
        rates: dict[str, float] = {}
        for kind in order:
            if kind == "bare":
                periods = bare_fit(cfg, dataset)
            elif kind == "engine":
                periods = engine_run(cfg, runs_dir)
            else:
                periods, info = asyncio.run(_tui_run(cfg, runs_dir, presets_dir, f"bench-front-end-{rep}"))
                tui_info.append(info)
            rates[kind] = n_train / C.median(periods)
            tput[kind].append(rates[kind])
            ui = f"  UI thread {tui_info[-1]['ui_thread_cpu']:.1%} of a core" if kind == "tui" else ""
            print(f"  rep {rep + 1}/{reps} {kind:6s} {rates[kind]:8.0f} img/s  periods {[round(p, 3) for p in periods]}"
                  f"{ui}", flush=True)
        for kind in ("engine", "tui"):
            ratios[kind].append(rates[kind] / rates["bare"])

    figures = []
    for kind in ("engine", "tui"):
        r = ratios[kind]
        figures.append(C.figure(f"{kind}_over_bare", f"{kind}/bare throughput", r, target=f">= {TARGET}",
                                met=C.median(r) >= TARGET))
    figures.append(C.figure("tui_ui_thread_cpu", "UI thread CPU while the TUI trains (share of one core)",
                            [i["ui_thread_cpu"] for i in tui_info], digits=3,
                            note="informational: Textual's event loop, screen syncs and plots; time.thread_time() "
                                 "of the app's thread from F5 to the run's end"))
    for kind in ("bare", "engine", "tui"):
        figures.append(C.figure(f"{kind}_img_s", f"{kind} img/s", tput[kind], unit="img/s", digits=0))
    return C.finish("front_end", figures, args, started, train_images=n_train, epochs=epochs,
                    steady_epochs=epochs - 1, repetitions=reps, model="tiny (digits-quick preset)",
                    dataset="fashion_mnist", tui_runs=tui_info)


if __name__ == "__main__":
    raise SystemExit(main())
