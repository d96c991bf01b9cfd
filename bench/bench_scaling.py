"""Benchmark 6 -- scaling curve.

All runs go through ``cnn_tui.core.engine.train`` (headless, product defaults) in one
process; epoch time = wall time between consecutive EpochEnd events (the first epoch --
tracing -- is never a period), median over a run's steady epochs. The *cost* used for the
two targets is the CPU time the process spent in that period (``time.process_time``, all
threads): it measures the work done and barely moves when other processes share the cores,
where a single wall-clock epoch on this machine varies by 10-30 %. Wall times are reported
alongside.

* images   -- the default preset's `tiny` CNN on 1k, 5k, 20k and 60k Fashion-MNIST
              training images (``validation_split = 0``, so the training set is exactly
              that size). Linear in images means the cost per image does not rise with
              the set: figure (t60k / 60k) / (t20k / 20k), target <= 1.15 (a fixed
              per-epoch cost only makes small sets dearer per image, never large ones).
* history  -- 1k images for many epochs: median of the last 5 epoch times / median of
              epochs 2-6. Per-epoch work that grows with the run's history (re-reading
              the history file, redrawing all points, saving ever more) shows up as a
              ratio above 1; target <= 1.15.
* model    -- two presets on the same images (500 quick, 2,000 full): `digits-quick` (tiny CNN) and
              `mnist-study` (5 convs + dense 256, batch norm, dropout): epoch time vs
              parameter count (informational).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import _common as C

TARGET_LINEAR = 1.15
TARGET_HISTORY = 1.15


def epoch_times(preset: str, overrides: list[str], runs_dir: Path) -> tuple[list[float], list[float], int, int]:
    from cnn_tui.core.engine import train

    cfg = C.config(preset, overrides)
    clock = C.EpochClock()
    params = {}

    def on_event(event):
        if type(event).__name__ == "RunStarted":
            params["n"] = event.params
            params["train"] = event.train_size

    clock.forward = on_event
    result = train(cfg, clock, runs_dir=runs_dir)
    if result.status != "completed":
        raise RuntimeError(f"{preset} {overrides}: {result.status} {result.error}")
    return clock.periods(), clock.cpu_periods(), params["n"], params["train"]


def main() -> int:
    C.quiet_tf_env()
    args = C.parser(__doc__.splitlines()[1]).parse_args()
    started = time.perf_counter()
    C.require_fashion()
    from cnn_tui.core.tfimport import import_tf

    import_tf()
    runs_dir = Path(tempfile.mkdtemp(prefix="cnn-tui-bench-scaling-")) / "runs"
    q = args.quick
    sizes = {1000: 4 if q else 6, 5000: 3 if q else 4, 20000: 2 if q else 3, 60000: 2 if q else 3}
    history_epochs = 16 if q else 40
    model_images, model_epochs = (500, 3) if q else (2000, 4)

    curve: dict[int, dict] = {}
    for n, epochs in sizes.items():
        over = ["data.dataset=fashion_mnist", "data.validation_split=0", "data.test_limit=1000", f"train.epochs={epochs}"]
        if n < 60000:
            over.append(f"data.train_limit={n}")
        periods, cpu, params, train_n = epoch_times("digits-quick", over, runs_dir)
        curve[n] = {"train_images": train_n, "periods": periods, "cpu_periods": cpu, "epoch_s": C.median(periods),
                    "cpu_s": C.median(cpu), "cpu_us_per_image": C.median(cpu) / train_n * 1e6,
                    "wall_us_per_image": C.median(periods) / train_n * 1e6}
        print(f"  images {train_n:6d}: epoch {curve[n]['epoch_s']:.2f} s wall, {curve[n]['cpu_s']:.2f} s CPU "
              f"({curve[n]['cpu_us_per_image']:.0f} CPU us/image) periods {[round(p, 2) for p in periods]}", flush=True)

    over = C.fashion_overrides(1000, history_epochs, test_limit=500)
    hist, hist_cpu, _, _ = epoch_times("digits-quick", over, runs_dir)
    early, late = hist_cpu[:5], hist_cpu[-5:]
    history_ratio = C.median(late) / C.median(early)
    wall_ratio = C.median(hist[-5:]) / C.median(hist[:5])
    print(f"  history: {len(hist)} periods, CPU first {C.median(early):.3f} s, last {C.median(late):.3f} s; "
          f"wall ratio {wall_ratio:.2f}", flush=True)

    models = {}
    for preset in ("digits-quick", "mnist-study"):
        over = C.fashion_overrides(model_images, model_epochs, test_limit=500) + ["data.validation_split=0.1"]
        periods, _, params, train_n = epoch_times(preset, over, runs_dir)
        models[preset] = {"params": params, "train_images": train_n, "periods": periods, "epoch_s": C.median(periods)}
        print(f"  model {preset}: {params:,} params, epoch {C.median(periods):.2f} s", flush=True)

    per_image = [curve[n]["cpu_us_per_image"] for n in sizes]
    linear = curve[60000]["cpu_us_per_image"] / curve[20000]["cpu_us_per_image"]
    linear_wall = curve[60000]["wall_us_per_image"] / curve[20000]["wall_us_per_image"]
    small, big = models["digits-quick"], models["mnist-study"]
    figures = [
        C.figure("per_image_60k_over_20k", "CPU cost per image, 60k / 20k images", [linear],
                 target=f"<= {TARGET_LINEAR:g}", met=linear <= TARGET_LINEAR,
                 note="wall epoch s at 1k/5k/20k/60k: " + " / ".join(f"{curve[n]['epoch_s']:.2f}" for n in sizes)
                 + "; CPU us per image: " + " / ".join(f"{v:.0f}" for v in per_image)
                 + f"; wall-time ratio {linear_wall:.2f}"),
        C.figure("history_last_over_first", f"CPU epoch cost, last 5 / epochs 2-6 of {history_epochs}",
                 [history_ratio], target=f"<= {TARGET_HISTORY:g}", met=history_ratio <= TARGET_HISTORY,
                 note=f"CPU s first {C.median(early):.3f}, last {C.median(late):.3f}; wall-time ratio {wall_ratio:.2f}"),
        C.figure("model_size", "epoch time mnist-study / digits-quick", [big["epoch_s"] / small["epoch_s"]],
                 note=f"params {big['params']:,} / {small['params']:,} = {big['params'] / small['params']:.1f} x; "
                      f"epoch {big['epoch_s']:.2f} s / {small['epoch_s']:.2f} s on {small['train_images']} images"),
    ]
    for n in sizes:
        figures.append(C.figure(f"epoch_s_{n}", f"epoch time, {curve[n]['train_images']} images", curve[n]["periods"],
                                unit="s"))
    return C.finish("scaling", figures, args, started, curve={str(k): v for k, v in curve.items()},
                    history_periods=hist, history_cpu_periods=hist_cpu, models=models)


if __name__ == "__main__":
    raise SystemExit(main())
