"""Audio I/O: block-wise reading with checks, streaming resampling, atomic writing.

Everything here streams, so a ten-minute track never sits whole in memory. Files libsndfile
reads (wav, flac, ogg, mp3, aiff, ...) go through soundfile; others (m4a, mp4, wma, ...) through
ffmpeg when it is installed (:mod:`mixin.ffmpeg`).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf

from .constants import MAX_SAMPLE, OUTPUT_SUBTYPES
from .errors import MixinError

__all__ = [
    "AudioInfo",
    "probe",
    "read_audio",
    "read_blocks",
    "resample",
    "Resampler",
    "AtomicAudioWriter",
    "temporary_beside",
    "check_output_format",
]


MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""The sample rates MPEG-1/2/2.5 layer III can hold (and at most two channels)."""

READ_BLOCK = 65536
"""Samples per block when a whole file is read through ffmpeg."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, and which decoder reads it (``soundfile``, or ``ffmpeg`` for the
    formats libsndfile does not know)."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    decoder: str = "soundfile"

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def probe(path: str | Path) -> AudioInfo:
    """Read a file's header; a one-line :class:`MixinError` if it is missing, unreadable or not a
    regular file (a named pipe, ``<(...)``: what reads it opens it again).

    What libsndfile cannot read goes to ffmpeg when it is installed (decoding the file once to
    count its samples exactly); without ffmpeg, such a file's error says to install it.
    """
    path = Path(path)
    if not path.exists():
        raise MixinError(path, "no such file")
    if path.is_dir():
        raise MixinError(path, "is a directory, not an audio file")
    if not path.is_file():  # probed, then read (and read again for --plot): a pipe would be gone or hang
        raise MixinError(
            path, "not a regular file (a pipe or device: inputs are read more than once; save it to a file)"
        )
    if not os.access(path, os.R_OK):
        raise MixinError(path, "permission denied")
    try:
        info = sf.info(str(path))
        rate, channels, frames, decoder = info.samplerate, info.channels, info.frames, "soundfile"
    except Exception as exc:  # libsndfile's messages are one line already
        rate, channels, frames = _probe_with_ffmpeg(path, exc)
        decoder = "ffmpeg"
    else:
        if frames >= UNKNOWN_LENGTH or (info.format == "MP3" and not _mp3_length_recorded(path)):
            frames, decoder = _count_unrecorded(path, info.format)
    if frames <= 0:
        raise MixinError(path, "contains no samples")
    return AudioInfo(path, int(rate), int(channels), int(frames), decoder)


UNKNOWN_LENGTH = 1 << 62
"""Frame counts from here up are libsndfile's "unknown" (2**63 - 1: a FLAC written to a pipe)."""


def _mp3_length_recorded(path: Path) -> bool:
    """Whether an MP3 records its length: a Xing, Info or VBRI header in its first frame. Without
    one, libsndfile guesses the length from the first frame's bit rate, which falls short of a
    variable-rate file's end (and libsndfile reads no further) or past a constant-rate one's."""
    with open(path, "rb") as f:
        head = f.read(10)
        start = 0
        if head[:3] == b"ID3" and len(head) == 10:  # an ID3v2 tag first: its size is synchsafe
            size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
            start = 10 + size + (10 if head[5] & 0x10 else 0)
        f.seek(start)
        data = f.read(1 << 16)
    for i in range(len(data) - 1):
        if data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0:  # the first frame's sync word
            frame = data[i : i + 200]
            return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))
    return False


def _count_unrecorded(path: Path, fmt: str) -> tuple[int, str]:
    """(samples, decoder) of a file whose header does not record its length: ffmpeg's exact
    count where it is installed; else an MP3 counted by libsndfile (exact at a constant bit rate;
    a variable-rate one it reads only as far as its guess), and a FLAC refused."""
    from . import ffmpeg

    if ffmpeg.binary() is not None:
        try:
            return ffmpeg.probe(path)[2], "ffmpeg"
        except ffmpeg.FFmpegError as exc:
            raise MixinError(path, f"cannot read audio (ffmpeg: {exc})") from None
    if fmt != "MP3":
        raise MixinError(
            path, f"cannot read audio: its header records no length (written to a pipe?); {ffmpeg.INSTALL_HINT}"
        )
    count = 0
    try:
        with sf.SoundFile(str(path)) as f:
            while n := len(f.read(READ_BLOCK, dtype="float32", always_2d=True)):
                count += n
    except Exception as exc:
        raise MixinError(path, f"cannot decode audio ({_first_line(exc)})") from None
    return count, "soundfile"


