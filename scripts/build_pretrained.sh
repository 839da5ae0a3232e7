#!/usr/bin/env bash
# Rebuild the shipped CDAEs from scratch, offline: the exact commands of pretrained-models/README.md.
#   MIR1K=/path/to/mir1k-train WORK=work bash scripts/build_pretrained.sh
# Needs fluidsynth, SoundFonts and MIDI songs from Debian (installed here when missing) and the
# MIR-1K clips of singers abjones and amy (16 kHz stereo, voice on the right channel).
set -euo pipefail
cd "$(dirname "$0")/.."
MIR1K=${MIR1K:-../shared/data/mir1k-train}
W=${WORK:-work}
EPOCHS=${EPOCHS:-12}
PY=.venv/bin/python
[ -x "$PY" ] || bash scripts/run.sh setup
bash scripts/install_render_deps.sh full

# 1. Instrumental tracks rendered from MIDI, with MIR-1K voices sung over them. The validation
#    tracks use other songs, another SoundFont and other MIR-1K songs (mixin/render.py).
"$PY" train_util.py --render-stems "$W/render-train" --render-split train --tracks 25 --max-seconds 90 \
    --voices "$MIR1K" --render-seed 1 --force --quiet
"$PY" train_util.py --render-stems "$W/render-validation" --render-split validation --tracks 6 --max-seconds 60 \
    --voices "$MIR1K" --render-seed 2 --force --quiet

# 2. The MIR-1K clips of the training songs, as (mix, vocal) pairs.
"$PY" -m mixin.render link-songs train "$MIR1K" "$W/mir1k-train-songs"

# 3. Segments, HDF5 (80/10/10 by track, for early stopping), training.
"$PY" train_util.py --prepare-stems --stem-dirs "$W/render-train" "$W/mir1k-train-songs" \
    --segment-duration 30 --data-dir "$W/data" --force --quiet
"$PY" train_util.py --create-hdf5 --data-dir "$W/data" --seed 42 --force --quiet
"$PY" train_util.py --train --data-dir "$W/data" --model-dir "$W/model" --log-dir "$W/logdir" \
    --epochs "$EPOCHS" --batch-size 16 --patience 3
# ... continued for harmonic and vocal (the first continuation of harmonic was stopped by hand after
# epoch 19), then fine-tuned at a lower rate; percussive continued at its own rate with more patience.
"$PY" train_util.py --train --resume --sources vocal,harmonic --data-dir "$W/data" --model-dir "$W/model" \
    --log-dir "$W/logdir" --epochs 22 --batch-size 16 --patience 5
"$PY" train_util.py --train --resume --sources harmonic,vocal --data-dir "$W/data" --model-dir "$W/model" \
    --log-dir "$W/logdir" --epochs "${FINE_EPOCHS:-50}" --batch-size 16 --patience 10 --learning-rate 3e-4
"$PY" train_util.py --train --resume --sources percussive --data-dir "$W/data" --model-dir "$W/model" \
    --log-dir "$W/logdir" --epochs 80 --batch-size 16 --patience 12
# Output gains (mixin/calibrate.py; --train already did it, this makes sure all three are current),
# then the soft-mask power picked on the development tracks (not the validation set).
"$PY" train_util.py --calibrate --data-dir "$W/data" --model-dir "$W/model"
MODELS="$W/model" WORK="$W" bash scripts/sweep_mask_power.sh
echo "copy $W/model/{model_*.h5,config.json} to pretrained-models/ and set config.json's mask_power to the best power above"

# 4. The DRNN (second architecture), from the MIR-1K clips themselves. The shipped model holds out
#    every fifth song for validation (the same songs as above). Its settings are checked by leaving
#    one singer out (scripts/drnn_loso.sh, tables in pretrained-models/drnn/README.md); a model of
#    the settings those runs choose is trained on all 175 clips with --all-clips --epochs N.
"$PY" train_util.py --train --arch drnn --stem-dirs "$MIR1K" --epochs 60 --patience 8 --batch-size 16 \
    --learning-rate 1e-4 --model-dir "$W/drnn/model" --log-dir "$W/drnn/logdir"
