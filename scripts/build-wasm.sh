#!/usr/bin/env bash
# Builds the WebAssembly modules (crate cairn-wasm) and the npm package cairn-verify:
#   cairn_wasm         the verifiers (feature `verifiers`): what every caller loads
#   cairn_wasm_extras  inspect and the blux-reg interop (feature `extras`), loaded on demand
#   cairn_wasm_handle  the handle registry's client side (feature `handle`), loaded on demand
# each through wasm-bindgen twice:
#   node-bindings/pkg/node/  wasm-bindgen --target nodejs (CommonJS; the Node entry points wrap it)
#   node-bindings/pkg/web/   wasm-bindgen --target web    (ES module for browsers)
#   web-demo/vendor/cairn-verify/  the browser part of the package, for the static demo page
# Installs what is missing first (wasm32 target, the wasm-bindgen CLI at exactly the version
# Cargo.lock pins, the pinned nightly toolchain with rust-src, binaryen's wasm-opt from
# wasm/tools/package-lock.json). Idempotent.
#
# How the modules are made small (measured; wasm/README.md has the figures):
#   - the standard library is rebuilt with the module (cargo -Z build-std, so a pinned nightly
#     toolchain): core and alloc at the profile's opt-level "z" instead of the prebuilt
#     library's 3, `optimize_for_size` (std's smaller sort and formatting code), panics that
#     trap at once (-C panic=immediate-abort: wasm32-unknown-unknown aborts on panic anyway,
#     this only drops the message formatting before the trap) and no file/line in the module
#     (-Z location-detail=none);
#   - binaryen's wasm-opt after wasm-bindgen, -O2 without inlining functions into their only
#     caller (-ocimfs 0; plain -Oz gives a smaller raw file but a larger gzip), with the
#     functions ordered by name (gzip finds more repeats).
# Environment:
#   CAIRN_WASM_OPT_LEVEL  override the opt-level of [profile.wasm-release] (3, s, z) for measuring
#   CAIRN_WASM_STD=prebuilt   build with the stable toolchain and its prebuilt standard library
#                             (no nightly; larger module), for measuring or where no nightly runs
#   CAIRN_WASM_OPT=off        skip wasm-opt, for measuring
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }

rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || {
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
}

# The CLI must match the wasm-bindgen crate exactly: the glue and the module share a schema.
want=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$want" ] || { echo "error: wasm-bindgen is not in Cargo.lock" >&2; exit 1; }
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (found: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want" --locked
fi
export PATH="$HOME/.cargo/bin:$PATH"

# Verification only: no OS randomness, no C code, no storage in the module; and no ASN.1
# library (cairn-core reads SubjectPublicKeyInfo and PEM itself: 8 KB of gzip).
tree=$(cargo tree -p cairn-wasm --target wasm32-unknown-unknown -e normal,build --prefix none)
for banned in getrandom cc pqcrypto-dilithium pqcrypto-mldsa redb der spki pkcs8 pem-rfc7468; do
  if grep -q "^$banned " <<<"$tree"; then echo "error: $banned is in cairn-wasm's dependency tree" >&2; exit 1; fi
done

if [ -n "${CAIRN_WASM_OPT_LEVEL:-}" ]; then
  export CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL="$CAIRN_WASM_OPT_LEVEL"
fi

# The standard library rebuilt with the module needs nightly cargo flags: the dated nightly of
# scripts/nightly.sh, with rust-src. Its own target directory keeps the stable builds (clippy,
# tests) apart.
source scripts/nightly.sh # (the working directory is the repository by now)
std_mode=${CAIRN_WASM_STD:-rebuilt}
case "$std_mode" in
  rebuilt)
    ensure_nightly rust-src
    cargo_build=(cargo "+$CAIRN_NIGHTLY" build -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size)
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none"
    if [ -n "${RUSTFLAGS:-}${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
      say "warning: RUSTFLAGS is set and replaces the module's flags ($CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS)"
    fi
    target_dir=target/wasm-std
    ;;
  prebuilt)
    cargo_build=(cargo build)
    target_dir=target
    ;;
  *) echo "error: CAIRN_WASM_STD must be rebuilt or prebuilt, not $std_mode" >&2; exit 1 ;;