def _soundfile_reads(path: Path) -> bool:
    """Whether ``path``'s suffix names a format libsndfile reads (wav, flac, ogg, mp3, aiff, ...)."""
    known = {f".{name.lower()}" for name in sf.available_formats()} | {".aif", ".oga", ".opus", ".wave"}
    return path.suffix.lower() in known


def _probe_with_ffmpeg(path: Path, soundfile_error: BaseException) -> tuple[int, int, int]:
    """(rate, channels, samples) from ffmpeg, or the one-line error for a file nothing reads:
    libsndfile's message for its own formats, else ffmpeg's, or the advice to install ffmpeg."""
    from . import ffmpeg

    if ffmpeg.binary() is None:
        if _soundfile_reads(path):
            raise MixinError(path, f"cannot read audio ({_first_line(soundfile_error)})") from None
        what = f"{path.suffix.lower()} files" if path.suffix else "this format"
        raise MixinError(path, f"cannot read audio: {what} need ffmpeg, which is not installed; {ffmpeg.INSTALL_HINT}")
    try:
        return ffmpeg.probe(path)
    except ffmpeg.FFmpegError as exc:
        cause = _first_line(soundfile_error) if _soundfile_reads(path) else f"ffmpeg: {exc}"
        raise MixinError(path, f"cannot read audio ({cause})") from None


def read_audio(path: str | Path, start_s: float = 0.0, seconds: float | None = None) -> tuple[np.ndarray, int]:
    """A whole file, or ``seconds`` of it from ``start_s``: float32 (samples, channels) and the
    rate; a one-line :class:`MixinError` naming the file if it cannot be decoded."""
    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            if start_s:
                f.seek(min(f.frames, int(round(start_s * rate))))
            count = -1 if seconds is None else int(round(seconds * rate))
            data = f.read(count, dtype="float32", always_2d=True)
    except Exception as exc:
        info = probe(path)  # the file's one-line error, or ffmpeg's reading of it
        if info.decoder != "ffmpeg":
            raise MixinError(path, f"cannot read audio ({_first_line(exc)})") from None
        start = min(info.frames, int(round(start_s * info.sample_rate)))
        count = None if seconds is None else int(round(seconds * info.sample_rate))
        blocks = _decoded(info, READ_BLOCK, start, info.frames - start if count is None else count)
        return np.concatenate([*blocks, np.zeros((0, info.channels), np.float32)]), info.sample_rate
    return data, int(rate)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _decoded(info: AudioInfo, blocksize: int, start: int, count: int) -> Iterator[np.ndarray]:
    """Blocks of up to ``count`` samples from ``start``, from the file's decoder."""
    if info.decoder == "ffmpeg":
        from . import ffmpeg

        try:
            yield from ffmpeg.decode(info.path, blocksize, start, count)
        except ffmpeg.FFmpegError as exc:
            raise MixinError(info.path, f"cannot decode audio (ffmpeg: {exc})") from None
        return
    with sf.SoundFile(str(info.path)) as f:
        if start:
            f.seek(start)
        while count > 0:
            block = f.read(min(blocksize, count), dtype="float32", always_2d=True)
            if len(block) == 0:
                return
            count -= len(block)
            yield block


def unfit_samples(block: np.ndarray, offset: int = 0) -> str | None:
    """Why the (samples, channels) ``block`` cannot be separated, naming the first bad sample
    (counted from ``offset``): NaN, infinity, or a magnitude over :data:`MAX_SAMPLE`; None if it can."""
    if np.isfinite(block).all():
        over = np.abs(block).max(axis=1, initial=0.0) > MAX_SAMPLE
        if not over.any():
            return None
        first = int(np.argmax(over))
        return (
            f"holds samples over {MAX_SAMPLE:.0e} (first at sample {offset + first}: "
            f"{_shortest(np.abs(block[first]).max())}), 160 dB over full scale: rescale it to about ±1"
        )
    first = int(np.argmin(np.isfinite(block).all(axis=1)))
    return f"contains NaN or infinite samples (first at sample {offset + first})"


def _shortest(value: np.number) -> str:
    """``value`` in the fewest digits that read back as it in its own precision (float32's
    1.0000001e+08, not 1e+08, which would look equal to :data:`MAX_SAMPLE`; 3e+14, not 3.0000001e+14)."""
    if not np.issubdtype(np.asarray(value).dtype, np.floating):
        value = np.float64(value)
    return np.format_float_scientific(value, unique=True, trim="-")


