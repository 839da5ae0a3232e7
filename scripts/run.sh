#!/usr/bin/env bash
# Set up MiXiN on a fresh Debian machine and run one job: demo | test | bench | setup.
#   bash scripts/run.sh demo   # separate examples/example.flac into separated/
#   bash scripts/run.sh test   # the test suite (what CI runs)
#   bash scripts/run.sh bench  # speed and memory benchmarks
# Installs python3-venv from apt when missing, then .venv from requirements.txt,
# requirements-train.txt and requirements-dev.txt: everything, TensorFlow included (once, and again
# whenever a requirements file changes). Separating alone needs only requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    echo "installing from apt: $*" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

retry() {
    local attempt
    for attempt in 1 2 3; do
        "$@" && return 0
        [ "$attempt" = 3 ] || { echo "failed (attempt $attempt of 3), trying again in 30 s: $*" >&2; sleep 30; }
    done
    return 1
}

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv
fi

stamp=.venv/.installed
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] \
    || [ requirements-train.txt -nt "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ]; then
    echo "setting up .venv (pip install -r requirements.txt -r requirements-train.txt -r requirements-dev.txt)" >&2
    "$PYTHON" -m venv .venv
    # The registry connection drops now and then (a 570-MB TensorFlow wheel once failed CI mid-download):
    # a new pip resumes broken downloads, and the whole install is tried three times before giving up.
    retry .venv/bin/python -m pip install -q --upgrade pip
    retry .venv/bin/python -m pip install -q --resume-retries 10 \
        -r requirements.txt -r requirements-train.txt -r requirements-dev.txt
    touch "$stamp"
fi
PY=.venv/bin/python

job=${1:-demo}
shift || true
case "$job" in
    demo)
        "$PY" xtract_mixin.py --outdir separated --force --plot "$@" examples/example.flac
        echo "stems and a plot are in separated/" >&2
        ;;
    setup)
        ;;
    test)
        bash scripts/install_render_deps.sh  # fluidsynth and the smallest SoundFont, for the render test
        command -v ffmpeg >/dev/null || apt_install ffmpeg  # for the formats only ffmpeg reads (m4a, mp4, ...)
        "$PY" -m ruff check --quiet . || { echo "ruff check failed: .venv/bin/ruff check . shows where" >&2; exit 1; }
        "$PY" -m ruff format --check --quiet . || { echo "not formatted: .venv/bin/ruff format ." >&2; exit 1; }
        "$PY" -m pytest "$@"
        ;;
    bench)
        "$PY" benchmarks/bench_separate.py "$@"
        ;;
    *)
        echo "usage: bash scripts/run.sh demo|test|bench|setup [args...]" >&2
        exit 2
        ;;
esac
