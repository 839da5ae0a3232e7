#!/usr/bin/env bash
# Debian packages for --render-stems, installed only when missing.
#   bash scripts/install_render_deps.sh        # what the tests need: fluidsynth + the 6 MB TimGM6mb SoundFont
#   bash scripts/install_render_deps.sh full   # + FluidR3_GM, MuseScore General (lite), OpenTTD's OpenMSX songs,
#                                              # the AVL real drum kits and sonic-pi-samples' drum loops
set -euo pipefail
need=()
command -v fluidsynth >/dev/null || need+=(fluidsynth)
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need+=(timgm6mb-soundfont)
if [ "${1:-}" = full ]; then
    [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
    [ -f /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 ] || need+=(musescore-general-soundfont-small)
    [ -d /usr/share/games/openttd/baseset/openmsx ] || need+=(openttd-openmsx)
    ls /usr/share/sounds/sf2/*_LV2.sf2 >/dev/null 2>&1 || need+=(avldrums.lv2-soundfont)
    [ -d /usr/share/sonic-pi/samples ] || need+=(sonic-pi-samples)
fi
[ ${#need[@]} -eq 0 ] && exit 0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "installing from apt: ${need[*]}" >&2
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
