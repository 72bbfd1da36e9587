#!/usr/bin/env bash
# The data folder of the `diversity` sweep: every language of the offline WikiANN copy (linked, never
# copied) plus fa-latn, Persian romanised by `xner data transliterate` (uroman), the script control.
#   bash experiments/diversity-data.sh [WIKIANN] [OUT]   (defaults: ../shared/data/wikiann runs/diversity-data)
set -euo pipefail
src="$(realpath "${1:-../shared/data/wikiann}")"
out="${2:-runs/diversity-data}"
xner="${XNER:-.venv/bin/xner}"
if [ -e "$out" ] && [ ! -e "$out/.xner-diversity-data" ]; then
  echo "$out exists and was not made by this script; choose another folder" >&2; exit 2
fi
mkdir -p "$out"
touch "$out/.xner-diversity-data"
for d in "$src"/*/; do
  lang="$(basename "$d")"
  [ -e "$out/$lang" ] || ln -s "$d" "$out/$lang"
done
if [ ! -d "$out/fa-latn" ]; then
  tmp="$(mktemp -d "$out/.fa-latn.XXXX")"
  "$xner" data transliterate --data-dir "$src" --lang fa --out "$tmp/rom" -q
  mv "$tmp/rom/fa" "$out/fa-latn"
  rm -rf "$tmp"
fi
echo "$out: $(ls "$out" | wc -l) languages (fa-latn romanised)"
