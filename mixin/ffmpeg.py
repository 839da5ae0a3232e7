"""Decoding with ffmpeg, for the formats libsndfile cannot read (m4a/AAC, mp4, opus in mp4, wma, ...).

Used only when an ``ffmpeg`` binary is on PATH. ffmpeg decodes the file's first audio stream to
32-bit float WAV on a pipe; the WAV header gives the rate and channel count, and the samples are
read block by block, so a long file never sits whole in memory (the process is ended when the
reader stops early).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

INSTALL_HINT = "install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg)"
COUNT_READ = 1 << 20  # bytes per read when counting samples


class FFmpegError(Exception):
    """ffmpeg is missing or could not decode a file; ``str()`` is its last error line."""


def binary() -> str | None:
    """The ffmpeg on PATH, or None."""
    return shutil.which("ffmpeg")


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def _wav_header(stream: IO[bytes]) -> tuple[int, int]:
    """Read a WAV header up to its data chunk: (sample rate, channels). ffmpeg writes the sizes
    of a piped file as unknown, so the data chunk's size is not used."""
    riff = _read_exact(stream, 12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise FFmpegError("no decoded audio")
    fmt = None
    while True:
        head = _read_exact(stream, 8)
        if len(head) < 8:
            raise FFmpegError("no decoded audio")
        chunk, size = head[:4], int.from_bytes(head[4:], "little")
        if chunk == b"data":
            break
        body = _read_exact(stream, size + (size & 1))
        if chunk == b"fmt ":
            fmt = body
    if fmt is None or len(fmt) < 16:
        raise FFmpegError("no format chunk in ffmpeg's output")
    return int.from_bytes(fmt[4:8], "little"), int.from_bytes(fmt[2:4], "little")


@contextmanager
def _decoding(path: Path) -> Iterator[tuple[IO[bytes], int, int]]:
    """ffmpeg decoding ``path``: (its float32 sample stream, sample rate, channels)."""
    exe = binary()
    if exe is None:
        raise FFmpegError(f"ffmpeg is not installed: {INSTALL_HINT}")
    command = [
        exe,
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-i",
        f"file:{path}",
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-map_metadata",
        "-1",
        "-c:a",
        "pcm_f32le",
        "-f",
        "wav",
        "-",
    ]
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a flood of decoder errors cannot block ffmpeg
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)

        def failure(default: str) -> FFmpegError:
            proc.wait()
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            if any("matches no streams" in line for line in lines):  # -map 0:a:0 in a file without audio
                return FFmpegError("no audio stream")
            return FFmpegError(lines[-1].removeprefix(f"file:{path}: ") if lines else default)

        try:
            try:
                rate, channels = _wav_header(proc.stdout)
            except FFmpegError as exc:
                raise failure(str(exc)) from None
            yield proc.stdout, rate, channels
            if not proc.stdout.peek(1) and proc.wait() != 0:  # read to the end: did ffmpeg get there?
                raise failure(f"ffmpeg exited with status {proc.returncode}")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.wait()


def probe(path: Path) -> tuple[int, int, int]:
    """(sample rate, channels, samples) of ``path``'s first audio stream. The count is exact:
    the file is decoded once (streamed; compressed formats record no exact length)."""
    with _decoding(path) as (stream, rate, channels):
        size = 0
        while chunk := stream.read(COUNT_READ):
            size += len(chunk)
    return rate, channels, size // (4 * channels)


def decode(path: Path, blocksize: int, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """float32 blocks (n, channels) of ``count`` samples (default: all) from sample ``start``."""
    with _decoding(path) as (stream, _, channels):
        frame = 4 * channels
        skip = start * frame
        while skip > 0:
            got = len(stream.read(min(skip, COUNT_READ)))
            if not got:
                return
            skip -= got
        remaining = count
        while remaining is None or remaining > 0:
            want = blocksize if remaining is None else min(blocksize, remaining)
            data = stream.read(want * frame)
            usable = len(data) - len(data) % frame
            if not usable:
                return
            block = np.frombuffer(data[:usable], dtype="<f4").reshape(-1, channels)
            if remaining is not None:
                remaining -= len(block)
            yield block
