"""``--render-stems``: a training set built offline from MIDI songs and sampled instruments.

Each song is split by MIDI channel (channel 10 -> drums, GM programs 32-39 -> bass, the rest ->
other), each part rendered by FluidSynth with reverb and chorus off (so the parts sum to the
full render), and written as a MUSDB18-HQ-layout track folder: ``drums.wav``, ``bass.wav``,
``other.wav`` (and ``vocals.wav`` when singing voices are given), plus ``mixture.wav``.
Per track the SoundFont, GM programs (within their family), transposition, tempo and gains vary;
drums are rendered with a real multi-sampled acoustic kit (the AVL drum kits) when one is
installed, in some tracks; each part is placed in the stereo field and gets its own EQ,
compression and reverb (pedalboard), as a mix engineer would; voices vary in pitch and formants.
Songs, SoundFonts and voices for ``--render-split validation`` are disjoint from training's.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import resample
from ..constants import SAMPLE_RATE
from ..errors import MixinError
from ..progress import progress_bar
from .mir1k import read_clip, split_for, voice_groups, voice_key

SONG_DIRS = [Path("/usr/share/games/openttd/baseset/openmsx")]
DRUM_KIT_GLOB = "*_LV2.sf2"
"""Drum-kit SoundFonts (Debian's avldrums.lv2-soundfont: real acoustic kits, bank 0 only); they
render drum parts, never melodic ones."""
REAL_KIT_SHARE = 0.6  # share of tracks whose drums use a real-kit SoundFont when one is installed
SOUNDFONT_DIRS = [Path("/usr/share/sounds/sf2"), Path("/usr/share/sounds/sf3")]
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0
BASS_PROGRAMS = range(32, 40)


@dataclass
class RenderPlan:
    """What one rendered track is made of (recorded in ``render.txt`` beside its stems)."""

    song: Path
    soundfont: Path
    transpose: int
    tempo: float
    program_shift: int
    gains: dict[str, float]
    drum_font: Path | None = None  # a real-kit SoundFont for the drums, else the track's SoundFont
    voice_shift: float = 0.0  # semitones by which the voices' pitch and formants are moved


def recordings_of(folder: Path) -> list[str]:
    """What a rendered track is made of, as its ``render.txt`` records it: its MIDI song
    (``midi:<name>``; ``--tracks`` past the split's songs renders a song again) and the MIR-1K
    songs it sings (:func:`~mixin.data.mir1k.voice_key`); none for a folder rendered elsewhere."""
    try:
        lines = (Path(folder) / "render.txt").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found: list[str] = []
    for line in lines:
        key, _, value = line.partition(" ")
        if key == "song" and value.strip():
            found.append(f"midi:{Path(value.strip()).stem}")
        elif key == "voices":
            found += sorted({voice_key(Path(v.strip())) for v in value.split(",") if v.strip()})
    return found


def find_songs(dirs: Sequence[Path] = SONG_DIRS) -> list[Path]:
    return sorted(p for d in dirs if Path(d).is_dir() for p in Path(d).glob("*.mid"))


def find_soundfonts(dirs: Sequence[Path] = SOUNDFONT_DIRS, pattern: str = "*.sf[23]") -> list[Path]:
    """Installed General MIDI SoundFonts (symlinked aliases such as default-GM.sf2 counted once;
    drum-kit fonts left out); with ``pattern=DRUM_KIT_GLOB``, the drum-kit fonts."""
    seen, fonts = set(), []
    for d in dirs:
        for p in sorted(Path(d).glob(pattern)) if Path(d).is_dir() else []:
            real = p.resolve()
            if pattern != DRUM_KIT_GLOB and real.match(DRUM_KIT_GLOB):
                continue
            if real not in seen and real.exists():
                seen.add(real)
                fonts.append(real)
    return fonts


def drums_on_melodic_channel(midi: Path, out: Path) -> Path:
    """The drum part moved from MIDI channel 10 to channel 1, program 0: drum-kit SoundFonts
    without a percussion bank (the AVL kits) play their kit there."""
    import mido

    mf = mido.MidiFile(str(midi))
    for track in mf.tracks:
        for i, msg in enumerate(track):
            if getattr(msg, "channel", None) == DRUM_CHANNEL:
                track[i] = msg.copy(channel=0, program=0) if msg.type == "program_change" else msg.copy(channel=0)
    mf.save(str(out))
    return out


def pan(mono: np.ndarray, position: float) -> np.ndarray:
    """(n,) -> (2, n) float32, placed at ``position`` (-1 left .. 1 right) with a constant-power pan."""
    angle = (position + 1) * np.pi / 4
    return np.stack((np.cos(angle) * mono, np.sin(angle) * mono)).astype(np.float32)


def produce(part: str, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A mono part as a mix engineer might treat it: placed in the stereo field (constant-power
    pan), then EQ, compression and reverb with random settings (pedalboard). (n,) -> (n, 2)."""
    import pedalboard as pb

    width = {"drums": 0.3, "bass": 0.15, "vocals": 0.1}.get(part, 0.7)
    stereo = pan(audio, rng.uniform(-width, width))
    chain = [
        pb.LowShelfFilter(cutoff_frequency_hz=float(rng.uniform(80, 300)), gain_db=float(rng.uniform(-4, 4))),
        pb.PeakFilter(
            cutoff_frequency_hz=float(np.exp(rng.uniform(np.log(250), np.log(5000)))),
            gain_db=float(rng.uniform(-6, 6)),
            q=float(rng.uniform(0.5, 2)),
        ),
        pb.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(4000, 9000)), gain_db=float(rng.uniform(-6, 4))),
    ]
    if part in ("other", "vocals"):
        chain.insert(0, pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(60, 150))))
    if part == "other" and rng.random() < 0.25:  # overdriven guitars and organs
        chain.insert(0, pb.Distortion(drive_db=float(rng.uniform(10, 30))))
    if rng.random() < {"drums": 0.6, "vocals": 0.8}.get(part, 0.4):
        chain.append(
            pb.Compressor(
                threshold_db=float(rng.uniform(-30, -12)),
                ratio=float(rng.uniform(2, 6)),
                attack_ms=float(rng.uniform(1, 20)),
                release_ms=float(rng.uniform(50, 250)),
            )
        )
    if rng.random() < {"drums": 0.5, "bass": 0.2}.get(part, 0.8):
        chain.append(
            pb.Reverb(
                room_size=float(rng.uniform(0.1, 0.8)),
                damping=float(rng.uniform(0.2, 0.8)),
                wet_level=float(rng.uniform(0.05, 0.3)),
                dry_level=1.0,
                width=1.0,
            )
        )
    out = pb.Pedalboard(chain)(stereo, SAMPLE_RATE)
    out = np.nan_to_num(out[:, : audio.shape[0]]).T
    # The level set by the plan's gain, not by the effects.
    rms_in, rms_out = float(np.sqrt(np.mean(audio**2))), float(np.sqrt(np.mean(out**2) * 2))
    return (out * (rms_in / rms_out if rms_out > 0 else 0.0)).astype(np.float32)


