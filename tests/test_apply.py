"""Chunking: every sample processed (the last chunk too), cross-fades that sum to one,
streaming independent of block sizes, runs averaged over shifted chunk boundaries."""

import numpy as np
import pytest

from mixin.apply import chunk_count, fades, separate_array, stream_overlap_add, stream_shifted

CHUNK = 1000


def split_fn(chunks: np.ndarray) -> np.ndarray:
    """A 'separation' whose stems are fixed fractions of each chunk, plus a per-chunk offset
    in the second stem so that chunk boundaries matter; stems sum to the chunk."""
    offset = np.arange(len(chunks), dtype=np.float32)[:, None, None] * 0.01 + 0.5
    a = 0.25 * chunks + offset
    return np.stack([a, chunks - a])


@pytest.mark.parametrize("length", [1, 999, 1000, 1001, 4321, 10000])
@pytest.mark.parametrize("overlap", [0, 100])
def test_every_sample_covered_and_stems_sum_to_input(length, overlap):
    x = np.random.default_rng(length).standard_normal((length, 2)).astype(np.float32)
    out = separate_array(x, split_fn, 2, CHUNK, overlap, batch=3)
    assert out.shape == (2, length, 2)
    np.testing.assert_allclose(out.sum(axis=0), x, atol=1e-5)
    # The first stem is 0.25 x + offset everywhere, up to the last sample: no silent tail.
    assert np.all(np.abs(out[0] - 0.25 * x) > 0.4)


def test_chunk_count():
    assert chunk_count(1, 1000, 100) == 1
    assert chunk_count(1000, 1000, 100) == 1
    assert chunk_count(1001, 1000, 100) == 2
    assert chunk_count(1900, 1000, 100) == 2
    assert chunk_count(1901, 1000, 100) == 3
    assert chunk_count(3000, 1000, 0) == 3


def test_fades_sum_to_one_and_are_monotonic():
    fade_in, fade_out = fades(256)
    np.testing.assert_allclose(fade_in + fade_out, 1.0, atol=1e-7)
    assert np.all(np.diff(fade_in) > 0) and 0 < fade_in[0] < 0.01 and 0.99 < fade_in[-1] < 1


def test_crossfade_blends_neighbouring_chunks():
    x = np.zeros((3000, 1), dtype=np.float32)
    hop = CHUNK - 200
    out = separate_array(x, split_fn, 2, CHUNK, 200, batch=8)[0, :, 0]
    # Chunk k adds offset 0.5 + 0.01 k; in the overlap the value moves smoothly from one to the next.
    assert out[100] == pytest.approx(0.5)
    assert out[hop + 199] == pytest.approx(0.51, abs=1e-4)
    ramp = out[hop : hop + 200]
    assert np.all(np.diff(ramp) >= 0) and ramp[0] < 0.5001 and ramp[-1] > 0.5099


def content_fn(chunks: np.ndarray) -> np.ndarray:
    """Stems that depend on each chunk's content only (not its place in a batch)."""
    a = 0.25 * chunks + chunks.mean(axis=-1, keepdims=True)
    return np.stack([a, chunks - a])


@pytest.mark.parametrize("block", [1, 7, 999, 5000])
def test_streaming_is_independent_of_block_size(block):
    x = np.random.default_rng(5).standard_normal((6543, 2)).astype(np.float32)
    whole = separate_array(x, content_fn, 2, CHUNK, 100, batch=2)
    blocks = (x[i : i + block] for i in range(0, len(x), block))
    streamed = np.concatenate(list(stream_overlap_add(blocks, content_fn, 2, CHUNK, 100, 2)), axis=1)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_streamed_blocks_are_contiguous_per_source():
    """Later stages sum over the sources and add stems: on a strided view of the (samples,
    sources, channels) accumulator that cost ~50x more, 0.3 s of CPU per minute of audio."""
    x = np.random.default_rng(6).standard_normal((4321, 2)).astype(np.float32)
    blocks = (x[i : i + 700] for i in range(0, len(x), 700))
    out = list(stream_overlap_add(blocks, split_fn, 2, CHUNK, 100, 2))
    assert len(out) > 1 and all(b.flags.c_contiguous and b.shape[0] == 2 for b in out)


def test_memory_is_bounded_by_batch():
    """With many small blocks the number of chunks in flight never exceeds the batch."""
    seen = []

    def fn(chunks):
        seen.append(len(chunks))
        return split_fn(chunks)

    x = np.zeros((50000, 1), dtype=np.float32)
    for _ in stream_overlap_add((x[i : i + 10] for i in range(0, len(x), 10)), fn, 2, CHUNK, 100, 4):
        pass
    assert max(seen) <= 4 and sum(seen) == chunk_count(50000, CHUNK, 100)


def test_bad_overlap_is_refused():
    with pytest.raises(ValueError, match="overlap"):
        list(stream_overlap_add([np.zeros((10, 1))], split_fn, 2, CHUNK, CHUNK))


