"""``xtract_mixin.py``: outputs, formats, options, and a one-line error for every bad input."""

import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import noise, tones, write_audio
from mixin.cli.separate import main
from mixin.data.synth import write_musdb_track

ROOT = Path(__file__).resolve().parents[1]


def run(args, model_dir, capsys):
    code = main([*map(str, args), "--pretrained-model-dir", str(model_dir), "--quiet"])
    captured = capsys.readouterr()
    return code, captured.err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_outputs_named_and_shaped_like_input(tmp_path, model_dir, capsys):
    x = noise(1.5, 48000, 2)
    src = write_audio(tmp_path / "song.wav", x, 48000)
    code, err = run([src], model_dir, capsys)
    assert code == 0, err
    for s in ("harmonic", "percussive", "vocal"):
        data, sr = sf.read(tmp_path / f"song_{s}.wav", dtype="float32")
        assert sr == 48000 and data.shape == x.shape
    assert "UNTRAINED" in err
    assert not list(tmp_path.glob(".*part"))  # no temporary files left


@pytest.mark.parametrize("fmt,subtype", [("flac", "PCM_16"), ("ogg", "VORBIS"), ("aiff", "PCM_16")])
def test_reads_other_formats_and_mono(tmp_path, model_dir, capsys, fmt, subtype):
    x = noise(0.5, 22050, 1)[:, 0]
    src = write_audio(tmp_path / f"clip.{fmt}", x, 22050, subtype=subtype)
    code, err = run([src, "--outdir", tmp_path / "out", "--format", "flac"], model_dir, capsys)
    assert code == 0, err
    info = sf.info(str(tmp_path / "out" / "clip_vocal.flac"))
    assert (info.samplerate, info.channels, info.frames) == (22050, 1, len(x))


def test_many_files_one_call_and_bad_ones_do_not_stop_the_rest(tmp_path, model_dir, capsys):
    good1 = write_audio(tmp_path / "a.wav", noise(0.3, 44100, 2))
    corrupt = tmp_path / "b.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage")
    good2 = write_audio(tmp_path / "c.wav", noise(0.3, 44100, 2, seed=2))
    missing = tmp_path / "nothere.wav"
    code, err = run([good1, corrupt, good2, missing], model_dir, capsys)
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == 2
    assert lines[0].startswith(f"error: {corrupt}: cannot read audio")
    assert lines[1] == f"error: {missing}: no such file"
    assert "Traceback" not in err
    for name in ("a", "c"):
        assert (tmp_path / f"{name}_vocal.wav").exists()
    assert not (tmp_path / "b_vocal.wav").exists()


def test_pipes_are_refused_before_they_are_opened(tmp_path, model_dir, capsys):
    """An input is probed, then read (and read again for --plot): a named pipe hung on its second
    opening, and <(cat song.wav) lost its header to the probe ("Format not recognised")."""
    import os
    import threading

    stereo = write_audio(tmp_path / "stereo.wav", noise(0.2, 44100, 2))
    fifo = tmp_path / "p.wav"
    os.mkfifo(fifo)
    done = threading.Event()

    def unblock():  # whoever opens the pipe to read gets EOF rather than waiting forever
        while not done.is_set():
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader yet
                pass
            done.wait(0.05)

    threading.Thread(target=unblock, daemon=True).start()
    read, write = os.pipe()
    os.write(write, stereo.read_bytes()[:32768])  # as <(cat stereo.wav) gives it, in one pipe buffer
    os.close(write)
    try:
        pipe = f"/dev/fd/{read}"
        code, err = run([fifo, pipe, "-o", tmp_path / "o"], model_dir, capsys)
    finally:
        done.set()
        os.close(read)
    cause = "not a regular file (a pipe or device: inputs are read more than once; save it to a file)"
    assert (code, error_lines(err)) == (1, [f"error: {fifo}: {cause}", f"error: {pipe}: {cause}"])
    assert not (tmp_path / "o").exists()