def font_split(fonts: Sequence[Path], split: str) -> list[Path]:
    """The smallest SoundFont is kept for validation when there are several, so the sounds differ."""
    if len(fonts) < 2:
        return list(fonts)
    by_size = sorted(fonts, key=lambda p: p.stat().st_size)
    return by_size[:1] if split == "validation" else by_size[1:]


def part_of(channel: int, program: int) -> str:
    if channel == DRUM_CHANNEL:
        return "drums"
    return "bass" if program in BASS_PROGRAMS else "other"


def split_midi(
    song: Path, out_dir: Path, transpose: int = 0, tempo: float = 1.0, program_shift: int = 0
) -> dict[str, Path]:
    """Write one MIDI file per part (drums, bass, other); returns those holding notes.

    A channel's part follows its current program; tempo, transposition (not on drums) and a
    shift of programs within their GM family of eight are applied here.
    """
    import mido

    try:
        midi = mido.MidiFile(str(song))
    except Exception as exc:
        raise MixinError(song, f"cannot read MIDI ({exc})") from None
    parts = {name: mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat) for name in ("drums", "bass", "other")}
    has_notes = {name: False for name in parts}
    program = [0] * 16
    for track in midi.tracks:
        abs_events: dict[str, list] = {name: [] for name in parts}
        now = 0
        for msg in track:
            now += msg.time
            if msg.is_meta or not hasattr(msg, "channel"):
                if msg.type == "set_tempo":
                    msg = msg.copy(tempo=max(1, int(msg.tempo / tempo)))
                for name in parts:
                    abs_events[name].append((now, msg))
                continue
            ch = msg.channel
            if msg.type == "program_change":
                program[ch] = msg.program
                if ch != DRUM_CHANNEL:
                    family = msg.program - msg.program % 8
                    msg = msg.copy(program=family + (msg.program + program_shift) % 8)
            elif msg.type in ("note_on", "note_off") and ch != DRUM_CHANNEL:
                msg = msg.copy(note=int(np.clip(msg.note + transpose, 0, 127)))
            name = part_of(ch, program[ch])
            if msg.type == "note_on" and msg.velocity > 0:
                has_notes[name] = True
            # Channel set-up (programs, controllers) goes to every part, notes to their own.
            targets = (
                [name] if msg.type in ("note_on", "note_off", "polytouch", "aftertouch", "pitchwheel") else list(parts)
            )
            for t in targets:
                abs_events[t].append((now, msg))
        for name, events in abs_events.items():
            out = mido.MidiTrack()
            last = 0
            for t, msg in events:
                out.append(msg.copy(time=t - last))
                last = t
            parts[name].tracks.append(out)
    paths = {}
    for name, mf in parts.items():
        if has_notes[name]:
            paths[name] = out_dir / f"{name}.mid"
            mf.save(str(paths[name]))
    if not paths:
        raise MixinError(song, "no notes")
    return paths


