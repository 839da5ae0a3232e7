"""Any file a user has: formats libsndfile cannot read go through ffmpeg (when installed),
streamed; without ffmpeg their error says to install it; --format mp3 writes MP3."""

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from conftest import noise, tones, write_audio
from mixin import ffmpeg
from mixin.audio import probe, read_audio, read_blocks
from mixin.cli.separate import main

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg not installed (scripts/run.sh test installs it)"
)


def run(args, model_dir, capsys):
    code = main([*map(str, args), "--pretrained-model-dir", str(model_dir), "--quiet"])
    return code, capsys.readouterr().err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def encode(src, dst, *codec):
    """``src`` re-encoded by ffmpeg; and what ffmpeg itself decodes it to."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *codec, str(dst)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(dst), "-c:a", "pcm_f32le", f"{dst}.wav"], check=True)
    return sf.read(f"{dst}.wav", dtype="float32", always_2d=True)


@needs_ffmpeg
@pytest.mark.parametrize("name,codec", [("song.m4a", ["-c:a", "aac"]), ("song.mp4", ["-c:a", "libopus"])])
@pytest.mark.slow
def test_separates_what_only_ffmpeg_reads(tmp_path, model_dir, capsys, name, codec):
    src = write_audio(tmp_path / "src.wav", tones(1.5, 48000, 2), 48000, subtype="FLOAT")
    decoded, rate = encode(src, tmp_path / name, *codec)
    info = probe(tmp_path / name)
    assert (info.decoder, info.sample_rate, info.channels, info.frames) == ("ffmpeg", rate, 2, len(decoded))
    code, err = run([tmp_path / name, "--outdir", tmp_path / "out"], model_dir, capsys)
    assert code == 0, err
    stem = name.split(".")[0]
    stems = [
        sf.read(tmp_path / "out" / f"{stem}_{s}.wav", dtype="float32")[0] for s in ("harmonic", "percussive", "vocal")
    ]
    assert all(s.shape == decoded.shape for s in stems)
    np.testing.assert_allclose(sum(stems), decoded, atol=1e-4)


@needs_ffmpeg
def test_ffmpeg_reads_spans_and_whole_files_alike(tmp_path):
    src = write_audio(tmp_path / "src.wav", noise(1.0, 44100, 2), 44100, subtype="FLOAT")
    decoded, _ = encode(src, tmp_path / "clip.m4a", "-c:a", "aac")
    info = probe(tmp_path / "clip.m4a")
    span = np.concatenate(list(read_blocks(info, 1000, start=5000, frames=12345)))
    np.testing.assert_array_equal(span, decoded[5000:17345])
    whole, rate = read_audio(tmp_path / "clip.m4a")
    np.testing.assert_array_equal(whole, decoded)
    part, _ = read_audio(tmp_path / "clip.m4a", start_s=0.5, seconds=0.25)
    np.testing.assert_array_equal(part, decoded[22050 : 22050 + 11025])


@needs_ffmpeg
def test_what_ffmpeg_cannot_read_either_is_one_line(tmp_path, model_dir, capsys):
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(b"not audio at all" * 100)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage")
    code, err = run([junk, corrupt], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {junk}: cannot read audio (ffmpeg: Invalid data found when processing input)",
        f"error: {corrupt}: cannot read audio "
        f"(Error opening '{corrupt}': Error in WAV/W64/RF64 file. Malformed 'fmt ' chunk.)",
    ]  # a format libsndfile knows keeps libsndfile's reason


def test_without_ffmpeg_the_error_says_to_install_it(tmp_path, model_dir, capsys, monkeypatch):
    monkeypatch.setattr(ffmpeg, "binary", lambda: None)
    song = tmp_path / "song.m4a"
    song.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    code, err = run([song], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {song}: cannot read audio: .m4a files need ffmpeg, which is not installed; {ffmpeg.INSTALL_HINT}"
    ]


@pytest.mark.parametrize("rate,channels", [(44100, 2), (22050, 1)])
def test_format_mp3(tmp_path, model_dir, capsys, rate, channels):
    x = tones(1.2, rate, channels)
    src = write_audio(tmp_path / "s.wav", x, rate, subtype="FLOAT")
    code, err = run([src, "--format", "mp3"], model_dir, capsys)
    assert code == 0, err
    for s in ("harmonic", "percussive", "vocal"):
        info = sf.info(str(tmp_path / f"s_{s}.mp3"))
        assert (info.format, info.samplerate, info.channels, info.frames) == ("MP3", rate, channels, len(x))


@pytest.mark.parametrize("rate,channels", [(96000, 2), (44100, 3)])
def test_mp3_refuses_what_it_cannot_hold(tmp_path, model_dir, capsys, rate, channels):
    src = write_audio(tmp_path / "hi.wav", noise(0.1, rate, channels), rate)
    code, err = run([src, "--format", "mp3"], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {src}: MP3 holds 1 or 2 channels at 8 to 48 kHz; this is {channels} channel(s) at {rate} Hz "
        "(use --format wav or flac)"
    ]
    assert not list(tmp_path.glob("hi_*"))


@needs_ffmpeg
@pytest.mark.parametrize("codec", [["-b:a", "128k"], ["-q:a", "2"]], ids=["cbr", "vbr"])
def test_mp3_without_a_length_header_is_read_whole(tmp_path, codec):
    """Without a Xing/Info header libsndfile guesses an MP3's length from its first frame's bit
    rate: past a constant-rate file's end (which it then called truncated), short of a
    variable-rate one's (whose end it never read). ffmpeg counts it exactly."""
    src = write_audio(tmp_path / "src.wav", noise(3.0, 44100, 2), 44100, subtype="FLOAT")
    decoded, _ = encode(src, tmp_path / "bare.mp3", *codec, "-write_xing", "0")
    assert sf.info(str(tmp_path / "bare.mp3")).frames != len(decoded)  # libsndfile's guess
    info = probe(tmp_path / "bare.mp3")
    assert (info.decoder, info.frames) == ("ffmpeg", len(decoded))
    assert sum(len(b) for b in read_blocks(info, 4096)) == len(decoded)
    tagged, _ = encode(src, tmp_path / "tagged.mp3", *codec)
    assert probe(tmp_path / "tagged.mp3").decoder == "soundfile"  # its header is exact: libsndfile reads it


