#!/usr/bin/env bash
# Builds the browser module if needed and serves the web demo on http://127.0.0.1:8000/
# (loopback only; the page makes no other request). Ctrl-C stops it.
#   scripts/web-demo.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-8000}
# scripts/build-wasm.sh puts the browser module at web-demo/vendor/cairn-verify/pkg/web/.
[ -f web-demo/vendor/cairn-verify/pkg/web/cairn_wasm_bg.wasm ] || scripts/build-wasm.sh
echo "cairn web demo: http://127.0.0.1:$port/  (Ctrl-C to stop)"
exec python3 -m http.server --bind 127.0.0.1 --directory web-demo "$port"