def fluidsynth_binary() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise MixinError(None, "fluidsynth not found: install it (Debian: apt-get install fluidsynth)")
    return exe


def render_midi(midi: Path, soundfont: Path, out: Path) -> np.ndarray:
    """Render a MIDI file offline (reverb and chorus off), mono float32 at 44.1 kHz."""
    cmd = [
        fluidsynth_binary(),
        "-ni",
        "-q",
        "-R",
        "0",
        "-C",
        "0",
        "-g",
        "0.5",
        "-r",
        str(SAMPLE_RATE),
        "-o",
        "audio.file.format=float",
        "-F",
        str(out),
        str(soundfont),
        str(midi),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise MixinError(
            midi, f"fluidsynth failed ({(proc.stderr or proc.stdout).strip().splitlines()[-1:] or proc.returncode})"
        )
    audio, rate = sf.read(str(out), dtype="float32", always_2d=True)
    return resample(audio, rate, SAMPLE_RATE).mean(axis=1)


def voice_track(clips: Sequence[Path], length: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    """Singing phrases (MIR-1K right channels) laid along ``length`` samples with gaps, their pitch
    and formants moved by ``shift`` semitones (read as if recorded at another rate): another voice."""
    out = np.zeros(length, dtype=np.float32)
    pos = int(rng.uniform(0.5, 3.0) * SAMPLE_RATE)
    order = list(clips)
    while pos < length and order:
        clip = order[int(rng.integers(len(order)))]
        audio, rate = read_clip(clip)
        voice = resample(audio[:, 1:], int(round(rate * 2 ** (shift / 12))), SAMPLE_RATE)[:, 0]  # right channel
        end = min(length, pos + len(voice))
        out[pos:end] += voice[: end - pos]
        pos = end + int(rng.uniform(1.0, 6.0) * SAMPLE_RATE)
    return out


def render_stems(
    out_dir: Path,
    tracks: int,
    *,
    seed: int = 0,
    split: str = "train",
    songs: Sequence[Path] | None = None,
    soundfonts: Sequence[Path] | None = None,
    voice_dir: Path | None = None,
    drum_kits: Sequence[Path] | None = None,
    effects: bool = True,
    max_seconds: float | None = None,
    force: bool = False,
    progress: bool = False,
) -> list[Path]:
    """Render ``tracks`` MUSDB18-HQ-layout track folders into ``out_dir``; returns them."""
    songs = split_for(find_songs(), split) if songs is None else list(songs)
    fonts = font_split(find_soundfonts(), split) if soundfonts is None else list(soundfonts)
    kits = font_split(find_soundfonts(pattern=DRUM_KIT_GLOB), split) if drum_kits is None else list(drum_kits)
    if not songs:
        raise MixinError(None, "no MIDI songs found (Debian: apt-get install openttd-openmsx)")
    if not fonts:
        raise MixinError(None, "no SoundFonts found (Debian: apt-get install fluid-soundfont-gm timgm6mb-soundfont)")
    voices = split_for(voice_groups(voice_dir), split) if voice_dir else []
    if voice_dir and not voices:
        raise MixinError(voice_dir, "no voice clips (.wav/.flac) found")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    bar = progress_bar(progress, total=tracks, unit="track", desc=f"rendering ({split})")
    for i in range(tracks):
        song = songs[i % len(songs)]
        plan = RenderPlan(
            song=song,
            soundfont=fonts[int(rng.integers(len(fonts)))],
            transpose=int(rng.integers(-3, 4)),
            tempo=float(rng.uniform(0.9, 1.1)),
            program_shift=int(rng.integers(0, 8)) if i >= len(songs) else 0,
            gains={p: float(10 ** (rng.uniform(-6, 3) / 20)) for p in ("drums", "bass", "other", "vocals")},
            drum_font=kits[int(rng.integers(len(kits)))] if kits and rng.random() < REAL_KIT_SHARE else None,
            voice_shift=float(rng.uniform(-3, 3)),
        )
        folder = out_dir / f"{split}-{i:04d}-{song.stem}"
        if folder.exists() and not force:
            raise MixinError(folder, "already exists (use --force to overwrite)")
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".render.") as tmp:
            tmp = Path(tmp)
            parts = split_midi(song, tmp, plan.transpose, plan.tempo, plan.program_shift)
            if plan.drum_font is not None and "drums" in parts:
                parts["drums"] = drums_on_melodic_channel(parts["drums"], tmp / "drums-kit.mid")
            audio = {
                name: render_midi(
                    mid, plan.drum_font if name == "drums" and plan.drum_font else plan.soundfont, tmp / f"{name}.wav"
                )
                for name, mid in parts.items()
            }
            n = max(len(a) for a in audio.values())
            if max_seconds:
                n = min(n, int(max_seconds * SAMPLE_RATE))
            stems = {}
            for name in ("drums", "bass", "other"):
                a = np.zeros(n, dtype=np.float32)
                if name in audio:
                    a[: min(n, len(audio[name]))] = audio[name][:n]
                stems[name] = a * np.float32(plan.gains[name])
            if voices:
                group = voices[i % len(voices)]
                stems["vocals"] = voice_track(group, n, rng, plan.voice_shift) * np.float32(plan.gains["vocals"])
            if effects:
                stems = {name: produce(name, a, rng) for name, a in stems.items()}
            peak = max(float(np.abs(sum(stems.values())).max()), 1e-9)
            scale = np.float32(min(1.0, 0.9 / peak))
            staging = tmp / "track"
            staging.mkdir()
            for name, a in stems.items():
                sf.write(str(staging / f"{name}.wav"), a * scale, SAMPLE_RATE, subtype="FLOAT")
            sf.write(str(staging / "mixture.wav"), sum(stems.values()) * scale, SAMPLE_RATE, subtype="FLOAT")
            (staging / "render.txt").write_text(
                f"song {plan.song.name}\nsoundfont {plan.soundfont.name}\ntranspose {plan.transpose}\n"
                f"tempo {plan.tempo:.3f}\nprogram_shift {plan.program_shift}\n"
                f"drum_kit {plan.drum_font.name if plan.drum_font else plan.soundfont.name}\n"
                f"voice_shift {plan.voice_shift:.2f}\neffects {'on' if effects else 'off'}\n"
                + "".join(f"gain_{k} {v:.3f}\n" for k, v in plan.gains.items())
                + (f"voices {', '.join(p.name for p in voices[i % len(voices)])}\n" if voices else "")
            )
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        written.append(folder)
        bar.update(1)
    bar.close()
    return written