def read_blocks(info: AudioInfo, blocksize: int, start: int = 0, frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield float32 blocks (n, channels) of ``frames`` samples from ``start``; NaN, infinity and
    absurd magnitudes refused (:func:`unfit_samples`)."""
    end = info.frames if frames is None else min(info.frames, start + frames)
    pos = start
    try:
        for block in _decoded(info, blocksize, start, end - start):
            if problem := unfit_samples(block, pos):
                raise MixinError(info.path, problem)
            pos += len(block)
            yield block
    except MixinError:
        raise
    except Exception as exc:
        raise MixinError(info.path, f"cannot decode audio ({_first_line(exc)})") from None
    if pos < end:
        raise MixinError(info.path, f"file ends at sample {pos}, header says {info.frames}")


FLAC_MAX_RATE = 655350
"""The highest sample rate libsndfile writes to FLAC (and at most eight channels)."""


def check_output_format(path: Path, fmt: str, sample_rate: int, channels: int) -> None:
    """A one-line :class:`MixinError` if ``fmt`` cannot hold audio of this rate and channel count."""
    if fmt == "mp3" and (sample_rate not in MP3_RATES or channels > 2):
        raise MixinError(
            path,
            f"MP3 holds 1 or 2 channels at 8 to 48 kHz; this is {channels} channel(s) at {sample_rate} Hz "
            "(use --format wav or flac)",
        )
    if fmt == "flac" and (sample_rate > FLAC_MAX_RATE or channels > 8):
        raise MixinError(
            path,
            f"FLAC holds up to 8 channels at up to {FLAC_MAX_RATE} Hz; this is {channels} channel(s) at "
            f"{sample_rate} Hz (use --format wav)",
        )


class Resampler:
    """Streaming resampler (soxr) that passes audio through when the rates are equal."""

    def __init__(self, in_rate: int, out_rate: int, channels: int) -> None:
        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), int(channels)
        self._stream = None
        if self.in_rate != self.out_rate:
            import soxr

            self._stream = soxr.ResampleStream(self.in_rate, self.out_rate, channels, dtype="float32", quality="HQ")

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample a (n, channels) block; ``last=True`` flushes the filter's tail."""
        if self._stream is None:
            return block
        return self._stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32), last=last)

    def stream(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Resample a whole sequence of blocks, flushing at the end."""
        for block in blocks:
            out = self(block)
            if len(out):
                yield out
        if self._stream is not None:
            tail = self(np.zeros((0, self.channels), dtype=np.float32), last=True)
            if len(tail):
                yield tail


NAME_MAX = 255
"""Bytes a file name may hold on the usual file systems (ext4, XFS, APFS, NTFS in UTF-16 units)."""

NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}
"""``os.link``'s errors on a file system that has no hard links (FAT, some network mounts)."""


def temporary_beside(target: Path, suffix: str = "") -> Path:
    """A new empty file next to ``target`` (same file system, so ``os.replace`` is atomic),
    hidden, ending in ``.part`` plus ``suffix``, with the permissions a plain ``open`` gives.

    Its name starts with ``target``'s, shortened where needed so that a target whose own name
    is near the file system's limit still gets one."""
    target = Path(target)
    room = NAME_MAX - len(f"..XXXXXXXX.part{suffix}".encode())
    stem = target.name.encode()[:room].decode(errors="ignore")
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part" + suffix, dir=target.parent)
    os.close(fd)
    give_plain_permissions(Path(tmp))
    return Path(tmp)


def give_plain_permissions(path: Path) -> None:
    """The permissions a plain ``open`` (a file) or ``mkdir`` (a folder) would have given ``path``:
    ``tempfile`` makes its files and folders private to their owner."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def resample(audio: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """A whole (samples, channels) array at another rate, ``round(samples * out / in)`` long."""
    if in_rate == out_rate:
        return audio
    out = np.concatenate([*Resampler(in_rate, out_rate, audio.shape[1]).stream([audio]), audio[:0]])
    n = int(round(len(audio) * out_rate / in_rate))
    return np.pad(out, ((0, max(0, n - len(out))), (0, 0)))[:n]


WAV_LIMIT = 0xFFFFFFFF - (1 << 16)
"""Bytes of samples a RIFF WAV file can hold (its sizes are 32-bit; room kept for the header)."""


def container(fmt: str, frames: int, channels: int) -> str:
    """The libsndfile format for an output: RF64 (the EBU's 64-bit WAV) for float WAV over 4 GiB,
    which plain WAV cannot hold, else ``fmt`` itself."""
    if fmt == "wav" and frames * channels * 4 > WAV_LIMIT:
        return "RF64"
    return fmt.upper()


class _PartFile:
    """The temporary file as libsndfile writes it (soundfile's virtual I/O): a failed write
    (a full disk, a quota) is kept here, since libsndfile's FLAC and MP3 encoders drop it."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "r+b", buffering=0)  # noqa: SIM115 (closed by close())
        self.error: OSError | None = None

    def _write(self, data: memoryview) -> int:
        return self._file.write(data)

    def write(self, data: bytes) -> int:
        view, done = memoryview(data), 0
        while done < len(view) and self.error is None:
            try:
                n = self._write(view[done:])
            except OSError as exc:
                self.error = exc
                break
            if not n:
                self.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done += n or 0
        return done

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            self.error = self.error or exc


class AtomicAudioWriter:
    """Write an audio file under a temporary name beside it; rename on :meth:`commit`.

    Exactly ``frames`` samples are written (padding or trimming the last block), so an output
    has the input's length whatever the resampler's rounding. A failed write (a full disk) is an
    ``OSError`` from :meth:`write` or :meth:`finish`, never a truncated file put in place. On
    :meth:`abort`, or leaving a ``with`` block by an exception, the temporary file is removed and
    nothing else is touched.
    """

    def __init__(self, path: Path, sample_rate: int, channels: int, frames: int, fmt: str) -> None:
        self.path = Path(path)
        self.frames = frames
        self.written = 0
        self.peak = 0.0
        """The largest magnitude written to a format that holds [-1, 1]; above 1 it was clipped."""
        self.subtype = OUTPUT_SUBTYPES[fmt]
        self._tmp = temporary_beside(self.path)
        self._part: _PartFile | None = None
        try:
            self._part = _PartFile(self._tmp)
            self._file = sf.SoundFile(
                self._part,
                "w",
                samplerate=sample_rate,
                channels=channels,
                format=container(fmt, frames, channels),
                subtype=self.subtype,
            )
        except BaseException:
            if self._part is not None:
                self._part.close()
            self._tmp.unlink(missing_ok=True)
            raise
        self._finished = False

    def _check(self) -> None:
        if self._part.error is not None:
            raise self._part.error

    def write(self, block: np.ndarray) -> None:
        block = block[: self.frames - self.written]
        if self.subtype != "FLOAT":  # integer and lossy formats hold [-1, 1]
            if block.size:
                self.peak = max(self.peak, float(np.abs(block).max()))
            block = np.clip(block, -1.0, 1.0)
        try:
            self._file.write(block)
        except (sf.SoundFileRuntimeError, AssertionError):  # soundfile asserts a short write away
            self._check()  # the cause behind libsndfile's "System error."
            raise
        self._check()
        self.written += len(block)

    def finish(self) -> None:
        """Pad to ``frames``, close the file and check that every byte reached it; the file
        stays under its temporary name until :meth:`rename`."""
        if self.written < self.frames:
            self.write(np.zeros((self.frames - self.written, self._file.channels), dtype=np.float32))
        self._file.close()
        self._part.close()
        self._check()
        self._finished = True

    def rename(self, replace: bool = True) -> Path:
        """Put the finished file in place; with ``replace`` False, a ``FileExistsError`` (and the
        file left under its temporary name) if one appeared there meanwhile, e.g. written by
        another run: checking first and then renaming would replace it."""
        if not self._finished:
            raise RuntimeError("finish() the file before renaming it")
        if replace:
            os.replace(self._tmp, self.path)
            return self.path
        try:
            os.link(self._tmp, self.path)  # fails on an existing name, unlike a rename
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                raise
            if self.path.exists():  # no hard links on this file system: check, then rename
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(self.path)) from None
            os.replace(self._tmp, self.path)
            return self.path
        self._tmp.unlink(missing_ok=True)
        return self.path

    def commit(self) -> Path:
        """:meth:`finish`, then :meth:`rename`."""
        self.finish()
        return self.rename()

    def abort(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()
            except Exception:  # noqa: S110 (the file is being thrown away)
                pass
        self._part.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicAudioWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tmp.exists():  # not put in place: an exception, or the caller gave up
            self.abort()


def level_gain(part: np.ndarray, rest: np.ndarray, level_db: float) -> float | None:
    """The gain that puts ``part``'s energy at ``level_db`` dB of ``rest``'s (energies summed in
    double precision); None where either is silent."""
    e_part = float(np.sum(np.square(part, dtype=np.float64)))
    e_rest = float(np.sum(np.square(rest, dtype=np.float64)))
    if e_part <= 0 or e_rest <= 0:
        return None
    return float(np.sqrt(e_rest / e_part * 10 ** (level_db / 10)))
