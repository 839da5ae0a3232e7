#!/usr/bin/env python3
"""Speed and memory of ``xtract_mixin.py``'s path: synthetic stereo 44.1 kHz file -> three stems,
for each runtime side by side: ONNX Runtime (the lean path) and TensorFlow/Keras.

Each run is a fresh process (so peak RSS is that run's own): it imports MiXiN and loads the
models (timed apart, as "model load"), then separates the file through
``mixin.files.separate_file`` exactly as the CLI does, reading and writing block by block.
Prints x real time (audio seconds / separation wall seconds), the separation's CPU time (all
threads; on a busy machine a steadier measure of the work than wall time), model load time and
peak RSS, the median of ``--runs`` runs per duration and backend, and whether TensorFlow was
imported.
The onnx runs make TensorFlow unimportable, as on a machine without it.

    .venv/bin/python benchmarks/bench_separate.py                 # 60 s and 600 s, both backends, 3 runs each
    .venv/bin/python benchmarks/bench_separate.py --durations 60 --runs 5 --backends onnx
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_input(path: Path, seconds: float) -> None:
    """Synthetic song, written in 60-s pieces so the parent stays small too."""
    import numpy as np
    import soundfile as sf

    from mixin.data.synth import synth_stems

    with sf.SoundFile(str(path), "w", samplerate=44100, channels=2, subtype="PCM_16") as f:
        done, seed = 0.0, 0
        while done < seconds:
            piece = min(60.0, seconds - done)
            mix = sum(synth_stems(piece, 44100, 2, seed=seed).values())
            f.write(np.clip(0.5 * mix, -1, 1))
            done += piece
            seed += 1


class _NoTensorFlow:
    """A meta-path finder that makes TensorFlow and Keras unimportable, as where they are not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError(f"{name} is blocked by bench_separate.py (a machine without TensorFlow)")
        return None


def child(args: argparse.Namespace) -> None:
    """One measured run; prints a JSON line."""
    if args.backend == "onnx":
        sys.meta_path.insert(0, _NoTensorFlow())
    t0 = time.perf_counter()
    from mixin.files import separate_file
    from mixin.registry import load_separator

    sep = load_separator(
        args.model_dir, overlap=args.crossfade, batch_size=args.batch_size, backend=args.backend, shifts=args.shifts
    )
    load = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as out:
        t1, cpu1 = time.perf_counter(), time.process_time()
        result = separate_file(sep, args.input, outdir=out, force=True)
        wall, cpu = time.perf_counter() - t1, time.process_time() - cpu1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    print(
        json.dumps(
            {
                "audio_s": result.duration,
                "wall_s": wall,
                "cpu_s": cpu,
                "load_s": load,
                "peak_rss_mib": rss,
                "tensorflow": "tensorflow" in sys.modules,
            }
        )
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--durations", type=float, nargs="+", default=[60.0, 600.0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument(
        "--backends",
        nargs="+",
        choices=("onnx", "tensorflow"),
        default=["onnx", "tensorflow"],
        help="runtimes to measure (default: both)",
    )
    p.add_argument("--model-dir", type=Path, default=None, help="default: the shipped models")
    p.add_argument("--crossfade", type=int, default=None, help="default: the CLI's default")
    p.add_argument("--batch-size", type=int, default=None, help="default: the CLI's default")
    p.add_argument("--shifts", type=int, default=1, help="runs averaged over shifted chunk boundaries (default: 1)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--backend", default="onnx", help=argparse.SUPPRESS)
    args = p.parse_args()
    from mixin.constants import BATCH_CHUNKS, CROSSFADE

    args.crossfade = CROSSFADE if args.crossfade is None else args.crossfade
    args.batch_size = BATCH_CHUNKS if args.batch_size is None else args.batch_size
    if args.child:
        child(args)
        return
    print(f"machine: {machine()}")
    print(
        f"{'audio':>7} {'backend':>10} {'runs':>4} {'x real time':>12} {'sep. wall s':>12} {'sep. CPU s':>11} "
        f"{'model load s':>13} {'peak RSS MiB':>13} {'TF imported':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.durations:
            src = Path(tmp) / f"bench_{int(seconds)}s.wav"
            make_input(src, seconds)
            rows: dict[str, list[dict]] = {b: [] for b in args.backends}
            for _ in range(args.runs):  # interleaved, so a change in the machine's load hits both alike
                for backend in args.backends:
                    cmd = [
                        sys.executable,
                        __file__,
                        "--child",
                        "--input",
                        str(src),
                        "--crossfade",
                        str(args.crossfade),
                        "--batch-size",
                        str(args.batch_size),
                        "--backend",
                        backend,
                        "--shifts",
                        str(args.shifts),
                    ]
                    if args.model_dir:
                        cmd += ["--model-dir", str(args.model_dir)]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                    rows[backend].append(json.loads(out.strip().splitlines()[-1]))
            for backend, runs in rows.items():
                med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "load_s", "peak_rss_mib")}
                speed = statistics.median(r["audio_s"] / r["wall_s"] for r in runs)
                tf = "yes" if any(r["tensorflow"] for r in runs) else "no"
                print(
                    f"{seconds:>6.0f}s {backend:>10} {len(runs):>4} {speed:>11.1f}x {med['wall_s']:>12.2f} "
                    f"{med['cpu_s']:>11.2f} {med['load_s']:>13.2f} {med['peak_rss_mib']:>13.0f} {tf:>12}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
