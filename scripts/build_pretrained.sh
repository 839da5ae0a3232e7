#!/usr/bin/env bash
# Rebuild the shipped CDAEs from scratch, offline: the exact commands of pretrained-models/README.md.
#   MIR1K=/path/to/mir1k-train REAL=/path/to/real-multitracks WORK=work bash scripts/build_pretrained.sh
# Steps 1-3 train each CDAE alone (MAE, MiXiN's way); step 4 trains the three together through the
# soft masks from there, on records-like renders, and keeps the checkpoint that separates the real
# recordings of $REAL best (MUSDB18-HQ layout; they pick the checkpoint, they are never trained on).
# Needs fluidsynth, SoundFonts and MIDI songs from Debian (installed here when missing) and the
# MIR-1K clips of singers abjones and amy (16 kHz stereo, voice on the right channel).
set -euo pipefail
cd "$(dirname "$0")/.."
MIR1K=${MIR1K:-../shared/data/mir1k-train}
REAL=${REAL:-../shared/data/real-dev}
W=${WORK:-work}
EPOCHS=${EPOCHS:-12}
PY=.venv/bin/python
[ -x "$PY" ] || bash scripts/run.sh setup
bash scripts/install_render_deps.sh full

# 1. Instrumental tracks rendered from MIDI, with MIR-1K voices sung over them. The validation
#    tracks use other songs, another SoundFont and other MIR-1K songs (mixin/data/render.py).
"$PY" train_util.py --render-stems "$W/render-train" --render-split train --tracks 25 --max-seconds 90 \
    --voices "$MIR1K" --render-seed 1 --force --quiet
"$PY" train_util.py --render-stems "$W/render-validation" --render-split validation --tracks 6 --max-seconds 60 \
    --voices "$MIR1K" --render-seed 2 --force --quiet

# 2. The MIR-1K clips of the training songs, as (mix, vocal) pairs.
"$PY" -m mixin link-songs train "$MIR1K" "$W/mir1k-train-songs"

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
# Output gains (mixin/training/calibrate.py; --train already did it, this makes sure all three are current),
# then the soft-mask power picked on the development tracks (not the validation set).
"$PY" train_util.py --calibrate --data-dir "$W/data" --model-dir "$W/model"
MODELS="$W/model" WORK="$W" bash scripts/sweep_mask_power.sh

# 4. The shipped CDAEs: the models above, trained on together through the soft masks (--objective
#    masks) on 80 tracks rendered with real-kit drums, stereo placement, EQ, compression and reverb,
#    plus the stems of 4 of the real songs (drawn a third of the time); the checkpoint is chosen by
#    SDR on the 4 other real songs, then median filtering's share of the harmonic/percussive split
#    (hpss_weight) on those songs and on real percussion mixes built from them (nothing of which
#    was trained on). The validation folder names are real-dev's (MedleyDB MusicDelta songs).
source scripts/real_dev_folds.sh
link_fold train "$REAL" "$W/real-train"
link_fold val "$REAL" "$W/real-val"
for k in 1 2; do
    "$PY" train_util.py --render-stems "$W/render2-train-$k" --tracks 40 --voices "$MIR1K" \
        --render-seed $((10 + k)) --force --quiet
done
JOINT=(train_util.py --train --objective masks --stem-dirs "$W/render2-train-1" "$W/render2-train-2" "$W/real-train"
       --val-dirs "$W/real-val" --init-from "$W/model" --batch-size 8 --eval-every 400
       --model-dir "$W/joint/model" --log-dir "$W/joint/log")
"$PY" "${JOINT[@]}" --learning-rate 5e-4 --steps 2000
"$PY" "${JOINT[@]}" --resume --learning-rate 1.5e-4 --steps 4000
rm -rf "$W/percussion-val"
"$PY" eval_mixin.py "$W/real-val" --make-percussion-mixes "$W/percussion-val" \
    --loops /usr/share/sonic-pi/samples/loop_{amen_full,breakbeat,compus,tabla}.flac
