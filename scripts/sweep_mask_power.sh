#!/usr/bin/env bash
# Median SDR of the CDAEs at several soft-mask powers: how config.json's mask_power is chosen
# (the power with the best mean SDR over the three sources; mixin/evaluation/mask_power.py).
# By default on the development tracks: the rendered tracks of the HDF5 validation and test splits,
# which training never saw (early stopping only) and which are not the validation set reported.
#   WORK=work MODELS=pretrained-models POWERS="0.5 0.75 1 2" bash scripts/sweep_mask_power.sh [TRACKS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORK:-work}
MODELS=${MODELS:-pretrained-models}
POWERS=${POWERS:-0.5 0.75 1 1.5 2}
PY=.venv/bin/python
if [ $# -eq 0 ]; then
    set -- "$W/render-train" --development "$W/data"
fi
"$PY" -m mixin sweep-mask-power "$@" --pretrained-model-dir "$MODELS" --powers "${POWERS// /,}" \
    --out "$W/mask-power" --cores 2 --force --quiet