def test_batches_run_one_at_a_time_in_order_beside_the_consumer():
    """fn runs in a background thread, one batch at a time, in order; at most two batches are
    in flight (one separating while the consumer takes the one before)."""
    import threading
    import time

    calls, active, overlapped = [], [], []

    def fn(chunks):
        active.append(1)
        overlapped.append(len(active) > 1)
        calls.append((threading.current_thread() is threading.main_thread(), float(chunks[0, 0, 0])))
        time.sleep(0.002)
        active.pop()
        return split_fn(chunks)

    hop = CHUNK - 100
    x = np.zeros((20 * hop, 1), dtype=np.float32)
    x[::hop, 0] = np.arange(20)  # each chunk's first sample is its index
    blocks = (x[i : i + 500] for i in range(0, len(x), 500))
    out = np.concatenate(list(stream_overlap_add(blocks, fn, 2, CHUNK, 100, 3)), axis=1)
    np.testing.assert_allclose(out.sum(axis=0), x, atol=1e-5)
    assert not any(overlapped)
    assert [first for _, first in calls] == [float(k) for k in range(0, chunk_count(len(x), CHUNK, 100), 3)]
    assert not any(main for main, _ in calls)


def test_an_error_in_fn_reaches_the_consumer():
    def fn(chunks):
        raise RuntimeError("model failed")

    with pytest.raises(RuntimeError, match="model failed"):
        list(stream_overlap_add([np.zeros((5000, 1), np.float32)], fn, 2, CHUNK, 100, 2))


def test_sample_queue_hands_back_samples_in_order_along_its_axis():
    from mixin.apply import SampleQueue

    queue = SampleQueue(axis=1)
    data = np.arange(2 * 10 * 3, dtype=np.float32).reshape(2, 10, 3)
    for a, b in ((0, 4), (4, 5), (5, 10)):
        queue.push(data[:, a:b])
    assert queue.size == 10
    np.testing.assert_array_equal(queue.take(3), data[:, :3])
    np.testing.assert_array_equal(queue.take(6), data[:, 3:9])
    assert queue.size == 1
    np.testing.assert_array_equal(queue.take(5), data[:, 9:])  # fewer than asked: what is held
    empty = np.zeros((2, 0, 3), np.float32)
    assert queue.take(4, empty) is empty and queue.size == 0


def split_stream(blocks, batch: int = 2):
    """split_fn's chunks streamed: one run for stream_shifted."""
    return stream_overlap_add(blocks, split_fn, 2, CHUNK, 100, batch)


def shifted_reference(x: np.ndarray, shifts: int, period: int) -> np.ndarray:
    """What stream_shifted should give, on whole arrays: split_fn's chunking of x delayed by
    k * period // shifts, realigned, averaged."""
    runs = []
    for k in range(shifts):
        d = k * period // shifts
        delayed = np.concatenate([np.zeros((d, x.shape[1]), np.float32), x])
        runs.append(separate_array(delayed, split_fn, 2, CHUNK, 100, batch=2)[:, d : d + len(x)])
    return np.mean(runs, axis=0)


@pytest.mark.parametrize("shifts, block", [(2, 333), (3, 1000), (4, 4321)])
def test_shifted_runs_are_realigned_and_averaged(shifts, block):
    x = np.random.default_rng(7).standard_normal((4321, 2)).astype(np.float32)
    blocks = (x[i : i + block] for i in range(0, len(x), block))
    out = np.concatenate(list(stream_shifted(split_stream, blocks, 2, shifts, CHUNK)), axis=1)[:, : len(x)]
    expected = shifted_reference(x, shifts, CHUNK)
    assert out.shape == (2, len(x), 2)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(out.sum(axis=0), x, atol=1e-5)  # still sums to the mix
    plain = separate_array(x, split_fn, 2, CHUNK, 100, batch=2)
    assert np.abs(out - plain).max() > 1e-3  # the boundaries moved, so the stems did


def test_one_shift_is_the_run_itself():
    x = np.random.default_rng(8).standard_normal((2500, 1)).astype(np.float32)
    out = np.concatenate(list(stream_shifted(split_stream, [x], 1, 1, CHUNK)), axis=1)
    np.testing.assert_array_equal(out, separate_array(x, split_fn, 2, CHUNK, 100, batch=2))


def test_shifted_runs_go_in_lockstep():
    """The input is read only as far ahead of the output as one run's lag and its delay (a
    chunk), so memory does not grow with the track."""
    x = np.zeros((60000, 1), dtype=np.float32)
    read = [0]

    def blocks():
        for i in range(0, len(x), 500):
            read[0] += 500
            yield x[i : i + 500]

    done, ahead = 0, []
    for out in stream_shifted(lambda b: split_stream(b, batch=1), blocks(), 1, 3, CHUNK):
        done += out.shape[1]
        ahead.append(read[0] - done)
    assert done >= len(x) and max(ahead) <= 3 * CHUNK


def test_bad_shift_count_is_refused():
    with pytest.raises(ValueError, match="shifts must be a whole number >= 1"):
        list(stream_shifted(lambda b: b, [np.zeros((10, 1))], 1, 0, CHUNK))