@needs_ffmpeg
def test_without_ffmpeg_a_constant_rate_mp3_is_counted(tmp_path, monkeypatch):
    src = write_audio(tmp_path / "src.wav", noise(3.0, 44100, 2), 44100, subtype="FLOAT")
    decoded, _ = encode(src, tmp_path / "bare.mp3", "-b:a", "128k", "-write_xing", "0")
    monkeypatch.setattr(ffmpeg, "binary", lambda: None)
    info = probe(tmp_path / "bare.mp3")
    assert (info.decoder, info.frames) == ("soundfile", len(decoded))
    assert sum(len(b) for b in read_blocks(info, 4096)) == len(decoded)


@needs_ffmpeg
def test_flac_written_to_a_pipe(tmp_path, model_dir, capsys, monkeypatch):
    """A FLAC streamed to a pipe records no length (libsndfile says 2**63 - 1 and cannot read it)."""
    src = write_audio(tmp_path / "src.wav", noise(1.0, 44100, 2), 44100, subtype="PCM_16")
    with open(tmp_path / "piped.flac", "wb") as out:
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-f", "flac", "-"], stdout=out, check=True)
    info = probe(tmp_path / "piped.flac")
    assert (info.decoder, info.frames) == ("ffmpeg", 44100)
    monkeypatch.setattr(ffmpeg, "binary", lambda: None)
    code, err = run([tmp_path / "piped.flac"], model_dir, capsys)
    assert code == 1
    assert error_lines(err) == [
        f"error: {tmp_path / 'piped.flac'}: cannot read audio: its header records no length (written to a pipe?); "
        f"{ffmpeg.INSTALL_HINT}"
    ]


@needs_ffmpeg
def test_a_video_without_sound(tmp_path, model_dir, capsys):
    video = tmp_path / "silent-film.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=32x32:d=1", "-c:v", "mpeg4", str(video)],
        check=True,
    )
    code, err = run([video], model_dir, capsys)
    assert code == 1 and error_lines(err) == [f"error: {video}: cannot read audio (ffmpeg: no audio stream)"]
