#!/usr/bin/env bash
# The one command that sets up and runs every cairn test: Rust (unit, integration, doc,
# property, vectors), the no_std wasm32 build, lints, and the JavaScript side (wasm build,
# Node tests, headless Chromium) when its script is present. Idempotent: installs only
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# A one-shot run gains nothing from incremental compilation, whose caches were a fifth of the
# build's disk use. Set CARGO_INCREMENTAL=1 to keep them.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

# A clean run needs about 1.6 GB of disk for target/ (Rust debug, wasm and bench builds) plus
# the crates, npm packages and Chromium it installs. Say so up front rather than failing in
# the middle of a compile with "No space left on device".
free_mb=$(df -Pm . 2>/dev/null | awk 'NR==2 {print $4}')
if [ -n "${free_mb:-}" ] && [ "$free_mb" -lt 3000 ]; then
  echo "warning: only ${free_mb} MB free on $(df -P . | awk 'NR==2 {print $6}'); a clean run needs about 3000 MB" >&2
fi

# What the script does not install: Rust through rustup, a C and a C++ compiler (the default
# mimalloc allocator and PQClean's ML-DSA signing are C, libFuzzer C++), Node.js >= 20.19 with
# npm (the JavaScript side and its benches). Said up front, not in the middle of a build.
missing=()
for tool in rustup cargo cc c++ node npm; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "error: ${missing[*]} not found; the tests need Rust through rustup (https://rustup.rs), a C and a C++ compiler (Debian: build-essential) and Node.js >= 20.19 with npm" >&2
  exit 1
fi
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  { echo "error: Node.js >= 20.19 is needed (the benches' packages declare it), found $(node --version)" >&2; exit 1; }
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || {
    step "adding the $component component"
    rustup component add "$component"
  }
done

# Every tool a test needs is installed below, so a test that finds one missing fails rather
# than skips (tests/cli.rs, `tool_missing`; the Node tests likewise). A test the machine
# forbids (strace without ptrace, a mount without the privilege) still skips and says so.
export CAIRN_TEST_STRICT=${CAIRN_TEST_STRICT:-1}

# Debian's packages, as root or through sudo. Without either, the tests that need them would
# report themselves skipped, and this run would not be every test: it stops instead.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
need_apt=()
command -v go >/dev/null 2>&1 && [ -d /usr/share/gocode/src/golang.org/x/mod ] || need_apt+=(golang-go golang-golang-x-mod-dev)
command -v strace >/dev/null 2>&1 || need_apt+=(strace) # fault injection and syscall counts: tests/cli/durability.rs
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need_apt+=(nginx) # serves exported tiles: tests/cli/tiles.rs
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || need_apt+=(procps) # signals cairn serve: tests/cli/serve.rs
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || need_apt+=(chromium) # the web demo's browser test
if [ ${#need_apt[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; }; then
    echo "error: ${need_apt[*]} missing, and no apt-get to install them with (as root or through sudo)" >&2
    exit 1
  fi
  step "installing ${need_apt[*]} (Go's note verifier for the checkpoint interop test; strace for the durability tests; nginx for the tiles-over-HTTP test; kill for the shutdown test; chromium for the web demo's test)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || {
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo clippy -p cairn-core --all-features (the legacy round-3 Dilithium code too)"
cargo clippy -p cairn-core --all-features --all-targets -- -D warnings

step "cargo doc (broken intra-doc links are errors)"
RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" \
  cargo doc --workspace --no-deps --quiet

# Each crate builds on the Rust its `rust-version` declares (installed with rustup when
# missing; a minimal profile is about 150 MB).
msrv_check() {
  local toolchain=$1; shift
  rustup toolchain list | grep -q "^$toolchain" || rustup toolchain install "$toolchain" --profile minimal
  rustup +"$toolchain" target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown --toolchain "$toolchain"
  CARGO_TARGET_DIR=target/msrv-$toolchain cargo +"$toolchain" check --quiet "$@"
}
step "MSRV: cairn-core and cairn-wasm on Rust 1.85; cairn-store, cairn-service, cairn and cairn-node on 1.90 (their rust-version)"
msrv_check 1.85 -p cairn-core
msrv_check 1.85 -p cairn-core --no-default-features --target wasm32-unknown-unknown
msrv_check 1.85 -p cairn-core --no-default-features --features handle --target wasm32-unknown-unknown
msrv_check 1.85 -p cairn-wasm --target wasm32-unknown-unknown
msrv_check 1.90 -p cairn-store -p cairn-service -p cairn -p cairn-node

step "cairn-core no_std verify-only build for wasm32 (no std, no getrandom, no C)"
cargo build -p cairn-core --no-default-features --target wasm32-unknown-unknown
tree=$(cargo tree -p cairn-core --no-default-features --target wasm32-unknown-unknown -e normal,build --prefix none)
for banned in getrandom cc pqcrypto; do
  if grep -q "^$banned " <<<"$tree"; then echo "error: $banned is in the no_std dependency tree" >&2; exit 1; fi
done

step "cargo test --workspace"
cargo test --workspace

step "cargo test -p cairn-core --features handle (the handle registry's formats: tests, vectors, doc examples)"
cargo test -p cairn-core --features handle --test handle
cargo test -p cairn-core --features handle --lib handle::
cargo test -p cairn-core --features handle --doc handle

step "cargo test -p cairn-core --features legacy-dilithium (round-3 Dilithium, native)"
cargo test -p cairn-core --features legacy-dilithium --test 'crypto*' --test peer
cargo test -p cairn-store --features legacy-dilithium --test store peer_legacy

# Build (1.5-4 min from clean on 2 cores, with load) plus 15 targets x FUZZ_SECONDS, two at
# a time: about 6 min in all at the default 30 s.
step "fuzz targets, ${FUZZ_SECONDS:-30}s each (scripts/fuzz.sh; FUZZ_SECONDS to change)"
FUZZ_JOBS=${FUZZ_JOBS:-2} scripts/fuzz.sh "${FUZZ_SECONDS:-30}"

if [ -x scripts/test-js.sh ]; then
  step "JavaScript: wasm build, Node tests, browser test"
  scripts/test-js.sh
fi

if [ -x scripts/bench-smoke.sh ]; then
  step "benches, quick mode (run once so they never rot; figures not asserted)"
  scripts/bench-smoke.sh
fi

step "all tests passed"
