#!/usr/bin/env python3
"""A stand-in for the held-out "acoustic instruments + percussion" set, where median filtering is
near its best: four-voice chorales (random diatonic progressions, long legato notes) rendered per
voice with sampled strings, winds and brass from Debian's SoundFonts (FluidR3_GM, MuseScore
General), panned, half of them with a little reverb, under real percussion: sonic-pi-samples'
recorded one-shots sequenced in a bar pattern, its drum loops (CC0), or the AVL multi-sampled
acoustic kits. The instruments are *rendered* samples, not performances; the percussion is real.

    bash scripts/install_render_deps.sh full
    .venv/bin/python scripts/make_acoustic_mixes.py OUT_DIR [--seed 2026] [--kinds kit,tabla,...]

Writes OUT_DIR/<name>/{harmonic,drums,mixture}.wav (44.1 kHz stereo float), scored with
``./eval_mixin.py OUT_DIR``. The same seed and kinds give the same files (fluidsynth renders
without its reverb; the reverb is pedalboard's).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mixin.audio import level_gain, read_audio, resample  # noqa: E402
from mixin.constants import SAMPLE_RATE as SR  # noqa: E402
from mixin.data.percussion_mixes import stereo, tile_to  # noqa: E402
from mixin.data.render import pan, render_midi  # noqa: E402

SAMPLES = Path("/usr/share/sonic-pi/samples")
FONTS = {"fr": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), "ms": Path("/usr/share/sounds/sf3/MuseScore_General.sf3")}
KITS = [Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"), Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2")]
ENSEMBLES = [  # GM programs, soprano to bass: strings, winds, mixed, brass, string ensemble
    (40, 40, 41, 42),
    (73, 68, 71, 70),
    (40, 71, 41, 70),
    (73, 40, 60, 42),
    (68, 41, 71, 42),
    (48, 48, 48, 48),
]
RANGES = [(60, 81), (55, 74), (48, 67), (36, 55)]
PANS = [-0.5, -0.15, 0.15, 0.5]
HITS = {  # sonic-pi one-shots and their places in a 4-beat bar
    "kit": [
        ("drum_bass_soft", [0, 2]),
        ("drum_snare_soft", [1, 3]),
        ("drum_cymbal_closed", [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]),
    ],
    "tabla": [
        ("tabla_na", [0, 1.5]),
        ("tabla_te1", [0.5, 2.5]),
        ("tabla_ke1", [1, 3]),
        ("tabla_ghe2", [0, 2]),
        ("tabla_tas1", [3.5]),
    ],
    "snaps": [("perc_snap", [1, 3]), ("perc_snap2", [2.5]), ("drum_cymbal_pedal", [0, 0.5, 1.5, 2, 3.5])],
    "light": [
        ("drum_cymbal_closed", [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]),
        ("elec_tick", [0.25, 2.25]),
        ("perc_snap", [1, 3]),
    ],
}
DEFAULT_KINDS = (
    "kit,tabla,snaps,light,avl,avl_cym,loop_amen,loop_compus,loop_tabla,loop_perc1,loop_safari,loop_breakbeat"
)


def chorale(rng: np.random.Generator, seconds: float, tempo: float) -> list[tuple[float, float, list[int]]]:
    """(start s, duration s, four MIDI notes) chords: diatonic triads, each voice moving to the nearest chord tone."""
    key = int(rng.integers(-5, 6))
    scale = [0, 2, 4, 5, 7, 9, 11]
    beat, t, chords = 60.0 / tempo, 0.0, []
    previous = [72 + key, 67 + key, 60 + key, 48 + key]
    while t < seconds:
        degree = int(rng.choice([0, 1, 3, 4, 5]))
        tones = [(scale[(degree + k) % 7] + key) % 12 for k in (0, 2, 4)]
        duration = beat * float(rng.choice([1, 2, 2, 3, 4]))
        notes = []
        for voice, (low, high) in enumerate(RANGES):
            want = tones[0] if voice == 3 else tones[int(rng.integers(3))]
            notes.append(
                min((n for n in range(low, high + 1) if n % 12 == want), key=lambda n: abs(n - previous[voice]))
            )
        chords.append((t, duration, notes))
        previous, t = notes, t + duration
    return chords


def write_midi(
    notes: list[tuple[float, float, int]], program: int, channel: int, path: Path, velocity: int = 75
) -> Path:
    import mido

    midi = mido.MidiFile(ticks_per_beat=480)  # 120 BPM: 960 ticks a second
    track = mido.MidiTrack()
    midi.tracks.append(track)
    if channel != 9:
        track.append(mido.Message("program_change", channel=channel, program=program))
    events = []
    for start, duration, note in notes:
        events.append((round(start * 960), 1, note, velocity))
        events.append((round((start + duration) * 960), 0, note, 0))
    now = 0
    for tick, on, note, vel in sorted(events, key=lambda e: (e[0], e[1])):
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, channel=channel, note=note, velocity=vel, time=tick - now))
        now = tick
    midi.save(str(path))
    return path


def fit(audio: np.ndarray, n: int) -> np.ndarray:
    """Cut or pad with silence to ``n`` samples (a render is not looped, unlike a drum loop)."""
    return np.pad(audio, [(0, max(0, n - len(audio)))] + [(0, 0)] * (audio.ndim - 1))[:n]


def sample(name: str) -> np.ndarray:
    audio, rate = read_audio(SAMPLES / f"{name}.flac")
    return resample(stereo(audio), rate, SR)


def harmonic(rng: np.random.Generator, index: int, n: int, tempo: float, tmp: Path) -> tuple[np.ndarray, str]:
    font = "ms" if index % 3 else "fr"
    chords = chorale(rng, n / SR + 2, tempo)
    out = np.zeros((n, 2), np.float32)
    for voice, program in enumerate(ENSEMBLES[index % len(ENSEMBLES)]):
        notes = [(start, duration - 0.02, chord[voice]) for start, duration, chord in chords]
        midi = write_midi(notes, program, 0, tmp / f"voice{voice}.mid", velocity=80 if voice == 0 else 70)
        out += pan(fit(render_midi(midi, FONTS[font], tmp / f"voice{voice}.wav"), n), PANS[voice]).T
    if index % 2:
        import pedalboard

        out = pedalboard.Reverb(room_size=0.4, wet_level=0.15, dry_level=0.9)(out.T.copy(), SR).T
    return out.astype(np.float32), font


def percussion(rng: np.random.Generator, kind: str, index: int, n: int, tempo: float, tmp: Path) -> np.ndarray:
    beat = 60.0 / tempo
    if kind.startswith("loop_"):
        return tile_to(sample(kind), n)
    if kind.startswith("avl"):  # kick, snare, hi-hat (and a crash every 8 beats), velocities drawn
        notes = []
        for b in range(int(n / SR / beat) + 1):
            for half in (0.0, 0.5):
                if half == 0:
                    notes.append((b * beat, 0.1, 36 if b % 2 == 0 else 38))
                notes.append(((b + half) * beat, 0.1, 42 if kind == "avl_cym" or half == 0 else 37))
            if kind == "avl_cym" and b % 8 == 0:
                notes.append((b * beat, 0.1, 49))
        out = np.zeros(n, np.float32)
        layer = rng.integers(3, size=len(notes))  # each hit at one of three velocities
        for k, vel in enumerate((60, 85, 110)):
            mine = [note for note, at in zip(notes, layer, strict=True) if at == k]
            midi = write_midi(mine, 0, 0, tmp / f"kit{vel}.mid", velocity=vel)  # the AVL kits play on channel 1
            out += fit(render_midi(midi, KITS[index % 2], tmp / f"kit{vel}.wav"), n)
        return pan(out, 0.0).T * np.float32(np.sqrt(2))
    out = np.zeros((n, 2), np.float32)
    for name, places in HITS[kind]:
        hit = sample(name)
        for bar in np.arange(0, n / SR, 4 * beat):
            for place in places:
                at = int((bar + place * beat) * SR)
                if at < n:
                    end = min(n, at + len(hit))
                    out[at:end] += np.float32(10 ** (rng.uniform(-4, 0) / 20)) * hit[: end - at]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--kinds", default=DEFAULT_KINDS, help=f"percussion per mix (default: {DEFAULT_KINDS})")
    p.add_argument("--seconds", type=float, default=30.0)
    args = p.parse_args(argv)
    if args.out_dir.exists():
        print(f"error: {args.out_dir}: already exists", file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    n = int(args.seconds * SR)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        built = tmp / "built"
        built.mkdir()
        for index, kind in enumerate(args.kinds.split(",")):
            tempo = float(rng.uniform(60, 96))
            harm, font = harmonic(rng, index, n, tempo, tmp)
            perc = percussion(rng, kind, index, n, tempo, tmp)
            level = float(rng.uniform(-8, 0))  # percussion against the instruments, dB
            perc = perc * np.float32(level_gain(perc, harm, level))
            mix = harm + perc
            scale = np.float32(0.9 / np.abs(mix).max())
            folder = built / f"ac{index:02d}_{kind}_{font}"
            folder.mkdir()
            for name, audio in (("harmonic", harm), ("drums", perc), ("mixture", mix)):
                sf.write(str(folder / f"{name}.wav"), audio * scale, SR, subtype="FLOAT")
            print(f"{folder.name}: percussion {level:+.1f} dB", flush=True)
        args.out_dir.parent.mkdir(parents=True, exist_ok=True)
        import shutil

        shutil.move(str(built), str(args.out_dir))  # complete or not at all
    return 0


if __name__ == "__main__":
    sys.exit(main())
