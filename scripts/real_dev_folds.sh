# Sourced by build_pretrained.sh and validate_pretrained.sh: real-dev's songs (MedleyDB MusicDelta),
# four trained on, four validated on; the one place the split is written.
#   link_fold train|val REAL_DIR OUT_DIR  -> symlinks to the fold's song folders in OUT_DIR
REAL_DEV_TRAIN=(Beatles Britpop "Speed Metal" Zeppelin)
REAL_DEV_VAL=(Reggae "Country 1" Rockabilly Shadows)
link_fold() {
    local fold=$1 real=$2 out=$3 s
    local -n songs="REAL_DEV_${fold^^}"
    mkdir -p "$out"
    for s in "${songs[@]}"; do ln -sfn "$(realpath "$real/Music Delta - $s")" "$out/"; done
}