for w in ${HPSS_WEIGHTS:-0 0.25 0.5 0.75}; do
    for set in "$W/real-val" "$W/percussion-val"; do
        "$PY" eval_mixin.py "$set" --pretrained-model-dir "$W/joint/model" --systems mixin --hpss-weight "$w" \
            --out "$W/hpss-weight/$w/$(basename "$set")" --cores 2 --force --quiet >/dev/null
        echo "hpss_weight $w, $(basename "$set"): $(grep -m1 '^| mixin |' "$W/hpss-weight/$w/$(basename "$set")/results.md")"
    done
done
echo "copy $W/joint/model/{model_*.h5,config.json} to pretrained-models/, set config.json's hpss_weight to the"
echo "weight with the best mean SDR over the five figures above and hpss_adaptive to true (pretrained-models/HISTORY.md),"
echo "and run ./train_util.py --export-onnx on it"
echo "then (after step 6) set config.json's voice_helper to {\"model_dir\": \"drnn-songs\", \"weight\": 0.5, \"gate_db\": -20, \"hears\": \"harmonic+vocal\"}"
echo "(the DRNN's share of the vocal, its gate and what it hears, chosen with --voice-weight and by editing config.json on the same songs),"
echo "mwf_iterations to 1, mwf_vocal, vocal_yield and vocal_remask to true, vocal_two_stage to 0.5, vocal_hears to \"harmonic+vocal\", gains to {\"vocal\": 1.5} (the later stages of the chain, each chosen as pretrained-models/HISTORY.md says)"

# 5. The DRNN (second architecture), from the MIR-1K clips themselves: all 175 clips, with the
#    settings chosen by leaving one singer out (scripts/drnn_loso.sh, tables in
#    pretrained-models/drnn/README.md): circular shifts, voice pitch +-3 semitones and gain +-6 dB,
#    half the voices over another clip's accompaniment each epoch, gamma 0.05, Adam 3e-4, 34 epochs
#    (about 45 minutes on the 2-core CPU; the shipped run was made on a lent GPU with
#    KERAS_BACKEND=jax, about 6 s an epoch). --input-level 0.07: it hears each 30-s piece at its
#    training mixtures' RMS (since session 29; pretrained-models/drnn/README.md, "Input level").
"$PY" train_util.py --train --arch drnn --stem-dirs "$MIR1K" --all-clips --epochs 34 --batch-size 16 \
    --learning-rate 3e-4 --pitch-shift 3 --gain-db 6 --remix 0.5 --input-level 0.07 \
    --model-dir "$W/drnn/model" --log-dir "$W/drnn/logdir"
echo "copy $W/drnn/model/{model_drnn.keras,config.json} to pretrained-models/drnn/ and export ONNX there"

# 6. The DRNN that helps the CDAEs with the vocal (config.json's voice_helper), step 5's recipe on
#    more real music: the MIR-1K clips plus clips made from step 4's 4 real training songs (their 2
#    sung songs cut into 8-s clips with their own accompaniment, and 100 MIR-1K voices over stretches
#    of the 4 songs' real accompaniment), 283 clips, 40 epochs (the epoch and the helper's weight
#    chosen on the 4 validation songs: pretrained-models/drnn-songs/README.md). About 30 s an epoch
#    on the 2-core CPU; the shipped run was made on a lent GPU (KERAS_BACKEND=jax, about 4 s an epoch).
"$PY" train_util.py --make-song-clips "$W/song-clips" --songs "$W/real-train" --voices "$MIR1K" --paired 100 --force
#    --input-level 0.1: the helper hears each 6.4-s piece at -20 dBFS RMS, whatever the record's level
#    (written into its config.json; chosen on the 4 validation songs: pretrained-models/drnn-songs/README.md).
"$PY" train_util.py --train --arch drnn --stem-dirs "$MIR1K" "$W/song-clips" --all-clips --epochs 40 --batch-size 16 \
    --learning-rate 3e-4 --pitch-shift 3 --gain-db 6 --remix 0.5 --input-level 0.1 --model-dir "$W/drnn-songs/model" \
    --log-dir "$W/drnn-songs/logdir"
echo "copy $W/drnn-songs/model/{model_drnn.keras,config.json} to pretrained-models/drnn-songs/ and export ONNX there"
