#!/usr/bin/env python3
"""Training throughput: chunks per second for --create-hdf5 and for --train (one CDAE).

Builds a small synthetic data set (MUSDB18-HQ-layout tracks from ``mixin.data.synth``), then times
``create_hdf5`` for one source and ``--train`` epochs streamed from that file through tf.data.
The first epoch (graph tracing) is reported apart; the figure is the median of the others.

    .venv/bin/python benchmarks/bench_train.py [--tracks 6 --seconds 20 --epochs 4 --batch-size 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_separate import machine  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tracks", type=int, default=6)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args()

    from mixin.backend import keras_module
    from mixin.cdae import build_cdae
    from mixin.data.hdf5 import create_hdf5
    from mixin.data.stems import prepare_stems
    from mixin.data.synth import write_musdb_track
    from mixin.training.cdae import split_dataset

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.tracks):
            write_musdb_track(root / "stems" / f"s{i}", args.seconds, seed=i)
        prepare_stems([root / "stems"], root / "data", segment_duration=10)
        t0 = time.perf_counter()
        counts = create_hdf5(root / "data", ["harmonic"], seed=0)["harmonic"]
        hdf5_s = time.perf_counter() - t0
        total = sum(counts.values())
        print(f"create-hdf5: {total} chunks in {hdf5_s:.1f} s = {total / hdf5_s:.1f} chunks/s (one source)")

        keras = keras_module()
        path = root / "data" / "data_harmonic.hdf5"
        train, n = split_dataset(path, "harmonic", "train", args.batch_size, True, 0)
        model = build_cdae()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
        times = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.t)

        model.fit(train, epochs=args.epochs, callbacks=[Timer()], verbose=0, shuffle=False)
        steady = statistics.median(times[1:]) if len(times) > 1 else times[0]
        print(
            f"train: {n} chunks per epoch, batch {args.batch_size}; first epoch {times[0]:.1f} s; "
            f"then median {steady:.1f} s = {n / steady:.1f} chunks/s (one CDAE; three models take three times as long)"
        )


if __name__ == "__main__":
    main()
