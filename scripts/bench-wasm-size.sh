#!/usr/bin/env bash
# Sizes (raw, gzip -9, brotli 11) of the WebAssembly module and its glue, and, unless
# --sizes-only, the build comparison behind [profile.wasm-release] (root Cargo.toml): each
# variant below is built with `cargo --config` overrides of that profile, run through
# wasm-bindgen into target/wasm-variants/<name>/, and then all of them are timed against each
# other in one Node process, interleaved (scripts/bench-wasm-speed.mjs), so the comparison holds
# on a busy machine. About 1.5 minutes of build per variant on 2 cores, plus the timing.
#
#   scripts/bench-wasm-size.sh                 every variant
#   scripts/bench-wasm-size.sh --sizes-only    the package's current build only
#   CAIRN_WASM_VARIANTS="z-all profile" scripts/bench-wasm-size.sh   some variants
#   CAIRN_BENCH_MS=1500                        time per variant and operation
#
# Variants set every crypto package explicitly, so they do not depend on what the profile
# currently says; "profile" is the profile as committed.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes() {
  local f raw gz br
  for f in "$@"; do
    raw=$(wc -c <"$f")
    gz=$(gzip -9 -c "$f" | wc -c)
    br=$(node -e 'const z = require("node:zlib"); const b = require("node:fs").readFileSync(process.argv[1]);
      process.stdout.write(String(z.brotliCompressSync(b, { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11 } }).length))' "$f")
    printf '%-48s %8d raw %8d gzip -9 (%.1f KiB) %8d brotli (%.1f KiB)\n' "$f" "$raw" "$gz" \
      "$(awk -v n="$gz" 'BEGIN { print n / 1024 }')" "$br" "$(awk -v n="$br" 'BEGIN { print n / 1024 }')"
  done
}

pkg_files=(node-bindings/pkg/web/cairn_wasm_bg.wasm node-bindings/pkg/web/cairn_wasm_extras_bg.wasm node-bindings/pkg/web/cairn_wasm.js node-bindings/pkg/node/cairn_wasm.js)
if [ "${1:-}" = "--sizes-only" ]; then
  [ -f node-bindings/pkg/web/cairn_wasm_bg.wasm ] || scripts/build-wasm.sh
  sizes "${pkg_files[@]}"
  exit 0
fi

# The packages whose speed matters: SHA-2 (SHA-256 for ids and artifacts, SHA-512 inside
# Ed25519), ML-DSA and its SHAKE, Ed25519 and its curve arithmetic.
crypto=(sha2 fips204 sha3 keccak curve25519-dalek ed25519-dalek)

# name | opt-level of everything else | crypto packages at 3 ("all", "none" or a space-separated list) | extra --config
variants=(
  "profile|||"
  "z-all|z|none|"
  "z+sha2|z|sha2|"
  "z+crypto3|z|all|"
  "s+crypto3|s|all|"
  "3-all|3|all|"
  "z-all,lto-off|z|none|profile.wasm-release.lto=\"off\""
  "z+crypto3,lto-off|z|all|profile.wasm-release.lto=\"off\""
  "z+crypto3,panic-abort|z|all|profile.wasm-release.panic=\"abort\""
  "z+crypto3,simd128|z|all|target.wasm32-unknown-unknown.rustflags=[\"-C\",\"target-feature=+simd128\"]"
  "z+crypto3,dalek-u64|z|all|target.wasm32-unknown-unknown.rustflags=[\"--cfg\",\"curve25519_dalek_bits=\\\"64\\\"\"]"
)
selected=${CAIRN_WASM_VARIANTS:-}

# Tools (the wasm32 target and the pinned wasm-bindgen CLI) come from the package build.
scripts/build-wasm.sh 2>/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
module=target/wasm32-unknown-unknown/wasm-release/cairn_wasm.wasm
out=target/wasm-variants
mkdir -p "$out"
dirs=()

for v in "${variants[@]}"; do
  IFS='|' read -r name base at3 extra <<<"$v"
  if [ -n "$selected" ] && [[ " $selected " != *" $name "* ]]; then continue; fi
  cfg=()
  if [ -n "$base" ]; then
    cfg+=(--config "profile.wasm-release.opt-level=$([ "$base" = 3 ] && echo 3 || echo "\"$base\"")")
    for p in "${crypto[@]}"; do
      level="\"$base\""
      [ "$base" = 3 ] && level=3
      if [ "$at3" = all ] || [[ " $at3 " == *" $p "* ]]; then level=3; fi
      cfg+=(--config "profile.wasm-release.package.$p.opt-level=$level")
    done
  fi
  [ -n "$extra" ] && cfg+=(--config "$extra")
  printf '\n### %s\n' "$name" >&2
  cargo build --quiet -p cairn-wasm --target wasm32-unknown-unknown --profile wasm-release "${cfg[@]}"
  dir="$out/$name"
  rm -rf "$dir"
  wasm-bindgen --remove-name-section --remove-producers-section --out-name cairn_wasm --target nodejs --out-dir "$dir" "$module"
  printf '{ "type": "commonjs" }\n' >"$dir/package.json"
  [ "$name" = profile ] && cp "$module" "$out/profile.raw.wasm"
  sizes "$dir/cairn_wasm_bg.wasm" >&2
  dirs+=("$name=$dir")
done

# Binaryen's wasm-opt on the profile's module, when installed (Debian: binaryen), before
# wasm-bindgen as cargo left it (binaryen 108 run after wasm-bindgen breaks the externref
# table: the glue's table.grow fails). The features are those rustc's wasm32-unknown-unknown
# target enables by default.
if command -v wasm-opt >/dev/null 2>&1 && [ -f "$out/profile.raw.wasm" ]; then
  for level in Oz Os O3; do
    name="profile,wasm-opt-$level"
    dir="$out/$name"
    rm -rf "$dir"
    wasm-opt --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "-$level" "$out/profile.raw.wasm" -o "$out/$name.raw.wasm"
    wasm-bindgen --remove-name-section --remove-producers-section --out-name cairn_wasm --target nodejs --out-dir "$dir" "$out/$name.raw.wasm"
    printf '{ "type": "commonjs" }\n' >"$dir/package.json"
    printf '\n### %s\n' "$name" >&2
    sizes "$dir/cairn_wasm_bg.wasm" >&2
    dirs+=("$name=$dir")
  done
fi

printf '\n' >&2
node scripts/bench-wasm-speed.mjs --ms "${CAIRN_BENCH_MS:-1500}" --json "$out/results.json" "${dirs[@]}"

printf '\n### the package build (node-bindings/pkg)\n'
sizes "${pkg_files[@]}"
