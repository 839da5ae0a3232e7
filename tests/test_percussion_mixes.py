"""Real instrument + percussion evaluation mixes assembled from multitrack folders."""

import numpy as np
import pytest
import soundfile as sf

from mixin.errors import MixinError
from mixin.data.percussion_mixes import make_percussion_mixes
from mixin.data.synth import write_musdb_track


def test_mixes_are_pitched_stems_over_other_drums(tmp_path):
    for i in range(3):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.5, seed=i)
    loop = tmp_path / "loop.wav"
    sf.write(str(loop), (0.2 * np.random.default_rng(0).normal(size=(11025, 1))).astype(np.float32), 22050)
    made = make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [loop])
    assert len(made) == 4  # each song under another's drums, the first also under the loop
    for folder in made:
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["drums.wav", "harmonic.wav", "mixture.wav"]
        audio = {n: sf.read(str(folder / n), dtype="float32")[0] for n in names}
        np.testing.assert_allclose(audio["harmonic.wav"] + audio["drums.wav"], audio["mixture.wav"], atol=1e-6)
        assert np.abs(audio["mixture.wav"]).max() == pytest.approx(0.9, abs=1e-4)
    # The pitched part is the song's bass + other, never its vocals or drums.
    bass, _ = sf.read(str(tmp_path / "songs" / "song0" / "bass.wav"), dtype="float32")
    other, _ = sf.read(str(tmp_path / "songs" / "song0" / "other.wav"), dtype="float32")
    got, _ = sf.read(str(made[0] / "harmonic.wav"), dtype="float32")
    scale = np.dot(got.ravel(), (bass + other).ravel()) / np.dot((bass + other).ravel(), (bass + other).ravel())
    np.testing.assert_allclose(got, scale * (bass + other), atol=1e-5)
    with pytest.raises(MixinError, match="already exists"):
        make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [loop])
