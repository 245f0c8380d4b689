#!/usr/bin/env bash
# Builds the WebAssembly modules (crate cairn-wasm) and the npm package cairn-verify:
#   cairn_wasm         the verifiers (feature `verifiers`): what every caller loads
#   cairn_wasm_extras  inspect and the blux-reg interop (feature `extras`), loaded on demand
# each through wasm-bindgen twice:
#   node-bindings/pkg/node/  wasm-bindgen --target nodejs (CommonJS; the Node entry points wrap it)
#   node-bindings/pkg/web/   wasm-bindgen --target web    (ES module for browsers)
#   web-demo/vendor/cairn-verify/  the browser part of the package, for the static demo page
# Installs what is missing first (wasm32 target, the wasm-bindgen CLI at exactly the version
# Cargo.lock pins). Idempotent. Environment:
#   CAIRN_WASM_OPT_LEVEL  override the opt-level of [profile.wasm-release] (3, s, z) for measuring
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

# Verification only: no OS randomness, no C code, no storage in the module.
tree=$(cargo tree -p cairn-wasm --target wasm32-unknown-unknown -e normal,build --prefix none)
for banned in getrandom cc pqcrypto-dilithium pqcrypto-mldsa redb; do
  if grep -q "^$banned " <<<"$tree"; then echo "error: $banned is in cairn-wasm's dependency tree" >&2; exit 1; fi
done

if [ -n "${CAIRN_WASM_OPT_LEVEL:-}" ]; then
  export CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL="$CAIRN_WASM_OPT_LEVEL"
fi
built=target/wasm32-unknown-unknown/wasm-release/cairn_wasm.wasm
stage=target/wasm-modules
mkdir -p "$stage"
for m in verifiers:cairn_wasm extras:cairn_wasm_extras; do
  feature=${m%%:*} name=${m#*:}
  say "cargo build -p cairn-wasm --features $feature (profile wasm-release${CAIRN_WASM_OPT_LEVEL:+, opt-level $CAIRN_WASM_OPT_LEVEL})"
  cargo build -p cairn-wasm --target wasm32-unknown-unknown --profile wasm-release \
    --no-default-features --features "$feature"
  cp "$built" "$stage/$name.wasm"
done

out=node-bindings/pkg
rm -rf "$out"
say "wasm-bindgen $want -> $out/node, $out/web"
for name in cairn_wasm cairn_wasm_extras; do
  bindgen() { wasm-bindgen --remove-name-section --remove-producers-section --out-name "$name" "$@" "$stage/$name.wasm"; }
  bindgen --target nodejs --out-dir "$out/node"
  bindgen --target web --out-dir "$out/web"
done
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

for f in "$out/web/cairn_wasm_bg.wasm" "$out/web/cairn_wasm_extras_bg.wasm"; do
  raw=$(wc -c < "$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  say "$(printf '%s: %d bytes raw, %d bytes gzip -9' "$f" "$raw" "$gz")"
done
