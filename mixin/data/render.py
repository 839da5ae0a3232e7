"""``--render-stems``: a training set built offline from MIDI songs and sampled instruments.

Each song is split by MIDI channel (channel 10 -> drums, GM programs 32-39 -> bass, the rest ->
other), each part rendered by FluidSynth with reverb and chorus off (so the parts sum to the
full render), and written as a MUSDB18-HQ-layout track folder: ``drums.wav``, ``bass.wav``,
``other.wav`` (and ``vocals.wav`` when singing voices are given), plus ``mixture.wav``.
Per track the SoundFont, GM programs (within their family), transposition, tempo and gains vary.
Songs, SoundFonts and voices for ``--render-split validation`` are disjoint from training's.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from ..audio import resample
from ..constants import SAMPLE_RATE
from ..errors import MixinError
from ..progress import progress_bar
from .mir1k import read_clip, split_for, voice_groups

SONG_DIRS = [Path("/usr/share/games/openttd/baseset/openmsx")]
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


def find_songs(dirs: Sequence[Path] = SONG_DIRS) -> list[Path]:
    return sorted(p for d in dirs if Path(d).is_dir() for p in Path(d).glob("*.mid"))


def find_soundfonts(dirs: Sequence[Path] = SOUNDFONT_DIRS) -> list[Path]:
    """Installed SoundFonts (symlinked aliases such as default-GM.sf2 counted once)."""
    seen, fonts = set(), []
    for d in dirs:
        for p in sorted(Path(d).glob("*.sf[23]")) if Path(d).is_dir() else []:
            real = p.resolve()
            if real not in seen and real.exists():
                seen.add(real)
                fonts.append(real)
    return fonts


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


def split_midi(song: Path, out_dir: Path, transpose: int = 0, tempo: float = 1.0, program_shift: int = 0) -> dict[str, Path]:
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
            targets = [name] if msg.type in ("note_on", "note_off", "polytouch", "aftertouch", "pitchwheel") else list(parts)
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
    cmd = [fluidsynth_binary(), "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SAMPLE_RATE),
           "-o", "audio.file.format=float", "-F", str(out), str(soundfont), str(midi)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise MixinError(midi, f"fluidsynth failed ({(proc.stderr or proc.stdout).strip().splitlines()[-1:] or proc.returncode})")
    audio, rate = sf.read(str(out), dtype="float32", always_2d=True)
    return resample(audio, rate, SAMPLE_RATE).mean(axis=1)


def voice_track(clips: Sequence[Path], length: int, rng: np.random.Generator) -> np.ndarray:
    """Singing phrases (MIR-1K right channels) laid along ``length`` samples with gaps."""
    out = np.zeros(length, dtype=np.float32)
    pos = int(rng.uniform(0.5, 3.0) * SAMPLE_RATE)
    order = list(clips)
    while pos < length and order:
        clip = order[int(rng.integers(len(order)))]
        audio, rate = read_clip(clip)
        voice = resample(audio[:, 1:], rate, SAMPLE_RATE)[:, 0]  # right channel
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
    max_seconds: float | None = None,
    force: bool = False,
    progress: bool = False,
) -> list[Path]:
    """Render ``tracks`` MUSDB18-HQ-layout track folders into ``out_dir``; returns them."""
    songs = split_for(find_songs(), split) if songs is None else list(songs)
    fonts = font_split(find_soundfonts(), split) if soundfonts is None else list(soundfonts)
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
        )
        folder = out_dir / f"{split}-{i:04d}-{song.stem}"
        if folder.exists() and not force:
            raise MixinError(folder, "already exists (use --force to overwrite)")
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".render.") as tmp:
            tmp = Path(tmp)
            parts = split_midi(song, tmp, plan.transpose, plan.tempo, plan.program_shift)
            audio = {name: render_midi(mid, plan.soundfont, tmp / f"{name}.wav") for name, mid in parts.items()}
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
                stems["vocals"] = voice_track(group, n, rng) * np.float32(plan.gains["vocals"])
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
