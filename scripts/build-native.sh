#!/usr/bin/env bash
# Builds the native Node addon of cairn-verify (crate cairn-node, napi-rs, in
# node-bindings/native) for the machine's own platform and puts it where the npm convention of
# napi-rs wants it: node-bindings/npm/<triple>/cairn-verify.<triple>.node, the one file of the
# optional platform package `cairn-verify-<triple>` (package.json beside it).
#
# No prebuilt binaries and no @napi-rs/cli: cargo builds the cdylib, this script copies it
# under its Node name (a .node file is a shared library with the N-API entry point).
#
# Other platforms: run this script on that platform (or cross-compile with
# `cargo build -p cairn-node --release --target <rust target>` and CAIRN_NATIVE_TARGET set to
# it), with the package directory node-bindings/npm/<triple>/ made from the linux-x64-gnu one
# (name, os, cpu, libc, main). Triples follow napi-rs: linux-x64-gnu, linux-arm64-gnu,
# linux-x64-musl, darwin-arm64, darwin-x64, win32-x64-msvc.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }

target=${CAIRN_NATIVE_TARGET:-}
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) triple=linux-x64-gnu ;;
  Linux-aarch64) triple=linux-arm64-gnu ;;
  Darwin-arm64) triple=darwin-arm64 ;;
  Darwin-x86_64) triple=darwin-x64 ;;
  *) echo "error: no native package is set up for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
if [ -n "$target" ]; then triple=${CAIRN_NATIVE_TRIPLE:?set CAIRN_NATIVE_TRIPLE for CAIRN_NATIVE_TARGET}; fi

say "cargo build -p cairn-node --release${target:+ --target $target}"
cargo build -p cairn-node --release ${target:+--target "$target"}
dir=target/${target:+$target/}release
case "$triple" in
  darwin-*) lib=$dir/libcairn_node.dylib ;;
  win32-*) lib=$dir/cairn_node.dll ;;
  *) lib=$dir/libcairn_node.so ;;
esac

pkg=node-bindings/npm/$triple
[ -f "$pkg/package.json" ] || { echo "error: $pkg/package.json is missing" >&2; exit 1; }
cp "$lib" "$pkg/cairn-verify.$triple.node"
strip --strip-unneeded "$pkg/cairn-verify.$triple.node" 2>/dev/null || true
say "$(printf '%s: %d bytes' "$pkg/cairn-verify.$triple.node" "$(wc -c < "$pkg/cairn-verify.$triple.node")")"
