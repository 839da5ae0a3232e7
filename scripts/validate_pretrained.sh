#!/usr/bin/env bash
# Score the shipped models on real recordings next to the baselines: the tables of
# pretrained-models/README.md and drnn/README.md.
#   REAL=../shared/data/real-dev WORK=work MODELS=pretrained-models bash scripts/validate_pretrained.sh
# CDAEs: (1) the 4 real multitrack songs of $REAL that training never saw (its other 4 songs were
# trained on: see build_pretrained.sh); (2) real instrument + percussion mixes built from those 4
# (each song's pitched stems under another's drums or a sonic-pi-samples drum loop); (3) the same 4
# songs with their drums at -3 dB of the rest, as pop/rock records have them (real-dev's studio drums
# sit at 0 to -21 dB), and again spread in stereo with reverb (real-dev's multitracks are mono or nearly so; records
# are not: --spread), and with bass and other 4 dB down, vocals 2 dB down, drums at -2 dB of the rest
# (the held-out songs hold less harmonic: the mixture as estimate scores -2.35 / -3.22 / -4.87 dB
# there); (4) MIR-1K clips of the held-out songs (voice GNSDR; training singers: an optimistic
# figure), and clips of (1)'s singers scored the same way (singers never heard); (5) 12
# acoustic mixes: chorales rendered with sampled strings, winds and brass under real percussion (scripts/make_acoustic_mixes.py; rendered instruments, where median
# filtering is near its best, as on the held-out acoustic set). DRNN (trained on all of MIR-1K's
# training clips; settings chosen by scripts/drnn_loso.sh): the singers of real-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORK:-work}
MODELS=${MODELS:-pretrained-models}
REAL=${REAL:-../shared/data/real-dev}
MIR1K=${MIR1K:-../shared/data/mir1k-train}
PY=.venv/bin/python
bash scripts/install_render_deps.sh full  # sonic-pi-samples' drum loops among them
source scripts/real_dev_folds.sh
link_fold val "$REAL" "$W/real-val"
rm -rf "$W/percussion-val"
"$PY" eval_mixin.py "$W/real-val" --make-percussion-mixes "$W/percussion-val" \
    --loops /usr/share/sonic-pi/samples/loop_{amen_full,breakbeat,compus,tabla}.flac
rm -rf "$W/real-val-loud"
"$PY" eval_mixin.py "$W/real-val" --make-loud-drums "$W/real-val-loud"
rm -rf "$W/real-val-spread"
"$PY" eval_mixin.py "$W/real-val" --make-loud-drums "$W/real-val-spread" --spread
rm -rf "$W/real-val-less-harmonic"
"$PY" eval_mixin.py "$W/real-val" --make-loud-drums "$W/real-val-less-harmonic" --drums-db -2 \
    --stem-db bass=-4 --stem-db other=-4 --stem-db vocals=-2
for set in real-val percussion-val real-val-loud real-val-spread real-val-less-harmonic; do
    "$PY" eval_mixin.py "$W/$set" --pretrained-model-dir "$MODELS" \
        --systems mixin,mixture,hpss,oracle --out "$MODELS/validation/$set" --cores 2 --force --quiet
done
rm -rf "$W/acoustic-val"
"$PY" scripts/make_acoustic_mixes.py "$W/acoustic-val" >/dev/null
"$PY" eval_mixin.py "$W/acoustic-val" --pretrained-model-dir "$MODELS" \
    --systems mixin,mixture,hpss,oracle --out "$MODELS/validation/acoustic-val" --cores 2 --force --quiet
"$PY" -m mixin link-songs validation "$MIR1K" "$W/mir1k-validation-songs"
"$PY" eval_mixin.py "$W/mir1k-validation-songs" --pretrained-model-dir "$MODELS" \
    --systems mixin,mixture --out "$MODELS/validation/mir1k" --cores 2 --force --quiet
# MIR-1K's mixing (16 kHz mono, voice and accompaniment at 0 dB; voice GNSDR from eval_mixin's whole-clip
# BSSv4, not MIR-1K's bss_eval_sources) on singers that
# nothing in the chain heard: the sung songs of (1) cut into 8-s clips with their own accompaniment,
# as recorded and with the drums at -3 dB of the rest (real bands, not karaoke backing tracks).
rm -rf "$W/real-val-clips" "$W/real-val-clips-loud"
"$PY" train_util.py --make-song-clips "$W/real-val-clips" --songs "$W"/real-val/* --paired 0 >/dev/null
"$PY" train_util.py --make-song-clips "$W/real-val-clips-loud" --songs "$W"/real-val/* --paired 0 --drum-level -3 -3 >/dev/null
for set in real-val-clips real-val-clips-loud; do
    "$PY" eval_mixin.py "$W/$set" --layout mir1k --pretrained-model-dir "$MODELS" \
        --systems mixin,mixture --out "$MODELS/validation/$set" --cores 2 --force --quiet
done
# The DRNN trained on every MIR-1K clip: its unseen singers here are real-dev's (all 8 songs).
"$PY" eval_mixin.py "$REAL" --pretrained-model-dir "$MODELS/drnn" \
    --systems mixin,mixture,oracle --out "$MODELS/drnn/validation" --cores 2 --force --quiet
# The DRNN that helps the CDAEs with the vocal (trained on MIR-1K and 4 other real-dev songs): the
# singers of the 4 real songs above, which it never heard.
"$PY" eval_mixin.py "$W/real-val" --pretrained-model-dir "$MODELS/drnn-songs" \
    --systems mixin,mixture,oracle --out "$MODELS/drnn-songs/validation" --cores 2 --force --quiet
