#!/usr/bin/env bash
# Score the CDAEs on the held-out rendered validation tracks next to the baselines, and the DRNN
# on the held-out MIR-1K songs: the tables of pretrained-models/README.md and drnn/README.md.
#   WORK=work MODELS=pretrained-models bash scripts/validate_pretrained.sh
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORK:-work}
MODELS=${MODELS:-pretrained-models}
MIR1K=${MIR1K:-../shared/data/mir1k-train}
PY=.venv/bin/python
"$PY" eval_mixin.py "$W/render-validation" --pretrained-model-dir "$MODELS" \
    --systems mixin,mixture,hpss,oracle --out "$MODELS/validation" --cores 2 --quiet
# The DRNN's validation songs: every fifth MIR-1K song (the same split as its training).
"$PY" -m mixin link-songs validation "$MIR1K" "$W/mir1k-validation-songs"
"$PY" eval_mixin.py "$W/mir1k-validation-songs" --pretrained-model-dir "$MODELS/drnn" \
    --systems mixin,mixture,oracle --out "$MODELS/drnn/validation" --cores 2 --quiet
