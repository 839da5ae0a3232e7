#!/usr/bin/env python3
"""Where the time of ``xtract_mixin.py``'s path goes, stage by stage, for one backend.

Separates a synthetic stereo 44.1 kHz song (or ``--input``) through ``mixin.files.separate_file``
with timers wrapped around each stage: read, resample, NSGT, models, masks, inverse NSGT, the
DRNN's vocal (the second opinion), the HPSS blend's median filtering, the multichannel Wiener
filter's harmonic/percussive split and write. For each stage it prints the CPU time of the threads
inside it (a steady measure even on a busy machine) and their wall time summed over threads
(stages run in several threads at once);
"other" is the process's CPU time outside the timed stages.

    .venv/bin/python benchmarks/profile_separate.py                    # onnx, 60 s
    .venv/bin/python benchmarks/profile_separate.py --backend tensorflow --seconds 30
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMES: dict[str, float] = defaultdict(float)
CPU: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
MAIN = threading.main_thread()
_depth = threading.local()


@contextmanager
def timed(stage: str):
    """Add the time spent inside to ``stage``; nested timers count only in the outermost one."""
    depth = getattr(_depth, "value", 0)
    _depth.value = depth + 1
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        _depth.value = depth
        if depth == 0:
            key = stage if threading.current_thread() is MAIN else f"{stage} (worker)"
            TIMES[key] += time.perf_counter() - t0
            CPU[key] += time.thread_time() - c0
            CALLS[stage] += 1


def wrap(owner, name: str, stage: str) -> None:
    original = getattr(owner, name)

    def timed_call(*args, **kwargs):
        with timed(stage):
            return original(*args, **kwargs)

    setattr(owner, name, timed_call)


def wrap_generator(owner, name: str, stage: str) -> None:
    """Time each ``next()`` of the generator ``owner.name`` returns (what producing a block costs)."""
    original = getattr(owner, name)

    def timed_generator(*args, **kwargs):
        it = iter(original(*args, **kwargs))
        while True:
            with timed(stage):
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    setattr(owner, name, timed_generator)


def instrument() -> None:
    import mixin.audio
    import mixin.files
    import mixin.hpss
    import mixin.separators
    import mixin.spatial
    import mixin.transforms

    wrap_generator(mixin.files, "read_blocks", "read")
    wrap(mixin.audio.Resampler, "__call__", "resample")
    wrap(mixin.transforms.BarkNSGT, "forward", "NSGT")
    wrap(mixin.transforms.BarkNSGT, "inverse", "inverse NSGT")
    wrap(mixin.separators.Separator, "estimate", "models")
    wrap(mixin.separators, "wiener_masks", "masks")
    wrap(mixin.hpss, "hpss_split", "HPSS blend")
    wrap(mixin.separators.DRNNSeparator, "separate_chunks", "DRNN vocal")
    wrap(mixin.spatial, "refine_spectra", "multichannel Wiener")
    wrap(mixin.audio.AtomicAudioWriter, "write", "write")
    wrap(mixin.audio.AtomicAudioWriter, "commit", "write")
    original = mixin.separators.Separator.separate_chunks

    def separate_chunks(self, chunks):  # not a stage: the stages inside are timed on their own
        t0 = time.perf_counter()
        try:
            return original(self, chunks)
        finally:
            TIMES["separate_chunks"] += time.perf_counter() - t0

    mixin.separators.Separator.separate_chunks = separate_chunks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("onnx", "tensorflow"), default="onnx")
    p.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic input (default: 60)")
    p.add_argument("--input", type=Path, help="separate this file instead")
    p.add_argument("--batch-size", type=int, default=None, help="default: the CLI's default")
    args = p.parse_args()

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_separate import make_input

    from mixin.constants import BATCH_CHUNKS
    from mixin.files import separate_file
    from mixin.registry import load_separator

    with tempfile.TemporaryDirectory() as tmp:
        src = args.input
        if src is None:
            src = Path(tmp) / "input.wav"
            make_input(src, args.seconds)
        t0 = time.perf_counter()
        sep = load_separator(backend=args.backend, batch_size=args.batch_size or BATCH_CHUNKS)
        load = time.perf_counter() - t0
        instrument()
        t1, cpu1 = time.perf_counter(), time.process_time()
        result = separate_file(sep, src, outdir=tmp, force=True)
        wall, cpu = time.perf_counter() - t1, time.process_time() - cpu1
    TIMES.pop("separate_chunks", None)
    TIMES.pop("separate_chunks (worker)", None)
    merged_wall: dict[str, float] = defaultdict(float)
    merged_cpu: dict[str, float] = defaultdict(float)
    for key, seconds in TIMES.items():
        stage = key.removesuffix(" (worker)")
        merged_wall[stage] += seconds
        merged_cpu[stage] += CPU.get(key, 0.0)
    print(
        f"{args.backend}: {result.duration:.0f} s of audio in {wall:.2f} s ({result.duration / wall:.1f}x real time); "
        f"model load {load:.2f} s; CPU time {cpu:.2f} s (all threads)"
    )
    print(f"  {'stage':<35} {'CPU s':>7} {'% CPU':>6} {'wall s, summed over threads':>28}")
    for stage, seconds in sorted(merged_cpu.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<35} {seconds:7.3f} {100 * seconds / cpu:6.1f} {merged_wall[stage]:28.3f}")
    rest = cpu - sum(merged_cpu.values())
    print(f"  {'other (products, cross-fades, glue)':<35} {rest:7.3f} {100 * rest / cpu:6.1f}")


if __name__ == "__main__":
    main()