esac

built=$target_dir/wasm32-unknown-unknown/wasm-release/cairn_wasm.wasm
stage=target/wasm-modules
mkdir -p "$stage"
for m in verifiers:cairn_wasm extras:cairn_wasm_extras handle:cairn_wasm_handle; do
  feature=${m%%:*} name=${m#*:}
  say "cargo build -p cairn-wasm --features $feature (profile wasm-release${CAIRN_WASM_OPT_LEVEL:+, opt-level $CAIRN_WASM_OPT_LEVEL}; standard library $std_mode)"
  "${cargo_build[@]}" -p cairn-wasm --target wasm32-unknown-unknown --profile wasm-release \
    --target-dir "$target_dir" --no-default-features --features "$feature"
  cp "$built" "$stage/$name.wasm"
done

# binaryen's wasm-opt, at the version wasm/tools/package-lock.json pins (npm ci when missing).
wasm_opt=wasm/tools/node_modules/.bin/wasm-opt
if [ "${CAIRN_WASM_OPT:-on}" != off ]; then
  pinned=$(node -p 'require("./wasm/tools/package-lock.json").packages["node_modules/binaryen"].version')
  installed=$(node -p 'try { require("./wasm/tools/node_modules/binaryen/package.json").version } catch { "" }')
  if [ "$installed" != "$pinned" ] || [ ! -x "$wasm_opt" ]; then
    say "installing binaryen $pinned (wasm-opt) in wasm/tools (npm ci)"
    (cd wasm/tools && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

out=node-bindings/pkg
rm -rf "$out"
say "wasm-bindgen $want -> $out/node, $out/web"
# Function names stay in until wasm-opt has used them (it orders the functions by name, then
# strips the names); without wasm-opt, wasm-bindgen drops them.
names=()
[ "${CAIRN_WASM_OPT:-on}" = off ] && names=(--remove-name-section)
for name in cairn_wasm cairn_wasm_extras cairn_wasm_handle; do
  bindgen() { wasm-bindgen "${names[@]}" --remove-producers-section --out-name "$name" "$@" "$stage/$name.wasm"; }
  bindgen --target nodejs --out-dir "$out/node"
  bindgen --target web --out-dir "$out/web"
done
if [ "${CAIRN_WASM_OPT:-on}" != off ]; then
  # After wasm-bindgen, on what it wrote: the features are read from the module's
  # target_features section (what rustc enabled), which is then dropped. Functions ordered by
  # name put the instances of one generic function and the code of one crate side by side,
  # which gzip's 32 KiB window finds (3 KB of gzip); then the names go.
  opt_flags=(-O2 -ocimfs 0 --reorder-functions-by-name --strip-debug --strip-target-features)
  say "wasm-opt ${opt_flags[*]} ($("$wasm_opt" --version))"
  pids=()
  for f in "$out"/node/*.wasm "$out"/web/*.wasm; do
    "$wasm_opt" "${opt_flags[@]}" "$f" -o "$f.opt" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for f in "$out"/node/*.wasm "$out"/web/*.wasm; do mv "$f.opt" "$f"; done
fi
# The package is "type": "module"; the nodejs glue is CommonJS.
printf '{ "type": "commonjs" }\n' > "$out/node/package.json"
# TypeScript without lib esnext.disposable rejects this member of the generated class; the
# method itself stays (it is free()).
sed -i "/\[Symbol.dispose\]()/d" "$out"/node/cairn_wasm*.d.ts "$out"/web/cairn_wasm*.d.ts

vendor=web-demo/vendor/cairn-verify
rm -rf "$vendor"
mkdir -p "$vendor/lib" "$vendor/pkg"
cp node-bindings/lib/web.js node-bindings/lib/web.d.ts "$vendor/lib/"
cp -r "$out/web" "$vendor/pkg/web"

for f in "$out/web/cairn_wasm_bg.wasm" "$out/web/cairn_wasm_extras_bg.wasm" "$out/web/cairn_wasm_handle_bg.wasm"; do
  raw=$(wc -c < "$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  say "$(printf '%s: %d bytes raw, %d bytes gzip -9' "$f" "$raw" "$gz")"
done
