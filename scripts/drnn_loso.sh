#!/usr/bin/env bash
# Leave-one-singer-out figures for one DRNN setting (pretrained-models/drnn/README.md): train on
# abjones and validate on all of amy's clips, and the reverse. Extra arguments go to train_util.py.
#   NAME=aug MIR1K=/path/to/mir1k-train WORK=work bash scripts/drnn_loso.sh --pitch-shift 3 --gain-db 6
# Each fold's GNSDR/GSIR/GSAR is printed and kept in $WORK/loso/$NAME-val<singer>/log/drnn_history.json;
# a run cut short continues with the same command plus --resume.
set -euo pipefail
cd "$(dirname "$0")/.."
MIR1K=${MIR1K:-../shared/data/mir1k-train}
W=${WORK:-work}
NAME=${NAME:-base}
PY=.venv/bin/python
for singer in amy abjones; do
    out="$W/loso/$NAME-val$singer"
    nice -n 19 "$PY" train_util.py --train --arch drnn --stem-dirs "$MIR1K" --val-singer "$singer" \
        --epochs "${EPOCHS:-30}" --patience 6 --batch-size 16 --learning-rate 1e-4 \
        --model-dir "$out/model" --log-dir "$out/log" --quiet "$@"
done
