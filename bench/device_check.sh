#!/usr/bin/env bash
# The GPU check, run from a checkout with the machine's own python3 and packages (nothing installed):
#   bash bench/device_check.sh [--dry-run] [--out DIR]
# The project's folders are laid out as the installed package (xner/, xner/training, ...) in a
# temporary folder of links, which goes on PYTHONPATH.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
site="$(mktemp -d)"
trap 'rm -rf "$site"' EXIT
mkdir "$site/xner"
for f in "$root"/xner/*; do ln -s "$f" "$site/xner/$(basename "$f")"; done
for p in training export robustness experiments bench; do ln -s "$root/$p" "$site/xner/$p"; done
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$site/numba-cache}"
cd "$root"
exec "${PYTHON:-python3}" -m xner.bench.device_check "$@"
