#!/usr/bin/env bash
# Median SDR of the CDAEs at several soft-mask powers: how config.json's mask_power is chosen
# (the power with the best mean SDR over the three sources).
# By default on the development tracks: the rendered tracks of the HDF5 validation and test splits,
# which training never saw (early stopping only) and which are not the validation set reported.
#   WORK=work MODELS=pretrained-models POWERS="0.5 0.75 1 2" bash scripts/sweep_mask_power.sh [TRACKS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORK:-work}
MODELS=${MODELS:-pretrained-models}
POWERS=${POWERS:-0.5 0.75 1 1.5 2}
PY=.venv/bin/python
TRACKS=${1:-$W/dev-tracks}
if [ $# -eq 0 ]; then
    "$PY" - "$W" <<'PYEOF'
import json, sys
from pathlib import Path
import h5py
work = Path(sys.argv[1])
dev = work / "dev-tracks"
dev.mkdir(exist_ok=True)
with h5py.File(work / "data" / "data_harmonic.hdf5", "r") as f:
    split = json.loads(f.attrs["split_tracks"])
for name in split["validation"] + split["test"]:
    track = work / "render-train" / name
    if track.is_dir() and not (dev / name).exists():
        (dev / name).symlink_to(track.resolve())
PYEOF
fi
for p in $POWERS; do
    "$PY" eval_mixin.py "$TRACKS" --pretrained-model-dir "$MODELS" --systems mixin --mask-power "$p" \
        --out "$W/mask-power/p$p" --cores 2 --quiet >/dev/null
done
"$PY" - "$W/mask-power" $POWERS <<'PYEOF'
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
print("| mask power | harmonic | percussive | vocal | mean |\n|---:|---:|---:|---:|---:|")
means = {}
for p in sys.argv[2:]:
    s = json.loads((root / f"p{p}" / "results.json").read_text())["summary"]["mixin"]
    sdr = [s[k]["SDR"] for k in ("harmonic", "percussive", "vocal") if k in s]
    means[p] = sum(sdr) / len(sdr)
    print(f"| {p} | " + " | ".join(f"{v:.2f}" for v in sdr) + f" | {means[p]:.2f} |")
print(f"best mean SDR: mask power {max(means, key=means.get)}")
PYEOF
