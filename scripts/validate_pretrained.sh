#!/usr/bin/env bash
# Score the shipped models on real recordings next to the baselines: the tables of
# pretrained-models/README.md and drnn/README.md.
#   REAL=../shared/data/real-dev WORK=work MODELS=pretrained-models bash scripts/validate_pretrained.sh
# CDAEs: (1) the real multitrack songs of $REAL (MUSDB18-HQ layout), never trained on; (2) real
# instrument + percussion mixes built from them (each song's pitched stems under another song's
# drums or a sonic-pi-samples drum loop); (3) MIR-1K clips of the held-out songs (voice GNSDR;
# training singers: an optimistic figure). DRNN: the held-out MIR-1K songs.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORK:-work}
MODELS=${MODELS:-pretrained-models}
REAL=${REAL:-../shared/data/real-dev}
MIR1K=${MIR1K:-../shared/data/mir1k-train}
LOOPS=/usr/share/sonic-pi/samples
PY=.venv/bin/python
bash scripts/install_render_deps.sh full  # sonic-pi-samples' drum loops among them
rm -rf "$W/percussion-dev"
"$PY" eval_mixin.py "$REAL" --make-percussion-mixes "$W/percussion-dev" \
    --loops "$LOOPS"/loop_{amen_full,breakbeat,compus,tabla,safari,perc1}.flac
for set in real-dev percussion-dev; do
    tracks=$REAL; [ "$set" = percussion-dev ] && tracks=$W/percussion-dev
    "$PY" eval_mixin.py "$tracks" --pretrained-model-dir "$MODELS" \
        --systems mixin,mixture,hpss,oracle --out "$MODELS/validation/$set" --cores 2 --quiet
done
"$PY" -m mixin link-songs validation "$MIR1K" "$W/mir1k-validation-songs"
"$PY" eval_mixin.py "$W/mir1k-validation-songs" --pretrained-model-dir "$MODELS" \
    --systems mixin,mixture --out "$MODELS/validation/mir1k" --cores 2 --quiet
"$PY" eval_mixin.py "$W/mir1k-validation-songs" --pretrained-model-dir "$MODELS/drnn" \
    --systems mixin,mixture,oracle --out "$MODELS/drnn/validation" --cores 2 --quiet
