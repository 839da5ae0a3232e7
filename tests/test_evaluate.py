"""Metrics with known answers, GNSDR aggregation, baselines, and eval_mixin.py's report."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixin.cli.evaluate import main
from mixin.data.synth import synth_stems, write_musdb_track
from mixin.evaluation.baselines import hpss, oracle_wiener
from mixin.evaluation.scoring import as_voice_pair, bss_v4, global_voice_metrics, load_tracks, score_track


def test_sdr_of_known_noise_level():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((1, 44100 * 3, 1))
    noise = rng.standard_normal(ref.shape)
    noise *= np.sqrt(np.sum(ref**2) / np.sum(noise**2)) * 10 ** (-20 / 20)  # exactly 20 dB below
    m = bss_v4(ref, ref + noise, 44100)
    assert np.median(m["SDR"]) == pytest.approx(20.0, abs=0.3)
    assert np.median(bss_v4(ref, ref, 44100)["SDR"]) > 60


def test_gnsdr_is_length_weighted_mean_of_nsdr():
    clips = [
        {"length": 100, "sdr": 5.0, "sdr_mix": 1.0, "sir": 10.0, "sar": 7.0},
        {"length": 300, "sdr": 9.0, "sdr_mix": 3.0, "sir": 20.0, "sar": 11.0},
    ]
    g = global_voice_metrics(clips)
    assert g["GNSDR"] == pytest.approx((100 * 4 + 300 * 6) / 400)  # 5.5
    assert g["GSIR"] == pytest.approx((100 * 10 + 300 * 20) / 400)  # 17.5
    assert g["GSAR"] == pytest.approx((100 * 7 + 300 * 11) / 400)  # 10.0


@pytest.mark.slow
def test_voice_metrics_differ_where_they_must(tmp_path):
    """Interference lowers SIR, not SAR; noise lowers SAR: the three must not coincide."""
    rng = np.random.default_rng(1)
    n = 16000 * 4
    voice = rng.standard_normal(n) * np.sin(np.linspace(0, 40, n)) ** 2
    music = rng.standard_normal(n)
    clip = tmp_path / "clips"
    clip.mkdir()
    sf.write(str(clip / "a_1_01.wav"), np.stack([music, voice], axis=1) * 0.1, 16000, subtype="FLOAT")
    (track,) = load_tracks(clip)
    assert track.voice_pair and track.rate == 16000
    v, a = track.references["vocal"], track.references["accompaniment"]
    np.testing.assert_allclose(np.sum(v**2), np.sum(a**2), rtol=1e-5)  # 0 dB voice-to-music ratio
    est = {"vocal": v + 0.3 * a + 0.01 * rng.standard_normal(v.shape), "accompaniment": a + 0.1 * v}
    score = score_track(track, "x", est)
    g = global_voice_metrics([score.voice])
    assert g["GNSDR"] > 5 and abs(g["GSIR"] - g["GSAR"]) > 3 and abs(g["GNSDR"] - g["GSIR"]) > 1
    assert score.voice["sdr_mix"] == pytest.approx(0.0, abs=0.5)  # the mixture at 0 dB VMR


def test_hpss_sums_to_mix_and_separates():
    stems = synth_stems(4.0, 22050, 1, seed=3)
    mix = stems["harmonic"] + stems["percussive"]
    out = hpss(mix, 22050)
    np.testing.assert_allclose(out["harmonic"] + out["percussive"], mix, atol=1e-5)
    corr = np.corrcoef(out["percussive"][:, 0], stems["percussive"][:, 0])[0, 1]
    assert corr > 0.5


def test_oracle_beats_mixture():
    stems = synth_stems(3.0, 44100, 2, seed=4)
    mix = sum(stems.values())
    est = oracle_wiener(mix, stems)
    np.testing.assert_allclose(sum(est.values()), mix, atol=1e-4)
    for s in stems:
        sdr = 10 * np.log10(np.sum(stems[s] ** 2) / np.sum((est[s] - stems[s]) ** 2))
        sdr_mix = 10 * np.log10(np.sum(stems[s] ** 2) / np.sum((mix - stems[s]) ** 2))
        assert sdr > 4 and sdr > sdr_mix + 4, (s, sdr, sdr_mix)


@pytest.mark.slow
def test_eval_cli_report_and_skips(tmp_path, model_dir):
    tracks = tmp_path / "tracks"
    for i in range(2):
        write_musdb_track(tracks / f"song{i}", 2.5, seed=i)
    bad = tracks / "misaligned"
    write_musdb_track(bad, 2.5, seed=9)
    drums, rate = sf.read(str(bad / "drums.wav"))
    sf.write(str(bad / "drums.wav"), drums[:-100], rate, subtype="FLOAT")
    est_dir = tmp_path / "est"
    est_dir.mkdir()
    for song in ("song0", "song1"):  # the mixture as every estimate
        mix, rate = sf.read(str(tracks / song / "mixture.wav"), dtype="float32")
        for source in ("harmonic", "percussive", "vocal"):
            sf.write(str(est_dir / f"{song}_{source}.wav"), mix, rate, subtype="FLOAT")
    sf.write(str(est_dir / "song1_vocal.wav"), mix[:-10], rate, subtype="FLOAT")  # wrong length
    with pytest.warns(UserWarning) as caught:
        code = main(
            [
                str(tracks),
                "--pretrained-model-dir",
                str(model_dir),
                "--estimates-dir",
                str(est_dir),
                "--systems",
                "mixin,mixture,hpss",
                "--out",
                str(tmp_path / "report"),
                "--quiet",
                "--cores",
                "2",
            ]
        )
    err = warned(caught)
    assert code == 0
    assert "skipped misaligned:" in err and "drums.wav: shape (110150, 2) differs from the mixture's (110250, 2)" in err
    assert "skipped song1 (estimates): estimates estimate for vocal has shape (110240, 2), reference (110250, 2)" in err
    report = json.loads((tmp_path / "report" / "results.json").read_text())
    summary = report["summary"]
    assert set(summary) == {"mixin", "mixture", "hpss", "estimates"}
    assert summary["estimates"]["vocal"]["tracks"] == 1 and summary["mixture"]["vocal"]["tracks"] == 2
    per_track = {(s["track"], s["system"]): s for s in report["scores"]}
    # The estimate on disk for song0 is the mixture: it must score exactly as the mixture baseline.
    assert per_track[("song0", "estimates")]["metrics"]["vocal"]["SDR"] == pytest.approx(
        per_track[("song0", "mixture")]["metrics"]["vocal"]["SDR"], abs=1e-6
    )
    assert "harmonic" in summary["hpss"] and "vocal" not in summary["hpss"]
    md = (tmp_path / "report" / "results.md").read_text()
    assert "| hpss |" in md and "## Skipped" in md
    assert (tmp_path / "report" / "results.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_eval_cli_refuses_what_it_cannot_score(tmp_path, capsys):
    tracks = tmp_path / "tracks"
    write_musdb_track(tracks / "song0", 1.0, seed=0)
    assert main([str(tracks), "--systems", " , "]) == 2
    assert "error: --systems: name at least one of mixin, mixture, hpss, oracle" in capsys.readouterr().err
    assert main([str(tracks), "--layout", "mir1k", "--systems", "hpss", "-q"]) == 1  # before: an empty report
    assert f"error: {tracks}: no audio clips in it (--layout mir1k" in capsys.readouterr().err
    report = tmp_path / "report"
    report.write_text("a file")
    assert main([str(tracks), "--systems", "hpss", "--out", str(report), "-q"]) == 1  # before: a traceback
    assert capsys.readouterr().err == f"error: {report}: is a file, not a directory\n"
    empty = tmp_path / "est"
    empty.mkdir()
    out = tmp_path / "out"
    assert main([str(tracks), "--systems", "", "--estimates-dir", str(empty), "--out", str(out), "-q"]) == 1
    assert f"error: {tracks}: nothing scored: every track or system was skipped" in capsys.readouterr().err
    assert not (out / "results.json").exists()
    # Flags of the set-making modes, and a label that is a built-in system's, are refused, not ignored.
    for flags, message in (
        (["--drums-db", "-6"], "--drums-db: for --make-loud-drums only"),
        (["--loops", "x.flac"], "--loops: for --make-percussion-mixes only"),
        (["--estimates-dir", str(empty), "--estimates-name", "hpss"], "--estimates-name hpss: a built-in system's"),
    ):
        assert main([str(tracks), "--systems", "mixture", *flags, "-q"]) == 2
        assert message in capsys.readouterr().err


def test_options_a_run_never_reads_are_usage_errors(tmp_path, capsys, monkeypatch):
    """--estimates-name without --estimates-dir, the model flags without the mixin system, and the
    scoring options with a set-making step were taken and ignored (exit 0); now usage errors. Options
    left out are not "given": their defaults apply as before."""
    monkeypatch.chdir(tmp_path)  # where a default report/ would land
    tracks, out = tmp_path / "tracks", tmp_path / "R"
    write_musdb_track(tracks / "song0", 1.0, seed=0)
    step = "for scoring only, not with {} (it writes a set, scores nothing)"
    for flags, message in (
        (
            ["--systems", "mixture", "--estimates-name", "foo"],
            "--estimates-name: labels --estimates-dir, which is not given",
        ),
        (["--estimates-name", "foo"], "--estimates-name: labels --estimates-dir, which is not given"),
        (
            ["--systems", "mixture", "--instrumental", "--hpss-weight", "1", "--pretrained-model-dir", "/nonexist"],
            "--pretrained-model-dir, --instrumental, --hpss-weight: for the mixin system only, which --systems "
            "leaves out",
        ),
        (
            ["--systems", "hpss,oracle", "--shifts", "2"],
            "--shifts: for the mixin system only, which --systems leaves out",
        ),
        (
            ["--make-loud-drums", str(out), "--systems", "mixin", "--out", "R", "--cores", "2"],
            f"--systems, --out, --cores: {step.format('--make-loud-drums')}",
        ),
        (
            ["--make-loud-drums", str(out), "--estimates-dir", "E", "--pretrained-model-dir", "M", "--instrumental"],
            f"--estimates-dir, --pretrained-model-dir, --instrumental: {step.format('--make-loud-drums')}",
        ),
        (
            ["--make-percussion-mixes", str(out), "--layout", "folders", "--single-model"],
            f"--layout, --single-model: {step.format('--make-percussion-mixes')}",
        ),
        (["--single-model", "--mwf-iterations", "1"], "--mwf-iterations: no effect with --single-model"),
    ):
        assert main([str(tracks), *flags, "-q"]) == 2, flags
        err = capsys.readouterr().err
        assert err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert not out.exists() and not (tmp_path / "report").exists()


def test_a_report_is_replaced_only_with_force(tmp_path, capsys):
    tracks, out = tmp_path / "tracks", tmp_path / "report"
    write_musdb_track(tracks / "song0", 1.0, seed=0)
    assert main([str(tracks), "--systems", "mixture", "--out", str(out), "-q"]) == 0
    first = (out / "results.json").read_bytes()
    assert main([str(tracks), "--systems", "mixture,hpss", "--out", str(out), "-q"]) == 1
    assert capsys.readouterr().err == (
        f"error: {out}: already holds a report (results.json, results.md, results.png): --force replaces it\n"
    )
    assert (out / "results.json").read_bytes() == first
    assert main([str(tracks), "--systems", "mixture,hpss", "--out", str(out), "--force", "-q"]) == 0
    assert '"hpss"' in (out / "results.json").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md", "results.png"]  # no temporaries


def test_silent_reference_reported(tmp_path):
    tracks = tmp_path / "t"
    write_musdb_track(tracks / "quiet", 2.0, seed=1)
    sf.write(str(tracks / "quiet" / "vocals.wav"), np.zeros((88200, 2), np.float32), 44100)
    (track,) = load_tracks(tracks)
    score = score_track(track, "mixture", {s: track.mix for s in track.references})
    assert score.metrics["vocal"] == {"skipped": "silent reference: metrics undefined"}
    assert np.isfinite(score.metrics["harmonic"]["SDR"])


def test_a_silent_estimate_is_scored_instead_of_stopping_the_run(tmp_path):
    """The shipped chain can return an all-zero vocal; museval refuses one (ValueError), which
    ended the whole run. It scores what a zero estimate scores by plain SDR, 0 dB."""
    tracks = tmp_path / "t"
    write_musdb_track(tracks / "song", 2.0, seed=1)
    (track,) = load_tracks(tracks)
    estimates = {s: track.mix for s in track.references}
    estimates["vocal"] = np.zeros_like(track.mix)
    score = score_track(track, "nothing-for-vocal", estimates)
    assert score.metrics["vocal"]["SDR"] == pytest.approx(0.0, abs=0.1)
    mixture = score_track(track, "mixture", {s: track.mix for s in track.references})
    assert score.metrics["harmonic"] == mixture.metrics["harmonic"]  # the others scored as they are


def test_a_folder_without_mixture_is_mixed_from_its_stems(tmp_path):
    """Stem folders made for training carry no mixture file: their mixture is the stems' sum (as
    MUSDB18's are), so trainers and reports score them as they are; stems that do not line up are
    still a reason to skip, named."""
    tracks = tmp_path / "t"
    write_musdb_track(tracks / "stems", 2.0, seed=2)
    mixture, _ = sf.read(str(tracks / "stems" / "mixture.wav"), dtype="float32")
    (tracks / "stems" / "mixture.wav").unlink()
    write_musdb_track(tracks / "short", 2.0, seed=3)
    (tracks / "short" / "mixture.wav").unlink()
    vocals, rate = sf.read(str(tracks / "short" / "vocals.wav"), dtype="float32")
    sf.write(str(tracks / "short" / "vocals.wav"), vocals[:-1], rate, subtype="FLOAT")
    short, track = load_tracks(tracks)
    assert track.skipped is None and track.rate == 44100 and track.mix.shape == (88200, 2)
    np.testing.assert_allclose(track.mix, mixture, atol=1e-6)
    assert set(track.references) == {"harmonic", "percussive", "vocal"}
    assert short.skipped.endswith("vocals.wav: shape (88199, 2) differs from the first stem's (88200, 2)")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "empty").mkdir()
    assert load_tracks(tmp_path / "empty")[0].skipped.startswith("no mixture file")


def test_a_vocal_accompaniment_model_is_scored_on_both(tmp_path):
    """The DRNN's report: vocal and accompaniment (the other stems summed) for every system, so
    the vocal's SIR is defined and the baselines split the mix the same two ways; tracks without a
    singer are skipped. Where no stem falls silent the vocal's SDR does not depend on how the rest
    is grouped (museval drops frames where any reference is silent: on real songs it may)."""
    from pathlib import Path

    tracks = tmp_path / "tracks"
    write_musdb_track(tracks / "song", 3.0, seed=4)
    write_musdb_track(tracks / "instrumental", 3.0, seed=5)
    (tracks / "instrumental" / "vocals.wav").unlink()
    instrumental, track = load_tracks(tracks)
    assert as_voice_pair(instrumental).skipped.startswith("no vocal reference")
    pair = as_voice_pair(track)
    assert set(pair.references) == {"vocal", "accompaniment"} and pair.mix is track.mix
    np.testing.assert_allclose(
        pair.references["accompaniment"], track.references["harmonic"] + track.references["percussive"]
    )
    assert as_voice_pair(pair) is pair  # already a pair: unchanged
    drnn = Path(__file__).resolve().parents[1] / "pretrained-models" / "drnn"
    code = main(
        [
            str(tracks),
            "--pretrained-model-dir",
            str(drnn),
            "--systems",
            "mixin,mixture,hpss,oracle",
            "--out",
            str(tmp_path / "report"),
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [name for name, _ in report["skipped_tracks"]] == ["instrumental"]
    summary = report["summary"]
    for system in ("mixin", "mixture", "oracle"):
        assert set(summary[system]) == {"vocal", "accompaniment"}, system
        assert np.isfinite(summary[system]["vocal"]["SIR"])
    assert summary["oracle"]["vocal"]["SDR"] > summary["mixin"]["vocal"]["SDR"] > summary["mixture"]["vocal"]["SDR"]
    assert not summary.get("hpss")  # harmonic/percussive only: nothing to score here
    alone = score_track(track, "mixture", {"vocal": track.mix})
    assert alone.metrics["vocal"]["SDR"] == pytest.approx(summary["mixture"]["vocal"]["SDR"], abs=1e-6)


def warned(caught) -> str:
    """The messages of the warnings ``pytest.warns`` caught (the CLI's ``warning:`` lines), one a line."""
    return "\n".join(str(w.message) for w in caught)


def _two_songs_and_estimates(tmp_path, seconds=1.0):
    """Songs A and B and an estimates folder holding the mixture as every source's estimate."""
    tracks, est = tmp_path / "tracks", tmp_path / "est"
    est.mkdir()
    for i, name in enumerate("AB"):
        write_musdb_track(tracks / name, seconds, seed=i)
        mix, rate = sf.read(str(tracks / name / "mixture.wav"), dtype="float32")
        for source in ("harmonic", "percussive", "vocal"):
            sf.write(str(est / f"{name}_{source}.wav"), mix, rate, subtype="FLOAT")
    return tracks, est


def _score_with_estimates(tracks: Path, est: Path, out: Path, system: str) -> tuple[str, dict]:
    """Score ``system`` and ``est``'s estimates (exit 0 expected): the warnings and results.json."""
    with pytest.warns(UserWarning) as caught:
        assert main([str(tracks), "--systems", system, "--estimates-dir", str(est), "--out", str(out), "-q"]) == 0
    return warned(caught), json.loads((out / "results.json").read_text())


def test_an_unreadable_estimate_skips_that_system_only(tmp_path):
    """An unreadable estimate file dropped the track from every system, with no word on stderr."""
    tracks, est = _two_songs_and_estimates(tmp_path)
    (est / "A_vocal.wav").write_bytes(b"not audio at all")
    out = tmp_path / "report"
    err, report = _score_with_estimates(tracks, est, out, "mixture")
    assert f"skipped A (estimates): {est / 'A_vocal.wav'}: cannot read audio" in err
    assert report["skipped_tracks"] == []
    assert report["summary"]["mixture"]["vocal"]["tracks"] == 2
    assert report["summary"]["estimates"]["vocal"]["tracks"] == 1


def test_nan_or_inf_samples_skip_with_a_reason(tmp_path):
    """A NaN in an estimate was scored silently: its metrics came out NaN, which the medians
    dropped while the track count kept it. Such an estimate skips that system; such a reference,
    the track."""
    tracks, est = _two_songs_and_estimates(tmp_path)
    vocal, rate = sf.read(str(est / "A_vocal.wav"), dtype="float32")
    vocal[100, 0] = np.nan
    sf.write(str(est / "A_vocal.wav"), vocal, rate, subtype="FLOAT")
    write_musdb_track(tracks / "C", 1.0, seed=2)
    bass, rate = sf.read(str(tracks / "C" / "bass.wav"), dtype="float32")
    bass[7, 1] = np.inf
    sf.write(str(tracks / "C" / "bass.wav"), bass, rate, subtype="FLOAT")
    out = tmp_path / "report"
    err, report = _score_with_estimates(tracks, est, out, "mixture")
    nan = "contains NaN or infinite samples"
    assert f"skipped A (estimates): {est / 'A_vocal.wav'}: {nan} (first at sample 100)" in err
    assert f"skipped C: {tracks / 'C' / 'bass.wav'}: {nan} (first at sample 7)" in err
    assert [name for name, _ in report["skipped_tracks"]] == ["C"]
    assert report["summary"]["estimates"]["vocal"]["tracks"] == 1
    assert all(np.isfinite(v) for per in report["summary"].values() for m in per.values() for v in m.values())


def test_a_missing_estimate_stem_skips_instead_of_inflating_sir(tmp_path):
    """An estimates folder without A_vocal.wav was scored with the vocal left out of the
    references, which moved the other sources' SIR (the vocal in them no longer counted as
    interference). Such a track
    is skipped for that system; a system that estimates fewer sources by design (HPSS) is scored,
    its SDR unchanged, and results.md says its SIR/SAR leave the others out."""
    tracks, est = _two_songs_and_estimates(tmp_path)
    (est / "A_vocal.wav").unlink()
    out = tmp_path / "report"
    err, report = _score_with_estimates(tracks, est, out, "hpss")
    assert f"skipped A (estimates): no A_vocal.wav in {est}: its reference would be left out" in err
    assert report["summary"]["estimates"]["harmonic"]["tracks"] == 1
    assert report["summary"]["hpss"]["harmonic"]["tracks"] == 2
    md = (out / "results.md").read_text()
    assert "## Sources left out" in md and "- hpss: vocal" in md and "- estimates" not in md
    (track,) = load_tracks(tracks, names=["A"])
    full = score_track(track, "x", {s: track.mix for s in track.references})
    fewer = score_track(track, "x", {s: track.mix for s in ("harmonic", "percussive")})
    assert fewer.left_out == ["vocal"] and full.left_out == []
    assert fewer.metrics["harmonic"]["SDR"] == pytest.approx(full.metrics["harmonic"]["SDR"], abs=1e-9)
    assert abs(fewer.metrics["harmonic"]["SIR"] - full.metrics["harmonic"]["SIR"]) > 1


def test_a_silent_reference_is_reported_as_skipped(tmp_path):
    """README says a silent reference is reported as skipped; it reached results.json only."""
    tracks = tmp_path / "tracks"
    write_musdb_track(tracks / "S", 1.0, seed=1)
    sf.write(str(tracks / "S" / "vocals.wav"), np.zeros((44100, 2), np.float32), 44100, subtype="FLOAT")
    out = tmp_path / "report"
    with pytest.warns(UserWarning) as caught:
        assert main([str(tracks), "--systems", "mixture,oracle", "--out", str(out), "-q"]) == 0
    assert warned(caught).count("skipped S (vocal): silent reference: metrics undefined") == 1  # not per system
    assert "- S (vocal): silent reference: metrics undefined" in (out / "results.md").read_text()


def test_a_vocal_accompaniment_model_skips_a_track_with_a_silent_vocal(tmp_path):
    """A silent vocals.wav passed as_voice_pair: the DRNN report scored that instrumental's
    accompaniment (the whole mix: 75 dB for the mixture baseline) beside the sung tracks."""
    write_musdb_track(tmp_path / "t" / "instrumental", 1.0, seed=5)
    sf.write(str(tmp_path / "t" / "instrumental" / "vocals.wav"), np.zeros((44100, 2), np.float32), 44100)
    (track,) = load_tracks(tmp_path / "t")
    assert track.skipped is None and not np.any(track.references["vocal"])
    assert as_voice_pair(track).skipped.startswith("silent vocal reference")


def test_the_report_says_which_scoring_its_gnsdr_is():
    """eval_mixin's GNSDR is whole-clip BSSv4, not MIR-1K's bss_eval_sources that the DRNN's
    training validation (voice_metrics) reports; the two differ by about 1 dB, and report and
    --help called both plain GNSDR."""
    from mixin.cli.evaluate import build_parser
    from mixin.evaluation.report import markdown
    from mixin.evaluation.scoring import Score

    metrics = {"SDR": 1.0, "ISR": 2.0, "SIR": 3.0, "SAR": 4.0, "tracks": 1}
    summary = {"mixin": {"vocal": metrics, "global": {"GNSDR": 5.0, "GSIR": 6.0, "GSAR": 7.0}}}
    voice = markdown(summary, [Score("clip", "mixin")], []).split("## Voice")[1]
    assert "Whole-clip BSSv4" in voice and "not the bss_eval_sources" in voice
    assert "GNSDR/GSIR/GSAR (from whole-clip BSSv4, not the bss_eval_sources" in " ".join(
        build_parser().format_help().split()
    )


def test_a_perfect_estimate_scores_inf_and_the_report_is_strict_json(tmp_path):
    """An estimate equal to its reference scored NaN (its +inf frames were dropped as undefined),
    and results.json held bare NaN tokens that standard JSON parsers refuse."""
    import json

    from mixin.evaluation.report import strict_json, write_report
    from mixin.evaluation.scoring import framewise_median

    assert framewise_median(np.array([np.nan, np.inf, np.inf, 3.0])) == np.inf
    assert framewise_median(np.array([np.nan, 1.0, 2.0, 9.0])) == 2.0
    assert np.isnan(framewise_median(np.array([np.nan, np.nan])))
    data = {"a": np.float32(1.5), "b": [float("nan"), np.inf, -np.inf], "c": (np.int64(3),), "d": np.array([0.5])}
    assert strict_json(data) == {"a": 1.5, "b": [None, "inf", "-inf"], "c": [3], "d": [0.5]}
    figures = {"SDR": float("nan"), "SIR": np.inf, "SAR": 1.0, "ISR": 2.0, "tracks": 1}
    write_report(tmp_path, [], {"x": {"vocal": figures}}, [])

    def refuse(token):
        raise ValueError(token)

    report = json.loads((tmp_path / "results.json").read_text(), parse_constant=refuse)
    assert report["summary"] == {"x": {"vocal": {"SDR": None, "SIR": "inf", "SAR": 1.0, "ISR": 2.0, "tracks": 1}}}
    md = (tmp_path / "results.md").read_text()
    assert "| x | nan |" in md and "| x | inf |" in md


def test_help_explains_every_argument_and_each_layout():
    """TRACKS_DIR and --layout had no help text, the epilog left out folders of stems alone (which
    README documents), and README's Evaluating section never named --layout."""
    import argparse
    from pathlib import Path

    from mixin.cli.evaluate import build_parser

    parser = build_parser()
    bare = [a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._HelpAction)]
    assert bare == []
    text = " ".join(parser.format_help().split())
    assert "folders of stems alone (their sum is the mixture" in text
    assert "how TRACKS_DIR is read: folders, each subfolder a track (with none, TRACKS_DIR itself is one track)" in text
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    evaluating = readme.split("## Evaluating", 1)[1].split("\n## ", 1)[0]
    assert "folders of stems alone" in evaluating and "`--layout` says which" in evaluating
