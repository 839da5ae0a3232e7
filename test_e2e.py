#!/usr/bin/env python3
"""End-to-end check of MiXiN's whole cycle through its real command lines.

Model layers and shapes -> ./train_util.py --prepare-stems -> segment checks -> --create-hdf5
-> HDF5 checks for every source (shapes, split by track) -> --train (all three models) ->
checkpoints and models exist and load -> ./xtract_mixin.py with the fresh models on a mix.

Works in the current directory's ./data, ./model and ./logdir, and refuses to touch existing
ones unless --delete. With STEM_DIR unset it synthesises a small MUSDB18-HQ-layout stem folder
(so it runs anywhere); with STEM_DIR set it uses that (then mind --segment-duration and
--track-limit), and separates its first track that loads at the end (picked before training; a
folder without a mixture file is mixed from its stems). Small settings: a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
WORK_DIRS = ("data", "model", "logdir")


def say(msg: str) -> None:
    print(f"[MiXiN e2e test] {msg}", flush=True)


def check(condition: bool, msg: str) -> None:
    if not condition:
        say(f"FAILED: {msg}")
        raise SystemExit(1)


def run(*args: str) -> str:
    cmd = [sys.executable, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        say(f"FAILED: {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        raise SystemExit(1)
    return proc.stdout


def separation_input(stem_dir: Path) -> tuple[np.ndarray, int]:
    """The mix the fresh models separate at the end, picked before training: the first track of
    ``stem_dir`` (as --prepare-stems finds them; stray files are no tracks) that loads as
    eval_mixin.py loads it: its mixture file, or its stems summed where it has none. A one-line
    :class:`~mixin.errors.MixinError` if none does."""
    from mixin.data.stems import discover
    from mixin.errors import MixinError
    from mixin.evaluation.scoring import load_tracks

    reasons = []
    for track in discover([stem_dir]):
        stems = [f for files in track.stems.values() for f in files]
        path = track.clip or (stems[0].parent if stems else None)
        if path is None:
            reasons.append(f"{track.name}: no stems")
            continue
        loaded = load_tracks(path.parent, "mir1k" if track.clip else "folders", [path.name])[0]
        if not loaded.skipped:
            return loaded.mix, loaded.rate
        reasons.append(f"{track.name}: {loaded.skipped}")
    raise MixinError(stem_dir, f"no track to separate at the end ({'; '.join(reasons) or 'no tracks'})")


def main() -> int:
    from mixin.cli.common import at_least, positive_float
    from mixin.data.hdf5 import MIN_TRACKS

    tracks = at_least(MIN_TRACKS)  # the HDF5 split puts whole tracks in train, validation and test

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--delete", action="store_true", help="delete ./data, ./model and ./logdir first")
    p.add_argument(
        "--tracks", type=tracks, default=4, help="synthetic tracks when STEM_DIR is unset (default: 4; 3 at least)"
    )
    p.add_argument("--segment-duration", type=positive_float, default=2.0, help="default: 2")
    p.add_argument("--track-limit", type=tracks, default=None)
    p.add_argument("--epochs", type=at_least(1), default=2)
    args = p.parse_args()

    import numpy as np
    import soundfile as sf

    say("Early sanity check - Keras model layers and dimensions...")
    from mixin.cdae import CDAE_PARAMETERS, build_cdae, load_cdae

    model = build_cdae()
    check(model.count_params() == CDAE_PARAMETERS, f"CDAE has {model.count_params()} parameters")
    check(
        tuple(model.input_shape) == (None, 96, 1948, 1) and tuple(model.output_shape) == (None, 96, 1948, 1),
        "CDAE shapes",
    )
    say("good!")

    existing = [d for d in WORK_DIRS if Path(d).exists()]
    if existing and not args.delete:
        say(f"refusing to overwrite existing {', '.join(existing)} in {Path.cwd()} (pass --delete)")
        return 1
    tmp = tempfile.TemporaryDirectory(prefix="mixin-e2e-")
    stem_dir = os.environ.get("STEM_DIR")
    if stem_dir:
        say(f"Using STEM_DIR={stem_dir}")
    else:
        from mixin.data.synth import write_musdb_track

        stem_dir = str(Path(tmp.name) / "stems")
        for i in range(args.tracks):
            write_musdb_track(Path(stem_dir) / f"song{i}", 2.5 * args.segment_duration, seed=i)
        say(f"STEM_DIR unset: synthesised {args.tracks} MUSDB18-HQ-layout tracks in {stem_dir}")
    from mixin.errors import MixinError

    try:
        song_mix, song_rate = separation_input(Path(stem_dir))  # before minutes of training, not after
    except MixinError as exc:
        say(f"FAILED: {exc}")
        return 1
    for d in existing:
        say(f"Deleting {d}/")
        shutil.rmtree(d)

    say("Preparing stems with train util")
    prep = ["--prepare-stems", "--stem-dirs", stem_dir, "--segment-duration", str(args.segment_duration), "--quiet"]
    if args.track_limit:
        prep += ["--track-limit", str(args.track_limit)]
    run(str(ROOT / "train_util.py"), *prep)

    say("Verifying prepared segments (count, duration, rate, sources)")
    manifest = json.loads(Path("data/segments.json").read_text())
    segments = manifest["segments"]
    tracks = {s["track"] for s in segments}
    check(len(segments) >= 2 * len(tracks), f"{len(segments)} segments from {len(tracks)} tracks")
    for seg in segments:
        folder = Path("data") / seg["id"]
        names = sorted(p.stem for p in folder.glob("*.wav"))
        check(names == sorted(["mix", *seg["sources"]]), f"{folder}: files {names} vs sources {seg['sources']}")
        check(("vocal" in seg["sources"]) == seg["vocal_mix"], f"{folder}: vocal mix flag")
        infos = [sf.info(str(f)) for f in folder.glob("*.wav")]
        check({(i.samplerate, i.channels) for i in infos} == {(44100, 1)}, f"{folder}: not mono 44.1 kHz")
        check(len({i.frames for i in infos}) == 1, f"{folder}: stems differ in length")
        check(infos[0].frames <= args.segment_duration * 44100 + 1, f"{folder}: longer than a segment")
        mix = sf.read(str(folder / "mix.wav"))[0]
        total = sum(sf.read(str(folder / f"{s}.wav"))[0] for s in seg["sources"])
        check(np.allclose(mix, total, atol=1e-5), f"{folder}: mix is not the sum of its stems")
    say("good")

    say("Creating hdf5 with train util")
    run(str(ROOT / "train_util.py"), "--create-hdf5", "--quiet")
    say("Verifying dimensionality of hdf5 files (every source) and the split by track")
    import h5py

    for source in ("harmonic", "percussive", "vocal"):
        path = Path(f"data/data_{source}.hdf5")
        check(path.exists(), f"{path} missing")
        with h5py.File(path, "r") as h5:
            for split in ("train", "validation", "test"):
                x, y = h5[f"data-x-{split}"], h5[f"data-y-{split}"]
                check(
                    x.shape == y.shape and x.shape[1:] == (96, 1948, 1) and x.shape[0] > 0, f"{path} {split}: {x.shape}"
                )
                check(float(np.abs(x[0]).max()) > 0, f"{path} {split}: first row is all zeros")
            splits = json.loads(h5.attrs["split_tracks"])
            seen = [t for s in splits.values() for t in s]
            check(len(seen) == len(set(seen)), f"{path}: a track is in two splits")
    say("good")

    say(f"Training the 3 networks ({args.epochs} epochs)")
    run(str(ROOT / "train_util.py"), "--train", "--epochs", str(args.epochs), "--batch-size", "8", "--quiet")
    say("Verifying training outputs")
    for source in ("harmonic", "percussive", "vocal"):
        for f in (f"logdir/{source}_last.keras", f"logdir/{source}_history.csv", f"logdir/{source}_loss.png"):
            check(Path(f).exists(), f"{f} missing")
        check(load_cdae(f"model/model_{source}.h5").count_params() == CDAE_PARAMETERS, f"model_{source}.h5")
        check(Path(f"model/model_{source}.onnx").exists(), f"model/model_{source}.onnx (the ONNX export) missing")
    say("good")

    say("Separating a mix with the freshly trained models (their ONNX exports)")
    mix_path = Path(tmp.name) / "mix.wav"
    sf.write(str(mix_path), song_mix, song_rate, subtype="FLOAT")
    run(str(ROOT / "xtract_mixin.py"), "--pretrained-model-dir", "model", "--backend", "onnx", "--quiet", str(mix_path))
    stems = [
        sf.read(str(mix_path.with_name(f"mix_{s}.wav")), dtype="float32", always_2d=True)
        for s in ("harmonic", "percussive", "vocal")
    ]
    check(
        all(sr == song_rate and s.shape == song_mix.shape for s, sr in stems),
        "stem shapes or rates differ from the mix",
    )
    check(np.allclose(sum(s for s, _ in stems), song_mix, atol=1e-4), "stems do not sum to the mix")
    say("finished!")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    from mixin.launch import TRAINING, ensure

    ensure(__file__, install=TRAINING)  # the .venv's Python, where this one lacks the dependencies
    sys.exit(main())
