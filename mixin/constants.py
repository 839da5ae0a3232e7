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
"""Default exponent p of the soft masks |S|^p / sum |S|^p (1: magnitude ratio, 2: Wiener filter);
a model directory's config.json may set its own. 1 had the best mean SDR for the shipped models on
the development tracks (scripts/sweep_mask_power.sh, pretrained-models/README.md)."""

BATCH_CHUNKS = 4
"""Chunks separated at once: larger batches run the models faster but cost ~100 MiB each (stereo)."""

LEARNING_RATE = 1e-3
"""Adam's default learning rate for a new model (MiXiN's)."""

OUTPUT_SUBTYPES = {"wav": "FLOAT", "flac": "PCM_24", "mp3": "MPEG_LAYER_III"}
"""Output formats and their soundfile subtypes: float WAV keeps the stems summing to the mix exactly;
FLAC is 24-bit; MP3 is libsndfile's (LAME, variable bit rate), lossy."""

LOUD_DRUMS_DB = -3.0
"""Drums' energy against the rest of a song in the loud-drum evaluation songs (dB;
``mixin.data.percussion_mixes``): held-out pop/rock songs give the mixture, taken as the percussive
estimate, about −3 dB SDR, i.e. this ratio; real-dev's studio multitracks have 0 to −21 dB."""

EVAL_SYSTEMS = ("mixin", "mixture", "hpss", "oracle")
"""What the evaluation scores side by side: MiXiN and three baselines (mixin.evaluation.systems);
another separator's estimates on disk join under a name of their own."""

MAX_SAMPLE = 1e8
"""The largest sample magnitude separated (160 dB over full scale): the chain is exact for any level
up to it (float files in integer units included) and breaks down in float32 some 20 dB above."""

MIN_RATE = 1000
"""The lowest input sample rate separated (Hz): below it nothing of music's range is left, and the
later stages' windows of a few samples break down."""

MAX_RATE = 768000
"""The highest input sample rate separated (Hz): the highest that audio interfaces offer. The later
stages work in 6-s chunks at the input's rate, so above it time and memory grow without bound (at
4 MHz, 34 s and 2.4 GiB for 1000 samples; at 2**40 Hz, NumPy's ArrayMemoryError)."""

INPUT_EPS = 1e-4
"""Added to a chunk's mean |NSGT| before the models' inputs are divided by it (about -50 dB
below a typical song's mean): silence stays silence instead of amplified noise."""

INPUT_LEVEL = 0.037
"""Mean |NSGT| a chunk is scaled to when a model directory asks for normalised input: the median
chunk of the rendered training mixes (real records measure 0.07 to 0.14, louder than renders)."""

MODEL_INPUTS = ("magnitude", "normalised")
"""What a model is fed (config.json's ``input``): the mix as it comes (MiXiN's), or scaled so that
loudness does not change the masks: a CDAE's |NSGT| per chunk to a mean of ``input_level``
(:func:`mixin.filtering.model_input`), a DRNN's 16-kHz piece to an RMS of ``input_level``
(:func:`mixin.drnn.input_gain`)."""

HELPER_HEARS = ("mix", "harmonic+vocal")
"""What the helper DRNN may be given (config.json's ``voice_helper`` ``hears``): the mix, or the mix
less the CDAEs' percussive stem (:mod:`mixin.voice_blend`)."""