def test_zero_samples(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "empty.wav", np.zeros((0, 2), dtype=np.float32))
    code, err = run([src], model_dir, capsys)
    assert code == 1 and error_lines(err) == [f"error: {src}: contains no samples"]


def test_nan_and_inf_samples_leave_nothing_behind(tmp_path, model_dir, capsys):
    x = noise(2.0, 44100, 2)
    x[70000, 1] = np.inf
    src = write_audio(tmp_path / "bad.wav", x, subtype="FLOAT")
    before = src.read_bytes()
    code, err = run([src], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [f"error: {src}: contains NaN or infinite samples (first at sample 70000)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav"]  # no stems, no temporaries
    assert src.read_bytes() == before


def test_samples_too_loud_for_float32_are_refused_not_turned_to_nan(tmp_path, model_dir, capsys):
    """A float file near 1e14 used to give NaN stems and hundreds of warnings."""
    x = noise(2.0, 44100, 2)
    x[50000, 1] = -3e14
    src = write_audio(tmp_path / "absurd.wav", x, subtype="FLOAT")
    code, err = run([src], model_dir, capsys)
    assert code == 1 and error_lines(err) == [
        f"error: {src}: holds samples over 1e+08 (first at sample 50000: 3e+14), 160 dB over full scale: "
        "rescale it to about ±1"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["absurd.wav"]


def test_silent_input_gives_silent_stems(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "quiet.wav", np.zeros((30000, 2), dtype=np.float32))
    code, err = run([src], model_dir, capsys)
    assert code == 0, err
    for s in ("harmonic", "percussive", "vocal"):
        data, _ = sf.read(tmp_path / f"quiet_{s}.wav")
        assert data.shape == (30000, 2) and np.isfinite(data).all() and np.abs(data).max() == 0


def test_shorter_than_one_chunk(tmp_path, model_dir, capsys):
    x = noise(0.01, 44100, 2)  # 441 samples
    src = write_audio(tmp_path / "tiny.wav", x, subtype="FLOAT")
    code, err = run([src], model_dir, capsys)
    assert code == 0, err
    stems = [sf.read(tmp_path / f"tiny_{s}.wav", dtype="float32")[0] for s in ("harmonic", "percussive", "vocal")]
    assert all(s.shape == (441, 2) for s in stems)
    np.testing.assert_allclose(sum(stems), x, atol=1e-5)


def test_existing_outputs_need_force(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "s.wav", noise(0.2, 44100, 1))
    existing = tmp_path / "s_percussive.wav"
    existing.write_bytes(b"keep me")
    code, err = run([src], model_dir, capsys)
    assert code == 1 and error_lines(err) == [f"error: {existing}: already exists (use --force to overwrite)"]
    assert existing.read_bytes() == b"keep me" and not (tmp_path / "s_harmonic.wav").exists()
    code, err = run([src, "--force"], model_dir, capsys)
    assert code == 0 and sf.info(str(existing)).frames == 8820


def test_one_call_never_overwrites_its_own_outputs(tmp_path, model_dir, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_audio(tmp_path / "a" / "song.wav", noise(0.2, 44100, 1))
    second = write_audio(tmp_path / "b" / "song.wav", noise(0.3, 44100, 1, seed=2))
    beside = write_audio(tmp_path / "a" / "song.flac", noise(0.4, 44100, 1, seed=3), subtype="PCM_16")
    out = tmp_path / "out"
    code, err = run([first, second, "--outdir", out, "--force"], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {second}: its stems would overwrite those of {first}, written by this call "
        "(as song_harmonic.wav): give it another --outdir or name"
    ]
    assert sf.info(str(out / "song_vocal.wav")).frames == 8820  # the first file's stems, kept
    code, err = run([first, beside, "--force"], model_dir, capsys)
    assert code == 1 and len(error_lines(err)) == 1 and f"error: {beside}: its stems" in err
    assert sf.info(str(tmp_path / "a" / "song_vocal.wav")).frames == 8820


def test_force_never_overwrites_another_input(tmp_path, model_dir, capsys):
    song = write_audio(tmp_path / "a.wav", noise(0.2, 44100, 1))
    other = write_audio(tmp_path / "a_vocal.wav", noise(0.3, 44100, 1, seed=2), subtype="PCM_24")
    before = other.read_bytes()
    code, err = run([song, other, "--force"], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {song}: its stem a_vocal.wav would overwrite {other}, an input of this call: give it another --outdir"
    ]
    assert other.read_bytes() == before  # still the input: separated from its own samples
    assert sf.info(str(tmp_path / "a_vocal_vocal.wav")).frames == 13230


def test_a_failed_write_leaves_earlier_stems_in_place(tmp_path, model_dir, capsys, monkeypatch):
    """A full disk: libsndfile's FLAC and MP3 encoders drop write errors, so the temporary file
    keeps them; no truncated stem replaces an earlier one, and nothing is left behind."""
    import errno

    from mixin import audio

    src = write_audio(tmp_path / "s.wav", noise(1.0, 44100, 2))
    for fmt in ("flac", "mp3", "wav"):
        earlier = {s: tmp_path / f"s_{s}.{fmt}" for s in ("harmonic", "percussive", "vocal")}
        for path in earlier.values():
            path.write_bytes(b"earlier stem")
        written = [0]
        real_write = audio._PartFile._write

        def full_disk(self, data, written=written, real_write=real_write):
            written[0] += len(data)
            if written[0] > 20000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(self, data)

        monkeypatch.setattr(audio._PartFile, "_write", full_disk)
        code, err = run([src, "--format", fmt, "--force"], model_dir, capsys)
        assert code == 1
        full = f"error: {src}: cannot write its stems to {tmp_path} (No space left on device)"
        assert error_lines(err) == [full], fmt
        assert all(path.read_bytes() == b"earlier stem" for path in earlier.values()), fmt
        assert not list(tmp_path.glob(".*part")), fmt
        monkeypatch.undo()


def test_no_stem_is_put_in_place_unless_all_can_be(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "s.wav", noise(0.2, 44100, 1))
    (tmp_path / "s_harmonic.wav").write_bytes(b"earlier stem")
    (tmp_path / "s_percussive.wav").mkdir()
    code, err = run([src, "--force"], model_dir, capsys)
    assert code == 1 and error_lines(err) == [f"error: {tmp_path / 's_percussive.wav'}: output is a directory"]
    assert (tmp_path / "s_harmonic.wav").read_bytes() == b"earlier stem"


def test_names_near_the_file_systems_limit(tmp_path, model_dir, capsys):
    """The stems' names fit in 255 bytes, so their temporary names must too; a stem's name over
    the limit is refused before separating (it used to fail at the rename, leaving the stems
    whose names fit: a set no rerun without --force could replace)."""
    src = write_audio(tmp_path / ("n" * 228 + ".wav"), noise(0.2, 44100, 1))
    code, err = run([src], model_dir, capsys)
    assert code == 0, err
    assert sf.info(str(tmp_path / ("n" * 228 + "_percussive.wav"))).frames == 8820
    long = write_audio(tmp_path / ("x" * 241 + ".wav"), noise(0.2, 44100, 1))  # x..x_harmonic.wav fits
    code, err = run([long], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {long}: its output name {'x' * 241}_percussive.wav is longer than 255 bytes: rename the input"
    ]
    assert not list(tmp_path.glob("x*_*")) and not list(tmp_path.glob(".*part"))


def test_a_stem_written_meanwhile_by_another_run_is_kept(tmp_path, model_dir, capsys, monkeypatch):
    """Without --force nothing is replaced, not even a file that appeared after the check (two
    runs on one name): the run fails, and takes back the stems it had already put in place."""
    from mixin import audio

    src = write_audio(tmp_path / "s.wav", noise(0.5, 44100, 2))
    finish = audio.AtomicAudioWriter.finish

    def finish_then_another_run_writes(self):
        finish(self)
        if self.path.name == "s_vocal.wav":
            self.path.write_bytes(b"another run's stem")

    monkeypatch.setattr(audio.AtomicAudioWriter, "finish", finish_then_another_run_writes)
    code, err = run([src], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {src}: {tmp_path / 's_vocal.wav'} appeared while separating (use --force to overwrite)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.wav", "s_vocal.wav"]
    assert (tmp_path / "s_vocal.wav").read_bytes() == b"another run's stem"
    code, err = run([src, "--force"], model_dir, capsys)  # --force replaces it
    assert code == 0, err
    assert sf.info(str(tmp_path / "s_vocal.wav")).frames == 22050


def test_a_failed_rename_takes_back_the_stems_put_in_place(tmp_path, model_dir, capsys, monkeypatch):
    import errno

    from mixin import audio

    src = write_audio(tmp_path / "s.wav", noise(0.5, 44100, 2))
    rename = audio.AtomicAudioWriter.rename

    def rename_fails_for_the_last(self, replace=True):
        if self.path.name == "s_vocal.wav":
            raise OSError(errno.EIO, "Input/output error")
        return rename(self, replace)

    monkeypatch.setattr(audio.AtomicAudioWriter, "rename", rename_fails_for_the_last)
    code, err = run([src], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [f"error: {src}: cannot write its stems to {tmp_path} (Input/output error)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.wav"]


def test_stems_clipped_by_the_format_are_named(tmp_path, model_dir, capsys):
    """FLAC and MP3 hold [-1, 1]: a stem beyond it is clipped with a warning (it used to be silent),
    and WAV's float keeps it whole."""
    src = write_audio(tmp_path / "hot.wav", noise(0.5, 44100, 2, scale=1.0), subtype="FLOAT")
    with pytest.warns(UserWarning, match="clipped") as caught:
        code, err = run([src, "--format", "flac"], model_dir, capsys)
    assert code == 0, err
    warning = [str(w.message) for w in caught]
    assert len(warning) == 1 and warning[0].startswith(f"{src}: ")
    assert "clipped to [-1, 1], which flac holds (peak " in warning[0] and "--format wav keeps them whole" in warning[0]
    peak = max(np.abs(sf.read(p)[0]).max() for p in tmp_path.glob("hot_*.flac"))
    assert 0.99 < peak <= 1.0
    with warnings.catch_warnings(record=True) as caught:
        code, err = run([src], model_dir, capsys)
    assert code == 0 and not [w for w in caught if "clipped" in str(w.message)], err
    assert max(np.abs(sf.read(p)[0]).max() for p in tmp_path.glob("hot_*.wav")) > 1.5


def test_too_little_to_separate(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "s.wav", noise(0.2, 44100, 1))
    code, err = run([src, "--duration", "0.00001"], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [f"error: {src}: duration 1e-05 s is less than one sample at 44100 Hz"]
    slow = write_audio(tmp_path / "slow.wav", noise(2.0, 50, 1), 50)
    code, err = run([slow], model_dir, capsys)  # before: a ZeroDivisionError
    assert code == 1
    assert error_lines(err) == [f"error: {slow}: sample rate 50 Hz is too low to separate (at least 1000 Hz)"]
    fast = write_audio(tmp_path / "fast.wav", noise(0.001, 800000, 1), 800000)
    code, err = run([fast], model_dir, capsys)  # before: separated, in time and memory growing with the rate
    assert code == 1
    assert error_lines(err) == [f"error: {fast}: sample rate 800000 Hz is too high to separate (at most 768000 Hz)"]
    assert not list(tmp_path.glob("s_*")) and not list(tmp_path.glob("slow_*")) and not list(tmp_path.glob("fast_*"))


def test_separate_file_checks_its_arguments(tmp_path, separator):
    from mixin.errors import MixinError
    from mixin.files import separate_file

    src = write_audio(tmp_path / "s.wav", noise(0.2, 44100, 1))
    with pytest.raises(MixinError, match="^output format must be one of wav, flac, mp3, not 'ogg'$"):
        separate_file(separator, src, fmt="ogg")
    with pytest.raises(MixinError, match="offset and duration must be numbers of seconds, got 0.0 and nan"):
        separate_file(separator, src, duration=float("nan"))
    assert separate_file(separator, src, duration=float("inf")).frames == 8820  # to the end


def test_flac_refuses_what_it_cannot_hold(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "nine.wav", noise(0.1, 8000, 9), 8000)
    code, err = run([src, "--format", "flac"], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {src}: FLAC holds up to 8 channels at up to 655350 Hz; this is 9 channel(s) at 8000 Hz "
        "(use --format wav)"
    ]


def test_sigterm_unwinds_like_ctrl_c(tmp_path):
    """A ``kill`` (or a scheduler's time limit) mid-file: exit 143, no temporary file left."""
    import argparse
    import os
    import signal

    from mixin.audio import AtomicAudioWriter
    from mixin.cli.common import run as run_command

    def killed_while_writing(args):
        with AtomicAudioWriter(tmp_path / "s.wav", 44100, 1, 100, "wav") as writer:
            writer.write(np.zeros((50, 1), np.float32))
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
        return 0

    previous = signal.getsignal(signal.SIGTERM)
    code = run_command(killed_while_writing, argparse.Namespace(verbose=False))
    assert code == 143 and not list(tmp_path.iterdir())
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_file_given_twice_is_separated_once(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "s.wav", noise(0.2, 44100, 1))
    code = main([str(src), str(tmp_path / "." / "s.wav"), "--pretrained-model-dir", str(model_dir)])
    err = capsys.readouterr().err
    assert code == 0 and not error_lines(err)
    assert f"note: {tmp_path / '.' / 's.wav'}: given more than once, separated once" in err


def test_unwritable_output_directory(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "s.wav", noise(0.2, 44100, 1))
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    code, err = run([src, "--outdir", blocker / "out"], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [f"error: {blocker / 'out'}: cannot create output directory (Not a directory)"]


def test_a_directory_that_refuses_new_files_is_the_documented_error(tmp_path, model_dir, capsys, monkeypatch):
    """A directory that passes the access check but refuses new files (root in /sys/kernel) failed
    on the first temporary stem, outside the write's error handling: `error: x.wav: PermissionError:
    [Errno 13] Permission denied: '/sys/kernel/.x_harmonic.wav.wekz5a63.part'`, the temporary's name
    and all."""
    import errno

    from mixin import audio

    src = write_audio(tmp_path / "x.wav", noise(0.2, 44100, 1))
    out = tmp_path / "out"
    made = []

    def refused(target, suffix=""):
        if made:  # the first stem's temporary was made: the second is refused
            raise PermissionError(errno.EACCES, "Permission denied", str(target.parent / ".x.wekz5a63.part"))
        made.append(real(target, suffix))
        return made[-1]

    real = audio.temporary_beside
    monkeypatch.setattr(audio, "temporary_beside", refused)
    code, err = run([src, "-o", out], model_dir, capsys)
    assert (code, error_lines(err)) == (1, [f"error: {src}: cannot write its stems to {out} (Permission denied)"])
    assert not made[0].exists() and list(out.iterdir()) == []  # the first temporary taken back too


def test_offset_and_duration(tmp_path, model_dir, capsys):
    x = tones(3.0, 16000, 2)
    src = write_audio(tmp_path / "long.wav", x, 16000, subtype="FLOAT")
    code, err = run([src, "--offset", "1", "--duration", "1.5", "--crossfade", "0"], model_dir, capsys)
    assert code == 0, err
    stems = [sf.read(tmp_path / f"long_{s}.wav", dtype="float32")[0] for s in ("harmonic", "percussive", "vocal")]
    assert all(s.shape == (24000, 2) for s in stems)
    span = x[16000:40000]
    assert np.sqrt(np.mean((sum(stems) - span)[500:-500] ** 2)) < 1e-3 * np.sqrt(np.mean(span**2))
    code, err = run([src, "--offset", "5", "--force"], model_dir, capsys)
    assert code == 1 and "outside the file" in error_lines(err)[0]
    code, err = run([src, "--offset", "2.99999", "--force"], model_dir, capsys)  # the last sample, not rounded up
    assert code == 0, err
    assert sf.info(str(tmp_path / "long_vocal.wav")).frames == 1
    for flag, value, message in (("--offset", "-1", "must be 0 or more"), ("--duration", "0", "must be positive")):
        with pytest.raises(SystemExit) as exit_:
            run([src, flag, value, "--force"], model_dir, capsys)
        assert exit_.value.code == 2 and f"{flag}: {message}, got {value}" in capsys.readouterr().err


def test_an_infinite_span_is_refused_as_not_finite(tmp_path, capsys):
    """--duration inf said "must be positive, got inf"."""
    src = write_audio(tmp_path / "x.wav", noise(0.2, 44100, 1))
    for flag, value in (("--duration", "inf"), ("--duration", "nan"), ("--offset", "inf"), ("--mask-power", "inf")):
        with pytest.raises(SystemExit) as exit_:
            main([str(src), flag, value])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.endswith(f"error: argument {flag}: must be a finite number, got {value}\n")


def test_instrumental_writes_two_stems(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "i.wav", noise(0.2, 44100, 2))
    code, err = run([src, "--instrumental"], model_dir, capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("i_*")) == ["i_harmonic.wav", "i_percussive.wav"]


@pytest.mark.slow
def test_plot_writes_png(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "p.wav", noise(1.2, 44100, 2))
    code, err = run([src, "--plot"], model_dir, capsys)
    assert code == 0, err
    png = (tmp_path / "p_nsgt.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000


@pytest.mark.slow
def test_the_summary_line_lists_the_plot_too(tmp_path, model_dir, capsys):
    """README: the summary line lists the outputs; with --plot it left out the PNG."""
    import re

    src = write_audio(tmp_path / "p.wav", noise(0.5, 44100, 2))
    out = tmp_path / "out"
    assert main([str(src), "--plot", "-o", str(out), "--pretrained-model-dir", str(model_dir)]) == 0
    line = capsys.readouterr().out.strip()
    outputs = "p_harmonic.wav, p_percussive.wav, p_vocal.wav, p_nsgt.png"
    assert re.fullmatch(
        rf"{re.escape(str(src))}: 0\.5 s in [0-9.]+ s \([0-9.]+x real time\) -> {re.escape(str(out))}/: {outputs}", line
    ), line


@pytest.mark.slow
def test_a_plot_that_cannot_be_written_says_so_and_keeps_the_stems(tmp_path, model_dir, capsys, monkeypatch):
    """The stems are complete and in place when the plot is drawn: a full disk then was `error:
    p.wav: OSError: [Errno 28] No space left on device`, as if the stems had failed too."""
    import errno

    from matplotlib.figure import Figure

    def full(self, fname, **kwargs):
        Path(fname).write_bytes(b"\x89PNG")  # a part written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    src = write_audio(tmp_path / "p.wav", noise(0.5, 44100, 2))
    out = tmp_path / "out"
    code, err = run([src, "--plot", "-o", out], model_dir, capsys)
    assert (code, error_lines(err)) == (
        1,
        [
            f"error: {src}: cannot write its plot p_nsgt.png to {out} (No space left on device); its stems are "
            "complete and kept: p_harmonic.wav, p_percussive.wav, p_vocal.wav"
        ],
    )
    assert sorted(p.name for p in out.iterdir()) == ["p_harmonic.wav", "p_percussive.wav", "p_vocal.wav"]
    assert sf.info(str(out / "p_vocal.wav")).frames == 22050
    # the stems kept are this call's: another input's of the same names does not replace them, even with --force
    (tmp_path / "b").mkdir()
    other = write_audio(tmp_path / "b" / "p.wav", noise(0.2, 44100, 2))
    code, err = run([src, other, "--plot", "-o", out, "--force"], model_dir, capsys)
    assert code == 1 and error_lines(err)[1] == (
        f"error: {other}: its stems would overwrite those of {src}, written by this call (as p_harmonic.wav): "
        "give it another --outdir or name"
    )
    assert sf.info(str(out / "p_vocal.wav")).frames == 22050


def test_missing_or_wrong_model(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "m.wav", noise(0.2, 44100, 1))
    code, err = run([src], tmp_path / "no-models", capsys)
    assert code == 1 and error_lines(err) == [f"error: {tmp_path / 'no-models'}: model directory not found"]
    bad = tmp_path / "bad-models"
    bad.mkdir()
    for s in ("harmonic", "percussive", "vocal"):
        (bad / f"model_{s}.h5").write_bytes((model_dir / f"model_{s}.h5").read_bytes())
    from mixin.backend import keras_module

    keras = keras_module()
    keras.Sequential([keras.Input(shape=(96, 100, 1)), keras.layers.Conv2D(1, 1)]).save(bad / "model_vocal.h5")
    code, err = run([src], bad, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {bad / 'model_vocal.h5'}: model input shape (None, 96, 100, 1), expected (None, 96, 1948, 1)"
    ]
    assert not (tmp_path / "m_vocal.wav").exists()


def test_bad_option_values(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "o.wav", noise(0.2, 44100, 1))
    code, err = run([src, "--crossfade", "30000"], model_dir, capsys)
    assert code == 2 and "--crossfade must be in [0, 22016)" in err
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit) as exit_:
            main([str(src), "--mask-power", bad])
        assert exit_.value.code == 2
    assert "argument --mask-power: not a number: 'two'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(src), "--batch-size", "0"])
    assert exit_.value.code == 2
    assert "argument --batch-size: must be a whole number >= 1, got 0" in capsys.readouterr().err
    for pair, message in (
        (["--vocal-two-stage", "0.3", "--vocal-remask", "off"], "--vocal-two-stage is a share of the vocal remask"),
        (["--mwf-vocal", "on", "--mwf-iterations", "0"], "--mwf-vocal on adds the vocal to the Wiener filter"),
    ):
        code, err = run([src, *pair], model_dir, capsys)  # usage errors, like any other (they exited 1)
        assert code == 2 and error_lines(err)[0].startswith(f"error: {message}: not with"), err
    assert not list(tmp_path.glob("o_*"))


def test_flags_the_mode_ignores_are_usage_errors(tmp_path, model_dir, capsys):
    """--single-model runs no soft mask and no later stage, --instrumental no vocal stage: their
    flags with it changed nothing and exited 0 (found by comparing stems); now usage errors."""
    src = write_audio(tmp_path / "x.wav", noise(0.2, 44100, 1))
    single = "no effect with --single-model (no soft masks, and no later stage runs)"
    instrumental = "no effect with --instrumental (no vocal stem, so no vocal stage runs)"
    for flags, message in (
        (["--single-model", "--hpss-weight", "1"], f"--hpss-weight: {single}"),
        (["--single-model", "--mask-power", "2"], f"--mask-power: {single}"),
        (["--single-model", "--mwf-iterations", "0", "--mwf-power", "2"], f"--mwf-iterations, --mwf-power: {single}"),
        (
            ["--single-model", "--voice-weight", "0.5", "--vocal-two-stage", "0"],
            f"--voice-weight, --vocal-two-stage: {single}",
        ),
        (["--single-model", "--instrumental", "--vocal-hears", "mix"], f"--vocal-hears: {single}"),
        (["--instrumental", "--voice-weight", "0.5"], f"--voice-weight: {instrumental}"),
        (
            ["--instrumental", "--voice-hears", "mix", "--vocal-hears", "mix"],
            f"--voice-hears, --vocal-hears: {instrumental}",
        ),
        (["--instrumental", "--mwf-vocal", "on"], f"--mwf-vocal: {instrumental}"),
        (
            ["--instrumental", "--vocal-yield", "off", "--vocal-remask", "on"],
            f"--vocal-yield, --vocal-remask: {instrumental}",
        ),
        (["--instrumental", "--vocal-two-stage", "0.3"], f"--vocal-two-stage: {instrumental}"),
    ):
        code, err = run([src, *flags], model_dir, capsys)
        assert (code, err) == (2, f"error: {message}\n"), flags
    assert not list(tmp_path.glob("x_*"))
    # what each mode does hear is still taken
    assert (
        run(
            [src, "--instrumental", "--mask-power", "2", "--hpss-weight", "1", "--mwf-iterations", "1"],
            model_dir,
            capsys,
        )[0]
        == 0
    )
    assert run([src, "--single-model", "--shifts", "2", "--force"], model_dir, capsys)[0] == 0


def test_cdae_flags_for_a_drnn_are_usage_errors(tmp_path, capsys):
    """A DRNN model directory with the CDAEs' flags was refused as a failure (exit 1) once its
    models loaded; README calls such contradictions usage errors: exit 2, before any model loads
    (its config.json says the architecture; this one has no model file to load)."""
    from mixin.cli.evaluate import main as evaluate
    from mixin.registry import ModelConfig

    drnn = tmp_path / "drnn"
    drnn.mkdir()
    ModelConfig.for_arch("drnn").save(drnn)
    src = write_audio(tmp_path / "x.wav", noise(0.2, 44100, 1))
    for flags, given in (
        (["--crossfade", "100"], "--crossfade applies"),
        (["--batch-size", "2", "--instrumental"], "--instrumental, --batch-size apply"),
        (["--vocal-yield", "off", "--mask-power", "2"], "--mask-power, --vocal-yield apply"),
    ):
        code, err = run([src, *flags], drnn, capsys)
        assert (code, err) == (2, f"error: {drnn}: {given} to the cdae architecture only, not to a drnn\n")
    tracks = tmp_path / "tracks"
    write_musdb_track(tracks / "song", 1.0, seed=0)
    args = [str(tracks), "--pretrained-model-dir", str(drnn), "--single-model", "--out", str(tmp_path / "R"), "-q"]
    assert evaluate(args) == 2
    assert (
        capsys.readouterr().err
        == f"error: {drnn}: --single-model applies to the cdae architecture only, not to a drnn\n"
    )
    code, err = run([src], drnn, capsys)  # no flag of the CDAEs': the DRNN loads (and here has no model file)
    assert (code, error_lines(err)) == (1, [f"error: {drnn / 'model_drnn.keras'}: model file not found"])
    assert not list(tmp_path.glob("x_*")) and not (tmp_path / "R").exists()


def test_help_is_fast_and_lists_every_documented_flag():
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(ROOT / "xtract_mixin.py"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert time.perf_counter() - start < 20  # generous: it must not import TensorFlow, not a timing test
    readme = (ROOT / "README.md").read_text()
    import re

    documented = set(re.findall(r"`xtract_mixin.py[^`]*?(--[a-z-]+)", readme)) | set(
        re.findall(r"^\| `(--[a-z-]+)", readme, re.M)
    )
    assert documented, "README documents no xtract_mixin.py flags"
    for flag in documented:
        assert flag in out, f"README documents {flag}, --help does not know it"
