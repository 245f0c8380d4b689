#!/usr/bin/env bash
# Runs every bench once, without timing anything, so the benches keep compiling and working.
# Called from scripts/test.sh (benches/service.rs included: in test mode it starts the service on
# loopback and sends each request kind a few times). Builds in the test profile (what `cargo test` already built is
# reused), so it stays well under a few minutes on a small machine, and it asserts no figure.
#
#   native: `cargo test --benches` starts each bench binary without `--bench`, which criterion
#           and cairn's own harnesses take as test mode: every routine runs once at a tiny size.
#   JS:     benches/js/run.mjs --quick against the built npm package (scripts/build-wasm.sh),
#           after installing its peers from benches/js/package-lock.json (npm ci, idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
start=$SECONDS

step "native benches, once each (cargo test --benches)"
cargo test -p cairn --benches

if ! command -v node >/dev/null 2>&1; then
  step "JS bench skipped: node is not installed"
elif [ ! -d node-bindings/pkg/node ]; then
  step "JS bench skipped: node-bindings/pkg is not built (scripts/build-wasm.sh builds it)"
else
  step "JS bench peers (npm ci in benches/js)"
  # npm writes node_modules/.package-lock.json last: an install cut short leaves none, and is
  # done again.
  if [ ! -f benches/js/node_modules/.package-lock.json ] || [ benches/js/package-lock.json -nt benches/js/node_modules/.package-lock.json ]; then
    (cd benches/js && npm ci --no-audit --no-fund --loglevel=error)
  fi
  step "JS bench, once (node benches/js/run.mjs --quick)"
  node benches/js/run.mjs --quick
fi

step "bench smoke run finished in $((SECONDS - start)) s"
