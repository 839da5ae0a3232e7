"""Constants shared by the transform, the models and the pipeline: defined once, here."""

SAMPLE_RATE = 44100
"""Rate (Hz) at which the NSGT and the CDAEs work; inputs at other rates are resampled."""

CHUNK_SIZE = 44032
"""Samples per NSGT chunk (about 1 s at 44.1 kHz)."""

N_BANDS = 96
"""Bark-scale bands of the NSGT (94 Bark bands inside (0, fs/2) plus DC and Nyquist)."""

N_FRAMES = 1948
"""Coefficients per band and chunk in matrix form (the widest window, the Nyquist band's)."""

FMIN = 0.0
FMAX = 22050.0

CROSSFADE = 2048
"""Default overlap (samples at 44.1 kHz) between neighbouring chunks, cross-faded."""

CDAE_SOURCES = ("harmonic", "percussive", "vocal")
"""The sources of the CDAE separator, in output order."""

MASK_POWER = 1.0
"""Exponent p of the soft masks |S|^p / sum |S|^p: 1 (magnitude ratio) scored 0.4-0.6 dB higher
SDR than 2 (the Wiener filter) on harmonic and vocal with the shipped models (their model card)."""

BATCH_CHUNKS = 4
"""Chunks separated at once: larger batches run the models faster but cost ~100 MiB each (stereo)."""

LEARNING_RATE = 1e-3
"""Adam's default learning rate for a new model (MiXiN's)."""
