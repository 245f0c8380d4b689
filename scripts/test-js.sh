#!/usr/bin/env bash
# The JavaScript side of cairn, end to end: builds the WebAssembly module and the npm package
# (scripts/build-wasm.sh) and, on Linux x64, the native addon (scripts/build-native.sh), runs
# the Node tests (vectors, fuzzing, entry points, batches, npm pack) once per backend, and the
# browser test (the web demo in headless Chromium). Installs what is missing first, and
# only that: the wasm32 target and the pinned wasm-bindgen CLI (via build-wasm.sh), the npm
# dev dependencies from the committed lock files, Debian's Chromium. Never downloads a browser
# through npm. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Node.js 18 runs the package; its tests and benches need 20.19 (benches/js's packages).
command -v node >/dev/null 2>&1 || { echo "error: node (>= 20.19) is required" >&2; exit 1; }
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  { echo "error: node >= 20.19 is required, found $(node --version)" >&2; exit 1; }

chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  step "installing Debian's chromium"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

npm_deps() {
  # Installs from the lock file when node_modules is missing or older than it.
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    step "npm ci in $dir"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_deps node-bindings
npm_deps web-demo

step "building the wasm module and the npm package"
scripts/build-wasm.sh

backends=(wasm)
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  step "building the native addon (cairn-node, linux-x64-gnu)"
  scripts/build-native.sh
  backends+=(native)
else
  echo "note: no native platform package is set up for $(uname -s)-$(uname -m); wasm backend only" >&2
fi

for b in "${backends[@]}"; do
  step "Node tests (node-bindings), $b backend"
  # The files named, not the directory: Node 22 and later read `test/` as a glob that matches
  # the directory itself, and load it as a module.
  (cd node-bindings && CAIRN_VERIFY_BACKEND=$b node --test test/*.test.mjs)
done

step "browser test (web-demo, headless Chromium)"
(cd web-demo && CHROMIUM_PATH="$chromium" node --test test/*.test.mjs)

step "sizes"
scripts/bench-wasm-size.sh --sizes-only
