# Sourced by scripts/build-wasm.sh and scripts/fuzz.sh: the one dated nightly toolchain they
# use (the wasm build's -Z build-std flags and cargo-fuzz's -Z flags need one). Dated, so that
# those flags keep their meaning (panic_immediate_abort, for one, changed form in 2025) and a
# run on a fresh machine builds with what the last one did.
CAIRN_NIGHTLY=nightly-2026-05-19

# ensure_nightly [COMPONENT...]: installs the toolchain (minimal profile) and the components
# when missing.
ensure_nightly() {
  local missing=0 c
  rustup run "$CAIRN_NIGHTLY" rustc --version >/dev/null 2>&1 || missing=1
  for c in "$@"; do
    rustup component list --toolchain "$CAIRN_NIGHTLY" --installed 2>/dev/null | grep -q "^$c" || missing=1
  done
  if [ "$missing" = 1 ]; then
    printf '\n== installing the %s toolchain%s\n' "$CAIRN_NIGHTLY" "${1:+ with $*}"
    local args=()
    for c in "$@"; do args+=(--component "$c"); done
    rustup toolchain install "$CAIRN_NIGHTLY" --profile minimal ${args[@]+"${args[@]}"}
  fi
}
