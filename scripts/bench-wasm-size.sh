#!/usr/bin/env bash
# Sizes (raw and gzip -9) of the WebAssembly module and its glue, and, unless --sizes-only,
# the opt-level comparison behind [profile.wasm-release]: for opt-level 3, "s" and "z" it
# rebuilds, prints the sizes and times Ed25519 / ML-DSA / hybrid verification and a bundle
# in Node (scripts/bench-wasm-speed.mjs), then rebuilds with the profile's own setting.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes() {
  local f raw gz br
  for f in node-bindings/pkg/web/cairn_wasm_bg.wasm node-bindings/pkg/web/cairn_wasm.js node-bindings/pkg/node/cairn_wasm.js; do
    raw=$(wc -c <"$f")
    gz=$(gzip -9 -c "$f" | wc -c)
    br=$(node -e 'const z = require("node:zlib"); const b = require("node:fs").readFileSync(process.argv[1]);
      process.stdout.write(String(z.brotliCompressSync(b, { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11 } }).length))' "$f")
    printf '%-42s %8d raw %8d gzip -9 (%.1f KiB) %8d brotli (%.1f KiB)\n' "$f" "$raw" "$gz" \
      "$(awk -v n="$gz" 'BEGIN { print n / 1024 }')" "$br" "$(awk -v n="$br" 'BEGIN { print n / 1024 }')"
  done
}

if [ "${1:-}" = "--sizes-only" ]; then
  [ -f node-bindings/pkg/web/cairn_wasm_bg.wasm ] || scripts/build-wasm.sh
  sizes
  exit 0
fi

for level in 3 s z; do
  # (the sha2 package keeps its own opt-level 3 from the profile in every run)
  printf '\n### opt-level %s\n' "$level"
  CAIRN_WASM_OPT_LEVEL=$level scripts/build-wasm.sh 2>/dev/null
  sizes
  node scripts/bench-wasm-speed.mjs "${CAIRN_BENCH_MS:-400}"
done
printf '\n### rebuilding with the profile setting\n'
scripts/build-wasm.sh 2>/dev/null
sizes
