"""``--train --objective masks``: the three CDAEs trained together through the soft masks.

The loss sees what the user hears: each source's masked mixture ``M_s |X|`` (``M_s`` the soft
mask of the three models' outputs, as the separator builds it) against the true ``|S_s|``, L1,
divided by the chunk's mean ``|X|`` so loud and quiet chunks count alike; where the chain the
models are validated in (``val_chain``) runs the vocal model a second time on the mix less the
percussive share (``vocal_hears``), the loss sees that run's vocal. A small second term
keeps the sum of the outputs near ``|X|`` in the input's units, so the outputs keep one scale.
The models see magnitudes scaled per chunk to one mean level (:func:`mixin.filtering.model_input`),
so a song's loudness does not change its masks. Training may start from trained CDAEs (``init_dir``, e.g.
the MAE-trained ones; their output gains are folded into their last layer, which is exact for a
ReLU), or from scratch with a softplus output.

Examples are drawn on the fly from track folders (MUSDB18-HQ layout, e.g. ``--render-stems``
output): half keep a track's own sources together, half remix sources of different tracks
(Uhlich et al. 2017), each source with a random gain, sometimes absent (instrumental passages);
a random channel of each stereo stem. Checkpoints are chosen by separation SDR on real
recordings (``--val-dirs``), never by the training loss: rendered data ranked sources wrongly.
It runs on Keras's TensorFlow or JAX backend (a GPU machine may have only JAX); batches can be
drawn by several processes, each batch from its own random stream, so resuming changes nothing.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from queue import Queue
from typing import TYPE_CHECKING

import numpy as np

from ..audio import level_gain, read_audio, temporary_beside
from ..constants import CDAE_SOURCES, CHUNK_SIZE, INPUT_EPS, INPUT_LEVEL, LEARNING_RATE, SAMPLE_RATE
from ..data.stems import Track, discover
from ..errors import MixinError, no_directory
from ..filtering import EPS, model_input
from ..progress import progress_bar
from ..registry import CHAIN_FIELDS, ModelConfig
from .common import check_data, clear_run, record_data, save_atomically
from .settings import JointSettings, freezable

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from ..backend import Tensor
    from ..transforms import BarkNSGT

ABSENT = {"harmonic": 0.05, "percussive": 0.1, "vocal": 0.2}
"""Chance that a source is left out of an example (instrumental, a cappella, no drums)."""
GAIN_DB = 6.0  # each source's level moved by up to this much either way
REMIX_SHARE = 0.5
SCALE_WEIGHT = 0.1
"""Weight of the term pinning the sum of the outputs to |X| / mean |X| (log distance)."""


class StemPool:
    """Every track's sources in memory (float16, stereo), summed per source (bass + other ->
    harmonic), for drawing training chunks. Each folder of ``stem_dirs`` is drawn equally often,
    whatever its size: a few minutes of real recordings weigh as much as hours of renders."""

    def __init__(
        self,
        stem_dirs: Sequence[Path],
        sources: Sequence[str] = CDAE_SOURCES,
        progress: bool = False,
        drum_level: tuple[float, float] | None = None,
        drum_share: float = JointSettings.drum_share,
    ) -> None:
        self.sources = tuple(sources)
        self.drum_level, self.drum_share = drum_level, drum_share
        self.groups: list[list[dict[str, np.ndarray]]] = []
        self.names: list[tuple[str, list[str]]] = []  # each group's folder and tracks, for the run's data record
        seen: set[Path] = set()
        for d in stem_dirs:
            if Path(d).resolve() in seen:  # a folder named twice would be drawn twice as often
                warnings.warn(f"{d}: given twice in the stem directories, drawn as one folder", stacklevel=2)
                continue
            seen.add(Path(d).resolve())
            tracks = [t for t in discover([d], "multitrack") if t.stems]
            bar = progress_bar(progress, total=len(tracks), unit="track", desc=f"loading {Path(d).name}")
            group, names = [], []
            for track in tracks:
                loaded = self._load(track)
                if loaded is not None:
                    group.append(loaded)
                    names.append(track.name)
                bar.update(1)
            bar.close()
            if not group:
                raise MixinError(d, "no track folder with stems a chunk long")
            self.groups.append(group)
            self.names.append((Path(d).name, names))
        self.tracks = [t for g in self.groups for t in g]
        self.seconds = sum(len(next(iter(t.values()))) for t in self.tracks) / SAMPLE_RATE

    def _load(self, track: Track) -> dict[str, np.ndarray] | None:
        parts: dict[str, np.ndarray] = {}
        for source, files in track.stems.items():
            if source not in self.sources:
                continue
            for f in files:
                audio, rate = read_audio(f)
                if rate != SAMPLE_RATE:
                    raise MixinError(f, f"training stems must be {SAMPLE_RATE} Hz, this is {rate} Hz")
                audio = np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]
                have = parts.get(source)
                n = len(audio) if have is None else min(len(have), len(audio))
                parts[source] = audio[:n] if have is None else have[:n] + audio[:n]
        n = min((len(a) for a in parts.values()), default=0)
        return {s: a[:n].astype(np.float16) for s, a in parts.items()} if n >= CHUNK_SIZE else None

    def _track(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        group = self.groups[int(rng.integers(len(self.groups)))]
        return group[int(rng.integers(len(group)))]

    def example(self, rng: np.random.Generator) -> np.ndarray:
        """One training example: (sources, CHUNK_SIZE) float32, the mix being their sum."""
        out = np.zeros((len(self.sources), CHUNK_SIZE), np.float32)
        remix = rng.random() < REMIX_SHARE
        home = self._track(rng)
        start = int(rng.integers(len(next(iter(home.values()))) - CHUNK_SIZE + 1))
        channel = int(rng.integers(2))
        for i, s in enumerate(self.sources):
            if rng.random() < ABSENT[s]:
                continue
            track, at = home, start
            if remix:
                track = self._track(rng)
                at = int(rng.integers(len(next(iter(track.values()))) - CHUNK_SIZE + 1))
            if s not in track:
                continue
            gain = 10 ** (rng.uniform(-GAIN_DB, GAIN_DB) / 20)
            out[i] = track[s][at : at + CHUNK_SIZE, channel].astype(np.float32) * np.float32(gain)
        if self.drum_level is not None and "percussive" in self.sources and rng.random() < self.drum_share:
            set_level(out, self.sources.index("percussive"), rng.uniform(*self.drum_level))
        return out


def set_level(sources: np.ndarray, i: int, level_db: float) -> None:
    """Scale ``sources[i]`` (of (sources, n)) to ``level_db`` dB of the others' sum, in place (unless
    either is silent). Records carry drums far louder than multitracks and renders (pop and rock
    about -3 dB, real-dev 0 to -21, the renders' median -18): the trainer can draw them so."""
    gain = level_gain(sources[i], sources.sum(axis=0) - sources[i], level_db)
    if gain is not None:
        sources[i] *= np.float32(gain)


def batch_at(
    pool: StemPool, batch_size: int, seed: int, index: int, transform: BarkNSGT, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Batch number ``index`` of a run seeded ``seed``: (model input (b, bands, frames, 1), |X| and
    |S_s| (b, 1 + sources, bands, frames)). Each batch has its own random stream, so a resumed run
    draws what an unbroken one would, however many processes draw them. ``threads``: the NSGT's."""
    rng = np.random.default_rng((seed, index))
    audio = np.stack([pool.example(rng) for _ in range(batch_size)])  # (b, S, n)
    coefs = transform.forward(audio, threads=threads)  # (b, S, bands, frames)
    mix = np.abs(coefs.sum(axis=1))
    mags = np.concatenate((mix[:, None], np.abs(coefs)), axis=1)
    return model_input(mix, INPUT_LEVEL)[..., None], mags


def batches(
    pool: StemPool, batch_size: int, seed: int, transform: BarkNSGT, start: int = 0, workers: int = 1
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless :func:`batch_at` from batch ``start`` on, drawn ahead in a background thread or, with
    ``workers`` > 1, in that many processes (forked: the pool's stems and the transform are shared,
    not copied)."""
    if workers <= 1:
        return _prefetch(batch_at(pool, batch_size, seed, i, transform) for i in itertools.count(start))
    return _ProcessDraws(pool, batch_size, seed, transform, start, workers)


_WORKER: dict = {}
"""What a drawing process works from (set before the fork, so the stems are inherited)."""


def _quiet_worker() -> None:
    """A drawing process ignores Ctrl-C and SIGTERM (they reach the whole process group): the
    main process unwinds and ends the pool; a worker killed mid-batch would leave its batch
    never delivered, and the pool's close waiting for it for good."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _draw(index: int) -> tuple[np.ndarray, np.ndarray]:
    w = _WORKER
    return batch_at(w["pool"], w["batch_size"], w["seed"], index, w["transform"], threads=1)


class _ProcessDraws:
    """Batches drawn ahead, in order, by ``workers`` forked processes; :meth:`close` ends them."""

    def __init__(
        self, pool: StemPool, batch_size: int, seed: int, transform: BarkNSGT, start: int, workers: int
    ) -> None:
        import multiprocessing

        _WORKER.clear()
        _WORKER.update(pool=pool, batch_size=batch_size, seed=seed, transform=transform)
        self.processes = multiprocessing.get_context("fork").Pool(workers, initializer=_quiet_worker)
        self.index = start + 2 * workers
        self.ahead = deque(self.processes.apply_async(_draw, (i,)) for i in range(start, self.index))

    def __iter__(self) -> _ProcessDraws:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        item = self.ahead.popleft().get()
        self.ahead.append(self.processes.apply_async(_draw, (self.index,)))
        self.index += 1
        return item

    def close(self) -> None:
        """Let the batches in flight arrive, then end the processes as they wait for work. Killing
        them (``Pool.terminate``) hung for good now and then: a process killed while sending its
        batch leaves the results queue's lock held."""
        for pending in self.ahead:
            pending.wait()
        self.ahead.clear()
        self.processes.close()
        self.processes.join()


def _prefetch(it: Iterator, depth: int = 4) -> Iterator:
    """Draw from ``it`` in a background thread (NSGT work overlaps the models')."""
    q: Queue = Queue(depth)

    def run():
        for item in it:
            q.put(item)

    threading.Thread(target=run, daemon=True).start()
    while True:
        yield q.get()


def separation_chain(directory: Path) -> dict:
    """``directory``'s chain around its CDAEs (:data:`~mixin.registry.CHAIN_FIELDS` of its config.json), the helper
    DRNN's directory made absolute so that configs written elsewhere find it."""
    directory = Path(directory)
    config = ModelConfig.load(directory)
    chain = {name: getattr(config, name) for name in CHAIN_FIELDS}
    helper = dict(chain["voice_helper"])
    if helper.get("model_dir"):
        helper["model_dir"] = str((directory / helper["model_dir"]).resolve())
        if not Path(helper["model_dir"]).is_dir():
            raise MixinError(directory / "config.json", f"the helper DRNN {helper['model_dir']} is not there")
    chain["voice_helper"] = helper
    return chain


def validation_sdr(model_dir: Path, val_dirs: Sequence[Path]) -> dict[str, float]:
    """Median over tracks of the median 1-s SDR (plain, not BSSv4: fast) of each source, separating
    the tracks of ``val_dirs`` with the models in ``model_dir``; "mean" over the sources too."""
    from ..evaluation.scoring import load_tracks
    from ..separators import Separator

    sep = Separator.from_pretrained(model_dir, backend="tensorflow")  # the models just saved, not an old export
    per: dict[str, list[float]] = {}
    for d in val_dirs:
        for track in load_tracks(Path(d)):
            if track.skipped:
                continue
            est = sep.separate(track.mix, track.rate)
            for s, ref in track.references.items():
                if s in est and np.any(ref):
                    per.setdefault(s, []).append(framewise_sdr(ref, est[s], track.rate))
    out = {s: float(np.nanmedian(v)) for s, v in per.items()}
    out["mean"] = float(np.mean([out[s] for s in CDAE_SOURCES if s in out]))
    return out


def framewise_sdr(reference: np.ndarray, estimate: np.ndarray, rate: int, window_s: float = 1.0) -> float:
    """Median over 1-s windows of ``10 log10(|s|^2 / |s - s_hat|^2)``, silent windows skipped."""
    w = int(rate * window_s)
    n = min(len(reference), len(estimate)) // w
    r = reference[: n * w].astype(np.float64).reshape(n, w, -1)
    e = estimate[: n * w].astype(np.float64).reshape(n, w, -1)
    energy = np.sum(r**2, axis=(1, 2))
    keep = energy > 1e-8 * w
    if not keep.any():
        return float("nan")
    err = np.sum((r - e) ** 2, axis=(1, 2))[keep] + 1e-12
    return float(np.median(10 * np.log10(energy[keep] / err)))


def check_val_dirs(stem_dirs: Sequence[Path], val_dirs: Sequence[Path]) -> None:
    """A :class:`MixinError` unless each of ``val_dirs`` holds track folders with stems and none of
    them is a training track of ``stem_dirs`` (the same folder or stem file, however reached):
    checked before training, which otherwise ran all its steps and failed at the first score, or
    chose its checkpoints on the tracks it trained on."""
    if not val_dirs:
        raise MixinError(None, "no validation directories (--val-dirs) to choose checkpoints on")
    trained = {f.resolve(): t.name for t in discover(stem_dirs, "multitrack") for fs in t.stems.values() for f in fs}
    for d in map(Path, val_dirs):
        if not d.is_dir():
            raise no_directory(d, "validation directory (--val-dirs)")
        try:
            tracks = [t for t in discover([d], "multitrack") if t.stems]
        except MixinError:  # a folder of no audio at all
            tracks = []
        if not tracks:
            raise MixinError(d, "holds no track folder with stems to score checkpoints on (--val-dirs)")
        for track in tracks:
            shared = [trained[f.resolve()] for fs in track.stems.values() for f in fs if f.resolve() in trained]
            if shared:
                raise MixinError(
                    track.folder,
                    f"is training track {shared[0]} of --stem-dirs too: checkpoints would be chosen on "
                    "what the models trained on",
                )


def train_joint(
    stem_dirs: Sequence[Path],
    model_dir: Path,
    log_dir: Path,
    val_dirs: Sequence[Path],
    settings: JointSettings | None = None,
    progress: bool = False,
) -> dict:
    """Train the three CDAEs through the masks (but those in ``settings.freeze``); keep the checkpoint
    with the best validation SDR."""
    from ..backend import keras_module
    from ..transforms import nsgt

    settings = settings or JointSettings()
    if not freezable(settings.freeze):
        raise ValueError(f"freeze: some of {CDAE_SOURCES}, not all of them; got {settings.freeze!r}")
    check_val_dirs(stem_dirs, val_dirs)
    if settings.init_dir is not None:
        check_init_dir(settings.init_dir)
    chain = separation_chain(settings.val_chain) if settings.val_chain is not None else None
    model_dir, log_dir = Path(model_dir), Path(log_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    history_path, checkpoint = log_dir / "joint_history.json", log_dir / CHECKPOINT
    history = {"train": [], "validation": []}
    if settings.resume:
        if not checkpoint.exists():
            raise MixinError(log_dir, f"no checkpoint to resume from ({CHECKPOINT})")
        if history_path.exists():
            history = json.loads(history_path.read_text())
    start = int(np.load(checkpoint)["step"]) if settings.resume else 0
    pool = StemPool(stem_dirs, progress=progress, drum_level=settings.drum_level, drum_share=settings.drum_share)
    data_record = run_data(pool, val_dirs)
    if settings.resume:  # on the stems and validation songs of the run it continues
        check_data(log_dir, "joint", data_record)
    # Drawing processes fork before Keras starts its threads.
    data = batches(pool, settings.batch_size, settings.seed, nsgt(), start=start, workers=settings.workers)
    try:
        keras = keras_module()
        keras.utils.set_random_seed(settings.seed)
        # The checkpoint holds weights, not the output activation: a run resumed without --init-from
        # builds its models with the activation the run recorded (ReLU models restored into softplus
        # ones would shift every output by about log 2).
        output = history.get("output")
        if settings.resume and settings.init_dir is None and output is None:
            raise MixinError(
                log_dir, "this run's output activation is not recorded: resume it with the --init-from it started from"
            )
        models = _initial_models(settings.init_dir, output=output or "softplus")
        if settings.replace and not settings.resume:  # the models of --init-from are loaded: it may be --model-dir
            clear_run(model_dir, log_dir)
        if not settings.resume:
            record_data(log_dir, "joint", data_record)
        history["output"] = _output_activation(models[0])
        if output is not None and history["output"] != output:
            raise MixinError(
                log_dir, f"the run was trained with {output} outputs, --init-from gives {history['output']} ones"
            )
        learns = [s not in settings.freeze for s in CDAE_SOURCES]
        optimizer = keras.optimizers.Adam(settings.learning_rate or LEARNING_RATE)
        variables = [v for m, on in zip(models, learns, strict=True) if on for v in m.trainable_variables]
        optimizer.build(variables)
        if settings.resume:
            _restore(checkpoint, models, optimizer)  # the checkpoint's learning rate too
            if settings.learning_rate is not None:
                optimizer.learning_rate.assign(settings.learning_rate)
        power = float(settings.mask_power)
        # The vocal model is trained as the chain it is validated in runs it (its second run or not).
        vocal_hears = chain["vocal_hears"] if chain is not None else "mix"
        train_step = _step_function(models, learns, variables, optimizer, power, vocal_hears)

        best = max((h["mean"] for h in history["validation"]), default=-np.inf)
        bar = progress_bar(progress, total=settings.steps, initial=start, unit="step", desc="training")
        losses: list[float] = []
        now = start
        while now < settings.steps:
            x, mags = next(data)
            losses.append(train_step(x, mags))
            now += 1
            bar.update(1)
            if now % settings.eval_every == 0 or now == settings.steps:
                train_step.sync()
                history["train"].append({"step": now, "loss": float(np.mean(losses))})
                losses = []
                candidate = log_dir / "candidate"
                _save_models(models, candidate, power, chain=chain)
                scores = validation_sdr(candidate, val_dirs)
                scores["step"] = now
                history["validation"].append(scores)
                if scores["mean"] > best:
                    best = scores["mean"]
                    _save_models(
                        models,
                        model_dir,
                        power,
                        chain=chain,
                        notes=f"trained with ./train_util.py --train --objective masks; step {now}",
                    )
                _save_checkpoint(checkpoint, now, models, optimizer)
                tmp = temporary_beside(history_path)
                tmp.write_text(json.dumps(history, indent=1) + "\n")
                os.replace(tmp, history_path)
                plot_joint_history(history, log_dir / "joint_history.png")
                bar.write(
                    f"step {now}: loss {history['train'][-1]['loss']:.4f}, validation SDR "
                    + ", ".join(f"{k} {v:.2f}" for k, v in scores.items() if k != "step")
                )
        bar.close()
    finally:
        data.close()  # the drawing processes end with it
    return {"best_validation_sdr": best, "steps": now, "training_seconds_of_audio": pool.seconds}


def run_data(pool: StemPool, val_dirs: Sequence[Path]) -> dict:
    """What a run trains and chooses on, by name (folders may move): each stem folder's tracks in
    the order batches are drawn from them, and each validation folder's entries."""
    return {
        "stem_dirs": [[folder, names] for folder, names in pool.names],
        "val_dirs": [[Path(d).name, sorted(p.name for p in Path(d).iterdir())] for d in val_dirs],
    }


CHECKPOINT = "checkpoint.npz"
"""In the log directory: the step, every CDAE's weights and the optimizer's state (any Keras backend)."""


def chain_estimates(
    models: list[keras.Model], learns: list[bool], x: Tensor, mags: Tensor, power: float, vocal_hears: str = "mix"
) -> Tensor:
    """The models' outputs (b, S, bands, frames) for the input ``x`` as the separator uses them
    (:meth:`mixin.separators.Separator.estimate`), on Keras's backend: with ``vocal_hears``
    "harmonic+vocal" the vocal model's estimate is its second run, on the mix's magnitudes less the
    percussive model's soft-mask share, brought back to the first run's units. ``mags[:, 0]``: |X|."""
    from ..backend import keras_module

    ops = keras_module().ops
    est = ops.stack([m(x, training=on)[..., 0] for m, on in zip(models, learns, strict=True)], axis=1)
    if vocal_hears == "mix":
        return est + 1e-6
    v, p = CDAE_SOURCES.index("vocal"), CDAE_SOURCES.index("percussive")
    weight = ops.power(est + 1e-6, power) if power != 1 else est  # a finite gradient where an output is 0
    mix = mags[:, 0]
    heard = mix * (1.0 - weight[:, p] / (ops.sum(weight, axis=1) + EPS))  # mixin.filtering.wiener_masks
    mean_heard = ops.mean(heard, axis=(1, 2), keepdims=True) + INPUT_EPS
    mean_mix = ops.mean(mix, axis=(1, 2), keepdims=True) + INPUT_EPS
    second = models[v]((heard * (INPUT_LEVEL / mean_heard))[..., None], training=learns[v])[..., 0]
    second = second * (mean_heard / mean_mix)
    return ops.concatenate((est[:, :v], second[:, None], est[:, v + 1 :]), axis=1) + 1e-6


def joint_loss(est: Tensor, mags: Tensor, power: float) -> Tensor:
    """The objective on Keras's backend: L1 of each masked mixture ``M_s |X|`` against ``|S_s|``
    over the chunk's mean ``|X|``, plus :data:`SCALE_WEIGHT` times the log distance of the outputs'
    sum from ``|X|`` in the models' input units. ``est``: outputs (b, S, F, T), > 0; ``mags``: |X| and
    |S_s| (b, 1 + S, F, T)."""
    from ..backend import keras_module

    ops = keras_module().ops
    weight = ops.power(est, power) if power != 1 else est
    masks = weight / ops.sum(weight, axis=1, keepdims=True)
    mix, sources = mags[:, :1], mags[:, 1:]
    mean_mix = ops.mean(mix, axis=(2, 3), keepdims=True) + INPUT_EPS
    masked = ops.mean(ops.abs(masks * mix - sources) / mean_mix) * est.shape[1]
    # The outputs' sum is pinned to the mix's magnitude in the input's units: without it one
    # source's output grows and the others' mask gradients (1 / sum of outputs) vanish.
    total = ops.sum(est, axis=1, keepdims=True)
    target = mix / mean_mix * INPUT_LEVEL
    floor = 1e-2 * INPUT_LEVEL
    scale = ops.mean(ops.abs(ops.log(total + floor) - ops.log(target + floor)))
    return masked + SCALE_WEIGHT * scale


def _step_function(
    models: list[keras.Model],
    learns: list[bool],
    variables: list[keras.Variable],
    optimizer: keras.optimizers.Optimizer,
    power: float,
    vocal_hears: str = "mix",
) -> Callable[[np.ndarray, np.ndarray], float]:
    """One compiled training step ``step(x, mags) -> loss`` on Keras's backend; ``step.sync()``
    writes the weights it holds back into the models (a no-op where it updates them in place).
    ``variables``: the learning models' weights (those of ``models`` whose ``learns`` is true);
    ``vocal_hears``: as in :func:`chain_estimates`."""
    from ..backend import keras_module

    keras = keras_module()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # No Python control flow on tensors in the step: AutoGraph would only warn that it cannot
        # convert keras_module's os.environ lookup.
        @tf.function(reduce_retracing=True, autograph=False)
        def tf_step(x: Tensor, mags: Tensor) -> Tensor:
            with tf.GradientTape() as tape:
                loss = joint_loss(chain_estimates(models, learns, x, mags, power, vocal_hears), mags, power)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            return loss

        def step(x: np.ndarray, mags: np.ndarray) -> float:
            return float(tf_step(tf.constant(x), tf.constant(mags)))

        step.sync = lambda: None
        return step
    if backend == "jax":
        import jax

        def loss_of(values: list[Tensor], x: Tensor, mags: Tensor) -> Tensor:
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                est = chain_estimates(models, learns, x, mags, power, vocal_hears)
            return joint_loss(est, mags, power)

        @jax.jit
        def jax_step(
            values: list[Tensor], state: list[Tensor], x: Tensor, mags: Tensor
        ) -> tuple[list[Tensor], list[Tensor], Tensor]:
            loss, grads = jax.value_and_grad(loss_of)(values, x, mags)
            values, state = optimizer.stateless_apply(state, grads, values)
            return values, state, loss

        held = {"values": [v.value for v in variables], "state": [v.value for v in optimizer.variables]}

        def step(x: np.ndarray, mags: np.ndarray) -> float:
            held["values"], held["state"], loss = jax_step(held["values"], held["state"], x, mags)
            return float(loss)

        def sync():
            for v, value in zip(variables, held["values"], strict=True):
                v.assign(value)
            for v, value in zip(optimizer.variables, held["state"], strict=True):
                v.assign(value)

        step.sync = sync
        return step
    raise MixinError(None, f"--objective masks trains on Keras's tensorflow or jax backend, not {backend}")


def _save_checkpoint(path: Path, step: int, models: list[keras.Model], optimizer: keras.optimizers.Optimizer) -> None:
    arrays = {"step": np.int64(step)}
    for source, model in zip(CDAE_SOURCES, models, strict=True):
        arrays.update({f"{source}/{i}": w for i, w in enumerate(model.get_weights())})
    arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
    tmp = temporary_beside(path)
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _restore(path: Path, models: list[keras.Model], optimizer: keras.optimizers.Optimizer) -> None:
    saved = np.load(path)
    for source, model in zip(CDAE_SOURCES, models, strict=True):
        model.set_weights([saved[f"{source}/{i}"] for i in range(len(model.get_weights()))])
    state = sorted((k for k in saved.files if k.startswith("optimizer/")), key=lambda k: int(k.split("/")[1]))
    if len(state) != len(optimizer.variables):
        raise MixinError(path, "the checkpoint's optimizer state does not fit this run (another --freeze?)")
    for v, key in zip(optimizer.variables, state, strict=True):
        v.assign(saved[key])


def plot_joint_history(history: dict, out: Path) -> Path:
    """Training loss and validation SDR per source against steps, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot([h["step"] for h in history["train"]], [h["loss"] for h in history["train"]])
    left.set_xlabel("step")
    left.set_ylabel("training loss (masked L1 / mean |X|)")
    steps = [h["step"] for h in history["validation"]]
    for key in (*CDAE_SOURCES, "mean"):
        right.plot(
            steps,
            [h.get(key, np.nan) for h in history["validation"]],
            label=key,
            linestyle="--" if key == "mean" else "-",
        )
    right.set_xlabel("step")
    right.set_ylabel("validation SDR (dB, median of 1-s frames)")
    right.legend(fontsize=8)
    fig.tight_layout()
    tmp = temporary_beside(out)
    fig.savefig(tmp, format="png", dpi=100)
    os.replace(tmp, out)
    plt.close(fig)
    return out


def _output_activation(model: keras.Model) -> str:
    """Name of a CDAE's output activation ("relu" or "softplus")."""
    return model.layers[-2].activation.__name__


def check_init_dir(init_dir: Path) -> ModelConfig:
    """``init_dir``'s config, or a :class:`MixinError` unless it holds the three CDAEs (a DRNN's
    directory ended in a Keras TypeError after the stems had loaded)."""
    config = ModelConfig.load(Path(init_dir))
    if config.arch != "cdae":
        raise MixinError(init_dir, f"holds a {config.arch} model: --init-from takes a directory of the three CDAEs")
    for source in CDAE_SOURCES:
        if not config.model_path(Path(init_dir), source).exists():
            raise MixinError(config.model_path(Path(init_dir), source), "model file not found")
    return config


def _initial_models(init_dir: Path | None, output: str = "softplus") -> list[keras.Model]:
    """Three CDAEs: copies of ``init_dir``'s with their calibrated gains folded into the last
    layer (ReLU(g z) = g ReLU(z) for g > 0), or new ones with an ``output`` activation (softplus
    from scratch; a resumed run's own)."""
    from ..cdae import build_cdae, load_cdae

    if init_dir is None:
        return [build_cdae(name=f"cdae_{s}", output=output) for s in CDAE_SOURCES]
    config = check_init_dir(init_dir)
    models = []
    for source in CDAE_SOURCES:
        path = config.model_path(Path(init_dir), source)
        try:
            model = load_cdae(path)
        except Exception as exc:  # Keras raises many kinds for a foreign or damaged file
            raise MixinError(path, f"cannot be read as a CDAE ({type(exc).__name__})") from None
        gain = float(config.gains.get(source, 1.0))
        kernel, bias = model.layers[-2].get_weights()
        model.layers[-2].set_weights([kernel * gain, bias * gain])
        models.append(model)
    return models


def _save_models(
    models: list[keras.Model], directory: Path, mask_power: float, notes: str = "candidate", chain: dict | None = None
) -> None:
    """Each CDAE as ``model_<source>.h5`` (atomically) and a ``config.json`` that loads them, with
    ``chain`` (:func:`separation_chain`; the helper DRNN named relative to ``directory``) around them."""
    directory.mkdir(parents=True, exist_ok=True)
    chain = dict(chain or {})
    helper = dict(chain.get("voice_helper") or {})
    if helper.get("model_dir"):
        helper["model_dir"] = os.path.relpath(helper["model_dir"], directory.resolve())
        chain["voice_helper"] = helper
    config = ModelConfig(
        sources=list(CDAE_SOURCES),
        mask_power=mask_power,
        gains={},
        input="normalised",
        input_level=INPUT_LEVEL,
        notes=notes,
        **chain,
    )
    for source, model in zip(CDAE_SOURCES, models, strict=True):
        save_atomically(model, config.model_path(directory, source))
    config.save(directory)
